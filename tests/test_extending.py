"""docs/extending.md, run as a user would: its code blocks in order in one namespace, then
checks of what its custom classes (a Poisson likelihood, a mixture prior, a beta-annealed ELBO,
a Student-t posterior) compute against formulas written out here."""

import linecache
import pathlib
import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats
from scipy.special import logsumexp, softmax

import latentvi as lv

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "extending.md"


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture(scope="module")
def doc():
    """The namespace left by the page's code blocks, run once, in order."""
    namespace = {"__name__": "extending_md"}
    for index, block in enumerate(python_blocks(DOC.read_text())):
        filename = f"<docs/extending.md block {index}>"
        # Registered source, so that autograph can read the classes' methods.
        linecache.cache[filename] = (len(block), None, block.splitlines(True), filename)
        with warnings.catch_warnings():
            # The page discusses the k-hat warning of a few borderline rows; it is not a failure.
            warnings.filterwarnings("ignore", message=r"log p\(x\).*Pareto k-hat")
            exec(compile(block, filename, "exec"), namespace)  # noqa: S102 (the page's own code)
    return namespace


def decoder_dense(model):
    """(kernel [d, J], bias [J]) of a linear decoder, float64."""
    dense = [layer for layer in model.likelihood.decoder.layers
             if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 1
    return tuple(w.numpy().astype(np.float64) for w in dense[0].weights)


def poisson_log_prob(model, x, z, mask=None):
    """log p(x | z) of the doc's linear Poisson decoder by SciPy, summed over observed cells."""
    kernel, bias = decoder_dense(model)
    cells = stats.poisson.logpmf(x, np.exp(bias + np.asarray(z, np.float64) @ kernel))
    return np.sum(cells if mask is None else np.where(mask, cells, 0.0), axis=-1)


# -- worked model 1: the Poisson likelihood ---------------------------------------------------

def test_poisson_log_prob_is_the_sum_of_scipy_logpmf(doc):
    model, x = doc["poisson_model"], doc["test"][:4]
    z = np.random.default_rng(5).normal(size=(3, 4, 2)).astype(np.float32)   # [k, n, d]
    got = model.decode(z).log_prob(x).numpy()
    assert got.shape == (3, 4)   # draws and rows lead; the row is the event
    # Rows of ~-20 nats summed from 10 float32 cells (log rates ~1, counts up to ~50): the
    # float32 rounding of x log r - r is ~1e-5 per cell, so 1e-4 per row is a closed-form match.
    np.testing.assert_allclose(got, poisson_log_prob(model, x, z), rtol=0, atol=1e-4)


def test_missing_poisson_cells_add_exactly_zero(doc):
    model = doc["poisson_model"]
    x = doc["test"][:6].copy()
    mask = np.random.default_rng(6).uniform(size=x.shape) > 0.3
    z = np.random.default_rng(7).normal(size=(6, 2)).astype(np.float32)
    masked = model.decode(z, mask=mask).log_prob(x).numpy()
    garbage = np.where(mask, x, 1e4).astype(np.float32)   # what sits in a missing cell
    np.testing.assert_array_equal(model.decode(z, mask=mask).log_prob(garbage).numpy(), masked)
    np.testing.assert_allclose(masked, poisson_log_prob(model, x, z, mask), rtol=0, atol=1e-4)


def test_missing_counts_as_nan_go_through_a_masked_posterior(doc):
    # The page says the likelihood takes NaN cells with GaussianPosterior(masked=True).
    keras.utils.set_random_seed(0)
    model = lv.LatentModel(
        lv.StandardNormal(2), doc["Poisson"](lv.networks.mlp((), output_shape=10)),
        lv.GaussianPosterior(lv.networks.mlp((8,)), 2, masked=True))
    x = doc["test"][:5].copy()
    mask = np.ones_like(x, dtype=bool)
    mask[[0, 2, 4], [1, 5, 9]] = False
    with_nan = np.where(mask, x, np.nan)
    with_zero = np.where(mask, x, 0.0)
    a = lv.log_marginal_likelihood(model, with_nan, num_samples=64, seed=1)
    b = lv.log_marginal_likelihood(model, with_zero, num_samples=64, seed=1, mask=mask)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)   # same cells, draws and seed


def test_log_px_matches_the_integral_over_z(doc):
    # The fitted decoder is linear and z is 2-D, so log p(x) = log of the integral of
    # p(x | z) N(z; 0, I) dz is a grid sum. Here with SciPy's logpmf on a grid whose nodes sit
    # halfway between the page's: the integrand is smooth on a scale of ~0.3 (the posterior's),
    # so a step of 0.1 integrates it to far below 1e-4 nats, and the two grids must agree.
    model, x = doc["poisson_model"], doc["test"]
    grid = np.linspace(-6.45, 6.45, 130)
    z = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    log_joint = poisson_log_prob(model, x[:, None, :], z) + stats.norm.logpdf(z).sum(axis=1)
    exact = logsumexp(log_joint, axis=1) + 2 * np.log(grid[1] - grid[0])
    np.testing.assert_allclose(doc["exact"], exact, rtol=0, atol=1e-4)
    error, se = doc["log_px"] - exact, doc["se"]
    # Each estimate is log of a mean of 1,000 weights: error ~ N(-se^2 / 2, se). 5 SEs
    # (+0.01 for rows whose SE is itself underestimated by a short tail) bound every row.
    assert np.all(np.abs(error) < 5 * se + 0.01), np.max(np.abs(error) / se)
    # The mean error over 100 rows: its SE is sqrt(sum se^2) / 100 (~0.003 here).
    assert abs(np.mean(error)) < 4 * np.sqrt(np.sum(se**2)) / len(x) + 0.002


