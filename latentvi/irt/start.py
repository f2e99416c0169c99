"""Starting values of an item factor model from the observed responses' correlations.

A fit that starts from slopes that all point the same way has D nearly interchangeable factors,
and stochastic gradients separate them only slowly: at 20,000 persons x 100 items x 5 factors
the default schedule ended 46 nats (on 2,000 persons) below the confirmatory fit of the same
data. The start therefore solves the linear factor model of the latent responses first, which
needs only the J x J item correlations (cheap at any n):

1. Pearson correlations of the coded answers, pairwise over the persons who answered both
   items (missing answers are a mask), from at most `MAX_ROWS` persons.
2. Principal-axis factoring with D factors (communalities iterated from the squared multiple
   correlations), or, for a confirmatory pattern, one factor per pattern column over the items
   that load on it.
3. Loadings of the observed scores are attenuated loadings of the latent responses y*: for an
   item with cutpoints tau_k (Phi(-tau_k) = P(x >= k)) the polyserial identity
   r(x, f) = r(y*, f) sum_k phi(tau_k) / sd(x) gives lambda* = lambda sd(x) / sum_k phi(tau_k).
4. The normal-ogive item with loadings lambda* and communality h^2 has probit slopes
   lambda* / sqrt(1 - h^2) and intercepts -tau_k / sqrt(1 - h^2); times 1.702 they are the
   logistic slopes and intercepts.

References:
  [1] Olsson, Drasgow & Dorans (1982). The polyserial correlation coefficient. Psychometrika 47.
  [2] Takane & de Leeuw (1987). On the relationship between item response theory and factor
      analysis of discretized variables. Psychometrika 52.
"""

from typing import NamedTuple

import numpy as np
from scipy import stats

from latentvi.irt.parameters import LOGISTIC_SCALE

__all__ = ["Start", "pairwise_correlation", "principal_axes", "start_rows",
           "starting_values", "starting_values_of"]

CHUNK_ROWS = 4096  # persons per block of the correlation sums
MAX_ROWS = 50_000  # correlations from a random subset: a start needs two decimals, not four
MAX_COMMUNALITY = 0.9  # keeps 1 / sqrt(1 - h^2) <= 3.2 for items that are nearly determined
PAF_ITERATIONS = 50


class Start(NamedTuple):
    """slopes [J, D] and intercepts [J, Kmax-1] (decreasing along each row)."""
    slopes: np.ndarray
    intercepts: np.ndarray


def starting_values(codes, mask, n_categories, n_factors, pattern=None, seed=None):
    """Slopes and intercepts of the latent-response factor model of the coded answers."""
    # the subset first: the sums below then read at most MAX_ROWS persons
    codes, mask = _subset(np.asarray(codes), np.asarray(mask, bool), seed)
    n_categories = np.asarray(n_categories, int)
    correlation, spread = pairwise_correlation(codes, mask)
    if pattern is None:
        loadings = principal_axes(correlation, n_factors)
    else:
        loadings = _confirmatory_loadings(correlation, np.asarray(pattern, bool))
    cutpoints = _cutpoints(codes, mask, n_categories)
    density = np.nansum(stats.norm.pdf(cutpoints), axis=1)
    latent = loadings * (spread / np.maximum(density, 1e-3))[:, np.newaxis]
    latent = _cap_communality(latent)
    residual_sd = np.sqrt(1.0 - np.sum(latent**2, axis=1, keepdims=True))
    slopes = LOGISTIC_SCALE * latent / residual_sd
    intercepts = -LOGISTIC_SCALE * cutpoints / residual_sd
    return Start(slopes, _fill_decreasing(intercepts, n_categories))


def pairwise_correlation(codes, mask):
    """(Pearson correlation [J, J] over the persons who answered both items, as pandas'
    pairwise-complete `corr`, and each item's SD over its answers [J]).

    With X the answers (0 where missing) and M the mask, every pair's sums come from four
    matrix products: N = M^T M (counts), S = X^T M (S_jk: sum of x_j where both answered),
    Q = X^T X and X2 = (X^2)^T M, summed in float64 over blocks of `CHUNK_ROWS` persons (a
    float64 copy of 50,000 x 200 answers, and of their squares and mask, would take 240 MB).
    """
    n_items = codes.shape[1]
    count, sums, products, squares = (np.zeros((n_items, n_items)) for _ in range(4))
    for start in range(0, len(codes), CHUNK_ROWS):
        observed = mask[start:start + CHUNK_ROWS].astype(float)
        answers = np.where(observed > 0, codes[start:start + CHUNK_ROWS], 0.0)
        count += observed.T @ observed
        sums += answers.T @ observed
        products += answers.T @ answers
        squares += (answers**2).T @ observed
    count = np.maximum(count, 1.0)
    covariance = (products - sums * sums.T / count) / count
    variance = np.maximum((squares - sums**2 / count) / count, 1e-12)
    correlation = covariance / np.sqrt(variance * variance.T)
    np.fill_diagonal(correlation, 1.0)
    return correlation, np.sqrt(np.diag(variance))


