"""EAP scores, SEs and log-likelihoods (latentvi/irt/scoring.py) against quadrature and truth."""

import numpy as np
import pandas as pd
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import logsumexp

from latentvi import irt
from latentvi.irt.scoring import unique_patterns

SEED = 11


def quadrature_posterior(items, data):
    """Exact EAP, posterior SD and log p(x) of a 1-factor 2PL by 81-point Gauss-Hermite."""
    nodes, weights = hermegauss(81)
    log_weights = np.log(weights / weights.sum())
    eta = nodes[:, None] * items["a1"].to_numpy() + items["d"].to_numpy()
    x = data.to_numpy(float)
    observed = ~np.isnan(x)
    x = np.nan_to_num(x)
    # log sigmoid(eta) = -log(1 + e^-eta), stable at the outer nodes.
    log_lik = (x * observed) @ -np.logaddexp(0, -eta).T + ((1 - x) * observed) @ -np.logaddexp(
        0, eta).T
    log_joint = log_lik + log_weights
    log_marginal = logsumexp(log_joint, axis=1)
    posterior = np.exp(log_joint - log_marginal[:, None])
    mean = posterior @ nodes
    return mean, np.sqrt(posterior @ nodes**2 - mean**2), log_marginal


@pytest.fixture(scope="module")
def fitted():
    data, truth = irt.simulate(2000, 20, 1, missing_rate=0.05, seed=SEED)
    data.index = [f"p{i}" for i in range(len(data))]
    truth["theta"].index = data.index
    model = irt.ItemFactorModel(1, seed=SEED).fit(data, verbose=0)
    return model, data, truth


@pytest.fixture(scope="module")
def scores(fitted):
    model, data, _ = fitted
    return model.score(data)


@pytest.fixture(scope="module")
def sampled_scores(fitted):
    model, data, _ = fitted
    return model.score(data, integration="sampling")


def test_scores_are_indexed_like_the_data(fitted, scores):
    _, data, _ = fitted
    assert list(scores.columns) == ["F1", "SE_F1"]
    assert scores.index.equals(data.index)


def test_eap_and_sd_are_exact_by_adaptive_quadrature(fitted, scores):
    model, data, _ = fitted
    mean, sd, _ = quadrature_posterior(model.items_, data)
    # 21 adaptive nodes against 81 fixed ones, both ~1e-7 accurate; float32 arithmetic ~1e-6.
    np.testing.assert_allclose(scores["F1"], mean, atol=1e-4)
    np.testing.assert_allclose(scores["SE_F1"], sd, atol=1e-4)


def test_sampled_eap_and_sd_match_quadrature(fitted, sampled_scores):
    model, data, _ = fitted
    mean, sd, _ = quadrature_posterior(model.items_, data)
    scores = sampled_scores
    # The default 1,000 self-normalized importance samples (effective size ~200-400): Monte
    # Carlo SE ~0.02 per person, so RMS error ~0.02. The worst persons are extreme patterns
    # (all right, some missing), where q fits the posterior worst: measured 0.17 (seed 11).
    assert np.sqrt(np.mean((scores["F1"] - mean) ** 2)) < 0.035
    assert np.max(np.abs(scores["F1"] - mean)) < 0.25
    assert np.sqrt(np.mean((scores["SE_F1"] - sd) ** 2)) < 0.035


def test_complete_answers_score_the_same_without_a_mask(fitted):
    # Data with no missing answer are scored without a mask (a faster path): the same
    # quadrature check on the persons who answered every item, scored on their own.
    model, data, _ = fitted
    complete = data[data.notna().all(axis=1)]
    assert 200 < len(complete) < len(data)
    mean, sd, _ = quadrature_posterior(model.items_, complete)
    scores = model.score(complete, integration="sampling")
    assert np.sqrt(np.mean((scores["F1"] - mean) ** 2)) < 0.035
    assert np.sqrt(np.mean((scores["SE_F1"] - sd) ** 2)) < 0.035
    exact = model.score(complete)
    np.testing.assert_allclose(exact["F1"], mean, atol=1e-4)


