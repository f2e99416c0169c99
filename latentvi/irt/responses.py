"""Response matrices: validate a persons x items DataFrame and code each item's answers 0..K-1.

Every item's observed values are sorted (or taken in the order of an ordered categorical) and
coded 0..K-1; the map is kept so that new data are coded the same way and results can be read
in the user's own values. Missing answers (NaN, None, pd.NA, and the values given as
`missing_codes`, e.g. -9 or '.') become a mask, never an imputation.

Survey exports hold more than items: an ID, demographics such as age. Such columns are refused
(`SuspiciousColumns`) rather than fitted as items with hundreds of categories, and integer items
whose values jump (1..5 and 9) draw a warning that 9 may be a code for "no answer"; the rules
and their thresholds are in `latentvi.irt.screening`.
"""

import dataclasses
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from latentvi.inputs import CodedArray
from latentvi.irt.items import ItemType
from latentvi.irt.items import get as get_item_type
from latentvi.irt.items import names as type_names
from latentvi.irt.screening import (
    SHOWN,
    SuspiciousColumns,
    check_max_categories,
    check_missing_codes,
    mask_missing_codes,
    refuse_non_items,
    warn_gaps,
)

__all__ = ["MISSING", "Responses", "SuspiciousColumns", "answer_codes", "answered",
           "apply_category_map", "check_max_categories", "check_missing_codes",
           "encode_responses", "expanded_missing_codes", "grouped_by_type", "item_types",
           "select_items"]

# dtype kinds that are not answers, though pandas would turn them into numbers
_NOT_NUMBERS = {"M": "dates", "m": "time spans", "c": "complex numbers"}
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


MISSING = -1  # the code of a cell nobody answered in `Responses.answers`


def answer_codes(answers):
    """float32 category codes of coded answers (`Responses.answers`), 0 where missing."""
    return np.maximum(answers, 0).astype(np.float32)


def answered(answers):
    """bool, True where coded answers (`Responses.answers`) hold an answer."""
    return answers != MISSING


@dataclass
class Responses:
    """A coded response matrix.

    The answers are held as small integers, one byte a cell for up to 127 categories: a
    200,000 x 200 matrix takes 40 MB, where float32 codes and a boolean mask took 200 MB.
    `codes` and `mask` are computed from them on each read (keep the result where it is used
    more than once).

    Attributes:
      answers: int8 [n, J] (int16 when an item has more than 127 categories), each cell's
        category code 0..K_j-1, or `MISSING` (-1) where no answer was given.
      index: the persons' labels (rows kept).
      items: the items' labels (columns).
      n_categories: int [J], K_j for each item.
      category_map: {item: {observed value: code}}.
      dropped: the labels of persons dropped for answering no item (empty if none).
      extra: None, or float32 [n, E]: per-person columns after the items (a multiple-group
        model's group one-hot, standardized covariates; `with_extra`), always observed.
    """
    answers: np.ndarray
    index: pd.Index
    items: list
    n_categories: np.ndarray
    category_map: dict
    dropped: pd.Index = field(default_factory=lambda: pd.Index([]))
    extra: np.ndarray = None

    @property
    def codes(self):
        """float32 [n, J (+ E)]: the category codes, 0 where missing, then the extra columns."""
        codes = answer_codes(self.answers)
        return codes if self.extra is None else np.hstack([codes, self.extra])

    @property
    def mask(self):
        """bool [n, J (+ E)]: True where an answer was observed (and for the extra columns)."""
        mask = answered(self.answers)
        return mask if self.extra is None else np.hstack([mask, np.ones(self.extra.shape, bool)])

    @property
    def n_persons(self):
        return len(self.answers)

    def answered_any(self):
        """bool [n]: whether each person answered at least one item."""
        return answered(self.answers).any(axis=1)

    def rows(self, keep):
        """The responses of the rows `keep` (a boolean mask or positions); `dropped` is kept."""
        return dataclasses.replace(self, answers=self.answers[keep], index=self.index[keep],
                                   extra=None if self.extra is None else self.extra[keep])

    def with_extra(self, extra):
        """These responses followed by the per-person columns `extra` [n, E]."""
        return dataclasses.replace(self, extra=np.asarray(extra, np.float32))

    def training_data(self):
        """(data, mask) for `latentvi.fit`: the answers as a `latentvi.CodedArray` (no copy),
        or float codes and a mask when there are extra columns."""
        if self.extra is None:
            return CodedArray(self.answers), None
        return self.codes, self.mask


