"""3PL and 4PL items (latentvi/irt/items/guessing.py): closed forms, stability, sampling, fits.

The fits are compared with mirt and with the exact marginal MAP estimate, found here by
Gauss-Hermite quadrature (61 nodes, as tests/irt_quadrature.py) and L-BFGS with the analytic
gradient of the quadrature log-likelihood (the EM identity: d log L / d P_jq = (r_jq - n_q
P_jq) / (P_jq (1 - P_jq)), r and n the expected counts at node q).
"""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from irt_quadrature import N_NODES, log_likelihood, patterns
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import check_grad, minimize
from scipy.special import expit, logit, logsumexp
from scipy.stats import norm

from latentvi import irt
from latentvi.datasets import load_lsat7
from latentvi.irt import items as item_types
from latentvi.irt.item_parameters import ItemParameters
from latentvi.irt.items.base import ItemType
from latentvi.irt.items.guessing import FourPL, GuessingItems, ThreePL

PRIOR = ("norm", -1.5, 3.0)  # on logit g, as mirt's PRIOR = (5, g, norm, -1.5, 3)
# mirt 1.x, LSAT7, items 1-4 '2PL', item 5 '3PL' with that prior (EM, 61 quadrature points).
MIRT_ITEM5 = {"a1": 0.7884, "d": 1.6000, "g": 0.1900}
MIRT_A = np.array([0.988, 1.081, 1.706, 0.765])  # items 1-4: the 2PL's, to 0.002
MIRT_D = np.array([1.856, 0.808, 1.804, 0.486])
MIRT_LOGLIK = -2658.79
ETA = np.linspace(-6.0, 6.0, 41)
FOUR = {"d": 0.4, "g": 0.18, "u": 0.9}
THREE = {"d": -0.7, "g": 0.22}


# -- the exact marginal MAP of 2PL / 3PL items, one factor ----------------------------------
def _negative_log_posterior(free, rows, counts, guessing, prior=PRIOR):
    """-(log L + log prior) and its gradient; free = (a [J], d [J], logit g [J]), g = 0 where
    `guessing` is False."""
    n_items = rows.shape[1]
    nodes, weights = hermegauss(N_NODES)
    a, d, logit_g = free[:n_items], free[n_items:2 * n_items], free[2 * n_items:]
    g = np.where(guessing, expit(logit_g), 0.0)
    inner = expit(nodes[:, np.newaxis] * a + d)  # [Q, J]
    correct = g + (1 - g) * inner
    joint = (rows @ np.log(correct).T + (1 - rows) @ np.log1p(-correct).T
             + np.log(weights / weights.sum()))  # [patterns, Q]
    marginal = logsumexp(joint, axis=1)
    posterior = np.exp(joint - marginal[:, np.newaxis]) * counts[:, np.newaxis]
    score = ((posterior.T @ rows - correct * posterior.sum(0)[:, np.newaxis])
             / (correct * (1 - correct)))  # d log L / d P at each node
    slope = (1 - g) * inner * (1 - inner)
    _, mean, sd = prior
    log_prior = np.where(guessing, -0.5 * ((logit_g - mean) / sd) ** 2, 0.0)
    gradient = np.concatenate([
        np.sum(score * slope * nodes[:, np.newaxis], 0), np.sum(score * slope, 0),
        np.where(guessing, np.sum(score * (1 - inner) * g * (1 - g), 0)
                 - (logit_g - mean) / sd**2, 0.0)])
    return -(counts @ marginal + log_prior.sum()), -gradient


def _exact_map(codes, guessing):
    """(a, d, g) [J] each maximizing the exact log-likelihood + the log-prior on logit g."""
    rows, counts = patterns(codes)
    guessing = np.asarray(guessing, bool)
    n_items = rows.shape[1]
    start = np.concatenate([np.ones(n_items), np.zeros(n_items), np.full(n_items, PRIOR[1])])
    found = minimize(_negative_log_posterior, start, args=(rows, counts, guessing), jac=True,
                     method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-7})
    assert found.success, found.message
    a, d, logit_g = np.split(found.x, 3)
    return a, d, np.where(guessing, expit(logit_g), 0.0)


