"""MNIST digits and Fashion-MNIST: find, download (md5-checked) and read the IDX files.

Both data sets are 28 x 28 grey images in four IDX files with the same names. `load_mnist` looks
for them in `data_dir`, then `$LATENTVI_DATA`, then Keras's cache `~/.keras/datasets` (its
`mnist.npz` too), then, for Fashion-MNIST, /usr/share/datasets/fashion-mnist (Debian's
`dataset-fashion-mnist`); missing files are downloaded from the canonical mirrors when allowed.

References:
  [1] LeCun, Cortes & Burges. The MNIST database of handwritten digits.
  [2] Xiao, Rasul & Vollgraf (2017). Fashion-MNIST: a Novel Image Dataset for Benchmarking
      Machine Learning Algorithms. arXiv:1708.07747.
  [3] Salakhutdinov & Murray (2008); Burda, Grosse & Salakhutdinov (2016): static and dynamic
      binarization of MNIST.
"""

import hashlib
import os
import urllib.request
from typing import NamedTuple

import numpy as np

from latentvi._checks import one_of, resolve_seed
from latentvi._files import atomic_write
from latentvi.datasets.idx import read_idx

__all__ = ["FASHION_CLASSES", "class_names", "dynamic_binarization", "load_mnist"]

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")

_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


class _Variant(NamedTuple):
    title: str
    subdir: str
    mirrors: tuple
    md5: dict


