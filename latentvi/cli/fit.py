"""`latentvi fit`: a response table in, a folder of results out.

The folder holds model.lvirt, items.csv, items_se.csv (the items' standard errors, where the
model has them: up to 3 factors, confirmatory or one factor), scores.csv, history.csv,
factor_corr.csv (D > 1), fit.json (`fit_summary`), the PNG plots (`save_plots`) and, with
--report, report.html (`latentvi.irt.report`).
"""

import json
import math
import pathlib
import time

from latentvi._files import staged_folder
from latentvi._versions import versions
from latentvi.cli.messages import InputError, notes, progress, reported_warnings
from latentvi.cli.reading import (
    default_out,
    many_files,
    not_items_message,
    read_pattern,
    read_responses,
    select_items,
)
from latentvi.cli.saved import MODEL_FILE
from latentvi.estimate import decimals_for

__all__ = [
    "criteria_line",
    "fit_summary",
    "persons_line",
    "run_fit",
    "save_plots",
]

# fit.json lists the labels of at most this many dropped persons (n_dropped counts them all): a
# million-row export with a blank block would otherwise write a million labels.
DROPPED_LISTED = 100
REPORT_FILE = "report.html"
# Every file a fit may write: a rerun with --force removes those it does not write again.
RESULT_FILES = (MODEL_FILE, "items.csv", "items_se.csv", "scores.csv", "scores.parquet",
                "history.csv", "factor_corr.csv", "fit.json", "item_curves.png",
                "information.png", "loadings.png", REPORT_FILE)


def run_fit(args):
    """Fits the model `args` describe and writes its files; returns the exit code."""
    note = notes(args.quiet)
    streamed = bool(getattr(args, "stream", False)) or many_files(args.data)
    if streamed:
        data, items, shape = _open_stream(args)
    else:
        data = read_responses(args.data, args.id_column, args.sep, note)
        data, items = select_items(data, args.items, args.drop, args.data.name)
        shape = data.shape
    n_factors, pattern = _factors_and_pattern(args.factors, args.pattern)
    out = _output_folder(args.out or default_out(args.data, "_irt"), args.force)
    from latentvi import irt
    options = {name: value for name, value in (("items", items),
                                                ("missing_codes", args.missing_codes),
                                                ("max_categories", args.max_categories))
               if value is not None}
    model = irt.ItemFactorModel(
        n_factors=n_factors, item_type=args.item_type, pattern=pattern,
        rotation=None if args.rotation == "none" else args.rotation,
        iw_samples=args.iw_samples, seed=args.seed, **options)
    what = (f"{shape[0]:,} persons x {shape[1]} items" if shape[0] is not None
            else f"{args.data.name} ({shape[1]} items, streamed)")
    try:
        with reported_warnings():
            seconds = _fit(model, data, args, what)
            criteria = model.information_criteria(data, num_samples=args.loglik_samples)
            summary = fit_summary(model, criteria, data, args, seconds)
            _write(model, data, summary, out, args, criteria)
    except irt.SuspiciousColumns as error:
        raise InputError(not_items_message(error.columns, args.data.name)) from None
    if not args.quiet:
        print(model.items_.round(3).to_string())
        print(f"\n{criteria_line(criteria)}  ({seconds:.1f} s)\n{persons_line(summary)}\n"
              f"wrote {out}/")
    return 0


def _open_stream(args):
    """(the `ResponseFiles`, the item columns or None, (None, number of items)) of --stream."""
    import pandas as pd

    from latentvi.irt import streaming
    try:
        files = streaming.open_files(args.data, sep=args.sep, id_column=args.id_column)
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    columns = [column for column in files.columns if column != files.id_column]
    _, items = select_items(pd.DataFrame(columns=columns), args.items, args.drop,
                            args.data.name)
    return files, items, (None, len(items or columns))


def _write(model, data, summary, out, args, criteria):
    """Writes every result into a temporary folder, then moves them into `out` together:
    a failure (or a kill) on the way leaves `out` as it was (`latentvi._files.staged_folder`)."""
    with staged_folder(out, replaced=RESULT_FILES) as staging:
        _write_results(model, data, summary, staging, args, criteria)


