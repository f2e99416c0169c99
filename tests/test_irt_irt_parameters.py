"""mirt's IRT parameterization and its delta-method SEs (latentvi.irt.irt_parameters)."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax

from latentvi.irt import ItemParameters
from latentvi.irt.irt_parameters import irt_parameters

THETA = np.linspace(-3, 3, 13)


def test_2pl_3pl_4pl_are_logistic_in_a_theta_minus_b():
    parameters = ItemParameters.from_arrays([1.2, 0.8, 1.5], [0.5, -1.0, 2.0],
                                            item_type=["2PL", "3PL", "4PL"], g=[0, 0.2, 0.1],
                                            u=[1, 1, 0.9])
    table = irt_parameters(parameters)
    probabilities = parameters.probabilities(THETA[:, np.newaxis])
    for item in parameters.items:
        row = table.loc[item]
        g = 0.0 if np.isnan(row.get("g", np.nan)) else row["g"]
        u = 1.0 if np.isnan(row.get("u", np.nan)) else row["u"]
        traditional = g + (u - g) * expit(row["a"] * (THETA - row["b"]))
        np.testing.assert_allclose(probabilities[item][:, 1], traditional, rtol=1e-12)


def test_graded_thresholds_and_partial_credit_steps():
    d = np.array([[1.5, 0.2, -1.1]])
    graded = ItemParameters.from_arrays([1.3], d, item_type="graded")
    row = irt_parameters(graded).iloc[0]
    cumulative = [expit(row["a"] * (THETA - row[f"b{k}"])) for k in (1, 2, 3)]
    found = graded.probabilities(THETA[:, np.newaxis])["item1"]
    np.testing.assert_allclose(found[:, 1:].sum(axis=1), cumulative[0], rtol=1e-12)
    np.testing.assert_allclose(found[:, 3], cumulative[2], rtol=1e-12)
    gpcm = ItemParameters.from_arrays([0.9], d, item_type="gpcm")
    row = irt_parameters(gpcm).iloc[0]
    # P(x = k) proportional to exp(sum_{m <= k} a (theta - b_m))
    logits = np.cumsum([np.zeros_like(THETA)] + [row["a"] * (THETA - row[f"b{k}"])
                                                 for k in (1, 2, 3)], axis=0).T
    np.testing.assert_allclose(gpcm.probabilities(THETA[:, np.newaxis])["item1"],
                               softmax(logits, axis=1), rtol=1e-10)


def test_delta_method_se_of_b_is_the_closed_form(lsat7_2pl, lsat7):
    # Var(b) for b = -d / a: (1/a^2) Var(d) + (d^2/a^4) Var(a) - 2 (d/a^3) Cov(a, d), from the
    # same vcov; central differences of step 1e-6 agree to ~1e-8 relative.
    se = lsat7_2pl.standard_errors(lsat7)
    table = lsat7_2pl.irt_parameters(se)
    assert list(table.columns) == ["a", "SE_a", "b", "SE_b"]
    for item in table.index:
        a, d = lsat7_2pl.items_.loc[item, "a1"], lsat7_2pl.items_.loc[item, "d"]
        block = se.vcov.loc[[f"{item}:a1", f"{item}:d"], [f"{item}:a1", f"{item}:d"]]
        var_a, var_d, cov = block.iloc[0, 0], block.iloc[1, 1], block.iloc[0, 1]
        expected = np.sqrt(var_d / a**2 + d**2 * var_a / a**4 - 2 * d * cov / a**3)
        assert table.loc[item, "SE_b"] == pytest.approx(expected, rel=1e-6)
        assert table.loc[item, "b"] == pytest.approx(-d / a, rel=1e-12)
        assert table.loc[item, "SE_a"] == pytest.approx(se.items.loc[item, "a1"], rel=1e-6)


def test_several_factors_are_refused():
    two = ItemParameters.from_arrays(np.ones((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="one-factor models; this one has 2"):
        irt_parameters(two)


def test_fixed_parameters_add_no_variance():
    # a parameter absent from vcov (fixed by the fit) contributes nothing: SE_b = SE_d / a
    parameters = ItemParameters.from_arrays([2.0], [1.0])
    vcov = pd.DataFrame([[0.04]], index=["item1:d"], columns=["item1:d"])
    row = irt_parameters(parameters, vcov).iloc[0]
    assert row["SE_a"] == 0.0 and row["SE_b"] == pytest.approx(0.1, rel=1e-8)