def item_types(item_type, items):
    """Each item's type name ('2PL', 'graded', ...; `latentvi.irt.items`), from one type for
    every item or a {column: type} dict."""
    if isinstance(item_type, (str, ItemType)):
        return [_check_type(item_type, "item_type")] * len(items)
    if not isinstance(item_type, dict):
        raise TypeError(f"item_type must be a type name ({', '.join(type_names())}) or a dict "
                        f"{{column: type}}; got {type(item_type).__name__}")
    unknown = [key for key in item_type if key not in set(items)]
    if unknown:
        raise ValueError(f"item_type names columns not in the data: {unknown}")
    missing = [item for item in items if item not in item_type]
    if missing:
        raise ValueError(f"item_type dict must give a type for every column; missing {missing}")
    return [_check_type(item_type[item], f"item_type[{item!r}]") for item in items]


def _check_type(value, name):
    try:
        return get_item_type(value).name
    except ValueError:
        raise ValueError(f"{name} must be one of {', '.join(type_names())}; got {value!r}") \
            from None


def encode_responses(frame, item_type="binary", drop_empty=True, missing_codes=None,
                     max_categories=20):
    """Validates `frame` and codes every item 0..K-1.

    Args:
      frame: DataFrame, rows = persons, columns = items; numbers (ints, floats with NaN,
        nullable integers, booleans, numbers as strings) or ordered categoricals. Cells of
        empty or blank text are missing, as the empty cells of a CSV file are.
      item_type: 'binary' (exactly 2 categories), 'graded' (2 or more) or {column: type}.
      drop_empty: drop persons who answered no item, with a warning (else raise).
      missing_codes: values meaning "no answer" in every item (e.g. [-9, 99, '.']); such
        cells are masked before anything else, so '.' among numbers is no longer an error.
        A number given as text ('99') matches the number too.
      max_categories: a column with more distinct answers than this is not taken for an item.

    Returns:
      A `Responses`; `dropped` holds the labels of the persons dropped.

    Raises:
      SuspiciousColumns: columns that look like an ID (all of at least 20 answers distinct) or
        have more than `max_categories` categories; raised before the category checks.
      TypeError: not a DataFrame, MultiIndex columns, a column with text, dates or complex
        numbers, or a cell holding a list.
      ValueError: empty frame, duplicated index or columns, a column without a name (None,
        NaN, ''), an item with fewer than 2 observed categories or more than its type allows,
        an infinite value, persons with no answers (drop_empty=False).

    Warns:
      UserWarning: integer items with values set apart from the rest (0, 1 and 99), which
        look like codes for "no answer"; one warning lists every such item. Items with
        answers that are not whole numbers (0.5), each a category of its own: one warning.
    """
    frame = mask_missing_codes(_check_labels(_check_frame(frame)),
                               expanded_missing_codes(missing_codes))
    types = item_types(item_type, list(frame.columns))
    refuse_non_items(frame, max_categories)
    values = _numeric_columns(frame)
    warn_gaps(values)
    _warn_fractions(values)
    category_map = {}
    for item, column_type in zip(frame.columns, types):
        category_map[item] = _categories(item, values[item], column_type)
    responses = apply_category_map(frame, category_map, values=values)
    empty = ~responses.answered_any()
    if not empty.any():  # keeping every row would copy the answers for nothing
        return responses
    labels = list(responses.index[empty][:5])
    if not drop_empty:
        raise ValueError(f"{int(empty.sum())} persons answered no item (first: {labels})")
    warnings.warn(f"dropping {int(empty.sum())} persons who answered no item "
                  f"(first: {labels}); they carry no information about the items",
                  UserWarning, stacklevel=3)
    return _keep_rows(responses, ~empty)