_VARIANTS = {
    "digits": _Variant("MNIST", "mnist", (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/"), {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion": _Variant("Fashion-MNIST", "fashion-mnist", (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"), {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),
}
_SYSTEM_DIRS = {"fashion": ("/usr/share/datasets/fashion-mnist",), "digits": ()}
_BINARIZE_SEEDS = {"train": 20080801, "test": 20080802}  # fixed: 'static' is the same everywhere


def load_mnist(variant="digits", data_dir=None, download=True, split="all", binarize=None):
    """Loads MNIST digits or Fashion-MNIST as float32 images in [0, 1], shape [n, 28, 28].

    Args:
      variant: 'digits' (MNIST) or 'fashion' (Fashion-MNIST).
      data_dir: a folder searched first (and where downloads go); its subfolder 'mnist' or
        'fashion-mnist' is searched too.
      download: download missing files from the canonical mirrors (md5-checked, written
        atomically into the cache: data_dir, else $LATENTVI_DATA/<subfolder>, else
        ~/.keras/datasets/<subfolder>).
      split: 'all' (train and test), 'train' or 'test'. 'test' needs only the two t10k files.
      binarize: None (grey levels), 'static' (one fixed Bernoulli draw per pixel with the grey
        level as probability, the same on every call), or 'dynamic': test images as 'static',
        training images left as grey levels to be re-drawn at every visit by
        `dynamic_binarization(x_train, batch_size)`, the tf.data pipeline to pass to `fit`.

    Returns:
      ((x_train, y_train), (x_test, y_test)) for split='all', else (x, y) of the one split:
      x float32 [n, 28, 28], y int64 class labels [n] (0..9; `class_names(variant)` names them).

    Raises:
      FileNotFoundError: if files are missing and cannot be downloaded; the message lists them
        and where to put them.
      ValueError: for an invalid argument, or a corrupt or wrong file (bad magic number,
        truncated data, md5 mismatch on download, the other variant's file).

    Examples:
      >>> (x_train, y_train), (x_test, y_test) = load_mnist("fashion")
      >>> x_test, y_test = load_mnist("digits", split="test", binarize="static")
    """
    variant = one_of(variant, tuple(_VARIANTS), "variant")
    split = one_of(split, ("all", "train", "test"), "split")
    if binarize is not None:
        binarize = one_of(binarize, ("static", "dynamic"), "binarize")
    splits = ("train", "test") if split == "all" else (split,)
    dirs = _search_dirs(variant, data_dir)
    raw = {name: _locate(variant, name, dirs) for name in splits}
    missing = [f for name in splits if raw[name] is None for f in _FILES[name]]
    if missing and not download:
        raise FileNotFoundError(_missing_message(variant, missing, dirs, split))
    for name in (name for name in splits if raw[name] is None):
        try:
            raw[name] = _download_split(variant, name, _cache_dir(variant, data_dir))
        except FileNotFoundError as error:
            raise FileNotFoundError(f"{_missing_message(variant, missing, dirs, split)} "
                                    f"The download failed: {error}") from None
    loaded = tuple(_finish(*raw[name], name, binarize) for name in splits)
    return loaded if split == "all" else loaded[0]


def class_names(variant="digits"):
    """Names of the ten classes: '0'..'9' for digits, clothing names for Fashion-MNIST."""
    variant = one_of(variant, tuple(_VARIANTS), "variant")
    return FASHION_CLASSES if variant == "fashion" else tuple(str(i) for i in range(10))


def dynamic_binarization(x, batch_size=128, shuffle=True, seed=None):
    """A batched tf.data pipeline that draws fresh binary images from grey levels every epoch.

    Each pixel is 1 with probability equal to its grey level, re-drawn at every visit (dynamic
    binarization [3]); pass the result to `fit` in place of the array.

    Args:
      x: grey-level images in [0, 1], [n, 28, 28].
      batch_size: images per batch.
      shuffle: reshuffle every epoch.
      seed: integer seed of the shuffling and the draws.

    Returns:
      A `tf.data.Dataset` of float32 batches [batch, 28, 28] of 0s and 1s, prefetched.
    """
    import tensorflow as tf  # the loaders above need only NumPy

    from latentvi.inputs import batched_rows, held, prefetched

    x = np.asarray(x, np.float32)
    seed = resolve_seed(seed)
    images = held(x)
    rows = batched_rows(len(x), batch_size, shuffle, seed, lambda index: tf.gather(images, index))
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def draw(batch, key):
        uniform = tf.random.stateless_uniform(tf.shape(batch), seed=[key, seed], dtype=tf.float32)
        return tf.cast(uniform < batch, tf.float32)

    return tf.data.Dataset.zip((rows, draws)).map(draw).apply(prefetched)


# -- finding the files ------------------------------------------------------------------------
def _search_dirs(variant, data_dir):
    subdir = _VARIANTS[variant].subdir
    roots = [os.fspath(data_dir)] if data_dir is not None else []
    if os.environ.get("LATENTVI_DATA"):
        roots.append(os.environ["LATENTVI_DATA"])
    dirs = [d for root in roots for d in (os.path.join(root, subdir), root)]
    dirs.append(os.path.join(_keras_cache(), subdir))
    return dirs + list(_SYSTEM_DIRS[variant])


def _keras_cache():
    return os.path.join(os.path.expanduser("~"), ".keras", "datasets")


def _cache_dir(variant, data_dir):
    if data_dir is not None:
        return os.fspath(data_dir)
    root = os.environ.get("LATENTVI_DATA") or _keras_cache()
    return os.path.join(root, _VARIANTS[variant].subdir)


def _locate(variant, name, dirs):
    """(images, labels) as uint8 arrays for one split, or None if no folder holds its files."""
    for folder in dirs:
        paths = [os.path.join(folder, f) for f in _FILES[name]]
        if all(os.path.isfile(p) for p in paths):
            return tuple(_read_checked(variant, p) for p in paths)
    npz = os.path.join(_keras_cache(), "mnist.npz")
    if variant == "digits" and os.path.isfile(npz):
        return _read_npz(npz, name)
    return None


def _read_checked(variant, path):
    """Reads one IDX file, refusing a canonical file of the other variant (same file names)."""
    digest = _md5(path)
    for other, spec in _VARIANTS.items():
        if other != variant and digest in spec.md5.values():
            raise ValueError(f"{path} is a {spec.title} file (md5 {digest}) but "
                             f"variant={variant!r} asks for {_VARIANTS[variant].title}")
    return read_idx(path)


def _read_npz(path, name):
    try:
        with np.load(path) as archive:
            return archive[f"x_{name}"], archive[f"y_{name}"]
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{path} is not a valid Keras mnist.npz "
                         f"(expected arrays x_{name} and y_{name}): {error}") from None


def _missing_message(variant, missing, dirs, split):
    spec = _VARIANTS[variant]
    text = (f"{spec.title} files missing: {', '.join(missing)}. Put them (the .gz files, as "
            f"distributed) in one of: {', '.join(dirs)}; or pass data_dir=...; or allow "
            f"download=True (mirrors: {', '.join(spec.mirrors)}).")
    if split != "test" and all(f not in missing for f in _FILES["test"]):
        text += " The test files are present: load_mnist(..., split='test') works now."
    return text


# -- downloading ------------------------------------------------------------------------------
def _fetch(url, timeout=60):
    """The bytes at `url` (http(s) or file://); raises OSError when it cannot be read."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _download_split(variant, name, cache):
    paths = [_download(variant, f, cache) for f in _FILES[name]]
    return tuple(read_idx(p) for p in paths)


def _download(variant, filename, cache):
    spec = _VARIANTS[variant]
    expected = spec.md5[filename]
    failures, corrupt = [], []
    for mirror in spec.mirrors:
        url = mirror + filename
        try:
            content = _fetch(url)
        except (OSError, ValueError) as error:
            failures.append(f"{url} ({error})")
            continue
        digest = hashlib.md5(content).hexdigest()
        if digest != expected:
            corrupt.append(f"{url} (md5 {digest}, expected {expected})")
            continue
        path = os.path.join(cache, filename)
        atomic_write(path, content)
        return path
    if corrupt:
        raise ValueError(f"download of {spec.title} {filename} failed the md5 check: "
                         f"{'; '.join(corrupt)}; nothing was written to {cache}")
    raise FileNotFoundError(f"{spec.title} file {filename} is missing and could not be "
                            f"downloaded ({'; '.join(failures)}). Download it yourself and put "
                            f"it in {cache}, or pass data_dir=... where it lies.")


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- checking and converting ------------------------------------------------------------------
def _finish(images, labels, name, binarize):
    images, labels = _check_pair(images, labels, name)
    x = images.astype(np.float32) / np.float32(255)
    if binarize == "static" or (binarize == "dynamic" and name == "test"):
        uniform = np.random.default_rng(_BINARIZE_SEEDS[name]).random(x.shape, dtype=np.float32)
        x = (uniform < x).astype(np.float32)
    return x, labels.astype(np.int64)


def _check_pair(images, labels, name):
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"the {name} images have shape {images.shape} and dtype {images.dtype}; "
                         "expected uint8 [n, 28, 28]: not an MNIST image file")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"the {name} labels have shape {labels.shape} and dtype {labels.dtype}; "
                         "expected uint8 [n]: not an MNIST label file")
    if len(images) != len(labels):
        raise ValueError(f"the {name} split has {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"the {name} labels must be 0..9; found {labels.max()}")
    return images, labels