def test_held_out_log_px_does_not_beat_the_true_model(doc):
    # The simulated model's own log p(x) of the held-out rows (its 3-cluster prior, by the same
    # kind of grid). A fitted model can exceed it only by chance (it was fitted on other rows):
    # a mean above it by more than 3 SEs of the per-row differences would mean a density
    # that does not normalize (e.g. a Poisson missing its log x! term gains ~34 nats a row).
    x = doc["test"]
    grid = np.linspace(-4.0, 4.0, 81)   # step 0.1: see the test above
    z = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    log_prior = logsumexp([stats.multivariate_normal(c, 0.16 * np.eye(2)).logpdf(z)
                           for c in doc["centres"]], axis=0) - np.log(3)
    rates = np.exp(doc["a"] + z @ doc["W"])
    log_likelihood = stats.poisson.logpmf(x[:, None, :], rates).sum(axis=-1)
    truth = logsumexp(log_likelihood + log_prior, axis=1) + 2 * np.log(grid[1] - grid[0])
    assert truth.mean() == pytest.approx(-20.31, abs=0.01)   # the figure the page quotes
    for name in ("log_px", "mixture_log_px", "student_log_px"):
        difference = doc[name] - truth
        slack = 3 * difference.std(ddof=1) / np.sqrt(len(x))
        assert difference.mean() < slack, name
        assert difference.mean() > -0.5, name   # and each comes within half a nat, as quoted


def test_log_px_lies_above_the_elbo(doc):
    # IWAE inequality: E[log mean of S weights] >= E[log w] = ELBO for every row. The ELBO of
    # each row is averaged over 64 fresh draws (log w from IWAE's own log weights); the means
    # over 100 rows are compared with 3 SEs of the per-row differences as slack.
    for name, values in (("poisson_model", "log_px"), ("mixture_model", "mixture_log_px"),
                         ("student_model", "student_log_px")):
        log_w, _ = lv.IWAE(k=64).log_weights(doc[name], doc["test"], seed=tf.constant([4, 4]))
        difference = doc[values] - np.mean(log_w.numpy(), axis=0)
        assert difference.mean() > -3 * difference.std(ddof=1) / np.sqrt(len(difference)), name


# -- worked model 2: the mixture prior ---------------------------------------------------------

def test_mixture_prior_density_matches_the_formula(doc):
    prior = doc["mixture_model"].prior
    p = prior.distribution()
    assert p.event_shape == [2] and p.batch_shape == []   # the Prior contract
    weights = softmax(prior.logits.numpy().astype(np.float64))
    locs = prior.locs.numpy().astype(np.float64)
    scales = prior.scales.numpy().astype(np.float64)
    z = np.random.default_rng(8).normal(size=(3, 5, 2)) * 2
    components = np.stack([np.log(weights[c]) + stats.norm.logpdf(z, locs[c], scales[c]).sum(-1)
                           for c in range(len(weights))])
    expected = logsumexp(components, axis=0)
    # float32 log densities of magnitude < 20: 1e-5 relative.
    np.testing.assert_allclose(p.log_prob(z.astype(np.float32)).numpy(), expected, rtol=1e-5,
                               atol=1e-5)
    draws = p.sample(4, seed=tf.constant([1, 2]))
    assert draws.shape == (4, 2)
    np.testing.assert_array_equal(draws, p.sample(4, seed=tf.constant([1, 2])))  # stateless


def test_elbo_uses_the_sampled_kl_for_the_mixture_prior(doc):
    model, x = doc["mixture_model"], doc["test"][:8]
    seed = tf.constant([3, 9])
    terms = lv.ELBO()(model, x, seed=seed)
    q = model.encode(x)
    z = q.sample(seed=seed)   # the draw the ELBO made with the same seed
    sampled = q.log_prob(z) - model.prior.distribution().log_prob(z)
    np.testing.assert_allclose(terms.gap, sampled, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="closed-form KL"):
        lv.ELBO(kl="analytic")(model, x, seed=seed)


# -- worked model 3: the annealed objective ----------------------------------------------------