def apply_category_map(frame, category_map, values=None, missing_codes=None,
                       ignore_extra=False):
    """Codes `frame` with an existing map (from a fit); raises on unseen values or columns.

    `missing_codes` are masked as at fit time; `ignore_extra` leaves out columns that are not
    in the map (else they raise).
    """
    frame = _check_frame(frame)
    items = list(category_map)
    missing = [item for item in items if item not in frame.columns]
    if missing:
        raise ValueError(f"data lack the items the model was fitted on: {_names(missing)}")
    extra = [column for column in frame.columns if column not in category_map]
    if extra and not ignore_extra:
        raise ValueError(f"data have columns the model was not fitted on: {_names(extra)}; "
                         f"select the fitted items, or fit with items=[...] so that other "
                         f"columns are left out")
    if values is None:
        values = _numeric_columns(mask_missing_codes(frame[items],
                                                     expanded_missing_codes(missing_codes)))
    n_categories = np.array([len(category_map[item]) for item in items])
    answers = np.empty((len(frame), len(items)), _answer_dtype(n_categories))
    for j, item in enumerate(items):
        answers[:, j] = _code_column(item, values[item], category_map[item], frame.index)
    return Responses(answers, frame.index, items, n_categories, dict(category_map))


def _answer_dtype(n_categories):
    return np.int8 if max(n_categories, default=0) <= np.iinfo(np.int8).max else np.int16


def select_items(frame, items):
    """frame[items], after checking that `items` is a list of distinct columns of `frame`."""
    frame = _check_frame(frame)
    if isinstance(items, (str, bytes)) or not pd.api.types.is_list_like(items):
        raise TypeError(f"items must be a list of column labels, e.g. items=['q1', 'q2']; "
                        f"got {items!r}")
    items = list(items)
    if not items:
        raise ValueError("items is empty; name the columns to fit as items")
    unknown = [item for item in items if item not in frame.columns]
    if unknown:
        raise ValueError(f"items names columns not in the data: {_names(unknown)}; the data "
                         f"have {_names(frame.columns)}")
    repeated = pd.Index(items)[pd.Index(items).duplicated()]
    if len(repeated):
        raise ValueError(f"items names columns more than once: {_names(repeated.unique())}")
    return frame[items]


def _check_frame(frame):
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"responses must be a pandas DataFrame (rows = persons, columns = items); "
                        f"got {type(frame).__name__}")
    if isinstance(frame.columns, pd.MultiIndex):
        raise TypeError(f"responses have MultiIndex columns ({frame.columns.nlevels} levels); "
                        f"flatten them to one level first, e.g. frame.columns = "
                        f"['_'.join(map(str, c)) for c in frame.columns]")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"responses are empty: the DataFrame has shape {frame.shape}")
    if frame.index.has_duplicates:
        raise ValueError(f"responses have a duplicated index (rows must identify persons): "
                         f"{list(frame.index[frame.index.duplicated()].unique()[:5])}")
    if frame.columns.has_duplicates:
        raise ValueError(f"responses have duplicated columns: "
                         f"{_names(frame.columns[frame.columns.duplicated()].unique())}")
    _check_cells(frame)
    return frame


def _check_cells(frame):
    """Raises for a cell holding a list, a dict or an array in an object column: a cell is one
    answer."""
    for j in np.flatnonzero((frame.dtypes == object).to_numpy()):
        series = frame.iloc[:, j]
        if _hashable(series):  # fast, and true unless a cell holds a list or the like
            continue
        nested = series.map(pd.api.types.is_list_like).to_numpy(bool)
        if nested.any():
            row = series.index[nested.argmax()]
            raise TypeError(f"column {frame.columns[j]!r} has a {type(series[row]).__name__} at "
                            f"row {row!r}: {str(series[row])[:40]}; a cell must hold one answer")


def _hashable(series):
    try:
        series.nunique()
    except TypeError:
        return False
    return True


def _check_labels(frame):
    """`frame`, if every item column has a name (not None, NaN or blank text)."""
    unnamed = [j for j, label in enumerate(frame.columns) if _unnamed(label)]
    if unnamed:
        raise ValueError(f"responses have columns without a name, at positions {unnamed[:SHOWN]} "
                         f"(counted from 0); name every item column: the name labels its "
                         f"results and finds it again when scoring")
    return frame


