"""Read what an offline wandb run wrote (its ``run-*.wandb`` file) so tests can assert on it.

wandb >= 0.19 no longer ships a Python reader for this file; its format is LevelDB's log format
(32 KiB blocks of records with a 7-byte header) after a 7-byte ``:W&B`` file header, each record
a ``wandb_internal_pb2.Record``. This small reader is for tests only.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list:
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:HEADER])
    assert ident == b":W&B" and magic == 0xBEE1, f"{path}: not a wandb run file"
    out, pos, pending = [], HEADER, b""
    while pos + HEADER <= len(data):
        room = BLOCK - pos % BLOCK
        if room < HEADER:  # block trailer: padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if length == 0 and kind == 0:
            pos += room
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (FULL, FIRST):
            pending = chunk
        else:
            pending += chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            out.append(record)
    return out


def run_file(run_dir: Path) -> Path:
    """The one ``run-*.wandb`` file under a run directory."""
    found = sorted(Path(run_dir).rglob("offline-run-*/run-*.wandb"))
    assert len(found) == 1, f"expected one offline wandb run under {run_dir}, found {found}"
    return found[0]


def summary(run_dir: Path) -> dict:
    """The run's final summary (later updates win), values decoded from JSON."""
    out: dict = {}
    for record in records(run_file(run_dir)):
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                key = item.key or "/".join(item.nested_key)
                out[key] = json.loads(item.value_json)
    return out


def history_keys(run_dir: Path) -> set[str]:
    keys: set[str] = set()
    for record in records(run_file(run_dir)):
        if record.WhichOneof("record_type") == "history":
            keys.update(item.key or "/".join(item.nested_key) for item in record.history.item)
    return keys


def run_info(run_dir: Path):
    """The run record: ``group``, ``tags``, ``display_name``, ``job_type``."""
    runs = [r.run for r in records(run_file(run_dir)) if r.WhichOneof("record_type") == "run"]
    assert runs, f"no run record in {run_file(run_dir)}"
    return runs[-1]


def config(run_dir: Path) -> dict:
    out: dict = {}
    for record in records(run_file(run_dir)):
        if record.WhichOneof("record_type") == "config":
            for item in record.config.update:
                out[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return out
