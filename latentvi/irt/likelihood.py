"""The item response likelihood p(x | z) of item factor analysis, in mirt's slope-intercept form.

Each item j has slopes a_j (one per factor) and a linear predictor eta_j = a_j . z. A binary
item (2PL) has P(x_j = 1 | z) = sigmoid(eta_j + d_j); a graded item with K_j ordered categories
(Samejima's graded response model, an ordered logistic) has

    P(x_j >= k | z) = sigmoid(eta_j + d_jk),  k = 1..K_j-1,  d_j1 > d_j2 > ... > d_j(K_j-1),

so a binary item is the graded item with K_j = 2 and one model holds mixed item types. Items
with fewer categories than the largest K are padded with cutpoints far in the tail, so the
padded categories have probability exp(-1e4) = 0 and never receive a gradient.

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
from latentvi.likelihoods import _Likelihood

tfd = tfp.distributions

__all__ = ["ItemSlopes", "ItemResponse"]

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

    @property
    def intercepts(self):
        """d [J, Kmax-1], decreasing along each row; entries past K_j-1 are meaningless."""
        steps = tf.math.softplus(self.raw_steps)
        offsets = tf.concat([tf.zeros_like(self.first_intercept)[:, tf.newaxis],
                             -tf.cumsum(steps, axis=-1)], axis=-1)
        return self.first_intercept[:, tf.newaxis] + offsets

    def elementwise(self, eta):
        if self.max_categories == 2:
            return tfd.Bernoulli(logits=eta + self.intercepts[:, 0], dtype=tf.float32)
        return tfd.Categorical(logits=self.category_log_probs(eta), dtype=tf.float32)

    def category_log_probs(self, eta):
        """log P(x_j = k | eta_j), [..., J, Kmax], from the cumulative logits l_k = eta + d_k.

        P(x = k) = sigmoid(l_k) - sigmoid(l_k+1) = sigmoid(l_k) sigmoid(-l_k+1) (1 - e^(l_k+1 - l_k)),
        computed in log space; l_0 = +inf and l_K = -inf are stood in for by +-1e4.
        """
        upper, lower = self._cumulative_logits(eta)
        return (tf.math.log_sigmoid(upper) + tf.math.log_sigmoid(-lower)
                + tfp.math.log1mexp(upper - lower))

    def _cumulative_logits(self, eta):
        """(l_0..l_Kmax-1, l_1..l_Kmax), strictly decreasing in k for every item."""
        valid, padding = self._padding()
        inner = tf.where(valid, eta[..., tf.newaxis] + self.intercepts, padding)
        top = tf.fill(tf.shape(inner[..., :1]), _FAR)
        bottom = tf.broadcast_to(self._bottom(), tf.shape(inner[..., :1]))
        return tf.concat([top, inner], -1), tf.concat([inner, bottom], -1)

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
