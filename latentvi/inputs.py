"""Checks user data and turns it into batches of x or (x, mask).

Accepted: a NumPy array, a numeric pandas DataFrame, a `CodedArray` (small integers, negative
for missing: a byte a cell), or a batched `tf.data.Dataset` whose elements are x or (x, mask).
Missing cells are NaN (or given by an explicit boolean mask, or negative in a `CodedArray`);
they need a model whose posterior is masked, and are filled with 0 and masked out, never
imputed.
"""

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from latentvi.distributed import shard_by_batch

__all__ = ["CodedArray", "as_array", "batched_rows", "batches", "held", "make_dataset",
           "observation_mask", "prefetched", "prepare", "untuned"]


@dataclass(frozen=True)
class CodedArray:
    """Whole-number data held as small integers, a negative entry marking a missing cell.

    Category codes, counts and binarized pixels fit in one byte a cell (int8 / uint8) or two
    (int16); a float32 copy plus a boolean mask would take five. `latentvi.fit` and the
    evaluation functions take a `CodedArray` as they take an array: TensorFlow keeps one copy
    of `values` and each batch is turned into float32 x (0 where missing) and its mask, so a
    fit on 200,000 x 200 answers holds 40 MB of them, not 200 MB.

    Attributes:
      values: an integer NumPy array [n, ...] (int8, int16, uint8 ...), not copied.
    """
    values: np.ndarray

    def __post_init__(self):
        values = self.values
        if not isinstance(values, np.ndarray) or not np.issubdtype(values.dtype, np.integer):
            raise TypeError(f"CodedArray.values must be an integer NumPy array (int8, int16, "
                            f"...); got {getattr(values, 'dtype', type(values).__name__)}")
        if values.ndim < 2 or len(values) == 0:
            raise ValueError(f"CodedArray.values must have one row per example (at least 2 "
                             f"dimensions) and at least one row; got shape {values.shape}")

    @property
    def has_missing(self):
        return bool(np.issubdtype(self.values.dtype, np.signedinteger)
                    and self.values.min() < 0)


