"""Command line: `latentvi fit`, `latentvi score`, `latentvi info` and `latentvi demo`.

    latentvi fit survey.csv --id-column id --drop age,sex --missing-codes -9 --seed 1
    latentvi info survey_irt/model.lvirt
    latentvi score survey_irt/model.lvirt new.csv --id-column id --out new_scores.csv
    latentvi demo

`fit` reads a persons x items table (CSV, TSV, Parquet or Excel, by file suffix), fits an
`irt.ItemFactorModel` to its item columns and writes model.lvirt, items.csv, scores.csv,
fit.json (log-likelihood with its Monte Carlo SE, AIC, BIC, persons read and dropped, settings,
versions), factor_corr.csv (D > 1), history.csv and PNG plots into the output folder.

`score` scores new respondents with a saved model; `info` prints what a saved model holds.

A mistake in the input ends the command with exit code 2 and one line on stderr, phrased in the
command's flags.
"""

import argparse
import contextlib
import importlib.util
import json
import math
import pathlib
import platform
import re
import sys
import time
import warnings

from latentvi import __version__

__all__ = ["decimals_for", "main", "parse_codes", "read_responses", "read_table"]

EXIT_USAGE = 2
MODEL_FILE = "model.lvirt"

# mirt 2PL on LSAT7 (the bundled data's README; Bock & Lieberman 1970).
MIRT_LSAT7 = {"a1": [0.988, 1.081, 1.706, 0.765, 0.736], "d": [1.856, 0.808, 1.804, 0.486, 1.855]}
MIRT_LSAT7_LOGLIK = -2658.805

_READERS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "text", ".parquet": "parquet",
            ".pq": "parquet", ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel"}
# Headers R's write.csv (and pandas' to_csv) give the row-name column.
_ROW_NAME_HEADERS = ("Unnamed: 0", "")
ITEM_TYPES = ("binary", "graded")

# The library's errors name its keyword arguments; the command line shows the flag instead.
# Plain words ("items", "epochs") are only flags when written as keyword=value.
_FLAGS = {"item_type": "--item-type", "n_factors": "--factors", "missing_codes": "--missing-codes",
          "max_categories": "--max-categories", "max_steps": "--max-steps",
          "iw_samples": "--iw-samples", "batch_size": "--batch-size",
          "num_samples": "--loglik-samples", "items=": "--items", "epochs=": "--epochs",
          "seed=": "--seed", "rotation=": "--rotation"}
_KEYWORD = re.compile(
    r"\b(" + "|".join(re.escape(name.rstrip("=")) + ("(?==)" if name.endswith("=") else r"\b")
                      for name in _FLAGS) + r")"
    r"(?:=(\[[^\]]*\]|'[^']*'|\"[^\"]*\"|[^\s,;)]+))?")


class InputError(ValueError):
    """A problem with the user's files or options: reported in one line, exit code 2."""


