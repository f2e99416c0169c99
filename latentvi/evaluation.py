"""Evaluation: per-row bounds and importance-sampled log p(x).

log p(x) = log E_{z ~ q(z|x)}[p(x, z) / q(z | x)] is estimated with S samples per row by
log (1/S) sum_s p(x, z_s) / q(z_s | x): the IWAE bound with k = S. It is a stochastic lower bound
whose gap shrinks as S grows (Burda et al. 2016); with S = 5000 it is the figure VAE papers
report as test log-likelihood. Samples are drawn in chunks and combined with a running
logsumexp, so memory stays bounded whatever S is.
"""

import math
import weakref

import numpy as np
import pandas as pd
import tensorflow as tf
from scipy.special import logsumexp

from latentvi._checks import positive_int, resolve_seed
from latentvi.diagnostics import ImportanceDiagnostics, diagnose, warn_if_unreliable
from latentvi.inputs import batches
from latentvi.model import check_model, unpack
from latentvi.objectives import ELBO, IWAE

__all__ = ["CHUNK_CELLS", "compiled", "evaluate", "log_marginal_likelihood"]

# Cells (rows x samples x row cells) a chunk may hold: ~64 MB of float32 per decoded tensor.
CHUNK_CELLS = 2**24


def log_marginal_likelihood(model, x, num_samples=5000, batch_size=100, mask=None, seed=None,
                            chunk_size=None, return_se=False, return_diagnostics=False):
    """Importance-sampled log p(x), one value per row (NumPy array, nats).

    Args:
      model: a fitted `LatentModel`.
      x: rows (array, DataFrame or batched Dataset), as for `fit`.
      num_samples: importance samples S per row.
      batch_size: rows processed together.
      mask: optional boolean observation mask.
      seed: integer seed for the draws.
      chunk_size: samples drawn at once (default: as many as fit in ~2**24 cells).
      return_se: also return each row's Monte Carlo standard error.
      return_diagnostics: also return the weights' `latentvi.diagnostics.ImportanceDiagnostics`
        (each row's effective sample size and Pareto k-hat; needs S >= 25), and warn when
        more than 1% of the rows have k-hat above 0.7: there the estimate and its SE cannot be
        trusted (the weights are too heavy-tailed: q(z | x) is too narrow). The values are
        those computed without it (same draws).

    Returns:
      float64 array [n]: log p(x) for each row (observed cells only); with `return_se`, a pair
      (values, standard errors) of such arrays. The standard error is the delta method's for
      the log of a mean of S weights w_s:

          SE(log mean w)^2 ~ Var(w) / (S mean(w)^2) = (mean(w^2) / mean(w)^2 - 1) / S,

      with both means over the same draws. It measures the estimate's noise, not its bias
      (the estimate sits below log p(x) by about half that variance). With heavy-tailed weights
      it is itself noisy; it is small when q(z | x) is close to the posterior. With
      `return_diagnostics` the diagnostics come last: (values[, errors], diagnostics).
    """
    check_model(model)
    num_samples = positive_int(num_samples, "num_samples")
    batch_size = positive_int(batch_size, "batch_size")
    cells = math.prod(model.data_shape or model.build_for_shape())
    if chunk_size is None:
        chunk_size = max(1, min(num_samples, CHUNK_CELLS // max(1, batch_size * cells)))
    chunk_size = positive_int(chunk_size, "chunk_size")
    seed = resolve_seed(seed)
    n_chunks = math.ceil(num_samples / chunk_size)
    log_s = math.log(n_chunks * chunk_size)
    values, errors, diagnostics = [], [], []
    for step, batch in enumerate(batches(model, x, mask, batch_size)):
        x_batch, mask_batch = unpack(batch)
        seeds = [tf.constant([seed, step * n_chunks + chunk], tf.int32)
                 for chunk in range(n_chunks)]
        if return_diagnostics:
            log_w = _all_log_weights(model, chunk_size, x_batch, mask_batch, seeds)
            first, second = logsumexp(log_w, axis=0), logsumexp(2.0 * log_w, axis=0)
            diagnostics.append(diagnose(log_w))
        else:
            first, second = _summed_moments(model, chunk_size, x_batch, mask_batch, seeds)
        values.append(first - log_s)
        errors.append(_log_mean_se(first, second, log_s))
    result = [np.concatenate(values)] + ([np.concatenate(errors)] if return_se else [])
    if return_diagnostics:
        found = ImportanceDiagnostics(np.concatenate([d.ess for d in diagnostics]),
                                      np.concatenate([d.k_hat for d in diagnostics]),
                                      n_chunks * chunk_size)
        warn_if_unreliable(found)
        result.append(found)
    return result[0] if len(result) == 1 else tuple(result)


def _summed_moments(model, chunk_size, x_batch, mask_batch, seeds):
    """(log sum_s w_s, log sum_s w_s^2) [B] over the chunks drawn with `seeds`."""
    chunk_moments = _chunk_function(model, chunk_size, moments=True)
    first, second = None, None
    for chunk_seed in seeds:
        moments = chunk_moments(x_batch, mask_batch, chunk_seed)
        first, second = (moments if first is None else
                         [tf.experimental.numpy.logaddexp(total, value)
                          for total, value in zip((first, second), moments)])
    return first.numpy(), second.numpy()


def _all_log_weights(model, chunk_size, x_batch, mask_batch, seeds):
    """Every log weight [S, B] (float64) of the chunks drawn with `seeds`."""
    chunk_weights = _chunk_function(model, chunk_size, moments=False)
    return np.concatenate([chunk_weights(x_batch, mask_batch, chunk_seed).numpy()
                           for chunk_seed in seeds])


def _log_mean_se(log_sum, log_sum_squares, log_s):
    """SE of log mean(w) from log sum w and log sum w^2 over S = exp(log_s) draws."""
    ratio = np.exp(np.minimum(log_sum_squares - 2.0 * log_sum + log_s, 700.0))
    return np.sqrt(np.maximum(ratio - 1.0, 0.0) / np.exp(log_s))


def compiled(model, key, build):
    """The compiled function `build(model_ref)` for (model, key), built once per model.

    A new tf.function per call would retrace on every call (TensorFlow warns after five). The
    cache holds the model weakly and the function reaches it through a weak reference, so a
    model's cache entry goes when the model does.
    """
    functions = _COMPILED.setdefault(model, {})
    if key not in functions:
        functions[key] = build(weakref.ref(model))
    return functions[key]


_COMPILED = weakref.WeakKeyDictionary()


def _chunk_function(model, chunk_size, moments):
    """The compiled log weights of one chunk of draws [chunk, B] (float64), or with `moments`
    their (log sum w, log sum w^2) [B] reduced in the graph; one per model and kind."""
    return compiled(model, ("chunk", chunk_size, moments),
                    lambda model_ref: _build_chunk_function(model_ref, chunk_size, moments))


def _build_chunk_function(model_ref, chunk_size, moments):
    objective = IWAE(k=chunk_size)

    # reduce_retracing: one trace serves every batch size.
    @tf.function(reduce_retracing=True)
    def chunk(x_batch, mask_batch, chunk_seed):
        log_w, _ = objective.log_weights(model_ref(), x_batch, mask_batch, chunk_seed)
        log_w = tf.cast(log_w, tf.float64)
        if not moments:
            return log_w
        return (tf.reduce_logsumexp(log_w, axis=0), tf.reduce_logsumexp(2.0 * log_w, axis=0))

    return chunk


def evaluate(model, x, objective=None, batch_size=256, mask=None, seed=None, per_row=False):
    """The bound's terms on `x`: a Series of means, or a DataFrame with one row per data row.

    Args:
      objective: `ELBO()` (default) or `IWAE(k)`.
      per_row: return every row's terms instead of their means.

    Returns:
      bound, reconstruction and their gap (reconstruction - bound), named as in the training
      history: kl for the ELBO, gap for IWAE.
    """
    check_model(model)
    objective = objective or ELBO()
    seed = 0 if seed is None else int(seed)

    @tf.function
    def terms(x_batch, mask_batch, step_seed):
        return objective(model, x_batch, mask=mask_batch, seed=step_seed)

    parts = []
    for step, batch in enumerate(batches(model, x, mask, batch_size)):
        x_batch, mask_batch = unpack(batch)
        parts.append({k: v.numpy() for k, v in terms(
            x_batch, mask_batch, tf.constant([seed, step], tf.int32))._asdict().items()})
    table = pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    table = table.rename(columns={"gap": objective.gap_name})
    if isinstance(x, pd.DataFrame):
        table.index = x.index
    return table if per_row else table.mean()
