"""The IDX format of the MNIST files (LeCun et al.), plain or gzip-compressed.

Layout: two zero bytes, a type code, the number of dimensions ``n``, then ``n`` big-endian
uint32 sizes and the values in C order. MNIST uses type ``0x08`` (uint8) for both the images
``[N, 28, 28]`` and the labels ``[N]``. :func:`write_idx` exists so that tests and demos can
build datasets in the exact format the reader expects.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from infocam.errors import DataError
from infocam.runtime.io import atomic_write_bytes

#: IDX type code -> numpy dtype (big-endian where it matters)
IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {np.dtype(v).newbyteorder("=").str: k for k, v in IDX_TYPES.items()}


def resolve_idx(path: str | Path) -> Path | None:
    """``path`` if it exists, else ``path.gz`` if that exists, else None."""
    path = Path(path)
    if path.is_file():
        return path
    gz = path.with_name(path.name + ".gz")
    return gz if gz.is_file() else None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read ({err})") from None


def read_idx(path: str | Path) -> Tensor:
    """The array stored in an IDX file as a tensor (uint8 stays uint8); errors name the file."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(data)} bytes, the header needs 4)")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (magic bytes {data[:4].hex()}, expected 0000 + type + ndim)")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({ndim} dimensions need {header} bytes, file has {len(data)})")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_TYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"{path}: IDX header says shape {tuple(shape)} ({expected} bytes in all) but the file has {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True))


def write_idx(path: str | Path, array: np.ndarray | Tensor) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``."""
    array = np.asarray(array.numpy() if isinstance(array, Tensor) else array)
    code = _CODES.get(array.dtype.newbyteorder("=").str)
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    return atomic_write_bytes(path, payload)
