"""mirt's one-factor scoring methods (latentvi.irt.score_methods) against mirt 1.47 and against
direct computations (NumPy/SciPy only: no model is fitted).

The LSAT7 references are mirt's own outputs for `mirt(LSAT7, 1)` (shared/data/psychometrics/
README.md), scored here from mirt's estimates, which are published rounded to 4 decimals. A
change of 5e-5 in a slope or intercept moves a score or SE by about 1e-4, and mirt's EAP uses
121 equally spaced points on [-6, 6] where we use Gauss-Hermite nodes (a ~1e-4 difference): the
tolerance 0.01 on scores, SEs and EAPsum leaves a wide margin over both while still catching
any wrong formula (the methods differ from each other by 0.05 to 2.3 on these patterns).
"""

import numpy as np
import pytest
from scipy import optimize, stats

from latentvi.datasets import load_lsat7
from latentvi.irt.information import test_information as information_curve
from latentvi.irt.item_parameters import ItemParameters
from latentvi.irt.score_methods import (
    eap_sum,
    empirical_rxx,
    marginal_rxx,
    pattern_scores,
    plausible_values,
)

LSAT7_A = [0.9879, 1.0809, 1.7058, 0.7652, 0.7358]
LSAT7_D = [1.8561, 0.8080, 1.8042, 0.4860, 1.8545]
PATTERNS = ["00000", "00001", "00100", "01010", "10101", "11110", "11111"]
# mirt 1.47 fscores(m, method=..., response.pattern=...): F1 and SE_F1 per pattern above.
MIRT = {
    "eap": ([-1.8699, -1.5272, -1.0947, -1.0326, -0.3036, 0.2820, 0.7272],
            [0.6927, 0.6737, 0.6651, 0.6656, 0.7005, 0.7553, 0.8009]),
    "map": ([-1.8165, -1.4947, -1.0959, -1.0390, -0.3655, 0.1959, 0.6382],
            [0.6750, 0.6497, 0.6369, 0.6371, 0.6788, 0.7474, 0.8035]),
    "ml": ([-np.inf, -3.1241, -1.9116, -1.7920, -0.6552, 0.4726, np.inf],
           [np.nan, 1.3816, 0.9380, 0.9093, 0.8620, 1.2590, np.nan]),
    "wle": ([-4.1360, -2.6001, -1.7187, -1.6283, -0.7620, -0.0052, 1.0886],
            [1.8872, 1.1419, 0.8146, 0.7917, 0.7426, 0.9616, 1.6189]),
}
# mirt(Science, 1), graded, slope-intercept: P(x >= k | theta) = sigmoid(a theta + d_k).
SCIENCE_A = [1.0418, 1.2260, 2.2934, 1.0949]
SCIENCE_D = [[4.8642, 2.6399, -1.4660], [2.9240, 0.9012, -2.2666],
             [5.2340, 2.2138, -1.9637], [3.3479, 0.9916, -1.6883]]
GRADED_PATTERNS = np.array([[1, 2, 3, 0], [2, 2, 2, 2], [0, 1, 1, 2], [3, 2, 3, 3]])


@pytest.fixture(scope="module")
def lsat7():
    return ItemParameters.from_arrays(LSAT7_A, LSAT7_D, "2PL")


@pytest.fixture(scope="module")
def science():
    return ItemParameters.from_arrays(SCIENCE_A, SCIENCE_D, "graded")


def codes_of(patterns):
    return np.array([[int(c) for c in pattern] for pattern in patterns])


@pytest.mark.parametrize("method", ["eap", "map", "ml", "wle"])
def test_lsat7_pattern_scores_match_mirt(lsat7, method):
    theta, se = pattern_scores(lsat7, codes_of(PATTERNS), method=method)
    expected_theta, expected_se = MIRT[method]
    # tolerance 0.01: see the module docstring (mirt's parameters are rounded to 4 decimals)
    np.testing.assert_allclose(theta, expected_theta, atol=0.01, rtol=0)
    np.testing.assert_allclose(se, expected_se, atol=0.01, rtol=0)  # NaN where mirt has NA


