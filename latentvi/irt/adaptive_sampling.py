"""Adaptive importance sampling with randomized quasi-Monte Carlo draws: person scores and
log-likelihoods beyond quadrature.

With more than 3 factors (or too many persons for quadrature), E[theta | x] and
p(x) = int p(x | z) p(z) dz are importance-sampling estimates. Two things make them precise
with few draws per person:

1. Adapted proposal. The amortized q(z | x) is close to the posterior but not equal to it
   (one network serves every person). A first stage of `ADAPT_DRAWS` draws from q gives the
   self-normalized posterior mean m and covariance C, with effective sample size
   ESS = 1 / sum_s w_s^2; the proposal is then

       r(z | x) = N(m, INFLATION * (ESS C + SHRINKAGE Sigma_q) / (ESS + SHRINKAGE)),

   the covariance shrunk towards q's when the first stage saw few effective draws, and widened
   so that r's tails cover the posterior's (the adaptive importance sampling of Oh & Berger
   1992; Cappe et al. 2008).
2. Randomized quasi-Monte Carlo. The standard-normal draws u_s of z_s = m + L u_s are the
   first points of the Sobol sequence, randomized for each person by a random digital shift
   (XOR of the binary digits with a uniform random mask) and mapped through Phi^-1. Each
   point is still exactly uniform, so the estimates keep their expectations, while the
   points cover the space more evenly than independent draws (Owen 1997; L'Ecuyer 2018).

On a 5-factor, 100-item model the two together cut the per-person error of log p(x) about
4-fold at equal cost (RMS 0.012 nats with 16 + 128 draws, against 0.050 from 200 independent
draws of q).

Because quasi-random points are not independent, the Monte Carlo error cannot come from the
spread of the weights. The draws are two independent randomizations of the same points
(halves a and b); with p_a, p_b their estimates of p(x), the estimate is their mean and its
squared error is estimated without bias by (p_a - p_b)^2 / 4, so the relative SE is
|p_a - p_b| / (p_a + p_b) = |tanh((log p_a - log p_b) / 2)|. One person's error estimate has
one degree of freedom; the error of a sum over many persons is estimated well.

References:
  [1] Oh & Berger (1992). Adaptive importance sampling in Monte Carlo integration. Journal of
      Statistical Computation and Simulation 41.
  [2] Cappe, Douc, Guillin, Marin & Robert (2008). Adaptive importance sampling in general
      mixture classes. Statistics and Computing 18.
  [3] Owen (1997). Scrambled net variance for integrals of smooth functions. Annals of
      Statistics 25(4).
  [4] L'Ecuyer (2018). Randomized quasi-Monte Carlo: an introduction for practitioners.
      MCQMC 2016, Springer.
"""

import functools

import numpy as np
import tensorflow as tf
from scipy.stats import qmc

from latentvi.evaluation import CHUNK_CELLS, compiled
from latentvi.irt.scoring import unique_patterns
from latentvi.objectives import importance_log_weights

__all__ = ["ADAPT_DRAWS", "eap", "log_likelihood", "normal_points", "posterior_draws",
           "random_shifts", "sobol_digits"]

ADAPT_DRAWS = 16   # first-stage draws from q that place the proposal
INFLATION = 1.3    # proposal covariance / estimated posterior covariance
SHRINKAGE = 6.0    # weight of q's covariance, in effective draws
_BITS = 32


@functools.lru_cache(maxsize=32)
def sobol_digits(num_samples, n_factors):
    """The first `num_samples` Sobol points in [0, 1)^D as 32-bit integers [S, D] (int64)."""
    power = max(int(np.ceil(np.log2(max(num_samples, 2)))), 1)
    points = qmc.Sobol(n_factors, scramble=False).random_base2(power)[:num_samples]
    return (points * 2.0 ** _BITS).astype(np.int64)


def random_shifts(rng, n_sets, n_rows, n_factors):
    """Independent random digital shifts [n_sets, n, D] (int64, 32 random bits each)."""
    return rng.integers(0, 2 ** _BITS, size=(n_sets, n_rows, n_factors), dtype=np.int64)


def normal_points(digits, shifts):
    """Standard-normal quasi-random points [S, n, D] (float32): the Sobol points `digits`
    [S, D] randomized for each row by its digital shift `shifts` [n, D] (XOR of the binary
    digits), through Phi^-1 (TensorFlow; the top 23 bits give float32 uniforms (k + 1/2) 2^-23,
    all strictly inside (0, 1): 1 - 2^-24 is the largest)."""
    shifted = tf.bitwise.bitwise_xor(digits[:, tf.newaxis, :], shifts[tf.newaxis])
    top = tf.cast(tf.bitwise.right_shift(shifted, tf.constant(_BITS - 23, tf.int64)),
                  tf.float32)
    return tf.math.ndtri((top + 0.5) * 2.0 ** -23)


