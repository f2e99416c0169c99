"""Zh, infit and outfit (latentvi.irt.person_fit; m.item_fit, m.person_fit) against mirt 1.47
on LSAT7 and against their sampling distribution under the model."""

import numpy as np
import pytest

from latentvi import irt
from latentvi.irt import person_fit, score_methods

# mirt itemfit(m, fit_stats = c('Zh', 'infit')) on LSAT7: Zh, outfit, z.outfit, infit, z.infit
MIRT_ITEMS = np.array([
    [1.433, 0.776, -3.143, 0.958, -0.703],
    [6.354, 0.737, -7.767, 0.816, -6.363],
    [5.311, 0.485, -7.052, 0.750, -5.213],
    [5.804, 0.855, -6.567, 0.881, -5.811],
    [0.697, 0.866, -1.903, 0.989, -0.154]])
# mirt personfit(m) for the all-zero pattern: outfit, z.outfit, infit, z.infit, Zh
MIRT_ALL_ZERO = [0.7118, -0.5608, 0.7851, -0.4618, 0.5807]
# mirt's 2PL estimates (a, d) on LSAT7, 4 decimals
MIRT_A = [0.9879, 1.0809, 1.7058, 0.7652, 0.7358]
MIRT_D = [1.8561, 0.8080, 1.8042, 0.4860, 1.8545]
ITEM_COLUMNS = ["Zh", "outfit", "z_outfit", "infit", "z_infit"]


def _mirt_items():
    return irt.ItemParameters.from_arrays(np.array(MIRT_A)[:, None], np.array(MIRT_D), "2PL")


def test_formulas_reproduce_mirt_at_mirts_estimates(lsat7):
    parameters, codes = _mirt_items(), lsat7.to_numpy()
    theta, _ = score_methods.pattern_scores(parameters, codes, method="eap")
    table = person_fit.item_statistics(parameters, codes, None, theta)
    # at mirt's own parameters (4 decimals) the statistics agree to mirt's 3 printed decimals
    np.testing.assert_allclose(table[ITEM_COLUMNS].to_numpy(), MIRT_ITEMS, atol=0.0015)
    persons = person_fit.person_statistics(parameters, codes, None, theta)
    np.testing.assert_allclose(persons[codes.sum(axis=1) == 0].iloc[0], MIRT_ALL_ZERO,
                               atol=2e-4)


def test_fitted_model_matches_mirt(lsat7_2pl, lsat7):
    table = lsat7_2pl.item_fit(lsat7)
    assert list(table.columns) == ITEM_COLUMNS + ["S_X2", "df", "RMSEA_S_X2", "p_S_X2"]
    # the tolerance, 2% or 0.01 absolute; the refined fit is within 0.002 of mirt's
    # estimates, which moves these statistics by < 0.5%
    np.testing.assert_allclose(table[ITEM_COLUMNS].to_numpy(), MIRT_ITEMS, rtol=0.02, atol=0.01)
    persons = lsat7_2pl.person_fit(lsat7)
    assert persons.index.equals(lsat7.index)
    all_zero = persons[lsat7.sum(axis=1).to_numpy() == 0].iloc[0]
    np.testing.assert_allclose(all_zero, MIRT_ALL_ZERO, rtol=0.02, atol=0.01)
    only = lsat7_2pl.item_fit(lsat7, fit_stats="Zh")
    assert list(only.columns) == ["Zh"]


def test_missing_answers_count_only_where_observed():
    parameters = _mirt_items()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2, size=(50, 5)).astype(float)
    theta = rng.normal(size=(50, 1))
    codes[:, 4] = np.nan
    full = person_fit.person_statistics(parameters, codes, None, theta)
    four = person_fit.person_statistics(parameters.subset(parameters.items[:4]),
                                        codes[:, :4], None, theta)
    # a missing item contributes nothing: the same as a test without it, to rounding
    np.testing.assert_allclose(full.to_numpy(), four.to_numpy(), rtol=1e-12)
    codes[3] = np.nan
    assert person_fit.person_statistics(parameters, codes, None, theta).iloc[3].isna().all()
    items = person_fit.item_statistics(parameters, codes, None, theta)
    assert items.loc["item5"].isna().all() and items.loc["item1"].notna().all()


def test_zh_is_standard_normal_under_the_model_and_flags_aberrant_persons():
    data, truth = irt.simulate(3000, 40, 1, seed=5)
    parameters, theta = truth["parameters"], truth["theta"].to_numpy()
    codes = data.to_numpy().copy()
    codes[:30] = 1 - codes[:30]  # 1% of persons answer every item backwards
    table = person_fit.person_statistics(parameters, codes, None, theta)
    fitting = table.iloc[30:]
    # at the true theta each Zh is a standardized sum of 40 independent terms: mean 0, SD 1 up
    # to the skew of small sums (measured -0.07 and 0.99); 2,970 persons put the mean's
    # standard error at 0.02
    assert abs(fitting["Zh"].mean()) < 0.12
    assert abs(fitting["Zh"].std() - 1.0) < 0.08
    # the infit and outfit mean squares have expectation 1 under the model
    assert abs(fitting["infit"].mean() - 1.0) < 0.03
    assert abs(fitting["outfit"].mean() - 1.0) < 0.05
    # reversed answer strings are far in the lower tail
    assert (table["Zh"].iloc[:30] < -3).all()
    assert (table["z_outfit"].iloc[:30] > 2).all()


def test_bad_input_is_named():
    parameters = _mirt_items()
    codes = np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"theta must be \[n, D\] = \[4, 1\]"):
        person_fit.person_statistics(parameters, codes, None, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="theta has NaN in row 2"):
        person_fit.person_statistics(parameters, codes, None, np.array([0, 0, np.nan, 0]))
    with pytest.raises(ValueError, match="item 'item1' \\(K = 2\\) has 3 in row 0"):
        person_fit.item_statistics(parameters, np.where(np.eye(4, 5) > 0, 3, 0), None,
                                   np.zeros(4))


def test_model_methods_reject_bad_arguments(lsat7_2pl, lsat7):
    with pytest.raises(ValueError, match="fit_stats"):
        lsat7_2pl.item_fit(lsat7, fit_stats=["S_X2", "G2"])
    with pytest.raises(ValueError, match="method"):
        lsat7_2pl.person_fit(lsat7, method="median")


def test_infinite_ml_scores_are_replaced_as_mirt(lsat7_2pl, lsat7):
    # ML gives -inf / +inf to the all-0 / all-1 patterns: mirt puts them 0.1 beyond the
    # finite range, so every person gets finite statistics
    persons = lsat7_2pl.person_fit(lsat7, method="ml")
    assert np.isfinite(persons.to_numpy()).all()
    theta = lsat7_2pl.score(lsat7, method="ml").iloc[:, 0].to_numpy()
    finite = theta[np.isfinite(theta)]
    replaced = person_fit.finite_scores(theta, len(theta), 1)[:, 0]
    assert replaced.min() == pytest.approx(finite.min() - 0.1)
    assert replaced.max() == pytest.approx(finite.max() + 0.1)


def test_s_x2_on_too_few_persons_is_nan_with_a_warning(lsat7_2pl, lsat7):
    with pytest.warns(UserWarning, match=r"S-X2 is NaN for 5 item\(s\).*30 complete rows"):
        table = lsat7_2pl.item_fit(lsat7.iloc[:30])
    assert table["S_X2"].isna().all() and table["Zh"].notna().all()