def test_ml_is_infinite_at_the_minimum_and_maximum_scores(lsat7):
    codes = np.array([[0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 0, 0], [1, 0, 1, 1, 1]],
                     float)
    codes[2, 2] = np.nan  # missing: the rest are all 0, the minimum score of what was answered
    codes[3, 1] = np.nan  # missing: the rest are all 1
    theta, se = pattern_scores(lsat7, codes, method="ml")
    assert theta.tolist() == [-np.inf, np.inf, -np.inf, np.inf]
    assert np.isnan(se).all()
    wle, wle_se = pattern_scores(lsat7, codes[:2], method="wle")  # WLE stays finite
    assert np.isfinite(wle).all() and np.isfinite(wle_se).all() and wle[0] < -4 and wle[1] > 1


def test_lsat7_eap_sum_matches_mirt(lsat7):
    table = eap_sum(lsat7, load_lsat7().to_numpy())
    assert table.index.tolist() == [0, 1, 2, 3, 4, 5]
    # mirt prints 3 decimals (rounding <= 5e-4) on top of the parameter rounding: 0.01
    np.testing.assert_allclose(table["F1"], [-1.870, -1.432, -0.949, -0.413, 0.152, 0.727],
                               atol=0.01, rtol=0)
    np.testing.assert_allclose(table["SE_F1"], [0.693, 0.684, 0.694, 0.721, 0.759, 0.801],
                               atol=0.01, rtol=0)
    # expected counts are 1000 P(S = s): a 1e-4 shift in a probability moves them by 0.1 at
    # most, the 4-decimal parameters move them by < 0.01; 0.05 allows that with margin
    np.testing.assert_allclose(table["expected"],
                               [10.091, 44.657, 109.774, 207.748, 319.181, 308.550],
                               atol=0.05, rtol=0)
    assert table["observed"].tolist() == [12, 40, 114, 205, 321, 308]


def test_lsat7_reliabilities_match_mirt(lsat7, science):
    # a ratio in [0, 1]; the 4-decimal parameters move it by ~1e-4: tolerance 0.005
    assert marginal_rxx(lsat7) == pytest.approx(0.4418, abs=0.005)
    assert marginal_rxx(science) == pytest.approx(0.6688, abs=0.005)  # mirt(Science, 1), graded
    theta, se = pattern_scores(lsat7, load_lsat7().to_numpy(), method="eap")
    assert empirical_rxx(theta, se) == pytest.approx(0.4522, abs=0.005)


def test_empirical_rxx_drops_infinite_scores():
    scores, se = np.array([1.0, 2.0, 3.0, np.inf]), np.array([1.0, 1.0, 1.0, np.nan])
    assert empirical_rxx(scores, se) == pytest.approx(1 / (1 + 1))  # var(1, 2, 3) = 1, SE^2 = 1
    both = empirical_rxx(np.column_stack([scores, 2 * scores]), np.column_stack([se, se]))
    np.testing.assert_allclose(both, [0.5, 0.8])


def test_marginal_rxx_uses_the_latent_variance(science):
    theta = np.linspace(-15, 15, 6001)
    information = information_curve(science, theta).to_numpy()
    for variance in (0.5, 2.0):
        density = stats.norm.pdf(theta, scale=np.sqrt(variance))
        direct = np.trapezoid(variance * information / (variance * information + 1) * density,
                              theta)
        assert marginal_rxx(science, variance) == pytest.approx(direct, abs=1e-6)


def test_plausible_values_reproduce_the_posterior(lsat7):
    codes = codes_of(PATTERNS)
    draws = plausible_values(lsat7, codes, n_draws=20_000, seed=0)
    assert draws.shape == (len(PATTERNS), 20_000)
    mean, sd = pattern_scores(lsat7, codes, method="eap")
    # Monte Carlo SEs with 20,000 draws: of a mean sd / 141 <= 0.0057, of an SD about
    # sd / 200 <= 0.004; 4 of them: 0.023 and 0.016
    np.testing.assert_allclose(draws.mean(axis=1), mean, atol=0.023, rtol=0)
    np.testing.assert_allclose(draws.std(axis=1), sd, atol=0.016, rtol=0)
    # skewness of the all-0 posterior: draws are from the posterior, not a normal around EAP
    assert stats.skew(draws[0]) < -0.1
    again = plausible_values(lsat7, codes, n_draws=3, seed=0)
    np.testing.assert_array_equal(again, plausible_values(lsat7, codes, n_draws=3, seed=0))


