"""Plots for item factor models: item (category) curves, information and SE, loadings heatmap.

Every function takes a fitted `latentvi.irt.ItemFactorModel` or its `item_parameters_` (any
`latentvi.irt.ItemParameters`, e.g. `simulate`'s truth['parameters']), draws on the
Axes it is given or on a new `matplotlib.figure.Figure` that is not registered with pyplot (no
window, no leaked figure), and returns the Figure; save it with `fig.savefig(path)`.

With D > 1 factors the curves run along a line through the origin of the trait space,
theta = t u for a unit vector u: by default u = (1, ..., 1) / sqrt(D), or along one factor's
axis (`direction='F2'`), as mirt's `itemplot(..., degrees=)` and `latentvi.irt.information` do.

References:
  [1] Chalmers, R. P. (2012). mirt: A multidimensional item response theory package for the R
      environment. Journal of Statistical Software, 48(6) (itemplot, plot(type='infoSE')).
"""

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from latentvi.irt.information import item_information, unit_direction
from latentvi.irt.item_parameters import ItemParameters
from latentvi.irt.parameters import standardized_loadings

__all__ = ["category_probabilities", "information_curves", "item_curves", "loadings_heatmap"]

DEFAULT_THETA = np.linspace(-4.0, 4.0, 161)
PANEL_WIDTH = 2.6  # inches; a panel is 0.77 as tall as it is wide
MAX_COLUMNS = 5
MAX_LEGEND_ENTRIES = 6


def category_probabilities(parameters, t, direction=None):
    """P(x_j = k | theta = t u) for every item: its type's category probabilities at
    eta_j = a_j . u t.

    Args:
      parameters: the items (`ItemParameters`).
      t: positions along the direction [m].
      direction: None, a factor name or index, or a vector (see the module docstring).

    Returns:
      dict item -> array [m, K_j]: category probabilities (columns 0..K_j-1).
    """
    unit = unit_direction(direction, parameters.n_factors, parameters.factor_names)
    t = np.asarray(t, float)
    return parameters.probabilities(t[:, None] * unit[None, :])


def item_curves(source, items=None, theta=None, direction=None, ax=None, *, per_panel=4,
                max_panels=25):
    """Item characteristic curves (binary: P(x = 1)) and category curves (graded: P(x = k)),
    drawn as small multiples so that the figure stays readable at hundreds of items.

    Binary items share a panel, `per_panel` to a panel in table order; a graded item has a panel
    of its own, whose curves are its categories. One figure holds at most `max_panels` panels
    (5 per row, at most 13.6 x 10.8 inches at the defaults): when the items need more, the
    first ones are drawn and the title says how many of how many; pass `items=` to draw
    others (e.g. `items=model.items_.index[100:200]`). Colours are sampled from viridis in
    order, so no two curves of a panel share one. A panel's legend lists its curves (items, or
    a graded item's answers), only the first and last when there are more than 6; graded
    items that all have the same answers share one legend right of the panels instead.

    Args:
      source: a fitted ItemFactorModel or an `ItemParameters`.
      items: item labels to draw (None: all).
      theta: positions t along the direction (default -4..4).
      direction: None, a factor name or index, or a vector (D > 1).
      ax: Axes to draw on (None: a new figure); the items must then fit in one panel.
      per_panel: binary items per panel.
      max_panels: panels in one figure.

    Returns:
      The matplotlib Figure; `fig.axes` are the panels in item order. Each binary item is one
      line (label: the item), each category of a graded item one line (label: 'item: answer',
      the observed answer when a fitted model is given).

    Raises:
      ValueError: unknown items, `per_panel` or `max_panels` below 1, or `ax` given for items
        that need more than one panel.
    """
    if int(per_panel) < 1 or int(max_panels) < 1:
        raise ValueError(f"per_panel and max_panels must be at least 1; got {per_panel}, "
                         f"{max_panels}")
    table, _, _ = _unpack(source)
    chosen = _choose(table, items)
    panels = _panels(table, chosen, int(per_panel))
    if ax is not None and len(panels) > 1:
        raise ValueError(f"ax holds one panel but the {len(chosen)} items need {len(panels)} "
                         f"(at most {per_panel} binary items or one graded item); pass fewer "
                         f"items or ax=None")
    shown = panels[:int(max_panels)]
    drawn = [item for panel in shown for item in panel]
    t = DEFAULT_THETA if theta is None else np.asarray(theta, float)
    probabilities = category_probabilities(table.subset(drawn), t, direction)
    axes = [ax] if ax is not None else _panel_axes(len(shown))
    shared = _shared_answers(source, table, shown, probabilities) if ax is None else None
    for panel_ax, panel in zip(axes, shown):
        _draw_panel(panel_ax, source, table, panel, probabilities, t, shared is None)
    graded = any(_is_graded(table, item) for item in drawn)
    title = "Item category curves" if graded else "Item characteristic curves"
    if len(drawn) < len(chosen):
        title += f": first {len(drawn)} of {len(chosen)} items (choose others with items=)"
    if ax is not None:
        ax.set_xlabel(_axis_label(direction, table))
        ax.set_ylabel("probability")
        ax.set_title(title)
        return ax.figure
    fig = axes[0].figure
    if shared is not None:
        lines = next(a.lines for a, panel in zip(axes, shown) if _is_graded(table, panel[0]))
        fig.legend(lines, shared, loc="outside right upper",
                   fontsize="small", title="answer", title_fontsize="small")
    fig.supxlabel(_axis_label(direction, table))
    fig.supylabel("probability")
    fig.suptitle(title)
    return fig


