"""Nominal items (latentvi/irt/items/nominal.py): closed forms, mirt's Science fit, recovery.

The fits are checked against the exact marginal maximum likelihood of the same data, found by
Gauss-Hermite quadrature (tests/irt_quadrature.py) and scipy.optimize.
"""

import pathlib

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from irt_quadrature import log_likelihood
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp

from latentvi import irt
from latentvi.irt import items as item_types
from latentvi.irt.item_parameters import ItemParameters
from latentvi.irt.items.base import ItemType
from latentvi.irt.items.nominal import Nominal, NominalItems

SCIENCE = (pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "psychometrics"
           / "science.csv")
SCIENCE_TYPES = {"Comfort": "graded", "Work": "graded", "Future": "graded", "Benefit": "nominal"}
# mirt 1.47, items 1-3 graded, Benefit nominal (../shared/data/psychometrics/README.md).
MIRT_BENEFIT = {"a1": 0.7984, "ak0": 0.0, "ak1": 1.0786, "ak2": 1.7757, "ak3": 3.0,
                "d0": 0.0, "d1": 2.1966, "d2": 2.9639, "d3": 1.6745}
MIRT_LOG_LIKELIHOOD = -1609.43
BENEFIT = {"ak1": 1.0786, "ak2": 1.7757, "d1": 2.1966, "d2": 2.9639, "d3": 1.6745}

N_PERSONS, N_ITEMS, K = 10_000, 8, 4


def _nominal_values(scores, intercepts):
    return {**{f"ak{k}": float(s) for k, s in enumerate(scores)},
            **{f"d{k}": float(d) for k, d in enumerate(intercepts)}}


# -- the item type's math (NumPy) ---------------------------------------------------------------
def test_probabilities_are_the_softmax_of_ak_eta_plus_d():
    eta = np.array([-2.0, 0.0, 0.7])
    scores, intercepts = np.array([0, 1.0786, 1.7757, 3]), np.array([0, 2.1966, 2.9639, 1.6745])
    expected = np.exp(eta[:, None] * scores + intercepts)
    expected /= expected.sum(axis=1, keepdims=True)
    got = Nominal().probabilities(eta, BENEFIT, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-12)  # float64: the same sums


def test_fixed_coefficients_are_mirts_when_left_out():
    full = _nominal_values([0, 1.0786, 1.7757, 3], [0, 2.1966, 2.9639, 1.6745])
    eta = np.linspace(-3, 3, 7)
    np.testing.assert_array_equal(Nominal().probabilities(eta, BENEFIT, 4),
                                  Nominal().probabilities(eta, full, 4))


def test_names_list_mirts_columns_and_count_the_free_ones():
    nominal = item_types.get("nominal")
    assert isinstance(nominal, Nominal)
    assert nominal.parameter_names(4) == ["ak0", "ak1", "ak2", "ak3", "d0", "d1", "d2", "d3"]
    # ak1..ak(K-2) and d1..d(K-1): 2K - 3.
    assert [nominal.n_parameters(k) for k in (3, 4, 5)] == [3, 5, 7]
    parameters = ItemParameters(["x", "y"], ["nominal", "graded"], [4, 3], [[1.0], [1.0]],
                                [BENEFIT, {"d1": 1.0, "d2": -1.0}])
    assert parameters.n_free() == 5 + 2


def test_information_is_the_variance_of_the_scores():
    # ak = 0..3 and d = 0: uniform categories at eta = 0, Var{0, 1, 2, 3} = 5/4.
    gpcm = _nominal_values([0, 1, 2, 3], [0, 0, 0, 0])
    np.testing.assert_allclose(Nominal().information(np.array([0.0]), gpcm, 4), [1.25],
                               rtol=1e-12)
    rng = np.random.default_rng(3)
    eta = np.linspace(-4, 4, 41)
    for n_categories in (3, 4, 6):
        scores = np.r_[0, np.sort(rng.uniform(0, n_categories - 1, n_categories - 2)),
                       n_categories - 1]
        values = _nominal_values(scores, np.r_[0, rng.normal(0, 1.5, n_categories - 1)])
        closed = Nominal().information(eta, values, n_categories)
        numeric = ItemType.information(Nominal(), eta, values, n_categories)
        # central differences with step 1e-5 are exact to ~1e-8 (base.py).
        np.testing.assert_allclose(closed, numeric, rtol=1e-6, atol=1e-9)


