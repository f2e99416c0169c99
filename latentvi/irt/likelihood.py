"""The item response likelihood p(x | z) of item factor analysis, in mirt's slope-intercept form.

Each item j has slopes a_j (one per factor, `ItemSlopes`) and a linear predictor eta_j = a_j . z;
its type (`latentvi.irt.items`) gives P(x_j = k | eta_j). `ItemResponse` holds one `ItemGroup`
layer per group of item types (2PL and graded items form one group) and sums the groups'
log-probabilities of the observed answers. The items of one group are contiguous columns
(`ItemFactorModel` orders the columns so), so a group reads a slice of eta and of the answers,
never a gather over every Monte Carlo draw.

References:
  [1] Chalmers (2012). mirt: A Multidimensional Item Response Theory Package for the R
      Environment. Journal of Statistical Software 48(6).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import positive_int
from latentvi.irt import items as item_types
from latentvi.irt.constraints import Ties
from latentvi.likelihoods import Likelihood

tfd = tfp.distributions

__all__ = ["ItemCells", "ItemResponse", "ItemSlopes", "contiguous_groups"]


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
      fixed: None, or [J, D] values of slopes fixed at a value (NaN where estimated).
      ties: None, or the `Ties` config of the kernel (groups of equal slopes; `join`).
    """

    def __init__(self, n_items, n_factors, pattern=None, equal_slopes=False, fixed=None,
                 ties=None, **kwargs):
        super().__init__(**kwargs)
        self.n_items = positive_int(n_items, "n_items")
        self.n_factors = positive_int(n_factors, "n_factors")
        self.pattern = None if pattern is None else np.asarray(pattern, np.float32).tolist()
        self.equal_slopes = bool(equal_slopes)
        self.fixed = None if fixed is None else np.asarray(fixed, np.float32).tolist()
        shape = (self.n_factors,) if self.equal_slopes else (self.n_items, self.n_factors)
        # Positive, unequal starting slopes so that no two factors start in symmetry.
        self.kernel = self.add_weight(shape=shape, name="kernel",
                                      initializer=keras.initializers.RandomUniform(0.5, 1.5))
        self.ties = None if ties is None else Ties(**ties)
        self.built = True

    def join(self, groups):
        """Holds each group [(j, d), ...] of slopes equal (one estimated slope per group)."""
        if self.equal_slopes:
            raise ValueError("slopes already shared per factor (equal_slopes) cannot be "
                             "grouped further")
        self.ties = self.ties or Ties(tuple(self.kernel.shape))
        for members in groups:
            self.ties.join(members)
        self.ties.start(self.kernel)

    def start_from(self, slopes):
        """Sets the slopes A [J, D] (with equal slopes: each factor's mean over its items)."""
        slopes = np.asarray(slopes, np.float32)
        if self.equal_slopes:
            loads = slopes != 0
            slopes = slopes.sum(axis=0) / np.maximum(loads.sum(axis=0), 1)
        self.kernel.assign(slopes)
        if self.ties is not None:
            self.ties.start(self.kernel)

    @property
    def slopes(self):
        """A [J, D] as a tensor, zeros where the pattern fixes them."""
        kernel = self.kernel if self.ties is None else self.ties.read(self.kernel)
        if self.equal_slopes:
            kernel = tf.broadcast_to(kernel[tf.newaxis, :], (self.n_items, self.n_factors))
        if self.pattern is not None:
            kernel = kernel * tf.constant(self.pattern, tf.float32)
        if self.fixed is not None:
            fixed = np.asarray(self.fixed, np.float32)
            kernel = tf.where(tf.constant(np.isnan(fixed)), kernel,
                              tf.constant(np.nan_to_num(fixed)))
        return kernel

    def call(self, z):
        return tf.matmul(z, self.slopes, transpose_b=True)

    def get_config(self):
        return {**super().get_config(), "n_items": self.n_items, "n_factors": self.n_factors,
                "pattern": self.pattern, "equal_slopes": self.equal_slopes,
                "fixed": self.fixed, "ties": None if self.ties is None else self.ties.to_config()}


