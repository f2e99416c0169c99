"""Plots for item factor models: item (category) curves, information and SE, loadings heatmap.

Every function takes a fitted `latentvi.irt.ItemFactorModel` or its `items_` table, draws on the
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
from matplotlib.figure import Figure
from scipy.special import expit

from latentvi.irt.information import intercept_matrix, item_information
from latentvi.irt.parameters import LOGISTIC_SCALE

__all__ = ["category_probabilities", "information_curves", "item_curves", "loadings_heatmap"]

DEFAULT_THETA = np.linspace(-4.0, 4.0, 161)


def category_probabilities(items, t, direction=None, factor_names=None):
    """P(x_j = k | theta = t u) for every item, from the slope-intercept parameters.

    Cumulative P*_jk = sigmoid(a_j . u t + d_jk) with P*_j0 = 1 and P*_jK = 0, so
    P_jk = P*_jk - P*_j,k+1 (a binary item: P_j1 = sigmoid(a_j . u t + d_j)).

    Args:
      items: item table (a1..aD, d / d1..).
      t: positions along the direction [m].
      direction: None, a factor name or index, or a vector (see the module docstring).
      factor_names: names of the factors (to look up `direction` by name).

    Returns:
      dict item -> array [m, K_j]: category probabilities (columns 0..K_j-1).
    """
    slopes = _slopes(items)
    unit = _unit(direction, slopes.shape[1], factor_names)
    t = np.asarray(t, float)
    intercepts = intercept_matrix(items)
    result = {}
    for j, item in enumerate(items.index):
        d = intercepts[j][~np.isnan(intercepts[j])]
        cumulative = expit((slopes[j] @ unit) * t[:, None] + d[None, :])
        upper = np.column_stack([np.ones_like(t), cumulative])
        lower = np.column_stack([cumulative, np.zeros_like(t)])
        result[item] = upper - lower
    return result


def item_curves(source, items=None, theta=None, direction=None, ax=None):
    """Item characteristic curves (binary: P(x = 1)) and category curves (graded: P(x = k)).

    Args:
      source: a fitted ItemFactorModel or its `items_` table.
      items: item labels to draw (None: all).
      theta: positions t along the direction (default -4..4).
      direction: None, a factor name or index, or a vector (D > 1).
      ax: Axes to draw on (None: a new figure).

    Returns:
      The matplotlib Figure: one line per binary item (label: the item), one per category of a
      graded item (label: 'item: answer', the observed answer when a fitted model is given).
    """
    table, _, names = _unpack(source)
    chosen = _choose(table, items)
    t = DEFAULT_THETA if theta is None else np.asarray(theta, float)
    probabilities = category_probabilities(table.loc[chosen], t, direction, names)
    ax = ax or _new_axes()
    for item, probs in probabilities.items():
        if probs.shape[1] == 2 and not _is_graded(table, item):
            ax.plot(t, probs[:, 1], label=str(item))
        else:
            labels = _category_labels(source, item, probs.shape[1])
            for k in range(probs.shape[1]):
                ax.plot(t, probs[:, k], label=f"{item}: {labels[k]}")
    ax.set_xlabel(_axis_label(direction, table))
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    graded = any(_is_graded(table, item) for item in chosen)
    ax.set_title("Item category curves" if graded else "Item characteristic curves")
    ax.legend(fontsize="small", ncol=2 if len(ax.lines) > 8 else 1)
    return ax.figure


def information_curves(source, theta=None, direction=None, show_items=False, ax=None):
    """Test information I(t) with its standard-error curve SE(t) = 1 / sqrt(I(t)) (mirt's
    `plot(fit, type='infoSE')`), optionally with each item's information.

    Args:
      source: a fitted ItemFactorModel or its `items_` table.
      theta: positions t along the direction (default -4..4).
      direction: None, a factor name or index, or a vector (D > 1).
      show_items: also draw every item's information curve (thin lines).
      ax: Axes to draw on (None: a new figure); the SE curve goes on a twin y axis.

    Returns:
      The matplotlib Figure. The first line of `ax` is the test information, the SE line is
      the only line of the twin axis (`fig.axes[1]`).
    """
    table, _, names = _unpack(source)
    t = DEFAULT_THETA if theta is None else np.asarray(theta, float)
    unit = _unit(direction, _slopes(table).shape[1], names)
    per_item = item_information(table, t[:, None] * unit[None, :], unit, names)
    total = per_item.sum(axis=1).to_numpy()
    ax = ax or _new_axes()
    ax.plot(t, total, color="C0", linewidth=2, label="test information")
    if show_items:
        for item in per_item.columns:
            ax.plot(t, per_item[item].to_numpy(), linewidth=0.8, alpha=0.6, label=str(item))
    ax.set_xlabel(_axis_label(direction, table))
    ax.set_ylabel("information")
    twin = ax.twinx()
    twin.plot(t, 1.0 / np.sqrt(total), color="C3", linestyle="--", label="standard error")
    twin.set_ylabel("standard error")
    ax.set_title("Test information and standard error")
    handles = ax.get_legend_handles_labels()
    twin_handles = twin.get_legend_handles_labels()
    ax.legend(handles[0][:1] + twin_handles[0], handles[1][:1] + twin_handles[1],
              fontsize="small", loc="upper left")
    return ax.figure


def standardized_loadings(slopes, factor_corr=None):
    """mirt's standardized loadings F = (a / 1.702) / sqrt(1 + a Phi a^T / 1.702^2) per item."""
    slopes = np.asarray(slopes, float) / LOGISTIC_SCALE
    corr = np.eye(slopes.shape[1]) if factor_corr is None else np.asarray(factor_corr, float)
    common = np.einsum("jd,de,je->j", slopes, corr, slopes)
    return slopes / np.sqrt(1.0 + common)[:, None]


