"""Command line: `latentvi fit`, `latentvi score`, `latentvi info` and `latentvi demo`.

    latentvi fit survey.csv --id-column id --drop age,sex --missing-codes -9 --seed 1
    latentvi info survey_irt/model.lvirt
    latentvi score survey_irt/model.lvirt new.csv --id-column id --out new_scores.csv
    latentvi demo

`fit` reads a persons x items table (CSV, TSV, Parquet or Excel, by file suffix), fits an
`irt.ItemFactorModel` to its item columns and writes model.lvirt, items.csv, scores.csv,
fit.json (log-likelihood with its Monte Carlo SE, AIC, BIC, persons read and dropped, settings,
versions), factor_corr.csv (D > 1), history.csv and PNG plots into the output folder, and with
--report a self-contained report.html.

`score` scores new respondents with a saved model; `info` prints what a saved model holds.

A mistake in the input ends the command with exit code 2 and one line on stderr, phrased in the
command's flags.
"""

import argparse
import math
import os
import pathlib
import re
import shlex
import sys

from latentvi import __version__
from latentvi.cli.demo import MIRT_LSAT7 as MIRT_LSAT7
from latentvi.cli.demo import MIRT_LSAT7_SE as MIRT_LSAT7_SE
from latentvi.cli.demo import run_demo
from latentvi.cli.fit import criteria_line as criteria_line
from latentvi.cli.fit import fit_summary as fit_summary
from latentvi.cli.fit import run_fit
from latentvi.cli.messages import InputError, in_flags
from latentvi.cli.reading import ITEM_TYPES, read_responses, read_table
from latentvi.cli.saved import MODEL_FILE, run_info, run_score

__all__ = ["MIRT_LSAT7", "MIRT_LSAT7_SE", "criteria_line", "fit_summary", "in_flags", "main",
           "parse_codes", "read_responses", "read_table"]

EXIT_USAGE = 2
# A fixed number of passes beyond this is a typo (the convergence rule's default budget is
# 20,000 steps); without --epochs the fit runs until it converges.
MAX_EPOCHS = 100_000
MAX_SEED = 2**32 - 1  # NumPy's and Keras' seeds are 32-bit


def main(argv=None):
    """Runs the command line; returns the exit code (0 success, 2 bad input).

    Output cut short by its reader (`latentvi info model.lvirt | head -3`) ends quietly with 0.
    """
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        _silence_stdout()
        return 0


def _run(argv):
    parser = _parser()
    try:
        args = parser.parse_args(_attach_negative_values(argv))
    except SystemExit as stop:  # argparse has printed its message
        return int(stop.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    args.command_line = shlex.join(["latentvi", *argv])  # as typed, for the HTML report
    try:
        code = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
        return code
    except (InputError, ValueError, TypeError) as error:
        print(f"latentvi: error: {in_flags(error)}", file=sys.stderr)
        return EXIT_USAGE


def _silence_stdout():
    """Points the standard output at devnull: Python flushes it again at exit, and the closed
    pipe would raise once more there."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file: nothing flushes it at exit
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


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
    demo.add_argument("--seed", type=_whole(0, MAX_SEED), default=0,
                      help="integer seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=run_demo)
    return parser


def _fit_parser(commands):
    fit = commands.add_parser("fit", help="fit an item factor model to a response table",
                              description=" ".join(__doc__.split("\n\n")[2].split()))
    fit.add_argument("data", type=pathlib.Path,
                     help="persons x items table: .csv, .tsv, .txt, .parquet or .xlsx; or a "
                          "folder or glob ('exports/*.parquet') of files read as a stream")
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
    fit.add_argument("--max-categories", type=_whole(2), metavar="N",
                     help="columns with more distinct answers are refused as not items "
                          "(default 20)")
    fit.add_argument("--factors", type=_whole(1),
                     help="number of factors (default: the pattern's factor columns, else 1)")
    fit.add_argument("--item-type", choices=ITEM_TYPES, default="binary",
                     help="binary (2PL) or graded (ordered categories); default binary")
    fit.add_argument("--rotation", choices=("oblimin", "geomin", "varimax", "none"),
                     default="oblimin", help="rotation of an exploratory model (default oblimin)")
    fit.add_argument("--pattern", type=pathlib.Path,
                     help="confirmatory: CSV items x factors of 0/1, first column the item")
    _training_options(fit)
    fit.add_argument("--out", type=pathlib.Path, help="output folder (default: <data>_irt/)")
    fit.add_argument("--force", action="store_true", help="write into an existing output folder")
    fit.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    fit.add_argument("--report", action="store_true",
                     help="also write report.html: one self-contained HTML page with the data "
                          "summary, convergence, items, fit, curves and scores")
    fit.add_argument("--quiet", action="store_true", help="no progress, notes or summary")
    fit.add_argument("--stream", action="store_true",
                     help="read the data (.parquet or .csv) in row batches instead of all at "
                          "once, for data beyond memory; a folder or a glob is always streamed "
                          "(writes scores.parquet, no items_se.csv)")
    fit.add_argument("--checkpoint", type=pathlib.Path, metavar="DIR",
                     help="save the fit's state in DIR after every check; the same command run "
                          "again after a crash or a kill resumes from there")
    fit.set_defaults(run=run_fit)


def _training_options(fit):
    fit.add_argument("--epochs", type=_whole(1, MAX_EPOCHS),
                     help="a fixed number of passes over the data, at most 100,000 (default: "
                          "until converged)")
    fit.add_argument("--max-steps", type=_whole(1),
                     help="most steps before the fit stops unconverged (default 20,000)")
    fit.add_argument("--tol", type=_positive_number,
                     help="converged when the bound gains less than this, in nats per person, "
                          "over a few checks (default 0.002)")
    fit.add_argument("--batch-size", type=_whole(1), help="persons per step (default: from n)")
    fit.add_argument("--iw-samples", type=_whole(1),
                     help="importance samples per person in the bound (default: 5..50, "
                          "chosen from the data size)")
    fit.add_argument("--loglik-samples", type=_whole(1), default=None,
                     help="importance samples per person for the reported log-likelihood when "
                          "it is not computed by quadrature (default: 5000, fewer for large "
                          "data, at least 200)")
    fit.add_argument("--seed", type=_whole(0, MAX_SEED),
                     help="integer seed: the same seed, data and versions give the same files")


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
    score.add_argument("--stream", action="store_true",
                       help="read the data (.parquet or .csv) in row batches and write the "
                            "scores chunk by chunk to Parquet (default <data>_scores.parquet); "
                            "a folder or a glob is always read so")
    score.set_defaults(run=run_score)


def _input_options(command):
    command.add_argument("--id-column", metavar="COL",
                         help="column holding the person id: not an item, the index of every "
                              "output (an unnamed first column is taken as the id)")
    command.add_argument("--index-col", dest="id_column", help=argparse.SUPPRESS)
    command.add_argument("--sep", type=_separator,
                         help="field separator of a text file: one character or 'tab' "
                              "(default: from the suffix; ';', tab or '|' are detected)")


def _whole(low, high=None):
    """An argparse type: a whole number from `low` to `high` (None: no limit)."""
    def whole_number(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            limit = f"from {low} to {high:,}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"expected a whole number {limit}; got {text!r}")
        return value
    return whole_number


def _positive_number(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0 such as 0.002; got {text!r}")
    return value


def _separator(text):
    """One character; 'tab' or a typed backslash-t stand for the tab."""
    if text in ("tab", "\\t"):
        return "\t"
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"expected one character such as ';' or '|', or tab; "
                                         f"got {text!r}")
    return text


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
