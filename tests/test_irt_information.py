"""Item and test information (latentvi/irt/information.py) against closed forms."""

import numpy as np
import pytest
from scipy.special import expit

from latentvi.irt import ItemParameters
from latentvi.irt.information import item_information
from latentvi.irt.information import test_information as total_information


def fisher_by_differences(a, intercepts, theta, step=1e-5):
    """sum_k (dP_k/dtheta)^2 / P_k with dP_k/dtheta by central differences."""
    def probabilities(t):
        cumulative = np.concatenate([[1.0], expit(a * t + np.asarray(intercepts)), [0.0]])
        return cumulative[:-1] - cumulative[1:]
    slope = (probabilities(theta + step) - probabilities(theta - step)) / (2 * step)
    return np.sum(slope**2 / probabilities(theta))


@pytest.fixture
def items():
    return ItemParameters(["bin", "gr"], ["2PL", "graded"], [2, 4], [[1.2], [0.8]],
                          [{"d": 0.5}, {"d1": 1.5, "d2": 0.0, "d3": -1.0}])


def two_factor_item():
    return ItemParameters(["q"], ["2PL"], [2], [[1.0, 2.0]], [{"d": 0.0}])


def test_binary_item_information_is_a2_p_q(items):
    theta = np.array([-1.0, 0.0, 2.0])
    info = item_information(items, theta)
    p = expit(1.2 * theta + 0.5)
    np.testing.assert_allclose(info["bin"], 1.2**2 * p * (1 - p), rtol=1e-12)


def test_graded_item_information_matches_fisher_information(items):
    for theta in (-2.0, 0.3, 1.7):
        info = item_information(items, [theta])["gr"].iloc[0]
        # central differences with step 1e-5: error ~1e-9.
        assert info == pytest.approx(fisher_by_differences(0.8, [1.5, 0.0, -1.0], theta),
                                     rel=1e-6)


def test_test_information_sums_items(items):
    theta = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(total_information(items, theta),
                               item_information(items, theta).sum(axis=1))


def test_directional_information_in_two_dimensions():
    items = two_factor_item()
    theta = np.zeros((1, 2))
    # At eta = 0, P(1 - P) = 1/4, so the information in direction u is (a . u)^2 / 4.
    assert item_information(items, theta, direction="F1").iloc[0, 0] == pytest.approx(0.25)
    assert item_information(items, theta, direction=1).iloc[0, 0] == pytest.approx(1.0)
    equal_angles = (1 + 2) ** 2 / 2 / 4
    assert item_information(items, theta).iloc[0, 0] == pytest.approx(equal_angles)
    assert item_information(items, theta, direction=[0, 5]).iloc[0, 0] == pytest.approx(1.0)


def test_bad_theta_and_direction_raise():
    items = two_factor_item()
    with pytest.raises(ValueError, match="2 columns"):
        item_information(items, [0.0, 1.0])
    with pytest.raises(ValueError, match="direction"):
        item_information(items, np.zeros((1, 2)), direction="F9")
    with pytest.raises(ValueError, match="nonzero vector"):
        item_information(items, np.zeros((1, 2)), direction=[0, 0])


def test_item_table_merges_binary_and_graded_columns(items):
    # mirt's coef(simplify=TRUE) layout: d for the 2PL item, d1..d3 for the graded one.
    table = items.table()
    assert list(table.columns) == ["a1", "d", "d1", "d2", "d3"]
    np.testing.assert_array_equal(table[["d", "d1", "d2", "d3"]].to_numpy(),
                                  [[0.5, np.nan, np.nan, np.nan], [np.nan, 1.5, 0.0, -1.0]])
