"""Standard errors of rotated exploratory solutions: the rotation's Jacobian
(latentvi.irt.rotation_jacobian) against finite differences of `orient`, and the SEs of the
rotated slopes and factor correlation against a delta method built another way (another
identification of the unrotated slopes, finite differences of the whole map to the reported
parameters)."""

import copy
import functools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi import irt
from latentvi.irt import parameters, quadrature, rotation
from latentvi.irt.parameters import orient
from latentvi.irt.rotation_jacobian import rotation_jacobian
from latentvi.irt.standard_errors import _offset, _quadrature_information

# (method, Kaiser normalization) as `ItemFactorModel(rotation=..., normalize_rotation=...)`
ROTATIONS = [("oblimin", False), ("oblimin", True), ("geomin", False), ("varimax", False)]
STEP = 1e-3  # finite-difference step in the unrotated slopes
ATOL = 1e-4  # finite differences of `orient` against the implicit Jacobian (see the test)


@pytest.fixture
def tight_rotation(monkeypatch):
    """`orient` rotating to a projected gradient of 1e-8 instead of 1e-6: a finite difference
    of step 1e-3 then carries ~1e-5 of solver noise, not ~1e-3. Oblimin and varimax get there
    in a few dozen iterations; geomin's line search stalls near 2e-8 in float64, where 100
    iterations per start have taken it."""
    monkeypatch.setattr(parameters, "rotate",  # where `orient` looks it up
                        functools.partial(rotation.rotate, tol=1e-8, max_iter=100))


def _reported(slopes, method, normalize, seed=0):
    """vec(R) and vec(Phi) of the rotated solution `orient` reports for slopes A."""
    _, rotated, correlation, _ = orient(slopes, np.eye(slopes.shape[1]), method, seed, normalize)
    return rotated.reshape(-1), correlation.reshape(-1)


def _simple_structure(n_items, n_factors, seed):
    """Unrotated slopes A = B chol(Phi) O of a simple structure B with correlations 0.3."""
    rng = np.random.default_rng(seed)
    loadings = np.zeros((n_items, n_factors))
    loadings[np.arange(n_items), np.arange(n_items) % n_factors] = rng.uniform(0.8, 2.0,
                                                                               n_items)
    loadings[0, 1] = 0.4  # one cross-loading, so that no criterion sits at an exact zero
    corr = np.full((n_factors, n_factors), 0.3) + 0.7 * np.eye(n_factors)
    return loadings @ np.linalg.cholesky(corr) @ rotation.random_orthogonal(n_factors, rng)


@pytest.mark.parametrize("method, normalize", ROTATIONS + [("oblimin", "3 factors")])
def test_rotation_jacobian_matches_finite_differences_of_orient(tight_rotation, method,
                                                                normalize):
    n_factors = 3 if normalize == "3 factors" else 2
    normalize = False if normalize == "3 factors" else normalize
    slopes = _simple_structure(9, n_factors, seed=n_factors)
    transform = orient(slopes, np.eye(n_factors), method, 0, normalize)[0]
    found = rotation_jacobian(slopes, transform, method, normalize=normalize)
    rng = np.random.default_rng(7)
    missed = 0.0
    for _ in range(3):  # directional derivatives J v along random directions v
        direction = rng.normal(size=slopes.shape)
        plus = _reported(slopes + STEP * direction, method, normalize)
        minus = _reported(slopes - STEP * direction, method, normalize)
        numeric = [(p - m) / (2 * STEP) for p, m in zip(plus, minus)]
        # central differences: truncation ~STEP^2 = 1e-6, solver noise ~2e-8 / STEP = 2e-5
        # against entries up to ~2; measured at most 1.1e-5 (oblimin normalized), ATOL is 9x
        np.testing.assert_allclose(found.slopes @ direction.reshape(-1), numeric[0], atol=ATOL)
        np.testing.assert_allclose(found.factor_corr @ direction.reshape(-1), numeric[1],
                                   atol=ATOL)
        fixed = np.kron(np.eye(len(slopes)), np.linalg.inv(transform)) @ direction.reshape(-1)
        missed = max(missed, np.max(np.abs(fixed - numeric[0])))
    # the test can tell: holding T fixed (leaving dT/dA out) misses by 0.57 (varimax) to 1.2
    assert missed > 100 * ATOL
    # the rotated solution is that of A O for every orthogonal O: the Jacobian vanishes on the
    # orbit's tangents A S, S skew-symmetric (to rounding)
    skew = np.zeros((n_factors, n_factors))
    skew[0, 1], skew[1, 0] = 1.0, -1.0
    tangent = (slopes @ skew).reshape(-1)
    assert np.max(np.abs(found.slopes @ tangent)) < 1e-9
    assert np.max(np.abs(found.factor_corr @ tangent)) < 1e-9


