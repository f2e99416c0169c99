"""Item and test information, multidimensional in a chosen direction.

For an item with slopes a, linear predictor eta = a . theta and category probabilities
P_k(eta) (its type's, `latentvi.irt.items`), the Fisher information matrix about theta is

    I(theta) = a a^T  sum_k (dP_k / d eta)^2 / P_k,

which for a binary 2PL item is a a^T P (1 - P). In a direction u (a unit vector in theta space) the
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

__all__ = ["item_information", "test_information", "unit_direction"]


def item_information(parameters, theta, direction=None):
    """Information of each item at each theta.

    Args:
      parameters: the items (`ItemParameters`, e.g. `ItemFactorModel.item_parameters_`).
      theta: points [m, D] (array or DataFrame), or a 1-D array of m points when D = 1.
      direction: None, a factor name or index, or a vector of D numbers (normalized here).

    Returns:
      DataFrame [m, J]: rows are the theta points, columns the items.
    """
    points = _points(theta, parameters.n_factors)
    unit = unit_direction(direction, parameters.n_factors, parameters.factor_names)
    information = parameters.information(points, unit)
    index = theta.index if isinstance(theta, pd.DataFrame) else pd.RangeIndex(len(points))
    return pd.DataFrame(information, index=index, columns=pd.Index(parameters.items,
                                                                   name="item"))


def test_information(parameters, theta, direction=None):
    """Sum of item informations at each theta: a Series [m]."""
    return item_information(parameters, theta, direction).sum(axis=1).rename("information")


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


def unit_direction(direction, n_factors, factor_names=None):
    """The unit vector u [D] of a direction: None (equal angles to every axis), a factor name
    or index, or any nonzero vector (normalized)."""
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
