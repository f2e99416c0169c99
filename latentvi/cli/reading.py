"""Reading the user's tables: responses, the person id, the item columns and a pattern; where
a command's data argument names several files, and where its results go by default.

The reader is chosen by the file suffix (CSV, TSV, text, Parquet, Excel). A text file whose
header shows another separator than its suffix's (';' in a European spreadsheet's .csv) is read
again with that one. Every problem is an `InputError` phrased in the command's flags.
"""

import glob
import importlib.util
import pathlib
import re

from latentvi.cli.messages import InputError, ignore

__all__ = ["ITEM_TYPES", "default_out", "many_files", "not_items_message", "read_pattern",
           "read_responses", "read_table", "select_items"]

ITEM_TYPES = ("binary", "graded")

_READERS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "text", ".parquet": "parquet",
            ".pq": "parquet", ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel"}
# Headers R's write.csv (and pandas' to_csv) give the row-name column.
_ROW_NAME_HEADERS = ("Unnamed: 0", "")
# pandas' name for a column whose header is empty, N its position from 0
_UNNAMED = re.compile(r"Unnamed: (\d+)")
# a number, possibly written with a decimal comma
_DECIMAL_COMMA = re.compile(r"\s*[-+]?\d+(,\d+)?\s*")


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
    """The item columns of `table`: `items`, or all but `drop`; returns (table, list or None).

    Raises InputError if an item column has no name in the file's header."""
    if items is None and drop is None:
        return _named(table, source), None
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
    return _named(table[chosen], source), chosen


def _named(table, source):
    """`table`, if no column lacks a name in the file's header (pandas reads 'Unnamed: N')."""
    for column in table.columns:
        found = _UNNAMED.fullmatch(str(column))
        if found:
            raise InputError(f"column {int(found.group(1)) + 1} of {source} has no name in its "
                             f"header (read as {column!r}); name it in the file, or leave it "
                             f"out with --drop '{column}'")
    return table


def not_items_message(columns, source):
    """One line listing the columns the library refused as items, and the flags that fix it."""
    listed = "; ".join(f"{column!r} ({reason})" for column, reason in columns.items())
    return (f"columns of {source} that do not look like items: {listed}. Choose the items with "
            f"--items, leave these out with --drop, name the person id with --id-column, or "
            f"allow more categories with --max-categories N")


