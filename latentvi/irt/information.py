"""Item and test information of 2PL and graded items, multidimensional in a chosen direction.

For an item with slopes a and cumulative probabilities P*_k = sigmoid(a . theta + d_k)
(P*_0 = 1, P*_K = 0), the category probabilities are P_k = P*_k - P*_k+1 and the Fisher
information matrix about theta is

    I(theta) = a a^T  sum_k (dP_k / d eta)^2 / P_k,   dP*_k / d eta = P*_k (1 - P*_k),

which for a binary item is a a^T P (1 - P). In a direction u (a unit vector in theta space) the
information is u^T I(theta) u = (a . u)^2 sum_k (dP_k / d eta)^2 / P_k (Reckase's directional
information, as mirt's `iteminfo(..., degrees=)`). With one factor u = 1 and this is the usual
information curve. With D > 1 and no direction given, u = (1, ..., 1) / sqrt(D), the direction
at equal angles to every factor axis; pass a factor name (or index) for the information along
that factor's axis, or any vector.

References:
  [1] Samejima (1969). Estimation of latent ability using a response pattern of graded scores.
  [2] Reckase (2009). Multidimensional Item Response Theory. Springer, ch. 5.
"""

import numbers

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["intercept_matrix", "item_information", "test_information"]


def intercept_matrix(items):
    """d [J, Kmax-1] from an item table (column d, or d1..), NaN past each item's K_j - 1."""
    graded = sorted((c for c in items.columns if c.startswith("d") and c[1:].isdigit()),
                    key=lambda c: int(c[1:]))
    blocks = items[graded].to_numpy(float) if graded else np.full((len(items), 1), np.nan)
    if "d" in items.columns:
        first = np.where(items["d"].notna(), items["d"].to_numpy(float), blocks[:, 0])
        blocks = np.column_stack([first, blocks[:, 1:]]) if graded else first[:, None]
    return blocks


def item_information(items, theta, direction=None, factor_names=None):
    """Information of each item at each theta.

    Args:
      items: item table (a1..aD, d / d1..), as `ItemFactorModel.items_`.
      theta: points [m, D] (array or DataFrame), or a 1-D array of m points when D = 1.
      direction: None, a factor name or index, or a vector of D numbers (normalized here).
      factor_names: names used to look up a factor given by name.

    Returns:
      DataFrame [m, J]: rows are the theta points, columns the items.
    """
    slopes = items[[c for c in items.columns if c.startswith("a")]].to_numpy(float)
    points = _points(theta, slopes.shape[1])
    unit = _direction(direction, slopes.shape[1], factor_names)
    eta = points @ slopes.T
    information = (slopes @ unit)[np.newaxis, :] ** 2 * _curvature(eta, intercept_matrix(items))
    index = theta.index if isinstance(theta, pd.DataFrame) else pd.RangeIndex(len(points))
    return pd.DataFrame(information, index=index, columns=items.index)


def test_information(items, theta, direction=None, factor_names=None):
    """Sum of item informations at each theta: a Series [m]."""
    return item_information(items, theta, direction, factor_names).sum(axis=1).rename(
        "information")


def _curvature(eta, intercepts):
    """sum_k (dP_k / d eta)^2 / P_k, [m, J], for cumulative logits eta + d_k."""
    valid = ~np.isnan(intercepts)
    cumulative = np.where(valid, expit(eta[..., np.newaxis] + np.nan_to_num(intercepts)), 0.0)
    m, n_items = eta.shape
    ones = np.ones((m, n_items, 1))
    zeros = np.zeros((m, n_items, 1))
    upper = np.concatenate([ones, cumulative], axis=-1)
    lower = np.concatenate([cumulative, zeros], axis=-1)
    probability = upper - lower
    slope = upper * (1 - upper) - lower * (1 - lower)
    keep = probability > 1e-300
    return np.sum(np.where(keep, slope**2 / np.where(keep, probability, 1.0), 0.0), axis=-1)


def _points(theta, n_factors):
    points = np.asarray(theta, float)
    if points.ndim == 0:
        points = points.reshape(1, 1)
    if points.ndim == 1:
        if n_factors != 1:
            raise ValueError(f"theta must have {n_factors} columns (one per factor); got a 1-D "
                             f"array")
        points = points[:, np.newaxis]
    if points.ndim != 2 or points.shape[1] != n_factors:
        raise ValueError(f"theta must be [points, {n_factors}]; got shape {points.shape}")
    return points


def _direction(direction, n_factors, factor_names):
    if direction is None:
        return np.full(n_factors, 1.0 / np.sqrt(n_factors))
    if isinstance(direction, (str, numbers.Integral)):
        names = list(factor_names or [f"F{d + 1}" for d in range(n_factors)])
        position = names.index(direction) if direction in names else direction
        if not isinstance(position, numbers.Integral) or not 0 <= position < n_factors:
            raise ValueError(f"direction {direction!r} is neither a factor name {names} "
                             f"nor an index 0..{n_factors - 1}")
        return np.eye(n_factors)[position]
    vector = np.asarray(direction, float).reshape(-1)
    if vector.shape != (n_factors,) or not np.linalg.norm(vector) > 0:
        raise ValueError(f"direction must be a nonzero vector of {n_factors} numbers; "
                         f"got {direction!r}")
    return vector / np.linalg.norm(vector)
