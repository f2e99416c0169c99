"""Generalized partial credit items (mirt's 'gpcm') and Rasch items (mirt's 'Rasch').

An item with K ordered categories has intercepts d_0 = 0, d_1, ..., d_(K-1) and

    P(x = k | eta) = exp(k eta + d_k) / sum_j exp(j eta + d_j),   k = 0..K-1,

mirt's slope-intercept form of the generalized partial credit model [1, 2]: its scoring
coefficients ak_k = k and d_0 = 0 are fixed (mirt lists them as 'ak0'..'ak(K-1)' and 'd0'), so
the free parameters are d1..d(K-1), with no order constraint. Adjacent categories follow a 2PL:
log P(x = k) / P(x = k-1) = eta + (d_k - d_(k-1)), the step d_k - d_(k-1) being minus mirt's
traditional step difficulty times the slope. A binary gpcm item (K = 2) is the 2PL with d = d1.

A Rasch item (mirt's 'Rasch') is the same item with its slope fixed at 1 and the latent variance
free: P(x = 1) = sigmoid(theta + d) for two categories ('d', as mirt), the partial credit model
for more. Both types are fitted by one `PartialCreditItems` group; the Rasch model's slope and
variance are the model's business (`ItemFactorModel` fits one common slope a with theta ~ N(0, 1)
and reports slopes 1 with variance a^2, the same model).

The information about eta is sum_k (dP_k / d eta)^2 / P_k = Var(x | eta), because
dP_k / d eta = P_k (k - E[x | eta]).

References:
  [1] Muraki (1992). A generalized partial credit model: application of an EM algorithm.
      Applied Psychological Measurement 16(2).
  [2] Masters (1982). A Rasch model for partial credit scoring. Psychometrika 47(2).
  [3] Chalmers (2012). mirt: A Multidimensional Item Response Theory Package for the R
      Environment. Journal of Statistical Software 48(6).
"""

import keras
import numpy as np
import tensorflow as tf
from scipy.special import expit, log_softmax

from latentvi.irt.constraints import WeightRef
from latentvi.irt.items.base import ItemGroup, ItemType, register

__all__ = ["GPCM", "PartialCreditItems", "Rasch"]

# Intercept of the padded (impossible) categories: k eta - 1e4 is below any real category's
# logit for |eta| < 1e4 / Kmax, so they get probability exp(-1e4) = 0 and no gradient.
_FAR = 1e4
_MIN_START_PROBABILITY = 1e-4  # keeps the start of a category nobody chose finite


class GPCM(ItemType):
    """The generalized partial credit model (mirt's itemtype 'gpcm')."""

    name = "gpcm"

    @property
    def group_name(self):
        return "gpcm"

    def parameter_names(self, n_categories):
        """d1..d(K-1); d0 = 0 and the scoring coefficients ak_k = k are fixed."""
        return [f"d{k}" for k in range(1, n_categories)]

    def intercepts(self, values, n_categories):
        """d_0 = 0, d_1, ..., d_(K-1) [K]."""
        return np.array([0.0] + [values[name] for name in self.parameter_names(n_categories)])

    def log_probabilities(self, eta, values, n_categories):
        """log P(x = k | eta) [m, K]."""
        eta = np.asarray(eta, float)[:, np.newaxis]
        logits = eta * np.arange(n_categories) + self.intercepts(values, n_categories)
        return log_softmax(logits, axis=-1)

    def probabilities(self, eta, values, n_categories):
        return np.exp(self.log_probabilities(eta, values, n_categories))

    def information(self, eta, values, n_categories):
        """Var(x | eta) = E[x^2] - E[x]^2."""
        probabilities = self.probabilities(eta, values, n_categories)
        scores = np.arange(n_categories)
        mean = probabilities @ scores
        return np.maximum(probabilities @ scores**2 - mean**2, 0.0)

    def group(self, n_categories, types, priors=None):
        return PartialCreditItems(n_categories, types, priors=priors)

    def irt_parameters(self, slope, values, n_categories):
        """a and the step difficulties b_k = -(d_k - d_(k-1)) / a (b for a binary Rasch
        item)."""
        steps = -np.diff(self.intercepts(values, n_categories)) / slope
        if n_categories == 2 and self.parameter_names(n_categories) == ["d"]:
            return {"a": slope, "b": float(steps[0])}
        return {"a": slope, **{f"b{k}": float(b) for k, b in enumerate(steps, start=1)}}

    def parameter_weights(self, n_categories):
        """d1 is a weight; each later d_k is held as the step d_k - d_(k-1)."""
        names = self.parameter_names(n_categories)
        refs = {names[0]: WeightRef("steps", 0, lambda values: values[names[0]])}
        for k in range(2, n_categories):
            refs[f"d{k}"] = WeightRef(
                "steps", k - 1, lambda values, k=k: values[f"d{k}"] - values[f"d{k - 1}"],
                (f"d{k - 1}",))
        return refs