def test_annealing_left_beta_on_its_schedule(doc):
    # 60 epochs with a warm-up of 10: beta = min(1, 59 / 10) = 1 when the fit ended.
    assert doc["annealed"].beta.numpy() == 1.0
    objective = doc["AnnealedELBO"](beta=0.0)
    callback = doc["LinearBeta"](objective, warmup_epochs=8)
    for epoch, beta in ((0, 0.0), (3, 0.375), (8, 1.0), (20, 1.0)):
        callback.on_epoch_begin(epoch)
        assert objective.beta.numpy() == beta


def test_annealed_loss_and_bound(doc):
    model, x = doc["annealed_model"], doc["test"][:16]
    objective = doc["AnnealedELBO"](beta=0.3)
    seed = tf.constant([5, 6])
    terms = objective(model, x, seed=seed)
    # bound = reconstruction - gap is one float32 subtraction
    np.testing.assert_allclose(terms.bound, terms.reconstruction - terms.gap, rtol=0,
                               atol=1e-5)
    again, loss = objective.loss(model, x, seed=seed)
    np.testing.assert_array_equal(again.bound, terms.bound)   # the same seed, the same draw
    expected = -(np.mean(terms.reconstruction) - 0.3 * np.mean(terms.gap))
    assert float(loss) == pytest.approx(expected, abs=1e-4)   # means of 16 values ~20: 1e-4


def test_a_compiled_step_reads_beta_at_every_call(doc):
    # The reason beta is a tf.Variable: a compiled step must see the callback's new value
    # without retracing (a Python float would be frozen in at the first trace).
    model, x = doc["annealed_model"], doc["test"][:16]
    objective = doc["AnnealedELBO"](beta=0.0)
    step = tf.function(lambda rows, seed: objective.loss(model, rows, seed=seed))
    seed = tf.constant([7, 8])
    terms, loss_at_0 = step(x, seed)
    objective.beta.assign(0.5)
    _, loss_at_half = step(x, seed)
    assert step.experimental_get_tracing_count() == 1
    assert float(loss_at_half - loss_at_0) == pytest.approx(0.5 * float(np.mean(terms.gap)),
                                                            abs=1e-4)


# -- the Student-t posterior -----------------------------------------------------------------

def test_student_t_posterior_follows_the_contract(doc):
    model, x = doc["student_model"], doc["test"][:6]
    posterior = model.posterior
    q = posterior.distribution(x)
    assert q.batch_shape == [6] and q.event_shape == [2]
    z = q.sample(3, seed=tf.constant([1, 1]))
    assert q.log_prob(z).shape == (3, 6)
    frozen = posterior.stop_gradient(q)
    np.testing.assert_allclose(frozen.log_prob(z), q.log_prob(z), rtol=1e-6)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(posterior.stop_gradient(posterior.distribution(x)).log_prob(z))
    assert all(g is None for g in tape.gradient(value, posterior.trainable_variables))
    # and so IWAE's doubly reparameterized gradient runs on it: a finite gradient for every
    # weight
    _, grads = lv.IWAE(k=4, gradient="dreg").gradients(model, x, seed=tf.constant([2, 2]))
    assert len(grads) == len(model.trainable_variables)
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)


def test_student_t_posterior_lowers_k_hat(doc):
    # The page's claim: median k-hat ~0.3 with the Gaussian q, 0.1 or less with the Student-t,
    # at about the same log p(x). The Student-t's median over 100 rows depends on the fit:
    # with the fit's seed 1..5 it measured 0.10, 0.15, -0.04, -0.04, -0.29 (Gaussian: 0.32).
    gaussian, student = doc["mixture_diagnostics"], doc["student_diagnostics"]
    assert np.median(gaussian.k_hat) > 0.2
    assert np.median(student.k_hat) < min(0.2, np.median(gaussian.k_hat) - 0.1)
    # "a few rows" above 0.7: 6, 3, 0, 0, 0 of the 100 with the fit's seeds 1..5
    assert np.mean(student.unreliable) <= 0.08
    assert abs(doc["student_log_px"].mean() - doc["mixture_log_px"].mean()) < 0.1


# -- saving and loading ------------------------------------------------------------------------

def test_save_load_roundtrip_keeps_every_custom_part(doc):
    loaded, original = doc["loaded"], doc["student_model"]
    assert isinstance(loaded.prior, doc["GaussianMixture"])
    assert isinstance(loaded.likelihood, doc["Poisson"])
    assert isinstance(loaded.posterior, doc["StudentTPosterior"])
    assert isinstance(loaded.objective, doc["AnnealedELBO"])
    assert loaded.prior.n_components == 3 and loaded.posterior.df == 5.0
    x = doc["test"][:10]
    z = original.encode(x).sample(2, seed=tf.constant([4, 4]))
    # Same weights, same operations, same process: equal to the last bit.
    np.testing.assert_array_equal(loaded.log_joint(x, z), original.log_joint(x, z))
    np.testing.assert_array_equal(loaded.encode(x).log_prob(z), original.encode(x).log_prob(z))
    np.testing.assert_array_equal(
        lv.log_marginal_likelihood(loaded, x, num_samples=50, seed=3),
        lv.log_marginal_likelihood(original, x, num_samples=50, seed=3))
