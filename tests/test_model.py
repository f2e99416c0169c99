"""LatentModel: log_joint, sampling, masks, save/load."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import linear_model
from scipy import stats

import latentvi as lv


def test_log_joint_is_prior_plus_likelihood(factor_analysis):
    model = factor_analysis.model()
    x = factor_analysis.simulate(4, seed=30)
    z = np.random.default_rng(0).normal(size=(3, 4, 2)).astype(np.float32)  # [k, n, d]
    mean = z @ factor_analysis.weights.T + factor_analysis.bias
    expected = (stats.norm.logpdf(z).sum(-1)
                + stats.norm.logpdf(x, mean, np.sqrt(factor_analysis.psi)).sum(-1))
    np.testing.assert_allclose(model.log_joint(x, z), expected, rtol=1e-5)


def test_samples_follow_the_generative_model(factor_analysis):
    # 20,000 draws: sample mean within 5 standard errors of b, sample covariance within 0.1 of
    # W W^T + Psi (entries are O(1); their standard errors are ~0.02).
    model = factor_analysis.model()
    x = model.sample(20000, seed=1)
    covariance = factor_analysis.weights @ factor_analysis.weights.T + np.diag(factor_analysis.psi)
    error = np.sqrt(np.diag(covariance) / len(x))
    assert np.all(np.abs(x.mean(0) - factor_analysis.bias) < 5 * error)
    np.testing.assert_allclose(np.cov(x.T), covariance, atol=0.1)
    np.testing.assert_array_equal(model.sample(5, seed=2), model.sample(5, seed=2))


def test_masked_cells_change_nothing(factor_analysis):
    # The encoder sees x * mask and the likelihood skips masked cells, so any value in a masked
    # cell leaves log p(x | z) and every bound unchanged (same seed).
    model = linear_model(6, 2, masked=True)
    model.build_for_shape((6,))
    x = factor_analysis.simulate(32, seed=31)
    mask = np.random.default_rng(1).random(x.shape) > 0.3
    altered = np.where(mask, x, 1e3).astype(np.float32)
    z = np.random.default_rng(2).normal(size=(32, 2)).astype(np.float32)
    np.testing.assert_array_equal(model.decode(z, mask).log_prob(x),
                                  model.decode(z, mask).log_prob(altered))
    for objective in (lv.ELBO(), lv.IWAE(k=4)):
        kept = objective(model, x, mask=mask, seed=tf.constant([1, 1])).bound
        changed = objective(model, altered, mask=mask, seed=tf.constant([1, 1])).bound
        np.testing.assert_array_equal(kept, changed)
    # ...while an observed cell does matter.
    assert not np.allclose(model.decode(z, mask).log_prob(x), model.decode(z).log_prob(altered))


def test_masked_log_prob_sums_observed_cells_only(factor_analysis):
    model = factor_analysis.model()
    x = factor_analysis.simulate(1, seed=32)
    z = np.zeros((1, 2), np.float32)
    mask = np.array([[True, False, True, True, False, True]])
    cells = stats.norm.logpdf(x, factor_analysis.bias, np.sqrt(factor_analysis.psi))
    np.testing.assert_allclose(model.decode(z, mask).log_prob(x), cells[mask].sum(), rtol=1e-5)


def test_nan_rows_are_fitted_through_the_mask(factor_analysis):
    # A masked model fits data with NaN; the held-out log p(x) of incomplete rows is the
    # marginal over observed cells, which for FA is closed form: compare within 0.1 nats/row
    # (the tolerance of a fitted model, as for complete data).
    x = factor_analysis.simulate(3000, seed=33)
    missing = np.random.default_rng(3).random(x.shape) < 0.2
    model = linear_model(6, 2, masked=True)
    model.posterior.encoder = lv.networks.mlp((32,))
    lv.fit(model, np.where(missing, np.nan, x), objective=lv.IWAE(k=5), epochs=25,
           batch_size=100, learning_rate=0.01, seed=0, verbose=0)
    test = factor_analysis.simulate(300, seed=34)
    test_missing = np.random.default_rng(4).random(test.shape) < 0.2
    estimate = lv.log_marginal_likelihood(model, np.where(test_missing, np.nan, test),
                                          num_samples=500, seed=0)
    covariance = factor_analysis.weights @ factor_analysis.weights.T + np.diag(factor_analysis.psi)
    exact = [stats.multivariate_normal(factor_analysis.bias[o], covariance[np.ix_(o, o)])
             .logpdf(row[o]) for row, o in zip(test, ~test_missing)]
    assert abs(estimate.mean() - np.mean(exact)) < 0.1


def test_save_load_round_trip(fitted_fa, fa_data, tmp_path):
    model, _ = fitted_fa
    x = fa_data[1][:20]
    path = tmp_path / "fa.keras"
    model.save(path)
    loaded = lv.load_model(path)
    np.testing.assert_array_equal(loaded.encode(x).mean(), model.encode(x).mean())
    np.testing.assert_array_equal(loaded.encode(x).stddev(), model.encode(x).stddev())
    z = np.ones((3, 2), np.float32)
    np.testing.assert_array_equal(loaded.decode(z).mean(), model.decode(z).mean())
    np.testing.assert_array_equal(loaded.sample(4, seed=1), model.sample(4, seed=1))
    assert repr(loaded.objective) == repr(model.objective)
    np.testing.assert_array_equal(
        lv.log_marginal_likelihood(loaded, x, num_samples=50, seed=1),
        lv.log_marginal_likelihood(model, x, num_samples=50, seed=1))


def test_save_refuses_to_overwrite(fitted_fa, tmp_path):
    model, _ = fitted_fa
    path = tmp_path / "m.keras"
    model.save(path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path)
    model.save(path, overwrite=True)
    with pytest.raises(ValueError, match=".keras"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(FileNotFoundError, match="no saved model"):
        lv.load_model(tmp_path / "absent.keras")
