"""Exact marginal likelihoods of item models by (product) Gauss-Hermite quadrature, for tests.

Any item type works: the probabilities come from `ItemParameters.probabilities` (each type's
own formula), evaluated at the quadrature nodes, so a test can maximize this exact
log-likelihood (plus a log-prior) over an item's parameters with scipy and compare the fit.
"""

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import logsumexp

N_NODES = 61  # 61 nodes integrate these smooth integrands to ~1e-10 relative


def log_likelihood(parameters, codes, mask=None, variance=1.0, n_nodes=N_NODES,
                   factor_corr=None):
    """sum_i log p(x_i) for theta ~ N(0, variance) (one factor) or N(0, factor_corr) (a fixed
    product grid of n_nodes per factor), exact to quadrature error.

    Args:
      parameters: `ItemParameters`.
      codes: [n, J] integer categories 0..K_j-1 (any value where missing).
      mask: [n, J] True where observed (None: all observed).
    """
    nodes, weights = hermegauss(n_nodes)
    log_weights = np.log(weights / weights.sum())
    n_factors = parameters.slopes.shape[1]
    if n_factors == 1:
        nodes = (nodes * np.sqrt(variance))[:, np.newaxis]
    else:
        grid = np.array(np.meshgrid(*[np.arange(n_nodes)] * n_factors, indexing="ij"))
        grid = grid.reshape(n_factors, -1).T
        corr = np.eye(n_factors) if factor_corr is None else np.asarray(factor_corr)
        nodes = nodes[grid] @ np.linalg.cholesky(corr).T
        log_weights = log_weights[grid].sum(axis=1)
    codes = np.asarray(codes, int)
    mask = np.ones_like(codes, bool) if mask is None else np.asarray(mask, bool)
    probabilities = parameters.probabilities(nodes)  # item -> [nodes, K]
    log_lik = np.zeros((codes.shape[0], len(nodes)))
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
