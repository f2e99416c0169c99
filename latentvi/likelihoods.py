"""Likelihoods p(x | z): a decoder network followed by a TFP distribution over one data row.

The decoder maps latent vectors [n, latent_dim] to distribution parameters [n, *row_shape]
(or [n, *row_shape, K] for `Categorical`). `distribution(z, mask)` returns a distribution whose
event is one whole data row; with a boolean `mask` of the row's shape, its `log_prob` sums over
observed cells only (missing cells contribute exactly 0), so missing data is never imputed.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import positive_float, positive_int

tfd = tfp.distributions

__all__ = ["Bernoulli", "BernoulliCells", "Categorical", "Likelihood", "Normal", "OrderedLogistic"]


class Likelihood(keras.layers.Layer):
    """Base class of likelihoods p(x | z); subclass it to write your own.

    A likelihood decodes z with its `decoder` network, turns the decoder's output into one
    distribution per data cell, and sums log-probabilities over each row's observed cells.
    The contract:

    - `elementwise(params)` (override): for the decoder's output params [..., *row_shape]
      (plus `parameter_ndims` trailing parameter axes), a TFP distribution with scalar events
      and batch shape [..., *row_shape], float32 `log_prob` for float32 data. Leading
      dimensions are draws and rows ([k, n] or [n]). Value 0 must be in its support: missing
      cells are replaced by 0 before `log_prob` and then masked out.
    - `parameter_ndims` (class attribute, default 0): trailing axes of the decoder output that
      are parameters of one cell rather than cells (1 for `Categorical`'s logits [.., K]).
    - `build_parameters(output_shape)` (optional): create weights that depend on the decoder's
      output shape (one scale per cell, cutpoints) with `self.add_weight`, then set
      `self.built = True`. Called on the first decode.
    - `penalty()` (optional): a scalar added to the training loss (e.g. minus a log-prior of
      the likelihood's own parameters).
    - serialization: register the class with `keras.saving.register_keras_serializable` and
      return every extra constructor argument from `get_config`; the decoder is serialized
      here.

    `distribution(z, mask)` then returns p(x | z) with one whole row as its event; with a mask
    (True = observed) its `log_prob` sums over observed cells only, so missing cells add 0.
    """

    parameter_ndims = 0

    def __init__(self, decoder, **kwargs):
        super().__init__(**kwargs)
        if not callable(decoder):
            raise TypeError(f"decoder must be a Keras layer or model, got {type(decoder).__name__}")
        self.decoder = decoder

    def call(self, z, training=False):
        return self.decoder(z, training=training)

    def parameters_for(self, z, training=False):
        """Decoder output for z of any leading shape [..., latent_dim]."""
        leading = tf.shape(z)[:-1]
        flat = self.decoder(tf.reshape(z, [-1, z.shape[-1]]), training=training)
        params = tf.reshape(flat, tf.concat([leading, tf.shape(flat)[1:]], axis=0))
        if not self.built:
            self.build_parameters(flat.shape[1:])
        return params

    def build_parameters(self, output_shape):
        """Creates any weights that depend on the row shape (none by default)."""
        self.built = True

    def elementwise(self, params):
        raise NotImplementedError

    def distribution(self, z, mask=None, training=False):
        """p(x | z) with one data row as its event; `mask` marks observed cells (True)."""
        z = tf.convert_to_tensor(z, tf.float32)
        params = self.parameters_for(z, training=training)
        row_ndims = params.shape.rank - (z.shape.rank - 1) - self.parameter_ndims
        cells = self.elementwise(params)
        if mask is not None:
            # 0 is a valid value of every cell distribution here; tfd.Masked's default stand-in
            # would draw a fresh sample of every cell at each log_prob.
            cells = tfd.Masked(cells, validity_mask=tf.cast(mask, tf.bool),
                               safe_sample_fn=_zeros)
        return tfd.Independent(cells, reinterpreted_batch_ndims=row_ndims)

    def get_config(self):
        return {**super().get_config(), "decoder": keras.saving.serialize_keras_object(self.decoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def _zeros(distribution):
    # A scalar broadcasts in tfd.Masked's tf.where(mask, x, safe value), so x keeps the data's
    # shape [n, J] instead of becoming [k, n, J]: a graded item's log_prob gathers by x, and a
    # gather over every draw made graded models 3x slower per cell than binary ones.
    return tf.zeros([], distribution.dtype)


class BernoulliCells(tfd.Bernoulli):
    """`tfd.Bernoulli` with log p(x) = x l - softplus(l) for logits l.

    The same value as TFP's (x in [0, 1]), in 3 elementwise kernels rather than about 10 (TFP
    broadcasts both arguments and builds a sigmoid cross-entropy): this log-probability is the
    bulk of every training step of a binary model.
    """

    def _log_prob(self, event):
        logits = self._logits_parameter_no_checks()
        return tf.cast(event, logits.dtype) * logits - tf.math.softplus(logits)


@keras.saving.register_keras_serializable("latentvi.likelihoods")
class Bernoulli(Likelihood):
    """Binary cells: the decoder outputs logits; x is 0/1 (or in [0, 1] for grey-level images)."""

    def elementwise(self, logits):
        return BernoulliCells(logits=logits, dtype=tf.float32)


@keras.saving.register_keras_serializable("latentvi.likelihoods")
class Normal(Likelihood):
    """Gaussian cells: the decoder outputs means; the scale is learned per cell or fixed.

    Args:
      decoder: network z -> loc, [n, *row_shape].
      scale: None to learn one scale per cell (softplus-parameterized, initially 1), or a fixed
        positive number.
    """

    def __init__(self, decoder, scale=None, **kwargs):
        super().__init__(decoder, **kwargs)
        self.fixed_scale = None if scale is None else positive_float(scale, "scale")

    def build_parameters(self, output_shape):
        if self.fixed_scale is None:
            self.raw_scale = self.add_weight(
                shape=tuple(output_shape), initializer=keras.initializers.Constant(0.5413248),
                name="raw_scale")
        self.built = True

    @property
    def scale(self):
        if self.fixed_scale is not None:
            return tf.constant(self.fixed_scale)
        return tf.math.softplus(self.raw_scale) + 1e-6

    def elementwise(self, loc):
        return tfd.Normal(loc=loc, scale=self.scale)

    def get_config(self):
        return {**super().get_config(), "scale": self.fixed_scale}


@keras.saving.register_keras_serializable("latentvi.likelihoods")
class Categorical(Likelihood):
    """Unordered categories coded 0..K-1: the decoder outputs logits [n, *row_shape, K]."""

    parameter_ndims = 1

    def elementwise(self, logits):
        return tfd.Categorical(logits=logits, dtype=tf.float32)


@keras.saving.register_keras_serializable("latentvi.likelihoods")
class OrderedLogistic(Likelihood):
    """Ordered (graded) categories 0..K-1 with learned, ordered cutpoints per cell.

    The decoder outputs a location eta [n, *row_shape]; each cell j has cutpoints
    c_j1 < ... < c_j(K-1) and P(x_j >= k | z) = sigmoid(eta_j - c_jk). In mirt's slope-intercept
    form, eta = a . z and the intercepts are d_jk = -c_jk.

    Args:
      decoder: network z -> eta, [n, *row_shape].
      n_categories: K >= 2, the number of categories of every cell.
    """

    def __init__(self, decoder, n_categories, **kwargs):
        super().__init__(decoder, **kwargs)
        self.n_categories = positive_int(n_categories, "n_categories")
        if self.n_categories < 2:
            raise ValueError(f"n_categories must be at least 2, got {n_categories}")

    def build_parameters(self, output_shape):
        gaps = self.n_categories - 2
        # First cutpoint and log-spaced gaps start at -1 .. 1, evenly spaced.
        self.first_cutpoint = self.add_weight(
            shape=tuple(output_shape), initializer=keras.initializers.Constant(-1.0),
            name="first_cutpoint")
        gap = 2.0 / max(gaps, 1)
        self.raw_gaps = self.add_weight(
            shape=tuple(output_shape) + (gaps,),
            initializer=keras.initializers.Constant(float(np.log(np.expm1(gap)))), name="raw_gaps")
        self.built = True

    @property
    def cutpoints(self):
        """Ordered cutpoints, [*row_shape, K-1]."""
        steps = tf.math.softplus(self.raw_gaps)
        offsets = tf.concat([tf.zeros_like(steps[..., :1]), tf.cumsum(steps, axis=-1)], axis=-1)
        return self.first_cutpoint[..., tf.newaxis] + offsets

    def elementwise(self, eta):
        return tfd.OrderedLogistic(cutpoints=self.cutpoints, loc=eta, dtype=tf.float32)

    def get_config(self):
        return {**super().get_config(), "n_categories": self.n_categories}
