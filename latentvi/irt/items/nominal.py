"""Nominal items (Bock's nominal response model), in mirt's parameterization.

An item with K unordered categories has scoring coefficients ak_0..ak_(K-1) and intercepts
d_0..d_(K-1), and

    P(x = k | eta) = exp(ak_k eta + d_k) / sum_j exp(ak_j eta + d_j),   eta = a . theta.

The slopes a, the ak and the d are identified as mirt identifies them: ak_0 = 0,
ak_(K-1) = K - 1 and d_0 = 0 are fixed, so an item has 2K - 3 free parameters of its own
(ak_1..ak_(K-2), d_1..d_(K-1)) besides its slopes. With ak_k = k it is the generalized partial
credit model; with K = 2 it is the 2PL, so a nominal item needs at least 3 categories.

Like every divide-by-total model, its information about eta is the variance of the scoring
coefficients under the category probabilities: dP_k / d eta = P_k (ak_k - sum_j P_j ak_j), so

    I(eta) = sum_k (dP_k / d eta)^2 / P_k = sum_k P_k (ak_k - mean)^2 = Var(ak | eta).

References:
  [1] Bock (1972). Estimating item parameters and latent ability when responses are scored in
      two or more nominal categories. Psychometrika 37, 29-51.
  [2] Thissen, Cai & Bock (2010). The nominal categories item response model. In Nering &
      Ostini (eds.), Handbook of Polytomous Item Response Theory Models, 43-75.
  [3] Chalmers (2012). mirt: A Multidimensional Item Response Theory Package for the R
      Environment. Journal of Statistical Software 48(6).
"""

import keras
import numpy as np
import tensorflow as tf
from scipy.special import expit, softmax

from latentvi.irt.constraints import WeightRef
from latentvi.irt.items.base import ItemGroup, ItemType, register

__all__ = ["Nominal", "NominalItems"]

# Intercept of the padded (impossible) categories: exp(-1e4) = 0 in float32, for any eta a
# fitted model reaches (|ak eta| << 1e4).
_FAR = 1e4


class Nominal(ItemType):
    """Bock's nominal response model (mirt's itemtype 'nominal').

    `parameter_names` lists every coefficient of mirt's coef(simplify=TRUE) table, the fixed
    ak0 = 0, ak(K-1) = K-1 and d0 = 0 included; `n_parameters` counts the 2K - 3 free ones.
    """

    name = "nominal"

    def check_categories(self, item, labels):
        if len(labels) < 3:
            raise ValueError(f"item {item!r} has {len(labels)} observed categories {labels} but "
                             f"item_type 'nominal' needs at least 3 (with 2 it is the 2PL); use "
                             f"item_type='binary' for this item")

    def parameter_names(self, n_categories):
        return ([f"ak{k}" for k in range(n_categories)]
                + [f"d{k}" for k in range(n_categories)])

    def fixed_parameters(self, n_categories):
        """mirt's identification: ak0 = 0, ak(K-1) = K-1, d0 = 0."""
        return {"ak0": 0.0, f"ak{n_categories - 1}": float(n_categories - 1), "d0": 0.0}

    def parameter_weights(self, n_categories):
        """The free ak1..ak(K-2) and d1..d(K-1), one weight entry each."""
        refs = {f"ak{k}": WeightRef("raw_scores", k - 1, lambda values, k=k: values[f"ak{k}"])
                for k in range(1, n_categories - 1)}
        refs.update({f"d{k}": WeightRef("raw_intercepts", k - 1,
                                        lambda values, k=k: values[f"d{k}"])
                     for k in range(1, n_categories)})
        return refs

    def scores(self, values, n_categories):
        """ak [K]; the fixed ak0 = 0 and ak(K-1) = K-1 where `values` leaves them out."""
        fixed = {0: 0.0, n_categories - 1: float(n_categories - 1)}
        return np.array([values.get(f"ak{k}", fixed.get(k)) for k in range(n_categories)],
                        float)

    def intercepts(self, values, n_categories):
        """d [K]; the fixed d0 = 0 where `values` leaves it out."""
        return np.array([values.get(f"d{k}", 0.0 if k == 0 else None)
                         for k in range(n_categories)], float)

    def probabilities(self, eta, values, n_categories):
        eta = np.asarray(eta, float)[:, np.newaxis]
        logits = (eta * self.scores(values, n_categories)
                  + self.intercepts(values, n_categories))
        return softmax(logits, axis=-1)

    def information(self, eta, values, n_categories):
        """Var(ak | eta) = sum_k P_k (ak_k - sum_j P_j ak_j)^2."""
        probabilities = self.probabilities(eta, values, n_categories)
        scores = self.scores(values, n_categories)
        mean = probabilities @ scores
        return np.sum(probabilities * (scores - mean[:, np.newaxis]) ** 2, axis=-1)

    def group(self, n_categories, types, priors=None):
        return NominalItems(n_categories, types, priors=priors)

    def irt_parameters(self, slope, values, n_categories):
        """Bock's a_k = a ak_k and c_k = d_k, k = 0..K-1 (mirt's a1..aK, c1..cK)."""
        return {**{f"a{k + 1}": slope * values[f"ak{k}"] for k in range(n_categories)},
                **{f"c{k + 1}": values[f"d{k}"] for k in range(n_categories)}}


