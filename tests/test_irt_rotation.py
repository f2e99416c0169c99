"""Rotation: criteria gradients, GPArotation's own reference values, invariance, recovery."""

import numpy as np
import pytest

from latentvi.irt.rotation import geomin, oblimin, random_orthogonal, rotate, varimax

# GPArotation's tests/rotations.R: loadings of factanal(factors=2, covmat=ability.cov) rotated
# by Varimax(L, eps=1e-8), oblimin(L, eps=1e-8) (gam=0: quartimin) and geominQ(L, eps=1e-5), all
# with normalize=FALSE; printed there to 18 digits.
ABILITY_VARIMAX = np.array([
    [0.515866523962843160, 0.527879475961036904], [0.175054634278874244, 0.616460231981747930],
    [0.232057748479543163, 0.853211588623112749], [0.122822468397975171, 0.464213243286899446],
    [0.961376376417989453, 0.152689863976982837], [0.791292800869773050, 0.200653429940987366]])
ABILITY_OBLIMIN = np.array([
    [0.3863615904740822504, 0.4745127741495974161], [-0.0110059418769087539, 0.6458720769633764514],
    [-0.0262926272350604423, 0.8961141105684561348],
    [-0.0180200526810754824, 0.4882928281695405048],
    [0.9900944939102318543, -0.0370718282544326011], [0.7905657274265397438, 0.0526109550054999417]])
ABILITY_GEOMIN = np.array([
    [0.39672053553904490508, 0.4713295988080449250], [0.00424452688463150020, 0.6389466007374070555],
    [-0.00510976786312981532, 0.8864521406378518265],
    [-0.00646959173137159373, 0.4830101828530461994],
    [0.98709860078485589518, -0.0318959930081098297], [0.79011178369962709045, 0.0558689642678330683]])


def _turn(angle):
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def _finite_difference(criterion, loadings, step=1e-6):
    grad = np.zeros_like(loadings)
    for index in np.ndindex(loadings.shape):
        bump = np.zeros_like(loadings)
        bump[index] = step
        grad[index] = (criterion(loadings + bump)[0] - criterion(loadings - bump)[0]) / (2 * step)
    return grad


@pytest.mark.parametrize("criterion", [
    oblimin, lambda L: oblimin(L, gamma=0.5), geomin, lambda L: geomin(L, delta=0.1), varimax],
    ids=["quartimin", "biquartimin", "geomin", "geomin_delta", "varimax"])
def test_criterion_gradient_matches_finite_differences(criterion):
    loadings = np.random.default_rng(0).normal(size=(7, 3))
    # Central differences with step 1e-6 are accurate to ~1e-9 for these smooth polynomials/logs.
    np.testing.assert_allclose(criterion(loadings)[1], _finite_difference(criterion, loadings),
                               atol=1e-7)


@pytest.mark.parametrize("method, expected, tol", [
    ("oblimin", ABILITY_OBLIMIN, 1e-8), ("geomin", ABILITY_GEOMIN, 1e-5),
    ("varimax", ABILITY_VARIMAX, 1e-8)])
def test_matches_gparotation_reference_values(method, expected, tol):
    # The rotated solution depends on A only through the set {A R : R orthogonal}, so any
    # orthogonal turn of GPArotation's varimax solution is a valid unrotated input. tol is the
    # eps GPArotation's test used for each reference.
    unrotated = ABILITY_VARIMAX @ _turn(0.7)
    result = rotate(unrotated, method=method, normalize=False, tol=tol)
    # GPArotation's own tests use fuzz 1e-6; our port runs the same iterations in float64.
    np.testing.assert_allclose(result.loadings, expected, atol=1e-6)


