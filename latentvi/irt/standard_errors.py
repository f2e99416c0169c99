"""Standard errors of the item parameters: observed information, sandwich and cross-product.

The estimate maximizes l(u) = sum_p n_p log p(x_p) (+ the log-prior) over the free coordinates
u of the model's weights (the entries a fit moves: fixed ones left out, each group of equal ones
one coordinate). `latentvi.irt.quadrature` gives log p(x_p) by adaptive Gauss-Hermite
quadrature; with its nodes held where the refinement left them, l is a smooth deterministic
function of u, so TensorFlow differentiates it exactly:

- 'observed' (default): Cov(u) = I^-1 with I = -d2 l / du du^T, the observed information
  (what mirt's default SE.type = 'Oakes' computes, from the complete-data information);
- 'crossprod': Cov(u) = (sum_i s_i s_i^T)^-1, s_i = d log p(x_i) / du (mirt's 'crossprod');
- 'sandwich': Cov(u) = I^-1 (sum_i s_i s_i^T) I^-1 (mirt's 'sandwich'), robust to a
  misspecified model.

The delta method carries Cov(u) to the reported parameters phi(u) (slopes of the reported
factors, the item types' parameters on mirt's scale, g and u as probabilities, the factor
correlations, a Rasch model's latent variance): Cov(phi) = J Cov(u) J^T, J = d phi / du.

An exploratory model with D > 1 factors is fitted unrotated, slopes A [J, D] with
z ~ N(0, I), and its likelihood is the same at A O for every orthogonal O: the information
is singular in the D (D - 1) / 2 directions of the orbit's tangents, A S with S
skew-symmetric. Those directions are removed (u is restricted to the orthogonal complement of
the tangents in the slopes' coordinates) before any inverse: Cov(u), the distance from the
maximum and the Monte Carlo error. The reported slopes and factor correlations of the rotated
solution are functions of A through the rotation T(A) too, and J composes d phi / dA from
`latentvi.irt.rotation_jacobian` (implicit differentiation of the rotation's stationarity
conditions) with dA / du. The rotated solution is the same for every A O, so J vanishes on the
removed directions, which makes the result independent of how they were removed. Unrotated
(`rotation=None`) slopes change with O and have no standard errors.

References:
  [1] Chalmers (2018). Numerical approximation of the observed information matrix with Oakes'
      identity. British Journal of Mathematical and Statistical Psychology 71(3).
  [2] Yuan, Cheng & Patton (2014). Information matrices and standard errors for MLEs of item
      parameters in IRT. Psychometrika 79(2).
  [3] Jennrich (2007). Rotation methods, algorithms, and standard errors. In Cudeck &
      MacCallum (Eds.), Factor analysis at 100 (`latentvi.irt.rotation_jacobian`).
"""

import math
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.linalg
import tensorflow as tf

from latentvi.irt import group_information, multiple_group, quadrature
from latentvi.irt.reported_jacobian import add_item_parameters, block_jacobians, picked_rows
from latentvi.irt.rotation import CRITERIA
from latentvi.irt.rotation_jacobian import rotation_jacobian
from latentvi.irt.sampled_information import NUM_SAMPLES, sampled_information
from latentvi.irt.scoring import unique_patterns

__all__ = ["METHODS", "StandardErrors", "standard_errors"]

METHODS = ("observed", "sandwich", "crossprod")
_UNUSED = 1e-12
DISTANCE_WARNING = 0.5  # SEs (RMS) from the maximum beyond which standard_errors warns
MC_TARGET = 0.01   # relative Monte Carlo SD of the SEs that automatic draws aim below
MAX_SAMPLES = 2048  # a weight entry whose information is below this never moves the likelihood
# Sampled information from at most this many persons: beyond, a uniform random subsample, each
# person weighted n / m. The information is a sum over persons, so the subsample estimates it
# without bias; its relative error, about cv / sqrt(m) for a per-person information with
# coefficient of variation cv (~1 for 2PL items), puts ~0.2% of noise into the SEs at
# m = 100,000, below the 1% Monte Carlo target, at a tenth of the cost for a million persons.
SE_PERSONS = 100_000