def _write_results(model, data, summary, out, args, criteria):
    from latentvi.irt import streaming
    streamed = streaming.is_file_source(data)
    model.save(out / MODEL_FILE)
    model.items_.to_csv(out / "items.csv")
    errors = (model.standard_errors(data) if _has_standard_errors(model) and not streamed
              else None)
    if errors is not None:
        errors.items.to_csv(out / "items_se.csv")
    if streamed:
        model.score(data, out=out / "scores.parquet", verbose=0 if args.quiet else 1)
    else:
        model.score(data).to_csv(out / "scores.csv")
    model.history_.to_csv(out / "history.csv", index=False)
    if model.n_factors > 1:
        model.factor_corr_.to_csv(out / "factor_corr.csv")
    (out / "fit.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if not args.no_plots:
        save_plots(model, out)
    if args.report:
        from latentvi import irt
        irt.report(model, data, out / REPORT_FILE,
                   command=getattr(args, "command_line", None), criteria=criteria,
                   standard_errors=errors)


def _has_standard_errors(model):
    """Every model but an unrotated exploratory one with several factors, whose slopes are
    identified only up to a rotation."""
    return model.n_factors == 1 or model.pattern is not None or model.rotation is not None


def _factors_and_pattern(factors, path):
    """The number of factors (--factors, else the pattern's factor columns, else 1), pattern."""
    if path is None:
        return (1 if factors is None else factors), None
    pattern = read_pattern(path)
    if factors is not None and pattern.shape[1] != factors:
        raise InputError(f"pattern {path.name} has {pattern.shape[1]} factor columns but "
                         f"--factors is {factors}")
    return pattern.shape[1], pattern


def _output_folder(out, force):
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(f"output folder {out} already exists and is not empty; "
                         f"use --force to overwrite its files")
    return out


def _fit(model, data, args, what):
    """Fits with one status line on stderr (unless quiet); returns the wall time in seconds."""
    start = time.perf_counter()
    model.fit(data, epochs=args.epochs, batch_size=args.batch_size, verbose=0,
              max_steps=args.max_steps, tol=args.tol, callbacks=progress(what, args.quiet),
              checkpoint_dir=getattr(args, "checkpoint", None))
    return time.perf_counter() - start


def fit_summary(model, criteria, data, args, seconds):
    """The fit.json content: fit statistics, persons read and dropped, settings and versions.

    `dropped_persons` lists the first `DROPPED_LISTED` labels of the persons dropped;
    `n_dropped` counts them all.
    """
    import pandas as pd
    dropped = getattr(model, "dropped_persons_", pd.Index([]))
    n_dropped = int(getattr(model, "n_dropped_", len(dropped)))  # a stream lists the first
    loglik_se = float(criteria.get("loglik_se", math.nan))
    return {
        "loglik": float(criteria["loglik"]),
        "loglik_se": loglik_se if math.isfinite(loglik_se) else None,
        "n_params": int(criteria["n_params"]),
        "AIC": float(criteria["AIC"]), "BIC": float(criteria["BIC"]),
        "n_persons_read": int(model.n_persons_ + n_dropped),
        "n_persons": int(model.n_persons_), "n_dropped": n_dropped,
        "dropped_reason": "answered none of the items" if len(dropped) else None,
        "dropped_persons": [_plain(label) for label in dropped[:DROPPED_LISTED]],
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


def criteria_line(criteria):
    """'log-likelihood -2658.8 (Monte Carlo SE 0.09)  AIC 5337.6  BIC 5386.7', rounded to the
    precision the Monte Carlo SE supports (that of AIC and BIC is twice the loglik's)."""
    se = float(criteria.get("loglik_se", math.nan))
    loglik, aic, bic = (float(criteria[key]) for key in ("loglik", "AIC", "BIC"))
    d, d2 = decimals_for(se, most=3), decimals_for(2 * se, most=2)
    shown = f" (Monte Carlo SE {se:.2g})" if math.isfinite(se) and se > 0 else ""
    if se == 0:
        shown = " (exact, by quadrature)"
    return f"log-likelihood {loglik:.{d}f}{shown}  AIC {aic:.{d2}f}  BIC {bic:.{d2}f}"


def persons_line(summary):
    """'persons: 300 read, 299 fitted, 1 dropped (answered none of the items)'."""
    line = f"persons: {summary['n_persons_read']:,} read, {summary['n_persons']:,} fitted"
    if summary["n_dropped"]:
        line += f", {summary['n_dropped']:,} dropped ({summary['dropped_reason']})"
    return line


def save_plots(model, out):
    """item_curves.png, information.png and loadings.png in `out`."""
    from latentvi.plotting import irt as plots
    figures = {"item_curves.png": plots.item_curves(model),
               "information.png": plots.information_curves(model),
               "loadings.png": plots.loadings_heatmap(model)}
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=100)
