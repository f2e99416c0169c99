"""Local dependence (latentvi.irt.residuals): LD X2, signed Cramer's V and Q3 against mirt 1.47."""

import numpy as np
import pytest

from latentvi import irt

PAIRS = [(1, 2), (1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5), (3, 4), (3, 5), (4, 5)]
# mirt residuals(m, type = 'LD') on LSAT7: X2 (lower triangle) and signed V (upper), and
# residuals(m, type = 'Q3'), for the pairs above.
MIRT_X2 = [0.453, 0.854, 2.572, 2.389, 1.060, 0.267, 1.384, 0.153, 0.003, 0.000]
MIRT_V = [-0.021, -0.029, 0.051, 0.049, 0.033, -0.016, -0.037, -0.012, -0.002, 0.000]
MIRT_Q3 = [-0.135, -0.214, -0.012, 0.009, -0.163, -0.134, -0.125, -0.170, -0.115, -0.055]


@pytest.fixture(scope="module")
def fitted(lsat7_2pl, lsat7):
    return lsat7_2pl, lsat7


def _pairs(table, upper):
    values = table.to_numpy()
    return np.array([values[a - 1, b - 1] if upper else values[b - 1, a - 1] for a, b in PAIRS])


def test_lsat7_local_dependence_matches_mirt(fitted):
    model, data = fitted
    table = model.residuals(data)
    # The 2% or 0.01 absolute: measured within 0.007 (X2, on mirt's 3 decimals and
    # its parameters' last digits) and 0.001 (V)
    np.testing.assert_allclose(_pairs(table, upper=False), MIRT_X2, rtol=0.02, atol=0.01)
    np.testing.assert_allclose(_pairs(table, upper=True), MIRT_V, atol=0.0015)
    assert np.isnan(np.diag(table.to_numpy())).all()


def test_lsat7_q3_matches_mirt(fitted):
    model, data = fitted
    table = model.residuals(data, type="Q3")
    # measured within 0.001 of mirt's 3 decimals
    np.testing.assert_allclose(_pairs(table, upper=True), MIRT_Q3, atol=0.0015)
    np.testing.assert_allclose(table.to_numpy(), table.to_numpy().T)
    with pytest.raises(ValueError, match="type must be one of"):
        model.residuals(data, type="G2")


def test_a_missed_dependence_shows_in_ld_and_q3():
    # Item 2 copies item 1 for 15% of the persons: a dependence the one-factor model cannot
    # explain. Measured: LD X2 10.2 for the pair against at most 3.3 elsewhere, V +0.06; Q3,
    # negative for every pair of a 6-item test (about -1/(J-1)), is highest for the pair in
    # both items' rows (-0.107 against -0.130 and below).
    data, _ = irt.simulate(3000, 6, 1, seed=4)
    rng = np.random.default_rng(0)
    copied = rng.random(len(data)) < 0.15
    data.loc[copied, data.columns[1]] = data.loc[copied, data.columns[0]]
    model = irt.ItemFactorModel(1, seed=0).fit(data, verbose=0)
    ld = model.residuals(data).to_numpy()
    q3 = model.residuals(data, type="Q3").to_numpy()
    others = [(a, b) for a in range(6) for b in range(a) if (a, b) != (1, 0)]
    assert ld[1, 0] > 2.5 * max(ld[a, b] for a, b in others) and ld[0, 1] > 0
    for row in (0, 1):
        rest = [q3[row, k] for k in range(6) if k not in (0, 1)]
        assert q3[0, 1] > max(rest)
