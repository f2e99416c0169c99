"""One self-contained HTML file that reports a fitted item factor model.

    >>> irt.report(model, data, "report.html")          # or: latentvi fit ... --report

The file needs nothing but a browser: its figures are PNG images embedded as base64 data URIs
(drawn by `latentvi.plotting` and rendered in memory by matplotlib's Agg backend), its style
sheet is inline, it runs no script and links to nothing outside itself. Its sections, each an
element with a stable id:

  summary              persons, items, answers per category, missing answers, the fit settings,
                       the versions and (from the command line) the command
  convergence          the training curve (`model.history_`)
  items                the item table (`items_`, id 'items-table': every number cell carries
                       its full-precision value in `data-value`) beside its standard errors
  factor-correlations  `factor_corr_` (more than one factor)
  fit                  M2 / C2 (`fit_statistics`), log-likelihood and information criteria,
                       item fit (`item_fit`)
  curves               item curves, test information (and loadings beyond one factor)
  scores               the distribution of the EAP scores (`score`)

The report computes nothing of its own: `collect` asks the model for its results (keeping what
could not be computed as a message, and the warnings given on the way), `render` writes them
as HTML, `report` does both and writes the file atomically.
"""

import base64
import datetime
import html
import io
import math
import numbers
import pathlib
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from latentvi._files import atomic_write
from latentvi._versions import versions
from latentvi.irt import streaming
from latentvi.irt.responses import answered, apply_category_map

__all__ = ["SECTIONS", "Outcome", "ReportInputs", "collect", "render", "report"]

SECTIONS = ("summary", "convergence", "items", "factor-correlations", "fit", "curves", "scores")
DIGITS = 3
SAMPLE_SCORES = 100_000  # persons whose scores a report on files shows (a random sample)
DPI = 100


class Outcome(NamedTuple):
    """A result the model was asked for: its value, or the message of the ValueError that
    stopped it (value None), and the warnings it gave."""
    value: Any
    error: str | None = None
    warnings: tuple[str, ...] = ()


class ReportInputs(NamedTuple):
    """Everything a report shows, as the package's own results (DataFrames, named tuples)."""
    title: str
    data: pd.DataFrame           # per item: answers per category, n answered, share missing
    missing_overall: float
    n_rows: int
    settings: dict               # name -> value, in display order
    versions: dict
    command: str | None
    history: pd.DataFrame
    items: pd.DataFrame
    standard_errors: Outcome     # StandardErrors or the reason there are none
    factor_corr: pd.DataFrame | None
    fit_statistics: Outcome      # FitStatistics
    criteria: pd.Series
    item_fit: Outcome            # DataFrame
    scores: pd.DataFrame
    figures: tuple[tuple[str, Figure], ...]   # (caption, figure) of the curves section
    scores_note: str | None = None             # whose scores they are, if not everyone's


def report(model, data, path, *, overwrite=False, command=None, criteria=None,
           standard_errors=None, title=None):
    """Writes the HTML report of a fitted `ItemFactorModel` to `path`; returns the path.

    Args:
      model: the fitted model.
      data: the DataFrame it was fitted to, or its files (a path, glob, folder, list or
        `irt.open_files(...)`: answer counts from one pass, scores of a random sample of
        SAMPLE_SCORES persons, no standard errors or fit statistics).
      path: the HTML file to write.
      overwrite: replace an existing file (else FileExistsError).
      command: the command line that made the fit, shown in the summary (the CLI passes it).
      criteria, standard_errors: `information_criteria(data)` and `standard_errors(data)`
        when already computed (the CLI's), else the report asks the model.
      title: the page title (default: 'Item factor model: <persons> x <items>').

    Raises:
      FileExistsError: `path` exists and `overwrite` is False.
    """
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    model._check_fitted()
    model._single_group("report")
    inputs = collect(model, data, command=command, criteria=criteria,
                     standard_errors=standard_errors, title=title)
    atomic_write(path, render(inputs))
    return path