class StandardErrors(NamedTuple):
    """Standard errors of a fit.

    Attributes:
      items: DataFrame shaped like `items_`: the SE of each reported item parameter (NaN where
        the parameter is fixed, by the model or a parameter table).
      factor_corr: DataFrame D x D of the SEs of the factor correlations (NaN where fixed);
        for a Rasch model the diagonal holds the SE of the latent variance.
      vcov: DataFrame, the covariance matrix of the estimated parameters, labelled
        'item:name' ('GROUP:COV_21', ...); equal parameters appear once per item.
      method: 'observed', 'sandwich' or 'crossprod'.
      mc_error: when the information came from importance sampling, the relative Monte Carlo
        SD of the SEs (0.005: the SEs carry about 0.5% of noise from the draws), estimated
        from two independent halves of the draws; 0 by quadrature.
      distance: how far the estimates are from the maximum of the likelihood (or posterior),
        in standard errors: the root mean square over the free parameters of the Newton step
        I^-1 g / SE. Below ~0.3 it is noise; a stochastic fit of 100,000 persons without
        `refine` sits ~1-2 SE away, and then a warning says so. NaN when the information
        came from a subsample of the persons (more than SE_PERSONS), whose gradient is too
        noisy to tell.
      group_parameters, regression: of a multiple-group / latent-regression model, the SEs
        of `group_parameters_` (means and covariances; NaN where fixed) and of
        `regression_`; its `items` is indexed by (group, item) and `factor_corr` is None.
    """
    items: pd.DataFrame
    factor_corr: pd.DataFrame
    vcov: pd.DataFrame
    method: str
    mc_error: float = 0.0
    distance: float = 0.0
    group_parameters: pd.DataFrame = None
    regression: pd.DataFrame = None


def standard_errors(estimator, codes, mask, method="observed", sampling=False,
                    num_samples=None, seed=0):
    """The `StandardErrors` of a fitted `ItemFactorModel` on its coded data.

    Args:
      estimator: the fitted ItemFactorModel (confirmatory; exploratory with one factor; or
        exploratory with several rotated factors: then the rotated slopes and, for an oblique
        rotation, the factor correlations get their SEs).
      codes, mask: the coded responses [n, J] and their observed cells (`Responses`).
      method: 'observed', 'sandwich' or 'crossprod'.
      sampling: the information by importance sampling (`sampled_information`, any number of
        factors) instead of quadrature (at most 3 factors); from a random subsample of
        SE_PERSONS persons when there are more.
      num_samples, seed: the draws per person and their seed when sampling; num_samples None:
        32, then 4 times more while the Monte Carlo error of the SEs (`mc_error`) exceeds 1%,
        up to 2,048.

    Raises:
      ValueError: for an unrotated exploratory model with several factors (`rotation=None`),
        whose slopes are not identified.
    """
    _check_identified(estimator)
    model = estimator.model_
    variables = model.likelihood.trainable_variables + model.prior.trainable_variables
    if sampling:
        draws = NUM_SAMPLES if num_samples is None else num_samples
        codes, mask, weight = _subsample(codes, mask, seed)
        while True:
            found = sampled_information(model, codes, mask, variables, draws, seed, weight)
            # the gradient of a weighted subsample carries sampling noise of about
            # sqrt(weight - 1) SEs even at the maximum: no distance is measured from it
            result = _from_information(estimator, variables, method, found.information,
                                       found.outer, found.halves,
                                       found.gradient if weight == 1.0 else None)
            if num_samples is not None or result.mc_error <= MC_TARGET or draws >= MAX_SAMPLES:
                return result
            draws *= 4
    if estimator._grouped() and method == "observed" and not estimator.priors_:
        # group by group: each person's likelihood involves their own group's copy only
        n_items, n_groups = model.likelihood.n_items, model.likelihood.n_groups
        information, gradient = group_information.information(
            model, codes, mask, variables,
            np.argmax(codes[:, n_items:n_items + n_groups], axis=1))
        return _from_information(estimator, variables, method, information, None, None,
                                 gradient)
    information, outer, gradient = _quadrature_information(model, codes, mask, variables,
                                                            method != "observed")
    return _from_information(estimator, variables, method, information, outer, None, gradient)


def _subsample(codes, mask, seed):
    """(codes, mask, weight): at most SE_PERSONS persons, a uniform random subsample each
    standing for n / m persons (see SE_PERSONS)."""
    n = len(codes)
    if n <= SE_PERSONS:
        return codes, mask, 1.0
    rows = np.sort(np.random.default_rng(seed).choice(n, SE_PERSONS, replace=False))
    return codes[rows], mask[rows], n / SE_PERSONS


