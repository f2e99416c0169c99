"""IDX reader: round trips, the byte layout of the format, and clear errors for bad files."""

import gzip
import struct

import numpy as np
import pytest

from latentvi.datasets.idx import read_idx, write_idx


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip_keeps_values_shape_and_dtype(tmp_path, suffix, dtype):
    array = (np.random.default_rng(0).normal(size=(5, 4, 3)) * 50).astype(dtype)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, array)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.shape == (5, 4, 3)
    np.testing.assert_array_equal(result, array)


def test_reads_the_published_byte_layout(tmp_path):
    # LeCun's format page: magic 0x00000801 (ubyte, 1 dim), then the count, then the labels.
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes([7, 2, 1, 0]))
    np.testing.assert_array_equal(read_idx(path), [7, 2, 1, 0])
    # Multi-byte values are big-endian: 0x0102 is 258, not 513.
    path = tmp_path / "short-idx1"
    path.write_bytes(bytes([0, 0, 0x0B, 1]) + struct.pack(">I", 1) + bytes([1, 2]))
    assert read_idx(path)[0] == 258


def _images_file(tmp_path, n=3):
    path = tmp_path / "images-idx3-ubyte"
    write_idx(path, np.arange(n * 28 * 28, dtype=np.int64).reshape(n, 28, 28).astype(np.uint8))
    return path


def test_bad_magic_number_is_named(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(100))  # a gzip header, not IDX
    with pytest.raises(ValueError, match="bad magic number 0x1f8b0800"):
        read_idx(path)


def test_unknown_dtype_code_is_a_bad_magic_number(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(bytes([0, 0, 0x07, 1]) + struct.pack(">I", 1) + bytes(1))
    with pytest.raises(ValueError, match="bad magic number"):
        read_idx(path)


def test_truncated_data_says_how_much_is_missing(tmp_path):
    path = _images_file(tmp_path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"truncated.*\(3, 28, 28\).*2352 bytes.*2342 bytes"):
        read_idx(path)


def test_extra_data_is_refused(tmp_path):
    path = _images_file(tmp_path)
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match="longer than its header says"):
        read_idx(path)


def test_header_cut_inside_the_dimension_sizes(tmp_path):
    path = tmp_path / "short-idx3"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 10))
    with pytest.raises(ValueError, match="truncated inside its header"):
        read_idx(path)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    write_idx(path, np.zeros((50, 28, 28), np.uint8) + np.arange(28, dtype=np.uint8))
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match="not a valid gzip file"):
        read_idx(path)


def test_gzip_of_a_non_idx_payload(tmp_path):
    path = tmp_path / "text.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"<html>Not Found</html>")  # what a broken mirror may serve
    with pytest.raises(ValueError, match="bad magic number"):
        read_idx(path)


def test_missing_file_and_unsupported_dtype(tmp_path):
    with pytest.raises(FileNotFoundError, match="no IDX file"):
        read_idx(tmp_path / "absent.gz")
    with pytest.raises(TypeError, match="IDX cannot hold dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))
