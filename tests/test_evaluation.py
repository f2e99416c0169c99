"""log_marginal_likelihood against the closed-form factor-analysis likelihood."""

import numpy as np
import pandas as pd
import pytest

import latentvi as lv


def test_exact_posterior_gives_exact_log_likelihood(factor_analysis):
    # With q equal to the true posterior every importance weight equals p(x), so the estimate is
    # exact up to float32 rounding of the log densities (~1e-4 for values near -8).
    model = factor_analysis.model(covariance="full")
    x = factor_analysis.simulate(50, seed=10)
    estimate = lv.log_marginal_likelihood(model, x, num_samples=10, seed=0)
    np.testing.assert_allclose(estimate, factor_analysis.log_prob(x), atol=2e-3)


def test_approximate_posterior_within_005_nats(factor_analysis):
    # A diagonal, 20%-too-wide posterior: the weights vary, so this checks the importance
    # sampler itself. With 5000 samples the bias (~ variance of weights / 2S) and noise are
    # far below the 0.05 nats/row the issue allows.
    model = factor_analysis.model(covariance="diag", scale_factor=1.2)
    x = factor_analysis.simulate(100, seed=11)
    estimate = lv.log_marginal_likelihood(model, x, num_samples=5000, batch_size=25, seed=1)
    assert estimate.shape == (100,)
    assert np.max(np.abs(estimate - factor_analysis.log_prob(x))) < 0.05


def test_chunking_does_not_change_the_estimate(factor_analysis):
    # Same seed stream split into different chunks gives different draws, so compare against
    # the exact value: both must stay within the 0.05 nats tolerance, and agree with each other.
    model = factor_analysis.model(covariance="diag", scale_factor=1.2)
    x = factor_analysis.simulate(20, seed=12)
    small = lv.log_marginal_likelihood(model, x, num_samples=2000, chunk_size=64, seed=2)
    whole = lv.log_marginal_likelihood(model, x, num_samples=2000, seed=2)
    exact = factor_analysis.log_prob(x)
    assert np.max(np.abs(small - exact)) < 0.05 and np.max(np.abs(whole - exact)) < 0.05


def test_fitted_model_held_out_log_likelihood_near_truth(factor_analysis, fa_data, fitted_fa):
    # 5,000 rows estimate ~27 FA parameters; the held-out loss from estimation error is about
    # n_params / (2 n) ~ 0.003 nats/row, so a converged fit lands well inside 0.1 nats/row.
    model, _ = fitted_fa
    _, test = fa_data
    fitted = lv.log_marginal_likelihood(model, test, num_samples=1000, seed=3).mean()
    truth = factor_analysis.log_prob(test).mean()
    assert abs(fitted - truth) < 0.1


def test_evaluate_returns_consistent_terms(factor_analysis):
    model = factor_analysis.model(covariance="full")
    x = pd.DataFrame(factor_analysis.simulate(300, seed=13), index=np.arange(300) + 1000)
    rows = lv.evaluate(model, x, per_row=True, seed=0)
    assert list(rows.index[:2]) == [1000, 1001]
    np.testing.assert_allclose(rows["bound"], rows["reconstruction"] - rows["kl"], atol=1e-4)
    # Exact posterior: log p(x, z) - log q(z | x) = log p(x) for every z, so the sampled-KL ELBO
    # is exact per row (float32 rounding only); the analytic-KL one is exact in expectation, its
    # mean within 4 standard errors of the row-to-row Monte Carlo noise.
    exact = factor_analysis.log_prob(x)
    sampled = lv.evaluate(model, x, objective=lv.ELBO(kl="sample"), per_row=True, seed=0)
    np.testing.assert_allclose(sampled["bound"], exact, atol=2e-3)
    noise = rows["bound"] - exact
    assert abs(noise.mean()) < 4 * noise.std() / np.sqrt(len(noise))


def test_reported_se_matches_the_spread_over_seeds(factor_analysis):
    # A 50%-too-wide diagonal posterior makes the weights vary. 60 independent estimates per
    # row (S = 50 draws each) give the empirical SD of the estimator; the delta-method SE must
    # match it. Pooled over 10 rows, the empirical SD has a relative error of about
    # 1 / sqrt(2 * 600) ~ 3% and the delta method is accurate to a few percent at S = 50 for
    # these light-tailed weights, so 20% is a wide margin that still catches a wrong formula
    # (a missing 1/S or sqrt is off by a factor of 7 or more).
    model = factor_analysis.model(covariance="diag", scale_factor=1.5)
    x = factor_analysis.simulate(10, seed=13)
    runs = [lv.log_marginal_likelihood(model, x, num_samples=50, seed=seed, return_se=True)
            for seed in range(60)]
    values = np.array([value for value, _ in runs])
    reported = np.sqrt(np.mean(np.array([se for _, se in runs]) ** 2, axis=0))
    empirical = values.std(axis=0, ddof=1)
    assert np.sqrt(np.mean(reported**2)) == pytest.approx(np.sqrt(np.mean(empirical**2)),
                                                          rel=0.2)


def test_exact_posterior_has_zero_se(factor_analysis):
    # Every importance weight equals p(x): no Monte Carlo error (float32 rounding only).
    model = factor_analysis.model(covariance="full")
    x = factor_analysis.simulate(20, seed=14)
    _, se = lv.log_marginal_likelihood(model, x, num_samples=10, seed=0, return_se=True)
    assert np.max(se) < 1e-3
