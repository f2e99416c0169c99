"""The Jacobian d phi / dw of the reported parameters phi with respect to the weights w, from
which the standard errors follow by the delta method (`latentvi.irt.standard_errors`, and
`latentvi.irt.multiple_group` for grouped models).

The parameters come in blocks of tensors (the slope matrix, each item group's parameter
vectors, the latent means, covariances and correlations): one vectorized Jacobian per block
(`block_jacobians`), its rows picked by (block, entry) (`picked_rows`).
"""

import numpy as np
import tensorflow as tf

from latentvi.irt import quadrature
from latentvi.irt.items.guessing import ASYMPTOTES

__all__ = ["add_item_parameters", "block_jacobians", "picked_rows"]


def add_item_parameters(likelihood, label_of, labels, picks, blocks):
    """Appends the free parameters of every item group of `likelihood` (an `ItemResponse`):
    one block per group and parameter name (asymptotes as probabilities), and per item the
    label (`label_of(row)`, row: the item's row in the likelihood, then the parameter name)
    and its (block, entry). Call it under the GradientTape that watches the weights."""
    for group, (start, stop) in zip(likelihood.groups, likelihood.slices):
        found, index = group.parameter_tensors(), {}
        for local, row in enumerate(range(start, stop)):
            kind, n_categories = group.item_type(local), group.n_categories[local]
            constant = kind.fixed_parameters(n_categories)
            for name in kind.parameter_names(n_categories):
                if name in constant:
                    continue
                if name not in index:
                    index[name] = len(blocks)
                    value = found[name]
                    blocks.append(tf.sigmoid(value) if name in ASYMPTOTES else value)
                labels.append((label_of(row), name))
                picks.append((index[name], local))


def block_jacobians(tape, blocks, variables):
    """d block / dw [block size, W] of each block, for the weights `variables`."""
    return [quadrature.jacobian_matrix(tape.jacobian(block, variables), variables,
                                       int(block.shape[0])) for block in blocks]


def picked_rows(matrices, picks):
    """The Jacobian [R, W] whose rows are the (block, entry) `picks` of `matrices`."""
    return np.array([matrices[block][row] for block, row in picks]).reshape(len(picks), -1)
