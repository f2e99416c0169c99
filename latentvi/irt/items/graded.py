"""Graded items (Samejima's graded response model) and binary 2PL items, which are graded items
with two categories.

An item with K ordered categories has intercepts d_1 > d_2 > ... > d_(K-1) and

    P(x >= k | eta) = sigmoid(eta + d_k),  k = 1..K-1,   P(x = k) = P(x >= k) - P(x >= k+1),

with P(x >= 0) = 1 and P(x >= K) = 0 (mirt's slope-intercept form). A 2PL item is the case K = 2:
P(x = 1 | eta) = sigmoid(eta + d), its one intercept named 'd'. Both are fitted by one
`GradedItems` group, so models mixing them hold one set of weights.

The information about eta is sum_k (dP_k / d eta)^2 / P_k with dP(x >= k) / d eta =
P(x >= k) (1 - P(x >= k)); for a 2PL item it is P (1 - P).

References:
  [1] Samejima (1969). Estimation of latent ability using a response pattern of graded scores.
      Psychometrika Monograph 17.
  [2] Chalmers (2012). mirt: A Multidimensional Item Response Theory Package for the R
      Environment. Journal of Statistical Software 48(6).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from scipy.special import expit

from latentvi.irt.constraints import WeightRef
from latentvi.irt.items.base import ItemGroup, ItemType, register

__all__ = ["Graded", "GradedItems", "TwoPL", "interval_log_prob"]

# Cumulative logit of the padded (impossible) categories: P = sigmoid(-1e4) = 0 in float32.
_FAR = 1e4


class Graded(ItemType):
    """Samejima's graded response model (mirt's itemtype 'graded')."""

    name = "graded"

    @property
    def group_name(self):
        return "graded"

    def parameter_names(self, n_categories):
        return [f"d{k}" for k in range(1, n_categories)]

    def intercepts(self, values, n_categories):
        return np.array([values[name] for name in self.parameter_names(n_categories)])

    def cumulative(self, eta, values, n_categories):
        """P(x >= k | eta) [m, K+1] for k = 0..K (1 first, 0 last)."""
        eta = np.asarray(eta, float)[:, np.newaxis]
        inner = expit(eta + self.intercepts(values, n_categories)[np.newaxis, :])
        ones, zeros = np.ones_like(eta), np.zeros_like(eta)
        return np.concatenate([ones, inner, zeros], axis=1)

    def probabilities(self, eta, values, n_categories):
        cumulative = self.cumulative(eta, values, n_categories)
        return np.clip(cumulative[:, :-1] - cumulative[:, 1:], 0.0, 1.0)

    def information(self, eta, values, n_categories):
        cumulative = self.cumulative(eta, values, n_categories)
        slope = cumulative * (1 - cumulative)
        probability = cumulative[:, :-1] - cumulative[:, 1:]
        change = slope[:, :-1] - slope[:, 1:]
        keep = probability > 1e-300
        return np.sum(np.where(keep, change**2 / np.where(keep, probability, 1.0), 0.0), -1)

    def sample(self, uniform, eta, values, n_categories):
        """x = #{k >= 1 : u < P(x >= k | eta)}."""
        inner = self.cumulative(eta, values, n_categories)[:, 1:-1]
        return np.sum(np.asarray(uniform)[:, np.newaxis] < inner, axis=-1)

    def group(self, n_categories, types, priors=None):
        return GradedItems(n_categories, types, priors=priors)

    def irt_parameters(self, slope, values, n_categories):
        """a and the thresholds b_k = -d_k / a (b for a 2PL item)."""
        names = self.parameter_names(n_categories)
        return {"a": slope, **{name.replace("d", "b"): -values[name] / slope for name in names}}

    def parameter_weights(self, n_categories):
        """d1 is a weight; each later d_k is held as the step d_(k-1) - d_k > 0."""
        refs = {"d1": WeightRef("first_intercept", None, lambda values: values["d1"])}
        for k in range(2, n_categories):
            refs[f"d{k}"] = WeightRef("raw_steps", k - 2, _step_weight(k), (f"d{k - 1}",))
        return refs


def _step_weight(k):
    def to_weight(values):
        gap = values[f"d{k - 1}"] - values[f"d{k}"]
        if not gap > 0:
            raise ValueError(f"a graded item's intercepts must decrease, d{k - 1} > d{k}; got "
                             f"d{k - 1} = {values[f'd{k - 1}']}, d{k} = {values[f'd{k}']}")
        return float(np.log(np.expm1(gap)))
    return to_weight


class TwoPL(Graded):
    """The two-parameter logistic item (mirt's '2PL'): P(x = 1 | eta) = sigmoid(eta + d)."""

    name = "2PL"
    aliases = ("binary",)

    def check_categories(self, item, labels):
        if len(labels) != 2:
            raise ValueError(f"item {item!r} has {len(labels)} observed categories {labels} but "
                             f"item_type 'binary' allows 2 (2PL); use item_type='graded' for "
                             f"this item (or, if a value means no answer, missing_codes=[...])")

    def parameter_names(self, n_categories):
        return ["d"]

    def parameter_weights(self, n_categories):
        return {"d": WeightRef("first_intercept", None, lambda values: values["d"])}