@keras.saving.register_keras_serializable("latentvi.irt")
class NominalItems(ItemGroup):
    """The free scoring coefficients ak_1..ak_(K-2) and intercepts d_1..d_(K-1) of nominal
    items, unconstrained (mirt orders neither). Items with fewer categories than the group's
    largest K are padded with categories of intercept -1e4: probability 0 and no gradient."""

    def __init__(self, n_categories, types, priors=None, **kwargs):
        super().__init__(n_categories, types, priors=priors, **kwargs)
        n_items, width = len(self.n_categories), self.max_categories
        k = np.arange(width)[np.newaxis, :]
        last = np.array(self.n_categories)[:, np.newaxis] - 1
        self._free_scores = (k >= 1) & (k < last)
        self._fixed_scores = np.where(k == last, last, 0).astype(np.float32)
        self._valid = k <= last
        self._free_intercepts = (k >= 1) & self._valid
        self._fixed_intercepts = np.where(self._valid, 0.0, -_FAR).astype(np.float32)
        # The generalized partial credit start, ak_k = k (`start_from` sets the d).
        self.raw_scores = self.add_weight(
            shape=(n_items, width - 2), name="raw_scores",
            initializer=keras.initializers.Constant(np.arange(1, width - 1, dtype=np.float32)))
        self.raw_intercepts = self.add_weight(
            shape=(n_items, width - 1), initializer="zeros", name="raw_intercepts")
        self.built = True

    def start_from(self, intercepts):
        """d_k = log(p_k / p_0), p_k = sigmoid(c_k) - sigmoid(c_(k+1)) the category probabilities
        at eta = 0 of the graded item with the data's cumulative logits c: with ak_k = k the
        nominal item then starts through the same point. (Adjacent steps d_k - d_(k-1) = c_k
        start Science's Benefit at d1 = 3.3 against the ML 2.2, and the fit stopped at 2.8.)"""
        width = self.max_categories - 1
        beyond = np.arange(1, width + 1) >= np.array(self.n_categories)[:, np.newaxis]
        cumulative = np.where(beyond, 0.0, expit(np.asarray(intercepts, float)[:, :width]))
        upper = np.concatenate([np.ones_like(cumulative[:, :1]), cumulative], axis=1)
        lower = np.concatenate([cumulative, np.zeros_like(cumulative[:, :1])], axis=1)
        log_p = np.log(np.maximum(upper - lower, 1e-4))
        self.raw_intercepts.assign((log_p[:, 1:] - log_p[:, :1]).astype(np.float32))

    @property
    def scores(self):
        """ak [J_g, Kmax]: 0, ak_1..ak_(K_j-2), K_j - 1, then 0 in the padding."""
        raw = self.constrained("raw_scores")
        zeros = tf.zeros_like(raw[:, :1])
        padded = tf.concat([zeros, raw, zeros], axis=-1)
        return tf.where(tf.constant(self._free_scores), padded,
                        tf.constant(self._fixed_scores))

    @property
    def intercepts(self):
        """d [J_g, Kmax]: 0, d_1..d_(K_j-1), then -1e4 in the padding."""
        raw = self.constrained("raw_intercepts")
        padded = tf.concat([tf.zeros_like(raw[:, :1]), raw], -1)
        return tf.where(tf.constant(self._free_intercepts), padded,
                        tf.constant(self._fixed_intercepts))

    def parameter_tensors(self):
        """The free ak1..ak(Kmax-2) and d1..d(Kmax-1), [J_g] each (a prior on an item's
        coefficient past its own K - 2 or K - 1 touches an unused weight)."""
        scores, intercepts = self.scores, self.intercepts
        tensors = {f"ak{k}": scores[:, k] for k in range(1, self.max_categories - 1)}
        tensors.update({f"d{k}": intercepts[:, k] for k in range(1, self.max_categories)})
        return tensors

    def values(self):
        scores = self.scores.numpy().astype(float)
        intercepts = self.intercepts.numpy().astype(float)
        found = []
        for ak, d, n_categories in zip(scores, intercepts, self.n_categories):
            row = {f"ak{k}": float(ak[k]) for k in range(n_categories)}
            row.update({f"d{k}": float(d[k]) for k in range(n_categories)})
            found.append(row)
        return found

    def logits(self, eta):
        """ak_jk eta_j + d_jk [..., J_g, Kmax]."""
        return eta[..., tf.newaxis] * self.scores + self.intercepts

    def log_prob(self, eta, x):
        scores, intercepts = self.scores, self.intercepts
        codes = tf.cast(x, tf.int32)
        # The observed category's coefficients, gathered once per person and item along the
        # flattened [J_g * Kmax] parameters, then broadcast over the Monte Carlo draws of eta.
        index = tf.range(tf.shape(scores)[0]) * self.max_categories + codes
        observed_score = tf.gather(tf.reshape(scores, [-1]), index)
        observed_intercept = tf.gather(tf.reshape(intercepts, [-1]), index)
        normalizer = tf.reduce_logsumexp(eta[..., tf.newaxis] * scores + intercepts, axis=-1)
        return observed_score * eta + observed_intercept - normalizer

    def category_log_probs(self, eta):
        log_probs = tf.nn.log_softmax(self.logits(eta), axis=-1)
        return tf.where(tf.constant(self._valid), log_probs, -np.inf)


register(Nominal())
