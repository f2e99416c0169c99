"""Can an importance-sampling estimate be trusted? Effective sample size and Pareto k-hat.

log p(x) = log E_q[w], w = p(x, z) / q(z | x), is estimated from S draws of q. When q is too
narrow somewhere the posterior has mass, the weights have a heavy right tail: a few draws
dominate, the estimate's variance may be infinite, and the Monte Carlo SE computed from the
same draws then looks fine while the value is wrong. Two per-row diagnostics say so:

- effective sample size, ESS = (sum_s w_s)^2 / sum_s w_s^2 (Kong 1992): S when the weights
  are equal, 1 when one draw carries everything;
- Pareto k-hat (Vehtari, Simpson, Gelman, Yao & Gabry 2024, "Pareto smoothed importance
  sampling"): the shape of a generalized Pareto distribution fitted to the M = min(S / 5,
  3 sqrt(S)) largest weights. The weights' distribution has finite moments of order < 1 / k:
  k < 0.5 finite variance (the central limit theorem holds), 0.5 <= k < 0.7 a finite mean
  with slow but usable convergence, k >= 0.7 estimates that cannot be trusted at any
  practical S (Vehtari et al. recommend a better proposal instead).

The shape is fitted by Zhang & Stephens' (2009) empirical Bayes method, as the PSIS paper
does: over a grid of theta = -k / sigma, the profile likelihood of the exceedances y_i,
l(theta) = M (log(theta / k(theta)) + k(theta) - 1) with k(theta) = -mean(log(1 - theta y)),
weights the grid points; theta-hat is the weighted mean and k-hat = -mean(log(1 - theta-hat
y)), shrunk towards 0.5 by a weak prior worth 10 observations (Vehtari et al., appendix C).

References:
  [1] Vehtari, Simpson, Gelman, Yao & Gabry (2024). Pareto smoothed importance sampling.
      Journal of Machine Learning Research 25(72).
  [2] Zhang & Stephens (2009). A new and efficient estimation method for the generalized
      Pareto distribution. Technometrics 51(3).
  [3] Kong (1992). A note on importance sampling using standardized weights. Technical
      report 348, University of Chicago.
"""

import math
import warnings
from typing import NamedTuple

import numpy as np

__all__ = ["K_HAT_THRESHOLD", "ImportanceDiagnostics", "diagnose", "effective_sample_size",
           "pareto_k_hat", "warn_if_unreliable"]

K_HAT_THRESHOLD = 0.7     # k-hat above this: the estimate is unreliable
UNRELIABLE_SHARE = 0.01   # warn when more than this share of rows is above the threshold
FLAT_TAIL = 1e-3          # nats: a tail whose log weights span less is flat (no k-hat)
_PRIOR_WEIGHT = 10.0      # observations' worth of the k ~ 0.5 prior
_PRIOR_SCALE = 3.0        # Zhang & Stephens' scale of the theta grid


class ImportanceDiagnostics(NamedTuple):
    """Per-row diagnostics of an importance-sampling estimate (NumPy arrays [n]).

    Attributes:
      ess: effective sample size of each row's weights (1..num_samples).
      k_hat: Pareto k-hat of each row's weights (below 0.5 good, above 0.7 unreliable).
      num_samples: draws per row.
    """
    ess: np.ndarray
    k_hat: np.ndarray
    num_samples: int

    @property
    def unreliable(self):
        """Boolean [n]: rows whose k-hat exceeds K_HAT_THRESHOLD."""
        return self.k_hat > K_HAT_THRESHOLD

    def summary(self):
        """{'rows', 'k_hat_max', 'share_unreliable', 'ess_min', 'ess_median'}."""
        return {"rows": len(self.k_hat), "k_hat_max": float(np.max(self.k_hat)),
                "share_unreliable": float(np.mean(self.unreliable)),
                "ess_min": float(np.min(self.ess)), "ess_median": float(np.median(self.ess))}


def effective_sample_size(log_weights):
    """(sum w)^2 / sum w^2 per column of log weights [S, n]."""
    log_weights = np.asarray(log_weights, np.float64)
    shifted = np.exp(log_weights - np.max(log_weights, axis=0))
    return shifted.sum(axis=0) ** 2 / np.sum(shifted ** 2, axis=0)


