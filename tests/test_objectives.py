"""ELBO and IWAE: per-row values, closed-form checks on factor analysis, gradient estimators."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import latentvi as lv


@pytest.fixture(scope="module")
def loose_model(factor_analysis):
    """True FA parameters with a diagonal posterior 50% too wide: a visible bound gap."""
    return factor_analysis.model(covariance="diag", scale_factor=1.5)


def _mean_bound(model, objective, x, seed):
    return objective(model, x, seed=tf.constant([seed, 0])).bound.numpy()


def test_iwae_below_exact_and_rising_with_k(factor_analysis, loose_model):
    # Burda et al. (2016), Thm 1: E[IWAE_k] <= E[IWAE_{k+1}] <= log p(x). Comparing per-row gaps
    # to the exact log p(x) on the same 2,000 rows removes the row-to-row spread; the paired
    # differences between k = 1, 5, 50 must exceed 3 standard errors.
    x = factor_analysis.simulate(2000, seed=20)
    exact = factor_analysis.log_prob(x)
    gaps = [_mean_bound(loose_model, lv.IWAE(k=k), x, seed=k) - exact for k in (1, 5, 50)]
    for smaller, larger in itertools.pairwise(gaps):
        rise = larger - smaller
        assert rise.mean() > 3 * rise.std() / np.sqrt(len(rise))
    assert gaps[-1].mean() < 3 * gaps[-1].std() / np.sqrt(len(x))
    assert gaps[0].mean() < -0.05  # the loose posterior leaves a visible ELBO gap


def test_iwae_one_sample_equals_sampled_kl_elbo(factor_analysis, loose_model):
    # Same seed, same z: IWAE_1 and the sampled-KL ELBO are the same number per row.
    x = factor_analysis.simulate(64, seed=21)
    iwae = lv.IWAE(k=1)(loose_model, x, seed=tf.constant([5, 0]))
    elbo = lv.ELBO(kl="sample")(loose_model, x, seed=tf.constant([5, 0]))
    for a, b in zip(iwae, elbo):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


def test_per_row_values_do_not_depend_on_the_batch(factor_analysis, loose_model):
    # The logsumexp runs over each row's own samples: a row's value does not change with the
    # other rows in its batch (exact posterior: the bound is log p(x) whatever the draws).
    model = factor_analysis.model(covariance="full")
    x = factor_analysis.simulate(10, seed=22)
    whole = lv.IWAE(k=7)(model, x, seed=tf.constant([1, 0])).bound.numpy()
    alone = lv.IWAE(k=7)(model, x[3:4], seed=tf.constant([2, 0])).bound.numpy()
    assert whole.shape == (10,)
    np.testing.assert_allclose(alone[0], whole[3], atol=2e-3)


def test_analytic_kl_equals_monte_carlo_kl(factor_analysis, loose_model):
    # KL(q || p) for Gaussians in closed form vs the mean of log q(z) - log p(z) over 20,000
    # draws; the two must agree within 4 Monte Carlo standard errors for every row.
    x = factor_analysis.simulate(5, seed=23)
    q = loose_model.encode(x)
    prior = loose_model.prior.distribution()
    analytic = tfp.distributions.kl_divergence(q, prior).numpy()
    z = q.sample(20000, seed=(3, 4))
    draws = (q.log_prob(z) - prior.log_prob(z)).numpy()
    error = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - analytic) < 4 * error)


def _gradients_of(model, part, objective, x, seed):
    """The objective's training gradient for the weights of one part of the model, flattened."""
    _, grads = objective.gradients(model, x, seed=seed)
    ids = {id(v) for v in part.trainable_variables}
    return tf.concat([tf.reshape(g, [-1]) for v, g in zip(model.trainable_variables, grads)
                      if id(v) in ids], 0)


def _encoder_gradient(model, objective, x, seeds):
    one = tf.function(lambda seed: _gradients_of(model, model.posterior, objective, x, seed))

    return np.stack([one(tf.constant([s, 0])).numpy() for s in seeds])


def test_dreg_and_reparam_encoder_gradients_agree_in_expectation(factor_analysis, loose_model):
    # Both estimate the gradient of the same IWAE bound with respect to the encoder's weights
    # (Tucker et al. 2019); with 300 independent draws each, every coordinate of the two means
    # must agree within 4.5 combined standard errors (a Bonferroni-safe margin for ~100 coords).
    x = factor_analysis.simulate(8, seed=24)
    seeds = range(300)
    reparam = _encoder_gradient(loose_model, lv.IWAE(k=10), x, seeds)
    dreg = _encoder_gradient(loose_model, lv.IWAE(k=10, gradient="dreg"), x, seeds)
    error = np.hypot(reparam.std(0), dreg.std(0)) / np.sqrt(len(seeds)) + 1e-7
    assert np.max(np.abs(reparam.mean(0) - dreg.mean(0)) / error) < 4.5
    # DReG's point: lower variance for the encoder gradient.
    assert dreg.std(0).mean() < reparam.std(0).mean()


def test_dreg_encoder_gradient_equals_tuckers_surrogate_loss(factor_analysis, loose_model):
    # Tucker et al. (2019) write the encoder's DReG estimator as the gradient of
    # -mean_n sum_i w_i^2 log w_i, w normalized and held constant, log q evaluated with q's
    # parameters held constant. The one-backward-pass implementation must give the same numbers
    # for the same draws (float32 round-off only).
    from latentvi.posteriors import stop_gradient
    x = factor_analysis.simulate(8, seed=27)
    objective, seed = lv.IWAE(k=10, gradient="dreg"), tf.constant([5, 0])
    variables = loose_model.posterior.trainable_variables
    with tf.GradientTape() as tape:
        q = loose_model.encode(x)
        z = q.sample(10, seed=seed)
        log_w, _ = lv.objectives.importance_log_weights(loose_model, x, z, stop_gradient(q))
        weights = tf.stop_gradient(tf.nn.softmax(log_w, axis=0))
        loss = -tf.reduce_mean(tf.reduce_sum(tf.square(weights) * log_w, axis=0))
    expected = tf.concat([tf.reshape(g, [-1]) for g in tape.gradient(loss, variables)], 0)
    got = _gradients_of(loose_model, loose_model.posterior, objective, x, seed)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)


def test_dreg_generative_gradient_is_the_iwae_gradient(factor_analysis, loose_model):
    # For decoder and prior weights DReG keeps the standard IWAE gradient: identical per seed.
    x = factor_analysis.simulate(8, seed=25)
    grads = [_gradients_of(loose_model, loose_model.likelihood, objective, x,
                           tf.constant([9, 0])).numpy()
             for objective in (lv.IWAE(k=10), lv.IWAE(k=10, gradient="dreg"))]
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-5)


def test_beta_weights_the_kl_in_training_only(factor_analysis, loose_model):
    x = factor_analysis.simulate(16, seed=26)
    seed = tf.constant([1, 2])
    terms, loss = lv.ELBO(beta=4.0).loss(loose_model, x, seed=seed)
    np.testing.assert_allclose(terms.bound, terms.reconstruction - terms.gap, rtol=1e-6)
    expected = -np.mean(terms.reconstruction.numpy() - 4.0 * terms.gap.numpy())
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("make, message", [
    (lambda: lv.IWAE(k=0), "k"),
    (lambda: lv.IWAE(k=5, gradient="score"), "gradient"),
    (lambda: lv.ELBO(kl="exact"), "kl"),
    (lambda: lv.ELBO(beta=-1.0), "beta"),
])
def test_bad_objective_settings_name_the_argument(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()
