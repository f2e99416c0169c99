"""ItemParameters: the items of a model as a typed structure, what the modules exchange.

Fitting produces it, `simulate` draws from it, information and plots evaluate it, saving writes
it; `ItemFactorModel.items_` is rendered from it for display (`table`) and never parsed back.
Each item carries its type (an `latentvi.irt.items.ItemType`), its number of categories, its
slopes a (one per factor) and its type-specific parameters by mirt's names; every formula is the
type's, evaluated at the item's linear predictor eta = a . theta.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from latentvi.irt import items as item_types

__all__ = ["ItemParameters"]

_LEADING = ("d", "g", "u")  # mirt's column order for dichotomous items, then the rest


@dataclass
class ItemParameters:
    """The items of a model.

    Attributes:
      items: item labels [J].
      types: each item's type name (canonical: '2PL', 'graded', ...).
      n_categories: K_j of each item [J].
      slopes: a [J, D], for factors named `factor_names`.
      values: each item's type-specific parameters, {mirt name: value}.
      factor_names: the factors' names [D].
    """
    items: list
    types: list
    n_categories: np.ndarray
    slopes: np.ndarray
    values: list
    factor_names: list = field(default_factory=list)

    def __post_init__(self):
        self.items = list(self.items)
        self.types = [item_types.get(name).name for name in self.types]
        self.n_categories = np.asarray(self.n_categories, int)
        self.slopes = np.asarray(self.slopes, float).reshape(len(self.items), -1)
        self.values = [{str(k): float(v) for k, v in row.items()} for row in self.values]
        if not self.factor_names:
            self.factor_names = [f"F{d + 1}" for d in range(self.slopes.shape[1])]
        sizes = {len(self.types), len(self.n_categories), len(self.values), len(self.slopes)}
        if sizes != {len(self.items)}:
            raise ValueError(f"ItemParameters needs one type, K, slope row and value set per "
                             f"item ({len(self.items)} items)")

    @property
    def n_factors(self):
        return self.slopes.shape[1]

    def item_type(self, j):
        """The `ItemType` of item j (position)."""
        return item_types.get(self.types[j])

    def table(self):
        """mirt's coef(fit, simplify=TRUE) table: a1..aD, then each type's parameters."""
        table = pd.DataFrame(self.slopes, index=pd.Index(self.items, name="item"),
                             columns=[f"a{d + 1}" for d in range(self.n_factors)])
        names = [name for name in _LEADING if any(name in row for row in self.values)]
        for row in self.values:
            names += [name for name in row if name not in names]
        for name in names:
            table[name] = [row.get(name, np.nan) for row in self.values]
        return table

    def eta(self, theta):
        """Linear predictors a_j . theta [m, J] at points theta [m, D]."""
        return np.asarray(theta, float) @ self.slopes.T

    def probabilities(self, theta):
        """{item: P(x = k | theta) [m, K_j]} at points theta [m, D]."""
        eta = self.eta(theta)
        return {item: self.item_type(j).probabilities(eta[:, j], self.values[j],
                                                      self.n_categories[j])
                for j, item in enumerate(self.items)}

    def information(self, theta, unit):
        """Information of each item at each point in direction `unit` [D]: [m, J],
        (a_j . u)^2 sum_k (dP_jk / d eta)^2 / P_jk."""
        eta = self.eta(theta)
        curvature = np.column_stack([
            self.item_type(j).information(eta[:, j], self.values[j], self.n_categories[j])
            for j in range(len(self.items))])
        return (self.slopes @ unit)[np.newaxis, :] ** 2 * curvature

    def sample(self, rng, theta):
        """Answers [n, J] (integers 0..K_j-1) drawn at traits theta [n, D]."""
        eta = self.eta(theta)
        uniform = rng.uniform(size=eta.shape)
        return np.column_stack([
            self.item_type(j).sample(uniform[:, j], eta[:, j], self.values[j],
                                     self.n_categories[j])
            for j in range(len(self.items))]).astype(int)

    def n_free(self):
        """Free type-specific parameters of all items (the slopes are counted apart)."""
        return int(sum(self.item_type(j).n_parameters(k)
                       for j, k in enumerate(self.n_categories)))

    def subset(self, items):
        """These items only, in the order given."""
        position = {item: j for j, item in enumerate(self.items)}
        unknown = [item for item in items if item not in position]
        if unknown:
            raise ValueError(f"unknown items {unknown}; the items are {self.items[:20]}")
        rows = [position[item] for item in items]
        return ItemParameters(list(items), [self.types[j] for j in rows],
                              self.n_categories[rows], self.slopes[rows],
                              [self.values[j] for j in rows], self.factor_names)

    def with_slopes(self, slopes, factor_names=None):
        """The same items with other slopes (e.g. rotated), optionally renamed factors."""
        return ItemParameters(self.items, self.types, self.n_categories, slopes,
                              self.values, factor_names or self.factor_names)

    @classmethod
    def from_arrays(cls, a, d, item_type="2PL", g=None, u=None, items=None,
                    factor_names=None):
        """Items from mirt-style arrays, as simdata takes them.

        Args:
          a: slopes [J, D] (or [J] for one factor).
          d: intercepts [J] or [J, K-1]; a graded / partial-credit item with fewer
            categories has NaN in its last columns.
          item_type: one type name for every item, or one per item.
          g, u: lower and upper asymptotes [J] (3PL / 4PL items; ignored by other types).
          items: item labels (default item1..itemJ).
        """
        a = np.asarray(a, float)
        a = a[:, np.newaxis] if a.ndim == 1 else a
        d = np.asarray(d, float)
        d = d[:, np.newaxis] if d.ndim == 1 else d
        n_items = len(a)
        types = [item_type] * n_items if isinstance(item_type, str) else list(item_type)
        if len(d) != n_items or len(types) != n_items:
            raise ValueError(f"a has {n_items} rows but d has {len(d)} and item_type "
                             f"{len(types)}; give one row per item")
        extra = {"g": g, "u": u}
        values, n_categories = [], []
        for j, name in enumerate(types):
            steps = d[j][~np.isnan(d[j])]
            kind = item_types.get(name)
            names = kind.parameter_names(len(steps) + 1)
            given = {f"d{k + 1}": value for k, value in enumerate(steps)}
            given["d"] = steps[0]
            for key, column in extra.items():
                if column is not None:
                    given[key] = float(np.asarray(column, float)[j])
            missing = [key for key in names if key not in given]
            if missing:
                raise ValueError(f"item {j + 1} ({kind.name}) needs {missing}")
            values.append({key: given[key] for key in names})
            n_categories.append(len(steps) + 1)
        items = list(items) if items is not None else [f"item{j + 1}" for j in range(n_items)]
        return cls(items, types, n_categories, a, values, factor_names or [])

    def to_dict(self):
        """Plain JSON-ready content (`from_dict` reads it back exactly)."""
        return {"items": [_plain(item) for item in self.items], "types": list(self.types),
                "n_categories": self.n_categories.tolist(), "slopes": self.slopes.tolist(),
                "values": self.values, "factor_names": list(self.factor_names)}

    @classmethod
    def from_dict(cls, content):
        return cls(**content)


def _plain(value):
    return value.item() if hasattr(value, "item") else value