def as_array(data, name="data"):
    """A float32 NumPy array from an array-like or a numeric DataFrame; NaN marks missing cells."""
    if isinstance(data, pd.DataFrame):
        return _frame_to_array(data, name)
    if isinstance(data, pd.Series):
        raise TypeError(f"{name} is a pandas Series; pass a DataFrame (one column per variable)")
    try:
        array = np.asarray(data)
    except (TypeError, ValueError) as error:  # ragged lists and the like
        raise TypeError(f"{name} could not be read as a numeric array: {error}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        raise TypeError(f"{name} must hold numbers; got an array of dtype {array.dtype}")
    if array.ndim < 2:
        raise ValueError(f"{name} must have one row per example (at least 2 dimensions); "
                         f"got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    return array.astype(np.float32, copy=False)


def _frame_to_array(frame, name):
    if frame.shape[0] == 0:
        raise ValueError(f"{name} is empty: the DataFrame has no rows")
    if frame.shape[1] == 0:
        raise ValueError(f"{name} is empty: the DataFrame has no columns")
    for column in frame.columns:
        dtype = frame[column].dtype
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise TypeError(f"{name} column {column!r} has non-numeric dtype {dtype}; "
                            f"convert or drop it")
    return frame.to_numpy(dtype=np.float32, na_value=np.nan)


def observation_mask(x, mask, masked, name="data", labels=None):
    """Returns (x with missing cells set to 0, boolean mask; None when no cell is missing),
    checking the missing cells.

    Args:
      x: float array [n, ...].
      mask: None, or a boolean array shaped like x (True = observed).
      masked: whether the model can take missing cells.
      labels: optional (row labels, column labels) used in error messages.
    """
    missing = np.isnan(x)
    if np.isinf(x).any():
        _raise_at(np.isinf(x), f"{name} has an infinite value", labels)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != x.shape:
            raise ValueError(f"mask has shape {mask.shape} but {name} has shape {x.shape}")
        mask = mask.astype(bool)
        if (missing & mask).any():
            _raise_at(missing & mask, f"{name} has NaN in a cell the mask marks observed", labels)
        missing = ~mask
    if not missing.any():  # an all-True mask changes nothing and costs a select per cell
        return x, None
    if not masked:
        _raise_at(missing, f"{name} has missing values (NaN) but the model's posterior is not "
                           "masked; build it with GaussianPosterior(..., masked=True)", labels)
    return np.where(missing, np.float32(0), x), ~missing


def _raise_at(cells, message, labels):
    row, column = (int(i) for i in np.argwhere(cells.reshape(len(cells), -1))[0])
    if labels is not None:
        row, column = labels[0][row], labels[1][column]
    raise ValueError(f"{message} (first at row {row!r}, column {column!r})")


def prepare(model, data, mask=None, name="data"):
    """Validates `data` against the model; returns (x, mask) arrays or a checked Dataset."""
    if isinstance(data, tf.data.Dataset):
        return _check_dataset(model, data, name)
    if isinstance(data, CodedArray):
        return _check_coded(model, data, mask, name)
    labels = (list(data.index), list(data.columns)) if isinstance(data, pd.DataFrame) else None
    x = as_array(data, name)
    _check_shape(model, x.shape[1:], name)
    return observation_mask(x, mask, model.masked, name, labels)


def _check_shape(model, row_shape, name):
    expected = model.data_shape or model.build_for_shape()
    if tuple(row_shape) != tuple(expected):
        width = "columns" if len(expected) == 1 else "row shape"
        got = row_shape[0] if len(expected) == 1 and len(row_shape) == 1 else tuple(row_shape)
        want = expected[0] if len(expected) == 1 else tuple(expected)
        raise ValueError(f"{name} has {width} {got} but the model expects {want} "
                         f"(its likelihood produces rows of shape {tuple(expected)})")


def _check_coded(model, data, mask, name):
    if mask is not None:
        raise ValueError(f"{name} is a CodedArray, whose negative entries mark the missing "
                         f"cells; give no mask with it")
    _check_shape(model, data.values.shape[1:], name)
    if data.has_missing and not model.masked:
        _raise_at(data.values < 0, f"{name} has missing cells (negative codes) but the "
                                   f"model's posterior is not masked; build it with "
                                   f"GaussianPosterior(..., masked=True)", None)
    return data, None


def _check_dataset(model, dataset, name):
    spec = dataset.element_spec
    x_spec = spec[0] if isinstance(spec, tuple) else spec
    if not isinstance(x_spec, tf.TensorSpec):
        raise TypeError(f"{name}: a Dataset's elements must be x or (x, mask) tensors, "
                        f"got {spec}")
    if x_spec.shape.rank is None or x_spec.shape.rank < 2:
        raise ValueError(f"{name}: the Dataset must be batched (elements [batch, ...]); "
                         f"got element shape {x_spec.shape}; call dataset.batch(n) first")
    _check_shape(model, tuple(x_spec.shape[1:]), name)
    dataset = dataset.map(lambda *e: tuple(tf.cast(t, tf.float32) for t in e)
                          if len(e) > 1 else tf.cast(e[0], tf.float32))
    if model.masked and not isinstance(spec, tuple):
        dataset = dataset.map(_split_missing)
    return untuned(dataset)


def _split_missing(x):
    missing = tf.math.is_nan(x)
    return tf.where(missing, tf.zeros_like(x), x), tf.logical_not(missing)


def batches(model, data, mask, batch_size, name="data", shuffle=False, seed=None):
    """The checked batches of `data` for `model`: x, or (x, mask) where cells are missing.

    Arrays and DataFrames are checked by `prepare` and batched by `make_dataset` (shuffled
    with `seed` if `shuffle`), split by batch under a multi-worker strategy
    (`latentvi.distributed.shard_by_batch`); a batched Dataset is checked and keeps its own
    batching, order and sharding options. `name` is the argument named in error messages.
    """
    prepared = prepare(model, data, mask=mask, name=name)
    if not isinstance(prepared, tuple):
        return prepared
    return shard_by_batch(make_dataset(*prepared, batch_size=batch_size, shuffle=shuffle,
                                       seed=seed))


def make_dataset(x, mask, batch_size, shuffle=False, seed=None):
    """Batches of x, or (x, mask) when a mask is given, prefetched."""
    if isinstance(x, tf.data.Dataset):
        return x
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(x, CodedArray):
        return batched_rows(len(x.values), batch_size, shuffle, seed,
                            _coded_gather(held(x.values), x.has_missing)).apply(prefetched)
    dtype = x.dtype
    values = held(_compact(x))
    mask = None if mask is None else held(mask)

    def gather(index):
        batch = tf.cast(tf.gather(values, index), dtype)
        return batch if mask is None else (batch, tf.gather(mask, index))

    return batched_rows(len(x), batch_size, shuffle, seed, gather).apply(prefetched)


PREFETCHED_BATCHES = 16  # made ahead: more than a compiled call of 8 steps takes at once


def prefetched(dataset):
    """`dataset` with PREFETCHED_BATCHES batches made ahead, without autotuning (`untuned`)."""
    return untuned(dataset.prefetch(PREFETCHED_BATCHES))


def untuned(dataset):
    """`dataset` with tf.data's autotuning off, unless its options already say either way.

    Keras makes a spare iterator at the end of every epoch and drops it at the start of the
    next; with autotuning on, dropping it waits for a tf.data thread (the tuner's, it seems:
    the stalls go with it). On two cores this stalled the start of 19 of 59 epochs for more
    than 1 s with a user's shuffle-batch-map-prefetch pipeline (none with autotuning off)
    and of one VAE epoch in seven for 2-20 s with latentvi's own. Without the tuner,
    TensorFlow's fixed rules apply: a map asked for AUTOTUNE parallel calls runs as many as
    there are cores (at most 16), and a `prefetch(AUTOTUNE)` buffer grows while the consumer
    waits.
    """
    if dataset.options().autotune.enabled is not None:
        return dataset
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def held(array):
    """`array` as TensorFlow keeps it for the batches: in a variable, which the pipeline's
    functions read through a handle. A captured constant would be copied into each function
    that reads it (a second 40 MB for 200,000 x 200 int8 answers)."""
    return tf.Variable(array, trainable=False)


def batched_rows(n_rows, batch_size, shuffle, seed, gather):
    """Batches of `gather(row numbers)`, the rows in a new random order on every pass when
    `shuffle`.

    Shuffling row numbers and gathering each batch costs less than shuffling the rows
    themselves (a third of the pipeline time at 100,000 x 100). Each pass draws one
    permutation of the row numbers (8 bytes a row) from a key that changes from pass to pass
    (deterministically with a `seed`) and hands it out a batch of row numbers at a time: the
    pipeline handles one element per batch, not one per row (a shuffle buffer of n row numbers
    would hold each as a tensor of its own, about 500 bytes a row, more than the answers
    themselves).
    """
    batch_size = int(batch_size)
    n_batches = -(-n_rows // batch_size)
    if not shuffle:
        rows = tf.data.Dataset.range(0, n_rows, batch_size).map(
            lambda start: tf.range(start, tf.minimum(start + batch_size, n_rows)))
    else:
        # `seed` None: a key drawn afresh in every run
        rows = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1) \
            .flat_map(_permuted_batches(n_rows, batch_size, n_batches, seed)) \
            .apply(tf.data.experimental.assert_cardinality(n_batches))
    return rows.map(gather)


def _slice_of(order, batch_size):
    """Batch i of `order`: its entries i * batch_size .. (i + 1) * batch_size - 1 (fewer in the
    last batch)."""
    def batch(i):
        return order[i * batch_size:(i + 1) * batch_size]
    return batch


def _permuted_batches(n_rows, batch_size, n_batches, seed):
    stream = tf.constant(0 if seed is None else seed, tf.int64)

    def batches(key):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n_rows, dtype=tf.int64), seed=tf.stack([stream, key]))
        return tf.data.Dataset.range(n_batches).map(_slice_of(order, batch_size))

    return batches


def _coded_gather(values, has_missing):
    """Batch rows of a `CodedArray`'s values: float32 x, with its mask where cells are missing."""
    def gather(index):
        batch = tf.cast(tf.gather(values, index), tf.float32)
        if not has_missing:
            return batch
        return tf.maximum(batch, 0.0), batch >= 0.0

    return gather


def _compact(x):
    """`x` as int8 when every value is a whole number in -128..127 (item answers' codes,
    binarized pixels), else `x`: the copy TensorFlow keeps for the batches is then a quarter
    of float32's (200,000 persons x 200 items: 40 MB, not 160 MB); each batch is cast back."""
    if x.dtype.kind != "f" or x.size == 0:
        return x
    small = x.astype(np.int8)
    return small if np.array_equal(small, x) else x
