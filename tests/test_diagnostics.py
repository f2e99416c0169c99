"""Importance-sampling diagnostics (latentvi.diagnostics): ESS and Pareto k-hat."""

import warnings

import numpy as np
import pytest
from scipy.stats import genpareto

import latentvi as lv
from latentvi.diagnostics import diagnose, effective_sample_size, pareto_k_hat


@pytest.mark.parametrize("shape", [0.1, 0.5, 0.9])
def test_k_hat_recovers_a_generalized_pareto_shape(shape):
    # Weights drawn from a generalized Pareto distribution of known shape: k-hat estimates it.
    # 200 rows of 4,000 draws (tail of 190): the mean over rows is within 0.05, 0.09 for 0.9
    # (measured 0.13 / 0.49 / 0.88: the weak prior pulls towards 0.5 by 10 / 200 of the
    # distance), a row's SD ~0.1.
    rng = np.random.default_rng(0)
    weights = genpareto(shape).rvs(size=(4000, 200), random_state=rng)
    k = pareto_k_hat(np.log(weights))
    assert np.mean(k) == pytest.approx(shape, abs=0.05 + 0.1 * max(shape - 0.5, 0))


def test_effective_sample_size_counts_equal_and_dominated_weights():
    log_w = np.zeros((100, 3))
    log_w[0, 1] = 50.0        # one draw carries everything
    log_w[:50, 2] = -np.inf   # half the draws carry nothing
    np.testing.assert_allclose(effective_sample_size(log_w), [100.0, 1.0, 50.0], rtol=1e-9)


def test_too_few_draws_are_refused():
    with pytest.raises(ValueError, match="at least 25 draws"):
        pareto_k_hat(np.zeros((20, 3)))


def test_too_narrow_posterior_is_flagged_and_the_exact_one_is_not(factor_analysis):
    # Factor analysis with its exact posterior (every weight equal: no tail, ESS = S) and with
    # the posterior's SDs shrunk to 30% (the weights' tail has infinite variance: k-hat
    # well above 0.7 for every row): only the second warns.
    x = factor_analysis.simulate(40, seed=21)
    exact = factor_analysis.model(covariance="full")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, found = lv.log_marginal_likelihood(exact, x, num_samples=500, seed=0,
                                                  return_diagnostics=True)
    assert np.all(found.k_hat < 0.5) and np.all(found.ess > 0.99 * 500)
    narrow = factor_analysis.model(covariance="diag", scale_factor=0.3)
    with pytest.warns(UserWarning, match=r"rows .* have Pareto k-hat above 0.7"):
        _, _, flagged = lv.log_marginal_likelihood(narrow, x, num_samples=500, seed=0,
                                                   return_se=True, return_diagnostics=True)
    assert np.mean(flagged.k_hat > 0.7) > 0.5
    assert np.median(flagged.ess) < 50
    # the diagnostics do not change the estimate (same draws)
    plain = lv.log_marginal_likelihood(exact, x, num_samples=500, seed=0)
    np.testing.assert_allclose(value, plain, rtol=1e-12)


def test_diagnose_reports_both(factor_analysis):
    log_w = np.random.default_rng(1).normal(0.0, 0.3, size=(400, 7))
    found = diagnose(log_w)
    assert found.num_samples == 400 and found.k_hat.shape == (7,)
    assert np.all(found.k_hat < 0.5)  # lognormal weights with sigma 0.3: light tails
    assert found.summary()["rows"] == 7
