"""Response files read as a stream: fit, score and log-likelihood in memory flat in persons.

A national assessment or an online survey can hold more persons than fit in memory (10 million
persons x 100 items are 1 GB as int8 answers, 2 GB with their mask, more as a DataFrame).
`ItemFactorModel.fit`, `score`, `log_likelihood` and `information_criteria` therefore also take
a path, a glob or a list of Parquet or CSV files (or a folder of them), read here in row
batches (`pyarrow.parquet.ParquetFile.iter_batches`; `pandas.read_csv(chunksize=...)`):

1. One pass (`scan`) counts the persons, collects every item's distinct answers (coded by the
   same rules as a DataFrame: `latentvi.irt.responses`, so the category map is the one the
   whole table in memory would give) and keeps a uniform random sample of persons
   (`SAMPLE_ROWS`, by the smallest random keys) for the starting values and the convergence
   rule's monitoring rows.
2. The fit draws minibatches from a stream (`training_batches`) that goes over the files in a
   new random order every pass and mixes rows through a shuffle buffer of `BUFFER_ROWS`
   persons (half of it is emitted in random order each time it fills). Rows sorted in the file
   (by region, by date) are spread over the whole fit this way; a file of persons in random
   order needs no buffer at all. With several workers (`tf.distribute`) each reads its own
   share of the files (`shard`).
3. Scores are written chunk by chunk to a Parquet (or CSV) file, one progress line per chunk;
   the log-likelihood is summed over chunks.

Memory is flat in the number of persons: a chunk, the buffer and the sample, plus the model.
What needs every person at once is not done on a stream: the exact-ML refinement (which for
large data the defaults skip anyway), standard errors, item fit, M2 and residuals; run them on
a sample (`read_sample`).
"""

import glob
import os
import pathlib
import re
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from latentvi._files import staged_file
from latentvi.irt.responses import (
    Responses,
    answer_codes,
    answered,
    apply_category_map,
    encode_responses,
    expanded_missing_codes,
)
from latentvi.irt.screening import check_max_categories, mask_missing_codes
from latentvi.progress import dynamic_display

__all__ = ["BUFFER_ROWS", "CHUNK_ROWS", "SAMPLE_ROWS", "ResponseFiles", "Scan", "chunks",
           "is_file_source", "n_rows", "open_files", "read_sample", "scan", "shard",
           "training_batches", "write_chunks"]

CHUNK_ROWS = 65_536  # rows read (and scored) at a time
BUFFER_ROWS = 262_144  # the shuffle buffer of the training stream, in persons
SAMPLE_ROWS = 50_000  # persons kept for starting values (start.MAX_ROWS) and monitoring
_KINDS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv"}


@dataclass
class ResponseFiles:
    """Files of one table: `paths` (in a fixed order), their `kind` ('parquet' or 'csv'), their
    `columns`, the CSV separator `sep`, and the person-id column (`id_column`, or None: rows are
    numbered 0, 1, ... across the files in order)."""
    paths: list
    kind: str
    columns: list
    sep: str | None = None
    id_column: object = None

    def __str__(self):
        return str(self.paths[0]) if len(self.paths) == 1 else f"{len(self.paths)} files"


@dataclass
class Scan:
    """What one pass over the files found: the coded `sample` (a `Responses` of at most
    SAMPLE_ROWS persons, with the category map of all the data), `n_persons` (who answered at
    least one item), `n_rows` (every row) and `dropped` (the first labels of persons who
    answered no item; `n_dropped` counts them all)."""
    sample: Responses
    n_persons: int
    n_rows: int
    dropped: list
    n_dropped: int


def is_file_source(data):
    """Whether `data` names files (a path, a glob, a folder or a list of paths)."""
    if isinstance(data, (str, os.PathLike, ResponseFiles)):
        return True
    return (isinstance(data, (list, tuple)) and len(data) > 0
            and all(isinstance(item, (str, os.PathLike)) for item in data))


