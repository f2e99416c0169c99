"""The persons' group and background covariates of a multiple-group or latent-regression fit.

`read_covariates` checks what the user gave (a column name or a Series for the group; a frame or
column names for the covariates) and returns `PersonCovariates`, which codes any data frame's
persons as the model's extra data columns: the group one-hot, then the covariates standardized
with the fit's center and scale.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PersonCovariates", "read_covariates"]


@dataclass
class PersonCovariates:
    """How persons' groups and covariates are found and coded.

    Attributes:
      groups: the group labels, the reference group first ([None] without groups).
      group_column: the data column holding the group, or None (then `group_values`).
      group_values: the fitted Series of groups (looked up by the data's index), or None.
      covariate_names: the covariates' names.
      covariate_columns: whether the covariates are columns of the data (else
        `covariate_values`, a frame looked up by index).
      covariate_values: the fitted covariate frame, or None.
      center, scale: each covariate's mean and SD at the fit.
    """
    groups: list
    group_column: object = None
    group_values: pd.Series = None
    covariate_names: list = None
    covariate_columns: bool = False
    covariate_values: pd.DataFrame = None
    center: np.ndarray = None
    scale: np.ndarray = None

    @property
    def grouped(self):
        return self.groups != [None]

    def columns_of_data(self):
        """The data columns that are not items (the group column, covariate columns)."""
        found = [] if self.group_column is None else [self.group_column]
        return found + (list(self.covariate_names) if self.covariate_columns else [])

    def membership(self, data, group=None):
        """Each person's group index [n] (int); `group` overrides the fitted source."""
        if not self.grouped:
            return np.zeros(len(data), int)
        labels = _group_series(data, self.group_column if group is None else group,
                               self.group_values if group is None else None)
        unknown = sorted({str(v) for v in labels.unique() if v not in self.groups})
        if unknown:
            raise ValueError(f"group has levels the model was not fitted on: {unknown}; it "
                             f"knows {[str(g) for g in self.groups]}")
        return pd.Categorical(labels, categories=self.groups).codes.astype(int)

    def covariates(self, data, covariates=None):
        """The raw covariates [n, C] (float64) of the persons of `data`."""
        if not self.covariate_names:
            return np.zeros((len(data), 0))
        if covariates is None:
            covariates = (list(self.covariate_names) if self.covariate_columns
                          else self.covariate_values)
        frame = _covariate_frame(data, covariates)
        missing = [name for name in self.covariate_names if name not in frame.columns]
        if missing:
            raise ValueError(f"covariates lack the columns the model was fitted with: "
                             f"{missing}")
        return _numeric(frame[self.covariate_names])

    def extra_columns(self, data, group=None, covariates=None):
        """[n, G + C] float32: the group one-hot, then (c - center) / scale."""
        n_groups = len(self.groups)
        onehot = np.eye(n_groups, dtype=np.float32)[self.membership(data, group)]
        values = (self.covariates(data, covariates) - self.center) / self.scale
        return np.hstack([onehot, values.astype(np.float32)])


def read_covariates(data, group, covariates, n_items):
    """`PersonCovariates` from a fit's `group` and `covariates`, after checking them.

    Raises:
      ValueError / TypeError: a group column with one level, a group with fewer persons than
        items, missing group labels, covariates with NaN or non-numeric columns, a covariate
        that does not vary, covariates not indexed like the data.
    """
    groups, column, values = [None], None, None
    if group is not None:
        column = group if _is_label(group) else None
        series = _group_series(data, column, None if column is not None else group)
        empty = series.index[series.isna()]
        if len(empty):
            raise ValueError(f"group is missing for {len(empty)} persons (rows "
                             f"{list(empty[:5])}); give every person a group or drop them")
        groups = (list(series.cat.categories) if isinstance(series.dtype, pd.CategoricalDtype)
                  else sorted(series.unique(), key=_sort_key))
        counts = series.value_counts()
        if len(groups) < 2:
            raise ValueError(f"group has one level ({groups[0]!r}): a multiple-group model "
                             f"needs at least two groups")
        small = {str(g): int(counts.get(g, 0)) for g in groups if counts.get(g, 0) < n_items}
        if small:
            raise ValueError(f"groups with fewer persons than items ({n_items}): {small}; "
                             f"merge them into larger groups or leave them out")
        values = None if column is not None else series
    names, as_columns, frame = [], False, None
    if covariates is not None:
        as_columns = isinstance(covariates, (list, tuple)) or _is_label(covariates)
        if _is_label(covariates):
            covariates = [covariates]
        frame = _covariate_frame(data, list(covariates) if as_columns else covariates)
        names = [str(name) if not isinstance(name, str) else name for name in frame.columns]
        raw = _numeric(frame)
        spread = raw.std(axis=0)
        constant = [name for name, sd in zip(names, spread) if not sd > 0]
        if constant:
            raise ValueError(f"covariates do not vary: {constant}; leave them out")
    else:
        raw, spread = np.zeros((len(data), 0)), np.zeros(0)
    return PersonCovariates(
        groups, column, values, names, as_columns, None if as_columns else frame,
        raw.mean(axis=0) if len(names) else np.zeros(0),
        spread if len(names) else np.zeros(0))


def _is_label(value):
    return isinstance(value, (str, int, np.integer)) and not isinstance(value, bool)


def _sort_key(value):
    return (0, value, "") if isinstance(value, (int, float, np.number)) else (1, 0, str(value))


def _group_series(data, column, series):
    if column is not None:
        if column not in data.columns:
            raise ValueError(f"group={column!r} is not a column of the data; give a column "
                             f"name or a Series indexed like the data")
        return data[column]
    if not isinstance(series, pd.Series):
        raise TypeError(f"group must be a column name or a pandas Series indexed like the "
                        f"data; got {type(series).__name__}")
    return _aligned(data, series, "group has no value")


def _covariate_frame(data, covariates):
    if isinstance(covariates, list):
        unknown = [name for name in covariates if name not in data.columns]
        if unknown:
            raise ValueError(f"covariates names columns not in the data: {unknown}")
        return data[covariates]
    if isinstance(covariates, pd.Series):
        covariates = covariates.to_frame()
    if not isinstance(covariates, pd.DataFrame):
        raise TypeError(f"covariates must be a DataFrame indexed like the data or a list of "
                        f"its column names; got {type(covariates).__name__}")
    return _aligned(data, covariates, "covariates have no row")


def _aligned(data, values, what):
    """`values` (a Series or frame) reindexed like `data`, after checking it covers every
    person: else ValueError '<what> for n persons of the data (index labels ...)'."""
    missing = data.index.difference(values.index)
    if len(missing):
        raise ValueError(f"{what} for {len(missing)} persons of the data (index labels "
                         f"{list(missing[:5])}); index it like the data")
    return values.reindex(data.index)


def _numeric(frame):
    """The frame as float64 [n, C], after checking every column is numeric and complete."""
    text = [str(name) for name in frame.columns
            if not pd.api.types.is_numeric_dtype(frame[name])]
    if text:
        raise ValueError(f"covariates must be numeric; columns {text} are not (code "
                         f"categories as 0/1 indicator columns, e.g. pd.get_dummies)")
    values = frame.to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        rows, cols = np.nonzero(bad)
        names = sorted({str(frame.columns[c]) for c in cols})
        raise ValueError(f"covariates have missing or infinite values in columns {names} "
                         f"(rows {list(frame.index[np.unique(rows)][:5])}); impute or drop "
                         f"those persons")
    return values