def _unnamed(label):
    if isinstance(label, str):
        return not label.strip()
    return label is None or (isinstance(label, (float, np.floating)) and np.isnan(label))


def expanded_missing_codes(missing_codes):
    """The checked `missing_codes`, with a number written as text ('99') standing for the
    number too: mask_missing_codes already matches numbers to text."""
    codes = check_missing_codes(missing_codes)
    text = pd.Series([code for code in codes if isinstance(code, str)], dtype=object)
    numbers = pd.to_numeric(text, errors="coerce").dropna()
    return codes + [number.item() for number in numbers.to_numpy() if number not in codes]


def _names(labels):
    """At most SHOWN labels, as a list would print them, with a count of the rest."""
    labels = list(labels)
    shown = ", ".join(repr(label) for label in labels[:SHOWN])
    more = f", ... ({len(labels) - SHOWN} more)" if len(labels) > SHOWN else ""
    return f"[{shown}{more}]"


def _numeric_columns(frame):
    """{column: (float64 values with NaN for missing, ordered categories or None)}, each
    converted when it is read and not kept (`_NumericColumns`)."""
    return _NumericColumns(frame)


class _NumericColumns(Mapping):
    """The columns of `frame` as `_numeric` values, converted on each read: a 200,000 x 200
    table would hold 320 MB of float64 copies at once (8 times its int8 answers), which
    raised the peak memory of a fit by more than the coded answers themselves."""

    def __init__(self, frame):
        self._frame = frame

    def __getitem__(self, column):
        return _numeric(column, self._frame[column])

    def __iter__(self):
        return iter(self._frame.columns)

    def __len__(self):
        return self._frame.shape[1]


def _numeric(column, series):
    if isinstance(series.dtype, pd.CategoricalDtype):
        if not series.dtype.ordered:
            raise TypeError(f"column {column!r} is an unordered categorical; item categories must "
                            f"be ordered (use pd.Categorical(..., ordered=True)) or numeric")
        codes = series.cat.codes.to_numpy().astype(float)
        return np.where(codes < 0, np.nan, codes), list(series.dtype.categories)
    if series.dtype.kind in _NOT_NUMBERS:
        raise TypeError(f"column {column!r} holds {_NOT_NUMBERS[series.dtype.kind]} "
                        f"({series.dtype}); item answers must be numbers (if the column is not "
                        f"an item, leave it out with items=[...])")
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        numbers = series.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    else:
        converted = pd.to_numeric(series, errors="coerce")
        bad = (converted.isna() & series.notna()).to_numpy(copy=True)
        bad[bad] = ~series[bad].map(_blank).to_numpy(bool)  # blank text: missing, as NaN
        if bad.any():
            raise _text_error(column, series, bad, converted.notna().any())
        numbers = converted.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(numbers).any():
        row = series.index[np.isinf(numbers).argmax()]
        raise ValueError(f"column {column!r} has an infinite value (first at row {row!r})")
    return numbers, None


def _blank(value):
    return isinstance(value, str) and not value.strip()


def _text_error(column, series, bad, any_numbers):
    """The TypeError for text among (or instead of) the answers of `column`."""
    row = series.index[bad.argmax()]
    value = series[row]
    leave_out = "if the column is not an item, leave it out with items=[...]"
    if not any_numbers:
        labels = list(pd.unique(series[bad]))
        return TypeError(
            f"column {column!r} holds text answers {_names(labels)} (first at row {row!r}); "
            f"item answers must be numbers: recode them in their order (e.g. {labels[0]!r} -> "
            f"0, ...), or in Python make the column an ordered pd.Categorical; {leave_out}")
    if isinstance(value, str) and _DECIMAL_COMMA.match(value):
        return TypeError(f"column {column!r} has {value!r} (first at row {row!r}), a number with "
                         f"a decimal comma; write it with a point ('{value.replace(',', '.')}'), "
                         f"e.g. read the file with pandas.read_csv(..., decimal=',')")
    return TypeError(f"column {column!r} has a non-numeric value {value!r} (first at row "
                     f"{row!r}); item answers must be numbers (if it means no answer, pass "
                     f"missing_codes=[{value!r}]; {leave_out})")