def _from_information(estimator, variables, method, information, outer, halves, gradient):
    """`StandardErrors` from the information, score cross-product and gradient over every
    entry of `variables` (and the two halves' informations when they were sampled)."""
    model = estimator.model_
    basis = quadrature.free_basis(model, variables)
    information = basis.T @ information @ basis
    used = np.abs(np.diag(information)) > _UNUSED
    basis, information = basis[:, used], information[np.ix_(used, used)]
    if _exploratory(estimator):
        complement = _orbit_complement(_orbit_tangents(model, variables, basis))
        basis, information = basis @ complement, complement.T @ information @ complement
    outer = None if outer is None else basis.T @ outer @ basis
    covariance = _covariance(method, information, outer)
    distance = math.nan if gradient is None else _distance(information, basis.T @ gradient)
    grouped = estimator._grouped()
    labels, jacobian = (multiple_group.reported if grouped else _reported)(estimator, variables)
    jacobian = jacobian @ basis
    estimated = np.abs(jacobian).sum(axis=1) > 0
    jacobian = jacobian[estimated]
    reported = jacobian @ covariance @ jacobian.T
    labels = [label for label, keep in zip(labels, estimated) if keep]
    names = [f"{':'.join(str(v) for v in i) if isinstance(i, tuple) else i}:{n}"
             for i, n in labels]
    vcov = pd.DataFrame(reported, index=names, columns=names)
    se = np.sqrt(np.maximum(np.diag(reported), 0.0))
    error = 0.0 if halves is None else _monte_carlo_error(method, halves, outer, basis,
                                                           jacobian, se)
    se = dict(zip(labels, se))
    if distance > DISTANCE_WARNING:
        where = (f"{distance:.2f} standard errors (root mean square over the parameters) from"
                 if np.isfinite(distance) else "not near (the information matrix is not "
                 "positive definite there: a fit stopped early?)")
        warnings.warn(f"the estimates are {where} the maximum of the likelihood: intervals "
                      f"built from these SEs would cover the truth less often than they claim. "
                      f"Refit with refine=True (Newton steps to the maximum)", stacklevel=3)
    if grouped:
        items, groups, regression = multiple_group.se_tables(estimator, se)
        return StandardErrors(items, None, vcov, method, error, distance, groups, regression)
    return StandardErrors(_items_table(estimator, se), _corr_table(estimator, se), vcov, method,
                          error, distance)


def _distance(information, gradient):
    """The Newton step to the maximum, I^-1 g, in standard errors: root mean square over the
    free coordinates of step / sqrt(diag I^-1)."""
    covariance = _inverse(information)
    variance = np.diag(covariance)
    if not np.all(variance > 0):  # no maximum nearby: no distance to it in SEs
        return math.inf
    step = covariance @ gradient
    return float(np.sqrt(np.mean(step ** 2 / variance)))


def _quadrature_information(model, codes, mask, variables, with_outer):
    """(observed information, sum_p n_p s_p s_p^T or None) over every entry of `variables`,
    by adaptive quadrature with the nodes re-centred at the posterior moments."""
    patterns, observed, inverse = unique_patterns(codes, mask)
    counts = np.bincount(inverse).astype(np.float64)
    points = quadrature.n_points(model.latent_dim)
    x = tf.constant(patterns, tf.float32)
    mask = None if observed.all() else tf.constant(observed, tf.float32)
    nodes = quadrature.nodes_from_q(model, x, mask, points)
    for _ in range(2):
        nodes = quadrature.recentre(model, x, mask, nodes, points)
    information = quadrature.information(model, x, mask, nodes, counts, variables)
    with tf.GradientTape() as tape:
        value = quadrature.penalized(model, x, mask, nodes, counts)
    gradient = quadrature.flat(tape.gradient(value, variables), variables).numpy()
    if not with_outer:
        return information, None, gradient.astype(np.float64)
    scores = _scores(model, x, mask, nodes, variables)  # [P, W]
    return information, scores.T @ (scores * counts[:, np.newaxis]), gradient


