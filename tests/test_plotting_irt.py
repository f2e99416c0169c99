"""IRT plots: the numbers drawn equal the model's curves computed independently here."""

import numpy as np
import pandas as pd
import pytest

from latentvi.plotting import irt as irt_plots

BINARY = pd.DataFrame({"a1": [1.2, 0.7], "d": [0.5, -1.0]}, index=["q1", "q2"])
GRADED = pd.DataFrame({"a1": [1.5], "d1": [2.0], "d2": [0.0], "d3": [-1.5]}, index=["likert"])
TWO_FACTORS = pd.DataFrame({"a1": [1.0, 0.0, 0.8], "a2": [0.0, 1.4, 0.6],
                            "d": [0.2, -0.3, 0.0]}, index=["i1", "i2", "i3"])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_icc_lines_are_sigmoid_of_slope_intercept():
    theta = np.linspace(-3, 3, 31)
    fig = irt_plots.item_curves(BINARY, theta=theta)
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["q1", "q2"]
    for line, (a, d) in zip(lines, BINARY[["a1", "d"]].to_numpy()):
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
                   for a, d in BINARY[["a1", "d"]].to_numpy())
    np.testing.assert_allclose(info_line.get_ydata(), expected, rtol=1e-10)
    np.testing.assert_allclose(se_line.get_ydata(), 1 / np.sqrt(expected), rtol=1e-10)


def test_information_along_a_factor_axis():
    theta = np.linspace(-1, 1, 5)
    fig = irt_plots.information_curves(TWO_FACTORS, theta=theta, direction="F2")
    # Along F2 only items with a2 != 0 inform: (a2)^2 P (1 - P) with eta = a2 t + d.
    expected = sum(a2**2 * _sigmoid(a2 * theta + d) * (1 - _sigmoid(a2 * theta + d))
                   for a2, d in TWO_FACTORS[["a2", "d"]].to_numpy())
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), expected, rtol=1e-10)


def test_loadings_heatmap_shows_mirt_standardized_loadings():
    fig = irt_plots.loadings_heatmap(TWO_FACTORS)
    shown = np.asarray(fig.axes[0].images[0].get_array())
    scaled = TWO_FACTORS[["a1", "a2"]].to_numpy() / 1.702
    expected = scaled / np.sqrt(1 + np.sum(scaled**2, axis=1, keepdims=True))
    np.testing.assert_allclose(shown, expected, rtol=1e-12)
    slopes = irt_plots.loadings_heatmap(TWO_FACTORS, values="slopes")
    np.testing.assert_array_equal(np.asarray(slopes.axes[0].images[0].get_array()),
                                  TWO_FACTORS[["a1", "a2"]].to_numpy())


def test_correlated_factors_enter_the_standardization():
    corr = np.array([[1.0, 0.5], [0.5, 1.0]])
    loadings = irt_plots.standardized_loadings([[1.702, 1.702]], corr)
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