def tail_size(num_samples):
    """M = ceil(min(S / 5, 3 sqrt(S))) largest weights enter the Pareto fit."""
    return math.ceil(min(0.2 * num_samples, 3.0 * math.sqrt(num_samples)))


def pareto_k_hat(log_weights):
    """Pareto k-hat per column of log weights [S, n] (S >= 25, so that the tail has at least
    5 points). Columns whose M + 1 largest weights agree within FLAT_TAIL nats (equal up to
    the float32 rounding of the log densities, as with the exact posterior) have no tail to
    fit and get -inf."""
    log_weights = np.asarray(log_weights, np.float64)
    num_samples = log_weights.shape[0]
    size = tail_size(num_samples)
    if size < 5:
        raise ValueError(f"Pareto k-hat needs at least 25 draws per row; got {num_samples}")
    ordered = np.sort(log_weights, axis=0)
    top = ordered[-1]
    tail = np.exp(ordered[-size:] - top)               # [M, n], ascending, last = 1
    cutoff = np.exp(ordered[-size - 1] - top)           # [n]
    exceedances = tail - cutoff                          # [M, n] >= 0, ascending
    flat = ordered[-1] - ordered[-size - 1] < FLAT_TAIL
    safe = np.where(flat[np.newaxis], np.arange(1.0, size + 1.0)[:, np.newaxis], exceedances)
    return np.where(flat, -np.inf, _generalized_pareto_shape(safe))


def _generalized_pareto_shape(exceedances):
    """Zhang & Stephens' posterior-mean shape k of exceedances [M, n] (ascending, > 0 at the
    top), with the weak prior towards 0.5 (module docstring)."""
    size = exceedances.shape[0]
    points = 30 + int(math.sqrt(size))
    quartile = np.maximum(exceedances[int(size / 4 + 0.5) - 1], 1e-300)    # [n]
    grid = 1.0 - np.sqrt(points / (np.arange(1, points + 1) - 0.5))       # [G]
    theta = grid[:, np.newaxis] / (_PRIOR_SCALE * quartile) + 1.0 / exceedances[-1]  # [G, n]
    shape = -np.mean(np.log1p(-theta[:, np.newaxis, :] * exceedances), axis=1)    # [G, n]
    profile = size * (np.log(theta / shape) + shape - 1.0)                # [G, n]
    weights = np.exp(profile - np.max(profile, axis=0))
    weights /= weights.sum(axis=0)
    theta_hat = np.sum(weights * theta, axis=0)                           # [n]
    k = np.mean(np.log1p(-theta_hat * exceedances), axis=0)
    return (size * k + _PRIOR_WEIGHT * 0.5) / (size + _PRIOR_WEIGHT)


def diagnose(log_weights):
    """`ImportanceDiagnostics` of log weights [S, n]."""
    log_weights = np.asarray(log_weights, np.float64)
    return ImportanceDiagnostics(effective_sample_size(log_weights), pareto_k_hat(log_weights),
                                 int(log_weights.shape[0]))


def warn_if_unreliable(diagnostics, what="log p(x)", stacklevel=3):
    """Warns when more than 1% of the rows have k-hat above 0.7, naming how many and the
    largest k-hat."""
    share = float(np.mean(diagnostics.unreliable))
    if share > UNRELIABLE_SHARE:
        warnings.warn(
            f"{what}: {int(np.sum(diagnostics.unreliable))} of {len(diagnostics.k_hat)} rows "
            f"({share:.1%}) have Pareto k-hat above {K_HAT_THRESHOLD} (largest "
            f"{float(np.max(diagnostics.k_hat)):.2f}): their importance weights are so "
            f"heavy-tailed that these estimates and their standard errors cannot be trusted. "
            f"The proposal q(z | x) is too narrow for them. With only a few such rows, first "
            f"rerun with more num_samples or another seed (single rows near 0.7 also occur by "
            f"chance); if they remain: train longer, use the IWAE objective, or a richer "
            f"posterior (latentvi.FlowPosterior)", stacklevel=stacklevel)