def _covariance(method, information, outer):
    """Cov(u) of the free coordinates by `method`."""
    if method == "observed":
        return _inverse(information)
    if method == "crossprod":
        return _inverse(outer)
    bread = _inverse(information)
    return bread @ outer @ bread


def _monte_carlo_error(method, halves, outer, basis, jacobian, se):
    """The relative Monte Carlo SD of the SEs, sqrt(mean over parameters of
    ((SE_a - SE_b) / (2 SE))^2), from the two halves' informations (the crossprod SEs use
    both halves' scores together: their error is not split and is reported as 0)."""
    if method == "crossprod":
        return 0.0
    parts = []
    for half in halves:
        information = basis.T @ half @ basis
        covariance = _covariance(method, information, outer)
        parts.append(np.sqrt(np.maximum(np.einsum("rw,wv,rv->r", jacobian, covariance,
                                                  jacobian), 0.0)))
    relative = (parts[0] - parts[1]) / (2.0 * np.where(se > 0, se, np.nan))
    return float(np.sqrt(np.nanmean(relative ** 2)))


def _scores(model, x, mask, nodes, variables):
    """d log p(x_p) / dw [P, W] for each pattern (NumPy float64)."""
    with tf.GradientTape() as tape:
        per_pattern = quadrature.log_marginal(model, x, mask, nodes)
    rows = tape.jacobian(per_pattern, variables)
    return quadrature.jacobian_matrix(rows, variables, int(per_pattern.shape[0]))


def _inverse(matrix):
    try:
        return np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        raise ValueError("the information matrix is singular: some parameter is not "
                         "identified by these data (an item nobody answered, or an exploratory "
                         "model's rotation)") from None


def _check_identified(estimator):
    if _exploratory(estimator) and estimator.rotation is None:
        raise ValueError(
            f"standard errors of an unrotated exploratory model with "
            f"{len(estimator.factor_names_)} factors are not defined: its slopes are identified "
            f"only up to a rotation of the factors (A and A O fit equally well for every "
            f"orthogonal O), so an unrotated slope has no sampling distribution. Fit with "
            f"rotation='oblimin', 'geomin' or 'varimax' (the rotated slopes and factor "
            f"correlations then get standard errors), or give a confirmatory pattern")


def _exploratory(estimator):
    """Whether the model is exploratory with several factors (fitted unrotated, z ~ N(0, I))."""
    return estimator.pattern is None and len(estimator.factor_names_) > 1


def _orbit_tangents(model, variables, basis):
    """The rotational null directions in the free coordinates, [U, k].

    The likelihood of slopes A is that of A O for every orthogonal O; O = exp(eps S) with
    S = E_de - E_ed (d < e) moves A along A S. Each tangent vec(A S), placed in the slopes'
    kernel entries of w, is written in the free coordinates (the columns of `basis` have
    disjoint 0/1 supports: u = B^T t / colsums(B)); one the coordinates cannot follow (slopes
    held equal, which break the invariance) is left out."""
    decoder = model.likelihood.decoder
    slopes = decoder.slopes.numpy().astype(np.float64)
    n_factors = slopes.shape[1]
    offset = _offset(decoder.kernel, variables)
    found = []
    for d in range(n_factors):
        for e in range(d + 1, n_factors):
            skew = np.zeros((n_factors, n_factors))
            skew[d, e], skew[e, d] = 1.0, -1.0
            tangent = np.zeros(basis.shape[0])
            tangent[offset:offset + slopes.size] = (slopes @ skew).reshape(-1)
            coordinates = (basis.T @ tangent) / np.maximum(np.sum(basis, axis=0), 1.0)
            if np.linalg.norm(basis @ coordinates - tangent) <= 1e-6 * np.linalg.norm(tangent):
                found.append(coordinates)
    return np.array(found, dtype=np.float64).reshape(len(found), basis.shape[1]).T


def _orbit_complement(tangents):
    """C [U, U - k] with orthonormal columns spanning the orthogonal complement of the
    tangents [U, k]: the coordinates no tangent moves keep their own columns, the others get
    an orthonormal basis of the complement within them."""
    size = tangents.shape[0]
    moving = np.abs(tangents).sum(axis=1) > 0
    kept, moved = np.flatnonzero(~moving), np.flatnonzero(moving)
    inside = scipy.linalg.null_space(tangents[moved].T) if tangents.shape[1] else \
        np.eye(len(moved))
    complement = np.zeros((size, len(kept) + inside.shape[1]))
    complement[kept, np.arange(len(kept))] = 1.0
    complement[np.ix_(moved, len(kept) + np.arange(inside.shape[1]))] = inside
    return complement