def information_curves(source, theta=None, direction=None, show_items=False, ax=None):
    """Test information I(t) with its standard-error curve SE(t) = 1 / sqrt(I(t)) (mirt's
    `plot(fit, type='infoSE')`), optionally with each item's information.

    Args:
      source: a fitted ItemFactorModel or an `ItemParameters`.
      theta: positions t along the direction (default -4..4).
      direction: None, a factor name or index, or a vector (D > 1).
      show_items: also draw every item's information curve (thin lines coloured from viridis
        in item order; one legend entry stands for all of them).
      ax: Axes to draw on (None: a new figure); the SE curve goes on a twin y axis.

    Returns:
      The matplotlib Figure. The first line of `ax` is the test information, the SE line is
      the only line of the twin axis (`fig.axes[1]`).
    """
    table, _, names = _unpack(source)
    t = DEFAULT_THETA if theta is None else np.asarray(theta, float)
    unit = unit_direction(direction, table.n_factors, names)
    per_item = item_information(table, t[:, None] * unit[None, :], unit)
    total = per_item.sum(axis=1).to_numpy()
    ax = ax or _new_axes()
    handles = ax.plot(t, total, color="black", linewidth=2, label="test information")
    if show_items:
        colors = _colors(per_item.shape[1])
        for item, color in zip(per_item.columns, colors):
            ax.plot(t, per_item[item].to_numpy(), color=color, linewidth=0.8, alpha=0.6,
                    label=str(item))
        handles.append(Line2D([], [], color=colors[0], linewidth=0.8,
                              label=f"item information ({per_item.shape[1]} items)"))
    ax.set_xlabel(_axis_label(direction, table))
    ax.set_ylabel("information")
    twin = ax.twinx()
    handles += twin.plot(t, 1.0 / np.sqrt(total), color="tab:red", linestyle="--",
                         label="standard error")
    twin.set_ylabel("standard error")
    ax.set_title("Test information and standard error")
    ax.legend(handles=handles, fontsize="small", loc="upper left")
    return ax.figure


def loadings_heatmap(source, values="loadings", ax=None, annotate=True):
    """Heatmap items x factors of standardized loadings (mirt's `summary`) or raw slopes.

    The new figure grows with the table up to 12 x 10 inches; beyond what the axes hold
    (about 6 item labels an inch, 1 factor label per 0.8 inch), only every k-th label is
    written and the axis label says so.

    Args:
      source: a fitted ItemFactorModel or an `ItemParameters`.
      values: 'loadings' (standardized, in [-1, 1]) or 'slopes' (a1..aD).
      ax: Axes to draw on (None: a new figure sized to the table).
      annotate: write each value in its cell (tables up to 40 items).

    Returns:
      The matplotlib Figure; the image's array (`ax.images[0].get_array()`) holds the values.
    """
    if values not in ("loadings", "slopes"):
        raise ValueError(f"values must be 'loadings' or 'slopes'; got {values!r}")
    table, corr, names = _unpack(source)
    matrix = table.slopes
    if values == "loadings":
        matrix = standardized_loadings(matrix, corr)
    limit = 1.0 if values == "loadings" else max(float(np.abs(matrix).max()), 1e-12)
    n_items, n_factors = matrix.shape
    ax = ax or _new_axes(min(2.5 + 1.0 * n_factors, 12.0), min(1.5 + 0.3 * n_items, 10.0))
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto",
                      interpolation="nearest")
    width, height = _axes_inches(ax)
    factor_step = _tick_step(n_factors, width / 0.8)
    item_step = _tick_step(n_items, height * 6.0)
    factor_labels = names or [f"F{d + 1}" for d in range(n_factors)]
    ax.set_xticks(range(0, n_factors, factor_step), factor_labels[::factor_step])
    ax.set_yticks(range(0, n_items, item_step), [str(item) for item in table.items][::item_step])
    if item_step > 1:
        ax.set_ylabel(f"item (1 in {item_step} labelled)")
    if factor_step > 1:
        ax.set_xlabel(f"factor (1 in {factor_step} labelled)")
    if annotate and n_items <= 40:
        for (row, col), value in np.ndenumerate(matrix):
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize="small",
                    color="white" if abs(value) > 0.6 * limit else "black")
    ax.figure.colorbar(image, ax=ax, label="standardized loading" if values == "loadings"
                       else "slope")
    ax.set_title("Standardized loadings" if values == "loadings" else "Slopes")
    return ax.figure


