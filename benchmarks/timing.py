"""Timing helper shared by the benchmark scripts (run as `python benchmarks/NAME.py`)."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def timed(fn: Callable[[], Any], repeats: int, clock: Callable[[], float] = time.perf_counter) -> tuple[float, Any]:
    """Median seconds of ``repeats`` calls of ``fn`` by ``clock`` (wall-clock by default;
    ``time.process_time`` counts the process's CPU time, steadier on a shared machine), and the
    last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = clock()
        result = fn()
        times.append(clock() - start)
    return statistics.median(times), result


#: JSON-lines file the benchmarks append their figures to, set by ``benchmarks/run_all.py``
RECORD_ENV = "INFOCAM_BENCH_RECORD"


def record(benchmark: str, figure: str, value: float, unit: str, baseline: str | None = None,
           baseline_value: float | None = None, speedup: bool = False, target: str | None = None,
           met: bool | None = None) -> None:
    """Append one measured figure (with the baseline measured in the same run, and their ratio)
    to ``$INFOCAM_BENCH_RECORD`` for ``make bench``'s page; a no-op when the variable is unset,
    so each script still runs alone. The ratio is ``value / baseline_value`` (a cost: lower is
    better), or with ``speedup`` ``baseline_value / value`` (how many times faster)."""
    import json
    import os

    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    ratio = None
    if baseline_value and value:
        ratio = baseline_value / value if speedup else value / baseline_value
    row = {"benchmark": benchmark, "figure": figure, "value": value, "unit": unit, "baseline": baseline,
           "baseline_value": baseline_value, "ratio": ratio, "speedup": speedup, "target": target, "met": met}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")
