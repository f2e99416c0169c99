"""Reading the user's tables: responses, the person id, the item columns and a pattern.

The reader is chosen by the file suffix (CSV, TSV, text, Parquet, Excel). A text file whose
header shows another separator than its suffix's (';' in a European spreadsheet's .csv) is read
again with that one. Every problem is an `InputError` phrased in the command's flags.
"""

import importlib.util
import pathlib

from latentvi.cli.messages import InputError, ignore

__all__ = ["ITEM_TYPES", "not_items_message", "read_pattern", "read_responses", "read_table",
           "select_items"]

ITEM_TYPES = ("binary", "graded")

_READERS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "text", ".parquet": "parquet",
            ".pq": "parquet", ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel"}
# Headers R's write.csv (and pandas' to_csv) give the row-name column.
_ROW_NAME_HEADERS = ("Unnamed: 0", "")


def read_responses(path, id_column=None, sep=None, note=None):
    """`read_table`, indexed by the person id (`id_column`, or an unnamed first column)."""
    table = read_table(path, sep=sep, note=note)
    name = pathlib.Path(path).name
    if id_column is None:
        if str(table.columns[0]) not in _ROW_NAME_HEADERS:
            return table
        id_column = table.columns[0]
        (note or ignore)(f"the first column of {name} has no name: taken as the person id "
                         f"(R's write.csv row names); choose the id with --id-column")
    elif id_column not in table.columns:
        raise InputError(f"--id-column {id_column!r} not found in {name}; columns are "
                         f"{list(table.columns)[:10]}")
    table = table.set_index(id_column)
    if str(id_column) in _ROW_NAME_HEADERS:
        table.index.name = None  # written back as an empty header, as R writes row names
    if table.shape[1] == 0:
        raise InputError(f"{name} has no columns besides the person id")
    return table


def select_items(table, items, drop, source):
    """The item columns of `table`: `items`, or all but `drop`; returns (table, list or None)."""
    if items is None and drop is None:
        return table, None
    flag, names = ("--items", items) if items is not None else ("--drop", drop)
    labels = {str(column): column for column in table.columns}
    unknown = [name for name in names if name not in labels]
    if flag == "--items" and len(names) == 1 and unknown and names[0] in ITEM_TYPES:
        raise InputError(f"--items takes the item columns to fit and {source} has no column "
                         f"{names[0]!r}; the item type is set with --item-type {names[0]}")
    if unknown:
        raise InputError(f"{flag} names columns not in {source}: {unknown}; its columns are "
                         f"{list(labels)[:20]}")
    chosen = ([labels[name] for name in names] if items is not None else
              [column for column in table.columns if str(column) not in set(drop)])
    if not chosen:
        raise InputError(f"--drop leaves no item columns in {source}")
    return table[chosen], chosen


def not_items_message(columns, source):
    """One line listing the columns the library refused as items, and the flags that fix it."""
    listed = "; ".join(f"{column!r} ({reason})" for column, reason in columns.items())
    return (f"columns of {source} that do not look like items: {listed}. Choose the items with "
            f"--items, leave these out with --drop, name the person id with --id-column, or "
            f"allow more categories with --max-categories N")


def read_table(path, sep=None, note=None):
    """Reads a table with pandas, choosing the reader from the file suffix.

    A text file read as one column whose name holds ';', a tab, '|' or ',' is read again with
    that separator (European spreadsheet exports write ';' into .csv files); `note` is told.

    Raises:
      InputError: missing file, unknown suffix, missing optional reader (pyarrow, openpyxl),
        unreadable or empty table.
    """
    import pandas as pd
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"cannot read {path.name}: expected one of "
                         f"{', '.join(sorted(_READERS))}")
    try:
        if kind == "parquet":
            _require(("pyarrow", "fastparquet"), "reading Parquet", "pyarrow")
            table = pd.read_parquet(path)
        elif kind == "excel":
            needed = ("xlrd",) if path.suffix.lower() == ".xls" else ("openpyxl",)
            _require(needed, "reading Excel", needed[0])
            table = pd.read_excel(path)
        else:
            table = _read_text(path, {"csv": ",", "tsv": "\t", "text": None}[kind], sep, note)
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001 (pandas raises many types for unreadable files)
        raise InputError(f"cannot read {path.name}: {error}; if its fields are not separated "
                         f"by {'commas' if kind == 'csv' else 'tabs'}, give --sep") from None
    if table.empty:
        raise InputError(f"{path.name} has no rows or no item columns")
    return table


def _read_text(path, default, sep, note):
    import pandas as pd

    def read(separator):
        return pd.read_csv(path, sep=separator, engine="python" if separator is None else "c")

    table = read(sep if sep is not None else default)
    header = str(table.columns[0])
    found = [char for char in ";\t|," if char in header and char != default]
    if sep is not None or table.shape[1] != 1 or not found:
        return table
    separator = max(found, key=header.count)
    try:
        table = read(separator)
    except Exception as error:  # noqa: BLE001
        raise InputError(f"cannot read {path.name} with the separator {separator!r} its header "
                         f"suggests: {error}; give the separator with --sep") from None
    if table.shape[1] == 1:
        raise InputError(f"{path.name} reads as one column {header!r}; give the field "
                         f"separator with --sep")
    (note or ignore)(f"{path.name} is separated by {separator!r}: read with it "
                     f"(--sep chooses another)")
    return table


def _require(modules, action, package):
    if not any(importlib.util.find_spec(name) for name in modules):
        raise InputError(f"{action} needs the optional package {package}: pip install {package}")


def read_pattern(path):
    """A confirmatory pattern: items x factors of 0/1, the first column the item."""
    import pandas as pd
    pattern = read_table(path)
    pattern = pattern.set_index(pattern.columns[0])
    numeric = pattern.apply(pd.to_numeric, errors="coerce")
    if numeric.isna().any().any() or not numeric.isin((0, 1)).all().all():
        raise InputError(f"pattern {path.name} must hold only 0 and 1")
    return numeric.astype(int)