def test_eap_tracks_true_theta_as_the_reliability_says(fitted, scores):
    _, _, truth = fitted
    eap, se, theta = scores["F1"], scores["SE_F1"], truth["theta"]["F1"]
    reliability = np.var(eap) / (np.var(eap) + np.mean(se**2))
    # corr(EAP, theta)^2 estimates the reliability; with n = 2000 its sampling SD is ~0.005.
    assert abs(np.corrcoef(eap, theta)[0, 1] - np.sqrt(reliability)) < 0.02
    coverage = np.mean(np.abs(eap - theta) <= 1.96 * se)
    assert 0.90 <= coverage <= 0.98


def test_log_likelihood_matches_quadrature(fitted):
    model, data, _ = fitted
    _, _, log_marginal = quadrature_posterior(model.items_, data)
    exact = model.log_likelihood(data)
    # adaptive against fixed nodes: ~1e-6 per person, float32 sums of 2,000 persons ~1e-3
    assert exact.se == 0 and abs(exact - log_marginal.sum()) < 0.01
    # 5,000 samples per person: per-person error ~1e-3, so ~0.05 on a sum of 2,000.
    sampled = model.log_likelihood(data, integration="sampling")
    assert abs(sampled - log_marginal.sum()) < 0.3


def test_person_without_answers_gets_the_prior(fitted):
    model, data, _ = fitted
    frame = data.iloc[:2].copy()
    frame.iloc[1] = np.nan
    scores = model.score(frame)
    assert scores.iloc[1].tolist() == [0.0, 1.0]
    single = model.log_likelihood(frame.iloc[:1])
    assert model.log_likelihood(frame) == pytest.approx(single, abs=0.05)


def test_identical_patterns_share_one_score(fitted):
    model, data, _ = fitted
    frame = pd.concat([data.iloc[:1]] * 3)
    frame.index = ["a", "b", "c"]
    scores = model.score(frame)
    assert scores["F1"].nunique() == 1


def test_unique_patterns_reconstruct_the_rows():
    codes = np.array([[1, 0], [1, 0], [0, 0], [1, 0]], np.float32)
    mask = np.array([[1, 1], [1, 1], [1, 0], [1, 0]], bool)
    patterns, pattern_mask, inverse = unique_patterns(codes, mask)
    assert len(patterns) == 3
    np.testing.assert_array_equal(patterns[inverse], codes)
    np.testing.assert_array_equal(pattern_mask[inverse], mask)


def test_log_likelihood_carries_its_monte_carlo_error(fitted):
    model, data, _ = fitted
    _, _, log_marginal = quadrature_posterior(model.items_, data)
    few = model.log_likelihood(data, num_samples=20, integration="sampling")
    # With 20 draws per person the estimate is noisy enough for its error to show: it must sit
    # within 4 reported SEs of the exact value (the downward bias, about Var/2 per person, is
    # ~SE^2 / 2 in total: small against 4 SEs at these sizes).
    assert few.se > 0
    assert abs(few - log_marginal.sum()) < 4 * few.se
    # Quasi-random draws: the SE falls at least like 1 / sqrt(S) (independent draws), here
    # faster: 250 times the draws, less than 1/16 the error (1.3 for the SE estimate's own
    # noise), and the estimate is still within 4 of its SEs of the exact value.
    many = model.log_likelihood(data, num_samples=5000, integration="sampling")
    assert 0 < many.se < 1.3 * few.se / np.sqrt(250)
    assert abs(many - log_marginal.sum()) < 4 * many.se + 1e-3
    criteria = model.information_criteria(data, num_samples=20, integration="sampling")
    assert criteria["loglik_se"] == pytest.approx(few.se, rel=0.3)


def test_repeated_scoring_does_not_retrace(fitted, caplog):
    # TensorFlow warns when one function is traced again and again ("5 out of the last 5 calls
    # ... triggered tf.function retracing"): scoring frames of varying sizes with the same
    # model must reuse one compiled function.
    model, data, _ = fitted
    with caplog.at_level("WARNING", logger="tensorflow"):
        for n in (3, 5, 7, 11, 13, 17, 19):
            model.score(data.iloc[:n], integration="sampling")
            model.log_likelihood(data.iloc[:n], num_samples=50, integration="sampling")
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_integration_is_checked(fitted):
    model, data, _ = fitted
    with pytest.raises(ValueError, match="integration must be one of"):
        model.score(data.iloc[:3], integration="exact")