def open_files(source, sep=None, id_column=None):
    """The `ResponseFiles` of a path, glob, folder or list of paths; checks that they exist,
    are all Parquet or all CSV, and have the same columns.

    sep: the CSV separator (default ',', tab for .tsv); id_column: the column labelling the
    persons (default: a pandas index stored in the Parquet files, else the row number across
    the files). A `ResponseFiles` is returned as it is.
    """
    if isinstance(source, ResponseFiles):
        return source
    paths = _expand(source)
    kinds = {_kind(path) for path in paths}
    if len(kinds) > 1:
        raise ValueError(f"the files of {source!r} mix Parquet and CSV; give one kind")
    kind = kinds.pop()
    columns = [_columns(path, kind, sep) for path in paths]
    for path, names in zip(paths[1:], columns[1:]):
        if names != columns[0]:
            raise ValueError(f"{path} has columns {names[:10]} but {paths[0]} has "
                             f"{columns[0][:10]}; every file must have the same columns")
    names, index = columns[0]
    named = [name for name in index if not name.startswith("__index_level_")]
    if id_column is None and len(index) == 1 and named:
        id_column = index[0]  # a named pandas index stored in the Parquet file: the persons
    if id_column is not None and id_column not in names + index:
        raise ValueError(f"id_column {id_column!r} is not a column of {paths[0]}; its columns "
                         f"are {names[:20]}")
    return ResponseFiles(paths, kind, names + index, sep, id_column)


def _expand(source):
    if isinstance(source, (list, tuple)):
        paths = [pathlib.Path(item) for item in source]
    else:
        text = os.fspath(source)
        path = pathlib.Path(text)
        if path.is_dir():
            paths = sorted(p for p in path.iterdir() if p.suffix.lower() in _KINDS)
            if not paths:
                raise FileNotFoundError(f"folder {text} has no .parquet or .csv files")
        elif glob.has_magic(text):
            paths = [pathlib.Path(p) for p in sorted(glob.glob(text))]
            if not paths:
                raise FileNotFoundError(f"no file matches {text!r}")
        else:
            paths = [path]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
    return paths


def _kind(path):
    kind = _KINDS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: read as a stream are Parquet (.parquet, .pq) and CSV (.csv, "
                         f".tsv, .txt) files; got {path.suffix!r} (load other files into a "
                         f"DataFrame)")
    return kind


def _columns(path, kind, sep):
    """(the columns, the columns holding a stored pandas index)."""
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as error:
            raise ValueError(f"{path} cannot be read as Parquet: {error}") from None
        index = _pandas_index_columns(schema)
        return [name for name in schema.names if name not in index], index
    try:
        header = pd.read_csv(path, sep=_separator(path, sep), nrows=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} cannot be read as CSV: {error}") from None
    return list(header.columns), []


def _pandas_index_columns(schema):
    """The columns pandas stored as the index ('__index_level_0__' or a named index)."""
    metadata = schema.pandas_metadata or {}
    return [name for name in metadata.get("index_columns", []) if isinstance(name, str)]


def _separator(path, sep):
    """`sep`, else the one the header line shows: ';' (a European spreadsheet's CSV) or a tab
    where it has no ',', else ','."""
    if sep is not None:
        return sep
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    for candidate in ("\t", ";"):
        if candidate in header and "," not in header:
            return candidate
    return ","


def chunks(files, columns=None, rows=None, order=None):
    """DataFrames of at most `rows` rows with `columns` (default all), indexed by the id
    column or by the row's number among the rows read (across the files, in order); files in
    `order` (positions into `files.paths`; default all in order); `rows` None: CHUNK_ROWS."""
    order = range(len(files.paths)) if order is None else order
    rows = CHUNK_ROWS if rows is None else rows
    if columns is None:
        columns = [column for column in files.columns if column != files.id_column]
    wanted = list(columns) + ([files.id_column] if files.id_column is not None else [])
    first = 0
    for position in order:
        for frame in _read(files, files.paths[position], wanted, rows):
            if not len(frame):  # a header-only CSV yields one empty chunk
                continue
            if files.id_column is not None:
                frame = frame.set_index(files.id_column)
                if str(files.id_column).startswith("__index_level_"):
                    frame.index.name = None
            else:
                frame.index = pd.RangeIndex(first, first + len(frame))
            first += len(frame)
            yield frame


def n_rows(files, path):
    """The rows of one of the files (Parquet: from its metadata; CSV: by reading it)."""
    if files.kind == "parquet":
        import pyarrow.parquet as pq
        return pq.ParquetFile(path).metadata.num_rows
    return sum(len(frame) for frame in _read(files, path, files.columns[:1], CHUNK_ROWS))


