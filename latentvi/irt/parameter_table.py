"""mirt's parameter table (`pars='values'`): one row per parameter, to inspect and to edit.

`ItemFactorModel.parameters()` returns it after a fit, and `parameter_table(...)` before one (the
starting values); `ItemFactorModel(parameters=table)` takes an edited copy. Columns:

    item        the item's label, or 'GROUP' for the latent distribution's parameters
    name        mirt's name: a1..aD, d / d1.., g, u, ak0.., MEAN_1.., COV_11, COV_21, ...
    value       the estimate (after a fit) or the starting / fixed value
    lower, upper  the parameter's range (g and u in [0, 1], the rest unbounded)
    estimated   False for a fixed parameter
    prior       None, or ('norm', mean, sd) / ('lnorm', meanlog, sdlog) / ('beta', a, b)
    equal       None, or a label shared by parameters constrained equal (mirt's CONSTRAIN)

What an edited table can change:
- `value`: starting values of estimated parameters (a table from an earlier fit warm-starts
  the next one), and the values of fixed ones;
- `estimated=False`: the parameter is fixed at `value` (mirt's est = FALSE): any slope, and any
  parameter of an item type that one weight holds (`ItemType.parameter_weights`: d, g, u,
  d1.., ak1..; a graded or partial-credit d_k only together with d_(k-1), since the fit holds
  it as the step between them);
- `prior` (mirt's PRIOR; the estimate is then the marginal MAP);
- `equal`: parameters sharing a label are estimated as one (mirt's CONSTRAIN): slopes of any
  items and factors, or one kind of item parameter of items of one type group (2PL and graded
  items share one; d_k needs d_(k-1) equal across the same items).
The rows of the latent distribution ('GROUP') are reported, not read; an edit that cannot be
honoured is refused with the row named, rather than ignored.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from latentvi.irt import items as item_types
from latentvi.irt.items.base import PRIOR_KINDS
from latentvi.irt.items.guessing import ASYMPTOTES

__all__ = ["COLUMNS", "ParameterSpec", "fixed_or_none", "parameter_table", "prior_lists",
           "read_parameter_table", "start_slopes"]

COLUMNS = ["item", "name", "value", "lower", "upper", "estimated", "prior", "equal"]


@dataclass
class ParameterSpec:
    """What an edited parameter table asks of a fit (slopes [J, D] in the model's item order).

    Attributes:
      fixed_slopes: values of fixed slopes, NaN where a slope is estimated.
      start_slopes: starting values of estimated slopes, NaN for the default start.
      equal_slopes: every item of each factor shares one slope.
      priors: {item: {parameter: (kind, p1, p2)}}.
      slope_groups: {label: [(j, d), ...]} slopes held equal (when not `equal_slopes`).
      fixed: [(j, name)] item parameters fixed at their value in `values`.
      equal: {label: [(j, name), ...]} item parameters held equal.
      values: {j: {name: value}}: the table's values of the items' parameters (starts).
    """
    fixed_slopes: np.ndarray
    start_slopes: np.ndarray
    equal_slopes: bool
    priors: dict
    slope_groups: dict = field(default_factory=dict)
    fixed: list = field(default_factory=list)
    equal: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)

    @property
    def savings(self):
        """Parameters the constraints remove from the count (fixed ones, and all but one of
        each equality group)."""
        return (len(self.fixed) + sum(len(members) - 1 for members in self.slope_groups.values())
                + sum(len(members) - 1 for members in self.equal.values()))


def parameter_table(parameters, estimated_slopes, priors=None, equal_slopes=False,
                    factor_var=None, factor_corr=None, correlated=False, fixed=(), labels=None):
    """The long table of a model's items (`ItemParameters`) and latent distribution.

    Args:
      parameters: the items, in display order.
      estimated_slopes: bool [J, D], which slopes the fit estimates.
      priors: {item: {parameter: spec}}.
      equal_slopes: one slope per factor (the slopes of a factor share an equality label).
      factor_var: [D] latent variances (None: 1, fixed).
      factor_corr: [D, D] latent correlations (None: identity).
      correlated: the fit estimates the correlations.
      fixed: (item, name) pairs of item parameters fixed by a parameter table.
      labels: {(item, name): equality label} from a parameter table.
    """
    priors, labels, fixed = priors or {}, labels or {}, set(fixed)
    rows = []
    for j, item in enumerate(parameters.items):
        kind = parameters.item_type(j)
        for d, name in enumerate(f"a{d + 1}" for d in range(parameters.n_factors)):
            label = name if equal_slopes and estimated_slopes[j, d] else None
            rows.append(_row(item, name, parameters.slopes[j, d],
                             bool(estimated_slopes[j, d]), priors.get(item, {}).get(name),
                             labels.get((item, name), label)))
        constant = kind.fixed_parameters(parameters.n_categories[j])
        for name, value in parameters.values[j].items():
            rows.append(_row(item, name, value,
                             name not in constant and (item, name) not in fixed,
                             priors.get(item, {}).get(name), labels.get((item, name))))
    rows += _group_rows(parameters.n_factors, factor_var, factor_corr, correlated)
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(item, name, value, estimated, prior, equal):
    low, high = (0.0, 1.0) if name in ASYMPTOTES else (-np.inf, np.inf)
    return [item, name, float(value), low, high, bool(estimated),
            None if prior is None else tuple(prior), equal]


def _group_rows(n_factors, factor_var, factor_corr, correlated):
    variance = np.ones(n_factors) if factor_var is None else np.asarray(factor_var, float)
    corr = np.eye(n_factors) if factor_corr is None else np.asarray(factor_corr, float)
    rows = [["GROUP", f"MEAN_{d + 1}", 0.0, -np.inf, np.inf, False, None, None]
            for d in range(n_factors)]
    for d in range(n_factors):
        for e in range(d + 1):
            if d == e:
                rows.append(["GROUP", f"COV_{d + 1}{d + 1}", float(variance[d]), 0.0, np.inf,
                             factor_var is not None and variance[d] != 1.0, None, None])
            else:
                cov = corr[d, e] * np.sqrt(variance[d] * variance[e])
                rows.append(["GROUP", f"COV_{d + 1}{e + 1}", float(cov), -np.inf, np.inf,
                             bool(correlated), None, None])
    return rows


def read_parameter_table(table, items, types, n_categories, n_factors):
    """Checks an edited table against the data's items and returns its `ParameterSpec`.

    Raises:
      ValueError naming the row: missing columns, unknown items or parameter names, lower >
      upper, a value outside its range, a prior on a fixed parameter or of an unknown kind,
      an equality label across parameters of different kinds, and the edits not supported yet.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"parameters must be a DataFrame like m.parameters(); got "
                        f"{type(table).__name__}")
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"the parameter table lacks the columns {missing}; start from "
                         f"m.parameters() or irt.parameter_table(...)")
    position = {item: j for j, item in enumerate(items)}
    fixed_slopes = np.full((len(items), n_factors), np.nan)
    start = np.full((len(items), n_factors), np.nan)
    priors, equal, fixed, values = {}, {}, [], {}
    for row_number, row in table.iterrows():
        where = f"parameter table row {row_number} ({row['item']!r}, {row['name']!r})"
        if row["item"] == "GROUP":
            continue  # the latent distribution's rows are reported, not read (yet)
        if row["item"] not in position:
            raise ValueError(f"{where}: no item {row['item']!r} in the data")
        j = position[row["item"]]
        name = str(row["name"])
        allowed = _names(types[j], n_categories[j], n_factors)
        if name not in allowed:
            raise ValueError(f"{where}: item {row['item']!r} ({types[j]}) has no parameter "
                             f"{name!r}; its parameters are {allowed}")
        _check_range(row, where)
        estimated = bool(row["estimated"])
        prior = _prior(row["prior"], where)
        if prior is not None and not estimated:
            raise ValueError(f"{where}: a prior on a fixed parameter has no effect; set "
                             f"estimated=True or drop the prior")
        if prior is not None:
            priors.setdefault(row["item"], {})[name] = prior
        if _given(row["equal"]):
            if not estimated:
                raise ValueError(f"{where}: a fixed parameter cannot also be in the equality "
                                 f"group {row['equal']!r}; set estimated=True or drop the label")
            equal.setdefault(row["equal"], []).append((name, j, where))
        if _is_slope(name):
            d = int(name[1:]) - 1
            (start if estimated else fixed_slopes)[j, d] = float(row["value"])
            continue
        kind = item_types.get(types[j])
        constant = kind.fixed_parameters(n_categories[j])
        if name in constant:
            if estimated or float(row["value"]) != constant[name]:
                raise ValueError(f"{where}: {name} = {constant[name]:g} identifies the "
                                 f"{types[j]} model and stays fixed at it; set estimated=False "
                                 f"and value={constant[name]:g}")
            continue
        values.setdefault(j, {})[name] = float(row["value"])
        if not estimated:
            fixed.append((j, name, where))
    _check_weights(fixed, equal, values, items, types, n_categories)
    item_equal = {label: [(j, name) for name, j, _ in members]
                  for label, members in equal.items() if not _is_slope(members[0][0])}
    slope_equal = {label: members for label, members in equal.items()
                   if _is_slope(members[0][0])}
    common = _equal_slopes(slope_equal, fixed_slopes, n_factors)
    slope_groups = {} if common else {
        label: [(j, int(name[1:]) - 1) for name, j, _ in members]
        for label, members in slope_equal.items()}
    return ParameterSpec(fixed_slopes, start, common, priors, slope_groups,
                         [(j, name) for j, name, _ in fixed], item_equal, values)