@keras.saving.register_keras_serializable("latentvi.irt")
class ItemResponse(Likelihood):
    """Items of any registered types: x_j in 0..K_j-1 given the linear predictor eta_j.

    Args:
      decoder: network z -> eta [n, J], normally `ItemSlopes`.
      n_categories: K_j for each item (each >= 2).
      item_types: each item's type name (default: '2PL' for two categories, else 'graded').
        Items of one group (`ItemType.group_name`) must be contiguous.
      priors: {parameter name: [spec or None per item]} (`ItemGroup.log_prior`).
      group_ties: each group's {weight name: `Ties` config} (set by `constrain`; saved).
    """

    def __init__(self, decoder, n_categories, item_types=None, priors=None, group_ties=None,
                 **kwargs):
        super().__init__(decoder, **kwargs)
        self.n_categories = [positive_int(int(k), "n_categories") for k in n_categories]
        if min(self.n_categories) < 2:
            raise ValueError(f"every item needs at least 2 categories; got {self.n_categories}")
        if item_types is None:
            item_types = ["2PL" if k == 2 else "graded" for k in self.n_categories]
        self.item_types = [_type(name).name for name in item_types]
        self.max_categories = max(self.n_categories)
        self.slices = contiguous_groups([_type(name).group_name for name in self.item_types])
        priors = priors or {}
        self.groups = [_type(self.item_types[start]).group(
            self.n_categories[start:stop], self.item_types[start:stop],
            priors={name: specs[start:stop] for name, specs in priors.items()})
            for start, stop in self.slices]
        for group, ties in zip(self.groups, group_ties or [{}] * len(self.groups)):
            group.ties = {name: Ties(**config) for name, config in ties.items()}
        self.prior_weight = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                            name="prior_weight")

    def build_parameters(self, output_shape):
        n_items = len(self.n_categories)
        if tuple(output_shape) != (n_items,):
            raise ValueError(f"the decoder gives {tuple(output_shape)} linear predictors per "
                             f"person, but there are {n_items} items")
        self.built = True

    def elementwise(self, eta):
        return ItemCells(eta, self)

    def log_prob(self, eta, x):
        """log P(x_j | eta_j) [..., J] of the answers x (float codes)."""
        if len(self.groups) == 1:
            return self.groups[0].log_prob(eta, x)
        return tf.concat([group.log_prob(eta[..., start:stop], x[..., start:stop])
                          for group, (start, stop) in zip(self.groups, self.slices)], -1)

    def category_log_probs(self, eta):
        """log P(x_j = k | eta_j) for every k, [..., J, Kmax] (-inf past an item's K_j)."""
        parts = []
        for group, (start, stop) in zip(self.groups, self.slices):
            logs = group.category_log_probs(eta[..., start:stop])
            width = self.max_categories - logs.shape[-1]
            if width:
                pad = tf.fill(tf.concat([tf.shape(logs)[:-1], [width]], 0), -np.inf)
                logs = tf.concat([logs, pad], -1)
            parts.append(logs)
        return parts[0] if len(parts) == 1 else tf.concat(parts, -2)

    def values(self):
        """Each item's fitted type-specific parameters ({mirt name: value}), in item order."""
        return [row for group in self.groups for row in group.values()]

    def start_from(self, intercepts):
        """Starting values from the data's cumulative logits [J, >= Kmax-1] (`irt.start`)."""
        intercepts = np.asarray(intercepts, np.float32)
        for group, (start, stop) in zip(self.groups, self.slices):
            group.start_from(intercepts[start:stop])

    def constrain(self, fixed, equal, values):
        """Fixes and joins item parameters (a parameter table's, checked by its reader).

        Args:
          fixed: [(j, name)] parameters of items j fixed at their value in `values`.
          equal: [[(j, name), ...]] groups held equal (items of one type group).
          values: {j: {name: value}} starting (and fixed) values.
        """
        for group, (start, stop) in zip(self.groups, self.slices):
            local = range(start, stop)
            group.constrain([(j - start, name) for j, name in fixed if j in local],
                            [[(j - start, name) for j, name in members]
                             for members in equal if members[0][0] in local],
                            {j - start: row for j, row in values.items() if j in local})

    def log_prior(self):
        """The log-density of all the items' priors at their parameters."""
        return tf.add_n([tf.convert_to_tensor(group.log_prior(), tf.float32)
                         for group in self.groups])

    def penalty(self):
        """What the fit adds to its loss (minus the mean bound per person): minus the
        log-prior divided by the number of persons (`prior_weight`, set by the fit), so that
        the maximum is the marginal MAP estimate, as mirt's with PRIOR."""
        if not any(spec for group in self.groups for specs in group.priors.values()
                   for spec in specs):
            return 0.0
        return -self.log_prior() * self.prior_weight

    def set_persons(self, n_persons):
        """The number of persons the fitted bound averages over (scales the priors)."""
        self.prior_weight.assign(1.0 / float(n_persons))

    def load_own_variables(self, store):
        # Files written before item types were objects hold the graded intercepts here (and
        # no prior weight): hand them to the one group, which holds those weights now.
        legacy = (len(store.keys()) != len(self._trainable_variables + self._non_trainable_variables)
                  and len(self.groups) == 1
                  and len(store.keys()) == len(self.groups[0].weights))
        if legacy:
            self.groups[0].load_own_variables(store)
            return
        super().load_own_variables(store)

    def get_config(self):
        priors = {}
        for group in self.groups:
            for name in group.priors:
                priors.setdefault(name, [None] * len(self.n_categories))
        for group, (start, _) in zip(self.groups, self.slices):
            for name, specs in group.priors.items():
                priors[name][start:start + len(specs)] = specs
        return {**super().get_config(), "n_categories": list(self.n_categories),
                "item_types": list(self.item_types), "priors": priors,
                "group_ties": [{name: ties.to_config() for name, ties in group.ties.items()}
                               for group in self.groups]}