def _read(files, path, columns, rows):
    if files.kind == "parquet":
        import pyarrow.parquet as pq
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=columns):
            # the stored index stays a column (set as the index by `chunks`)
            yield batch.to_pandas(ignore_metadata=True)
        return
    # ids as text: a chunk of '17' and one of 'A17' would otherwise index as int, then str,
    # and '00012' would lose its zeros in some chunks only
    dtype = None if files.id_column is None else {files.id_column: str}
    yield from pd.read_csv(path, sep=_separator(path, files.sep), usecols=columns,
                           chunksize=rows, dtype=dtype)


def scan(files, items, item_type, missing_codes=None, max_categories=20, seed=None,
         sample_rows=SAMPLE_ROWS, progress=None):
    """One pass over `files`: the category map of `items` (by `encode_responses`' rules on
    every distinct answer), the persons counted, a uniform random sample coded; a `Scan`."""
    codes = expanded_missing_codes(missing_codes)
    most = check_max_categories(max_categories) + 1  # enough to refuse a non-item column
    rng = np.random.default_rng(seed)
    distinct = {item: {} for item in items}
    sample, keys = None, np.empty(0)
    n_rows, n_empty, dropped = 0, 0, []
    for frame in chunks(files, items):
        answers = mask_missing_codes(frame, codes)
        for item in items:
            if len(distinct[item]) <= most:
                for value in _distinct_values(answers[item]):
                    distinct[item].setdefault(value, None)
        empty = answers.isna().all(axis=1).to_numpy()
        n_rows, n_empty = n_rows + len(frame), n_empty + int(empty.sum())
        dropped.extend(frame.index[empty][:100 - len(dropped)])
        frame = frame[~empty]
        sample, keys = _smallest_keys(sample, keys, frame, rng.random(len(frame)), sample_rows)
        if progress is not None:
            progress(f"read {n_rows:,} rows")
    if sample is None or not len(sample):
        raise ValueError(f"{files} has no person with an answer to the items")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the digest has no empty persons
        try:
            digest = encode_responses(_digest(distinct, sample, items), item_type,
                                      max_categories=max_categories)
        except (TypeError, ValueError) as error:
            raise _in_files(error, files) from None
    if sample.index.has_duplicates:
        repeated = list(sample.index[sample.index.duplicated()].unique()[:5])
        raise ValueError(f"person labels repeat in {files} (first: {repeated}); give an "
                         f"id_column whose values are unique across the files, or none (rows "
                         f"are then numbered)")
    coded = apply_category_map(sample.sort_index(), digest.category_map, missing_codes=codes)
    if n_empty:
        warnings.warn(f"dropping {n_empty:,} persons who answered no item (first: "
                      f"{dropped[:5]}); they carry no information about the items",
                      UserWarning, stacklevel=3)
    return Scan(coded, n_rows - n_empty, n_rows, dropped, n_empty)


def _distinct_values(series):
    """The distinct answers of a chunk's column, numbers as floats whether the chunk's reader
    took them for numbers or text (a CSV column with '.' in one chunk only): 1 and '1' are one
    answer, as they are to `encode_responses`."""
    values = pd.Series(series.dropna().unique(), dtype=object)
    if isinstance(series.dtype, pd.CategoricalDtype) or not len(values):
        return list(values)
    numbers = pd.to_numeric(values, errors="coerce")
    return [float(number) if not pd.isna(number) else value
            for value, number in zip(values, numbers)]


def _in_files(error, files):
    """`error` of the digest table with its row numbers (which are the digest's, not the
    files') replaced by the files' name."""
    if hasattr(error, "columns"):  # SuspiciousColumns keeps its columns for the CLI's message
        return error
    return type(error)(re.sub(r" \(first at row [^)]*\)", f" (in {files})", str(error)))


def _smallest_keys(sample, keys, frame, new_keys, size):
    """The rows with the `size` smallest random keys of `sample` and `frame` (a uniform
    random sample of every row seen, whatever the order and number of chunks)."""
    if sample is not None:
        frame, new_keys = pd.concat([sample, frame]), np.concatenate([keys, new_keys])
    if len(frame) <= size:
        return frame, new_keys
    keep = np.sort(np.argpartition(new_keys, size)[:size])
    return frame.iloc[keep], new_keys[keep]


def _digest(distinct, sample, items):
    """A small table with every item's distinct answers, each at least twice (so that no item
    looks like an ID column), in the dtype of the sample's column; what `encode_responses`
    reads to build the category map of all the data."""
    rows = 2 * max(max(len(values), 1) for values in distinct.values())
    columns = {}
    for item in items:
        values = list(distinct[item]) or [np.nan]
        column = pd.Series([values[i % len(values)] for i in range(rows)], dtype=object)
        dtype = sample[item].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            column = column.astype(dtype)
        columns[item] = column
    return pd.DataFrame(columns)[list(items)]