def _is_slope(name):
    return name.startswith("a") and name[1:].isdigit()


def _check_weights(fixed, equal, values, items, types, n_categories):
    """Refuses fixed or equal item parameters that no single weight holds (with the row)."""
    def ref(j, name, where, what):
        found = item_types.get(types[j]).parameter_weights(n_categories[j]).get(name)
        if found is None:
            raise ValueError(f"{where}: {what} {name!r} of a {types[j]} item is not possible: "
                             f"that type holds no weight for it alone (see "
                             f"ItemType.parameter_weights); use a prior instead")
        return found

    fixed_names = {(j, name) for j, name, _ in fixed}
    for j, name, where in fixed:
        for other in ref(j, name, where, "fixing").after:
            if (j, other) not in fixed_names:
                raise ValueError(f"{where}: fixing {name!r} needs {other!r} of item "
                                 f"{items[j]!r} fixed too (the fit holds {name} as its step "
                                 f"from {other})")
        try:
            ref(j, name, where, "fixing").to_weight(values[j])
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    label_of = {(j, name): label for label, members in equal.items()
                for name, j, _ in members}
    for label, members in equal.items():
        names = {name for name, _, _ in members}
        if len(names) > 1:
            raise ValueError(f"{members[0][2]}: equality label {label!r} joins different "
                             f"parameters {sorted(names)}; equal parameters must be of one kind")
        name = names.pop()
        if _is_slope(name):
            continue
        groups = {item_types.get(types[j]).group_name for _, j, _ in members}
        if len(groups) > 1:
            raise ValueError(f"{members[0][2]}: equality label {label!r} joins items of "
                             f"different type groups {sorted(groups)}; equal item parameters "
                             f"must belong to items of one type group")
        for _, j, where in members:
            for other in ref(j, name, where, "making equal").after:
                partners = {label_of.get((k, other)) for _, k, _ in members}
                if None in partners or len(partners) > 1:
                    raise ValueError(f"{where}: making {name!r} equal across items needs "
                                     f"{other!r} equal across the same items too (the fit "
                                     f"holds {name} as its step from {other})")


