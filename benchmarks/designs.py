"""Simulation designs of the benchmarks that the package's own simulator does not draw.

`cross_loading_design`: the exploratory design of the convergence issue, drawn here with NumPy
so that it does not share a code path with the package under test. D correlated factors
(correlation 0.3), J / D items per factor with slopes U(0.8, 2), `n_cross` items with one
extra slope U(0.3, 0.6) on another factor, intercepts N(0, 1), binary answers from the 2PL.
"""

import numpy as np
import pandas as pd
from scipy.special import expit

FACTOR_CORR = 0.3


def cross_loading_design(n_persons, n_items, n_factors, n_cross=10, seed=0):
    """(responses DataFrame, truth dict with 'slopes' [J, D], 'intercepts' [J], 'factor_corr'
    [D, D], 'theta' [n, D], 'pattern' items x factors 0/1 DataFrame)."""
    rng = np.random.default_rng(seed)
    home = np.arange(n_items) * n_factors // n_items
    slopes = np.zeros((n_items, n_factors))
    slopes[np.arange(n_items), home] = rng.uniform(0.8, 2.0, n_items)
    for item in rng.choice(n_items, size=min(n_cross, n_items), replace=False):
        other = rng.choice([d for d in range(n_factors) if d != home[item]])
        slopes[item, other] = rng.uniform(0.3, 0.6)
    intercepts = rng.normal(0.0, 1.0, n_items)
    correlation = np.full((n_factors, n_factors), FACTOR_CORR) + (1 - FACTOR_CORR) * np.eye(
        n_factors)
    theta = rng.multivariate_normal(np.zeros(n_factors), correlation, size=n_persons)
    answers = (rng.uniform(size=(n_persons, n_items)) < expit(theta @ slopes.T + intercepts))
    items = [f"item{j + 1}" for j in range(n_items)]
    factors = [f"F{d + 1}" for d in range(n_factors)]
    responses = pd.DataFrame(answers.astype(np.int8), columns=items)
    pattern = pd.DataFrame((slopes != 0).astype(int), index=items, columns=factors)
    return responses, {"slopes": slopes, "intercepts": intercepts, "factor_corr": correlation,
                       "theta": theta, "pattern": pattern}
