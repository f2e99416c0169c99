"""S-X2 item fit (latentvi.irt.item_fit) against mirt 1.47's itemfit(fit) (default 'S_X2').

No model is fitted: the items are mirt's estimates, printed to 4 decimals. Perturbing every
parameter by up to 5e-5 moves S-X2 by well under 0.1% on these data, so 2% on S-X2 and 0.005 on
RMSEA and p are loose bounds for rounding (the port reproduces mirt's printed values to their
3 decimals). df is an integer count of collapsed cells and must match exactly.
"""

import pathlib

import numpy as np
import pandas as pd
import pytest

from latentvi import irt
from latentvi.datasets import load_lsat7
from latentvi.irt.item_fit import collapse_cells, s_x2
from latentvi.irt.item_parameters import ItemParameters

SCIENCE = (pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "psychometrics"
           / "science.csv")

# mirt(LSAT7, 1) estimates and itemfit(fit): S_X2, df.S_X2, RMSEA.S_X2, p.S_X2.
LSAT7_A = [0.9879, 1.0809, 1.7058, 0.7652, 0.7358]
LSAT7_D = [1.8561, 0.8080, 1.8042, 0.4860, 1.8545]
LSAT7_FIT = {"item1": (4.749, 2, 0.037, 0.093), "item2": (14.453, 2, 0.079, 0.001),
             "item3": (1.270, 2, 0.000, 0.530), "item4": (5.238, 2, 0.040, 0.073),
             "item5": (0.941, 2, 0.000, 0.625)}

# mirt(Science, 1) (graded, slope-intercept) and itemfit(fit): S_X2, df.S_X2.
SCIENCE_A = [1.0418, 1.2260, 2.2934, 1.0949]
SCIENCE_D = [[4.8642, 2.6399, -1.4660], [2.9240, 0.9012, -2.2666],
             [5.2340, 2.2138, -1.9637], [3.3479, 0.9916, -1.6883]]
SCIENCE_FIT = {"Comfort": (4.774, 6), "Work": (8.756, 9), "Future": (7.543, 8),
               "Benefit": (9.928, 11)}


@pytest.fixture(scope="module")
def lsat7():
    frame = load_lsat7()
    parameters = ItemParameters.from_arrays(LSAT7_A, LSAT7_D, item_type="2PL",
                                            items=list(frame.columns))
    return parameters, frame.to_numpy()


@pytest.fixture(scope="module")
def science():
    if not SCIENCE.exists():
        pytest.skip("the Science data (../shared/data/psychometrics) is not on this machine")
    frame = pd.read_csv(SCIENCE)
    parameters = ItemParameters.from_arrays(SCIENCE_A, SCIENCE_D, item_type="graded",
                                            items=list(frame.columns))
    return parameters, frame.to_numpy() - 1


def test_lsat7_matches_mirt(lsat7):
    parameters, codes = lsat7
    table = s_x2(parameters, codes)
    assert list(table.columns) == ["S_X2", "df", "RMSEA_S_X2", "p_S_X2"]
    assert list(table.index) == list(LSAT7_FIT)
    for item, (value, df, rmsea, p) in LSAT7_FIT.items():
        row = table.loc[item]
        assert row.S_X2 == pytest.approx(value, rel=0.02)
        assert row.df == df
        assert row.RMSEA_S_X2 == pytest.approx(rmsea, abs=0.005)
        assert row.p_S_X2 == pytest.approx(p, abs=0.005)


def test_science_graded_matches_mirt(science):
    # Polytomous items exercise every step of mirt's collapseCells (incomplete extreme rows,
    # collapsing across categories, then across scores): df must come out exactly as mirt's.
    parameters, codes = science
    table = s_x2(parameters, codes)
    for item, (value, df) in SCIENCE_FIT.items():
        assert table.loc[item, "S_X2"] == pytest.approx(value, rel=0.02)
        assert table.loc[item, "df"] == df


def test_incomplete_rows_are_left_out(lsat7):
    parameters, codes = lsat7
    padded = np.vstack([codes, [[np.nan, 1, 0, 1, 1]]])
    pd.testing.assert_frame_equal(s_x2(parameters, padded), s_x2(parameters, codes))
    row = int(np.flatnonzero(codes.sum(axis=1) == 2)[0])  # a score that enters the tables
    mask = np.ones(codes.shape, bool)
    mask[row, 0] = False
    dropped = s_x2(parameters, np.delete(codes, row, axis=0))
    pd.testing.assert_frame_equal(s_x2(parameters, codes, mask=mask), dropped)
    assert not np.allclose(dropped.S_X2, s_x2(parameters, codes).S_X2)


@pytest.mark.parametrize("item_type", ["2PL", "graded"])
def test_simulated_from_the_model_is_near_chi_square(item_type):
    # With the generating (not estimated) parameters no degrees of freedom are spent on
    # estimation, so S-X2 is close to chi-square with df + (item's free parameters) degrees of
    # freedom: mean S-X2 should be near mean(df + n_free) and above mean(df). 20 replications
    # x J items give a standard error of about 4% on the mean; the bounds are about 3 SE.
    rng = np.random.default_rng(1)
    if item_type == "2PL":
        n_items, n_free = 10, 2
        parameters = ItemParameters.from_arrays(rng.uniform(0.8, 2.0, n_items),
                                                rng.normal(0.0, 1.0, n_items))
    else:
        n_items, n_free = 6, 4
        steps = -np.sort(rng.normal(0.0, 1.5, (n_items, 3)), axis=1)
        parameters = ItemParameters.from_arrays(rng.uniform(0.8, 2.0, n_items), steps,
                                                item_type="graded")
    values, dfs = [], []
    for seed in range(20):
        responses, _ = irt.simulate(1000, parameters=parameters, seed=seed)
        table = s_x2(parameters, responses.to_numpy())
        values.append(table.S_X2.to_numpy())
        dfs.append(table.df.to_numpy())
    values, dfs = np.concatenate(values), np.concatenate(dfs)
    assert np.all(dfs > 0) and np.all(np.isfinite(values))
    assert values.mean() == pytest.approx(dfs.mean() + n_free, rel=0.12)
    assert values.mean() > dfs.mean()


