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

References:
  [1] Chalmers (2018). Numerical approximation of the observed information matrix with Oakes'
      identity. British Journal of Mathematical and Statistical Psychology 71(3).
  [2] Yuan, Cheng & Patton (2014). Information matrices and standard errors for MLEs of item
      parameters in IRT. Psychometrika 79(2).
"""

from typing import NamedTuple

import numpy as np
import pandas as pd
import tensorflow as tf

from latentvi.irt import quadrature
from latentvi.irt.scoring import unique_patterns

__all__ = ["METHODS", "StandardErrors", "standard_errors"]

METHODS = ("observed", "sandwich", "crossprod")
_PROBABILITIES = ("g", "u")
_UNUSED = 1e-12  # a weight entry whose information is below this never moves the likelihood


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
    """
    items: pd.DataFrame
    factor_corr: pd.DataFrame
    vcov: pd.DataFrame
    method: str


def standard_errors(estimator, codes, mask, method="observed"):
    """The `StandardErrors` of a fitted `ItemFactorModel` on its coded data.

    Args:
      estimator: the fitted ItemFactorModel (confirmatory, or exploratory with one factor).
      codes, mask: the coded responses [n, J] and their observed cells (`Responses`).
      method: 'observed', 'sandwich' or 'crossprod'.
    """
    model = estimator.model_
    patterns, observed, inverse = unique_patterns(codes, mask)
    counts = np.bincount(inverse).astype(np.float64)
    points = quadrature.n_points(model.latent_dim)
    x = tf.constant(patterns, tf.float32)
    mask = None if observed.all() else tf.constant(observed, tf.float32)
    nodes = quadrature.nodes_from_q(model, x, mask, points)
    for _ in range(2):
        nodes = quadrature.recentre(model, x, mask, nodes, points)
    variables = model.likelihood.trainable_variables + model.prior.trainable_variables
    basis = quadrature.free_basis(model, variables)
    information = quadrature.information(model, x, mask, nodes, counts, variables) @ basis
    information = basis.T @ information
    used = np.abs(np.diag(information)) > _UNUSED
    basis, information = basis[:, used], information[np.ix_(used, used)]
    if method == "observed":
        covariance = _inverse(information)
    else:
        scores = _scores(model, x, mask, nodes, variables) @ basis  # [P, p]
        outer = scores.T @ (scores * counts[:, np.newaxis])
        if method == "crossprod":
            covariance = _inverse(outer)
        else:
            bread = _inverse(information)
            covariance = bread @ outer @ bread
    labels, jacobian = _reported(estimator, variables)
    jacobian = jacobian @ basis
    estimated = np.abs(jacobian).sum(axis=1) > 0
    reported = jacobian[estimated] @ covariance @ jacobian[estimated].T
    labels = [label for label, keep in zip(labels, estimated) if keep]
    vcov = pd.DataFrame(reported, index=[f"{i}:{n}" for i, n in labels],
                        columns=[f"{i}:{n}" for i, n in labels])
    se = dict(zip(labels, np.sqrt(np.maximum(np.diag(reported), 0.0))))
    return StandardErrors(_items_table(estimator, se), _corr_table(estimator, se), vcov, method)


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


def _reported(estimator, variables):
    """The reported parameters as (item, name) labels and their Jacobian d phi / dw [R, W]."""
    model = estimator.model_
    likelihood = model.likelihood
    items = list(estimator.item_parameters_.items)
    transform = np.asarray(estimator.transform_, np.float64)
    labels, tensors = [], []
    with tf.GradientTape(persistent=True) as tape:
        slopes = likelihood.decoder.slopes
        rasch = estimator._rasch()
        if not rasch:
            reported = slopes @ tf.constant(np.linalg.inv(transform).T, tf.float32)
            for j, item in enumerate(items):
                for d, factor in enumerate(estimator.factor_names_):
                    labels.append((item, f"a{d + 1}"))
                    tensors.append(reported[j, d])
        for group, (start, stop) in zip(likelihood.groups, likelihood.slices):
            found = group.parameter_tensors()
            for local, j in enumerate(range(start, stop)):
                kind = group.item_type(local)
                constant = kind.fixed_parameters(group.n_categories[local])
                for name in kind.parameter_names(group.n_categories[local]):
                    if name in constant:
                        continue
                    value = found[name][local]
                    labels.append((items[j], name))
                    tensors.append(tf.sigmoid(value) if name in _PROBABILITIES else value)
        names = estimator.factor_names_
        if rasch:
            for d in range(len(names)):
                labels.append(("GROUP", f"COV_{d + 1}{d + 1}"))
                tensors.append(tf.square(slopes[0, d]))
        elif estimator._learns_correlations(estimator.pattern):
            flip = np.diag(np.sign(np.diag(transform)))
            flip = tf.constant(flip, tf.float32)
            correlation = flip @ model.prior.correlation @ flip
            for d in range(len(names)):
                for e in range(d):
                    labels.append(("GROUP", f"COV_{d + 1}{e + 1}"))
                    tensors.append(correlation[d, e])
        stacked = tf.stack(tensors)
    rows = tape.jacobian(stacked, variables, experimental_use_pfor=False)
    jacobian = quadrature.jacobian_matrix(rows, variables, len(tensors))
    return labels, jacobian


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

