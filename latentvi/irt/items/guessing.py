"""Binary items with a lower asymptote (guessing) and an upper asymptote: mirt's '3PL' and '4PL'.

In mirt's slope-intercept form, with eta = a . theta,

    P(x = 1 | eta) = g + (u - g) sigmoid(eta + d) = (1 - s) g + s u,   s = sigmoid(eta + d),

where g is the lower asymptote (guessing) and u the upper one; the 3PL has u = 1. As the second
form shows, P is a convex combination of g and u, so in log space

    log P(x = 1) = logaddexp(log(1 - s) + log g,       log s + log u),
    log P(x = 0) = logaddexp(log(1 - s) + log(1 - g), log s + log(1 - u)),

with log s = log_sigmoid(eta + d), log(1 - s) = log s - (eta + d): finite for any eta, never a
log of a difference. As in mirt, g and u are estimated on the logit scale (priors apply there:
mirt's PRIOR = (5, g, norm, -1.5, 3)) and reported as probabilities.

The information about eta is (dP/d eta)^2 / (P (1 - P)) with dP/d eta = (u - g) s (1 - s).

Both types are fitted by one `GuessingItems` group ('guessing'), whose 3PL items hold u fixed at
1 (logit u = +1e4, so log(1 - u) = -1e4 and its weight never receives a gradient).

Notes:
  The likelihood is unchanged by (a, d, g, u) -> (-a, -d, u, g): a 4PL item with u < g is the
  mirror image of one with g < u. The fit starts at g = 0.15 < u = 0.85 with a positive slope
  and stays in that mode; g < u is not enforced, as mirt does not enforce it.

References:
  [1] Birnbaum (1968). Some latent trait models and their use in inferring an examinee's
      ability. In Lord & Novick, Statistical Theories of Mental Test Scores.
  [2] Barton & Lord (1981). An upper asymptote for the three-parameter logistic item-response
      model. ETS Research Report 81-20.
  [3] Chalmers (2012). mirt: A Multidimensional Item Response Theory Package for the R
      Environment. Journal of Statistical Software 48(6).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from scipy.special import expit, logit

from latentvi.irt.constraints import WeightRef
from latentvi.irt.items.base import ItemGroup, ItemType, register

__all__ = ["ASYMPTOTES", "FourPL", "GuessingItems", "ThreePL"]

# The parameters fitted on the logit scale and reported (and bounded in tables) as probabilities.
ASYMPTOTES = ("g", "u")

# mirt's starting asymptotes (R/04-PrepData.R: guess 0 -> .15 for '3PL'/'4PL', upper 1 -> .85
# for '4PL'), so that a fit started from mirt's values starts where mirt does.
START_GUESSING = 0.15
START_UPPER = 0.85
# logit u of a 3PL item: u = sigmoid(1e4) = 1 and log(1 - u) = -1e4, exp(-1e4) = 0 in float32.
_FIXED_UPPER = 1e4


class ThreePL(ItemType):
    """The three-parameter logistic item (mirt's '3PL'): P(x = 1) = g + (1 - g) sigmoid(eta + d)."""

    name = "3PL"
    # LSAT7 with item 5 as 3PL (1,000 persons): batches of 128 left g at 0.155 against the
    # exact marginal MAP's 0.199 (the log-posterior there is 0.005 nats from its maximum);
    # every person in every step reached 0.200.
    whole_batch_persons = 2048

    @property
    def group_name(self):
        return "guessing"

    def check_categories(self, item, labels):
        if len(labels) != 2:
            raise ValueError(f"item {item!r} has {len(labels)} observed categories {labels} but "
                             f"item_type {self.name!r} allows 2 (a binary item with guessing); "
                             f"use item_type='graded' for this item (or, if a value means no "
                             f"answer, missing_codes=[...])")

    def parameter_names(self, n_categories):
        return ["d", "g"]

    def parameter_weights(self, n_categories):
        """d, and g held on the logit scale."""
        return {"d": WeightRef("intercept", None, lambda values: values["d"]),
                "g": WeightRef("logit_guessing", None, lambda values: _logit(values["g"]))}

    def asymptotes(self, values):
        """(g, u) of an item."""
        return values["g"], values.get("u", 1.0)

    def correct(self, eta, values):
        """P(x = 1 | eta) [m]."""
        lower, upper = self.asymptotes(values)
        return lower + (upper - lower) * expit(np.asarray(eta, float) + values["d"])

    def probabilities(self, eta, values, n_categories):
        correct = self.correct(eta, values)
        return np.column_stack([1.0 - correct, correct])

    def information(self, eta, values, n_categories):
        lower, upper = self.asymptotes(values)
        inner = expit(np.asarray(eta, float) + values["d"])
        correct = lower + (upper - lower) * inner
        slope = (upper - lower) * inner * (1.0 - inner)
        spread = correct * (1.0 - correct)
        return np.where(spread > 1e-300, slope**2 / np.maximum(spread, 1e-300), 0.0)

    def sample(self, uniform, eta, values, n_categories):
        """x = 1 when u < P(x = 1 | eta), as the 2PL's sampler (same draws, same answers at
        g = 0, u = 1)."""
        return (np.asarray(uniform) < self.correct(eta, values)).astype(int)

    def group(self, n_categories, types, priors=None):
        return GuessingItems(n_categories, types, priors=priors)

    def irt_parameters(self, slope, values, n_categories):
        """a, b = -d / a, and the asymptotes g (and u) as they are."""
        lower, upper = self.asymptotes(values)
        return {"a": slope, "b": -values["d"] / slope, "g": lower,
                **({"u": upper} if "u" in values else {})}


class FourPL(ThreePL):
    """The four-parameter logistic item (mirt's '4PL'): P(x = 1) = g + (u - g) sigmoid(eta + d)."""

    name = "4PL"

    def parameter_names(self, n_categories):
        return ["d", "g", "u"]

    def parameter_weights(self, n_categories):
        return {**super().parameter_weights(n_categories),
                "u": WeightRef("raw_logit_upper", None, lambda values: _logit(values["u"]))}

    def asymptotes(self, values):
        return values["g"], values["u"]


@keras.saving.register_keras_serializable("latentvi.irt")
class GuessingItems(ItemGroup):
    """The intercepts d, logit g and logit u of 3PL and 4PL items (u fixed at 1 for 3PL)."""

    def __init__(self, n_categories, types, priors=None, **kwargs):
        super().__init__(n_categories, types, priors=priors, **kwargs)
        n_items = len(self.n_categories)
        self.free_upper = np.array([name == FourPL.name for name in self.types])
        _check_upper_priors(self.priors, self.free_upper)
        self.intercept = self.add_weight(shape=(n_items,), name="intercept",
                                         initializer=keras.initializers.Constant(1.0))
        self.logit_guessing = self.add_weight(
            shape=(n_items,), name="logit_guessing",
            initializer=keras.initializers.Constant(float(logit(START_GUESSING))))
        self.raw_logit_upper = self.add_weight(
            shape=(n_items,), name="raw_logit_upper",
            initializer=keras.initializers.Constant(float(logit(START_UPPER))))
        self.built = True

    @property
    def d(self):
        """d [J_g]."""
        return self.constrained("intercept")

    @property
    def logit_g(self):
        """logit g [J_g]."""
        return self.constrained("logit_guessing")

    @property
    def logit_upper(self):
        """logit u [J_g]: the weight for 4PL items, +1e4 (u = 1) for 3PL items."""
        raw = self.constrained("raw_logit_upper")
        return tf.where(tf.constant(self.free_upper), raw, tf.fill(tf.shape(raw), _FIXED_UPPER))

    def start_from(self, intercepts):
        """d such that the item's curve passes where the 2PL start's does at eta = 0:
        g + (u - g) sigmoid(d) = sigmoid(d_2PL)."""
        start = np.asarray(intercepts, float)[:, 0]
        upper = np.where(self.free_upper, START_UPPER, 1.0)
        share = (expit(start) - START_GUESSING) / (upper - START_GUESSING)
        # An item answered correctly less often than g at the median trait starts at 5%.
        self.intercept.assign(logit(np.clip(share, 0.05, 0.95)).astype(np.float32))

    def parameter_tensors(self):
        """d, and g and u on the logit scale (mirt's scale for priors), [J_g] each."""
        return {"d": self.d, "g": self.logit_g, "u": self.logit_upper}

    def values(self):
        intercepts = self.d.numpy().astype(float)
        guessing = expit(self.logit_g.numpy().astype(float))
        upper = expit(self.logit_upper.numpy().astype(float))
        found = []
        for j, name in enumerate(self.types):
            row = {"d": intercepts[j], "g": guessing[j]}
            if self.free_upper[j]:
                row["u"] = upper[j]
            found.append(row)
        return found

    def log_prob(self, eta, x):
        x = tf.cast(x, eta.dtype)
        log_inner, log_outer = _log_sigmoids(eta + self.d)
        logit_g, logit_u = self.logit_g, self.logit_upper
        # log g or log(1 - g), and log u or log(1 - u), chosen by the answer (x is 0 or 1).
        log_lower = tf.math.log_sigmoid(logit_g * (2.0 * x - 1.0))
        log_upper = tf.math.log_sigmoid(logit_u * (2.0 * x - 1.0))
        return tfp.math.log_add_exp(log_outer + log_lower, log_inner + log_upper)

    def category_log_probs(self, eta):
        log_inner, log_outer = _log_sigmoids(eta + self.d)
        logit_g, logit_u = self.logit_g, self.logit_upper
        wrong = tfp.math.log_add_exp(log_outer + tf.math.log_sigmoid(-logit_g),
                                     log_inner + tf.math.log_sigmoid(-logit_u))
        right = tfp.math.log_add_exp(log_outer + tf.math.log_sigmoid(logit_g),
                                     log_inner + tf.math.log_sigmoid(logit_u))
        return tf.stack([wrong, right], axis=-1)


def _log_sigmoids(logits):
    """(log s, log(1 - s)) for s = sigmoid(logits), from one log_sigmoid."""
    log_inner = tf.math.log_sigmoid(logits)
    return log_inner, log_inner - logits


def _check_upper_priors(priors, free_upper):
    specs = priors.get("u", [])
    fixed = [j for j, spec in enumerate(specs) if spec is not None and not free_upper[j]]
    if fixed:
        raise ValueError("a prior on 'u' was given for a 3PL item, whose upper asymptote is "
                         "fixed at 1; use item_type '4PL' for an item with an estimated u")


register(ThreePL())
register(FourPL())


def _logit(probability):
    if not 0.0 < probability < 1.0:
        raise ValueError(f"an asymptote must lie strictly between 0 and 1; got {probability}")
    return float(logit(probability))
