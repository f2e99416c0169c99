"""The observed information of a multiple-group model, computed group by group.

A `GroupedItemResponse` evaluates every group's copy of the items for every person (G times
one group's work), which is what a stochastic fit needs but not what a Hessian should pay: a
Hessian by automatic differentiation takes one backward pass per weight entry, and the grouped
model has G times the entries. Yet each person's log-likelihood depends only on their own
group's copy of the items, their group's latent parameters and the regression weights, so the
information is a sum over groups of small blocks:

    H = sum_g P_g' H_g P_g,

H_g the Hessian of group g's log-likelihood over its own entries (one copy of the items, its
mean / SDs / correlations, the regression weights), P_g placing them among the grouped model's
entries. Each H_g is computed on a one-group *view* of the model (the same
`GroupedItemResponse` with G = 1, holding group g's values) with adaptive quadrature on group
g's answer patterns; the nodes come from the grouped model's encoder.

The entries are the weights as the model reads them (tied entries at their common value), so
for any free basis B of the grouped model (`quadrature.free_basis`) the information of the
free coordinates is B' H B.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from latentvi.irt import quadrature, training
from latentvi.irt.scoring import unique_patterns

MAX_CELLS = 100_000_000  # patterns x nodes x items x weight entries per compiled Hessian call

__all__ = ["EntryIndex", "GroupRefinement", "GroupViews", "entry_index", "information",
           "newton_refine", "read_values", "view"]


class EntryIndex:
    """Where each entry of the grouped model's `variables` sits: `variable[i]` (position in
    the list), `row[i]` (first-axis index), and for item weights the item and group of the
    copy (`item[i]`, `group[i]`; -1 elsewhere) and whether it is a slope (`slope[i]`)."""

    def __init__(self, variable, row, item, group, slope):
        self.variable, self.row, self.item = variable, row, item
        self.group, self.slope = group, slope


def _item_variables(likelihood):
    """{id(variable): (first virtual row, reader)} of the variables whose rows are item copies:
    the slopes' kernel and every item group's weights."""
    found = {id(likelihood.decoder.kernel): (0, lambda: _kernel(likelihood.decoder))}
    for layer, (start, _) in zip(likelihood.groups, likelihood.slices):
        for variable in layer.trainable_variables:
            found[id(variable)] = (start, _reader(layer, variable))
    return found


def _kernel(decoder):
    return decoder.kernel if decoder.ties is None else decoder.ties.read(decoder.kernel)


def _reader(layer, variable):
    name = variable.name
    if getattr(layer, name, None) is variable:
        return lambda: layer.constrained(name)
    return lambda: variable


def entry_index(likelihood, variables):
    """`EntryIndex` of every entry of `variables` of a `GroupedItemResponse`."""
    items = _item_variables(likelihood)
    n_groups = likelihood.n_groups
    latent = {id(getattr(likelihood, name)) for name in ("group_means", "group_log_sd",
                                                          "group_corr")}
    parts = []
    for position, variable in enumerate(variables):
        shape = tuple(variable.shape)
        size = int(np.prod(shape))
        rows = (np.repeat(np.arange(shape[0]), size // max(shape[0], 1)) if shape
                else np.zeros(size, int))
        item = group = np.full(size, -1)
        if id(variable) in items:
            virtual = items[id(variable)][0] + rows
            item, group = virtual // n_groups, virtual % n_groups
        elif id(variable) in latent:
            group = rows
        slope = np.full(size, variable is likelihood.decoder.kernel)
        parts.append((np.full(size, position), rows, item, group, slope))
    return EntryIndex(*(np.concatenate(column) for column in zip(*parts)))


def view(latent_model, g):
    """A one-group `LatentModel` holding group g's copy of the items, its latent parameters
    and the regression weights of the grouped `latent_model` (item priors left out)."""
    likelihood = latent_model.likelihood
    n_groups = likelihood.n_groups
    pattern = likelihood.decoder.pattern
    model = training.build_model(
        likelihood.n_categories[g::n_groups], likelihood.n_factors,
        None if pattern is None else np.asarray(pattern)[g::n_groups], False, False,
        item_types=likelihood.item_types[g::n_groups],
        grouping={"n_items": likelihood.n_items, "n_groups": 1,
                  "covariate_center": likelihood.covariate_center,
                  "covariate_scale": likelihood.covariate_scale})
    _copy_group(latent_model, model, g)
    return model


def _copy_group(latent_model, view_model, g):
    """Assigns group g's values of the grouped model to the view's weights."""
    source, target = latent_model.likelihood, view_model.likelihood
    n_groups = source.n_groups
    target.decoder.kernel.assign(_kernel(source.decoder)[g::n_groups])
    for layer, other in zip(source.groups, target.groups):
        for variable, twin in zip(layer.trainable_variables, other.trainable_variables):
            twin.assign(_reader(layer, variable)()[g::n_groups])
    for name in ("group_means", "group_log_sd", "group_corr"):
        getattr(target, name).assign(source.latent(name)[g:g + 1])
    target.regression.assign(source.latent("regression"))


def _view_positions(source, target, g, variables):
    """For each entry of the view's variables, its position among the grouped entries."""
    n_groups = source.n_groups
    pairs = [(source.decoder.kernel, target.decoder.kernel)]
    for layer, other in zip(source.groups, target.groups):
        pairs += list(zip(layer.trainable_variables, other.trainable_variables))
    pairs += [(getattr(source, name), getattr(target, name))
              for name in ("group_means", "group_log_sd", "group_corr", "regression")]
    offsets = np.concatenate([[0], np.cumsum([int(np.prod(v.shape)) for v in variables])])
    position = {id(v): k for k, v in enumerate(variables)}
    found_vars, found_positions = [], []
    for grouped, single in pairs:
        if id(grouped) not in position or not single.trainable:
            continue
        shape = tuple(grouped.shape)
        width = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        rows = np.arange(single.shape[0])
        if grouped is source.regression:
            grouped_rows = rows
        elif any(grouped is getattr(source, n) for n in ("group_means", "group_log_sd",
                                                          "group_corr")):
            grouped_rows = np.array([g])
        else:
            grouped_rows = rows * n_groups + g
        entries = (offsets[position[id(grouped)]] + grouped_rows[:, np.newaxis] * width
                   + np.arange(width)).reshape(-1)
        found_vars.append(single)
        found_positions.append(entries)
    return found_vars, np.concatenate(found_positions)


