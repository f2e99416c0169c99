"""load_mnist: search paths, the real MNIST test set, binarization, downloads and bad files."""

import hashlib
import os
import pathlib
import urllib.error

import numpy as np
import pytest

from latentvi.datasets import load_mnist, mnist
from latentvi.datasets.idx import write_idx

SHARED_MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
needs_mnist = pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(),
                                 reason=f"MNIST test set not found at {SHARED_MNIST}")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """No user cache or $LATENTVI_DATA leaks into the search path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LATENTVI_DATA", raising=False)


def fake_split(folder, name, n, seed=0):
    """Writes a small, valid pair of IDX files for one split; returns the uint8 images."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    prefix = "train" if name == "train" else "t10k"
    os.makedirs(folder, exist_ok=True)
    write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), images)
    write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"),
              (np.arange(n) % 10).astype(np.uint8))
    return images


# -- the real MNIST test set -------------------------------------------------------------------
@needs_mnist
def test_shared_files_match_the_canonical_md5s():
    listed = dict(line.split()[::-1] for line in (SHARED_MNIST / "MD5SUMS").read_text().split("\n")
                  if line.strip())
    for filename in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        digest = hashlib.md5((SHARED_MNIST / filename).read_bytes()).hexdigest()
        assert digest == listed[filename] == mnist._VARIANTS["digits"].md5[filename]


