"""The base classes of an item type: `ItemType` (its math, in NumPy) and `ItemGroup` (its fit).

An item type owns everything about one kind of item, so that its math lives in one file:

- its parameter names as mirt spells them (`parameter_names`: 'd', 'g', 'd1', 'ak0', ...) and
  how many of them are free (`n_parameters`);
- the category probabilities P(x = k | eta), k = 0..K-1, given the item's linear predictor
  eta = a . theta (`probabilities`), used by information, plots, fit statistics and simulation;
- the Fisher information about eta, sum_k (dP_k / d eta)^2 / P_k (`information`; by default
  from central differences of `probabilities`, exact to ~1e-8);
- a sampler (`sample`: a category from a uniform draw; by default by inversion);
- optionally, mirt's traditional IRT parameterization of a one-factor item
  (`irt_parameters`: b = -d / a and the like);
- its fit: `group` builds an `ItemGroup`, a Keras layer holding the unconstrained weights of all
  items of this type in a model, mapping them to parameters and giving the log-probability of
  the observed categories given eta (TensorFlow, used in training).

Every item type shares the slopes a (one per factor, `ItemSlopes`): eta = a . theta. To add an
item type, subclass `ItemType` and `ItemGroup` in one module and register the type
(`register`, also `latentvi.irt.items.register`); docs/psychometrics.md shows a worked example.
The registry (`register`, `get`, `names`) lives here, beside the classes it holds, so that an
`ItemGroup` finds its items' types by name without importing the package above it.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi.irt.constraints import Ties

__all__ = ["PRIOR_KINDS", "ItemGroup", "ItemType", "get", "log_density", "names", "register"]

tfd = tfp.distributions

_REGISTRY = {}  # item types by name and alias
_STEP = 1e-5  # central-difference step in eta: error ~ step^2 * P''' ~ 1e-10


class ItemType:
    """One kind of item. Subclasses set `name` and implement the methods marked below.

    Attributes:
      name: the type's name as mirt spells it ('2PL', 'graded', 'gpcm', ...).
      aliases: other names accepted in `item_type=`.
      group_name: items whose types share a group name are fitted by one `ItemGroup` (the 2PL
        is the graded model with two categories, so they share the graded group).
      whole_batch_persons: data sets up to this size are fitted with every person in every
        step (512 by default).
    """

    name = None
    aliases = ()
    # Up to this many persons every training step should see them all (the fit uses the
    # largest value of its items' types): parameters on flat ridges of the likelihood, such as
    # a 3PL item's guessing, drift too slowly under minibatch noise.
    whole_batch_persons = 512

    @property
    def group_name(self):
        return self.name

    def check_categories(self, item, labels):
        """Raises ValueError when the type cannot model an item whose observed categories are
        `labels` (at least 2, checked before)."""

    def parameter_names(self, n_categories):
        """The type-specific parameter names of an item with K categories (mirt's)."""
        raise NotImplementedError

    def n_parameters(self, n_categories):
        """Free type-specific parameters of one item (the slopes are counted apart)."""
        return len(self.parameter_names(n_categories)) - len(self.fixed_parameters(n_categories))

    def fixed_parameters(self, n_categories):
        """{name: value} of the parameters that `parameter_names` lists but the type fixes
        for identification (a nominal item's ak0 = 0, ak(K-1) = K-1, d0 = 0); none by
        default."""
        return {}

    def parameter_weights(self, n_categories):
        """{name: `latentvi.irt.constraints.WeightRef`} of the parameters that one entry of one
        weight of the type's `ItemGroup` holds: these a parameter table can fix, start and make
        equal (mirt's est = FALSE, value and CONSTRAIN). None by default: then only the slopes
        and priors of the type's items can be constrained."""
        return {}

    def probabilities(self, eta, values, n_categories):
        """P(x = k | eta) [m, K] for linear predictors eta [m] (NumPy, float64).

        Args:
          eta: [m] the item's linear predictor a . theta at m points.
          values: {parameter name: value} of this item.
          n_categories: K.
        """
        raise NotImplementedError

    def information(self, eta, values, n_categories):
        """sum_k (dP_k / d eta)^2 / P_k [m]: the item's information about eta."""
        eta = np.asarray(eta, float)
        probabilities = self.probabilities(eta, values, n_categories)
        slope = (self.probabilities(eta + _STEP, values, n_categories)
                 - self.probabilities(eta - _STEP, values, n_categories)) / (2 * _STEP)
        keep = probabilities > 1e-300
        return np.sum(np.where(keep, slope**2 / np.where(keep, probabilities, 1.0), 0.0), -1)

    def irt_parameters(self, slope, values, n_categories):
        """{name: value} of the item in mirt's traditional IRT parameterization
        (coef(fit, IRTpars = TRUE)) for a one-factor model with slope a. Types without one
        raise NotImplementedError (the default)."""
        raise NotImplementedError(f"item type {self.name!r} has no IRT parameterization")

    def sample(self, uniform, eta, values, n_categories):
        """Categories 0..K-1 [n] at each eta [n], from one uniform draw per answer [n]: by
        inversion, the smallest k with u < P(x <= k)."""
        cumulative = np.cumsum(self.probabilities(eta, values, n_categories), axis=-1)
        below = np.asarray(uniform)[:, np.newaxis] >= cumulative
        return np.minimum(np.sum(below, axis=-1), n_categories - 1)

    def group(self, n_categories, types, priors=None):
        """The `ItemGroup` layer fitting items with these numbers of categories and types
        (and priors: {parameter name: [spec or None per item]})."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


def register(item_type):
    """Makes `item_type` (an `ItemType` instance) available under its name and aliases."""
    if not isinstance(item_type, ItemType) or not item_type.name:
        raise TypeError(f"register expects an ItemType instance with a name; got {item_type!r}")
    for name in (item_type.name, *item_type.aliases):
        _REGISTRY[name] = item_type
    return item_type


def get(name):
    """The registered item type called `name` (or an `ItemType` instance, returned as is)."""
    if isinstance(name, ItemType):
        return name
    if name not in _REGISTRY:
        raise ValueError(f"unknown item type {name!r}; expected one of {names()}")
    return _REGISTRY[name]


def names():
    """Every accepted item-type name, aliases included."""
    return sorted(_REGISTRY, key=str.lower)


class ItemGroup(keras.layers.Layer):
    """The fitted weights of all items of one type in a model, and their log-likelihood.

    Subclasses create their weights in `__init__` (items of this group only, [J_g, ...]) and
    implement `log_prob`, `values` and `start_from`.

    Args:
      n_categories: K_j of each item of the group.
      types: the type name of each item (items of one group may differ in name, e.g. '2PL' and
        'graded'; the names decide how `values` labels the parameters).
    """

    def __init__(self, n_categories, types, priors=None, ties=None, **kwargs):
        super().__init__(**kwargs)
        self.n_categories = [int(k) for k in n_categories]
        self.types = [str(name) for name in types]
        self.max_categories = max(self.n_categories)
        self.priors = {str(name): [None if spec is None else list(spec) for spec in specs]
                       for name, specs in (priors or {}).items()}
        self.ties = {str(name): Ties(**config) for name, config in (ties or {}).items()}

    def constrained(self, name):
        """The weight `name` as the group's math must read it: through its `Ties` (fixed and
        equal entries, from a parameter table) when it has any, else the variable itself.
        A subclass whose type lists `parameter_weights` reads those weights through this."""
        variable = getattr(self, name)
        ties = self.ties.get(name)
        return variable if ties is None or not ties.active else ties.read(variable)

    def item_type(self, j):
        """The `ItemType` of the group's item j."""
        return get(self.types[j])

    def weight_entry(self, j, name):
        """(weight name, index) of item j's parameter `name`, or None where no single entry
        holds it."""
        ref = self.item_type(j).parameter_weights(self.n_categories[j]).get(name)
        if ref is None:
            return None
        return ref.weight, (j,) if ref.column is None else (j, ref.column)

    def set_values(self, j, values):
        """Sets the weights of item j so that its parameters take `values` ({name: value};
        those its type's `parameter_weights` lists)."""
        refs = self.item_type(j).parameter_weights(self.n_categories[j])
        for name, ref in refs.items():
            if name in values and all(other in values for other in ref.after):
                variable = getattr(self, ref.weight)
                index = (j,) if ref.column is None else (j, ref.column)
                updated = variable.numpy()
                updated[index] = ref.to_weight(values)
                variable.assign(updated)

    def constrain(self, fixed, equal, values):
        """Fixes and joins parameters of this group's items.

        Args:
          fixed: [(j, name)] parameters held at their value in `values`.
          equal: [[(j, name), ...]] groups of parameters held equal (of one weight).
          values: {j: {name: value}}: the items' values (fixed values and starts).
        """
        for j, row in values.items():
            self.set_values(j, row)
        for j, name in fixed:
            weight, index = self.weight_entry(j, name)
            ref = self.item_type(j).parameter_weights(self.n_categories[j])[name]
            self._ties(weight).fix(index, ref.to_weight(values[j]))
        for members in equal:
            entries = [self.weight_entry(j, name) for j, name in members]
            self._ties(entries[0][0]).join([index for _, index in entries])
        for name, ties in self.ties.items():
            if ties.active:
                ties.start(getattr(self, name))

    def _ties(self, weight):
        if weight not in self.ties:
            self.ties[weight] = Ties(tuple(getattr(self, weight).shape))
        return self.ties[weight]

    def log_prob(self, eta, x):
        """log P(x_j | eta_j) [..., J_g] of observed categories x (float codes) [..., J_g]."""
        raise NotImplementedError

    def category_log_probs(self, eta):
        """log P(x_j = k | eta_j) for every k, [..., J_g, Kmax] (-inf past each item's K)."""
        raise NotImplementedError

    def values(self):
        """The fitted parameters of each item: a list of {name: float}, mirt's names."""
        raise NotImplementedError

    def start_from(self, intercepts):
        """Starting values from the data's cumulative logits [J_g, >= Kmax-1] (decreasing)."""

    def parameter_tensors(self):
        """{name: [J_g] tensor} of the parameters that priors can apply to, on the scale mirt
        estimates them (a guessing or upper asymptote on the logit scale)."""
        return {}

    def log_prior(self):
        """sum of log p(parameter) over the priors in `self.priors` ({name: per-item spec or
        None}, spec = ('norm', mean, sd) | ('lnorm', meanlog, sdlog) | ('beta', a, b)); 0 when
        there are none. A 'beta' prior on a logit-scale parameter applies to its probability
        (mirt's 'expbeta')."""
        if not any(spec for specs in self.priors.values() for spec in specs):
            return 0.0
        tensors = self.parameter_tensors()
        total = []
        for name, specs in self.priors.items():
            if name not in tensors:
                raise ValueError(f"no parameter {name!r} to put a prior on in "
                                 f"{type(self).__name__}; it has {sorted(tensors)}")
            for j, spec in enumerate(specs):
                if spec is not None:
                    total.append(log_density(spec, tensors[name][j]))
        return tf.add_n(total)

    def get_config(self):
        return {**super().get_config(), "n_categories": list(self.n_categories),
                "types": list(self.types), "priors": self.priors,
                "ties": {name: ties.to_config() for name, ties in self.ties.items()}}


PRIOR_KINDS = ("norm", "lnorm", "beta")


def log_density(spec, value):
    """log p(value) of a prior spec ('norm', mean, sd), ('lnorm', meanlog, sdlog) or
    ('beta', a, b) (the last for sigmoid(value): a logit-scale parameter's probability)."""
    kind, first, second = spec
    if kind == "norm":
        return tfd.Normal(float(first), float(second)).log_prob(value)
    if kind == "lnorm":
        return tfd.LogNormal(float(first), float(second)).log_prob(value)
    if kind == "beta":
        # The density of p = sigmoid(value) as a density of value: Beta(p) p (1 - p).
        p = tf.math.sigmoid(value)
        return (tfd.Beta(float(first), float(second)).log_prob(p)
                + tf.math.log_sigmoid(value) + tf.math.log_sigmoid(-value))
    raise ValueError(f"unknown prior {kind!r}; expected one of {PRIOR_KINDS}")