def _offset(variable, variables):
    """Where `variable`'s entries start among every entry of `variables`."""
    offset = 0
    for candidate in variables:
        if candidate is variable:
            return offset
        offset += int(np.prod(candidate.shape))
    raise ValueError("the slopes' kernel is not among the model's trainable weights")


def _reported(estimator, variables):
    """The reported parameters as (item, name) labels and their Jacobian d phi / dw [R, W].

    The parameters come in blocks (the slope matrix, each group's parameter vectors, the
    correlations): one vectorized Jacobian per block, its rows picked by (block, entry). An
    exploratory model's block is that of its unrotated slopes A, carried through the
    rotation by `_through_rotation`."""
    model = estimator.model_
    likelihood = model.likelihood
    items = list(estimator.item_parameters_.items)
    transform = np.asarray(estimator.transform_, np.float64)
    rotated = _exploratory(estimator)
    labels, picks, blocks = [], [], []
    with tf.GradientTape(persistent=True) as tape:
        slopes = likelihood.decoder.slopes
        rasch = estimator._rasch()
        if not rasch:  # an exploratory model's unrotated A, carried through T(A) below
            reported = slopes if rotated else \
                slopes @ tf.constant(np.linalg.inv(transform).T, tf.float32)
            blocks.append(tf.reshape(reported, [-1]))
            n_factors = len(estimator.factor_names_)
            for j, item in enumerate(items):
                for d in range(n_factors):
                    labels.append((item, f"a{d + 1}"))
                    picks.append((0, j * n_factors + d))
        add_item_parameters(likelihood, items.__getitem__, labels, picks, blocks)
        names = estimator.factor_names_
        if rasch:
            blocks.append(tf.square(slopes[0]))
            for d in range(len(names)):
                labels.append(("GROUP", f"COV_{d + 1}{d + 1}"))
                picks.append((len(blocks) - 1, d))
        elif estimator._learns_correlations(estimator.pattern):
            flip = tf.constant(np.diag(np.sign(np.diag(transform))), tf.float32)
            blocks.append(tf.reshape(flip @ model.prior.correlation @ flip, [-1]))
            for d in range(len(names)):
                for e in range(d):
                    labels.append(("GROUP", f"COV_{d + 1}{e + 1}"))
                    picks.append((len(blocks) - 1, d * len(names) + e))
    matrices = block_jacobians(tape, blocks, variables)
    if rotated:
        _through_rotation(estimator, slopes.numpy(), matrices, labels, picks)
    return labels, picked_rows(matrices, picks)


def _through_rotation(estimator, slopes, matrices, labels, picks):
    """Carries the slopes block d vec(A) / dw (block 0) through the rotation, in place:
    d vec(R) / dw = d vec(R) / d vec(A) d vec(A) / dw, and for an oblique rotation appends the
    factor correlations' d vec(Phi) / dw with their labels ('GROUP', 'COV_de'), d > e."""
    found = rotation_jacobian(slopes, estimator.transform_, estimator.rotation,
                              normalize=bool(estimator.normalize_rotation))
    unrotated = matrices[0]
    matrices[0] = found.slopes @ unrotated
    if not CRITERIA[estimator.rotation][1]:  # orthogonal: Phi = I is not estimated
        return
    matrices.append(found.factor_corr @ unrotated)
    n_factors = slopes.shape[1]
    for d in range(n_factors):
        for e in range(d):
            labels.append(("GROUP", f"COV_{d + 1}{e + 1}"))
            picks.append((len(matrices) - 1, d * n_factors + e))


def _items_table(estimator, se):
    table = estimator.items_.copy() * np.nan
    for (item, name), value in se.items():
        if item != "GROUP" and name in table.columns:
            table.loc[item, name] = value
    return table


def _corr_table(estimator, se):
    names = estimator.factor_names_
    table = pd.DataFrame(np.nan, index=names, columns=names)
    for (item, name), value in se.items():
        if item == "GROUP":
            d, e = int(name[4]) - 1, int(name[5]) - 1
            table.iloc[d, e] = table.iloc[e, d] = value
    return table