def read_table(path, sep=None, note=None):
    """Reads a table with pandas, choosing the reader from the file suffix.

    A text file read as one column whose name holds ';', a tab, '|' or ',' is read again with
    that separator (European spreadsheet exports write ';' into .csv files), and in a file not
    separated by commas, a text column of numbers with decimal commas ('2,5') is read as
    numbers; columns without a name and without a value (a separator at the end of every line)
    are left out. `note` is told of each.

    Raises:
      InputError: missing or empty file, unknown suffix, missing optional reader (pyarrow,
        openpyxl), text that is not UTF-8, a column name given twice, unreadable or empty table.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"cannot read {path.name}: expected one of "
                         f"{', '.join(sorted(_READERS))}")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty: expected a header line of column names, then "
                         f"one row per person")
    try:
        table = _read(path, kind, sep, note or ignore)
    except InputError:
        raise
    except UnicodeDecodeError as error:
        raise InputError(f"cannot read {path.name}: it is not UTF-8 text (byte "
                         f"{error.object[error.start]:#04x} at position {error.start}); save "
                         f"it as UTF-8 (Excel: 'CSV UTF-8')") from None
    except Exception as error:  # noqa: BLE001 (pandas raises many types for unreadable files)
        raise InputError(_unreadable(path.name, kind, error)) from None
    table = _without_empty_unnamed(table, path.name, note or ignore)
    if table.empty:
        raise InputError(f"{path.name} has no rows or no item columns")
    return table


def _read(path, kind, sep, note):
    import pandas as pd
    if kind == "parquet":
        _require(("pyarrow", "fastparquet"), "reading Parquet", "pyarrow")
        return _numeric_categories(pd.read_parquet(path))
    if kind == "excel":
        needed = ("xlrd",) if path.suffix.lower() == ".xls" else ("openpyxl",)
        _require(needed, "reading Excel", needed[0])
        _check_header(pd.read_excel(path, header=None, nrows=1).iloc[0], path.name)
        return pd.read_excel(path)
    return _read_text(path, {"csv": ",", "tsv": "\t", "text": None}[kind], sep, note)


def _numeric_categories(table):
    """`table` with its unordered categorical columns of numbers (Parquet dictionary columns,
    as pandas writes its categoricals) read as numbers; ordered ones keep their order."""
    import pandas as pd
    for column in table.columns:
        dtype = table[column].dtype
        if (isinstance(dtype, pd.CategoricalDtype) and not dtype.ordered
                and pd.api.types.is_numeric_dtype(dtype.categories.dtype)):
            table[column] = table[column].astype(float)
    return table


def _unreadable(name, kind, error):
    if kind in ("parquet", "excel"):
        return f"cannot read {name} as {kind.capitalize()}: {error}"
    return (f"cannot read {name}: {error}; if its fields are not separated by "
            f"{'commas' if kind == 'csv' else 'tabs'}, give --sep")


def _read_text(path, default, sep, note):
    import pandas as pd

    def read(separator, **options):
        return pd.read_csv(path, sep=separator, engine="python" if separator is None else "c",
                           **options)

    separator = sep if sep is not None else default
    table = read(separator)
    header = str(table.columns[0])
    found = [char for char in ";\t|," if char in header and char != default]
    if sep is None and table.shape[1] == 1 and found:
        separator = max(found, key=header.count)
        try:
            table = read(separator)
        except Exception as error:  # noqa: BLE001
            raise InputError(f"cannot read {path.name} with the separator {separator!r} its "
                             f"header suggests: {error}; give the separator with --sep") from None
        if table.shape[1] == 1:
            raise InputError(f"{path.name} reads as one column {header!r}; give the field "
                             f"separator with --sep")
        note(f"{path.name} is separated by {separator!r}: read with it (--sep chooses another)")
    _check_header(read(separator, header=None, nrows=1, dtype=str).iloc[0], path.name)
    return table if separator == "," else _decimal_commas(table, path.name, note)


def _check_header(names, source):
    """Raises if the header names a column twice (pandas would rename the second 'q1.1')."""
    import pandas as pd
    names = list(names)
    for j, name in enumerate(names):
        if not pd.isna(name) and name in names[:j]:  # an empty name reads as NaN
            positions = [k + 1 for k, other in enumerate(names) if other == name]
            raise InputError(f"{source} has {len(positions)} columns named {name!r} (columns "
                             f"{', '.join(map(str, positions))}); column names must be unique: "
                             f"rename the repeats")


def _decimal_commas(table, source, note):
    """`table` with its text columns of numbers written with decimal commas ('2,5') read as
    numbers: the decimal mark of the locales that separate fields with ';'."""
    import pandas as pd
    converted = []
    for column in table.columns:
        text = table[column].dropna()
        if pd.api.types.is_numeric_dtype(text.dtype) or not len(text):
            continue
        text = text.astype(str)
        if text.str.fullmatch(_DECIMAL_COMMA).all() and text.str.contains(",").any():
            table[column] = pd.to_numeric(table[column].str.replace(",", ".", regex=False))
            converted.append(column)
    if converted:
        note(f"{source}: read {_listed(converted)} with decimal commas (2,5 is 2.5)")
    return table


def _without_empty_unnamed(table, source, note):
    """`table` without its columns that have neither a name nor a value (the columns after a
    separator at the end of every line); `note` lists them."""
    empty = [column for column in table.columns
             if _UNNAMED.fullmatch(str(column)) and table[column].isna().all()]
    if empty:
        note(f"{source} has {len(empty)} column(s) without a name or a value, left out: "
             f"{_listed(empty)} (a separator at the end of each line?)")
    return table.drop(columns=empty)


def _listed(labels):
    labels = [str(label) for label in labels]
    return ", ".join(labels[:10]) + (f" and {len(labels) - 10} more" if len(labels) > 10 else "")


def _require(modules, action, package):
    if not any(importlib.util.find_spec(name) for name in modules):
        raise InputError(f"{action} needs the optional package {package}: pip install {package}")


def read_pattern(path):
    """A confirmatory pattern: items x factors of 0/1, the first column the item."""
    import pandas as pd
    pattern = read_table(path)
    pattern = pattern.set_index(pattern.columns[0])
    if pattern.shape[1] == 0:
        raise InputError(f"pattern {path.name} has no factor columns: expected the item names "
                         f"in the first column, then one 0/1 column per factor")
    if pattern.index.has_duplicates:
        repeated = pattern.index[pattern.index.duplicated()].unique()
        raise InputError(f"pattern {path.name} has more than one row for items "
                         f"{list(repeated)[:10]}; give each item one row")
    numeric = pattern.apply(pd.to_numeric, errors="coerce")
    if numeric.isna().any().any() or not numeric.isin((0, 1)).all().all():
        raise InputError(f"pattern {path.name} must hold only 0 and 1")
    return numeric.astype(int)


def many_files(path):
    """Whether the data argument names several files (a folder or a glob): read as a stream."""
    return pathlib.Path(path).is_dir() or glob.has_magic(str(path))


def default_out(path, suffix):
    """`<data><suffix>` beside the data: beside a folder for a folder, beside the folder the
    files are in for a glob (the result must not match the glob)."""
    path = pathlib.Path(path)
    if not many_files(path):
        return path.with_name(f"{path.stem}{suffix}")
    folder = path.absolute() if path.is_dir() else path.absolute().parent
    while glob.has_magic(str(folder)):
        folder = folder.parent
    return folder.parent / f"{folder.name}{suffix}"
