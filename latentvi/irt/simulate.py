"""Simulated response matrices with known item parameters, factor correlations and traits.

Items follow a simple structure: the J items are split into D consecutive blocks of (nearly)
equal size and block d loads on factor d only. Slopes are uniform on [0.8, 2.0]; a binary item's
intercept is uniform on [-1.5, 1.5]; a graded item with K categories has intercepts
d_jk = b_j + s_k with b_j uniform on [-0.5, 0.5] and s evenly spaced from 2 down to -2 (jittered
by at most +-0.2 and kept decreasing). Traits are N(0, R) with R the factor correlations.
Answers are drawn from the model: x_j = #{k : u_j < P(x_j >= k | theta)}, u_j uniform.
"""

import numbers

import numpy as np
import pandas as pd

from latentvi._checks import one_of, positive_int
from latentvi.irt.item_parameters import ItemParameters
from latentvi.irt.items import get as get_item_type

__all__ = ["simulate", "simulate_groups"]


def simulate(n_persons, n_items=None, n_factors=None, item_type="binary", n_categories=2,
             factor_corr=0.0, missing_rate=0.0, seed=None, parameters=None):
    """Draws a persons x items response DataFrame from an item factor model.

    Either a random simple-structure design (n_items, n_factors, item_type, n_categories; see
    the module docstring) or given items, as mirt's simdata: `parameters`, an `ItemParameters`
    (any item types; build one from mirt-style arrays with `ItemParameters.from_arrays(a, d,
    item_type, g=..., u=...)`).

    Args:
      n_persons: persons to draw.
      n_items, n_factors: sizes of a random design (n_items >= n_factors); not with
        `parameters`.
      item_type: 'binary' (2PL) or 'graded' (random design).
      n_categories: categories per item (2 for binary; >= 2 for graded) (random design).
      factor_corr: one correlation for every pair of factors, or a D x D correlation matrix
        (with `parameters` too).
      missing_rate: probability that an answer is missing (completely at random).
      seed: integer seed.
      parameters: the items to draw from (`ItemParameters`).

    Returns:
      (responses, truth): responses is a DataFrame with one column per item (integers, or
      floats with NaN when answers are missing); truth is a dict with 'items' (the items as
      `ItemFactorModel.items_` shows them), 'parameters' (the `ItemParameters`),
      'factor_corr' (DataFrame), 'theta' (DataFrame F1..FD indexed like the responses) and
      'pattern' (items x factors 0/1 DataFrame of the nonzero slopes, usable as
      `ItemFactorModel(pattern=...)`).

    Examples:
      >>> data, truth = simulate(2000, 12, 2, factor_corr=0.3, seed=1)
      >>> truth['items'].columns.tolist()
      ['a1', 'a2', 'd']
    """
    n_persons = positive_int(n_persons, "n_persons")
    if not 0.0 <= missing_rate < 1.0:
        raise ValueError(f"missing_rate must be in [0, 1); got {missing_rate}")
    rng = np.random.default_rng(seed)
    if parameters is None:
        parameters = _random_design(rng, n_items, n_factors, item_type, n_categories)
    elif not isinstance(parameters, ItemParameters):
        raise TypeError(f"parameters must be an ItemParameters (see "
                        f"ItemParameters.from_arrays); got {type(parameters).__name__}")
    elif n_items is not None or n_factors is not None:
        raise ValueError("give either parameters or n_items and n_factors, not both")
    correlation = _correlation(factor_corr, parameters.n_factors)
    theta = rng.multivariate_normal(np.zeros(parameters.n_factors), correlation,
                                    size=n_persons)
    answers = parameters.sample(rng, theta)
    responses = _frame(rng, answers, parameters.items, missing_rate)
    factors = list(parameters.factor_names)
    pattern = (parameters.slopes != 0).astype(int)
    return responses, {
        "items": parameters.table(),
        "parameters": parameters,
        "factor_corr": pd.DataFrame(correlation, index=factors, columns=factors),
        "theta": pd.DataFrame(theta, index=responses.index, columns=factors),
        "pattern": pd.DataFrame(pattern, index=parameters.items, columns=factors),
    }


def _random_design(rng, n_items, n_factors, item_type, n_categories):
    """The random simple-structure items of the module docstring."""
    if n_items is None or n_factors is None:
        raise ValueError("give n_items and n_factors (a random design) or parameters")
    n_items = positive_int(n_items, "n_items")
    n_factors = positive_int(n_factors, "n_factors")
    one_of(item_type, ("binary", "graded"), "item_type")
    n_categories = _categories(item_type, n_categories)
    if n_items < n_factors:
        raise ValueError(f"n_items ({n_items}) must be at least n_factors ({n_factors})")
    pattern = _simple_structure(n_items, n_factors)
    slopes = pattern * rng.uniform(0.8, 2.0, size=pattern.shape)
    intercepts = _intercepts(rng, n_items, item_type, n_categories)
    items = [f"item{j + 1}" for j in range(n_items)]
    kind = get_item_type(item_type)
    return ItemParameters(
        items, [kind.name] * n_items, [n_categories] * n_items, slopes,
        [dict(zip(kind.parameter_names(n_categories), row)) for row in intercepts],
        [f"F{d + 1}" for d in range(n_factors)])