def test_sampled_categories_follow_the_probabilities():
    rng = np.random.default_rng(4)
    n_draws, eta = 200_000, 0.8
    draws = Nominal().sample(rng.uniform(size=n_draws), np.full(n_draws, eta), BENEFIT, 4)
    share = np.bincount(draws, minlength=4) / n_draws
    expected = Nominal().probabilities(np.array([eta]), BENEFIT, 4)[0]
    # 5 binomial standard errors: a false alarm about once in 10^6 categories.
    np.testing.assert_allclose(share, expected, atol=5 * np.sqrt(0.25 / n_draws))


def test_an_item_with_two_categories_is_refused_naming_it():
    with pytest.raises(ValueError, match="'q2'.*at least 3"):
        Nominal().check_categories("q2", [0, 1])
    frame = pd.DataFrame({"q1": [0, 1, 2, 1] * 5, "q2": [0, 1, 1, 0] * 5})
    with pytest.raises(ValueError, match="'q2'"):
        irt.ItemFactorModel(item_type="nominal").fit(frame, verbose=0)


# -- the fitted group (TensorFlow) ---------------------------------------------------------------
@pytest.fixture(scope="module")
def group():
    """Nominal items with 3, 4 and 5 categories in one group, with set parameters."""
    layer = NominalItems([3, 4, 5], ["nominal"] * 3)
    layer.raw_scores.assign([[0.4, 9.0, 9.0], [1.0786, 1.7757, 9.0], [0.5, 2.5, 2.0]])
    layer.raw_intercepts.assign([[1.0, -0.5, 9.0, 9.0], [2.1966, 2.9639, 1.6745, 9.0],
                                 [0.3, 1.1, -0.4, 0.2]])
    return layer


def _group_values():
    """What `group` holds, as NumPy values (the 9s are padding the items do not use)."""
    return [_nominal_values([0, 0.4, 2], [0, 1.0, -0.5]),
            _nominal_values([0, 1.0786, 1.7757, 3], [0, 2.1966, 2.9639, 1.6745]),
            _nominal_values([0, 0.5, 2.5, 2.0, 4], [0, 0.3, 1.1, -0.4, 0.2])]


def test_values_report_every_coefficient_as_mirt(group):
    for got, expected in zip(group.values(), _group_values()):
        assert list(got) == list(expected)
        np.testing.assert_allclose(list(got.values()), list(expected.values()), rtol=1e-6)


