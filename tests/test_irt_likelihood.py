"""The item response likelihood (latentvi/irt/likelihood.py) against closed forms."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit

import latentvi
from latentvi.irt import training
from latentvi.irt.likelihood import ItemResponse, ItemSlopes


def graded_probabilities(eta, intercepts):
    """P(x = k) = P*(k) - P*(k+1), P*(k) = sigmoid(eta + d_k), by hand."""
    cumulative = np.concatenate([[1.0], expit(eta + np.asarray(intercepts)), [0.0]])
    return cumulative[:-1] - cumulative[1:]


@pytest.fixture(scope="module")
def mixed():
    """Three items with 2, 4 and 3 categories on one factor, with set parameters."""
    slopes = ItemSlopes(3, 1)
    likelihood = ItemResponse(slopes, [2, 4, 3])
    likelihood.parameters_for(tf.zeros([1, 1]))
    slopes.kernel.assign([[1.5], [0.7], [1.2]])
    likelihood.groups[0].first_intercept.assign([0.3, 1.0, 0.5])
    likelihood.groups[0].raw_steps.assign(np.log(np.expm1([[1.0, 1.0], [0.8, 1.5], [2.0, 1.0]])))
    return likelihood


def test_category_probabilities_match_the_graded_model(mixed):
    z = np.array([[-1.0], [0.4]], np.float32)
    log_probs = mixed.category_log_probs(mixed.decoder(z)).numpy()
    intercepts = [[0.3], [1.0, 0.2, -1.3], [0.5, -1.5]]
    for row, theta in enumerate(z[:, 0]):
        for item, (a, d) in enumerate(zip([1.5, 0.7, 1.2], intercepts)):
            expected = graded_probabilities(a * theta, d)
            got = np.exp(log_probs[row, item, :len(expected)])
            # float32 arithmetic: 1e-5 relative is a few ulps of the log-probabilities.
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
            assert np.exp(log_probs[row, item, len(expected):]).sum() < 1e-30  # padding


def test_masked_row_log_prob_sums_observed_items_only(mixed):
    z = tf.constant([[0.4]])
    x = tf.constant([[1.0, 3.0, 0.0]])
    mask = tf.constant([[True, True, False]])
    got = mixed.distribution(z, mask=mask).log_prob(x).numpy()[0]
    expected = np.log(graded_probabilities(1.5 * 0.4, [0.3])[1]) + np.log(
        graded_probabilities(0.7 * 0.4, [1.0, 0.2, -1.3])[3])
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_binary_items_are_bernoulli_with_logit_a_z_plus_d():
    slopes = ItemSlopes(2, 2, pattern=[[1, 0], [1, 1]])
    likelihood = ItemResponse(slopes, [2, 2])
    likelihood.parameters_for(tf.zeros([1, 2]))
    slopes.kernel.assign([[1.0, 9.0], [0.5, -0.5]])
    likelihood.groups[0].first_intercept.assign([0.2, -0.3])
    z = np.array([[0.5, 2.0]], np.float32)
    logits = np.array([1.0 * 0.5 + 0.2, 0.5 * 0.5 - 0.5 * 2.0 - 0.3])  # pattern zeroes the 9
    got = likelihood.distribution(z).log_prob(np.array([[1.0, 0.0]], np.float32)).numpy()
    np.testing.assert_allclose(got, np.log(expit(logits[0])) + np.log(1 - expit(logits[1])),
                               rtol=1e-6)


def test_equal_slopes_share_one_slope_per_factor():
    slopes = ItemSlopes(4, 1, equal_slopes=True)
    slopes.kernel.assign([1.3])
    np.testing.assert_allclose(slopes.slopes.numpy(), np.full((4, 1), 1.3))


def test_intercepts_stay_ordered_for_any_weights(mixed):
    saved = mixed.groups[0].raw_steps.numpy()
    mixed.groups[0].raw_steps.assign(np.random.default_rng(0).normal(0, 5, saved.shape))
    assert np.all(np.diff(mixed.groups[0].intercepts.numpy(), axis=1) < 0)
    mixed.groups[0].raw_steps.assign(saved)


def test_model_saves_and_loads_with_the_same_likelihood(tmp_path):
    model = training.build_model([2, 5, 3], 2, np.array([[1, 0], [1, 1], [0, 1]], np.float32),
                                 False, True, seed=3)
    x = np.array([[1, 4, 2], [0, 0, 1]], np.float32)
    z = np.array([[0.3, -0.2], [1.0, 0.5]], np.float32)
    before = model.log_joint(x, z).numpy()
    path = str(tmp_path / "irt.keras")
    model.save(path)
    loaded = latentvi.load_model(path)
    np.testing.assert_allclose(loaded.log_joint(x, z).numpy(), before, rtol=1e-6)
    assert loaded.likelihood.n_categories == [2, 5, 3]


def test_sampled_categories_follow_the_probabilities(mixed):
    eta = mixed.decoder(tf.constant([[0.4]]))
    cells = mixed.elementwise(eta)
    draws = cells.sample(20000, seed=[1, 2]).numpy()[:, 0, :]
    expected = np.exp(mixed.category_log_probs(eta).numpy()[0])
    for item, n_categories in enumerate([2, 4, 3]):
        frequency = np.bincount(draws[:, item].astype(int), minlength=4)[:4] / 20000
        # binomial SD of a frequency with n = 20,000 is at most 0.0035; 4 SDs.
        np.testing.assert_allclose(frequency[:n_categories], expected[item, :n_categories],
                                   atol=0.014)
        assert frequency[n_categories:].sum() == 0
