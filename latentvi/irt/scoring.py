"""Person scores and log-likelihoods: the exact ones by adaptive quadrature, and what they share.

EAP (expected a posteriori) scores and posterior SDs of the reported factors theta = z M (M the
rotation and orientation of the fit), and log p(x) of each person, by adaptive Gauss-Hermite
quadrature around q(z | x) (`latentvi.irt.quadrature`; at most 3 factors). Beyond quadrature,
`latentvi.irt.adaptive_sampling` computes them by adaptive importance sampling. Persons with
identical answers (and identical missing cells) share one computation, so a data set of few
distinct patterns (LSAT7: 32 patterns for 1,000 persons) costs what its patterns do. A person
with no answers has the prior as posterior: EAP 0, SD 1, log p(x) = 0.

References:
  [1] Bock & Mislevy (1982). Adaptive EAP estimation of ability in a microcomputer environment.
  [2] Schilling & Bock (2005). High-dimensional maximum marginal likelihood item factor
      analysis by adaptive quadrature. Psychometrika 70(3).
"""

import numpy as np

from latentvi.estimate import MonteCarloEstimate
from latentvi.irt import quadrature

__all__ = ["exact_eap", "exact_log_likelihood", "total", "unique_patterns"]


def unique_patterns(codes, mask):
    """(distinct codes, their masks, index of each person's pattern).

    Rows are compared as bytes (codes as float32, -1 where missing; a multiple-group model's
    rows end with the group and covariate columns): 20x faster than `np.unique(axis=0)`,
    0.06 s for 100,000 persons x 100 items."""
    keys = np.ascontiguousarray(np.where(mask, codes, -1).astype(np.float32) + 0.0)
    rows = keys.view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return codes[first], mask[first], inverse.reshape(-1)


def exact_eap(model, codes, mask, transform):
    """EAP scores and posterior SDs of theta = z M, [n, D] each, by adaptive quadrature
    (`latentvi.irt.quadrature`; at most 3 factors): exact, as mirt's."""
    patterns, pattern_mask, inverse = unique_patterns(codes, mask)
    observed = None if pattern_mask.all() else pattern_mask.astype(np.float32)
    mean, covariance = quadrature.posterior_moments(model, patterns, observed,
                                                    quadrature.n_points(model.latent_dim))
    transform = np.asarray(transform, np.float64)
    loc = mean @ transform
    variance = np.einsum("de,pdf,fe->pe", transform, covariance, transform)
    loc, scale = loc[inverse], np.sqrt(np.maximum(variance, 0.0))[inverse]
    empty = ~mask.any(axis=1)
    loc[empty], scale[empty] = 0.0, 1.0
    return loc, scale


def exact_log_likelihood(model, codes, mask):
    """log p(x_i) for every person by adaptive quadrature (`latentvi.irt.quadrature`; at most
    3 factors), float64 [n]: persons with one answer pattern share one computation."""
    patterns, pattern_mask, inverse = unique_patterns(codes, mask)
    observed = None if pattern_mask.all() else pattern_mask.astype(np.float32)
    values = quadrature.log_likelihood(model, patterns, observed,
                                       quadrature.n_points(model.latent_dim))[inverse]
    values[~mask.any(axis=1)] = 0.0
    return values


def total(values, errors):
    """The sum of independent per-person estimates, as a `MonteCarloEstimate`."""
    return MonteCarloEstimate(np.sum(values), np.sqrt(np.sum(np.square(errors))))