def test_log_prob_matches_the_numpy_probabilities(group):
    rng = np.random.default_rng(5)
    eta = rng.normal(0, 2, (3, 6, 3)).astype(np.float32)  # [draws, persons, items]
    x = np.column_stack([rng.integers(0, k, 6) for k in (3, 4, 5)]).astype(np.float32)
    got = group.log_prob(tf.constant(eta), tf.constant(x)).numpy()
    for j, values in enumerate(_group_values()):
        for s in range(3):
            p = Nominal().probabilities(eta[s, :, j], values, len(values) // 2)
            expected = np.log(p[np.arange(6), x[:, j].astype(int)])
            # float32 logits of size ~10: ~1e-5 absolute in the log-probabilities.
            np.testing.assert_allclose(got[s, :, j], expected, atol=2e-5)


def test_category_log_probs_match_and_pad_with_minus_inf(group):
    eta = np.array([[-1.5, 0.2, 2.0]], np.float32)
    got = group.category_log_probs(tf.constant(eta)).numpy()[0]
    for j, values in enumerate(_group_values()):
        k = len(values) // 2
        expected = np.log(Nominal().probabilities(eta[0, j:j + 1], values, k)[0])
        np.testing.assert_allclose(got[j, :k], expected, atol=2e-5)  # float32, as above
        assert np.all(got[j, k:] == -np.inf)


def test_log_prob_and_gradients_stay_finite_far_out(group):
    # exp(ak eta) with eta = 80 overflows float32 (ak eta = 320 > 88.7); the logsumexp does not.
    eta = tf.constant([[[-80.0, 80.0, 80.0]]])
    x = tf.constant([[2.0, 0.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(eta)
        log_prob = group.log_prob(eta, x)
    gradients = tape.gradient(log_prob, [eta, *group.trainable_variables])
    assert np.all(np.isfinite(log_prob.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)


def test_start_passes_through_the_graded_item_at_eta_zero():
    layer = NominalItems([4, 3], ["nominal"] * 2)
    cumulative = np.array([[3.3479, 0.9916, -1.6883], [1.0, -0.5, -1.5]])  # graded d1..d3
    layer.start_from(cumulative)
    graded = item_types.get("graded")
    for j, (values, k) in enumerate(zip(layer.values(), (4, 3))):
        assert [values[f"ak{m}"] for m in range(k)] == list(range(k))  # the gpcm, ak_k = k
        at_zero = {f"d{m}": cumulative[j, m - 1] for m in range(1, k)}
        np.testing.assert_allclose(Nominal().probabilities(np.zeros(1), values, k),
                                   graded.probabilities(np.zeros(1), at_zero, k),
                                   rtol=1e-5)  # float32 weights


def test_priors_see_the_free_coefficients(group):
    assert sorted(group.parameter_tensors()) == ["ak1", "ak2", "ak3", "d1", "d2", "d3", "d4"]
    np.testing.assert_allclose(group.parameter_tensors()["ak1"].numpy(), [0.4, 1.0786, 0.5],
                               rtol=1e-6)


# -- Science: Benefit nominal, against mirt and the exact ML --------------------------------------
def _science_parameters(point, items):
    slopes, point = point[:4], point[4:]
    values = [dict(zip(("d1", "d2", "d3"), point[3 * j:3 * j + 3])) for j in range(3)]
    values.append(_nominal_values(np.r_[0, point[9:11], 3], np.r_[0, point[11:]]))
    return ItemParameters(items, ["graded"] * 3 + ["nominal"], [4] * 4, slopes, values)


@pytest.fixture(scope="module")
def science():
    if not SCIENCE.exists():
        pytest.skip("the Science data (../shared/data/psychometrics) is not on this machine")
    frame = pd.read_csv(SCIENCE)
    return frame, frame.to_numpy() - 1


@pytest.fixture(scope="module")
def science_ml(science):
    """The exact ML: 18 parameters, BFGS on the quadrature log-likelihood (~1 s)."""
    frame, codes = science
    start = np.r_[[1.0] * 4, [2.0, 0.0, -2.0] * 3, [1.0, 2.0, 1.0, 2.0, 1.0]]
    result = minimize(lambda p: -log_likelihood(_science_parameters(p, list(frame)), codes),
                      start, method="BFGS")
    # Finite-difference gradients end BFGS with "precision loss" at the optimum, not success;
    # what counts is that the gradient has vanished (it is ~1e-5 nats per unit there).
    assert np.max(np.abs(result.jac)) < 1e-3
    return _science_parameters(result.x, list(frame))


@pytest.fixture(scope="module")
def science_fit(science):
    # The defaults fit these 392 persons whole in every step (up to 512): batches of 64 left
    # every item off by up to 0.1-0.25 at the stop (Future a 2.18 against mirt's 2.29 in the
    # graded fit; Benefit d1 2.07 against 2.20), graded items included.
    model = irt.ItemFactorModel(item_type=SCIENCE_TYPES, seed=0).fit(science[0], verbose=0)
    assert model.settings_["batch_size"] == 392
    return model


def test_exact_ml_reproduces_mirts_nominal_item(science, science_ml):
    benefit = science_ml.table().loc["Benefit"]
    # mirt's EM stops at parameter changes < 1e-4 per cycle, short of the optimum along this
    # flat ridge of ak and d: measured 0.004 at most.
    for name, value in MIRT_BENEFIT.items():
        assert benefit[name] == pytest.approx(value, abs=0.01), name
    assert log_likelihood(science_ml, science[1]) == pytest.approx(MIRT_LOG_LIKELIHOOD,
                                                                   abs=0.01)


def test_science_fit_matches_mirt(science_fit):
    benefit = science_fit.items_.loc["Benefit"]
    # SE of Benefit's d1 is ~0.3 in mirt; 0.03 is a tenth of it. Measured: 0.01 at most.
    for name, value in MIRT_BENEFIT.items():
        assert benefit[name] == pytest.approx(value, abs=0.03), name
    assert list(science_fit.items_.index) == list(SCIENCE_TYPES)


def test_science_fit_is_the_exact_ml(science, science_fit, science_ml):
    fitted, exact = science_fit.item_parameters_.table(), science_ml.table()
    # Every item, graded ones too; measured 0.015 at most (Future's a, whose SE is 0.48).
    np.testing.assert_allclose(fitted[exact.columns].to_numpy(float),
                               exact.to_numpy(float), atol=0.03)
    # The fitted parameters' exact log-likelihood: measured 0.001 nats below the maximum.
    gap = log_likelihood(science_ml, science[1]) - log_likelihood(
        science_fit.item_parameters_, science[1])
    assert -1e-6 < gap < 0.02


def test_saved_model_keeps_the_nominal_item(science, science_fit, tmp_path):
    path = tmp_path / "science.lvirt"
    science_fit.save(path)
    loaded = irt.load(path)
    pd.testing.assert_frame_equal(loaded.items_, science_fit.items_)
    np.testing.assert_allclose(loaded.score(science[0]), science_fit.score(science[0]),
                               rtol=1e-5, atol=1e-6)


# -- recovery: 10,000 persons x 8 nominal items ----------------------------------------------
def _recovery_parameters(slopes, scores, intercepts):
    values = [_nominal_values(s, d) for s, d in zip(scores, intercepts)]
    return ItemParameters([f"item{j + 1}" for j in range(len(slopes))], ["nominal"] * len(slopes),
                          [K] * len(slopes), np.asarray(slopes)[:, None], values)


def _unpack(point):
    point = point.reshape(N_ITEMS, 6)  # a, ak1, ak2, d1, d2, d3 per item
    zeros, last = np.zeros((N_ITEMS, 1)), np.full((N_ITEMS, 1), K - 1.0)
    return point[:, 0], np.hstack([zeros, point[:, 1:3], last]), np.hstack([zeros, point[:, 3:]])


def _free(parameters):
    """[J, 6]: a, ak1, ak2, d1, d2, d3."""
    rows = [[v["ak1"], v["ak2"], v["d1"], v["d2"], v["d3"]] for v in parameters.values]
    return np.column_stack([parameters.slopes[:, 0], rows])


def _negative_log_likelihood(point, onehot):
    """Minus the quadrature log-likelihood of nominal items and its gradient: by Fisher's
    identity the gradient is that of the expected complete-data log-likelihood, with r_qjk the
    posterior expected count of category k of item j at node q."""
    slopes, scores, intercepts = _unpack(point)
    nodes, weights = hermegauss(61)
    log_p = log_softmax(slopes[:, None] * scores * nodes[:, None, None] + intercepts, -1)
    joint = np.einsum("njk,qjk->nq", onehot, log_p) + np.log(weights / weights.sum())
    marginal = logsumexp(joint, axis=1)
    counts = np.einsum("nq,njk->qjk", np.exp(joint - marginal[:, None]), onehot)
    residual = counts - counts.sum(-1, keepdims=True) * np.exp(log_p)  # d/d logit_qjk
    gradient = np.column_stack([
        np.einsum("qjk,jk,q->j", residual, scores, nodes),
        np.einsum("qjk,j,q->jk", residual, slopes, nodes)[:, 1:K - 1],
        residual.sum(0)[:, 1:]])
    return -marginal.sum(), -gradient.ravel()


@pytest.fixture(scope="module")
def recovery():
    """(truth, answers [n, J]): mirt-like nominal items whose categories all occur."""
    rng = np.random.default_rng(0)
    slopes = np.linspace(0.6, 1.3, N_ITEMS)
    scores = np.column_stack([np.zeros(N_ITEMS), rng.uniform(0.5, 1.5, N_ITEMS),
                              rng.uniform(1.5, 2.5, N_ITEMS), np.full(N_ITEMS, K - 1.0)])
    intercepts = np.column_stack([np.zeros(N_ITEMS), rng.uniform(0.5, 2.0, N_ITEMS),
                                  rng.uniform(0.5, 2.5, N_ITEMS), rng.uniform(-0.5, 1.5, N_ITEMS)])
    truth = _recovery_parameters(slopes, scores, intercepts)
    return truth, truth.sample(rng, rng.standard_normal((N_PERSONS, 1)))


@pytest.fixture(scope="module")
def recovery_ml(recovery):
    """The exact ML by L-BFGS with the analytic gradient (~2 s), started at the truth."""
    truth, codes = recovery
    onehot = np.eye(K)[codes]
    result = minimize(_negative_log_likelihood, _free(truth).ravel(), args=(onehot,), jac=True,
                      method="L-BFGS-B", options={"gtol": 1e-6})
    assert result.success
    ml = _recovery_parameters(*_unpack(result.x))
    # The hand-written likelihood is the shared quadrature helper's.
    assert -result.fun == pytest.approx(log_likelihood(ml, codes), rel=1e-10)
    return ml


@pytest.fixture(scope="module")
def recovery_fit(recovery):
    truth, codes = recovery
    return irt.ItemFactorModel(item_type="nominal", seed=0).fit(
        pd.DataFrame(codes, columns=truth.items), verbose=0)


def test_recovery_is_as_close_as_the_exact_ml(recovery, recovery_ml, recovery_fit):
    truth = _free(recovery[0])
    rmse = {name: np.sqrt(np.mean((_free(found) - truth) ** 2))
            for name, found in (("fit", recovery_fit.item_parameters_), ("ml", recovery_ml))}
    # The ML's error is the sampling error of these data (0.058); the fit may add a fifth for
    # its Monte Carlo bound and stopping noise. Measured: ratio 1.00 (seeds 1, 2: 0.89, 1.14).
    assert rmse["fit"] < 1.2 * rmse["ml"]


def test_category_curves_match_the_truth(recovery, recovery_ml, recovery_fit):
    theta = np.linspace(-3, 3, 61)[:, None]
    truth, ml = recovery[0].probabilities(theta), recovery_ml.probabilities(theta)
    fitted = recovery_fit.item_parameters_.probabilities(theta)
    error = {name: max(np.abs(curves[item] - truth[item]).max() for item in truth)
             for name, curves in (("fit", fitted), ("ml", ml))}
    # As for the parameters: the ML's worst error over items, categories and theta (0.055,
    # at |theta| near 3 where few persons are) is the sampling error; measured ratio 0.97.
    assert error["fit"] < 1.2 * error["ml"]
    # And the fitted curves are the ML's: measured 0.008 at most.
    assert max(np.abs(fitted[item] - ml[item]).max() for item in ml) < 0.02