def _categories(item_type, n_categories):
    n_categories = positive_int(n_categories, "n_categories")
    if item_type == "binary" and n_categories != 2:
        raise ValueError(f"binary items have 2 categories; got n_categories={n_categories} "
                         f"(use item_type='graded')")
    if n_categories < 2:
        raise ValueError(f"n_categories must be at least 2; got {n_categories}")
    return n_categories


def _correlation(factor_corr, n_factors):
    if isinstance(factor_corr, numbers.Real):
        if not -1.0 / max(n_factors - 1, 1) < factor_corr < 1.0:
            raise ValueError(f"factor_corr {factor_corr} does not give a valid correlation "
                             f"matrix for {n_factors} factors")
        return np.full((n_factors, n_factors), float(factor_corr)) + (1 - factor_corr) * np.eye(
            n_factors)
    matrix = np.asarray(factor_corr, float)
    if matrix.shape != (n_factors, n_factors) or not np.allclose(np.diag(matrix), 1.0) \
            or np.any(np.linalg.eigvalsh(matrix) <= 0):
        raise ValueError(f"factor_corr must be a number or a positive-definite "
                         f"{n_factors} x {n_factors} correlation matrix")
    return matrix


def _simple_structure(n_items, n_factors):
    block = np.arange(n_items) * n_factors // n_items
    return (block[:, np.newaxis] == np.arange(n_factors)[np.newaxis, :]).astype(float)


def _intercepts(rng, n_items, item_type, n_categories):
    if item_type == "binary":
        return rng.uniform(-1.5, 1.5, size=(n_items, 1))
    steps = np.linspace(2.0, -2.0, n_categories - 1)
    jitter = rng.uniform(-0.2, 0.2, size=(n_items, n_categories - 1))
    spacing = np.sort(steps + jitter, axis=1)[:, ::-1]
    return rng.uniform(-0.5, 0.5, size=(n_items, 1)) + spacing


def _frame(rng, answers, items, missing_rate):
    index = pd.RangeIndex(len(answers), name="person")
    if missing_rate == 0:
        return pd.DataFrame(answers, index=index, columns=items)
    values = np.where(rng.uniform(size=answers.shape) < missing_rate, np.nan, answers)
    return pd.DataFrame(values, index=index, columns=items)


def simulate_groups(groups, parameters, means=None, covariances=None, covariates=None,
                    regression=None, missing_rate=0.0, seed=None):
    """Draws responses of persons in groups, with group-specific items and latent
    distributions and a latent regression on covariates (what a multiple-group fit estimates):
    theta = mu_g + B c + chol(Sigma_g) e, e ~ N(0, I).

    Args:
      groups: {group label: number of persons}, in the order the rows come.
      parameters: the items of every group (`ItemParameters`), or {label: ItemParameters}
        (same items, e.g. with DIF in some).
      means, covariances: {label: mean [D]} and {label: covariance [D, D]} (default 0 and I).
      covariates: DataFrame [persons, C] (rows in the order of `groups`), or None.
      regression: B [D, C] for the covariates.
      missing_rate, seed: as `simulate`.

    Returns:
      (responses, truth): responses holds the items and a 'group' column; truth has 'theta'
      (DataFrame) and 'group' (Series).
    """
    rng = np.random.default_rng(seed)
    labels = list(groups)
    found = parameters if isinstance(parameters, dict) else {g: parameters for g in labels}
    n_factors = found[labels[0]].n_factors
    total = sum(int(n) for n in groups.values())
    shift = np.zeros((total, n_factors))
    if covariates is not None:
        shift = np.asarray(covariates, float) @ np.asarray(regression, float).reshape(
            n_factors, -1).T
    frames, thetas, start = [], [], 0
    for label in labels:
        n = positive_int(groups[label], "groups")
        mean = np.zeros(n_factors) if means is None else np.asarray(means.get(label, 0.0),
                                                                      float) * np.ones(n_factors)
        cov = np.eye(n_factors) if covariances is None else np.atleast_2d(
            covariances.get(label, np.eye(n_factors)))
        theta = mean + shift[start:start + n] + rng.multivariate_normal(
            np.zeros(n_factors), cov, size=n)
        answers = found[label].sample(rng, theta)
        frames.append(_frame(rng, answers, found[label].items, missing_rate).assign(group=label))
        thetas.append(theta)
        start += n
    responses = pd.concat(frames, ignore_index=True).rename_axis("person")
    factors = list(found[labels[0]].factor_names)
    return responses, {"theta": pd.DataFrame(np.vstack(thetas), index=responses.index,
                                             columns=factors),
                       "group": responses["group"].copy()}
