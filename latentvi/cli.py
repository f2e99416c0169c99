"""Command line: `latentvi fit responses.csv ...` and `latentvi demo`.

    latentvi fit responses.csv --factors 3 --items graded --out results/
    latentvi demo

`fit` reads a persons x items table (CSV, TSV, Parquet or Excel, by file suffix), fits an
`irt.ItemFactorModel` and writes items.csv, scores.csv, fit.json (log-likelihood, AIC, BIC,
settings, versions), factor_corr.csv (D > 1), history.csv and PNG plots into the output folder.
A mistake in the input ends the command with exit code 2 and one line on stderr.
"""

import argparse
import importlib.util
import json
import pathlib
import platform
import sys
import time

__all__ = ["main", "read_table"]

EXIT_USAGE = 2

# mirt 2PL on LSAT7 (the bundled data's README; Bock & Lieberman 1970).
MIRT_LSAT7 = {"a1": [0.988, 1.081, 1.706, 0.765, 0.736], "d": [1.856, 0.808, 1.804, 0.486, 1.855]}
MIRT_LSAT7_LOGLIK = -2658.805

_READERS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "text", ".parquet": "parquet",
            ".pq": "parquet", ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel"}


class InputError(ValueError):
    """A problem with the user's files or options: reported in one line, exit code 2."""


def main(argv=None):
    """Runs the command line; returns the exit code (0 success, 2 bad input)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse has printed its message
        return int(stop.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except (InputError, ValueError, TypeError) as error:
        message = " ".join(str(error).split())
        print(f"latentvi: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def _parser():
    parser = argparse.ArgumentParser(
        prog="latentvi", description="Item factor analysis by amortized variational inference.")
    commands = parser.add_subparsers(dest="command")
    fit = commands.add_parser("fit", help="fit an item factor model to a response table",
                              description=__doc__.split("\n\n")[2].replace("\n", " "))
    fit.add_argument("data", type=pathlib.Path,
                     help="persons x items table: .csv, .tsv, .txt, .parquet or .xlsx")
    fit.add_argument("--factors", type=int, default=1, help="number of factors (default 1)")
    fit.add_argument("--items", choices=("binary", "graded"), default="binary",
                     help="item type: binary (2PL) or graded (ordered categories)")
    fit.add_argument("--rotation", choices=("oblimin", "geomin", "varimax", "none"),
                     default="oblimin", help="rotation of an exploratory model (default oblimin)")
    fit.add_argument("--pattern", type=pathlib.Path,
                     help="confirmatory: CSV items x factors of 0/1, first column the item")
    fit.add_argument("--epochs", type=int, help="passes over the data (default: from n)")
    fit.add_argument("--batch-size", type=int, help="persons per step (default: from n)")
    fit.add_argument("--iw-samples", type=int,
                     help="importance samples per person in the bound (default: 5..50, "
                          "chosen from the data size)")
    fit.add_argument("--loglik-samples", type=int, default=5000,
                     help="importance samples for the reported log-likelihood (default 5000)")
    fit.add_argument("--seed", type=int, help="integer seed (reproducible results)")
    fit.add_argument("--index-col", help="column holding the person id (not an item)")
    fit.add_argument("--sep", help="field separator of a text file (default: from the suffix)")
    fit.add_argument("--out", type=pathlib.Path, help="output folder (default: <data>_irt/)")
    fit.add_argument("--force", action="store_true", help="write into an existing output folder")
    fit.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    fit.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    fit.set_defaults(run=run_fit)
    demo = commands.add_parser("demo", help="fit LSAT7 and compare with mirt's estimates")
    demo.add_argument("--seed", type=int, default=0, help="integer seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=run_demo)
    return parser


# -- fit ---------------------------------------------------------------------------------------
def run_fit(args):
    data = read_table(args.data, index_col=args.index_col, sep=args.sep)
    pattern = _read_pattern(args.pattern, args.factors) if args.pattern else None
    out = _output_folder(args.out or args.data.with_name(f"{args.data.stem}_irt"), args.force)
    from latentvi import irt
    model = irt.ItemFactorModel(
        n_factors=args.factors, item_type=args.items, pattern=pattern,
        rotation=None if args.rotation == "none" else args.rotation,
        iw_samples=args.iw_samples, seed=args.seed)
    seconds = _fit(model, data, args.epochs, args.batch_size, args.quiet,
                   f"{len(data):,} persons x {data.shape[1]} items")
    criteria = model.information_criteria(data, num_samples=args.loglik_samples)
    out.mkdir(parents=True, exist_ok=True)
    model.items_.to_csv(out / "items.csv")
    model.score(data).to_csv(out / "scores.csv")
    model.history_.to_csv(out / "history.csv", index=False)
    if args.factors > 1:
        model.factor_corr_.to_csv(out / "factor_corr.csv")
    summary = fit_summary(model, criteria, data, args, seconds)
    (out / "fit.json").write_text(json.dumps(summary, indent=2) + "\n")
    if not args.no_plots:
        save_plots(model, out)
    if not args.quiet:
        print(model.items_.round(3).to_string())
        print(f"\nlog-likelihood {criteria['loglik']:.3f}  AIC {criteria['AIC']:.2f}  "
              f"BIC {criteria['BIC']:.2f}  ({seconds:.1f} s)\nwrote {out}/")
    return 0


def read_table(path, index_col=None, sep=None):
    """Reads a persons x items table with pandas, choosing the reader from the file suffix.

    Raises:
      InputError: missing file, unknown suffix, missing optional reader (pyarrow, openpyxl),
        unreadable or empty table, unknown index column.
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
            default = {"csv": ",", "tsv": "\t", "text": None}[kind]
            separator = sep if sep is not None else default
            table = pd.read_csv(path, sep=separator,
                                engine="python" if separator is None else "c")
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001 (pandas raises many types for unreadable files)
        raise InputError(f"cannot read {path.name}: {error}") from None
    if index_col is not None:
        if index_col not in table.columns:
            raise InputError(f"index column {index_col!r} not found in {path.name}; columns "
                             f"are {list(table.columns)[:10]}")
        table = table.set_index(index_col)
    if table.empty:
        raise InputError(f"{path.name} has no rows or no item columns")
    return table


