"""IRT plots: the numbers drawn equal the model's curves computed independently here, and the
figures stay readable (bounded size, legends inside, distinct colours) at 25-200 items."""

import itertools
import types
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from latentvi.irt import ItemParameters
from latentvi.irt.parameters import standardized_loadings
from latentvi.plotting import irt as irt_plots


def _items(table):
    """ItemParameters from a table written as mirt's coef (2PL: d; graded: d1..)."""
    slopes = table[[c for c in table.columns if c.startswith("a")]].to_numpy(float)
    types, counts, values = [], [], []
    for item, row in table.iterrows():
        if "d" in table.columns and pd.notna(row.get("d")):
            types.append("2PL")
            values.append({"d": row["d"]})
        else:
            steps = {c: row[c] for c in table.columns if c[0] == "d" and c[1:].isdigit()
                     and pd.notna(row[c])}
            types.append("graded")
            values.append(steps)
        counts.append(len(values[-1]) + 1)
    return ItemParameters(list(table.index), types, counts, slopes, values)


BINARY_TABLE = pd.DataFrame({"a1": [1.2, 0.7], "d": [0.5, -1.0]}, index=["q1", "q2"])
TWO_FACTORS_TABLE = pd.DataFrame({"a1": [1.0, 0.0, 0.8], "a2": [0.0, 1.4, 0.6],
                                  "d": [0.2, -0.3, 0.0]}, index=["i1", "i2", "i3"])
BINARY = _items(BINARY_TABLE)
GRADED = _items(pd.DataFrame({"a1": [1.5], "d1": [2.0], "d2": [0.0], "d3": [-1.5]},
                             index=["likert"]))
TWO_FACTORS = _items(TWO_FACTORS_TABLE)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_icc_lines_are_sigmoid_of_slope_intercept():
    theta = np.linspace(-3, 3, 31)
    fig = irt_plots.item_curves(BINARY, theta=theta)
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["q1", "q2"]
    for line, (a, d) in zip(lines, BINARY_TABLE[["a1", "d"]].to_numpy()):
        np.testing.assert_array_equal(line.get_xdata(), theta)
        # Same formula in float64 on both sides: agreement to rounding.
        np.testing.assert_allclose(line.get_ydata(), _sigmoid(a * theta + d), atol=1e-12)


def test_graded_category_curves_are_differences_of_cumulative_curves():
    theta = np.linspace(-4, 4, 17)
    fig = irt_plots.item_curves(GRADED, theta=theta)
    lines = fig.axes[0].lines
    assert len(lines) == 4
    cumulative = [np.ones_like(theta)] + [_sigmoid(1.5 * theta + d) for d in (2.0, 0.0, -1.5)]
    cumulative.append(np.zeros_like(theta))
    for k, line in enumerate(lines):
        np.testing.assert_allclose(line.get_ydata(), cumulative[k] - cumulative[k + 1],
                                   atol=1e-12)
    total = np.sum([line.get_ydata() for line in lines], axis=0)
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


def test_information_and_standard_error_curves():
    theta = np.linspace(-2, 2, 9)
    fig = irt_plots.information_curves(BINARY, theta=theta)
    info_line = fig.axes[0].lines[0]
    se_line = fig.axes[1].lines[0]
    # 2PL item information a^2 P (1 - P), summed over the items.
    expected = sum(a**2 * _sigmoid(a * theta + d) * (1 - _sigmoid(a * theta + d))
                   for a, d in BINARY_TABLE[["a1", "d"]].to_numpy())
    np.testing.assert_allclose(info_line.get_ydata(), expected, rtol=1e-10)
    np.testing.assert_allclose(se_line.get_ydata(), 1 / np.sqrt(expected), rtol=1e-10)