def read_sample(files, items, n_rows=SAMPLE_ROWS, seed=None):
    """A uniform random sample of `n_rows` rows of the item columns (a DataFrame), for what
    needs every person at once (standard errors, item fit, M2)."""
    rng = np.random.default_rng(seed)
    sample, keys = None, np.empty(0)
    for frame in chunks(files, items):
        sample, keys = _smallest_keys(sample, keys, frame, rng.random(len(frame)), n_rows)
    return sample.sort_index()


def shard(n_files, worker, n_workers):
    """The positions of the files worker `worker` of `n_workers` reads (every n-th file)."""
    if n_files < n_workers:
        raise ValueError(f"{n_workers} workers need at least as many files to share; got "
                         f"{n_files} (split the data into more Parquet files)")
    return list(range(worker, n_files, n_workers))


def training_batches(files, items, category_map, missing_codes, batch_size, seed=None,
                     buffer_rows=BUFFER_ROWS, files_read=None):
    """Endless (codes float32 [batch, J], mask bool [batch, J]) minibatches: passes over the
    files (those at `files_read`, default all) in a new random order each, rows mixed through
    a shuffle buffer, persons with no answer left out."""
    rng = np.random.default_rng(seed)
    positions = list(range(len(files.paths))) if files_read is None else list(files_read)
    buffer = None  # the coded answers (`Responses.answers`: a byte a cell) of rows not yet used
    while True:
        for position in rng.permutation(positions):
            for frame in chunks(files, items, order=[position]):
                coded = apply_category_map(frame[items], category_map,
                                           missing_codes=missing_codes)
                answers = coded.answers[coded.answered_any()]
                buffer = answers if buffer is None else np.concatenate([buffer, answers])
                if len(buffer) < buffer_rows:
                    continue
                buffer = buffer[rng.permutation(len(buffer))]
                emit = (len(buffer) // 2) // batch_size * batch_size
                for start in range(0, emit, batch_size):
                    yield _codes_and_mask(buffer[start:start + batch_size])
                buffer = buffer[emit:]
        # end of a pass: what is left in the buffer joins the next pass's first fill, except
        # when the data are smaller than the buffer: then every pass is one shuffled batch set.
        if buffer is not None and batch_size <= len(buffer) < buffer_rows:
            order = rng.permutation(len(buffer))
            emit = len(buffer) // batch_size * batch_size
            for start in range(0, emit, batch_size):
                yield _codes_and_mask(buffer[order[start:start + batch_size]])
            buffer = buffer[order[emit:]]


def _codes_and_mask(answers):
    return answer_codes(answers), answered(answers)


def write_chunks(frames, out, what="scores", verbose=1):
    """Writes the DataFrames `frames` yields to `out` (.parquet, else CSV) one after another,
    through a temporary file renamed at the end (no half-written result under the final
    name); one progress line per chunk (redrawn in place on a terminal). Returns the number
    of rows written."""
    out = pathlib.Path(out)
    writer, rows, start = None, 0, time.perf_counter()
    dynamic = dynamic_display(sys.stdout)
    with staged_file(out) as temporary:
        try:
            for frame in frames:
                writer = _append(writer, temporary, frame, out.suffix.lower())
                rows += len(frame)
                if verbose:
                    line = f"{what}: {rows:,} rows written, {time.perf_counter() - start:.1f} s"
                    sys.stdout.write(("\r" + line) if dynamic else line + "\n")
                    sys.stdout.flush()
        finally:
            if writer is not None and hasattr(writer, "close"):
                writer.close()
        if writer is None:
            raise ValueError(f"nothing to write to {out}: the files hold no rows")
    if verbose and dynamic:
        sys.stdout.write("\n")
    return rows


def _append(writer, path, frame, suffix):
    frame = frame.copy()
    frame.columns = [str(column) for column in frame.columns]
    if suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq
        table = pa.Table.from_pandas(frame, preserve_index=True)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table.cast(writer.schema))
        return writer
    frame.to_csv(path, mode="a" if writer is not None else "w", header=writer is None,
                 sep="\t" if suffix == ".tsv" else ",")
    return True