def test_rotation_jacobian_refuses_bad_input():
    slopes = _simple_structure(8, 2, seed=0)
    transform = orient(slopes, np.eye(2), "oblimin")[0]
    with pytest.raises(ValueError, match="method must be one of"):
        rotation_jacobian(slopes, transform, "promax")
    with pytest.raises(ValueError, match="transform must be"):
        rotation_jacobian(slopes, np.eye(3), "oblimin")
    with pytest.raises(ValueError, match="at least 2 factors"):
        rotation_jacobian(slopes[:, :1], np.eye(1), "oblimin")
    with pytest.raises(ValueError, match="not a stationary point"):
        rotation_jacobian(slopes, np.eye(2), "oblimin")  # A itself is not oblimin-rotated


@pytest.fixture(scope="module")
def fitted():
    """A two-factor exploratory 2PL (oblimin) on 2,000 simulated persons x 8 items, at the
    exact maximum (refine): 20 epochs train q well enough for the importance-sampled
    information (fewer leave it biased upward by several percent)."""
    data, _ = irt.simulate(2000, 8, 2, factor_corr=0.3, seed=1)
    model = irt.ItemFactorModel(2, seed=0, refine=True).fit(data, epochs=20, verbose=0)
    return model, data


def _rotated_as(model, method, normalize):
    """The fitted model reporting another rotation of the same unrotated fit."""
    other = copy.copy(model)
    other.rotation, other.normalize_rotation = method, normalize
    slopes = model.model_.likelihood.decoder.slopes.numpy()
    other.transform_ = orient(slopes, np.eye(2), method, model.seed, normalize)[0]
    return other


def _chart_standard_errors(model, data, method, normalize):
    """SEs of the rotated slopes [J, D] and factor correlation built another way.

    The unrotated slopes are identified by a chart instead of the orthogonal complement of
    the orbit: A(theta) = E(theta) O0^T with E = A O0 in echelon form (E_12 = 0, the entries
    of E but that one free), O0 orthogonal; the other weights are free as they are. The
    information in theta is C^T I_w C with C = dw/dtheta (I_w the model's own, over every
    weight entry), and the Jacobian of the reported parameters is central differences of
    `orient` along theta."""
    model_ = model.model_
    responses = model._encode(data)
    variables = model_.likelihood.trainable_variables + model_.prior.trainable_variables
    information = _quadrature_information(model_, responses.codes, responses.mask, variables,
                                          False)[0]
    slopes = model_.likelihood.decoder.slopes.numpy().astype(np.float64)
    n_items, n_factors = slopes.shape
    angle = np.arctan2(slopes[0, 1], slopes[0, 0])
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    offset = _offset(model_.likelihood.decoder.kernel, variables)
    charts = []
    for j in range(n_items):
        for d in range(n_factors):
            if (j, d) != (0, 1):
                unit = np.zeros((n_items, n_factors))
                unit[j, d] = 1.0
                charts.append(unit @ turn.T)  # dA / dtheta_jd
    columns = np.zeros((information.shape[0], len(charts)))
    for k, chart in enumerate(charts):
        columns[offset:offset + slopes.size, k] = chart.reshape(-1)
    basis = quadrature.free_basis(model_, variables)
    others = basis[:, basis[offset:offset + slopes.size].sum(axis=0) == 0]
    others = others[:, np.diag(others.T @ information @ others) > 1e-12]
    chart_basis = np.hstack([columns, others])
    covariance = np.linalg.inv(chart_basis.T @ information @ chart_basis)[:len(charts),
                                                                          :len(charts)]
    jacobian = np.zeros((slopes.size + n_factors**2, len(charts)))
    for k, chart in enumerate(charts):
        plus = np.concatenate(_reported(slopes + STEP * chart, method, normalize, model.seed))
        minus = np.concatenate(_reported(slopes - STEP * chart, method, normalize, model.seed))
        jacobian[:, k] = (plus - minus) / (2 * STEP)
    se = np.sqrt(np.einsum("rk,kl,rl->r", jacobian, covariance, jacobian))
    return se[:slopes.size].reshape(n_items, n_factors), se[slopes.size + n_factors]