# -- collecting the model's results -----------------------------------------------------------
def collect(model, data, *, command=None, criteria=None, standard_errors=None, title=None):
    """The `ReportInputs` of a fitted model and its data (asks the model; computes nothing).

    `data` may name files (`latentvi.irt.streaming`): the answer counts then come from one
    pass over them, the criteria from the chunks, and the score distribution from a random
    sample of SAMPLE_SCORES persons; standard errors and fit statistics, which need every
    answer at once, say so instead.
    """
    if streaming.is_file_source(data):
        return _collect_files(model, data, command, criteria, title)
    responses = apply_category_map(data, model.category_map_, missing_codes=model.missing_codes,
                                   ignore_extra=True)
    counts = answer_counts(responses)
    n_rows, n_items = responses.answers.shape
    return ReportInputs(
        title=title or f"Item factor model: {n_rows:,} persons x {n_items} items",
        data=counts, missing_overall=float(1.0 - np.mean(answered(responses.answers))),
        n_rows=n_rows,
        settings=fit_settings(model), versions=versions(), command=command,
        history=model.history_, items=model.items_,
        standard_errors=(Outcome(standard_errors) if standard_errors is not None
                         else _attempt(model.standard_errors, data)),
        factor_corr=model.factor_corr_ if model.n_factors > 1 else None,
        fit_statistics=_attempt(model.fit_statistics, data),
        criteria=criteria if criteria is not None else model.information_criteria(data),
        item_fit=_attempt(model.item_fit, data),
        scores=model.score(data),
        figures=curve_figures(model))


def _collect_files(model, source, command, criteria, title):
    files = streaming.open_files(source)
    items = list(model.category_map_)
    counts, rows = None, 0
    for chunk in streaming.chunks(files, items):
        table = answer_counts(apply_category_map(chunk, model.category_map_,
                                                 missing_codes=model.missing_codes))
        table = table.drop(columns="missing")  # a share: it does not add over chunks
        counts = table if counts is None else counts + table  # NA where an item lacks it
        rows += len(chunk)
    counts["missing"] = 1.0 - counts["answered"].astype(float) / rows
    answered = int(counts["answered"].sum())
    sample = streaming.read_sample(files, items, SAMPLE_SCORES, seed=0)
    not_on_files = Outcome(None, f"not computed for data read from files ({files}): it needs "
                                 f"every answer in memory; compute it on a sample")
    return ReportInputs(
        title=title or f"Item factor model: {rows:,} persons x {len(items)} items",
        data=counts, missing_overall=1.0 - answered / (rows * len(items)), n_rows=rows,
        settings=fit_settings(model), versions=versions(), command=command,
        history=model.history_, items=model.items_, standard_errors=not_on_files,
        factor_corr=model.factor_corr_ if model.n_factors > 1 else None,
        fit_statistics=not_on_files,
        criteria=criteria if criteria is not None else model.information_criteria(files),
        item_fit=not_on_files, scores=model.score(sample), figures=curve_figures(model),
        scores_note=f"a random sample of {len(sample):,} of the {rows:,} persons")


def answer_counts(responses):
    """DataFrame per item: the number of each observed answer (columns: the answers, in code
    order), 'answered' and 'missing' (the share of rows without an answer)."""
    columns, rows = [], {}
    for j, item in enumerate(responses.items):
        answers = responses.answers[:, j]
        observed = answered(answers)
        codes = answers[observed].astype(int)
        row = {}
        for value, code in sorted(responses.category_map[item].items(), key=lambda vc: vc[1]):
            label = _label(value)
            columns += [label] if label not in columns else []
            row[label] = int(np.sum(codes == code))
        row["answered"] = int(observed.sum())
        row["missing"] = float(1.0 - observed.mean()) if len(observed) else math.nan
        rows[item] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table = table[columns + ["answered", "missing"]]
    table[columns] = table[columns].astype("Int64")  # blank where an item lacks the answer
    table.index.name = "item"
    return table


def fit_settings(model):
    """The model's settings and what the fit did, name -> value, in display order."""
    types = pd.Series(model.item_types_).value_counts()
    confirmatory = model.pattern is not None
    settings = {
        "factors": model.n_factors,
        "item types": ", ".join(f"{name} ({count})" for name, count in types.items()),
        "model": "confirmatory (pattern)" if confirmatory else "exploratory",
        "rotation": "none (confirmatory)" if confirmatory else
        "none (one factor)" if model.n_factors == 1 else _label(model.rotation),
        "seed": model.seed,
        "persons fitted": model.n_persons_,
        "persons dropped (no answer)": len(model.dropped_persons_),
        "epochs (checks) run": len(model.history_),
        "converged": model.converged_,
    }
    settings.update({f"fit {name}": value for name, value in model.settings_.items()})
    return settings


def curve_figures(model):
    """(caption, Figure) of the package's item curves, test information and, beyond one
    factor, loadings plots."""
    from latentvi.plotting import irt as plots
    figures = [("Item characteristic (category) curves", plots.item_curves(model)),
               ("Test information and its standard error", plots.information_curves(model))]
    if model.n_factors > 1:
        figures.append(("Standardized loadings", plots.loadings_heatmap(model)))
    return tuple(figures)