def _require(modules, action, package):
    if not any(importlib.util.find_spec(name) for name in modules):
        raise InputError(f"{action} needs the optional package {package}: pip install {package}")


def _read_pattern(path, n_factors):
    import pandas as pd
    pattern = read_table(path)
    pattern = pattern.set_index(pattern.columns[0])
    if pattern.shape[1] != n_factors:
        raise InputError(f"pattern {path.name} has {pattern.shape[1]} factor columns but "
                         f"--factors is {n_factors}")
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


def _fit(model, data, epochs, batch_size, quiet, what):
    """Fits with one progress bar on stderr (unless quiet); returns the wall time in seconds."""
    start = time.perf_counter()
    model.fit(data, epochs=epochs, batch_size=batch_size, verbose=0,
              callbacks=None if quiet else [_progress(what)])
    return time.perf_counter() - start


def _progress(what):
    """A callback drawing one Keras progress bar over the epochs (Keras's own verbose=1 draws
    a bar per epoch). Keras is imported here so that `latentvi --help` stays fast."""
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


def fit_summary(model, criteria, data, args, seconds):
    """The fit.json content: fit statistics, settings and versions."""
    return {
        "loglik": float(criteria["loglik"]), "n_params": int(criteria["n_params"]),
        "AIC": float(criteria["AIC"]), "BIC": float(criteria["BIC"]),
        "n_persons": len(data), "n_items": int(data.shape[1]),
        "fit_seconds": round(seconds, 2), "epochs": len(model.history_),
        "converged": model.converged_,
        "final_bound": float(model.history_["bound"].iloc[-1]),
        "settings": {"data": str(args.data), "factors": args.factors, "items": args.items,
                     "rotation": args.rotation, "pattern": str(args.pattern or ""),
                     **model.settings_,
                     "loglik_samples": args.loglik_samples,
                     "seed": args.seed},
        "category_map": {str(item): {str(value): int(code) for value, code in mapping.items()}
                         for item, mapping in model.category_map_.items()},
        "versions": versions(),
    }


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


# -- demo --------------------------------------------------------------------------------------
def run_demo(args):
    import pandas as pd

    from latentvi import irt
    from latentvi.datasets.lsat7 import load_lsat7
    data = load_lsat7()
    model = irt.ItemFactorModel(n_factors=1, item_type="binary", seed=args.seed)
    seconds = _fit(model, data, None, None, args.quiet, "LSAT7 (1,000 persons x 5 items)")
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