def test_oblimin_factor_correlation_and_invariance():
    unrotated = ABILITY_VARIMAX @ _turn(-1.1)
    result = rotate(unrotated, method="oblimin", normalize=True)
    assert result.converged
    np.testing.assert_allclose(np.diag(result.factor_corr), 1.0, atol=1e-12)
    # Oblique rotation keeps the model: L Phi L^T = A A^T (up to the stopping tolerance).
    np.testing.assert_allclose(result.loadings @ result.factor_corr @ result.loadings.T,
                               unrotated @ unrotated.T, atol=1e-10)
    np.testing.assert_allclose(unrotated @ np.linalg.inv(result.rotation).T, result.loadings,
                               atol=1e-12)


def test_varimax_is_orthogonal_and_invariant():
    unrotated = ABILITY_VARIMAX @ _turn(0.4)
    result = rotate(unrotated, method="varimax", normalize=True)
    np.testing.assert_allclose(result.rotation.T @ result.rotation, np.eye(2), atol=1e-12)
    np.testing.assert_array_equal(result.factor_corr, np.eye(2))
    np.testing.assert_allclose(result.loadings @ result.loadings.T, unrotated @ unrotated.T,
                               atol=1e-10)
    np.testing.assert_allclose(unrotated @ result.rotation, result.loadings, atol=1e-12)


def _kaiser_varimax_angle(loadings):
    """Kaiser's (1958) closed-form varimax angle for two factors (raw, not normalized)."""
    x, y = loadings[:, 0], loadings[:, 1]
    u, v = x**2 - y**2, 2 * x * y
    p = len(x)
    numerator = 2 * np.sum(u * v) - 2 * np.sum(u) * np.sum(v) / p
    denominator = np.sum(u**2 - v**2) - (np.sum(u) ** 2 - np.sum(v) ** 2) / p
    return np.arctan2(numerator, denominator) / 4


def test_varimax_matches_kaiser_closed_form_angle():
    unrotated = np.random.default_rng(3).normal(size=(9, 2))
    angle = _kaiser_varimax_angle(unrotated)
    closed_form = unrotated @ _turn(angle)
    result = rotate(unrotated, method="varimax", normalize=False, tol=1e-10)
    # Equal up to the order and signs of the two columns (varimax is blind to both); the
    # iterative solution stops at a gradient norm of 1e-10, which leaves ~1e-8 in the loadings.
    matched = [min(np.abs(np.abs(result.loadings[:, k]) - np.abs(closed_form[:, m])).max()
                   for m in range(2)) for k in range(2)]
    assert max(matched) < 1e-6


def _simple_structure(n_items=12, n_factors=3, seed=0):
    rng = np.random.default_rng(seed)
    loadings = np.zeros((n_items, n_factors))
    loadings[np.arange(n_items), np.arange(n_items) % n_factors] = rng.uniform(0.8, 2.0, n_items)
    corr = np.full((n_factors, n_factors), 0.3) + 0.7 * np.eye(n_factors)
    # Any A with A A^T = L Phi L^T is an unrotated solution: L chol(Phi) R for orthogonal R.
    unrotated = loadings @ np.linalg.cholesky(corr) @ random_orthogonal(n_factors, rng)
    return loadings, corr, unrotated


def test_oblimin_recovers_independent_clusters():
    loadings, corr, unrotated = _simple_structure()
    result = rotate(unrotated, method="oblimin")
    # Quartimin is exactly 0 at the true pattern (one nonzero per row), its global minimum.
    order = np.argmax(np.abs(result.loadings), axis=0)
    assert sorted(order % 3) == [0, 1, 2]
    permutation = np.argsort(order % 3)
    np.testing.assert_allclose(result.loadings[:, permutation], loadings, atol=1e-5)
    np.testing.assert_allclose(result.factor_corr[np.ix_(permutation, permutation)], corr,
                               atol=1e-5)