def _attempt(method, data):
    """Outcome of method(data): a ValueError becomes the message, warnings are kept."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value, error = method(data), None
        except ValueError as raised:
            value, error = None, str(raised)
    return Outcome(value, error, tuple(dict.fromkeys(str(w.message) for w in caught)))


# -- rendering ----------------------------------------------------------------------------------
def render(inputs):
    """The report's HTML text."""
    sections = [_summary(inputs), _convergence(inputs), _items(inputs)]
    if inputs.factor_corr is not None:
        sections.append(_section("factor-correlations", "Factor correlations",
                                 _table(inputs.factor_corr)))
    sections += [_fit(inputs), _curves(inputs), _scores(inputs)]
    shown = [name for name in SECTIONS if inputs.factor_corr is not None
             or name != "factor-correlations"]
    contents = " &middot; ".join(f'<a href="#{name}">{name.replace("-", " ")}</a>'
                                 for name in shown)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_text(inputs.title)}</title>\n<link rel=\"icon\" href=\"data:,\">\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{_text(inputs.title)}</h1>\n"
            f"<nav>{contents}</nav>\n" + "\n".join(sections) + "\n</body>\n</html>\n")


def _summary(inputs):
    created = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    facts = {"persons (rows)": inputs.n_rows, "items": len(inputs.data),
             "missing answers": f"{inputs.missing_overall:.1%}", **inputs.settings}
    body = [_definitions(facts), "<h3>Answers per item</h3>",
            _table(inputs.data, formats={"missing": "{:.1%}"}, table_id="data-table")]
    if inputs.command:
        body.append(f"<h3>Command</h3>\n<pre id=\"command\">{_text(inputs.command)}</pre>")
    body += ["<h3>Versions</h3>", _definitions(inputs.versions),
             f"<p class=\"note\">Written {_text(created)}.</p>"]
    return _section("summary", "Data and settings", "\n".join(body))


def _convergence(inputs):
    figure = history_figure(inputs.history)
    last = inputs.history.iloc[-1]
    note = (f"{len(inputs.history)} epochs; final bound {last['bound']:.4f} nats per person "
            f"(the bound is evaluated on a minibatch each step; monitor_bound, where present, "
            f"on fixed persons and draws at each check).")
    return _section("convergence", "Convergence",
                    _figure(figure, "Training curve: the bound per epoch") + _paragraph(note))


def history_figure(history):
    """The bound (and the monitored bound, when the convergence rule ran) per epoch."""
    ax = Figure(figsize=(6.5, 3.8), layout="constrained").add_subplot()
    ax.plot(history["epoch"], history["bound"], marker="o", markersize=3, label="bound")
    if "monitor_bound" in history and history["monitor_bound"].notna().any():
        ax.plot(history["epoch"], history["monitor_bound"], marker="o", markersize=3,
                label="monitor_bound")
    ax.set_xlabel("epoch (a check of 128 steps under the convergence rule)")
    ax.set_ylabel("bound (nats per person)")
    ax.set_title("Training curve")
    ax.legend()
    return ax.figure


def _items(inputs):
    tables = [f"<div><h3>Parameters</h3>{_table(inputs.items, table_id='items-table')}</div>"]
    errors = inputs.standard_errors
    if errors.value is not None:
        tables.append(f"<div><h3>Standard errors ({_text(errors.value.method)})</h3>"
                      f"{_table(errors.value.items, table_id='items-se-table')}</div>")
    body = f"<div class=\"side-by-side\">{''.join(tables)}</div>"
    if errors.error is not None:
        body += _paragraph(f"No standard errors: {errors.error}", "note")
    body += _warnings(errors.warnings)
    return _section("items", "Item parameters", body)


def _fit(inputs):
    body = ["<h3>Log-likelihood and information criteria</h3>",
            _table(_counts_as_integers(inputs.criteria).to_frame("value"),
                   table_id="criteria-table"),
            "<h3>Limited-information fit</h3>"]
    statistics = inputs.fit_statistics
    if statistics.value is not None:
        row = statistics.value.to_series()
        body.append(_table(row.drop("statistic").to_frame(str(row["statistic"])),
                           table_id="fit-statistics-table"))
    else:
        body.append(_paragraph(f"Not available: {statistics.error}", "note"))
    body += [_warnings(statistics.warnings), "<h3>Item fit</h3>"]
    item_fit = inputs.item_fit
    body.append(_table(item_fit.value, table_id="item-fit-table") if item_fit.value is not None
                else _paragraph(f"Not available: {item_fit.error}", "note"))
    body.append(_warnings(item_fit.warnings))
    return _section("fit", "Model fit", "\n".join(body))


def _counts_as_integers(criteria):
    """The criteria with n_params shown as the integer it is."""
    shown = criteria.astype(object)
    if "n_params" in shown:
        shown["n_params"] = int(shown["n_params"])
    return shown


