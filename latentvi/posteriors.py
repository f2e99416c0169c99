"""Amortized posteriors q(z | x): the `Posterior` contract and the Gaussian family.

A posterior is a Keras layer that maps a batch of data rows (and their observation mask) to a
TFP distribution over the latent vector, one per row. `latentvi.flows.FlowPosterior` puts a
normalizing flow on top of the Gaussian.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import one_of, positive_int
from latentvi.gaussian import GaussianDiag, GaussianTriL

tfd = tfp.distributions

__all__ = ["GaussianPosterior", "Posterior", "stop_gradient"]

_MIN_SCALE = 1e-5


class Posterior(keras.layers.Layer):
    """Base class of amortized posteriors q(z | x); subclass it to write your own.

    The contract (what `LatentModel`, the objectives and `log_marginal_likelihood` rely on):

    - attributes `latent_dim` (int >= 1) and `masked` (bool: whether `distribution` uses the
      observation mask, so the model can take missing cells);
    - `distribution(x, mask=None, training=False)` (override): for x [n, *row_shape] float32
      (and a boolean mask of the same shape, True = observed, when `masked`), a TFP
      distribution with batch shape [n] and event shape [latent_dim], float32, whose `sample`
      is reparameterized (gradients flow from the draws to the layer's weights) and whose
      `log_prob` takes draws with leading sample dimensions, [k, n, latent_dim] -> [k, n];
    - `stop_gradient(q)` (override for `IWAE(gradient='dreg')`): a distribution with the same
      density as `q` that recomputes log q(z) from z alone: its value at z must not depend on
      the posterior's weights except through z (DReG differentiates log q only through the
      draws). The default raises NotImplementedError;
    - `location(x, mask=None)`: a point summary per row, [n, latent_dim] (the default is the
      distribution's mean); `LatentModel.__call__` and the latent-space plots use it;
    - serialization: register the class with `keras.saving.register_keras_serializable` and
      return every constructor argument from `get_config`, layers among them through
      `keras.saving.serialize_keras_object` with their names listed in `nested_layers` (the
      default `from_config` rebuilds those), so that `LatentModel.save` / `load_model` work.

    `encoder_inputs(x, mask)` gives what an encoder network should see: x, or [x * mask, mask]
    concatenated along the last axis when `masked` (a missing cell differs from an observed 0).
    """

    def __init__(self, latent_dim, masked=False, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        self.masked = bool(masked)

    def encoder_inputs(self, x, mask=None):
        """What the encoder sees: x, or [x * mask, mask] when masked."""
        x = tf.convert_to_tensor(x, tf.float32)
        if not self.masked:
            return x
        mask = tf.ones_like(x) if mask is None else tf.cast(mask, tf.float32)
        return tf.concat([x * mask, mask], axis=-1)

    def distribution(self, x, mask=None, training=False):
        """q(z | x): batch shape [n], event shape [latent_dim]."""
        raise NotImplementedError(f"{type(self).__name__} must implement distribution()")

    def stop_gradient(self, q):
        """q's density, recomputed from the draws alone (for DReG)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement stop_gradient(q), which "
            f"IWAE(gradient='dreg') needs; use IWAE(gradient='reparam')")

    def location(self, x, mask=None):
        """A point summary of q(z | x) per row, [n, latent_dim]: its mean."""
        return self.distribution(x, mask=mask).mean()

    # Constructor arguments that are layers, serialized by `get_config` with
    # keras.saving.serialize_keras_object and rebuilt by `from_config`.
    nested_layers = ()

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "masked": self.masked}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in cls.nested_layers:
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable("latentvi.posteriors")
class GaussianPosterior(Posterior):
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

    nested_layers = ("encoder",)

    def __init__(self, encoder, latent_dim, covariance="diag", masked=False, **kwargs):
        super().__init__(latent_dim, masked=masked, **kwargs)
        if not callable(encoder):
            raise TypeError(f"encoder must be a Keras layer or model, got {type(encoder).__name__}")
        self.encoder = encoder
        self.covariance = one_of(covariance, ("diag", "full"), "covariance")
        d = self.latent_dim
        n_scale = d if covariance == "diag" else d * (d + 1) // 2
        self.head = keras.layers.Dense(d + n_scale, name="head")

    def build(self, input_shape):
        # The encoder and head build themselves on their first call.
        self.built = True

    def call(self, inputs, training=False):
        return self.head(self.encoder(inputs, training=training))

    def features(self, x, mask=None, training=False):
        """The encoder's output for rows x, [n, units]."""
        return self.encoder(self.encoder_inputs(x, mask), training=training)

    def gaussian(self, features):
        """The Gaussian q(z | x) from the encoder's features."""
        outputs = self.head(features)
        loc, raw_scale = outputs[..., :self.latent_dim], outputs[..., self.latent_dim:]
        if self.covariance == "diag":
            return GaussianDiag(loc=loc, scale_diag=_positive(raw_scale))
        return GaussianTriL(loc=loc, scale_tril=_scale_tril(raw_scale))

    def distribution(self, x, mask=None, training=False):
        """q(z | x): a batch of multivariate normals, event shape [latent_dim]."""
        return self.gaussian(self.features(x, mask, training=training))

    def stop_gradient(self, q):
        """The same Gaussian with its parameters cut from the graph (for DReG's log q term)."""
        return stop_gradient(q)

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder),
                "covariance": self.covariance}


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
        return GaussianDiag(loc=loc, scale_diag=tf.stop_gradient(q.scale.diag))
    return GaussianTriL(loc=loc, scale_tril=tf.stop_gradient(q.scale.to_dense()))