@keras.saving.register_keras_serializable("latentvi.irt")
class GradedItems(ItemGroup):
    """The intercepts of graded and 2PL items: d_j1 = first_j, d_jk = d_j(k-1) - softplus(s_jk),
    so they stay decreasing. Items with fewer categories than the group's largest K are padded
    with cutpoints far in the tail, whose categories have probability exp(-1e4) = 0 and never
    receive a gradient."""

    def __init__(self, n_categories, types, priors=None, **kwargs):
        super().__init__(n_categories, types, priors=priors, **kwargs)
        n_items = len(self.n_categories)
        # mirt-like start: first intercept 1, then steps of 1 down to the last category.
        self.first_intercept = self.add_weight(
            shape=(n_items,), initializer=keras.initializers.Constant(1.0), name="first_intercept")
        self.raw_steps = self.add_weight(
            shape=(n_items, max(self.max_categories - 2, 0)),
            initializer=keras.initializers.Constant(float(np.log(np.expm1(1.0)))),
            name="raw_steps")
        self.built = True

    def load_own_variables(self, store):
        if not len(store.keys()):
            return  # a file from before item groups: `ItemResponse` hands over the weights
        super().load_own_variables(store)

    def start_from(self, intercepts):
        """Starting every intercept at one value leaves a slow joint mode (all intercepts
        against the encoder's mean): on 10,000 x 100 x 5 factors every intercept ended 0.32 too
        high; so they start from the data's cumulative logits."""
        intercepts = np.asarray(intercepts, np.float32)
        self.first_intercept.assign(intercepts[:, 0])
        width = self.raw_steps.shape[1]
        if width:
            gaps = np.maximum(-np.diff(intercepts[:, :width + 1], axis=1), 0.05)
            self.raw_steps.assign(np.log(np.expm1(gaps)).astype(np.float32))

    @property
    def intercepts(self):
        """d [J_g, Kmax-1], decreasing along each row; entries past K_j-1 are meaningless."""
        first = self.constrained("first_intercept")
        steps = tf.math.softplus(self.constrained("raw_steps"))
        offsets = tf.concat([tf.zeros_like(first)[:, tf.newaxis], -tf.cumsum(steps, axis=-1)],
                            axis=-1)
        return first[:, tf.newaxis] + offsets

    def parameter_tensors(self):
        """d (2PL) and d1..d(Kmax-1) (graded), [J_g] each."""
        intercepts = self.intercepts
        tensors = {f"d{k}": intercepts[:, k - 1] for k in range(1, self.max_categories)}
        tensors["d"] = intercepts[:, 0]
        return tensors

    def values(self):
        intercepts = self.intercepts.numpy().astype(float)
        found = []
        for row, n_categories, name in zip(intercepts, self.n_categories, self.types):
            if name == "2PL":
                found.append({"d": row[0]})
            else:
                found.append({f"d{k}": row[k - 1] for k in range(1, n_categories)})
        return found

    def log_prob(self, eta, x):
        if self.max_categories == 2:
            logits = eta + self.intercepts[:, 0]
            return tf.cast(x, logits.dtype) * logits - tf.math.softplus(logits)
        offsets = self.cumulative_offsets()
        codes = tf.cast(x, tf.int32)
        width = tf.shape(offsets)[-1]
        first = tf.range(tf.shape(offsets)[0]) * width  # flat index of c_j0
        flat = tf.reshape(offsets, [-1])
        upper, lower = tf.gather(flat, first + codes), tf.gather(flat, first + codes + 1)
        # eta cancels from the gap, which is then one value per person and item, not per draw.
        return interval_log_prob(eta + upper, eta + lower, gap=upper - lower)

    def category_log_probs(self, eta):
        logits = eta[..., tf.newaxis] + self.cumulative_offsets()
        return interval_log_prob(logits[..., :-1], logits[..., 1:])

    def cumulative_offsets(self):
        """c [J_g, Kmax+1] with P(x_j >= k | eta_j) = sigmoid(eta_j + c_jk): +1e4, d_j1, ...,
        d_j(K_j-1), then the padding -1e4, -1e4 - 1, ...; strictly decreasing along each row."""
        k = np.arange(1, self.max_categories)[np.newaxis, :]
        n_categories = np.array(self.n_categories)[:, np.newaxis]
        valid = k < n_categories
        padding = np.where(valid, 0.0, -_FAR - (k - n_categories)).astype(np.float32)
        inner = tf.where(tf.constant(valid), self.intercepts, tf.constant(padding))
        top = tf.fill([len(self.n_categories), 1], _FAR)
        bottom = -_FAR - (self.max_categories - np.array(self.n_categories, np.float32))
        return tf.concat([top, inner, tf.constant(bottom[:, np.newaxis], tf.float32)], -1)


def interval_log_prob(upper, lower, gap=None):
    """log(sigmoid(u) - sigmoid(l)) for u > l, as log sigmoid(u) + log sigmoid(-l) + log(1 - e^(l-u)).

    P(x = k) = sigmoid(l_k) - sigmoid(l_k+1) = sigmoid(l_k) sigmoid(-l_k+1) (1 - e^(l_k+1 - l_k)).
    `gap` is u - l when the caller has it in a smaller shape (it broadcasts).
    """
    gap = upper - lower if gap is None else gap
    return tf.math.log_sigmoid(upper) + tf.math.log_sigmoid(-lower) + tfp.math.log1mexp(gap)


register(TwoPL())
register(Graded())
