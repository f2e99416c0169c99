"""Amortized Gaussian posteriors q(z | x)."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import one_of, positive_int
from latentvi.gaussian import GaussianTriL

tfd = tfp.distributions

__all__ = ["GaussianPosterior"]

_MIN_SCALE = 1e-5


@keras.saving.register_keras_serializable("latentvi.posteriors")
class GaussianPosterior(keras.layers.Layer):
    """q(z | x) = N(loc(x), S(x) S(x)^T), with loc and S computed by an encoder network and a head.

    The encoder maps data rows to a feature vector; a dense head maps the features to `loc` and
    to the scale: a positive diagonal (`covariance='diag'`) or a lower-triangular factor with
    positive diagonal (`covariance='full'`, which captures posterior correlations between latent
    dimensions at the cost of latent_dim * (latent_dim + 1) / 2 outputs).

    With `masked=True` the encoder receives the row and its observation mask concatenated along
    the last axis, [x * mask, mask], so that it can tell a missing cell from an observed zero.

    Args:
      encoder: Keras network x -> features [n, units].
      latent_dim: number of latent dimensions (>= 1).
      covariance: 'diag' or 'full'.
      masked: whether the encoder sees the observation mask.
    """

    def __init__(self, encoder, latent_dim, covariance="diag", masked=False, **kwargs):
        super().__init__(**kwargs)
        if not callable(encoder):
            raise TypeError(f"encoder must be a Keras layer or model, got {type(encoder).__name__}")
        self.encoder = encoder
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        self.covariance = one_of(covariance, ("diag", "full"), "covariance")
        self.masked = bool(masked)
        d = self.latent_dim
        n_scale = d if covariance == "diag" else d * (d + 1) // 2
        self.head = keras.layers.Dense(d + n_scale, name="head")

    def encoder_inputs(self, x, mask=None):
        """What the encoder sees: x, or [x * mask, mask] when masked."""
        x = tf.convert_to_tensor(x, tf.float32)
        if not self.masked:
            return x
        mask = tf.ones_like(x) if mask is None else tf.cast(mask, tf.float32)
        return tf.concat([x * mask, mask], axis=-1)

    def build(self, input_shape):
        # The encoder and head build themselves on their first call.
        self.built = True

    def call(self, inputs, training=False):
        return self.head(self.encoder(inputs, training=training))

    def distribution(self, x, mask=None, training=False):
        """q(z | x): a batch of multivariate normals, event shape [latent_dim]."""
        outputs = self(self.encoder_inputs(x, mask), training=training)
        loc, raw_scale = outputs[..., :self.latent_dim], outputs[..., self.latent_dim:]
        if self.covariance == "diag":
            return tfd.MultivariateNormalDiag(loc=loc, scale_diag=_positive(raw_scale))
        return GaussianTriL(loc=loc, scale_tril=_scale_tril(raw_scale))

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder),
                "latent_dim": self.latent_dim, "covariance": self.covariance, "masked": self.masked}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def _positive(raw):
    return tf.math.softplus(raw) + _MIN_SCALE


def _scale_tril(raw):
    """Lower-triangular factor with positive diagonal from d (d + 1) / 2 free values.

    The free values fill the lower triangle row by row (numpy.tril_indices order) and the
    diagonal goes through softplus. Built from a gather with fixed indices and an elementwise
    select: tfb.FillScaleTriL's gradient makes dynamically shaped zeros that XLA cannot compile.
    """
    n = raw.shape[-1]
    d = int((np.sqrt(8 * n + 1) - 1) / 2)
    index = np.full((d, d), n)
    index[np.tril_indices(d)] = np.arange(n)
    padded = tf.concat([raw, tf.zeros_like(raw[..., :1])], axis=-1)
    tril = tf.gather(padded, index, axis=-1)
    return tf.where(np.eye(d, dtype=bool), _positive(tril), tril)


def stop_gradient(q):
    """The same Gaussian with its parameters cut from the graph (for DReG's log q term)."""
    loc = tf.stop_gradient(q.loc)
    if isinstance(q.scale, tf.linalg.LinearOperatorDiag):
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.stop_gradient(q.scale.diag))
    return GaussianTriL(loc=loc, scale_tril=tf.stop_gradient(q.scale.to_dense()))