def _unpack(source):
    """(items in display order, factor correlations or None, factor names) of a fitted model
    or an `ItemParameters`."""
    if isinstance(source, ItemParameters):
        return source, None, list(source.factor_names)
    if not hasattr(source, "item_parameters_"):
        kind = "an items_ table: pass the fitted model itself" if isinstance(
            source, pd.DataFrame) else type(source).__name__
        raise TypeError(f"expected a fitted ItemFactorModel or an ItemParameters; got {kind}")
    parameters = source.item_parameters_.subset(list(source.item_order_))
    return parameters, source.factor_corr_.to_numpy(), list(source.factor_corr_.columns)


def _category_labels(source, item, n_categories):
    """The observed answer of each code 0..K-1 (a fitted model's category_map_), else the code."""
    mapping = getattr(source, "category_map_", {}).get(item, {})
    observed = {code: value for value, code in mapping.items()}
    return [observed.get(k, k) for k in range(n_categories)]


def _is_graded(table, item):
    """Polytomous items get a panel of their own; a binary item is one curve, P(x = 1)."""
    return table.n_categories[table.items.index(item)] > 2


def _choose(table, items):
    if items is None:
        return list(table.items)
    items = [items] if isinstance(items, str) else list(items)
    unknown = [item for item in items if item not in table.items]
    if unknown:
        raise ValueError(f"unknown items {unknown}; the model has {list(table.items)[:20]}")
    return items


def _axis_label(direction, table):
    if table.n_factors == 1:
        return "theta"
    return f"t (theta = t u, u = {direction})" if direction is not None else \
        "t (theta = t (1, ..., 1) / sqrt(D))"


def _new_axes(width=7.0, height=4.5):
    return Figure(figsize=(width, height), layout="constrained").add_subplot()


def _panels(table, chosen, per_panel):
    """Items grouped into panels in order: runs of binary items, each graded item alone."""
    panels, binary = [], []
    for item in chosen:
        if _is_graded(table, item):
            panels += [binary] if binary else []
            panels.append([item])
            binary = []
        else:
            binary.append(item)
            if len(binary) == per_panel:
                panels.append(binary)
                binary = []
    return panels + ([binary] if binary else [])


def _panel_axes(n_panels):
    """A new figure with n_panels shared-axis panels, at most MAX_COLUMNS to a row."""
    columns = min(n_panels, MAX_COLUMNS)
    rows = -(-n_panels // columns)
    panel_width = max(PANEL_WIDTH, 6.5 / columns)
    fig = Figure(figsize=(0.6 + columns * panel_width, 0.8 + rows * 0.77 * panel_width),
                 layout="constrained")
    grid = fig.add_gridspec(rows, columns)
    axes = []
    for i in range(n_panels):
        first = axes[0] if axes else None
        axes.append(fig.add_subplot(grid[i // columns, i % columns], sharex=first, sharey=first))
        # Tick labels only where no panel sits below or to the left.
        axes[-1].tick_params(labelbottom=i + columns >= n_panels, labelleft=i % columns == 0)
    return axes


def _shared_answers(source, table, panels, probabilities):
    """The answers of the graded panels when there are several and all have the same ones
    (one figure legend serves them), else None."""
    answers = [tuple(str(a) for a in _category_labels(source, p[0], probabilities[p[0]].shape[1]))
               for p in panels if _is_graded(table, p[0])]
    return list(answers[0]) if len(answers) > 1 and len(set(answers)) == 1 else None


def _draw_panel(ax, source, table, panel, probabilities, t, legend):
    if _is_graded(table, panel[0]):
        item = panel[0]
        probs = probabilities[item]
        answers = _category_labels(source, item, probs.shape[1])
        for k, color in enumerate(_colors(probs.shape[1])):
            ax.plot(t, probs[:, k], color=color, label=f"{item}: {answers[k]}")
        ax.set_title(str(item), fontsize="small")
        if legend:
            _panel_legend(ax, [str(answer) for answer in answers])
    else:
        for item, color in zip(panel, _colors(len(panel))):
            ax.plot(t, probabilities[item][:, 1], color=color, label=str(item))
        _panel_legend(ax, [str(item) for item in panel])
    ax.set_ylim(0, 1)


def _panel_legend(ax, labels):
    """A legend small enough for a panel: every line up to 6, else the first and the last."""
    lines = list(ax.lines)
    if len(lines) > MAX_LEGEND_ENTRIES:
        lines, labels = [lines[0], lines[-1]], [labels[0], labels[-1]]
    labels = [label if len(label) <= 12 else label[:11] + "\u2026" for label in labels]
    ax.legend(lines, labels, fontsize="x-small", ncol=2 if len(lines) > 3 else 1,
              handlelength=1.2, columnspacing=0.8, borderaxespad=0.3, loc="best")


def _colors(n):
    """n distinct colours in perceptual order; viridis' last, palest 15% is skipped for contrast
    on white."""
    return list(colormaps["viridis"](np.linspace(0.0, 0.85, n)))


def _axes_inches(ax):
    """(width, height) of the axes in inches, before any layout engine has run."""
    position = ax.get_position()
    return (position.width * ax.figure.get_figwidth(),
            position.height * ax.figure.get_figheight())


def _tick_step(n, capacity):
    """Label every k-th of n ticks so that no more than `capacity` labels are written."""
    return max(1, int(np.ceil(n / max(int(capacity), 1))))