def _parameters(items, a, d, g, types):
    values = [{"d": d[j]} if types[j] == "2PL" else {"d": d[j], "g": g[j]}
              for j in range(len(items))]
    return ItemParameters(items, types, [2] * len(items), np.asarray(a)[:, np.newaxis], values)


def _rmse(estimate, truth):
    return float(np.sqrt(np.mean((np.asarray(estimate) - truth) ** 2)))


# -- closed forms ----------------------------------------------------------------------------
def test_registered_as_mirt_names_in_one_group():
    assert isinstance(item_types.get("3PL"), ThreePL)
    assert isinstance(item_types.get("4PL"), FourPL)
    assert ThreePL().group_name == FourPL().group_name == "guessing"
    assert ThreePL().parameter_names(2) == ["d", "g"]
    assert FourPL().n_parameters(2) == 3


def test_probabilities_match_the_textbook_formulas():
    # The same float64 arithmetic in another arrangement: agreement to rounding.
    four = FourPL().probabilities(ETA, FOUR, 2)
    expected = FOUR["g"] + (FOUR["u"] - FOUR["g"]) / (1 + np.exp(-(ETA + FOUR["d"])))
    np.testing.assert_allclose(four[:, 1], expected, atol=1e-14)
    np.testing.assert_allclose(four.sum(1), 1.0, atol=1e-14)
    three = ThreePL().probabilities(ETA, THREE, 2)[:, 1]
    np.testing.assert_allclose(three, THREE["g"] + (1 - THREE["g"]) * expit(ETA + THREE["d"]),
                               atol=1e-14)


def test_without_asymptotes_the_items_are_the_2pl():
    # g = 0 and u = 1 leave the 2PL's formula and, from the same draws, its answers.
    two_pl = item_types.get("2PL")
    values = {"d": 0.3, "g": 0.0, "u": 1.0}
    for kind in (ThreePL(), FourPL()):
        np.testing.assert_allclose(kind.probabilities(ETA, values, 2),
                                   two_pl.probabilities(ETA, {"d": 0.3}, 2), atol=1e-14)
        np.testing.assert_allclose(kind.information(ETA, values, 2),
                                   two_pl.information(ETA, {"d": 0.3}, 2), atol=1e-14)
    uniform = np.random.default_rng(0).uniform(size=ETA.size)
    np.testing.assert_array_equal(ThreePL().sample(uniform, ETA, values, 2),
                                  two_pl.sample(uniform, ETA, {"d": 0.3}, 2))


@pytest.mark.parametrize("kind, values", [(ThreePL(), THREE), (FourPL(), FOUR)],
                         ids=["3PL", "4PL"])
def test_information_closed_form_matches_the_numeric_default(kind, values):
    # The base class's central differences are exact to ~1e-8 (its step 1e-5 squared x P''').
    numeric = ItemType.information(kind, ETA, values, 2)
    np.testing.assert_allclose(kind.information(ETA, values, 2), numeric, rtol=1e-6,
                               atol=1e-10)


def test_information_matches_birnbaum_and_magis():
    # Birnbaum's 3PL form (P - g)^2 (1 - P) / ((1 - g)^2 P) and Magis's (2013) 4PL form
    # (P - g)^2 (u - P)^2 / ((u - g)^2 P (1 - P)), per unit slope; same float64 arithmetic.
    p, g = ThreePL().correct(ETA, THREE), THREE["g"]
    np.testing.assert_allclose(ThreePL().information(ETA, THREE, 2),
                               (p - g) ** 2 * (1 - p) / ((1 - g) ** 2 * p), rtol=1e-10)
    p, g, u = FourPL().correct(ETA, FOUR), FOUR["g"], FOUR["u"]
    np.testing.assert_allclose(FourPL().information(ETA, FOUR, 2),
                               (p - g) ** 2 * (u - p) ** 2 / ((u - g) ** 2 * p * (1 - p)),
                               rtol=1e-10)