class Rasch(GPCM):
    """Rasch items (mirt's 'Rasch'): slope 1, latent variance free; 'd' for a binary item,
    d1..d(K-1) of the partial credit model for more categories."""

    name = "Rasch"

    def parameter_names(self, n_categories):
        return ["d"] if n_categories == 2 else super().parameter_names(n_categories)


@keras.saving.register_keras_serializable("latentvi.irt")
class PartialCreditItems(ItemGroup):
    """The intercepts d_j1..d_j(K_j-1) of gpcm and Rasch items, free and unordered, held as
    their adjacent-category steps d_k - d_(k-1). Each d_k = log P(x = k) / P(x = 0) at eta = 0,
    so when category 0 is rare all of them share one poorly determined direction; the steps
    do not (on Science, 1,536 minibatch steps from the same start left the intercepts up to 1.8
    from the MLE as weights, 0.6 as steps)."""

    def __init__(self, n_categories, types, priors=None, **kwargs):
        super().__init__(n_categories, types, priors=priors, **kwargs)
        self.steps = self.add_weight(shape=(len(self.n_categories), self.max_categories - 1),
                                     initializer="zeros", name="steps")
        k = np.arange(self.max_categories)[np.newaxis, :]
        self._valid = k < np.array(self.n_categories)[:, np.newaxis]  # [J_g, Kmax]
        self.built = True

    def start_from(self, intercepts):
        """The intercepts giving, at eta = 0, the category probabilities of the graded start
        P(x >= k) = sigmoid(c_k): d_k = log P(x = k) - log P(x = 0)."""
        cumulative = np.where(self._valid[:, 1:],
                              expit(np.asarray(intercepts, float)[:, :self.max_categories - 1]),
                              0.0)
        ones, zeros = np.ones((len(cumulative), 1)), np.zeros((len(cumulative), 1))
        probabilities = -np.diff(np.concatenate([ones, cumulative, zeros], axis=1), axis=1)
        logs = np.log(np.maximum(probabilities, _MIN_START_PROBABILITY))
        steps = np.where(self._valid[:, 1:], logs[:, 1:] - logs[:, :-1], 0.0)
        self.steps.assign(steps.astype(np.float32))

    @property
    def intercepts(self):
        """d [J_g, Kmax-1]: the cumulated steps d_k - d_(k-1); entries past K_j-1 are
        meaningless."""
        return tf.cumsum(self.constrained("steps"), axis=-1)

    def logit_offsets(self):
        """[0, d_j1, ..., d_j(K_j-1), -1e4, ...] [J_g, Kmax]: the logits at eta = 0."""
        offsets = tf.concat([tf.zeros_like(self.intercepts[:, :1]), self.intercepts], -1)
        return tf.where(tf.constant(self._valid), offsets, -_FAR)

    def logits(self, eta):
        """k eta + d_k [..., J_g, Kmax]."""
        scores = tf.range(self.max_categories, dtype=eta.dtype)
        return eta[..., tf.newaxis] * scores + self.logit_offsets()

    def log_prob(self, eta, x):
        if self.max_categories == 2:
            logits = eta + self.intercepts[:, 0]
            return tf.cast(x, logits.dtype) * logits - tf.math.softplus(logits)
        offsets = self.logit_offsets()
        codes = tf.cast(x, tf.int32)
        width = self.max_categories
        flat = tf.reshape(offsets, [-1])
        # d_(j, x_j) once per person and item [n, J_g]; only the normalizer needs every draw.
        observed = tf.gather(flat, tf.range(tf.shape(offsets)[0]) * width + codes)
        return (tf.cast(x, eta.dtype) * eta + observed
                - tf.reduce_logsumexp(self.logits(eta), axis=-1))

    def category_log_probs(self, eta):
        logs = tf.nn.log_softmax(self.logits(eta), axis=-1)
        return tf.where(tf.constant(self._valid), logs, -np.inf)

    def parameter_tensors(self):
        """d (binary Rasch items) and d1..d(Kmax-1), [J_g] each."""
        tensors = {f"d{k}": self.intercepts[:, k - 1] for k in range(1, self.max_categories)}
        tensors["d"] = self.intercepts[:, 0]
        return tensors

    def values(self):
        intercepts = self.intercepts.numpy().astype(float)
        found = []
        for row, n_categories, name in zip(intercepts, self.n_categories, self.types):
            names = (Rasch() if name == Rasch.name else GPCM()).parameter_names(n_categories)
            found.append(dict(zip(names, row[:n_categories - 1])))
        return found


register(GPCM())
register(Rasch())