def _type(name):
    return item_types.get(name)


def contiguous_groups(group_names):
    """[(start, stop)] of the runs of equal group names; raises if a group is split."""
    slices, seen = [], set()
    for j, name in enumerate(group_names):
        if slices and group_names[slices[-1][0]] == name:
            slices[-1] = (slices[-1][0], j + 1)
            continue
        if name in seen:
            raise ValueError(f"items of the item-type group {name!r} must be contiguous "
                             f"columns; order the items by type")
        seen.add(name)
        slices.append((j, j + 1))
    return slices


class ItemCells(tfd.Distribution):
    """The answers x_j of items j given their linear predictors eta [..., J]: `log_prob` asks
    each item group of `likelihood` (an `ItemResponse`) for its items' log-probabilities."""

    def __init__(self, eta, likelihood, name="ItemCells"):
        parameters = dict(locals())
        self._eta = tf.convert_to_tensor(eta, tf.float32)
        self._likelihood = likelihood
        super().__init__(dtype=tf.float32, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                         validate_args=False, allow_nan_stats=True, parameters=parameters,
                         name=name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return {"eta": tfp.util.ParameterProperties()}

    def _event_shape(self):
        return tf.TensorShape([])

    def _event_shape_tensor(self):
        return tf.constant([], tf.int32)

    def _batch_shape(self):
        return self._eta.shape

    def _batch_shape_tensor(self):
        return tf.shape(self._eta)

    def _log_prob(self, x):
        return self._likelihood.log_prob(self._eta, x)

    def _sample_n(self, n, seed=None):
        logits = self._likelihood.category_log_probs(self._eta)
        draws = tfd.Categorical(logits=logits).sample(n, seed=seed)
        return tf.cast(draws, tf.float32)