def test_collapse_merges_small_score_rows():
    # dichotomous table; the row with E = (0.5, 0.7) is merged into its neighbour with the
    # smaller observed total (row 0: total 3 < row 2: total 9)
    observed = np.array([[2.0, 1.0], [1.0, 1.0], [4.0, 5.0], [3.0, 6.0]])
    expected = np.array([[1.5, 1.5], [0.5, 0.7], [4.5, 4.5], [3.5, 5.5]])
    o, e = collapse_cells(observed, expected, mincell=1.0)
    np.testing.assert_allclose(o, [[3.0, 2.0], [4.0, 5.0], [3.0, 6.0]])
    np.testing.assert_allclose(e, [[2.0, 2.2], [4.5, 4.5], [3.5, 5.5]])
    # mincell = 0 keeps the table as it is
    o, e = collapse_cells(observed, expected, mincell=0.0)
    np.testing.assert_allclose(e, expected)


def test_bad_input_raises(lsat7):
    parameters, codes = lsat7
    two_factor = ItemParameters.from_arrays(np.ones((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="correlation must be a 2 x 2"):
        s_x2(two_factor, codes, correlation=np.eye(3))
    with pytest.raises(ValueError, match="codes must be"):
        s_x2(parameters, codes[:, :4])
    with pytest.raises(ValueError, match="codes must be"):
        s_x2(parameters, codes[:, 0])
    with pytest.raises(ValueError, match="at least 2 complete rows"):
        s_x2(parameters, codes[:1])
    with pytest.raises(ValueError, match="categories"):
        s_x2(parameters, np.where(codes == 1, 2, codes))
    with pytest.raises(ValueError, match="mask"):
        s_x2(parameters, codes, mask=np.ones((3, 5), bool))
    with pytest.raises(ValueError, match="variance"):
        s_x2(parameters, codes, variance=0.0)
    with pytest.raises(ValueError, match="variance"):
        s_x2(two_factor, codes, variance=[1.0, -1.0])


@pytest.mark.parametrize("n_factors", [2, 4])
def test_several_factors_near_chi_square_at_the_truth(n_factors):
    # As the one-factor test above, for 2 factors (product Gauss-Hermite) and 4 (quasi-Monte
    # Carlo): at the generating parameters mean S-X2 is near mean(df + n_free), n_free = the
    # item's nonzero slopes (1, simple structure) + its intercept. 12 items x 10 replications
    # of 2,000 persons: SE of the mean about 4%; 12% allowed (3 SE). An integration error in
    # the expected counts would add to every cell and push the mean up.
    _, truth = irt.simulate(10, 12, n_factors, factor_corr=0.4, seed=n_factors)
    parameters, correlation = truth["parameters"], truth["factor_corr"].to_numpy()
    values, dfs = [], []
    for seed in range(10):
        responses, _ = irt.simulate(2000, parameters=parameters, factor_corr=correlation,
                                    seed=seed)
        table = s_x2(parameters, responses.to_numpy(), correlation=correlation)
        values.append(table.S_X2.to_numpy())
        dfs.append(table.df.to_numpy())
    values, dfs = np.concatenate(values), np.concatenate(dfs)
    assert np.all(dfs > 0) and np.all(np.isfinite(values))
    assert values.mean() == pytest.approx(dfs.mean() + 2, rel=0.12)
    assert values.mean() > dfs.mean()


@pytest.mark.parametrize("n_factors", [2, 4])
def test_perfectly_correlated_factors_give_the_one_factor_statistic(n_factors, lsat7):
    # LSAT7's items spread over D factors correlated 1 - 1e-9 are the one-factor model: the
    # same S-X2 up to the integration rules (mirt's 61-point grid for one factor; Gauss-Hermite
    # for 2, 4,096 Sobol points for 4, all on the same 1-D integrals here): 0.1% allowed
    # (measured 2e-6 and 2e-5 relative).
    parameters, codes = lsat7
    one = s_x2(parameters, codes)
    slopes = np.zeros((5, n_factors))
    slopes[np.arange(5), np.arange(5) % n_factors] = parameters.slopes[:, 0]
    spread = parameters.with_slopes(slopes, [f"F{d + 1}" for d in range(n_factors)])
    correlation = np.full((n_factors, n_factors), 1 - 1e-9) + 1e-9 * np.eye(n_factors)
    several = s_x2(spread, codes, correlation=correlation)
    np.testing.assert_allclose(several.S_X2, one.S_X2, rtol=0.001)
    np.testing.assert_array_equal(several.df, one.df)


def test_a_fitted_model_gives_mirts_item_fit():
    data = load_lsat7()
    model = irt.ItemFactorModel(1, seed=0).fit(data, verbose=0)
    table = model.item_fit(data)
    # the refined fit is mirt's maximum to 0.002: S-X2 within 2% (the tolerance)
    np.testing.assert_allclose(table["S_X2"], [4.749, 14.453, 1.270, 5.238, 0.941], rtol=0.02)
    assert table["df"].tolist() == [2] * 5