def _names(type_name, n_categories, n_factors):
    kind = item_types.get(type_name)
    return [f"a{d + 1}" for d in range(n_factors)] + list(kind.parameter_names(n_categories))


def _check_range(row, where):
    lower, upper, value = float(row["lower"]), float(row["upper"]), float(row["value"])
    if lower > upper:
        raise ValueError(f"{where}: lower {lower} is above upper {upper}")
    if not lower <= value <= upper:
        raise ValueError(f"{where}: value {value} is outside [{lower}, {upper}]")


def _given(value):
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _prior(value, where):
    if not _given(value):
        return None
    if (not isinstance(value, (tuple, list)) or len(value) != 3 or value[0] not in PRIOR_KINDS
            or not all(isinstance(v, (int, float)) for v in value[1:]) or value[2] <= 0):
        raise ValueError(f"{where}: prior must be (kind, p1, p2) with kind one of "
                         f"{PRIOR_KINDS} and a positive scale; got {value!r}")
    return (value[0], float(value[1]), float(value[2]))


def _equal_slopes(groups, fixed, n_factors):
    """True when the equality labels make each factor's estimated slopes one common slope (the
    fit then holds one slope per factor); False for other equalities among slopes."""
    if not groups:
        return False
    covered = set()
    for members in groups.values():
        factors = {name for name, _, _ in members}
        d = int(factors.pop()[1:]) - 1
        free = set(np.flatnonzero(np.isnan(fixed[:, d])))
        if {j for _, j, _ in members} != free:
            return False
        covered.add(d)
    return covered == set(range(n_factors))