@pytest.mark.parametrize("method, normalize", ROTATIONS)
def test_rotated_standard_errors_match_a_chart_and_finite_differences(tight_rotation, fitted,
                                                                       method, normalize):
    model, data = fitted
    model = _rotated_as(model, method, normalize)
    se = model.standard_errors(data, integration="quadrature")
    slopes, correlation = _chart_standard_errors(model, data, method, normalize)
    # Same information, two identifications of the slopes (exactly equivalent at the maximum:
    # the distance is 4e-5 SE) and an implicit against a finite-difference Jacobian (~1e-5
    # apart, see above): measured within 1.5e-5 relative; 5e-4 is 30x that
    assert se.distance < 0.05
    np.testing.assert_allclose(se.items[["a1", "a2"]].to_numpy(), slopes, rtol=5e-4)
    oblique = rotation.CRITERIA[method][1]
    if oblique:
        np.testing.assert_allclose(se.factor_corr.iloc[1, 0], correlation, rtol=5e-4)
        assert se.factor_corr.iloc[0, 1] == se.factor_corr.iloc[1, 0]
        assert "GROUP:COV_21" in se.vcov.index
    else:  # varimax: Phi = I is not estimated
        assert se.factor_corr.isna().all().all() and "GROUP:COV_21" not in se.vcov.index
    assert np.isnan(np.diag(se.factor_corr)).all()
    assert np.isfinite(se.items.to_numpy()).all()


def test_standard_errors_do_not_change_when_the_unrotated_solution_turns(fitted, monkeypatch):
    """A -> A O (O orthogonal) is the same likelihood and the same rotated solution, so the
    same SEs: the null space is removed wherever the fit happened to stop on its orbit."""
    model, data = fitted
    before = model.standard_errors(data, integration="quadrature")
    turn = rotation.random_orthogonal(2, np.random.default_rng(3)).astype(np.float32)
    kernel = model.model_.likelihood.decoder.kernel
    slopes, transform, encode = kernel.numpy(), model.transform_, model.model_.encode

    def turned(x, mask=None, training=False):  # q of z' = z O, the factors of A O
        q = encode(x, mask=mask, training=training)
        covariance = tf.transpose(turn) @ q.covariance() @ turn
        return tfp.distributions.MultivariateNormalTriL(q.mean() @ turn,
                                                        tf.linalg.cholesky(covariance))

    try:
        kernel.assign(slopes @ turn)
        monkeypatch.setattr(model.model_, "encode", turned)
        model.transform_, rotated, _, _ = orient(slopes @ turn, np.eye(2), "oblimin", model.seed)
        after = model.standard_errors(data, integration="quadrature")
    finally:
        kernel.assign(slopes)
        model.transform_ = transform
    # the same rotated solution up to the order of the factors (rotation from the identity
    # start finds them in the order of A O's columns; tolerance 1e-6), and the same SEs to
    # float32 rounding of the Hessian and the rotation's tolerance (measured 7e-6 relative)
    reported = model.items_[["a1", "a2"]].to_numpy()
    order = np.argmax(np.abs(reported.T @ rotated), axis=1)
    assert sorted(order) == [0, 1]
    np.testing.assert_allclose(rotated[:, order], reported, atol=1e-4)
    slopes_after = after.items[["a1", "a2"]].to_numpy()[:, order]
    np.testing.assert_allclose(slopes_after, before.items[["a1", "a2"]].to_numpy(), rtol=1e-4)
    np.testing.assert_allclose(after.items["d"], before.items["d"], rtol=1e-4)
    np.testing.assert_allclose(after.factor_corr.iloc[1, 0], before.factor_corr.iloc[1, 0],
                               rtol=1e-4)


def test_sampled_and_robust_standard_errors_of_a_rotated_solution(fitted):
    model, data = fitted
    exact = model.standard_errors(data, integration="quadrature")
    sampled = model.standard_errors(data, integration="sampling", num_samples=256)
    # 2,000 persons x 128 draws per half: Monte Carlo error of the SEs ~0.6% (mc_error);
    # measured at most 0.7% apart, 3% is ~5 of those
    assert sampled.mc_error < 0.01
    np.testing.assert_allclose(sampled.items.to_numpy(), exact.items.to_numpy(), rtol=0.03)
    np.testing.assert_allclose(sampled.factor_corr.iloc[1, 0], exact.factor_corr.iloc[1, 0],
                               rtol=0.03)
    for method in ("sandwich", "crossprod"):  # invert the scores' cross-product too
        robust = model.standard_errors(data, method=method, integration="quadrature")
        # the model is the true one: all three estimate the same covariance, apart by the
        # sampling noise of the scores' cross-product at n = 2,000 (measured within 4.3%)
        np.testing.assert_allclose(robust.items.to_numpy(), exact.items.to_numpy(), rtol=0.1)
        np.testing.assert_allclose(robust.factor_corr.iloc[1, 0], exact.factor_corr.iloc[1, 0],
                                   rtol=0.1)


def test_unrotated_exploratory_standard_errors_are_refused(fitted):
    model, data = fitted
    unrotated = copy.copy(model)
    unrotated.rotation = None
    with pytest.raises(ValueError, match="unrotated exploratory model with 2 factors.*"
                                         "rotation='oblimin'"):
        unrotated.standard_errors(data)
