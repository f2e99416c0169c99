"""The item response likelihood p(x | z) of item factor analysis, in mirt's slope-intercept form.

Each item j has slopes a_j (one per factor) and a linear predictor eta_j = a_j . z. A binary
item (2PL) has P(x_j = 1 | z) = sigmoid(eta_j + d_j); a graded item with K_j ordered categories
(Samejima's graded response model, an ordered logistic) has

    P(x_j >= k | z) = sigmoid(eta_j + d_jk),  k = 1..K_j-1,  d_j1 > d_j2 > ... > d_j(K_j-1),

so a binary item is the graded item with K_j = 2 and one model holds mixed item types. Items
with fewer categories than the largest K are padded with cutpoints far in the tail, so the
padded categories have probability exp(-1e4) = 0 and never receive a gradient. Binary-only
models use `BernoulliCells`; others use `GradedCells`, whose log_prob evaluates only the observed
category (one interval of the cumulative logits), not all K of them.

References:
  [1] Samejima (1969). Estimation of latent ability using a response pattern of graded scores.
  [2] Chalmers (2012). mirt: A Multidimensional Item Response Theory Package for the R
      Environment. Journal of Statistical Software 48(6).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import positive_int
from latentvi.likelihoods import BernoulliCells, _Likelihood

tfd = tfp.distributions

__all__ = ["GradedCells", "ItemResponse", "ItemSlopes"]

# Cumulative logit of the padded (impossible) categories: P = sigmoid(-1e4) = 0 in float32.
_FAR = 1e4


@keras.saving.register_keras_serializable("latentvi.irt")
class ItemSlopes(keras.layers.Layer):
    """The linear predictor eta = z A^T, A [J, D] the slopes, with an optional 0/1 pattern.

    Args:
      n_items: J.
      n_factors: D.
      pattern: None (every slope free) or a 0/1 array [J, D]; zeros fix slopes at 0
        (confirmatory model).
      equal_slopes: one slope per factor shared by every item that loads on it (Rasch-like
        model with the latent variance fixed at 1).
    """

    def __init__(self, n_items, n_factors, pattern=None, equal_slopes=False, **kwargs):
        super().__init__(**kwargs)
        self.n_items = positive_int(n_items, "n_items")
        self.n_factors = positive_int(n_factors, "n_factors")
        self.pattern = None if pattern is None else np.asarray(pattern, np.float32).tolist()
        self.equal_slopes = bool(equal_slopes)
        shape = (self.n_factors,) if self.equal_slopes else (self.n_items, self.n_factors)
        # Positive, unequal starting slopes so that no two factors start in symmetry.
        self.kernel = self.add_weight(shape=shape, name="kernel",
                                      initializer=keras.initializers.RandomUniform(0.5, 1.5))
        self.built = True

    def start_from(self, slopes):
        """Sets the slopes A [J, D] (with equal slopes: each factor's mean over its items)."""
        slopes = np.asarray(slopes, np.float32)
        if self.equal_slopes:
            loads = slopes != 0
            slopes = slopes.sum(axis=0) / np.maximum(loads.sum(axis=0), 1)
        self.kernel.assign(slopes)

    @property
    def slopes(self):
        """A [J, D] as a tensor, zeros where the pattern fixes them."""
        kernel = self.kernel
        if self.equal_slopes:
            kernel = tf.broadcast_to(kernel[tf.newaxis, :], (self.n_items, self.n_factors))
        if self.pattern is not None:
            kernel = kernel * tf.constant(self.pattern, tf.float32)
        return kernel

    def call(self, z):
        return tf.matmul(z, self.slopes, transpose_b=True)

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items, "n_factors": self.n_factors,
                "pattern": self.pattern, "equal_slopes": self.equal_slopes}


