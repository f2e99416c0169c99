"""IDX files: the format of the MNIST and Fashion-MNIST files (optionally gzip-compressed).

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number of dimensions),
one big-endian uint32 per dimension, then the values in C order, big-endian. Every check is made
before the values are reshaped, so a wrong, truncated or corrupt file raises a `ValueError` that
names the file and what is wrong, never a NumPy reshape error.

References:
  [1] LeCun, Cortes & Burges. The MNIST database of handwritten digits.
      http://yann.lecun.com/exdb/mnist/ (section "File formats for the MNIST database").
"""

import gzip
import os
import struct
import zlib

import numpy as np

__all__ = ["read_idx", "write_idx"]

# IDX dtype codes and their big-endian NumPy dtypes.
_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
           0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}


def read_idx(path):
    """Reads an IDX file (plain, or gzip-compressed when the name ends in '.gz').

    Args:
      path: path of the file.

    Returns:
      A NumPy array in native byte order with the file's shape and dtype
      (uint8 for MNIST images [n, 28, 28] and labels [n]).

    Raises:
      FileNotFoundError: if there is no file at `path`.
      ValueError: if the file is not valid IDX (bad magic number, unknown dtype, truncated or
        over-long data, corrupt gzip stream); the message names the file.

    Examples:
      >>> images = read_idx("t10k-images-idx3-ubyte.gz")   # uint8 [10000, 28, 28]
    """
    path = os.fspath(path)
    content = _read_bytes(path)
    dtype, shape, offset = _parse_header(content, path)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(content) - offset
    if found != expected:
        kind = "truncated" if found < expected else "longer than its header says"
        raise ValueError(f"{path} is {kind}: its header announces shape {shape} "
                         f"({expected} bytes of data) but it holds {found} bytes")
    values = np.frombuffer(content, dtype=dtype, offset=offset)
    return values.reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Writes `array` as an IDX file (gzip-compressed when `path` ends in '.gz').

    Args:
      path: destination path.
      array: NumPy array of dtype uint8, int8, int16, int32, float32 or float64.

    Raises:
      TypeError: for a dtype IDX cannot hold.
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise TypeError(f"IDX cannot hold dtype {array.dtype}; use uint8, int8, int16, int32, "
                        "float32 or float64")
    code = _CODES[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    content = header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(content)


def _read_bytes(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no IDX file at {path}")
    if not path.endswith(".gz"):
        with open(path, "rb") as handle:
            return handle.read()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path} is not a valid gzip file (corrupt or truncated download?): "
                         f"{error}") from None


def _parse_header(content, path):
    """(dtype, shape, data offset) from the magic number and dimension sizes."""
    if len(content) < 4:
        raise ValueError(f"{path} is too short to be an IDX file ({len(content)} bytes)")
    zero, code, ndim = content[:2], content[2], content[3]
    if zero != b"\x00\x00" or code not in _DTYPES or ndim == 0:
        raise ValueError(f"{path} is not an IDX file: bad magic number "
                         f"0x{content[:4].hex()} (expected 0x0000 followed by a dtype code "
                         f"in {sorted(hex(c) for c in _DTYPES)} and a dimension count >= 1)")
    offset = 4 + 4 * ndim
    if len(content) < offset:
        raise ValueError(f"{path} is truncated inside its header: {ndim} dimension sizes "
                         f"need {offset} bytes, the file has {len(content)}")
    shape = struct.unpack(f">{ndim}I", content[4:offset])
    return _DTYPES[code], tuple(int(s) for s in shape), offset