def direct_posterior(parameters, pattern, variance):
    """(posterior mean, SD, marginal probability) of one complete pattern by the trapezoid rule
    on a fine grid: an independent computation of what EAP should give."""
    theta = np.linspace(-12, 12, 9601)
    probabilities = parameters.probabilities(theta[:, np.newaxis])
    likelihood = np.prod([probabilities[item][:, k]
                          for item, k in zip(parameters.items, pattern)], axis=0)
    joint = likelihood * stats.norm.pdf(theta, scale=np.sqrt(variance))
    marginal = np.trapezoid(joint, theta)
    mean = np.trapezoid(theta * joint, theta) / marginal
    sd = np.sqrt(np.trapezoid((theta - mean) ** 2 * joint, theta) / marginal)
    return mean, sd, marginal


def test_graded_eap_equals_a_direct_quadrature(science):
    theta, se = pattern_scores(science, GRADED_PATTERNS, method="eap", variance=1.3)
    direct = np.array([direct_posterior(science, pattern, 1.3)[:2] for pattern in GRADED_PATTERNS])
    # both computations are exact to ~1e-8; 1e-6 still rejects a prior of the wrong variance
    np.testing.assert_allclose(theta, direct[:, 0], atol=1e-6)
    np.testing.assert_allclose(se, direct[:, 1], atol=1e-6)


@pytest.mark.parametrize("method", ["map", "ml", "wle"])
def test_graded_modes_match_a_scalar_optimizer(science, method):
    variance = 1.3

    def objective(t, pattern):
        probabilities = science.probabilities(np.array([[t]]))
        value = sum(np.log(probabilities[item][0, k]) for item, k in zip(science.items, pattern))
        if method == "map":
            value -= t ** 2 / (2 * variance)
        if method == "wle":
            value += 0.5 * np.log(information_curve(science, np.array([t])).iloc[0])
        return value

    theta, se = pattern_scores(science, GRADED_PATTERNS, method=method, variance=variance)
    for pattern, estimate, error in zip(GRADED_PATTERNS, theta, se):
        best = optimize.minimize_scalar(lambda t, p=pattern: -objective(t, p),
                                        bounds=(-8, 8), method="bounded",
                                        options={"xatol": 1e-10})
        # the maximizer to 1e-5 (both searches converge to ~1e-8)
        assert estimate == pytest.approx(best.x, abs=1e-5)
        h = 1e-2  # independent second difference: truncation ~h^2 f'''' / 12 ~ 1e-5
        curvature = -(objective(best.x + h, pattern) - 2 * objective(best.x, pattern)
                      + objective(best.x - h, pattern)) / h ** 2
        assert error == pytest.approx(1 / np.sqrt(curvature), rel=1e-3)


def test_graded_eap_sum_adds_up_over_patterns(science):
    codes = np.random.default_rng(1).integers(0, 4, size=(300, 4)).astype(float)
    codes[:20, 1] = np.nan  # incomplete rows: left out of observed and expected
    table = eap_sum(science, codes, variance=1.3)
    assert table.index.tolist() == list(range(13))
    assert table["expected"].sum() == pytest.approx(280, rel=1e-9)
    assert table["observed"].sum() == 280
    complete = codes[20:].astype(int)
    np.testing.assert_array_equal(table["observed"],
                                  np.bincount(complete.sum(axis=1), minlength=13))
    # E[theta | S = s] by summing the direct posteriors of all 4^4 patterns with that sum
    grid = np.array(np.meshgrid(*[range(4)] * 4, indexing="ij")).reshape(4, -1).T
    moments = np.zeros((13, 3))
    for pattern in grid:
        mean, sd, marginal = direct_posterior(science, pattern, 1.3)
        moments[pattern.sum()] += marginal * np.array([1, mean, sd ** 2 + mean ** 2])
    direct_mean = moments[:, 1] / moments[:, 0]
    direct_sd = np.sqrt(moments[:, 2] / moments[:, 0] - direct_mean ** 2)
    np.testing.assert_allclose(table["F1"], direct_mean, atol=1e-6)
    np.testing.assert_allclose(table["SE_F1"], direct_sd, atol=1e-6)
    np.testing.assert_allclose(table["expected"], 280 * moments[:, 0], rtol=1e-6)
    no_data = eap_sum(science, variance=1.3)
    assert list(no_data.columns) == ["F1", "SE_F1"]
    np.testing.assert_allclose(no_data["F1"], table["F1"])