def test_sample_frequencies_match_the_probabilities():
    # 200,000 draws per point: 5 binomial SEs (<= 0.0056) fail by chance with p < 1e-6.
    rng, n = np.random.default_rng(1), 200_000
    for eta in (-2.0, 0.0, 2.0):
        share = FourPL().sample(rng.uniform(size=n), np.full(n, eta), FOUR, 2).mean()
        p = FourPL().correct(np.array([eta]), FOUR)[0]
        assert abs(share - p) < 5 * np.sqrt(p * (1 - p) / n)


# -- the fitted group (TensorFlow) -------------------------------------------------------------
def _group():
    group = GuessingItems([2, 2], ["3PL", "4PL"])
    group.intercept.assign([THREE["d"], FOUR["d"]])
    group.logit_guessing.assign(logit([THREE["g"], FOUR["g"]]))
    group.raw_logit_upper.assign([0.0, logit(FOUR["u"])])
    return group


def test_group_log_prob_matches_the_numpy_probabilities():
    group = _group()
    eta = np.column_stack([ETA, ETA]).astype(np.float32)
    logs = group.category_log_probs(tf.constant(eta)).numpy().astype(float)
    for j, (kind, values) in enumerate([(ThreePL(), THREE), (FourPL(), FOUR)]):
        # float32 evaluation: log-probabilities of moderate size agree to ~1e-6.
        np.testing.assert_allclose(logs[:, j], np.log(kind.probabilities(ETA, values, 2)),
                                   atol=2e-5)
        for answer in (0, 1):
            x = tf.fill(eta.shape, float(answer))
            np.testing.assert_allclose(group.log_prob(tf.constant(eta), x).numpy()[:, j],
                                       logs[:, j, answer], atol=1e-6)
    assert group.values() == [pytest.approx(THREE), pytest.approx(FOUR)]


def test_group_log_prob_is_finite_in_the_far_tails():
    # At eta + d = +-60, 1 - P of the 3PL is (1 - g) e^-60, 0 in float32 as a difference; the
    # log-space form keeps it (to float32's relative 1e-6) and its gradients finite.
    group = _group()
    eta = tf.constant([[-60.0, -60.0], [60.0, 60.0]])
    with tf.GradientTape() as tape:
        wrong = group.log_prob(eta, tf.zeros_like(eta))
        right = group.log_prob(eta, tf.ones_like(eta))
        total = tf.reduce_sum(wrong) + tf.reduce_sum(right)
    gradients = tape.gradient(total, group.trainable_weights)
    assert all(np.all(np.isfinite(grad.numpy())) for grad in gradients)
    np.testing.assert_allclose(right.numpy()[0], np.log([THREE["g"], FOUR["g"]]), rtol=1e-6)
    np.testing.assert_allclose(wrong.numpy()[1, 0], np.log1p(-THREE["g"]) - 60 - THREE["d"],
                               rtol=1e-6)
    np.testing.assert_allclose(wrong.numpy()[1, 1], np.log1p(-FOUR["u"]), rtol=1e-6)


def test_group_priors_apply_on_the_logit_scale():
    group = GuessingItems([2, 2], ["3PL", "4PL"], priors={"g": [list(PRIOR), None]})
    group.logit_guessing.assign([-1.0, 0.0])
    expected = -0.5 * ((-1.0 + 1.5) / 3.0) ** 2 - np.log(3.0 * np.sqrt(2 * np.pi))
    assert float(group.log_prior()) == pytest.approx(expected, rel=1e-6)  # float32


