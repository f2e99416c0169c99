"""Person scores and log-likelihoods by importance sampling from the amortized posterior q(z | x).

EAP (expected a posteriori) scores and posterior SDs are self-normalized importance-sampling
estimates: with z_s ~ q(z | x) and weights w_s proportional to p(z_s) p(x | z_s) / q(z_s | x),

    E[theta | x] ~ sum_s w_s theta_s,   Var[theta | x] ~ sum_s w_s (theta_s - E[theta | x])^2,

where theta = z M are the reported (rotated, sign-oriented) factors. The same weights, left
unnormalized, give the marginal log-likelihood log p(x) (`latentvi.log_marginal_likelihood`).
For scores, persons with identical answers (and identical missing cells) share one computation,
so a data set of few distinct patterns (LSAT7: 32 patterns for 1,000 persons) costs what its
patterns do.
A person with no answers has the prior as posterior: EAP 0, SD 1, log p(x) = 0.

References:
  [1] Bock & Mislevy (1982). Adaptive EAP estimation of ability in a microcomputer environment.
  [2] Burda, Grosse & Salakhutdinov (2016). Importance Weighted Autoencoders. ICLR.
"""

import numpy as np
import tensorflow as tf

from latentvi.estimate import MonteCarloEstimate
from latentvi.evaluation import CHUNK_CELLS, compiled, log_marginal_likelihood
from latentvi.objectives import importance_log_weights

__all__ = ["eap", "log_likelihood", "total", "unique_patterns"]


def unique_patterns(codes, mask):
    """(distinct codes, their masks, index of each person's pattern)."""
    keys = np.concatenate([np.where(mask, codes, -1.0), mask], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return codes[first], mask[first], inverse.reshape(-1)


def eap(model, codes, mask, transform, num_samples=5000, seed=None):
    """EAP scores and posterior SDs of theta = z M, [n, D] each (NumPy)."""
    patterns, pattern_mask, inverse = unique_patterns(codes, mask)
    transform = tf.constant(transform, tf.float32)
    cells = num_samples * codes.shape[1] * max(model.likelihood.max_categories, 2)
    rows = max(1, CHUNK_CELLS // cells)
    seed = 0 if seed is None else int(seed)
    moments = compiled(model, ("eap_moments", num_samples),
                       lambda model_ref: _moments_function(model_ref, num_samples))
    complete = bool(pattern_mask.all())  # then no mask: it would cost a select per cell
    locs, scales = [], []
    for start in range(0, len(patterns), rows):
        observed = None if complete else pattern_mask[start:start + rows]
        loc, scale = moments(patterns[start:start + rows], observed, transform,
                             tf.constant([seed, start], tf.int32))
        locs.append(loc.numpy())
        scales.append(scale.numpy())
    loc, scale = np.concatenate(locs)[inverse], np.concatenate(scales)[inverse]
    empty = ~mask.any(axis=1)
    loc[empty], scale[empty] = 0.0, 1.0
    return loc, scale


def _moments_function(model_ref, num_samples):
    @tf.function(reduce_retracing=True)
    def moments(x, observed, transform, seed):
        model = model_ref()
        q = model.encode(x, mask=observed)
        z = q.sample(num_samples, seed=seed)
        log_w, _ = importance_log_weights(model, x, z, q, mask=observed)
        weights = tf.nn.softmax(log_w, axis=0)[..., tf.newaxis]
        theta = tf.linalg.matmul(z, transform)
        loc = tf.reduce_sum(weights * theta, axis=0)
        variance = tf.reduce_sum(weights * tf.square(theta - loc), axis=0)
        return loc, tf.sqrt(variance)
    return moments


def log_likelihood(model, codes, mask, num_samples=5000, seed=None):
    """log p(x_i) for every person and its Monte Carlo SE: two float64 arrays [n].

    Unlike `eap`, persons are not pooled by pattern: the total log-likelihood sums n independent
    estimates, so its Monte Carlo error grows like sqrt(n), not like a pattern's count; the SE
    of the sum is sqrt(sum of the squared SEs) (`total`).
    """
    values, errors = log_marginal_likelihood(model, codes, num_samples=num_samples, mask=mask,
                                             seed=seed, return_se=True)
    empty = ~mask.any(axis=1)
    values[empty], errors[empty] = 0.0, 0.0
    return values, errors


def total(values, errors):
    """The sum of independent per-person estimates, as a `MonteCarloEstimate`."""
    return MonteCarloEstimate(np.sum(values), np.sqrt(np.sum(np.square(errors))))