def prior_lists(priors, items, types, n_categories):
    """{parameter: [spec or None per item]} from {item: {parameter: spec}}, checked against
    the items and their types' parameters (as the likelihood's groups take them)."""
    if not priors:
        return None
    if not isinstance(priors, dict):
        raise TypeError(f"priors must be a dict {{item: {{parameter: (kind, p1, p2)}}}}; got "
                        f"{type(priors).__name__}")
    unknown = [item for item in priors if item not in items]
    if unknown:
        raise ValueError(f"priors name items not in the data: {unknown}")
    lists = {}
    for item, specs in priors.items():
        j = items.index(item)
        for name, spec in dict(specs).items():
            allowed = item_types.get(types[j]).parameter_names(n_categories[j])
            if name not in allowed:
                raise ValueError(f"priors: item {item!r} ({types[j]}) has no parameter "
                                 f"{name!r} a prior can apply to; its parameters are {allowed}")
            lists.setdefault(name, [None] * len(items))[j] = _checked_prior(item, name, spec)
    return lists


def _checked_prior(item, name, spec):
    if (not isinstance(spec, (tuple, list)) or len(spec) != 3 or spec[0] not in PRIOR_KINDS
            or not all(isinstance(v, (int, float)) for v in spec[1:])):
        raise ValueError(f"prior of {name!r} for item {item!r} must be (kind, p1, p2) with "
                         f"kind one of {PRIOR_KINDS}; got {spec!r}")
    if spec[2] <= 0 or (spec[0] == "beta" and spec[1] <= 0):
        raise ValueError(f"prior of {name!r} for item {item!r}: its scale parameters must be "
                         f"positive; got {spec!r}")
    return [spec[0], float(spec[1]), float(spec[2])]


def fixed_or_none(fixed):
    """The fixed slopes [J, D] (NaN where estimated), or None when none is fixed."""
    return fixed if (~np.isnan(fixed)).any() else None


def start_slopes(decoder, start):
    """Starting values of the slopes where the parameter table gives them."""
    given = ~np.isnan(start)
    if given.any():
        slopes = decoder.slopes.numpy()
        decoder.start_from(np.where(given, start, slopes))