class GroupViews:
    """Group g's log-likelihood, gradient and Hessian on a one-group view of a grouped model,
    for every group: one view model (its weights set to each group's values in turn) and one
    compiled Hessian (automatic differentiation vectorized over the weight entries) serve
    every group; each group's distinct answer patterns go in chunks of at most `max_cells`
    item evaluations x weight entries, with quadrature nodes placed by the grouped model's
    encoder and re-centred on the view.

    Args:
      latent_model: the grouped `LatentModel`.
      codes, mask: the augmented rows (answers, then group one-hot and covariates) [n, ...].
      group_of: each row's group index [n].
    """

    def __init__(self, latent_model, codes, mask, group_of, max_cells=MAX_CELLS):
        self.model = latent_model
        likelihood = latent_model.likelihood
        n_items, n_groups = likelihood.n_items, likelihood.n_groups
        self.variables = likelihood.trainable_variables + latent_model.prior.trainable_variables
        self.size = sum(int(np.prod(v.shape)) for v in self.variables)
        self.points = quadrature.n_points(likelihood.n_factors)
        present = [g for g in range(n_groups) if (group_of == g).any()]
        self.single = view(latent_model, present[0])
        self.single_variables = None
        nodes_per_pattern = self.points ** likelihood.n_factors
        self.parts = []
        for g in present:
            rows = group_of == g
            patterns, observed, inverse = unique_patterns(codes[rows], mask[rows])
            counts = np.bincount(inverse).astype(np.float64)
            keep = np.r_[np.arange(n_items), n_items + g,
                         np.arange(n_items + n_groups, patterns.shape[1])]
            single_vars, positions = _view_positions(likelihood, self.single.likelihood, g,
                                                     self.variables)
            self.single_variables = single_vars
            width = sum(int(np.prod(v.shape)) for v in single_vars)
            step = max(1, max_cells // (nodes_per_pattern * n_items * max(width, 1)))
            chunks = []
            for start in range(0, len(patterns), step):
                part = slice(start, start + step)
                full_mask = (None if observed[part].all()
                             else tf.constant(observed[part], tf.float32))
                nodes = quadrature.nodes_from_q(latent_model,
                                                tf.constant(patterns[part], tf.float32),
                                                full_mask, self.points)
                chunks.append({
                    "x": tf.constant(patterns[part][:, keep], tf.float32),
                    "mask": None if full_mask is None else tf.constant(
                        observed[part][:, keep], tf.float32),
                    "counts": tf.constant(counts[part]), "nodes": nodes})
            self.parts.append({"group": g, "positions": positions, "chunks": chunks})
        self._compiled = {}
        self.refresh()

    def _call(self, what, chunk):
        """The compiled `what` ('value', 'first', 'second') on a chunk: one trace per kind
        and masking (input signatures of any number of patterns)."""
        masked = chunk["mask"] is not None
        key = (what, masked)
        if key not in self._compiled:
            function = {"value": self._value_of, "first": self._first_order,
                        "second": self._second_order}[what]
            width = int(chunk["x"].shape[1])
            nodes, factors = int(chunk["nodes"].z.shape[0]), int(chunk["nodes"].z.shape[2])
            rows = tf.TensorSpec([None, width], tf.float32)
            signature = [rows, tf.TensorSpec([nodes, None, factors], tf.float32),
                         tf.TensorSpec([nodes, None], tf.float32),
                         tf.TensorSpec([None], tf.float64)]
            if masked:
                self._compiled[key] = tf.function(
                    lambda x, mask, z, w, c: function(x, mask, z, w, c),
                    input_signature=[rows, rows] + signature[1:])
            else:
                self._compiled[key] = tf.function(
                    lambda x, z, w, c: function(x, None, z, w, c), input_signature=signature)
        arguments = [chunk["x"]] + ([chunk["mask"]] if masked else []) + [
            chunk["nodes"].z, chunk["nodes"].log_weights, chunk["counts"]]
        return self._compiled[key](*arguments)

    def _use(self, g):
        _copy_group(self.model, self.single, g)

    def _value_of(self, x, mask, z, log_weights, counts):
        per_pattern = quadrature.log_marginal(self.single, x, mask,
                                              quadrature.Nodes(z, log_weights))
        return tf.reduce_sum(counts * tf.cast(per_pattern, tf.float64))

    def _second_order(self, x, mask, z, log_weights, counts):
        variables = self.single_variables
        with tf.GradientTape(persistent=True) as outer:
            with tf.GradientTape() as inner:
                value = self._value_of(x, mask, z, log_weights, counts)
            gradient = quadrature.flat(inner.gradient(value, variables), variables)
        rows = outer.jacobian(gradient, variables, experimental_use_pfor=True)
        width = int(gradient.shape[0])
        hessian = tf.concat([tf.zeros([width, int(np.prod(v.shape))]) if r is None
                             else tf.reshape(r, [width, -1]) for r, v in zip(rows, variables)],
                            axis=1)
        return gradient, -hessian

    def _first_order(self, x, mask, z, log_weights, counts):
        variables = self.single_variables
        with tf.GradientTape() as tape:
            value = self._value_of(x, mask, z, log_weights, counts)
        return quadrature.flat(tape.gradient(value, variables), variables)

    def gradient(self):
        """The gradient [W] of the log-likelihood over the grouped model's entries."""
        gradient = np.zeros(self.size)
        for part in self.parts:
            self._use(part["group"])
            for chunk in part["chunks"]:
                grad = self._call("first", chunk)
                gradient[part["positions"]] += grad.numpy().astype(np.float64)
        return gradient

    def refresh(self, recentre=2):
        """Re-centres every group's nodes on the grouped model's current values."""
        for part in self.parts:
            self._use(part["group"])
            for chunk in part["chunks"]:
                for _ in range(recentre):
                    chunk["nodes"] = quadrature.recentre(self.single, chunk["x"],
                                                         chunk["mask"], chunk["nodes"],
                                                         self.points)

    def value(self):
        """The log-likelihood summed over groups (float64) at the current nodes."""
        total = 0.0
        for part in self.parts:
            self._use(part["group"])
            for chunk in part["chunks"]:
                total += float(self._call("value", chunk))
        return total

    def information(self):
        """(H [W, W], gradient [W]): minus the Hessian and the gradient of the
        log-likelihood over every entry of the grouped model's variables (as read)."""
        total, gradient = np.zeros((self.size, self.size)), np.zeros(self.size)
        for part in self.parts:
            self._use(part["group"])
            positions = part["positions"]
            for chunk in part["chunks"]:
                grad, block = self._call("second", chunk)
                total[np.ix_(positions, positions)] += block.numpy().astype(np.float64)
                gradient[positions] += grad.numpy().astype(np.float64)
        return 0.5 * (total + total.T), gradient


def information(latent_model, codes, mask, variables, group_of):
    """(H [W, W], gradient [W]) of `GroupViews(...).information()` over `variables` (the
    grouped model's trainable variables)."""
    views = GroupViews(latent_model, codes, mask, group_of)
    assert [id(v) for v in views.variables] == [id(v) for v in variables]
    return views.information()


class GroupRefinement(NamedTuple):
    """What `newton_refine` did: Newton steps taken, the last one's size in standard errors
    (root mean square over the free parameters), the log-likelihood before and after."""
    steps: int
    last_step: float
    before: float
    after: float


def newton_refine(latent_model, codes, mask, group_of, max_steps=12, tol=0.01):
    """Brings a grouped model to the exact maximum of its likelihood by Newton steps over its
    free coordinates, with the information and gradient computed group by group.

    The information (a Hessian: one vectorized backward pass per weight entry) is computed
    at the start and again only when a step fails; the steps between reuse it with a fresh
    gradient (the chord method: linear convergence at the rate of the information's change,
    small near the maximum; on 30 groups x 3,000 persons x 40 items, 5 full Newton steps
    took 270 s, this 1 Hessian and a few gradients). A step that lowers the log-likelihood is
    halved (up to 5 times). Stops when the step is below `tol` standard errors (root mean
    square over the free parameters). Returns a `GroupRefinement`."""
    views = GroupViews(latent_model, codes, mask, group_of)
    likelihood = latent_model.likelihood
    variables = views.variables
    first = views.value()
    basis = quadrature.free_basis(latent_model, variables)
    covariance, distance, fresh = None, np.inf, False
    for step in range(1, max_steps + 1):
        if covariance is None:
            hessian, gradient = views.information()
            used = np.abs(np.diag(basis.T @ hessian @ basis)) > 1e-10
            basis = basis[:, used]
            covariance = np.linalg.inv(basis.T @ hessian @ basis)
            fresh = True
        else:
            gradient = views.gradient()
            fresh = False
        change = covariance @ (basis.T @ gradient)
        distance = float(np.sqrt(np.mean(change ** 2 / np.maximum(np.diag(covariance),
                                                                  1e-300))))
        if distance < tol:
            break
        before, start = views.value(), read_values(likelihood, variables)
        for _ in range(6):
            quadrature.assign_flat(variables, start + basis @ change)
            if views.value() >= before - 1e-9 * abs(before):
                break
            change = change / 2
        else:
            quadrature.assign_flat(variables, start)
            if fresh:
                break
            covariance = None  # the stale information failed: recompute it
        views.refresh(recentre=1)
    return GroupRefinement(step, distance, first, views.value())


def read_values(likelihood, variables):
    """Every entry of `variables` as the grouped likelihood reads it (tied entries at their
    common value, fixed ones at their value), flat float64."""
    items = _item_variables(likelihood)
    latent = {id(getattr(likelihood, name)): name for name in
              ("group_means", "group_log_sd", "group_corr", "regression")}
    values = []
    for variable in variables:
        if id(variable) in items:
            value = items[id(variable)][1]()
        elif id(variable) in latent:
            value = likelihood.latent(latent[id(variable)])
        else:
            value = variable
        values.append(np.asarray(value, np.float64).reshape(-1))
    return np.concatenate(values)
