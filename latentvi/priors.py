"""Priors p(z) over the latent vector.

Each prior is a Keras layer (so its parameters are trained and saved with the model) whose
`distribution()` returns a TFP distribution with event shape [latent_dim].
"""

import warnings

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import positive_int
from latentvi.gaussian import GaussianTriL

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["CorrelatedNormal", "DiagonalNormal", "Normal", "Prior", "StandardNormal"]


class Prior(keras.layers.Layer):
    """Base class of priors p(z); subclass it to write your own.

    The contract:

    - `latent_dim` (int >= 1), passed to `Prior.__init__`;
    - `distribution()` (override): a TFP distribution, float32, with event shape [latent_dim]
      and no batch shape, whose `log_prob` takes z [..., latent_dim] with any leading sample
      and batch dimensions, and whose `sample(n, seed=...)` accepts a stateless seed;
    - trainable parameters are Keras weights made with `self.add_weight` in `__init__` (then
      set `self.built = True`), so that they are trained, saved and restored with the model;
    - serialization: register the class with `keras.saving.register_keras_serializable` and
      return every extra constructor argument from `get_config`.

    `ELBO()` uses the closed-form KL divergence where TFP has one for the pair (posterior,
    prior) and a one-sample estimate elsewhere.
    """

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = positive_int(latent_dim, "latent_dim")

    def distribution(self):
        raise NotImplementedError

    def call(self, n):
        return self.distribution().sample(n)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


@keras.saving.register_keras_serializable("latentvi.priors")
class StandardNormal(Prior):
    """z ~ N(0, I): no parameters."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.built = True

    def distribution(self):
        zeros = tf.zeros([self.latent_dim])
        return tfd.MultivariateNormalDiag(loc=zeros, scale_diag=tf.ones_like(zeros))


@keras.saving.register_keras_serializable("latentvi.priors")
class DiagonalNormal(Prior):
    """z ~ N(loc, diag(scale^2)) with learned `loc` and `scale` (softplus-parameterized)."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.loc = self.add_weight(shape=(self.latent_dim,), initializer="zeros", name="loc")
        # softplus^-1(1) so that the initial prior is N(0, I).
        self.raw_scale = self.add_weight(
            shape=(self.latent_dim,), initializer=keras.initializers.Constant(0.5413248),
            name="raw_scale")
        self.built = True

    @property
    def scale(self):
        return tf.math.softplus(self.raw_scale)

    def distribution(self):
        return tfd.MultivariateNormalDiag(loc=self.loc, scale_diag=self.scale)


@keras.saving.register_keras_serializable("latentvi.priors")
class Normal(DiagonalNormal):
    """Deprecated name of `DiagonalNormal` (kept for one release; models saved under it load)."""

    def __init__(self, latent_dim, **kwargs):
        warnings.warn("latentvi.Normal (a prior) is deprecated: use latentvi.DiagonalNormal",
                      DeprecationWarning, stacklevel=2)
        super().__init__(latent_dim, **kwargs)


@keras.saving.register_keras_serializable("latentvi.priors")
class CorrelatedNormal(Prior):
    """z ~ N(0, R) with R a correlation matrix (unit diagonal), learned through its Cholesky factor.

    R = L L^T where L = CorrelationCholesky(v) has rows of unit length, so diag(R) = 1 always and
    the unit variances identify the latent scale (as in item factor analysis). With
    `trainable=False`, R stays the identity (or `correlation`, if given).

    Args:
      latent_dim: number of latent dimensions (>= 1).
      correlation: optional initial correlation matrix, [latent_dim, latent_dim].
      trainable: whether R is learned.
    """

    def __init__(self, latent_dim, correlation=None, trainable=True, **kwargs):
        super().__init__(latent_dim, trainable=trainable, **kwargs)
        self._bijector = tfb.CorrelationCholesky()
        n_free = self.latent_dim * (self.latent_dim - 1) // 2
        initial = self._unconstrained(correlation) if correlation is not None else None
        self.raw_cholesky = self.add_weight(
            shape=(n_free,), name="raw_cholesky", trainable=trainable,
            initializer="zeros" if initial is None else keras.initializers.Constant(initial))
        self._initial_correlation = correlation
        self.built = True

    def _unconstrained(self, correlation):
        correlation = tf.convert_to_tensor(correlation, tf.float32)
        if correlation.shape != (self.latent_dim, self.latent_dim):
            raise ValueError(
                f"correlation must be a {self.latent_dim} x {self.latent_dim} matrix, "
                f"got shape {tuple(correlation.shape)}")
        return self._bijector.inverse(tf.linalg.cholesky(correlation)).numpy()

    @property
    def scale_tril(self):
        return self._bijector.forward(self.raw_cholesky)

    @property
    def correlation(self):
        """The correlation matrix R as a tensor."""
        return tf.linalg.matmul(self.scale_tril, self.scale_tril, transpose_b=True)

    def distribution(self):
        return GaussianTriL(loc=tf.zeros([self.latent_dim]), scale_tril=self.scale_tril)

    def get_config(self):
        # The learned value travels with the weights; the config only rebuilds the layer.
        return {**super().get_config(), "correlation": None}
