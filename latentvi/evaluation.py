"""Evaluation: per-row bounds and importance-sampled log p(x).

log p(x) = log E_{z ~ q(z|x)}[p(x, z) / q(z | x)] is estimated with S samples per row by
log (1/S) sum_s p(x, z_s) / q(z_s | x): the IWAE bound with k = S. It is a stochastic lower bound
whose gap shrinks as S grows (Burda et al. 2016); with S = 5000 it is the figure VAE papers
report as test log-likelihood. Samples are drawn in chunks and combined with a running
logsumexp, so memory stays bounded whatever S is.
"""

import math

import numpy as np
import pandas as pd
import tensorflow as tf

from latentvi._checks import positive_int
from latentvi.inputs import make_dataset, prepare
from latentvi.model import check_model, unpack
from latentvi.objectives import ELBO, IWAE

__all__ = ["evaluate", "log_marginal_likelihood"]

# Cells (rows x samples x row cells) a chunk may hold: ~64 MB of float32 per decoded tensor.
CHUNK_CELLS = 2**24


def log_marginal_likelihood(model, x, num_samples=5000, batch_size=100, mask=None, seed=None,
                            chunk_size=None):
    """Importance-sampled log p(x), one value per row (NumPy array, nats).

    Args:
      model: a fitted `LatentModel`.
      x: rows (array, DataFrame or batched Dataset), as for `fit`.
      num_samples: importance samples S per row.
      batch_size: rows processed together.
      mask: optional boolean observation mask.
      seed: integer seed for the draws.
      chunk_size: samples drawn at once (default: as many as fit in ~2**24 cells).

    Returns:
      float64 array [n]: log p(x) for each row (observed cells only).
    """
    check_model(model)
    num_samples = positive_int(num_samples, "num_samples")
    batch_size = positive_int(batch_size, "batch_size")
    cells = math.prod(model.data_shape or model.build_for_shape())
    if chunk_size is None:
        chunk_size = max(1, min(num_samples, CHUNK_CELLS // max(1, batch_size * cells)))
    chunk_size = positive_int(chunk_size, "chunk_size")
    chunk_objective = IWAE(k=chunk_size)
    seed = int(np.random.default_rng().integers(2**31)) if seed is None else int(seed)

    @tf.function
    def chunk_logsumexp(x_batch, mask_batch, chunk_seed):
        log_w, _ = chunk_objective.log_weights(model, x_batch, mask_batch, chunk_seed)
        return tf.reduce_logsumexp(tf.cast(log_w, tf.float64), axis=0)

    results = []
    for step, batch in enumerate(_batches(model, x, mask, batch_size)):
        x_batch, mask_batch = unpack(batch)
        total = None
        n_chunks = math.ceil(num_samples / chunk_size)
        for chunk in range(n_chunks):
            chunk_seed = tf.constant([seed, step * n_chunks + chunk], tf.int32)
            value = chunk_logsumexp(x_batch, mask_batch, chunk_seed)
            total = value if total is None else tf.experimental.numpy.logaddexp(total, value)
        results.append(total.numpy() - math.log(n_chunks * chunk_size))
    return np.concatenate(results)


def evaluate(model, x, objective=None, batch_size=256, mask=None, seed=None, per_row=False):
    """The bound's terms on `x`: a Series of means, or a DataFrame with one row per data row.

    Args:
      objective: `ELBO()` (default) or `IWAE(k)`.
      per_row: return every row's bound, reconstruction and kl instead of their means.
    """
    check_model(model)
    objective = objective or ELBO()
    seed = 0 if seed is None else int(seed)

    @tf.function
    def terms(x_batch, mask_batch, step_seed):
        return objective(model, x_batch, mask=mask_batch, seed=step_seed)

    parts = []
    for step, batch in enumerate(_batches(model, x, mask, batch_size)):
        x_batch, mask_batch = unpack(batch)
        parts.append({k: v.numpy() for k, v in terms(
            x_batch, mask_batch, tf.constant([seed, step], tf.int32))._asdict().items()})
    table = pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    if isinstance(x, pd.DataFrame):
        table.index = x.index
    return table if per_row else table.mean()


def _batches(model, x, mask, batch_size):
    prepared = prepare(model, x, mask=mask)
    if not isinstance(prepared, tuple):
        return prepared
    return make_dataset(*prepared, batch_size=batch_size)
