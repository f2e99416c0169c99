"""Fixed and equal parameters, as constraints on the entries of a layer's weights.

A parameter table (`latentvi.irt.parameter_table`) can fix a parameter at a value (mirt's
est = FALSE) or make parameters equal (mirt's CONSTRAIN). An item type says which of its
parameters one entry of one weight holds (`ItemType.parameter_weights`): a 3PL item's d and
logit g, a graded item's d1, and its d_k given d_(k-1) (the weight is the step between them).
The layer then reads that weight through `Ties`:

    w_read[i] = v_i                          (entry i fixed at v_i)
    w_read[i] = mean of w[l] over i's group   (entry i equal to the others of its group)

so a fixed entry receives no gradient, and the entries of one group all receive the mean of
their gradients and move together. Every fit of the weights (the stochastic one, and the exact
refinement by L-BFGS) then maximizes over the constrained parameters only, with no projection
step and no penalty.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import tensorflow as tf

__all__ = ["Ties", "WeightRef"]


class WeightRef(NamedTuple):
    """Where an item's parameter lives: the group's weight `weight` (its attribute name), at
    the item's row and `column` (None for a weight with one entry per item); `to_weight` maps
    the item's parameter values {name: value} to that entry; `after` names the parameters
    the entry also depends on (fixing or equating this parameter needs those fixed or equated
    alike: a graded item's d2 is held as the step d1 - d2)."""
    weight: str
    column: int | None
    to_weight: Callable[[dict], float]
    after: tuple = ()


@dataclass
class Ties:
    """Fixed entries and groups of equal entries of one weight of `shape`.

    Attributes:
      shape: the weight's shape.
      group: a group id for each entry (row-major); entries sharing an id are read as their
        mean.
      fixed: for each entry the fixed value, or None.
    """
    shape: tuple
    group: list = field(default=None)
    fixed: list = field(default=None)

    def __post_init__(self):
        self.shape = tuple(int(n) for n in self.shape)
        size = int(np.prod(self.shape))
        self.group = list(range(size)) if self.group is None else [int(g) for g in self.group]
        self.fixed = [None] * size if self.fixed is None else [
            None if v is None else float(v) for v in self.fixed]

    def flat(self, index):
        return int(np.ravel_multi_index(index, self.shape))

    def fix(self, index, value):
        self.fixed[self.flat(index)] = float(value)

    def join(self, indices):
        """Makes the entries at `indices` one group (merging the groups they were in)."""
        ids = {self.group[self.flat(index)] for index in indices}
        target = min(ids)
        self.group = [target if g in ids else g for g in self.group]

    @property
    def active(self):
        return self.any_fixed or self.any_joined

    @property
    def any_fixed(self):
        return any(v is not None for v in self.fixed)

    @property
    def any_joined(self):
        return len(set(self.group)) < len(self.group)

    def read(self, variable):
        """The weight as the layer uses it: fixed entries at their values, groups at their
        means."""
        flat = tf.reshape(tf.convert_to_tensor(variable), [-1])
        if self.any_joined:
            ids, dense = np.unique(np.array(self.group), return_inverse=True)
            dense = tf.constant(dense.astype(np.int32))
            means = tf.math.unsorted_segment_mean(flat, dense, len(ids))
            flat = tf.gather(means, dense)
        if self.any_fixed:
            mask = np.array([v is not None for v in self.fixed])
            values = np.array([0.0 if v is None else v for v in self.fixed], np.float32)
            flat = tf.where(tf.constant(mask), tf.constant(values), flat)
        return tf.reshape(flat, self.shape)

    def start(self, variable):
        """Assigns each group the mean of its entries and each fixed entry its value, so that
        the raw weights start where the layer reads them."""
        variable.assign(self.read(variable))

    def to_config(self):
        return {"shape": list(self.shape), "group": list(self.group), "fixed": list(self.fixed)}