def main(argv=None):
    """Runs the command line; returns the exit code (0 success, 2 bad input)."""
    parser = _parser()
    try:
        args = parser.parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as stop:  # argparse has printed its message
        return int(stop.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except (InputError, ValueError, TypeError) as error:
        print(f"latentvi: error: {in_flags(error)}", file=sys.stderr)
        return EXIT_USAGE


def in_flags(message):
    """`message` on one line, with the library's keyword arguments written as the CLI's flags:
    "use item_type='graded'" -> "use --item-type graded"."""
    def flag(match):
        name, value = match.group(1), match.group(2)
        option = _FLAGS.get(name) or _FLAGS[name + "="]
        if value is None:
            return option
        parts = value.strip("[]").split(",") if value.startswith("[") else [value]
        return f"{option} {','.join(part.strip().strip(chr(39) + chr(34)) for part in parts)}"
    return _KEYWORD.sub(flag, " ".join(str(message).split()))


def _attach_negative_values(argv):
    """argparse takes the '-9,99' of `--missing-codes -9,99` for an option; joined with '=' it
    is read as the option's value."""
    joined, rest = [], list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--missing-codes" and rest and re.match(r"-[^-]", rest[0]):
            arg = f"{arg}={rest.pop(0)}"
        joined.append(arg)
    return joined


def _parser():
    parser = argparse.ArgumentParser(
        prog="latentvi", description="Item factor analysis by amortized variational inference.")
    parser.add_argument("--version", action="version", version=f"latentvi {__version__}")
    commands = parser.add_subparsers(dest="command")
    _fit_parser(commands)
    _score_parser(commands)
    info = commands.add_parser("info", help="print the items, factor correlations and fit "
                                            "summary of a saved model")
    info.add_argument("model", type=pathlib.Path, help=f"a saved model ({MODEL_FILE})")
    info.set_defaults(run=run_info)
    demo = commands.add_parser("demo", help="fit LSAT7 and compare with mirt's estimates")
    demo.add_argument("--seed", type=int, default=0, help="integer seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=run_demo)
    return parser


def _fit_parser(commands):
    fit = commands.add_parser("fit", help="fit an item factor model to a response table",
                              description=" ".join(__doc__.split("\n\n")[2].split()))
    fit.add_argument("data", type=pathlib.Path,
                     help="persons x items table: .csv, .tsv, .txt, .parquet or .xlsx")
    columns = fit.add_mutually_exclusive_group()
    columns.add_argument("--items", type=_column_list, metavar="COLS",
                         help="comma-separated item columns to fit (default: every column "
                              "but the id)")
    columns.add_argument("--drop", type=_column_list, metavar="COLS",
                         help="comma-separated columns that are not items (demographics)")
    _input_options(fit)
    fit.add_argument("--missing-codes", type=parse_codes, metavar="CODES",
                     help="comma-separated answers that mean no answer, e.g. -9,99,. "
                          "(empty cells always do)")
    fit.add_argument("--max-categories", type=int, metavar="N",
                     help="columns with more distinct answers are refused as not items "
                          "(default 20)")
    fit.add_argument("--factors", type=int,
                     help="number of factors (default: the pattern's factor columns, else 1)")
    fit.add_argument("--item-type", choices=ITEM_TYPES, default="binary",
                     help="binary (2PL) or graded (ordered categories); default binary")
    fit.add_argument("--rotation", choices=("oblimin", "geomin", "varimax", "none"),
                     default="oblimin", help="rotation of an exploratory model (default oblimin)")
    fit.add_argument("--pattern", type=pathlib.Path,
                     help="confirmatory: CSV items x factors of 0/1, first column the item")
    fit.add_argument("--epochs", type=int,
                     help="a fixed number of passes over the data (default: until converged)")
    fit.add_argument("--max-steps", type=int,
                     help="most steps before the fit stops unconverged (default 20,000)")
    fit.add_argument("--batch-size", type=int, help="persons per step (default: from n)")
    fit.add_argument("--iw-samples", type=int,
                     help="importance samples per person in the bound (default: 5..50, "
                          "chosen from the data size)")
    fit.add_argument("--loglik-samples", type=int, default=5000,
                     help="importance samples for the reported log-likelihood (default 5000)")
    fit.add_argument("--seed", type=int,
                     help="integer seed: the same seed, data and versions give the same files")
    fit.add_argument("--out", type=pathlib.Path, help="output folder (default: <data>_irt/)")
    fit.add_argument("--force", action="store_true", help="write into an existing output folder")
    fit.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    fit.add_argument("--quiet", action="store_true", help="no progress, notes or summary")
    fit.set_defaults(run=run_fit)


def _score_parser(commands):
    score = commands.add_parser("score", help="score new respondents with a saved model")
    score.add_argument("model", type=pathlib.Path, help=f"a saved model ({MODEL_FILE})")
    score.add_argument("data", type=pathlib.Path,
                       help="persons x items table holding the model's items (other columns "
                            "are ignored)")
    _input_options(score)
    score.add_argument("--out", type=pathlib.Path,
                       help="scores CSV, indexed by the person id (default: <data>_scores.csv)")
    score.add_argument("--force", action="store_true", help="overwrite an existing --out")
    score.add_argument("--quiet", action="store_true", help="no notes or summary")
    score.set_defaults(run=run_score)


def _input_options(command):
    command.add_argument("--id-column", metavar="COL",
                         help="column holding the person id: not an item, the index of every "
                              "output (an unnamed first column is taken as the id)")
    command.add_argument("--index-col", dest="id_column", help=argparse.SUPPRESS)
    command.add_argument("--sep", help="field separator of a text file (default: from the "
                                       "suffix; ';', tab or '|' are detected)")


def _column_list(text):
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names; got {text!r}")
    return names


def parse_codes(text):
    """'-9,99,.' -> [-9, 99, '.']: numbers as numbers (whole ones as int), the rest as text."""
    codes = []
    for token in (part.strip() for part in text.split(",")):
        if not token:
            raise argparse.ArgumentTypeError(f"expected comma-separated codes such as -9,99,.; "
                                             f"got {text!r}")
        try:
            number = float(token)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):  # 'nan', 'inf' and words stay text
            codes.append(token)
        else:
            codes.append(int(number) if number.is_integer() else number)
    return codes


# -- fit ---------------------------------------------------------------------------------------
def run_fit(args):
    note = _notes(args.quiet)
    data = read_responses(args.data, args.id_column, args.sep, note)
    data, items = select_items(data, args.items, args.drop, args.data.name)
    n_factors, pattern = _factors_and_pattern(args.factors, args.pattern)
    out = _output_folder(args.out or args.data.with_name(f"{args.data.stem}_irt"), args.force)
    from latentvi import irt
    from latentvi.irt.responses import SuspiciousColumns
    options = {name: value for name, value in (("items", items),
                                                ("missing_codes", args.missing_codes),
                                                ("max_categories", args.max_categories))
               if value is not None}
    model = irt.ItemFactorModel(
        n_factors=n_factors, item_type=args.item_type, pattern=pattern,
        rotation=None if args.rotation == "none" else args.rotation,
        iw_samples=args.iw_samples, seed=args.seed, **options)
    try:
        with _reported_warnings():
            seconds = _fit(model, data, args, f"{len(data):,} persons x {data.shape[1]} items")
            criteria = model.information_criteria(data, num_samples=args.loglik_samples)
    except SuspiciousColumns as error:
        raise InputError(not_items_message(error.columns, args.data.name)) from None
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_FILE, overwrite=args.force)
    model.items_.to_csv(out / "items.csv")
    model.score(data).to_csv(out / "scores.csv")
    model.history_.to_csv(out / "history.csv", index=False)
    if n_factors > 1:
        model.factor_corr_.to_csv(out / "factor_corr.csv")
    summary = fit_summary(model, criteria, data, args, seconds)
    (out / "fit.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if not args.no_plots:
        save_plots(model, out)
    if not args.quiet:
        print(model.items_.round(3).to_string())
        print(f"\n{criteria_line(criteria)}  ({seconds:.1f} s)\n{persons_line(summary)}\n"
              f"wrote {out}/")
    return 0


def read_responses(path, id_column=None, sep=None, note=None):
    """`read_table`, indexed by the person id (`id_column`, or an unnamed first column)."""
    table = read_table(path, sep=sep, note=note)
    name = pathlib.Path(path).name
    if id_column is None:
        if str(table.columns[0]) not in _ROW_NAME_HEADERS:
            return table
        id_column = table.columns[0]
        (note or _ignore)(f"the first column of {name} has no name: taken as the person id "
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
    (note or _ignore)(f"{path.name} is separated by {separator!r}: read with it "
                      f"(--sep chooses another)")
    return table


def _require(modules, action, package):
    if not any(importlib.util.find_spec(name) for name in modules):
        raise InputError(f"{action} needs the optional package {package}: pip install {package}")


def _factors_and_pattern(factors, path):
    """The number of factors (--factors, else the pattern's factor columns, else 1), pattern."""
    if path is None:
        return (1 if factors is None else factors), None
    pattern = _read_pattern(path)
    if factors is not None and pattern.shape[1] != factors:
        raise InputError(f"pattern {path.name} has {pattern.shape[1]} factor columns but "
                         f"--factors is {factors}")
    return pattern.shape[1], pattern


def _read_pattern(path):
    import pandas as pd
    pattern = read_table(path)
    pattern = pattern.set_index(pattern.columns[0])
    numeric = pattern.apply(pd.to_numeric, errors="coerce")
    if numeric.isna().any().any() or not numeric.isin((0, 1)).all().all():
        raise InputError(f"pattern {path.name} must hold only 0 and 1")
    return numeric.astype(int)


def _output_folder(out, force):
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(f"output folder {out} already exists and is not empty; "
                         f"use --force to overwrite its files")
    return out


def _fit(model, data, args, what):
    """Fits with one progress bar on stderr (unless quiet); returns the wall time in seconds."""
    start = time.perf_counter()
    model.fit(data, epochs=args.epochs, batch_size=args.batch_size, verbose=0,
              max_steps=args.max_steps, callbacks=None if args.quiet else [_progress(what)])
    return time.perf_counter() - start


def _progress(what):
    """A callback drawing one Keras progress bar over the epochs (Keras's own verbose=1 draws
    a bar per epoch)."""
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            print(f"fitting {what}", file=sys.stderr, flush=True)
            # Redrawn in place on a terminal; in a log file only the start line is written.
            self.bar = (keras.utils.Progbar(self.params.get("epochs"), unit_name="epoch",
                                            interval=0.25) if sys.stderr.isatty() else None)

        def on_epoch_end(self, epoch, logs=None):
            if self.bar is not None:
                self.bar.update(epoch + 1, values=[("bound", (logs or {}).get("bound", 0.0))],
                                finalize=epoch + 1 == self.params.get("epochs"))

    return EpochProgress()


@contextlib.contextmanager
def _reported_warnings():
    """The library's warnings (persons dropped, codes that look like missing, no convergence)
    as 'latentvi: warning:' lines in flags, shown even with --quiet."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            yield
        finally:
            for found in caught:
                if issubclass(found.category, UserWarning):
                    print(f"latentvi: warning: {in_flags(found.message)}", file=sys.stderr)
                else:
                    warnings.showwarning(found.message, found.category, found.filename,
                                         found.lineno)


def _notes(quiet):
    return _ignore if quiet else (lambda text: print(f"latentvi: note: {text}", file=sys.stderr))


def _ignore(text):
    pass


def fit_summary(model, criteria, data, args, seconds):
    """The fit.json content: fit statistics, persons read and dropped, settings and versions."""
    import pandas as pd
    dropped = getattr(model, "dropped_persons_", pd.Index([]))
    loglik_se = float(criteria.get("loglik_se", math.nan))
    return {
        "loglik": float(criteria["loglik"]),
        "loglik_se": loglik_se if math.isfinite(loglik_se) else None,
        "n_params": int(criteria["n_params"]),
        "AIC": float(criteria["AIC"]), "BIC": float(criteria["BIC"]),
        "n_persons_read": len(data), "n_persons": int(model.n_persons_),
        "n_dropped": len(dropped),
        "dropped_reason": "answered none of the items" if len(dropped) else None,
        "dropped_persons": [_plain(label) for label in dropped],
        "n_items": len(model.items_),
        "fit_seconds": round(seconds, 2), "epochs": len(model.history_),
        "converged": model.converged_,
        "final_bound": float(model.history_["bound"].iloc[-1]),
        "settings": {"data": str(args.data), "id_column": args.id_column,
                     "items": [str(item) for item in model.items_.index], "drop": args.drop,
                     "missing_codes": args.missing_codes,
                     "max_categories": args.max_categories,
                     "factors": model.n_factors, "item_type": args.item_type,
                     "rotation": args.rotation, "pattern": str(args.pattern or ""),
                     **model.settings_,
                     "loglik_samples": args.loglik_samples,
                     "seed": args.seed},
        "category_map": {str(item): {str(value): int(code) for value, code in mapping.items()}
                         for item, mapping in model.category_map_.items()},
        "versions": versions(),
    }


def _plain(label):
    return label.item() if hasattr(label, "item") else label


def decimals_for(se, most=3):
    """Decimals worth printing for an estimate with Monte Carlo standard error `se`.

    The last digit printed is the finest whose unit is at least the SE: SE 0.09 -> 1 decimal,
    0.004 -> 2, 0.5 or more -> 0. A rerun with another seed then moves the printed value by
    about one unit of its last digit, so no digit is shown that a rerun would not keep. An SE
    that is unknown (NaN) or 0 gives `most`.
    """
    if not (se > 0 and math.isfinite(se)):
        return most
    return int(min(most, max(0, math.floor(-math.log10(se) + 1e-9))))


def criteria_line(criteria):
    """'log-likelihood -2658.8 (Monte Carlo SE 0.09)  AIC 5337.6  BIC 5386.7', rounded to the
    precision the Monte Carlo SE supports (that of AIC and BIC is twice the loglik's)."""
    se = float(criteria.get("loglik_se", math.nan))
    loglik, aic, bic = (float(criteria[key]) for key in ("loglik", "AIC", "BIC"))
    d, d2 = decimals_for(se), decimals_for(2 * se, most=2)
    shown = f" (Monte Carlo SE {se:.2g})" if math.isfinite(se) else ""
    return f"log-likelihood {loglik:.{d}f}{shown}  AIC {aic:.{d2}f}  BIC {bic:.{d2}f}"


def persons_line(summary):
    line = f"persons: {summary['n_persons_read']:,} read, {summary['n_persons']:,} fitted"
    if summary["n_dropped"]:
        line += f", {summary['n_dropped']:,} dropped ({summary['dropped_reason']})"
    return line


def versions():
    from importlib import metadata
    found = {"python": platform.python_version()}
    for name in ("latentvi", "tensorflow", "tensorflow-probability", "keras", "numpy", "pandas"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def save_plots(model, out):
    """item_curves.png, information.png and loadings.png in `out`."""
    from latentvi.plotting import irt as plots
    figures = {"item_curves.png": plots.item_curves(model),
               "information.png": plots.information_curves(model),
               "loadings.png": plots.loadings_heatmap(model)}
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=100)


# -- score and info ----------------------------------------------------------------------------
def run_score(args):
    out = args.out or args.data.with_name(f"{args.data.stem}_scores.csv")
    if out.exists() and not args.force:
        raise InputError(f"{out} already exists; use --force to overwrite it")
    model = load_model_file(args.model)
    data = read_responses(args.data, args.id_column, args.sep, _notes(args.quiet))
    items = list(model.category_map_)
    labels = {str(column): column for column in data.columns}
    missing = [item for item in items if str(item) not in labels]
    if missing:
        raise InputError(f"{args.data.name} lacks items the model was fitted on: {missing}")
    with _reported_warnings():
        scores = model.score(data[[labels[str(item)] for item in items]])
    scores.to_csv(out)
    if not args.quiet:
        print(f"scored {len(scores):,} persons on {len(items)} items; wrote {out}")
    return 0


def run_info(args):
    import pandas as pd
    model = load_model_file(args.model)
    converged = {True: "converged", False: "NOT converged", None: "fixed epochs"}
    print(f"{args.model}: {model.n_factors} factor(s), {len(model.items_)} items, "
          f"{model.n_persons_:,} persons ({converged.get(model.converged_, '?')})\n")
    print(model.items_.round(3).to_string())
    print("\nfactor correlations\n" + model.factor_corr_.round(3).to_string())
    dropped = getattr(model, "dropped_persons_", pd.Index([]))
    settings = {"item_type": model.item_type, "rotation": model.rotation, "seed": model.seed,
                "items": getattr(model, "items", None),
                "missing_codes": getattr(model, "missing_codes", None),
                "max_categories": getattr(model, "max_categories", None),
                "persons dropped (answered no item)": len(dropped),
                "n_params": model.n_parameters_, **model.settings_}
    shown = {name: ",".join(map(str, value)) if isinstance(value, (list, tuple)) else
             "-" if value is None else str(value) for name, value in settings.items()}
    print("\nsettings\n" + pd.Series(shown).to_string())
    return 0


def load_model_file(path):
    """`irt.load`, with a missing or foreign file reported as an input error."""
    from latentvi import irt
    try:
        return irt.load(path)
    except FileNotFoundError:
        raise InputError(f"no saved model at {path} (`latentvi fit` writes {MODEL_FILE} into "
                         f"its output folder)") from None


# -- demo --------------------------------------------------------------------------------------
def run_demo(args):
    import pandas as pd

    from latentvi import irt
    from latentvi.datasets.lsat7 import load_lsat7
    data = load_lsat7()
    model = irt.ItemFactorModel(n_factors=1, item_type="binary", seed=args.seed)
    start = time.perf_counter()
    model.fit(data, verbose=0, callbacks=None if args.quiet else [
        _progress("LSAT7 (1,000 persons x 5 items)")])
    seconds = time.perf_counter() - start
    table = model.items_.copy()
    table["a1 (mirt)"] = MIRT_LSAT7["a1"]
    table["d (mirt)"] = MIRT_LSAT7["d"]
    loglik = model.log_likelihood(data)
    print("LSAT7, 2PL (Bock & Lieberman 1970): latentvi beside mirt's marginal ML estimates\n")
    print(table[["a1", "a1 (mirt)", "d", "d (mirt)"]].round(3).to_string())
    print(pd.Series({"log-likelihood (latentvi)": round(loglik, 3),
                     "log-likelihood (mirt)": MIRT_LSAT7_LOGLIK,
                     "fit seconds": round(seconds, 1)}).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
