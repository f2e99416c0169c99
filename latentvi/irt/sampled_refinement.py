"""Newton steps to the marginal maximum likelihood beyond quadrature, from sampled information.

A stochastic variational fit stops near, not at, the maximum of the marginal likelihood: with
100,000 persons and 5 factors its slopes sit about 1 standard error short on average (the
importance-weighted bound's own bias and the optimizer's noise), so 95% intervals around them
would cover the truth far less than 95% of the time. Up to 3 factors `quadrature.refine`
finishes the job exactly; beyond, the product grid is too large. Instead, with the score
g = sum_i s_i and the observed information I both estimated by importance sampling from q
(`latentvi.irt.sampled_information`: Fisher's and Louis' identities; the score from 8 times
as many draws, in one backward pass, as it alone sets where the steps end), the Newton step

    w <- w + B (B^T I B)^-1 B^T g       (B: the free coordinates, `quadrature.free_basis`)

moves the weights to the maximum; from a start within a few standard errors one or two steps
suffice (the "one-step estimator" of Le Cam, efficient as the maximum itself). Each step is
checked on the importance-sampled log-likelihood with the step's own draws (common random
numbers) and halved, up to 3 times, if it falls by more than twice the rise the quadratic
model predicts. The score is debiased: a self-normalized importance-sampling average is off
by O(1/S) per person, which summed over n persons would grow like n against the score's
sampling SD sqrt(n) (at 100,000 persons and 32 draws the factor correlations landed 2 SE
high); Richardson extrapolation over the two halves of the draws, 2 s(S) - (s_a(S/2) +
s_b(S/2)) / 2, removes it to O(1/S^2), and the score's 8-fold draws shrink what is left (at
20,000 persons, 128 draws brought the correlations' bias from 0.0028 to -0.0002).

Monte Carlo error: the score of each person is estimated from `num_samples` draws; its error
averages over persons, and the step inherits it as a fraction of the sampling SE of about
sqrt(missing information / effective draws), a few percent at the default 32 draws.

References:
  [1] Le Cam (1956). On the asymptotic theory of estimation and testing hypotheses. Berkeley
      Symposium 1.
  [2] Louis (1982). Finding the observed information matrix when using the EM algorithm.
      JRSS B 44(2).
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from latentvi.evaluation import compiled
from latentvi.irt import quadrature
from latentvi.irt.sampled_information import NUM_SAMPLES, item_prior, sampled_information

__all__ = ["SampledRefinement", "newton_refine"]

STEPS = 2
BACKTRACKS = 3
SCORE_DRAWS = 8  # the score takes 8 times the information's draws (one cheap pass)
PERSON_DRAWS = 3_200_000  # draws per step in all (persons x draws), between 32 and 256 each
CHUNK_CELLS = 2**23


class SampledRefinement(NamedTuple):
    """What `newton_refine` did: the importance-sampled log-likelihood (log-posterior, with
    priors) per person before and after, the Newton steps taken, the draws per person, and
    the size of the last step in standard errors (root mean square over the free weights)."""
    before: float
    after: float
    steps: int
    num_samples: int
    last_step_se: float


def newton_refine(model, codes, mask, steps=STEPS, num_samples=None, seed=0):
    """Newton steps on the likelihood's and the prior's weights (module docstring); the
    model's weights hold the result. Returns a `SampledRefinement`.

    num_samples: draws per person; None: 3.2 million draws in all, between 32 and 256 per
    person (small data sets have a larger sampling SE, which the Monte Carlo error of the step
    must stay well below: 128 draws put a 20,000-person 4-factor fit within 0.12 SE, RMS, of
    the exact maximum, 32 draws within 0.3)."""
    variables = model.likelihood.trainable_variables + model.prior.trainable_variables
    codes, mask = np.asarray(codes), np.asarray(mask)
    n_persons = max(int(mask.any(axis=1).sum()), 1)
    if num_samples is None:
        num_samples = 2 * int(np.clip(PERSON_DRAWS // n_persons, NUM_SAMPLES, 256) // 2)
    start = quadrature.values_flat(variables)
    before = after = _objective(model, codes, mask, num_samples, seed) / n_persons
    last = np.nan
    taken = 0
    for step_seed in range(seed, seed + steps):
        found = sampled_information(model, codes, mask, variables, num_samples, step_seed)
        basis = quadrature.free_basis(model, variables)
        information = basis.T @ found.information @ basis
        used = np.abs(np.diag(information)) > 1e-12
        basis, information = basis[:, used], information[np.ix_(used, used)]
        gradient = _debiased_score(model, codes, mask, variables,
                                   SCORE_DRAWS * num_samples, step_seed)
        try:
            step = np.linalg.solve(information, basis.T @ gradient)
        except np.linalg.LinAlgError:
            break
        se = np.sqrt(np.maximum(np.diag(np.linalg.pinv(information)), 1e-300))
        point = quadrature.values_flat(variables)
        current = _objective(model, codes, mask, num_samples, step_seed) / n_persons
        gain = 0.5 * float(step @ information @ step) / n_persons  # a quadratic's rise
        for _ in range(BACKTRACKS + 1):
            quadrature.assign_flat(variables, point + basis @ step)
            trial = _objective(model, codes, mask, num_samples, step_seed) / n_persons
            # the sampled objective is biased by O(1/S) and its maximum may sit a little
            # away from the debiased score's root: only a fall beyond twice the predicted
            # rise (a step that overshoots) is undone
            if trial >= current - max(2.0 * gain, 1e-7):
                break
            step = 0.5 * step
        else:
            quadrature.assign_flat(variables, point)
            break
        taken += 1
        last = float(np.sqrt(np.mean((step / se) ** 2)))
        after = _objective(model, codes, mask, num_samples, seed) / n_persons
    if not np.isfinite(after):
        quadrature.assign_flat(variables, start)
    return SampledRefinement(float(before), float(after), taken, num_samples, last)


def _debiased_score(model, codes, mask, variables, num_samples, seed):
    """The gradient [W] of sum_i [2 log mean_S w_is - (log mean_a w_is + log mean_b w_is) / 2]
    (a, b: the halves of the S draws) + the items' log-prior: the self-normalized score with
    its O(1/S) bias extrapolated away, from one backward pass per chunk."""
    step = compiled(model, ("debiased_score", len(variables)),
                    lambda ref: _score_function(ref, variables))
    total = np.zeros(sum(int(np.prod(v.shape)) for v in variables))
    chunk = max(1, CHUNK_CELLS // (num_samples * codes.shape[1]))
    for start in range(0, len(codes), chunk):
        x = tf.constant(codes[start:start + chunk], tf.float32)
        m = tf.constant(mask[start:start + chunk], tf.float32)
        total += step(x, m, tf.constant(num_samples), tf.constant([seed + 7919, start])).numpy()
    return total + item_prior(model, variables)[0]


def _score_function(model_ref, variables):
    @tf.function(reduce_retracing=True)
    def score(x, mask, num_samples, seed):
        model = model_ref()
        q = model.encode(x, mask=mask)
        z = tf.stop_gradient(q.sample(num_samples, seed=seed))
        with tf.GradientTape() as tape:
            log_w = model.log_joint(x, z, mask=mask) - tf.stop_gradient(q.log_prob(z))
            half = num_samples // 2

            def log_mean(part):
                return tf.reduce_logsumexp(part, axis=0) - tf.math.log(
                    tf.cast(tf.shape(part)[0], tf.float32))
            per_person = 2.0 * log_mean(log_w) - 0.5 * (log_mean(log_w[:half])
                                                        + log_mean(log_w[half:]))
            answered = tf.reduce_any(mask > 0, axis=1)
            total = tf.reduce_sum(tf.where(answered, per_person, 0.0))
        return quadrature.flat(tape.gradient(total, variables), variables)
    return score


def _objective(model, codes, mask, num_samples, seed):
    """sum_i log (1/S sum_s p(x_i, z_s) / q(z_s | x_i)) + the items' log-prior, with fixed
    draws z_s ~ q (the seed), summed in float64."""
    total = 0.0
    chunk = max(1, CHUNK_CELLS // (num_samples * codes.shape[1]))
    for start in range(0, len(codes), chunk):
        x = tf.constant(codes[start:start + chunk], tf.float32)
        m = tf.constant(mask[start:start + chunk], tf.float32)
        q = model.encode(x, mask=m)
        z = q.sample(num_samples, seed=tf.constant([seed, start], tf.int32))
        log_w = model.log_joint(x, z, mask=m) - q.log_prob(z)
        per_person = tf.reduce_logsumexp(log_w, axis=0) - np.log(num_samples)
        per_person = tf.where(tf.reduce_any(m > 0, axis=1), per_person, 0.0)
        total += float(tf.reduce_sum(tf.cast(per_person, tf.float64)))
    return total + float(model.likelihood.log_prior())
