"""Exact marginal likelihoods of one-factor item models by Gauss-Hermite quadrature, for tests.

Any item type works: the probabilities come from `ItemParameters.probabilities` (each type's
own formula), evaluated at the quadrature nodes, so a test can maximize this exact
log-likelihood (plus a log-prior) over an item's parameters with scipy and compare the fit.
"""

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import logsumexp

N_NODES = 61  # 61 nodes integrate these smooth integrands to ~1e-10 relative


def log_likelihood(parameters, codes, mask=None, variance=1.0, n_nodes=N_NODES):
    """sum_i log p(x_i) for theta ~ N(0, variance), exact to quadrature error.

    Args:
      parameters: `ItemParameters` with one factor.
      codes: [n, J] integer categories 0..K_j-1 (any value where missing).
      mask: [n, J] True where observed (None: all observed).
    """
    nodes, weights = hermegauss(n_nodes)
    nodes = nodes * np.sqrt(variance)
    log_weights = np.log(weights / weights.sum())
    codes = np.asarray(codes, int)
    mask = np.ones_like(codes, bool) if mask is None else np.asarray(mask, bool)
    probabilities = parameters.probabilities(nodes[:, np.newaxis])  # item -> [nodes, K]
    log_lik = np.zeros((codes.shape[0], n_nodes))
    for j, item in enumerate(parameters.items):
        log_p = np.log(np.maximum(probabilities[item], 1e-300))  # [nodes, K]
        observed = mask[:, j]
        log_lik[observed] += log_p[:, codes[observed, j]].T
    return float(np.sum(logsumexp(log_lik + log_weights, axis=1)))


def patterns(codes, mask=None):
    """(distinct rows, their counts): a data set's log-likelihood is the counts' weighted sum."""
    keys = np.asarray(codes, int) if mask is None else np.where(mask, codes, -1)
    rows, counts = np.unique(keys, axis=0, return_counts=True)
    return rows, counts
