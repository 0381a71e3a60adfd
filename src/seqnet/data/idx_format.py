"""The IDX file format of the MNIST files (LeCun et al.): read and write, gzipped or not.

An IDX file is a 4-byte magic number, two zero bytes, a type code (0x08 unsigned byte, 0x09
signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) and the number of dimensions,
then each dimension's size (big-endian int32), then the values, big-endian, in row-major order.
A name ending in ``.gz`` is read and written through gzip.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from seqnet.data.files import file_error

#: Type code -> the big-endian dtype of the values.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FIX = "give the file as published (the MNIST files, gzipped or not)"


def read_idx(path: Path) -> np.ndarray:
    """The array an IDX file holds, in native byte order; ``DataFileError`` naming the file
    for anything that is not a whole IDX file."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise file_error(path, f"cannot be read ({type(e).__name__}: {e})", FIX) from e
    if len(data) < 4:
        raise file_error(path, f"is {len(data)} bytes long, too short for an IDX header", FIX)
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise file_error(path, f"is not an IDX file (magic number 0x{data[:4].hex()})", FIX)
    dtype, ndim = np.dtype(IDX_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise file_error(path, f"ends inside its header ({len(data)} bytes)", FIX)
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise file_error(
            path,
            f"holds {len(data)} bytes, but its header announces {shape} values of "
            f"{dtype.itemsize} byte(s): {expected} bytes (cut short or padded?)",
            FIX,
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (through gzip when the name ends in ``.gz``)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX holds {sorted(map(str, codes))} values, not {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    body = header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    path.write_bytes(gzip.compress(body, mtime=0) if path.suffix == ".gz" else body)