def test_a_prior_on_u_of_a_3pl_item_is_refused():
    with pytest.raises(ValueError, match="3PL.*fixed at 1"):
        GuessingItems([2, 2], ["3PL", "4PL"], priors={"u": [list(PRIOR), None]})


def test_a_3pl_item_with_three_categories_is_refused_by_name():
    data = pd.DataFrame({"q1": [0, 1] * 10, "q2": [0, 1, 2, 1] * 5})
    with pytest.raises(ValueError, match="'q2' has 3 observed categories.*'3PL'"):
        irt.ItemFactorModel(item_type={"q1": "2PL", "q2": "3PL"}).fit(data, verbose=0)


def test_exact_map_gradient_is_right():
    # The reference's analytic gradient against finite differences (scipy's step 1.5e-8 leaves
    # ~1e-5 of error on a gradient of size ~100).
    codes = load_lsat7().to_numpy()
    rows, counts = patterns(codes)
    guessing = np.array([False, True, False, True, True])
    point = np.random.default_rng(2).normal(0.0, 0.5, 15) + np.repeat([1.0, 0.5, -1.5], 5)

    def value(free):
        return _negative_log_posterior(free, rows, counts, guessing)[0]

    def gradient(free):
        return _negative_log_posterior(free, rows, counts, guessing)[1]

    assert check_grad(value, gradient, point) < 1e-3


# -- LSAT7: item 5 as 3PL, as mirt ------------------------------------------------------------
@pytest.fixture(scope="module")
def lsat7():
    return load_lsat7()


@pytest.fixture(scope="module")
def lsat7_map(lsat7):
    return _exact_map(lsat7.to_numpy(), [False] * 4 + [True])


@pytest.fixture(scope="module")
def lsat7_fit(lsat7):
    types = {f"item{j}": "2PL" for j in range(1, 5)} | {"item5": "3PL"}
    # The defaults: with a 3PL item, up to 2,048 persons every step sees them all (g lies on
    # a ridge where the log-posterior falls 0.005 nats from g = 0.199 to 0.155; batches of 128
    # left g near its start, 0.155).
    model = irt.ItemFactorModel(item_type=types, priors={"item5": {"g": PRIOR}}, seed=0).fit(
        lsat7, verbose=0)
    assert model.settings_["batch_size"] == len(lsat7)
    return model


def test_exact_map_reproduces_mirt(lsat7, lsat7_map):
    a, d, g = lsat7_map
    # mirt's EM stops at a tolerance of 1e-4 on a ridge this flat: 0.015 on item 5.
    assert abs(a[4] - MIRT_ITEM5["a1"]) < 0.015 and abs(d[4] - MIRT_ITEM5["d"]) < 0.015
    assert abs(g[4] - MIRT_ITEM5["g"]) < 0.015
    assert np.max(np.abs(a[:4] - MIRT_A)) < 0.005 and np.max(np.abs(d[:4] - MIRT_D)) < 0.005
    parameters = _parameters(list(lsat7.columns), a, d, g, ["2PL"] * 4 + ["3PL"])
    assert log_likelihood(parameters, lsat7.to_numpy()) == pytest.approx(MIRT_LOGLIK, abs=0.01)


def test_lsat7_3pl_matches_mirt_and_the_exact_map(lsat7_fit, lsat7_map):
    table = lsat7_fit.items_
    assert list(table.columns) == ["a1", "d", "g"] and np.isnan(table["g"].iloc[0])
    fitted = table.loc["item5"]
    a, d, g = lsat7_map
    # The target is 0.03 of mirt and of the exact MAP. The refinement
    # (`irt.quadrature`) maximizes the same log-posterior by adaptive quadrature: measured
    # 0.002 from the exact MAP; 0.005 leaves room for its float32 stop on this flat ridge.
    assert lsat7_fit.refinement_ is not None and lsat7_fit.refinement_.converged
    for name, exact in (("a1", a[4]), ("d", d[4]), ("g", g[4])):
        assert abs(fitted[name] - exact) < 0.005
        assert abs(fitted[name] - MIRT_ITEM5[name]) < 0.03
    assert np.max(np.abs(table["a1"].to_numpy()[:4] - a[:4])) < 0.005
    assert np.max(np.abs(table["d"].to_numpy()[:4] - d[:4])) < 0.005