def test_information_along_a_factor_axis():
    theta = np.linspace(-1, 1, 5)
    fig = irt_plots.information_curves(TWO_FACTORS, theta=theta, direction="F2")
    # Along F2 only items with a2 != 0 inform: (a2)^2 P (1 - P) with eta = a2 t + d.
    expected = sum(a2**2 * _sigmoid(a2 * theta + d) * (1 - _sigmoid(a2 * theta + d))
                   for a2, d in TWO_FACTORS_TABLE[["a2", "d"]].to_numpy())
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), expected, rtol=1e-10)


def test_loadings_heatmap_shows_mirt_standardized_loadings():
    fig = irt_plots.loadings_heatmap(TWO_FACTORS)
    shown = np.asarray(fig.axes[0].images[0].get_array())
    scaled = TWO_FACTORS_TABLE[["a1", "a2"]].to_numpy() / 1.702
    expected = scaled / np.sqrt(1 + np.sum(scaled**2, axis=1, keepdims=True))
    np.testing.assert_allclose(shown, expected, rtol=1e-12)
    slopes = irt_plots.loadings_heatmap(TWO_FACTORS, values="slopes")
    np.testing.assert_array_equal(np.asarray(slopes.axes[0].images[0].get_array()),
                                  TWO_FACTORS_TABLE[["a1", "a2"]].to_numpy())


def test_correlated_factors_enter_the_standardization():
    corr = np.array([[1.0, 0.5], [0.5, 1.0]])
    loadings = standardized_loadings([[1.702, 1.702]], corr)  # what the heatmap shows
    # a Phi a^T / 1.702^2 = 1 + 1 + 2 * 0.5 = 3, so F = 1 / sqrt(4) per factor.
    np.testing.assert_allclose(loadings, [[0.5, 0.5]])


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="unknown items"):
        irt_plots.item_curves(BINARY, items=["nope"])
    with pytest.raises(ValueError, match="direction"):
        irt_plots.information_curves(TWO_FACTORS, direction="F9")
    with pytest.raises(TypeError, match="ItemFactorModel"):
        irt_plots.item_curves(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="values"):
        irt_plots.loadings_heatmap(BINARY, values="probabilities")
    with pytest.raises(ValueError, match="need 2"):
        irt_plots.item_curves(_binary_table(5), ax=irt_plots.item_curves(BINARY).axes[0])
    with pytest.raises(ValueError, match="per_panel"):
        irt_plots.item_curves(BINARY, per_panel=0)


# -- many items ---------------------------------------------------------------------------------
# The command line saves at dpi=100: 14 x 11 inches is 1400 x 1100 pixels, a page a laptop
# screen shows whole; item_curves' grid is at most 0.6 + 5 x 2.6 by 0.8 + 5 x 2.0 inches.
MAX_FIGURE_INCHES = (14.0, 11.0)
ANSWERS = ["never", "rarely", "sometimes", "often", "usually", "always"]


def _binary_table(n_items, n_factors=1, seed=0):
    rng = np.random.default_rng(seed)
    columns = {f"a{d + 1}": rng.uniform(0.5, 2.0, n_items) for d in range(n_factors)}
    columns["d"] = rng.normal(size=n_items)
    return _items(pd.DataFrame(columns, index=[f"item{j + 1}" for j in range(n_items)]))


def _graded_model(n_items, n_categories, answers_per_item, seed=0):
    """The attributes the plots read from a fitted ItemFactorModel, with graded items."""
    rng = np.random.default_rng(seed)
    intercepts = -np.sort(rng.normal(scale=1.5, size=(n_items, n_categories - 1)), axis=1)
    table = pd.DataFrame({"a1": rng.uniform(0.5, 2.0, n_items)}
                         | {f"d{k + 1}": intercepts[:, k] for k in range(n_categories - 1)},
                         index=[f"item{j + 1}" for j in range(n_items)])
    answers = {item: [f"{item} {a}" if answers_per_item else a for a in ANSWERS]
               for item in table.index}
    return types.SimpleNamespace(
        item_parameters_=_items(table), item_order_=list(table.index),
        factor_corr_=pd.DataFrame([[1.0]], index=["F1"], columns=["F1"]),
        category_map_={item: {a: k for k, a in enumerate(answers[item])} for item in table.index})


