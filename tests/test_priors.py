"""Priors: shapes, closed-form densities, the correlation parameterization."""

import numpy as np
import pytest
from scipy import stats

import latentvi as lv


def test_standard_normal_density():
    z = np.array([[0.3, -1.2, 2.0]], np.float32)
    expected = stats.norm.logpdf(z).sum()
    np.testing.assert_allclose(lv.StandardNormal(3).distribution().log_prob(z), expected,
                               rtol=1e-6)


def test_normal_starts_standard_and_learns_loc_and_scale():
    prior = lv.DiagonalNormal(2)
    np.testing.assert_allclose(prior.distribution().stddev(), [1, 1], rtol=1e-5)
    prior.loc.assign([1.0, -2.0])
    z = np.array([[0.0, 0.0]], np.float32)
    expected = stats.norm.logpdf([0, 0], [1, -2], 1).sum()
    np.testing.assert_allclose(prior.distribution().log_prob(z), expected, rtol=1e-5)
    assert len(prior.trainable_weights) == 2


def test_correlated_normal_has_unit_diagonal_and_given_correlation():
    target = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.5], [-0.2, 0.5, 1.0]], np.float32)
    prior = lv.CorrelatedNormal(3, correlation=target)
    np.testing.assert_allclose(prior.correlation, target, atol=1e-5)
    prior.raw_cholesky.assign([2.0, -1.0, 0.7])  # any unconstrained value
    np.testing.assert_allclose(np.diag(prior.correlation.numpy()), 1.0, atol=1e-6)
    z = np.array([[0.2, -0.1, 0.4]], np.float32)
    expected = stats.multivariate_normal(np.zeros(3), prior.correlation.numpy()).logpdf(z[0])
    np.testing.assert_allclose(prior.distribution().log_prob(z), expected, rtol=1e-5)


def test_correlated_normal_fixed_and_one_dimensional():
    fixed = lv.CorrelatedNormal(2, trainable=False)
    assert fixed.trainable_weights == []
    np.testing.assert_allclose(fixed.correlation, np.eye(2))
    np.testing.assert_allclose(lv.CorrelatedNormal(1).correlation, [[1.0]])


def test_correlated_normal_rejects_wrong_matrix():
    with pytest.raises(ValueError, match="3 x 3"):
        lv.CorrelatedNormal(3, correlation=np.eye(2))


def test_deprecated_normal_name_warns_and_is_the_diagonal_normal():
    with pytest.warns(DeprecationWarning, match="DiagonalNormal"):
        prior = lv.Normal(2)
    assert isinstance(prior, lv.DiagonalNormal)
    z = np.array([[0.3, -1.2]], np.float32)
    # Initial prior N(0, I): the same density as the new name's.
    np.testing.assert_allclose(prior.distribution().log_prob(z),
                               lv.DiagonalNormal(2).distribution().log_prob(z), rtol=1e-6)
