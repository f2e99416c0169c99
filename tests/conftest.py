"""Shared fixtures: a factor-analysis model with a closed-form log p(x), and two logical CPUs.

Factor analysis: z ~ N(0, I_d), x | z ~ N(W z + b, diag(psi)), so x ~ N(b, W W^T + diag(psi))
and q(z | x) = N(M (x - b), S) with S = (I + W^T Psi^-1 W)^-1, M = S W^T Psi^-1 is exact.
"""

# isort: off
import latentvi as lv  # first: it imports TensorFlow without its C++ start-up log lines
# isort: on

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

# MirroredStrategy tests need two logical CPUs, which can only be set before TF initializes.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


class FactorAnalysis:
    """A known FA model: parameters, simulation and exact log-likelihood."""

    def __init__(self, n_features=6, latent_dim=2, seed=0):
        rng = np.random.default_rng(seed)
        self.weights = rng.normal(size=(n_features, latent_dim)).astype(np.float32)
        self.bias = rng.normal(size=n_features).astype(np.float32)
        self.psi = rng.uniform(0.2, 0.6, size=n_features).astype(np.float32)
        self.latent_dim = latent_dim

    def simulate(self, n, seed):
        rng = np.random.default_rng(seed)
        z = rng.normal(size=(n, self.latent_dim))
        noise = rng.normal(size=(n, len(self.bias))) * np.sqrt(self.psi)
        return (z @ self.weights.T + self.bias + noise).astype(np.float32)

    def log_prob(self, x):
        covariance = self.weights @ self.weights.T + np.diag(self.psi)
        return stats.multivariate_normal(self.bias, covariance).logpdf(x)

    def posterior(self):
        """(M, S) of the exact posterior q(z | x) = N(M (x - b), S)."""
        precision = np.eye(self.latent_dim) + self.weights.T @ np.diag(1 / self.psi) @ self.weights
        cov = np.linalg.inv(precision)
        return cov @ self.weights.T @ np.diag(1 / self.psi), cov

    def model(self, covariance="full", scale_factor=1.0):
        """A LatentModel holding the true parameters and the exact posterior (scale x factor;
        covariance='diag' keeps only the posterior's marginal standard deviations)."""
        d, p = self.latent_dim, len(self.bias)
        model = linear_model(p, d, covariance)
        model.build_for_shape((p,))
        dense = model.likelihood.decoder.layers[-2]
        dense.set_weights([self.weights.T, self.bias])
        model.likelihood.raw_scale.assign(_softplus_inverse(np.sqrt(self.psi)))
        loc_map, cov = self.posterior()
        scale = np.linalg.cholesky(cov) * scale_factor
        kernel = np.zeros((p, d + (d if covariance == "diag" else d * (d + 1) // 2)), np.float32)
        kernel[:, :d] = loc_map.T
        bias = np.zeros(kernel.shape[1], np.float32)
        bias[:d] = -loc_map @ self.bias
        if covariance == "diag":
            bias[d:] = _softplus_inverse(np.sqrt(np.diag(cov)) * scale_factor - 1e-5)
        else:
            raw = scale.copy()
            np.fill_diagonal(raw, _softplus_inverse(np.diag(scale) - 1e-5))
            bias[d:] = raw[np.tril_indices(d)]
        model.posterior.head.set_weights([kernel, bias])
        return model


def linear_model(n_features, latent_dim, covariance="full", masked=False):
    """Linear decoder, learned per-feature noise, linear Gaussian encoder (FA's exact family)."""
    return lv.LatentModel(
        lv.StandardNormal(latent_dim),
        lv.likelihoods.Normal(lv.networks.mlp((), output_shape=n_features)),
        lv.GaussianPosterior(keras.layers.Identity(), latent_dim, covariance=covariance,
                             masked=masked))


def _softplus_inverse(y):
    return np.log(np.expm1(np.asarray(y, np.float64))).astype(np.float32)


@pytest.fixture(scope="session")
def factor_analysis():
    return FactorAnalysis()


@pytest.fixture(scope="session")
def fa_data(factor_analysis):
    """5,000 training rows and 2,000 held-out rows from the known FA model."""
    return factor_analysis.simulate(5000, seed=1), factor_analysis.simulate(2000, seed=2)


@pytest.fixture(scope="session")
def fitted_fa(fa_data):
    """A linear model fitted to the FA training rows (shared by several tests)."""
    train, test = fa_data
    model = linear_model(train.shape[1], 2)
    result = lv.fit(model, train, objective=lv.IWAE(k=5), epochs=40, batch_size=100,
                    learning_rate=0.01, validation_data=test, seed=3, verbose=0)
    return model, result


@pytest.fixture(scope="session")
def lsat7():
    """LSAT7, 1,000 persons x 5 binary items."""
    from latentvi.datasets import load_lsat7
    return load_lsat7()


@pytest.fixture(scope="session")
def lsat7_2pl(lsat7):
    """The default one-factor 2PL fitted to LSAT7 (seed 0), read-only: shared by the tests of
    what a fitted model reports (standard errors, fit statistics, residuals)."""
    from latentvi import irt
    return irt.ItemFactorModel(1, seed=0).fit(lsat7, verbose=0)