def _proposal(model, x, mask, first):
    """(loc [B, D], scale_tril [B, D, D]) of the adapted proposal from first-stage points."""
    q = model.encode(x, mask=mask)
    q_covariance = _full_covariance(q)
    z = _draw(q.mean(), tf.linalg.cholesky(q_covariance), first)
    log_w, _ = importance_log_weights(model, x, z, q, mask=mask)
    weights = tf.nn.softmax(log_w, axis=0)
    ess = 1.0 / tf.reduce_sum(tf.square(weights), axis=0)
    loc = tf.reduce_sum(weights[..., tf.newaxis] * z, axis=0)
    centred = z - loc
    posterior = tf.einsum("sb,sbd,sbe->bde", weights, centred, centred)
    share = (ess / (ess + SHRINKAGE))[:, tf.newaxis, tf.newaxis]
    covariance = INFLATION * (share * posterior + (1.0 - share) * q_covariance)
    jitter = 1e-6 * tf.eye(int(loc.shape[-1]))
    return loc, tf.linalg.cholesky(covariance + jitter)


def _draw(loc, tril, points):
    """z = m + L u [S, B, D] from standard-normal points u [S, B, D]."""
    z = loc + tf.einsum("bde,sbe->sbd", tril, points)
    return tf.ensure_shape(z, [None, None, points.shape[-1]])


def _full_covariance(q):
    covariance = q.covariance()
    return covariance[..., tf.newaxis] if covariance.shape.rank == 2 else covariance


def _adapted_draws(model, x, mask, first, second):
    """Draws z [S, B, D] from the adapted proposal and their log weights [S, B].

    log N(z; m, L L') is taken from the standard-normal points u directly,
    -|u|^2 / 2 - log|L| - D/2 log 2 pi: a distribution's log_prob would solve L u = z - m
    again for every draw, 15-20% of the whole pass at 10 factors."""
    loc, tril = _proposal(model, x, mask, first)
    z = _draw(loc, tril, second)
    log_proposal = (-0.5 * tf.reduce_sum(tf.square(second), -1)
                    - tf.reduce_sum(tf.math.log(tf.linalg.diag_part(tril)), -1)
                    - 0.5 * float(loc.shape[-1]) * np.log(2.0 * np.pi))
    log_likelihood = model.decode(z, mask=mask).log_prob(x)
    return z, model.prior.distribution().log_prob(z) + log_likelihood - log_proposal


def _function(model, what, masked, n_items):
    """The compiled computation for `what` ('loglik' or 'eap'), with or without a mask: one
    trace per model and kind (any number of rows and draws; a trace costs ~1 s on 2 cores)."""
    n_factors = model.latent_dim
    matrix = tf.TensorSpec([None, n_items], tf.float32)
    digits = tf.TensorSpec([None, n_factors], tf.int64)
    shifts = tf.TensorSpec([3, None, n_factors], tf.int64)
    signature = [matrix, matrix, digits, digits, shifts, tf.TensorSpec([n_factors, n_factors])]
    if not masked:
        signature.pop(1)
    return compiled(model, ("adaptive_sampling", what, masked, n_items),
                    lambda ref: _build(ref, what, signature))


def _build(model_ref, what, signature):
    def compute(x, mask, first_digits, second_digits, shifts, transform):
        model = model_ref()
        first = normal_points(first_digits, shifts[0])
        second = tf.concat([normal_points(second_digits, shifts[1]),
                            normal_points(second_digits, shifts[2])], axis=0)
        z, log_w = _adapted_draws(model, x, mask, first, second)
        if what == "draws":
            return z, log_w
        if what == "loglik":
            halves = tf.split(log_w, 2, axis=0)
            return [tf.reduce_logsumexp(h, axis=0)
                    - tf.math.log(tf.cast(tf.shape(h)[0], h.dtype)) for h in halves]
        weights = tf.nn.softmax(log_w, axis=0)[..., tf.newaxis]
        theta = tf.linalg.matmul(z, transform)
        loc = tf.reduce_sum(weights * theta, axis=0)
        return loc, tf.sqrt(tf.reduce_sum(weights * tf.square(theta - loc), axis=0))

    if len(signature) == 6:
        return tf.function(compute, input_signature=signature)
    return tf.function(lambda x, *rest: compute(x, None, *rest), input_signature=signature)


def _call(model, what, x, mask, draws, transform):
    function = _function(model, what, mask is not None, int(x.shape[1]))
    return function(x, *([] if mask is None else [mask]), *draws, transform)


