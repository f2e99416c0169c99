"""Standard errors (latentvi.irt.standard_errors) against mirt 1.47 and against the inverse of a
finite-difference Hessian of the exact log-likelihood written independently in NumPy."""

import pathlib

import numpy as np
import pandas as pd
import pytest
from irt_quadrature import log_likelihood

from latentvi import irt
from latentvi.irt.item_parameters import ItemParameters

SCIENCE = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "psychometrics" / \
    "science.csv"
needs_science = pytest.mark.skipif(not SCIENCE.exists(), reason="Science data not on this machine")

# mirt(LSAT7, 1, SE = TRUE, SE.type = ...): SE of a, then of d, items 1-5.
MIRT_LSAT7 = {
    "observed": ([0.1772, 0.1688, 0.3204, 0.1341, 0.1512], [0.1315, 0.0913, 0.2044, 0.0749, 0.1144]),
    "sandwich": ([0.1901, 0.1774, 0.3288, 0.1385, 0.1566], [0.1346, 0.0917, 0.2088, 0.0752, 0.1149]),
    "crossprod": ([0.1764, 0.1694, 0.3210, 0.1353, 0.1534],
                  [0.1305, 0.0914, 0.2042, 0.0748, 0.1146]),
}
# mirt(Science, 1) graded, SE.type Oakes: SE of a, d1, d2, d3 per item.
MIRT_SCIENCE = np.array([[0.1883, 0.4907, 0.2226, 0.1586], [0.1819, 0.2393, 0.1429, 0.2031],
                         [0.4841, 0.7303, 0.3573, 0.3229], [0.1833, 0.2765, 0.1405, 0.1686]])


@pytest.mark.parametrize("method", ["observed", "sandwich", "crossprod"])
def test_lsat7_standard_errors_match_mirt(lsat7_2pl, lsat7, method):
    se = lsat7_2pl.standard_errors(lsat7, method=method)
    a, d = MIRT_LSAT7[method]
    # The 5%; measured within 0.3% for all three (mirt's values have 4 decimals, and
    # mirt's Oakes identity differentiates numerically).
    np.testing.assert_allclose(se.items["a1"], a, rtol=0.01)
    np.testing.assert_allclose(se.items["d"], d, rtol=0.01)
    assert se.method == method and se.vcov.shape == (10, 10)
    np.testing.assert_allclose(np.sqrt(np.diag(se.vcov))[:5], se.items["a1"], rtol=1e-12)


@needs_science
def test_science_graded_standard_errors_match_mirt():
    science = pd.read_csv(SCIENCE)
    model = irt.ItemFactorModel(1, item_type="graded", seed=1).fit(science, verbose=0)
    se = model.standard_errors(science)
    # The 5%; measured within 0.4% (Future's, the largest SEs, 0.4% above mirt's).
    np.testing.assert_allclose(se.items.to_numpy(), MIRT_SCIENCE, rtol=0.01)


def _numeric_covariance(negative_log_likelihood, at, step=1e-3):
    """Inverse of the central finite-difference Hessian (error ~ step^2 * 4th derivative)."""
    n = len(at)
    hessian = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            shifts = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
            values = []
            for si, sj in shifts:
                point = np.array(at, float)
                point[i] += si * step
                point[j] += sj * step
                values.append(negative_log_likelihood(point))
            hessian[i, j] = hessian[j, i] = (values[0] - values[1] - values[2] + values[3]) / (
                4 * step**2)
    return np.linalg.inv(hessian)


def test_equal_slopes_and_a_fixed_intercept_have_the_constrained_information(lsat7):
    first = irt.ItemFactorModel(1, seed=0).fit(lsat7, epochs=2, verbose=0)
    table = first.parameters()
    table.loc[table["name"] == "a1", "equal"] = "a"
    table.loc[(table["item"] == "item4") & (table["name"] == "d"), ["value", "estimated"]] = \
        [0.5, False]
    model = irt.ItemFactorModel(1, seed=0, parameters=table).fit(lsat7, verbose=0)
    se = model.standard_errors(lsat7)
    assert np.isnan(se.items.loc["item4", "d"])

    def negative(free):  # (a, d1, d2, d3, d5) with d4 = 0.5
        d = np.r_[free[1:4], 0.5, free[4]]
        parameters = ItemParameters.from_arrays(np.full(5, free[0]), d,
                                                items=list(lsat7.columns))
        return -log_likelihood(parameters, lsat7.to_numpy())

    at = np.r_[model.items_["a1"].iloc[0], model.items_["d"].iloc[[0, 1, 2, 4]]]
    expected = np.sqrt(np.diag(_numeric_covariance(negative, at)))
    # finite differences of the 61-node likelihood: ~1e-5 relative; the fit is at the
    # maximum to ~1e-3, which moves the curvature by less than 0.1%
    np.testing.assert_allclose(se.items["a1"], expected[0], rtol=0.005)
    np.testing.assert_allclose(se.items["d"].iloc[[0, 1, 2, 4]], expected[1:], rtol=0.005)


def test_confirmatory_two_factor_standard_errors_include_the_correlation():
    truth = ItemParameters.from_arrays(
        [[1.2, 0], [0.9, 0], [1.5, 0], [0, 1.1], [0, 1.4], [0, 0.8]],
        [0.3, -0.5, 0.8, 0.0, -0.2, 0.6])
    data, _ = irt.simulate(800, parameters=truth, factor_corr=0.4, seed=3)
    pattern = pd.DataFrame((truth.slopes != 0).astype(int), index=truth.items,
                           columns=["F1", "F2"])
    model = irt.ItemFactorModel(2, pattern=pattern, seed=0).fit(data, verbose=0)
    se = model.standard_errors(data)
    codes = data.to_numpy()
    rows = np.nonzero(pattern.to_numpy())

    def negative(free):  # six slopes, six intercepts, the correlation
        a = np.zeros((6, 2))
        a[rows] = free[:6]
        parameters = ItemParameters.from_arrays(a, free[6:12], items=truth.items)
        corr = np.array([[1.0, free[12]], [free[12], 1.0]])
        return -log_likelihood(parameters, codes, n_nodes=31, factor_corr=corr)

    slopes = model.items_[["a1", "a2"]].to_numpy()[rows]
    at = np.r_[slopes, model.items_["d"], model.factor_corr_.iloc[1, 0]]
    expected = np.sqrt(np.diag(_numeric_covariance(negative, at)))
    found = np.r_[se.items[["a1", "a2"]].to_numpy()[rows], se.items["d"],
                  se.factor_corr.iloc[1, 0]]
    # 31 x 31 fixed nodes against 11 x 11 adaptive ones: both ~1e-5 accurate; 1% covers the
    # finite differences
    np.testing.assert_allclose(found, expected, rtol=0.01)
    assert np.isnan(se.items.loc["item1", "a2"])


def test_standard_errors_refuse_what_they_cannot_do(lsat7_2pl, lsat7):
    with pytest.raises(ValueError, match="method must be one of"):
        lsat7_2pl.standard_errors(lsat7, method="oakes")
    data, _ = irt.simulate(300, 6, 2, seed=0)
    unrotated = irt.ItemFactorModel(2, seed=0, rotation=None).fit(data, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="unrotated exploratory model"):
        unrotated.standard_errors(data)
