"""Local dependence between item pairs: Chen & Thissen's LD X2 and Yen's Q3, as mirt's residuals().

LD X2 (Chen & Thissen 1997): for items j and l, the K_j x K_l table of observed answer pairs
against its model expectation N P(x_j = a, x_l = b), the latter an integral over the factors of
P_ja(theta) P_lb(theta) (local independence; the integration rule of `limited_information`:
product Gauss-Hermite up to 3 factors, scrambled Sobol points beyond):

    X2_jl = sum_ab (O_ab - E_ab)^2 / E_ab,
    V_jl = sqrt(X2_jl / (N (min(K_j, K_l) - 1))), signed as the observed minus the expected
           correlation of the two items' scores (Cramer's V, positive for a dependence the
           model misses).

Q3 (Yen 1984): the correlation across persons of the residuals x_ij - E[x_j | theta_i] of two
items, with theta_i the persons' EAP scores.

Only persons who answered both items of a pair (LD) or every item (Q3) count.

References:
  [1] Chen & Thissen (1997). Local dependence indexes for item pairs using item response
      theory. Journal of Educational and Behavioral Statistics 22(3).
  [2] Yen (1984). Effects of local item dependence on the fit and equating performance of the
      three-parameter logistic model. Applied Psychological Measurement 8(2).
"""

import numpy as np
import pandas as pd

from latentvi.irt.limited_information import grid

__all__ = ["local_dependence", "q3"]


def local_dependence(parameters, codes, mask, correlation, variance):
    """mirt's residuals(type='LD'): a DataFrame items x items with the LD X2 below the
    diagonal and the signed Cramer's V above it."""
    theta, weights = grid(parameters.n_factors, correlation, variance)
    probabilities = parameters.probabilities(theta)
    items = parameters.items
    table = pd.DataFrame(np.nan, index=items, columns=items)
    for j in range(len(items)):
        for l in range(j):
            both = mask[:, j] & mask[:, l]
            statistic, signed = _pair(probabilities[items[j]], probabilities[items[l]],
                                      weights, codes[both, j], codes[both, l])
            table.iloc[j, l] = statistic
            table.iloc[l, j] = signed
    return table


def _pair(first, second, weights, x, y):
    """(X2, signed V) of one item pair: first / second [G, K] category probabilities at the
    nodes, x / y the pair's answers."""
    n = len(x)
    expected = n * np.einsum("g,ga,gb->ab", weights, first, second)
    observed = np.zeros_like(expected)
    np.add.at(observed, (x, y), 1.0)
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    smaller = min(expected.shape) - 1
    strength = np.sqrt(statistic / (n * smaller))
    a, b = np.arange(expected.shape[0]), np.arange(expected.shape[1])
    excess = a @ (observed - expected) @ b  # observed minus expected cross-product of scores
    return statistic, float(np.sign(excess) * strength)


def q3(parameters, codes, theta):
    """mirt's residuals(type='Q3'): correlations of the items' residuals x - E[x | theta] at
    the persons' scores theta [n, D] (complete rows), items x items, 1 on the diagonal."""
    probabilities = parameters.probabilities(theta)
    expected = np.column_stack([probabilities[item] @ np.arange(probabilities[item].shape[1])
                                for item in parameters.items])
    residuals = codes - expected
    return pd.DataFrame(np.corrcoef(residuals, rowvar=False), index=parameters.items,
                        columns=parameters.items)