def test_geomin_recovers_independent_clusters():
    loadings, corr, unrotated = _simple_structure(seed=1)
    result = rotate(unrotated, method="geomin", seed=0)
    permutation = np.argsort(np.argmax(np.abs(result.loadings), axis=0) % 3)
    # delta = 0.01 moves geomin's optimum slightly off the exact pattern: 1e-2 is ~10x the
    # measured gap, far below the 0.8 smallest true slope.
    np.testing.assert_allclose(result.loadings[:, permutation], loadings, atol=1e-2)
    np.testing.assert_allclose(result.factor_corr[np.ix_(permutation, permutation)], corr,
                               atol=1e-2)


def test_kaiser_normalization_rotates_unit_rows():
    unrotated = np.random.default_rng(5).normal(size=(8, 3))
    norms = np.linalg.norm(unrotated, axis=1, keepdims=True)
    manual = rotate(unrotated / norms, method="oblimin", normalize=False)
    result = rotate(unrotated, method="oblimin", normalize=True)
    np.testing.assert_allclose(result.loadings, manual.loadings * norms, atol=1e-10)
    np.testing.assert_allclose(result.factor_corr, manual.factor_corr, atol=1e-10)


def test_factors_reflected_positive_and_single_factor_kept():
    result = rotate(-ABILITY_VARIMAX, method="oblimin")
    assert np.all(result.loadings.sum(axis=0) > 0)
    single = rotate(-np.array([[0.5], [1.2]]))
    np.testing.assert_allclose(single.loadings, [[0.5], [1.2]])
    np.testing.assert_array_equal(single.factor_corr, [[1.0]])


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="method"):
        rotate(ABILITY_VARIMAX, method="promax")
    with pytest.raises(ValueError, match="finite"):
        rotate(np.array([[np.nan, 1.0], [0.5, 0.2]]))
    with pytest.raises(ValueError, match="2-D"):
        rotate(np.ones(4))


@pytest.mark.parametrize("method", ["target", "target_orthogonal"])
def test_target_rotation_recovers_a_rotated_target_exactly(method):
    # A = B T^T (oblique; B T for orthogonal T) has the target B among its rotations, so
    # Procrustes rotation must find it, from any start, to the solver's tolerance.
    rng = np.random.default_rng(4)
    target = rng.uniform(0.5, 1.5, size=(15, 3)) * (rng.uniform(size=(15, 3)) < 0.5)
    target[:3] = np.eye(3)
    if method == "target":
        turn = rng.normal(size=(3, 3))
        turn /= np.linalg.norm(turn, axis=0)
        slopes = target @ turn.T
    else:
        slopes = target @ random_orthogonal(3, rng).T
    result = rotate(slopes, method=method, normalize=False, target_loadings=target)
    np.testing.assert_allclose(result.loadings, target, atol=1e-5)
    np.testing.assert_allclose(result.loadings @ result.factor_corr @ result.loadings.T,
                               slopes @ slopes.T, atol=1e-8)


def test_target_rotation_needs_a_target_of_the_right_shape():
    with pytest.raises(ValueError, match="needs target_loadings"):
        rotate(np.ones((4, 2)), method="target")
    with pytest.raises(ValueError, match=r"shape \(4, 2\)"):
        rotate(np.ones((4, 2)), method="target", target_loadings=np.ones((3, 2)))


def test_rotated_factors_are_signed_by_their_largest_loading():
    # mirt reflects each rotated factor so that its largest absolute loading is positive
    # (not its column sum): here factor 2's column sums positive but its largest loading,
    # item 4's, is negative before the flip.
    from latentvi.irt.parameters import orient
    slopes = np.array([[1.5, 0.1], [1.2, 0.2], [0.1, 0.3], [0.2, -2.0], [1.0, 0.4], [0.0, 0.9]])
    _, rotated, corr, _ = orient(slopes, np.eye(2), "oblimin")
    largest = rotated[np.argmax(np.abs(rotated), axis=0), [0, 1]]
    assert (largest > 0).all()
    # The model is unchanged: a_rot Phi a_rot^T = a a^T.
    np.testing.assert_allclose(rotated @ corr @ rotated.T, slopes @ slopes.T, atol=1e-6)
