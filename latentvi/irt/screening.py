"""Screening the columns of a survey export before they are coded as items.

Survey exports hold more than items (an ID, demographics such as age) and code "no answer" in
many ways (-9, 99, '.'). The rules, applied by `encode_responses` in this order:

1. Missing codes. Every cell equal to one of `missing_codes` becomes missing, before anything
   else looks at the data, so '.' among numbers is no longer an error. Numbers read as text
   ('-9' in a CSV column that also holds '.') match numeric codes too: -9 matches '-9' and
   '-9.0'. Missing answers are masked, never imputed.
2. Columns that are not items are refused, every such column in one `SuspiciousColumns`:
   - an ID: all of at least `ID_MIN_VALUES` (20) answers distinct. An item with K categories
     and more than K answers must repeat a value, and items have at most `max_categories`
     (20 by default) categories, so 20 distinct answers out of 20 is already beyond an item;
     below that, all-distinct answers are common by chance (a 0-10 scale answered by 8);
   - more than `max_categories` distinct answers (age, income, a free number).
3. Values set apart. An integer item whose values jump (1..5 and 9; 0, 1 and 99; -9 and 1..5)
   draws one warning listing every such item: the lone values may be codes for "no answer"
   that `missing_codes` should name. The scale's step is the smallest difference between two
   observed values; a difference of up to two steps stays in the scale (a category nobody
   chose, as 1, 2, 3, 5), a larger one starts a new run, and values outside the longest run
   are set apart. Ordered categoricals are never screened this way: their order is given.
"""

import warnings

import numpy as np
import pandas as pd

from latentvi._checks import positive_int

__all__ = ["ID_MIN_VALUES", "SHOWN", "SuspiciousColumns", "check_max_categories",
           "check_missing_codes", "mask_missing_codes", "refuse_non_items", "warn_gaps"]

ID_MIN_VALUES = 20  # all-distinct answers from this many on mark an ID (see the rules above)
SHOWN = 10  # column names or values listed in one message


class SuspiciousColumns(ValueError):
    """Columns that do not look like items: an ID, or a variable with too many categories.

    Attributes:
      columns: {column label: short reason}, every such column in the frame's order, e.g.
        {'id': 'all 300 values distinct: an ID?', 'age': '64 categories (at most 20 expected)'}.
    """

    def __init__(self, columns):
        self.columns = dict(columns)
        shown = [f"{label!r}: {reason}" for label, reason in list(self.columns.items())[:3]]
        names = [repr(label) for label in list(self.columns)[3:SHOWN]]
        more = len(self.columns) - 3 - len(names)
        rest = (f"; also {', '.join(names)}" if names else "") + (f" and {more} more"
                                                                    if more > 0 else "")
        super().__init__(f"columns that do not look like items: {'; '.join(shown)}{rest}; "
                         f"select the items with items=[...] (or drop these columns), "
                         f"or raise max_categories")

    def __reduce__(self):
        return type(self), (self.columns,)


def check_missing_codes(missing_codes):
    """`missing_codes` as a list of numbers and strings (None: an empty list)."""
    if missing_codes is None:
        return []
    if isinstance(missing_codes, (str, bytes)) or not pd.api.types.is_list_like(missing_codes):
        raise TypeError(f"missing_codes must be a list of values, e.g. missing_codes=[-9, 99, "
                        f"'.']; got {missing_codes!r}")
    codes = list(missing_codes)
    bad = [code for code in codes
           if isinstance(code, bool) or not isinstance(code, (int, float, str, np.number))]
    if bad:
        raise TypeError(f"missing_codes must hold numbers or strings; got {bad[:SHOWN]}")
    return codes


def check_max_categories(max_categories):
    """`max_categories` as an int >= 2."""
    value = positive_int(max_categories, "max_categories")
    if value < 2:
        raise ValueError(f"max_categories must be an integer >= 2 (an item has at least 2 "
                         f"categories); got {value}")
    return value


def mask_missing_codes(frame, codes):
    """`frame` with every cell equal to a missing code set to missing (rule 1)."""
    if not codes:
        return frame
    # Numbers read as text ('-9' from a CSV with a '.' in the column) match numeric codes too.
    numeric_codes = pd.to_numeric(pd.Series(codes, dtype=object), errors="coerce").dropna()
    frame = frame.copy()
    for j in range(frame.shape[1]):
        series = frame.iloc[:, j]
        hit = series.isin(codes)
        if not (isinstance(series.dtype, pd.CategoricalDtype)
                or pd.api.types.is_numeric_dtype(series.dtype)):
            hit |= pd.to_numeric(series, errors="coerce").isin(numeric_codes)
        if hit.any():
            frame.isetitem(j, series.where(~hit))
    return frame


def refuse_non_items(frame, max_categories):
    """Raises `SuspiciousColumns` for the columns that look like an ID or have more than
    `max_categories` categories (rule 2); checks `max_categories` first."""
    max_categories = check_max_categories(max_categories)
    found = {}
    for j, column in enumerate(frame.columns):
        answers = frame.iloc[:, j].dropna()
        distinct = answers.nunique()
        if distinct == len(answers) >= ID_MIN_VALUES:
            found[column] = f"all {distinct} values distinct: an ID?"
        elif distinct > max_categories:
            found[column] = f"{distinct} categories (at most {max_categories} expected)"
    if found:
        raise SuspiciousColumns(found)


def warn_gaps(values):
    """One warning for the integer items whose values have outliers (1..5 and 9; rule 3).

    `values`: {column: (float64 values with NaN for missing, ordered categories or None)}.
    """
    gaps = {}
    for item, (numbers, ordered) in values.items():
        outliers = [] if ordered is not None else _set_apart(numbers)
        if outliers:
            gaps[item] = outliers
    if gaps:
        listed = "; ".join(f"{item!r}: {found}" for item, found in list(gaps.items())[:SHOWN])
        more = f" and {len(gaps) - SHOWN} more items" if len(gaps) > SHOWN else ""
        codes = sorted({value for found in gaps.values() for value in found})
        warnings.warn(f"items with values set apart from the others, perhaps codes for no "
                      f"answer: {listed}{more}; if they mean no answer, pass "
                      f"missing_codes={codes[:SHOWN]}", UserWarning, stacklevel=4)


def _set_apart(numbers):
    """Integer values outside the longest run of the scale (its step: the smallest difference).

    A difference of up to two steps stays in the run (a category nobody chose), so 1..5 with 9
    gives [9], 0, 1, 99 gives [99] and -9, 1..5 gives [-9], while 1, 2, 3, 5 gives [].
    """
    observed = np.unique(numbers[~np.isnan(numbers)])
    if len(observed) < 3 or not np.all(observed == np.round(observed)):
        return []
    differences = np.diff(observed)
    runs = np.split(observed, np.flatnonzero(differences > 2 * differences.min()) + 1)
    longest = max(range(len(runs)), key=lambda r: len(runs[r]))  # the first of equal runs
    return [int(value) for r, run in enumerate(runs) if r != longest for value in run]