@needs_mnist
def test_real_test_set_shapes_ranges_and_published_statistics():
    x, y = load_mnist("digits", data_dir=SHARED_MNIST, split="test", download=False)
    assert x.shape == (10000, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    # Published facts about the MNIST test set: its first labels and its class counts.
    np.testing.assert_array_equal(y[:8], [7, 2, 1, 0, 4, 1, 4, 9])
    np.testing.assert_array_equal(np.bincount(y), [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                   974, 1009])
    # Mean grey level 0.1325 (the widely quoted test-set mean, 4 digits).
    assert abs(x.mean() - 0.1325) < 5e-4


@needs_mnist
def test_only_test_files_present_explains_what_is_missing():
    with pytest.raises(FileNotFoundError) as error:
        load_mnist("digits", data_dir=SHARED_MNIST, download=False)
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
    assert "t10k" not in message.split("Put them")[0]  # the test files are not missing
    assert str(SHARED_MNIST) in message and "split='test'" in message


@needs_mnist
def test_static_binarization_is_fixed_and_keeps_the_mean():
    grey, _ = load_mnist("digits", data_dir=SHARED_MNIST, split="test")
    first, _ = load_mnist("digits", data_dir=SHARED_MNIST, split="test", binarize="static")
    again, _ = load_mnist("digits", data_dir=SHARED_MNIST, split="test", binarize="static")
    assert set(np.unique(first)) == {0.0, 1.0}
    np.testing.assert_array_equal(first, again)
    # E[binary] = grey level; the sd of a mean of 7.84M Bernoulli cells is below 2e-4.
    assert abs(first.mean() - grey.mean()) < 1e-3
    assert np.all(first[grey == 0] == 0) and np.all(first[grey == 1] == 1)


@needs_mnist
def test_wrong_variant_in_the_folder_is_named():
    with pytest.raises(ValueError, match="is a MNIST file.*Fashion-MNIST"):
        load_mnist("fashion", data_dir=SHARED_MNIST, split="test", download=False)


# -- search order, binarization modes, Keras's npz ------------------------------------------------
def test_data_dir_wins_over_environment_and_subfolder_is_searched(tmp_path, monkeypatch):
    mine = fake_split(tmp_path / "mine" / "mnist", "test", 6, seed=1)
    fake_split(tmp_path / "env", "test", 4, seed=2)
    monkeypatch.setenv("LATENTVI_DATA", str(tmp_path / "env"))
    x, y = load_mnist(data_dir=tmp_path / "mine", split="test", download=False)
    np.testing.assert_allclose(x, mine / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, np.arange(6) % 10)
    assert len(load_mnist(split="test", download=False)[0]) == 4  # then $LATENTVI_DATA


def test_dynamic_keeps_training_grey_and_binarizes_test_as_static(tmp_path):
    fake_split(tmp_path, "train", 20)
    fake_split(tmp_path, "test", 10, seed=3)
    (grey_train, _), (grey_test, _) = load_mnist(data_dir=tmp_path, download=False)
    (train, _), (test, _) = load_mnist(data_dir=tmp_path, download=False, binarize="dynamic")
    static_test, _ = load_mnist(data_dir=tmp_path, split="test", download=False,
                                binarize="static")
    np.testing.assert_array_equal(train, grey_train)
    np.testing.assert_array_equal(test, static_test)
    assert set(np.unique(test)) <= {0.0, 1.0} and not np.array_equal(test, grey_test)


def test_dynamic_binarization_redraws_every_epoch():
    x = np.full((256, 28, 28), 0.3, np.float32)
    dataset = mnist.dynamic_binarization(x, batch_size=64, seed=5)
    epochs = [np.concatenate([b.numpy() for b in dataset]) for _ in range(2)]
    assert epochs[0].shape == (256, 28, 28) and set(np.unique(epochs[0])) == {0.0, 1.0}
    assert not np.array_equal(epochs[0], epochs[1])
    # 200,704 Bernoulli(0.3) cells: sd of the mean ~0.001, so 0.005 is 5 sd.
    assert all(abs(e.mean() - 0.3) < 0.005 for e in epochs)


def test_keras_npz_cache_is_read_for_digits(tmp_path):
    cache = tmp_path / "home" / ".keras" / "datasets"
    cache.mkdir(parents=True)
    images = np.full((3, 28, 28), 255, np.uint8)
    np.savez(cache / "mnist.npz", x_train=images, y_train=np.array([1, 2, 3], np.uint8),
             x_test=images[:2], y_test=np.array([4, 5], np.uint8))
    (x_train, y_train), (x_test, y_test) = load_mnist(download=False)
    assert x_train.shape == (3, 28, 28) and np.all(x_train == 1.0) and len(x_test) == 2
    np.testing.assert_array_equal(y_train, [1, 2, 3])
    np.testing.assert_array_equal(y_test, [4, 5])


def test_corrupt_local_files_give_clear_errors(tmp_path):
    fake_split(tmp_path, "test", 5)
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    write_idx(images, np.zeros((4, 28, 28), np.uint8))  # 4 images, 5 labels
    with pytest.raises(ValueError, match="4 images but 5 labels"):
        load_mnist(data_dir=tmp_path, split="test", download=False)
    write_idx(images, np.zeros((5, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(5, 32, 32\).*not an MNIST image file"):
        load_mnist(data_dir=tmp_path, split="test", download=False)
    images.write_bytes(b"\x00\x00\x08\x03" + bytes(7))  # raw IDX bytes behind a .gz name
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz is not a valid gzip file"):
        load_mnist(data_dir=tmp_path, split="test", download=False)


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="variant must be one of 'digits', 'fashion'"):
        load_mnist("kmnist")
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist(split="validation")
    with pytest.raises(ValueError, match="binarize must be one of"):
        load_mnist(binarize="threshold")


# -- downloading --------------------------------------------------------------------------------
def _mirror(monkeypatch, folder, md5=None):
    spec = mnist._VARIANTS["digits"]
    patched = spec._replace(mirrors=(folder.resolve().as_uri() + "/",), md5=md5 or spec.md5)
    monkeypatch.setitem(mnist._VARIANTS, "digits", patched)


@needs_mnist
def test_download_from_a_file_mirror_is_md5_checked_and_atomic(tmp_path, monkeypatch):
    _mirror(monkeypatch, SHARED_MNIST)
    cache = tmp_path / "cache"
    x, y = load_mnist(data_dir=cache, split="test")
    assert x.shape == (10000, 28, 28) and y[0] == 7
    assert sorted(os.listdir(cache)) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert (cache / "t10k-labels-idx1-ubyte.gz").read_bytes() == \
        (SHARED_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes()


def test_md5_mismatch_on_download_writes_nothing(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    fake_split(mirror, "test", 3)  # valid IDX files, but not the canonical ones
    _mirror(monkeypatch, mirror)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="failed the md5 check"):
        load_mnist(data_dir=cache, split="test")
    assert not cache.exists() or os.listdir(cache) == []


def test_offline_download_failure_names_the_file_and_folder(tmp_path, monkeypatch):
    def offline(url, timeout=60):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(mnist, "_fetch", offline)
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(data_dir=tmp_path / "cache", split="test")
    message = str(error.value)
    assert message.startswith("MNIST files missing: t10k-images-idx3-ubyte.gz, "
                              "t10k-labels-idx1-ubyte.gz.")
    assert "no network" in message and f"put it in {tmp_path / 'cache'}" in message


# -- Fashion-MNIST from Debian's package ------------------------------------------------------------
@needs_fashion
def test_fashion_from_the_system_folder():
    (x_train, y_train), (x_test, y_test) = load_mnist("fashion", download=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert 0.0 == x_train.min() and x_train.max() == 1.0
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class [Xiao et al.].
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    assert mnist.class_names("fashion")[9] == "Ankle boot"