def loadings_heatmap(source, values="loadings", ax=None, annotate=True):
    """Heatmap items x factors of standardized loadings (mirt's `summary`) or raw slopes.

    Args:
      source: a fitted ItemFactorModel or its `items_` table.
      values: 'loadings' (standardized, in [-1, 1]) or 'slopes' (a1..aD).
      ax: Axes to draw on (None: a new figure sized to the table).
      annotate: write each value in its cell (tables up to 40 items).

    Returns:
      The matplotlib Figure; the image's array (`ax.images[0].get_array()`) holds the values.
    """
    if values not in ("loadings", "slopes"):
        raise ValueError(f"values must be 'loadings' or 'slopes'; got {values!r}")
    table, corr, names = _unpack(source)
    matrix = _slopes(table)
    if values == "loadings":
        matrix = standardized_loadings(matrix, corr)
    limit = 1.0 if values == "loadings" else max(float(np.abs(matrix).max()), 1e-12)
    ax = ax or _new_axes(2.5 + 1.0 * matrix.shape[1], 1.5 + 0.3 * matrix.shape[0])
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), names or [f"F{d + 1}" for d in range(matrix.shape[1])])
    ax.set_yticks(range(matrix.shape[0]), [str(item) for item in table.index])
    if annotate and matrix.shape[0] <= 40:
        for (row, col), value in np.ndenumerate(matrix):
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize="small",
                    color="white" if abs(value) > 0.6 * limit else "black")
    ax.figure.colorbar(image, ax=ax, label="standardized loading" if values == "loadings"
                       else "slope")
    ax.set_title("Standardized loadings" if values == "loadings" else "Slopes")
    return ax.figure


def _unpack(source):
    """(items table, factor correlations or None, factor names) of a model or a table."""
    if isinstance(source, pd.DataFrame):
        names = [f"F{d + 1}" for d in range(_slopes(source).shape[1])]
        return source, None, names
    if not hasattr(source, "items_"):
        raise TypeError(f"expected a fitted ItemFactorModel or its items_ DataFrame; got "
                        f"{type(source).__name__}")
    names = list(source.factor_corr_.columns)
    return source.items_, source.factor_corr_.to_numpy(), names


def _category_labels(source, item, n_categories):
    """The observed answer of each code 0..K-1 (a fitted model's category_map_), else the code."""
    mapping = getattr(source, "category_map_", {}).get(item, {})
    observed = {code: value for value, code in mapping.items()}
    return [observed.get(k, k) for k in range(n_categories)]


def _slopes(table):
    columns = [c for c in table.columns if c.startswith("a") and c[1:].isdigit()]
    if not columns:
        raise ValueError("the item table has no slope columns a1..aD")
    return table[columns].to_numpy(float)


def _is_graded(table, item):
    return "d" not in table.columns or pd.isna(table.loc[item, "d"])


def _choose(table, items):
    if items is None:
        return list(table.index)
    items = [items] if isinstance(items, str) else list(items)
    unknown = [item for item in items if item not in table.index]
    if unknown:
        raise ValueError(f"unknown items {unknown}; the model has {list(table.index)}")
    return items


def _unit(direction, n_factors, factor_names):
    if direction is None:
        return np.full(n_factors, 1.0 / np.sqrt(n_factors))
    if isinstance(direction, (str, int, np.integer)):
        names = list(factor_names or [f"F{d + 1}" for d in range(n_factors)])
        index = names.index(direction) if isinstance(direction, str) and direction in names \
            else direction
        if not isinstance(index, (int, np.integer)) or not 0 <= index < n_factors:
            raise ValueError(f"direction {direction!r} is not a factor name or index of "
                             f"{names}")
        unit = np.zeros(n_factors)
        unit[index] = 1.0
        return unit
    vector = np.asarray(direction, float).ravel()
    if vector.shape != (n_factors,) or not np.linalg.norm(vector) > 0:
        raise ValueError(f"direction must be a nonzero vector of {n_factors} numbers")
    return vector / np.linalg.norm(vector)


def _axis_label(direction, table):
    if _slopes(table).shape[1] == 1:
        return "theta"
    return f"t (theta = t u, u = {direction})" if direction is not None else \
        "t (theta = t (1, ..., 1) / sqrt(D))"


def _new_axes(width=7.0, height=4.5):
    return Figure(figsize=(width, height), layout="constrained").add_subplot()