def principal_axes(correlation, n_factors):
    """Loadings [J, D] by iterated principal-axis factoring of a correlation matrix."""
    reduced = np.array(correlation, float)
    communality = _squared_multiple_correlations(reduced)
    for _ in range(PAF_ITERATIONS):
        np.fill_diagonal(reduced, communality)
        values, vectors = np.linalg.eigh(reduced)
        top = np.argsort(values)[::-1][:n_factors]
        loadings = vectors[:, top] * np.sqrt(np.maximum(values[top], 1e-6))
        updated = np.minimum(np.sum(loadings**2, axis=1), MAX_COMMUNALITY)
        if np.max(np.abs(updated - communality)) < 1e-4:
            break
        communality = updated
    return loadings * np.where(loadings.sum(axis=0) < 0, -1.0, 1.0)


def _confirmatory_loadings(correlation, pattern):
    loadings = np.zeros(pattern.shape)
    for factor in range(pattern.shape[1]):
        items = np.flatnonzero(pattern[:, factor])
        block = correlation[np.ix_(items, items)]
        loadings[items, factor] = (principal_axes(block, 1)[:, 0] if len(items) > 2
                                   else np.sqrt(np.clip(block.mean(), 0.05, 0.8)))
    shared = np.maximum(pattern.sum(axis=1, keepdims=True), 1)
    return loadings / np.sqrt(shared)  # an item on several factors shares its communality


def _squared_multiple_correlations(correlation):
    try:
        inverse = np.linalg.inv(correlation)
        smc = 1.0 - 1.0 / np.diag(inverse)
    except np.linalg.LinAlgError:
        smc = np.max(np.abs(correlation - np.eye(len(correlation))), axis=1)
    return np.clip(smc, 0.05, MAX_COMMUNALITY)


def _cutpoints(codes, mask, n_categories):
    """tau [J, Kmax-1] with Phi(-tau_jk) = P(x_j >= k), NaN past K_j - 1."""
    cutpoints = np.full((len(n_categories), max(int(n_categories.max()) - 1, 1)), np.nan)
    for item, categories in enumerate(n_categories):
        answers = codes[mask[:, item], item]
        for k in range(1, categories):
            share = np.clip(np.mean(answers >= k) if answers.size else 0.5, 0.01, 0.99)
            cutpoints[item, k - 1] = -stats.norm.ppf(share)
    return cutpoints


def _cap_communality(loadings):
    communality = np.sum(loadings**2, axis=1, keepdims=True)
    return loadings * np.sqrt(np.minimum(1.0, MAX_COMMUNALITY / np.maximum(communality, 1e-12)))


def _fill_decreasing(intercepts, n_categories):
    """Keeps each row strictly decreasing (ties from sparse categories) and fills the padding."""
    filled = np.array(intercepts)
    for item, categories in enumerate(n_categories):
        for k in range(1, categories - 1):
            filled[item, k] = min(filled[item, k], filled[item, k - 1] - 0.1)
        filled[item, categories - 1:] = filled[item, categories - 2] - 1.0
    return filled


def starting_values_of(responses, n_factors, pattern=None, seed=None):
    """`starting_values` of a `Responses`, whose float codes are made for the `start_rows`
    only (of 200,000 x 200 answers they would take 160 MB)."""
    sample = responses.rows(start_rows(responses.n_persons, seed))
    return starting_values(sample.codes, sample.mask, responses.n_categories, n_factors,
                           pattern, seed)


def start_rows(n_persons, seed=None):
    """The rows `starting_values` uses: all, or a random `MAX_ROWS` of them (sorted)."""
    if n_persons <= MAX_ROWS:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(n_persons, MAX_ROWS, replace=False))


def _subset(codes, mask, seed):
    rows = start_rows(len(codes), seed)
    return codes[rows], mask[rows]