def _draw_strictly(plot, *args, **kwargs):
    """Build and draw (Agg) a figure with every warning an error; returns (figure, renderer)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot(*args, **kwargs)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
    return fig, canvas.get_renderer()


def _legends(fig):
    return [(ax, ax.get_legend()) for ax in fig.axes if ax.get_legend()] + \
        [(None, legend) for legend in fig.legends]


def _inside(inner, outer):
    # One pixel of slack for the rounding of the layout.
    return (inner.x0 >= outer.x0 - 1 and inner.y0 >= outer.y0 - 1 and
            inner.x1 <= outer.x1 + 1 and inner.y1 <= outer.y1 + 1)


@pytest.mark.parametrize("source, n_panels, lines_per_panel", [
    (_binary_table(100), 25, 4),                  # 4 binary items a panel
    (_graded_model(25, 6, False), 25, 6),        # one panel a graded item, one shared legend
    (_graded_model(25, 6, True), 25, 6),         # answers differ: a legend in every panel
], ids=["100-binary", "25-graded-shared-answers", "25-graded-own-answers"])
def test_item_curves_of_many_items_are_readable(source, n_panels, lines_per_panel):
    fig, renderer = _draw_strictly(irt_plots.item_curves, source)
    width, height = fig.get_size_inches()
    assert width <= MAX_FIGURE_INCHES[0] and height <= MAX_FIGURE_INCHES[1]
    assert len(fig.axes) == n_panels
    for ax in fig.axes:
        colors = [to_hex(line.get_color()) for line in ax.lines]
        assert len(colors) == lines_per_panel and len(set(colors)) == lines_per_panel
    legends = _legends(fig)
    assert legends
    for ax, legend in legends:
        box = legend.get_window_extent(renderer)
        assert _inside(box, fig.bbox)
        if ax is not None:
            assert _inside(box, ax.get_window_extent(renderer))


def test_item_curves_beyond_one_figure_say_so_and_items_selects_the_rest():
    table = _binary_table(200)
    fig, _ = _draw_strictly(irt_plots.item_curves, table)
    assert len(fig.axes) == 25
    assert fig.get_size_inches().tolist() == irt_plots.item_curves(_binary_table(100)) \
        .get_size_inches().tolist()
    assert "first 100 of 200 items" in fig.get_suptitle()
    rest, _ = _draw_strictly(irt_plots.item_curves, table, items=table.items[100:])
    drawn = [line.get_label() for ax in rest.axes for line in ax.lines]
    assert drawn == [f"item{j}" for j in range(101, 201)]
    assert "of" not in rest.get_suptitle()


def test_item_information_curves_of_many_items_share_one_legend_entry():
    fig, renderer = _draw_strictly(irt_plots.information_curves, _binary_table(200, 3),
                                   show_items=True)
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "test information", "item information (200 items)", "standard error"]
    assert _inside(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
    total_color, *item_colors = [to_hex(line.get_color()) for line in ax.lines]
    se_color = to_hex(fig.axes[1].lines[0].get_color())
    assert total_color not in item_colors and se_color not in item_colors
    # Sampled along viridis (256 entries), not cycled through the default 10 colours.
    assert len(set(item_colors)) > 150


def test_loadings_heatmap_of_many_items_thins_its_labels():
    fig, renderer = _draw_strictly(irt_plots.loadings_heatmap, _binary_table(200, 3))
    width, height = fig.get_size_inches()
    assert width <= 12.0 and height <= 10.0
    ax = fig.axes[0]
    labels = [label for label in ax.get_yticklabels() if label.get_text()]
    assert labels[0].get_text() == "item1" and 10 <= len(labels) < 200
    boxes = sorted((label.get_window_extent(renderer) for label in labels), key=lambda b: b.y0)
    assert all(lower.y1 <= upper.y0 for lower, upper in itertools.pairwise(boxes))
    assert "labelled" in ax.get_ylabel()