def test_lsat7_3pl_log_likelihood(lsat7_fit, lsat7):
    # Within 0.03 of the MAP the log-likelihood is within ~0.05 of mirt's; the 5,000-sample
    # estimate adds ~0.03 of Monte Carlo error.
    criteria = lsat7_fit.information_criteria(lsat7)
    assert criteria["loglik"] == pytest.approx(MIRT_LOGLIK, abs=0.5)
    assert criteria["n_params"] == 11


# -- recovery: 10,000 persons x 15 3PL items ---------------------------------------------------
@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(0)
    n_items = 15
    items = [f"q{j + 1}" for j in range(n_items)]
    truth = _parameters(items, rng.uniform(0.8, 2.2, n_items), rng.uniform(-2.0, 1.5, n_items),
                        rng.uniform(0.1, 0.25, n_items), ["3PL"] * n_items)
    codes = truth.sample(rng, rng.normal(size=(10_000, 1)))
    return truth, pd.DataFrame(codes, columns=items)


@pytest.fixture(scope="module")
def recovered(simulated):
    truth, data = simulated
    priors = {item: {"g": PRIOR} for item in truth.items}
    # 10,000 x 15 x 21 nodes = 3.2M item evaluations: above 'auto''s budget; refine=True, as
    # the docs advise for 3PL items
    model = irt.ItemFactorModel(item_type="3PL", priors=priors, seed=0, refine=True).fit(
        data, verbose=0)
    return model, _exact_map(data.to_numpy(), [True] * len(truth.items))


def test_recovery_rmse_is_close_to_the_exact_map(simulated, recovered):
    truth, _ = simulated
    model, (a, d, g) = recovered
    true_a, true_d = truth.slopes[:, 0], np.array([row["d"] for row in truth.values])
    true_g = np.array([row["g"] for row in truth.values])
    # The bound, 1.2x the exact MAP's RMSE.
    for name, exact, truth_values in (("a1", a, true_a), ("d", d, true_d), ("g", g, true_g)):
        assert _rmse(model.items_[name], truth_values) < 1.2 * _rmse(exact, truth_values), name
    # The refinement maximizes the log-posterior by 21 adaptive nodes, this exact MAP by 61
    # fixed ones; for skewed 3PL posteriors the two differ by ~2e-6 nats per person (0.017 of
    # 88,592 at the refined point), which on the flat d-g ridge moves one d by up to 0.02.
    # Measured RMS distances: a 0.003, d 0.007, g 0.005.
    assert model.refinement_ is not None
    for name, exact in (("a1", a), ("d", d), ("g", g)):
        assert _rmse(model.items_[name], exact) < 0.015, name


def test_recovered_curves_match_the_truth(simulated, recovered):
    truth, _ = simulated
    model, exact = recovered
    theta = np.linspace(-3, 3, 61)
    weights = norm.pdf(theta) / norm.pdf(theta).sum()  # where the persons are

    def worst_error(parameters):
        """The largest normal-weighted RMS difference from the true curve P(x = 1 | theta)."""
        fitted = parameters.probabilities(theta[:, np.newaxis])
        expected = truth.probabilities(theta[:, np.newaxis])
        return max(np.sqrt(np.sum(weights * (fitted[item][:, 1] - expected[item][:, 1]) ** 2))
                   for item in truth.items)

    floor = worst_error(_parameters(truth.items, *exact, ["3PL"] * len(truth.items)))
    # The exact MAP's curves are off by the sampling error (worst item 0.022); the refined
    # fit's are the MAP's to ~0.001.
    assert worst_error(model.item_parameters_) < 1.1 * floor
