"""How a rotated solution moves with the unrotated slopes: the rotation's Jacobian, by implicit
differentiation of its stationarity conditions.

An exploratory model is fitted unrotated: slopes A [J, D] for factors z ~ N(0, I). Its reported
solution (`parameters.orient`) is

    oblique (oblimin, geomin):  R = A inv(T)^T,   Phi = T^T T,   diag(T^T T) = 1
    orthogonal (varimax):       R = A T,          Phi = I,       T^T T = I

with T the rotation that gradient projection (`rotation.rotate`) finds on the loadings X(A)
it rotates: mirt's standardized loadings, each row x_j = (a_j / 1.702) / sqrt(1 + |a_j / 1.702|^2),
and with Kaiser normalization (`normalize`) each row then scaled to unit length. T depends on
A, so the delta method for R and Phi needs dT/dA as well as the explicit dR/dA.

Stationarity. Write L for the rotated loadings (L = X inv(T)^T oblique, L = X T orthogonal)
and G = dQ/dL for the criterion's gradient. Gradient projection stops where the gradient with
respect to T, projected on the constraint's tangent space, vanishes; multiplied by T^T this
is (Jennrich 2001, 2002)

    oblique:     offdiag(Phi^-1 G^T L) = 0          D (D - 1) equations
                 diag(T^T T) - 1 = 0                D
    orthogonal:  L^T G - G^T L = 0, above the diagonal       D (D - 1) / 2
                 T^T T - I = 0, on and above the diagonal     D (D + 1) / 2

F(T, X) = 0: D^2 equations in the D^2 entries of T. Where the criterion's minimum on the
constraint set is strict, dF/dT is invertible and the implicit function theorem gives

    dT/dA = -(dF/dT)^-1 dF/dX dX/dA,
    dR/dA = dR/dA|_T + dR/dT dT/dA,      dPhi/dA = dPhi/dT dT/dA

(Jennrich 2007 builds rotated standard errors the same way, from the constrained
stationarity conditions). TensorFlow differentiates F with the criteria of
`latentvi.irt.rotation` evaluated by `tf.experimental.numpy`, in float64.

Reflections and order. `rotate` and `orient` flip factors' signs (and geomin's random starts
may reorder them); the criteria here depend on L through its squared entries, symmetrically in
the columns, so the reported T (flips and order included, the model's `transform_`) satisfies
the same equations and is where they are differentiated: the flips are carried by T.

The rotated solution depends on A only through its orbit {A O : O orthogonal}: R and Phi are
unchanged by A -> A O, so this Jacobian annihilates the orbit's tangents A S (S skew-symmetric),
the directions in which the likelihood of an exploratory model is flat.

References:
  [1] Jennrich, R. I. (1973). Standard errors for obliquely rotated factor loadings.
      Psychometrika, 38, 593-604.
  [2] Jennrich, R. I. (2001). A simple general procedure for orthogonal rotation.
      Psychometrika, 66, 289-306.
  [3] Jennrich, R. I. (2002). A simple general method for oblique rotation. Psychometrika, 67,
      7-19.
  [4] Jennrich, R. I. (2007). Rotation methods, algorithms, and standard errors. In R. Cudeck
      & R. C. MacCallum (Eds.), Factor analysis at 100. Erlbaum.
  [5] Bernaards, C. A., & Jennrich, R. I. (2005). Gradient projection algorithms and software
      for arbitrary rotation criteria in factor analysis. Educational and Psychological
      Measurement, 65, 676-696.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow.experimental.numpy as tnp

from latentvi._checks import one_of
from latentvi.irt.parameters import standardized_loadings
from latentvi.irt.rotation import CRITERIA

__all__ = ["METHODS", "RotationJacobian", "rotation_jacobian"]

METHODS = ("oblimin", "geomin", "varimax")
STATIONARY_TOL = 1e-3  # largest |F(T, X)| accepted as a solution found by `rotate`
MAX_CONDITION = 1e12   # dF/dT beyond this condition number: the minimum is not strict


class RotationJacobian(NamedTuple):
    """Derivatives of the reported solution with respect to the unrotated slopes A [J, D],
    each vectorized row by row (entry (j, d) of A is column j D + d).

    Attributes:
      slopes: d vec(R) / d vec(A) [J D, J D].
      factor_corr: d vec(Phi) / d vec(A) [D D, J D] (zero for an orthogonal rotation).
    """
    slopes: np.ndarray
    factor_corr: np.ndarray


def rotation_jacobian(slopes, transform, method, normalize=False, gamma=0.0, delta=0.01):
    """The Jacobian of the rotated slopes and factor correlations (module docstring).

    Args:
      slopes: the unrotated slopes A [J, D] (factors z ~ N(0, I)).
      transform: the rotation T [D, D] that `parameters.orient` found for A, its reflections
        included (an `ItemFactorModel`'s `transform_`): R = A inv(T)^T, Phi = T^T T.
      method: 'oblimin', 'geomin' or 'varimax'.
      normalize: whether the rotation was Kaiser-normalized (`normalize_rotation`).
      gamma, delta: oblimin's gamma and geomin's delta (`rotation.rotate`'s defaults, which
        `orient` uses).

    Returns:
      `RotationJacobian`.

    Raises:
      ValueError: for a method other than the three, shapes that do not match, a `transform`
        that is not a stationary point of the criterion for these slopes (not found by
        `rotate` on them, or a rotation that did not converge), or a flat minimum.
    """
    one_of(method, METHODS, "method")
    slopes, transform = _checked(slopes, transform)
    criterion, oblique = CRITERIA[method]
    argument = {"oblimin": gamma, "geomin": delta}.get(method)

    def gradient_of(loadings):  # G = dQ/dL, by the criterion's own formula
        extra = () if argument is None else (argument,)
        return criterion(loadings, *extra, xp=tnp)[1]

    conditions_of = _oblique_conditions if oblique else _orthogonal_conditions
    a, t = tf.constant(slopes), tf.constant(transform)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, t])
        conditions = conditions_of(rotated_input(a, normalize), t, gradient_of)
        reported = tf.reshape(a @ tf.transpose(tf.linalg.inv(t)), [-1])
        correlation = tf.reshape(tf.transpose(t) @ t, [-1])
    residual = float(tf.reduce_max(tf.abs(conditions)))
    if residual > STATIONARY_TOL:
        raise ValueError(f"transform is not a stationary point of the {method} criterion for "
                         f"these slopes (largest condition {residual:.2g}): it must be the "
                         f"rotation `orient` found for them, and that rotation must converge")
    d_transform = _solved(_matrix(tape, conditions, t), _matrix(tape, conditions, a))
    d_slopes = _matrix(tape, reported, a) + _matrix(tape, reported, t) @ d_transform
    d_correlation = _matrix(tape, correlation, t) @ d_transform if oblique else \
        np.zeros((transform.size, slopes.size))
    return RotationJacobian(d_slopes, d_correlation)


def rotated_input(slopes, normalize):
    """X(A) [J, D], what `orient` hands to `rotate`: mirt's standardized loadings
    x_j = (a_j / 1.702) / sqrt(1 + |a_j / 1.702|^2) (`parameters.standardized_loadings`
    with identity factor correlations), rows scaled to unit length if `normalize`."""
    loadings = standardized_loadings(slopes, xp=tnp)
    if normalize:
        loadings = loadings / tf.norm(loadings, axis=1, keepdims=True)
    return loadings


def _oblique_conditions(loadings, transform, gradient_of):
    """offdiag(Phi^-1 G^T L) and diag(T^T T) - 1, with L = X inv(T)^T, Phi = T^T T."""
    rotated = loadings @ tf.transpose(tf.linalg.inv(transform))
    correlation = tf.transpose(transform) @ transform
    product = tf.linalg.solve(correlation, tf.transpose(gradient_of(rotated)) @ rotated)
    n = int(transform.shape[0])
    off = ~np.eye(n, dtype=bool)
    return tf.concat([tf.boolean_mask(product, off), tf.linalg.diag_part(correlation) - 1.0], 0)


def _orthogonal_conditions(loadings, transform, gradient_of):
    """The skew part of L^T G above the diagonal and T^T T - I on and above it, L = X T."""
    rotated = loadings @ transform
    inner = tf.transpose(rotated) @ gradient_of(rotated)
    n = int(transform.shape[0])
    above, upper = np.triu(np.ones((n, n), bool), 1), np.triu(np.ones((n, n), bool))
    gram = tf.transpose(transform) @ transform - tf.eye(n, dtype=transform.dtype)
    return tf.concat([tf.boolean_mask(inner - tf.transpose(inner), above),
                      tf.boolean_mask(gram, upper)], 0)


def _solved(d_conditions_d_t, d_conditions_d_a):
    """dT/dA = -(dF/dT)^-1 dF/dA [D D, J D]."""
    condition = np.linalg.cond(d_conditions_d_t)
    if not np.isfinite(condition) or condition > MAX_CONDITION:
        raise ValueError(f"the rotation criterion is flat at this solution (dF/dT has condition "
                         f"number {condition:.2g}): the rotated slopes are not locally unique, "
                         f"and have no standard errors")
    return -np.linalg.solve(d_conditions_d_t, d_conditions_d_a)


def _matrix(tape, output, source):
    """d output / d vec(source) as a float64 matrix [outputs, entries of source]."""
    found = tape.jacobian(output, source)
    return found.numpy().reshape(int(output.shape[0]), -1)


def _checked(slopes, transform):
    slopes = np.array(slopes, dtype=np.float64)
    transform = np.array(transform, dtype=np.float64)
    if slopes.ndim != 2 or slopes.shape[1] < 2:
        raise ValueError(f"slopes must be a [items, factors] matrix with at least 2 factors; "
                         f"got shape {slopes.shape}")
    if transform.shape != (slopes.shape[1],) * 2:
        raise ValueError(f"transform must be [factors, factors] = {(slopes.shape[1],) * 2}; got "
                         f"shape {transform.shape}")
    if not (np.all(np.isfinite(slopes)) and np.all(np.isfinite(transform))):
        raise ValueError("slopes and transform must be finite (found NaN or inf)")
    return slopes, transform
