"""Likelihoods: densities against closed forms, masks, parameter shapes."""

import keras
import numpy as np
from scipy import special, stats

import latentvi as lv


def _identity_decoder():
    return keras.Sequential([keras.layers.Identity()])


def test_bernoulli_log_prob():
    likelihood = lv.Bernoulli(_identity_decoder())
    logits = np.array([[0.5, -1.0, 2.0]], np.float32)
    x = np.array([[1.0, 0.0, 0.0]], np.float32)
    p = special.expit(logits)
    expected = np.sum(x * np.log(p) + (1 - x) * np.log1p(-p))
    np.testing.assert_allclose(likelihood.distribution(logits).log_prob(x), expected, rtol=1e-5)


def test_normal_fixed_and_learned_scale():
    loc = np.array([[0.5, -1.0]], np.float32)
    x = np.array([[0.0, 0.0]], np.float32)
    fixed = lv.likelihoods.Normal(_identity_decoder(), scale=0.5)
    np.testing.assert_allclose(fixed.distribution(loc).log_prob(x),
                               stats.norm.logpdf(x, loc, 0.5).sum(), rtol=1e-5)
    learned = lv.likelihoods.Normal(_identity_decoder())
    learned.distribution(loc)  # builds the per-cell scale
    assert learned.raw_scale.shape == (2,)
    np.testing.assert_allclose(learned.scale, [1, 1], rtol=1e-4)


def test_categorical_over_image_shaped_rows():
    likelihood = lv.Categorical(lv.networks.mlp((), output_shape=(3, 4, 5)))
    z = np.random.default_rng(0).normal(size=(2, 2)).astype(np.float32)
    x = np.random.default_rng(1).integers(0, 5, size=(2, 3, 4)).astype(np.float32)
    dist = likelihood.distribution(z)
    log_p = special.log_softmax(likelihood.decoder(z).numpy(), axis=-1)
    expected = np.take_along_axis(log_p, x[..., None].astype(int), -1).sum(axis=(1, 2, 3))
    assert dist.event_shape == (3, 4)
    np.testing.assert_allclose(dist.log_prob(x), expected, rtol=1e-5)


def test_ordered_logistic_is_the_graded_response_model():
    # P(x >= k | eta) = sigmoid(eta - c_k): category probabilities are differences of these.
    likelihood = lv.OrderedLogistic(_identity_decoder(), n_categories=4)
    eta = np.array([[0.7, -0.4]], np.float32)
    dist = likelihood.distribution(eta)
    cutpoints = likelihood.cutpoints.numpy()
    assert cutpoints.shape == (2, 3) and np.all(np.diff(cutpoints, axis=-1) > 0)
    upper = np.concatenate([np.ones((2, 1)), special.expit(eta.T - cutpoints), np.zeros((2, 1))],
                           axis=1)
    probabilities = upper[:, :-1] - upper[:, 1:]  # [cell, category]
    for category in range(4):
        x = np.full((1, 2), category, np.float32)
        expected = np.log(probabilities[:, category]).sum()
        np.testing.assert_allclose(dist.log_prob(x), expected, rtol=1e-5)


def test_mask_drops_cells_for_every_likelihood():
    logits = np.array([[0.5, -1.0, 2.0]], np.float32)
    x = np.array([[1.0, 0.0, 0.0]], np.float32)
    mask = np.array([[True, False, True]])
    for likelihood in (lv.Bernoulli(_identity_decoder()),
                       lv.likelihoods.Normal(_identity_decoder(), scale=1.0),
                       lv.OrderedLogistic(_identity_decoder(), n_categories=3)):
        likelihood.distribution(logits)  # builds cell parameters
        cells = likelihood.elementwise(logits).log_prob(x).numpy()
        np.testing.assert_allclose(likelihood.distribution(logits, mask).log_prob(x),
                                   cells[mask].sum(), rtol=1e-5)
