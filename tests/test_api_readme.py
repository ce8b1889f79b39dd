"""The README's "Use infocam from Python" examples run exactly as printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Use infocam from Python")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def test_the_section_has_the_four_examples():
    blocks = python_blocks()
    assert len(blocks) == 4
    assert "estimate_mi" in blocks[0] and "mutual_info_classif" in blocks[0]
    assert "InfoCAM" in blocks[1] and "cams_to_boxes" in blocks[1] and "torchvision" in blocks[1]
    assert "evaluate_scoremaps" in blocks[2]
    assert "overlay(" in blocks[3] and "cams_to_boxes" in blocks[3]


@pytest.mark.slow
@pytest.mark.parametrize("index", range(4), ids=["mi", "infocam", "scoring", "overlay"])
def test_readme_example_runs(index, capsys):
    exec(compile(python_blocks()[index], f"README.md (example {index + 1})", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    assert printed.strip()
    if index == 0:
        assert "nats" in printed
    if index == 2:  # a fraction, as metrics.json holds it
        assert 0 <= float(printed.split()[-1]) <= 1
    if index == 3:  # the PIL picture's (width, height): three panels in one row
        width, height = eval(printed.strip())
        assert width > 2 * height > 0