@pytest.mark.parametrize("method", ["eap", "map", "ml", "wle"])
def test_missing_cells_are_skipped(science, method):
    codes = GRADED_PATTERNS.astype(float)
    mask = np.ones(codes.shape, bool)
    mask[:, 2] = False
    codes_nan = codes.copy()
    codes_nan[:, 2] = np.nan
    without = science.subset([science.items[j] for j in (0, 1, 3)])
    expected = pattern_scores(without, codes[:, [0, 1, 3]], method=method)
    for scored in (pattern_scores(science, codes, mask, method=method),
                   pattern_scores(science, codes_nan, method=method)):
        np.testing.assert_allclose(scored, expected, atol=1e-8)
    full = pattern_scores(science, codes, method=method)[0]
    assert np.abs(full - expected[0]).max() > 0.05  # the skipped item did matter


def test_bad_input_raises(lsat7):
    codes = codes_of(PATTERNS)
    two = ItemParameters.from_arrays(np.ones((5, 2)), LSAT7_D, "2PL")
    for call in (lambda: pattern_scores(two, codes), lambda: eap_sum(two),
                 lambda: marginal_rxx(two), lambda: plausible_values(two, codes)):
        with pytest.raises(ValueError, match="parameters has 2 factors"):
            call()
    with pytest.raises(ValueError, match="method must be one of"):
        pattern_scores(lsat7, codes, method="bayes")
    with pytest.raises(ValueError, match="codes must be integer categories"):
        pattern_scores(lsat7, codes + 1)
    with pytest.raises(ValueError, match=r"codes must be \[n, 5\]"):
        pattern_scores(lsat7, codes[:, :4])
    with pytest.raises(ValueError, match="mask must have the shape"):
        pattern_scores(lsat7, codes, mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="variance must be a positive"):
        pattern_scores(lsat7, codes, variance=0)
    with pytest.raises(ValueError, match="n_draws must be a positive"):
        plausible_values(lsat7, codes, n_draws=0)
    with pytest.raises(ValueError, match="scores and se must have the same shape"):
        empirical_rxx([0.1, 0.2], [0.5])


# -- the same through a fitted model ---------------------------------------------------------
@pytest.fixture(scope="module")
def lsat7_model():
    from latentvi import irt
    data = load_lsat7()
    return irt.ItemFactorModel(1, seed=0).fit(data, verbose=0), data


@pytest.mark.parametrize("method", ["eap", "map", "ml", "wle"])
def test_a_fitted_model_scores_patterns_as_mirt(lsat7_model, method):
    import pandas as pd
    model, data = lsat7_model
    frame = pd.DataFrame(codes_of(PATTERNS), columns=data.columns, index=PATTERNS)
    scores = model.score(frame, method=method)
    theta, se = MIRT[method]
    # the refined fit is mirt's maximum to 0.002 in the parameters, which moves scores and
    # SEs by < 0.005; 0.01 as for mirt's own parameters
    np.testing.assert_allclose(scores["F1"], theta, atol=0.01, rtol=0)
    np.testing.assert_allclose(scores["SE_F1"], se, atol=0.01, rtol=0)


def test_a_fitted_model_gives_eap_sum_reliabilities_and_plausible_values(lsat7_model):
    from latentvi import irt
    model, data = lsat7_model
    table = model.eap_sum(data)
    np.testing.assert_allclose(table["F1"], [-1.870, -1.432, -0.949, -0.413, 0.152, 0.727],
                               atol=0.01, rtol=0)
    assert table["observed"].tolist() == [12, 40, 114, 205, 321, 308]
    assert model.marginal_rxx() == pytest.approx(0.4418, abs=0.005)
    assert irt.empirical_rxx(model.score(data))["F1"] == pytest.approx(0.4522, abs=0.005)
    draws = model.plausible_values(data.iloc[:3], n_draws=4000, seed=1)
    assert list(draws.columns[:2]) == ["PV1", "PV2"] and draws.index.equals(data.index[:3])
    eap = model.score(data.iloc[:3])
    # 4,000 exact draws: Monte Carlo SE of their mean = SD / 63 ~ 0.011; 4 SEs
    np.testing.assert_allclose(draws.mean(axis=1), eap["F1"], atol=0.045)
    with pytest.raises(ValueError, match="method must be one of"):
        model.score(data, method="EAPsum")