def _curves(inputs):
    return _section("curves", "Item curves and information",
                    "\n".join(_figure(figure, caption) for caption, figure in inputs.figures))


def _scores(inputs):
    factors = [c for c in inputs.scores.columns if not str(c).startswith("SE_")]
    caption = "Distribution of the EAP scores" + (
        f" ({inputs.scores_note})" if inputs.scores_note else "")
    body = _figure(scores_figure(inputs.scores[factors]), caption)
    body += _table(inputs.scores.describe().T, table_id="scores-table")
    return _section("scores", "EAP scores", body)


def scores_figure(scores):
    """A histogram of each factor's scores (persons without answers left out)."""
    n = scores.shape[1]
    fig = Figure(figsize=(min(3.2 * n + 0.6, 13.0), 3.2), layout="constrained")
    for ax, column in zip(fig.subplots(1, n, squeeze=False)[0], scores.columns):
        values = scores[column].dropna().to_numpy()
        ax.hist(values, bins=min(40, max(5, len(np.unique(values)))), color="tab:blue")
        ax.set_xlabel(str(column))
    fig.axes[0].set_ylabel("persons")
    fig.suptitle("EAP scores")
    return fig


# -- HTML pieces ------------------------------------------------------------------------------
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; color: #222;
       padding: 0 1em; }
section { margin-bottom: 2.5em; border-top: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { padding: 0.2em 0.6em; border-bottom: 1px solid #e4e4e4; }
td { text-align: right; font-variant-numeric: tabular-nums; }
thead th { border-bottom: 2px solid #999; }
tbody th { text-align: left; font-weight: normal; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1.5em; }
dt { color: #555; } dd { margin: 0; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
.side-by-side { display: flex; flex-wrap: wrap; gap: 0 3em; }
.note { color: #555; } .warning { color: #8a4b00; }
pre { background: #f4f4f4; padding: 0.5em; white-space: pre-wrap; }
"""


def _section(section_id, heading, body):
    return f"<section id=\"{section_id}\">\n<h2>{_text(heading)}</h2>\n{body}\n</section>"


def _table(frame, table_id=None, formats=None):
    """An HTML table of a DataFrame: header row, the index as row headers; number cells show
    DIGITS decimals (or `formats[column]`) and carry their full value in `data-value`."""
    formats = formats or {}
    attribute = f" id=\"{table_id}\"" if table_id else ""
    index_name = _text(frame.index.name or "")
    head = "".join(f"<th scope=\"col\">{_text(_label(column))}</th>" for column in frame.columns)
    rows = []
    for label, values in zip(frame.index, frame.itertuples(index=False)):
        cells = "".join(_cell(value, formats.get(column)) for column, value in
                        zip(frame.columns, values))
        rows.append(f"<tr><th scope=\"row\">{_text(_label(label))}</th>{cells}</tr>")
    return (f"<table{attribute}>\n<thead><tr><th>{index_name}</th>{head}</tr></thead>\n"
            f"<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>")


def _cell(value, form=None):
    if value is None or value is pd.NA:
        return "<td></td>"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Number):
        return f"<td>{_text(str(value))}</td>"
    if isinstance(value, numbers.Integral):
        return f"<td data-value=\"{int(value)}\">{int(value)}</td>"
    value = float(value)
    if math.isnan(value):
        return "<td data-value=\"NaN\"></td>"
    shown = form.format(value) if form else f"{value:.{DIGITS}f}"
    return f"<td data-value=\"{value!r}\">{shown}</td>"


def _definitions(mapping):
    rows = "".join(f"<dt>{_text(str(name))}</dt><dd>{_text(_label(value))}</dd>"
                   for name, value in mapping.items())
    return f"<dl>{rows}</dl>"


def _figure(figure, caption):
    """A figure as an <img> holding its PNG (matplotlib's Agg backend, in memory)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)  # attaches itself: savefig draws with Agg, whatever the backend
    figure.savefig(buffer, format="png", dpi=DPI)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f"<figure><img src=\"data:image/png;base64,{encoded}\" alt=\"{_text(caption)}\">"
            f"<figcaption>{_text(caption)}</figcaption></figure>")


def _paragraph(text, kind=None):
    return f"<p class=\"{kind}\">{_text(text)}</p>" if kind else f"<p>{_text(text)}</p>"


def _warnings(messages):
    return "".join(_paragraph(f"Warning: {message}", "warning") for message in messages)


def _label(value):
    """A value as text: NumPy scalars as plain numbers, None as 'none', floats as written."""
    if value is None:
        return "none"
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _text(value):
    return html.escape(str(value), quote=True)