def _warn_fractions(values):
    """One warning for the items with answers that are not whole numbers (0.5, 2.33)."""
    found = {}
    for item, (numbers, ordered) in values.items():
        observed = np.unique(numbers[~np.isnan(numbers)]) if ordered is None else []
        fractions = [float(value) for value in observed if not float(value).is_integer()]
        if fractions:
            found[item] = fractions[:5] + (["..."] if len(fractions) > 5 else [])
    if found:
        listed = "; ".join(f"{item!r}: {shown}" for item, shown in list(found.items())[:SHOWN])
        more = f" and {len(found) - SHOWN} more items" if len(found) > SHOWN else ""
        warnings.warn(f"items with answers that are not whole numbers: {listed}{more}; each "
                      f"distinct value is a category of its own, in numeric order (averaged "
                      f"or imputed values would each add a category: round them or set them "
                      f"missing)", UserWarning, stacklevel=4)


def _categories(item, column_values, column_type):
    numbers, ordered = column_values
    observed = np.unique(numbers[~np.isnan(numbers)])
    labels = [ordered[int(code)] for code in observed] if ordered is not None else [
        _plain(value) for value in observed]
    if len(labels) < 2:
        raise ValueError(f"item {item!r} has {len(labels)} observed categories {labels}; "
                         f"an item needs at least 2 (drop it)")
    get_item_type(column_type).check_categories(item, labels)
    return {label: code for code, label in enumerate(labels)}


def _plain(value):
    """A float that is a whole number becomes an int, so the map reads {0: 0, 1: 1}."""
    return int(value) if float(value).is_integer() else float(value)


def _code_column(item, column_values, categories, index):
    numbers, ordered = column_values
    observed = ~np.isnan(numbers)
    if ordered is not None:
        # numbers are positions in the ordered categories; look each up in the fitted map.
        lookup = np.array([categories.get(label, -1) for label in ordered], float)
        codes = np.where(observed, lookup[np.where(observed, numbers, 0).astype(int)], MISSING)
    else:
        try:
            keys = np.array([float(value) for value in categories])
        except (TypeError, ValueError):
            raise TypeError(f"item {item!r} was fitted as an ordered categorical with categories "
                            f"{list(categories)}; pass it as such again") from None
        position = np.clip(np.searchsorted(keys, np.where(observed, numbers, keys[0])),
                           0, len(keys) - 1)
        known = keys[position] == numbers
        codes = np.where(observed & known, np.array(list(categories.values()))[position], -2)
        codes = np.where(observed, codes, MISSING)
    unseen = observed & (codes < 0)
    if unseen.any():
        row = int(unseen.argmax())
        value = ordered[int(numbers[row])] if ordered is not None else _plain(numbers[row])
        raise ValueError(f"item {item!r} has value {value!r} at row {index[row]!r}, which "
                         f"was not among its categories {list(categories)} at fit time")
    return codes


def _keep_rows(responses, keep):
    return dataclasses.replace(responses.rows(keep), dropped=responses.index[~keep])


def grouped_by_type(frame, item_type):
    """`frame` with the items of one type group in contiguous columns (stable otherwise): each
    group of the likelihood then reads a slice of the answers (`ItemResponse`)."""
    if not isinstance(item_type, dict) or not isinstance(frame, pd.DataFrame):
        return frame
    groups = [get_item_type(item_type.get(column, "2PL")).group_name
              if known_type(item_type.get(column, "2PL")) else "" for column in frame.columns]
    first = {name: position for position, name in reversed(list(enumerate(groups)))}
    order = sorted(range(len(groups)), key=lambda j: (first[groups[j]], j))
    return frame.iloc[:, order]


def known_type(name):
    """Whether `name` is a registered item type (an unknown one is reported with its column
    by `encode_responses`)."""
    try:
        get_item_type(name)
    except (ValueError, TypeError):
        return False
    return True
