"""GaussianTriL (latentvi/gaussian.py) against TFP's MultivariateNormalTriL."""

import numpy as np
import pytest
import tensorflow_probability as tfp

from latentvi.gaussian import GaussianTriL

tfd = tfp.distributions
RNG = np.random.default_rng(0)


def scales(batch, dim):
    """Random lower-triangular factors with a diagonal near 1.2."""
    raw = np.tril(RNG.normal(size=batch + (dim, dim)) * 0.3) + 1.2 * np.eye(dim)
    return raw.astype(np.float32)


@pytest.mark.parametrize("dim", [1, 3, 10])
@pytest.mark.parametrize("batch, x_shape", [
    ((7,), (7,)), ((7,), (4, 7)), ((7,), (2, 3, 7)), ((7,), (4, 1)), ((7,), ()),  # one q per row
    ((), (7,)), ((), (4, 7)), ((), ()),  # the prior: one scale for every draw
])
def test_log_prob_equals_tfp_for_every_broadcast(dim, batch, x_shape):
    # The same density computed two ways; float32 round-off of sums over up to 10 dimensions
    # is below 1e-4 in absolute terms at these magnitudes.
    loc = RNG.normal(size=batch + (dim,)).astype(np.float32)
    scale = scales(batch, dim)
    x = RNG.normal(size=x_shape + (dim,)).astype(np.float32)
    expected = tfd.MultivariateNormalTriL(loc, scale).log_prob(x).numpy()
    got = GaussianTriL(loc, scale).log_prob(x).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dim", [1, 4])
def test_samples_have_the_mean_and_covariance(dim):
    # 200,000 draws: the standard error of a mean is ~0.003 and of a covariance entry ~0.005 at
    # these scales; 0.02 and 0.03 are over 5 standard errors.
    loc = RNG.normal(size=(3, dim)).astype(np.float32)
    scale = scales((3,), dim)
    z = GaussianTriL(loc, scale).sample(200_000, seed=[1, 2]).numpy()
    assert z.shape == (200_000, 3, dim)
    np.testing.assert_allclose(z.mean(axis=0), loc, atol=0.02)
    for row in range(3):
        covariance = np.cov(z[:, row].T).reshape(dim, dim)
        np.testing.assert_allclose(covariance, scale[row] @ scale[row].T, atol=0.03)
    prior = GaussianTriL(np.zeros(dim, np.float32), scale[0])
    assert prior.sample([5, 2], seed=[3, 4]).shape == (5, 2, dim)