@keras.saving.register_keras_serializable("latentvi.irt")
class ItemResponse(_Likelihood):
    """Binary (2PL) and graded items: x_j in 0..K_j-1 given the linear predictor eta_j.

    Args:
      decoder: network z -> eta [n, J], normally `ItemSlopes`.
      n_categories: K_j for each item (each >= 2).
    """

    def __init__(self, decoder, n_categories, **kwargs):
        super().__init__(decoder, **kwargs)
        self.n_categories = [positive_int(int(k), "n_categories") for k in n_categories]
        if min(self.n_categories) < 2:
            raise ValueError(f"every item needs at least 2 categories; got {self.n_categories}")
        self.max_categories = max(self.n_categories)

    def build_parameters(self, output_shape):
        n_items = len(self.n_categories)
        if tuple(output_shape) != (n_items,):
            raise ValueError(f"the decoder gives {tuple(output_shape)} linear predictors per "
                             f"person, but there are {n_items} items")
        # mirt-like start: first intercept 1, then steps of 1 down to the last category.
        self.first_intercept = self.add_weight(
            shape=(n_items,), initializer=keras.initializers.Constant(1.0), name="first_intercept")
        self.raw_steps = self.add_weight(
            shape=(n_items, max(self.max_categories - 2, 0)),
            initializer=keras.initializers.Constant(float(np.log(np.expm1(1.0)))),
            name="raw_steps")
        self.built = True

    def start_from(self, intercepts):
        """Sets the intercepts d [J, >= Kmax-1] (decreasing along each row; `latentvi.irt.start`).

        Starting every intercept at one value leaves a slow joint mode (all intercepts against
        the encoder's mean): on 10,000 x 100 x 5 factors every intercept ended 0.32 too high.
        """
        intercepts = np.asarray(intercepts, np.float32)
        self.first_intercept.assign(intercepts[:, 0])
        width = self.raw_steps.shape[1]
        if width:
            gaps = np.maximum(-np.diff(intercepts[:, :width + 1], axis=1), 0.05)
            self.raw_steps.assign(np.log(np.expm1(gaps)).astype(np.float32))

    @property
    def intercepts(self):
        """d [J, Kmax-1], decreasing along each row; entries past K_j-1 are meaningless."""
        steps = tf.math.softplus(self.raw_steps)
        offsets = tf.concat([tf.zeros_like(self.first_intercept)[:, tf.newaxis],
                             -tf.cumsum(steps, axis=-1)], axis=-1)
        return self.first_intercept[:, tf.newaxis] + offsets

    def elementwise(self, eta):
        if self.max_categories == 2:
            return BernoulliCells(logits=eta + self.intercepts[:, 0], dtype=tf.float32)
        return GradedCells(eta, self.cumulative_offsets())

    def category_log_probs(self, eta):
        """log P(x_j = k | eta_j) for every k, [..., J, Kmax] (for plots and checks)."""
        logits = eta[..., tf.newaxis] + self.cumulative_offsets()
        return _interval_log_prob(logits[..., :-1], logits[..., 1:])

    def cumulative_offsets(self):
        """c [J, Kmax+1] with P(x_j >= k | eta_j) = sigmoid(eta_j + c_jk): +1e4, d_j1, ...,
        d_j(K_j-1), then the padding -1e4, -1e4 - 1, ...; strictly decreasing along each row."""
        valid, padding = self._padding()
        inner = tf.where(valid, self.intercepts, padding)
        top = tf.fill([len(self.n_categories), 1], _FAR)
        return tf.concat([top, inner, self._bottom()], -1)

    def _padding(self):
        """Which cutpoints k = 1..Kmax-1 each item has, and far-tail stand-ins for the rest."""
        k = np.arange(1, self.max_categories)[np.newaxis, :]
        n_categories = np.array(self.n_categories)[:, np.newaxis]
        valid = k < n_categories
        padding = np.where(valid, 0.0, -_FAR - (k - n_categories)).astype(np.float32)
        return tf.constant(valid), tf.constant(padding)

    def _bottom(self):
        bottom = -_FAR - (self.max_categories - np.array(self.n_categories, np.float32))
        return tf.constant(bottom[:, np.newaxis], tf.float32)

    def get_config(self):
        return {**super().get_config(), "n_categories": list(self.n_categories)}


def _interval_log_prob(upper, lower, gap=None):
    """log(sigmoid(u) - sigmoid(l)) for u > l, as log sigmoid(u) + log sigmoid(-l) + log(1 - e^(l-u)).

    P(x = k) = sigmoid(l_k) - sigmoid(l_k+1) = sigmoid(l_k) sigmoid(-l_k+1) (1 - e^(l_k+1 - l_k)).
    `gap` is u - l when the caller has it in a smaller shape (it broadcasts).
    """
    gap = upper - lower if gap is None else gap
    return tf.math.log_sigmoid(upper) + tf.math.log_sigmoid(-lower) + tfp.math.log1mexp(gap)


class GradedCells(tfd.Distribution):
    """Ordered categories 0..K_j-1 of items j given the linear predictor eta [..., J] and each
    item's cumulative offsets c [J, K+1] (`ItemResponse.cumulative_offsets`): P(x_j >= k) =
    sigmoid(eta_j + c_jk).

    `log_prob` gathers the two offsets that bound the observed category of each cell, so it costs
    the same for any number of categories (tfd.OrderedLogistic normalizes all K of them).
    """

    def __init__(self, eta, offsets, name="GradedCells"):
        parameters = dict(locals())
        self._eta = tf.convert_to_tensor(eta, tf.float32)
        self._offsets = tf.convert_to_tensor(offsets, tf.float32)
        super().__init__(dtype=tf.float32, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                         validate_args=False, allow_nan_stats=True, parameters=parameters,
                         name=name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return {"eta": tfp.util.ParameterProperties(),
                "offsets": tfp.util.ParameterProperties(event_ndims=1)}

    def _event_shape(self):
        return tf.TensorShape([])

    def _event_shape_tensor(self):
        return tf.constant([], tf.int32)

    def _batch_shape(self):
        return self._eta.shape

    def _batch_shape_tensor(self):
        return tf.shape(self._eta)

    def _log_prob(self, x):
        x = tf.cast(x, tf.int32)
        width = tf.shape(self._offsets)[-1]
        first = tf.range(tf.shape(self._offsets)[0]) * width  # flat index of c_j0
        flat = tf.reshape(self._offsets, [-1])
        upper, lower = tf.gather(flat, first + x), tf.gather(flat, first + x + 1)
        # eta cancels from the gap, which is then one value per person and item, not per draw.
        return _interval_log_prob(self._eta + upper, self._eta + lower, gap=upper - lower)

    def _sample_n(self, n, seed=None):
        shape = tf.concat([[n], self._batch_shape_tensor()], 0)
        uniform = tf.random.stateless_uniform(shape, seed=tfp.random.sanitize_seed(seed))
        cumulative = self._eta[..., tf.newaxis] + self._offsets[..., 1:]
        at_least = uniform[..., tf.newaxis] < tf.math.sigmoid(cumulative)
        return tf.reduce_sum(tf.cast(at_least, tf.float32), -1)