def _chunks(model, codes, mask, num_samples, seed):
    """(rows, x, mask or None, draws) per chunk of rows; draws = (first-stage Sobol digits,
    second-stage digits (num_samples / 2 points), the rows' three random shifts: the first
    stage's and the two halves')."""
    n_factors = model.latent_dim
    draws = ADAPT_DRAWS + num_samples
    rows = int(np.clip(CHUNK_CELLS // (draws * codes.shape[1] * max(
        model.likelihood.max_categories, 2)), 16, 8192))
    rng = np.random.default_rng([0 if seed is None else int(seed), 7])
    complete = bool(mask.all())  # then no mask: it would cost a select per cell
    first = tf.constant(sobol_digits(ADAPT_DRAWS, n_factors))
    second = tf.constant(sobol_digits(max(num_samples // 2, 1), n_factors))
    for start in range(0, len(codes), rows):
        stop = min(start + rows, len(codes))
        x = tf.constant(codes[start:stop], tf.float32)
        observed = None if complete else tf.constant(mask[start:stop], tf.float32)
        draws = (first, second, tf.constant(random_shifts(rng, 3, stop - start, n_factors)))
        yield (start, stop), x, observed, draws


def log_likelihood(model, codes, mask, num_samples=128, seed=None):
    """log p(x_i) for every person and its Monte Carlo SE: two float64 arrays [n].

    `num_samples` draws from the adapted proposal (after ADAPT_DRAWS draws from q), two
    randomizations of num_samples / 2 Sobol points; the SE from their difference (module
    docstring). Each value is corrected for the log's bias by half its squared SE."""
    values, errors = np.zeros(len(codes)), np.zeros(len(codes))
    identity = tf.eye(model.latent_dim)
    for (start, stop), x, observed, draws in _chunks(model, codes, mask, num_samples, seed):
        log_a, log_b = (h.numpy().astype(np.float64) for h in _call(
            model, "loglik", x, observed, draws, identity))
        value = np.logaddexp(log_a, log_b) - np.log(2.0)
        error = np.abs(np.tanh(0.5 * (log_a - log_b)))
        values[start:stop], errors[start:stop] = value + 0.5 * error ** 2, error
    empty = ~mask.any(axis=1)
    values[empty], errors[empty] = 0.0, 0.0
    return values, errors


def eap(model, codes, mask, transform, num_samples=64, seed=None):
    """EAP scores and posterior SDs of theta = z M, [n, D] each (NumPy): self-normalized
    importance sampling with `num_samples` draws from the adapted proposal. Persons with the
    same answers share one computation."""
    patterns, pattern_mask, inverse = unique_patterns(codes, mask)
    transform = tf.constant(transform, tf.float32)
    locs, scales = [], []
    for _, x, observed, draws in _chunks(model, patterns, pattern_mask, num_samples, seed):
        loc, scale = _call(model, "eap", x, observed, draws, transform)
        locs.append(loc.numpy())
        scales.append(scale.numpy())
    loc, scale = np.concatenate(locs)[inverse], np.concatenate(scales)[inverse]
    empty = ~mask.any(axis=1)
    loc[empty], scale[empty] = 0.0, 1.0
    return loc, scale


def posterior_draws(model, codes, mask, n_draws, num_samples=512, seed=None):
    """`n_draws` draws of z from each person's posterior, [n, n_draws, D] (NumPy): sampling
    importance resampling (Rubin 1988) of `num_samples` draws from the adapted proposal,
    multinomially by their normalized weights. The proposal is close to the posterior (its
    effective sample size is most of `num_samples`), so the draws' mean and covariance
    reproduce the posterior's up to Monte Carlo error of order 1 / sqrt(num_samples)."""
    rng = np.random.default_rng([0 if seed is None else int(seed), 11])
    identity = tf.eye(model.latent_dim)
    out = np.zeros((len(codes), int(n_draws), model.latent_dim))
    for (start, stop), x, observed, draws in _chunks(model, codes, mask, num_samples, seed):
        z, log_w = _call(model, "draws", x, observed, draws, identity)
        z, log_w = z.numpy().astype(np.float64), log_w.numpy().astype(np.float64)
        weights = np.exp(log_w - log_w.max(axis=0))
        cumulative = np.cumsum(weights / weights.sum(axis=0), axis=0)  # [S, B]
        uniform = rng.uniform(size=(stop - start, int(n_draws)))
        for b in range(stop - start):
            picks = np.minimum(np.searchsorted(cumulative[:, b], uniform[b]), len(z) - 1)
            out[start + b] = z[picks, b]
    return out
