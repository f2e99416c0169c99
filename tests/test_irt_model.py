"""ItemFactorModel (latentvi/irt/model.py): parameter recovery on small simulated data.

Tolerances come from sampling error: with 2,000 persons the maximum-likelihood standard errors
are about 0.06-0.10 for slopes, 0.05-0.07 for intercepts and 0.03 for a factor correlation
(mirt on the same designs), so RMSE bounds of about twice those fail only if the estimator is
off, not by chance. The full-size targets (10,000 x 50) live in benchmarks/irt_accuracy.py.
"""

import itertools
import pathlib

import numpy as np
import pandas as pd
import pytest

import latentvi as lv
from latentvi import irt
from latentvi.irt.parameters import max_exploratory_factors, n_parameters

SEED = 7


def rmse(estimate, truth):
    estimate, truth = np.asarray(estimate, float), np.asarray(truth, float)
    keep = ~np.isnan(truth)
    return float(np.sqrt(np.mean((estimate[keep] - truth[keep]) ** 2)))


def matched(slopes, truth_slopes):
    """Column order and signs of `slopes` closest to the truth (rotation is unique up to them)."""
    best = max(itertools.permutations(range(truth_slopes.shape[1])),
               key=lambda order: np.sum(np.abs(slopes[:, order] * truth_slopes)))
    signs = np.sign(np.sum(slopes[:, best] * truth_slopes, axis=0))
    return list(best), signs


@pytest.fixture(scope="module")
def two_factor():
    return irt.simulate(2000, 12, 2, factor_corr=0.4, missing_rate=0.1, seed=SEED)


@pytest.fixture(scope="module")
def confirmatory(two_factor):
    data, truth = two_factor
    return irt.ItemFactorModel(2, pattern=truth["pattern"], seed=SEED).fit(data, verbose=0)


@pytest.fixture(scope="module")
def exploratory(two_factor):
    data, _ = two_factor
    return irt.ItemFactorModel(2, rotation="oblimin", seed=SEED).fit(data, verbose=0)


@pytest.fixture(scope="module")
def graded():
    data, truth = irt.simulate(2000, 10, 1, item_type="graded", n_categories=5, seed=SEED)
    # Two items scored pass/fail at category 2: binary items whose true d is the graded d2.
    data[["item1", "item2"]] = (data[["item1", "item2"]] >= 2).astype(int)
    types = {item: "binary" if item in ("item1", "item2") else "graded" for item in data}
    model = irt.ItemFactorModel(1, item_type=types, seed=SEED).fit(data, verbose=0)
    return model, truth


def test_confirmatory_recovers_slopes_intercepts_and_correlation(confirmatory, two_factor):
    _, truth = two_factor
    items, true_items = confirmatory.items_, truth["items"]
    free = truth["pattern"].to_numpy() == 1
    slopes = items[["a1", "a2"]].to_numpy()
    assert np.all(slopes[~free] == 0)
    assert rmse(slopes[free], true_items[["a1", "a2"]].to_numpy()[free]) < 0.15
    assert rmse(items["d"], true_items["d"]) < 0.12
    assert abs(confirmatory.factor_corr_.iloc[0, 1] - 0.4) < 0.08


def test_exploratory_oblimin_recovers_the_structure(exploratory, two_factor):
    _, truth = two_factor
    true_slopes = truth["items"][["a1", "a2"]].to_numpy()
    slopes = exploratory.items_[["a1", "a2"]].to_numpy()
    order, signs = matched(slopes, true_slopes)
    # Oblimin leaves small cross-loadings where the truth has zeros: a looser bound on all slopes.
    assert rmse(slopes[:, order] * signs, true_slopes) < 0.2
    assert rmse(exploratory.items_["d"], truth["items"]["d"]) < 0.12
    correlation = exploratory.factor_corr_.to_numpy()[0, 1] * signs[0] * signs[1]
    assert abs(correlation - 0.4) < 0.1
    assert exploratory.rotation_converged_


def test_mixed_binary_and_graded_items(graded):
    model, truth = graded
    items, true_items = model.items_, truth["items"]
    assert list(items.columns) == ["a1", "d", "d1", "d2", "d3", "d4"]
    assert items.loc[["item1", "item2"], "d1"].isna().all()
    assert items.loc["item3":, "d"].isna().all()
    assert rmse(items["a1"], true_items["a1"]) < 0.12
    graded_items = [f"item{j}" for j in range(3, 11)]
    thresholds = ["d1", "d2", "d3", "d4"]
    assert rmse(items.loc[graded_items, thresholds], true_items.loc[graded_items, thresholds]) \
        < 0.15
    assert rmse(items.loc[["item1", "item2"], "d"], true_items.loc[["item1", "item2"], "d2"]) \
        < 0.15
    assert model.category_map_["item3"] == {k: k for k in range(5)}


def test_parameter_counts_follow_mirt(confirmatory, exploratory, graded):
    # 12 items: 12 free slopes + 12 intercepts + 1 correlation (confirmatory);
    # 24 slopes + 12 intercepts - 1 rotational indeterminacy (exploratory);
    # graded: 10 slopes + 2 binary intercepts + 8 x 4 thresholds.
    assert confirmatory.n_parameters_ == 25
    assert exploratory.n_parameters_ == 35
    assert graded[0].n_parameters_ == 10 + 2 + 32


def test_history_is_the_fit_table_and_the_rule_stopped_the_fit(confirmatory):
    history = confirmatory.history_
    assert isinstance(history, pd.DataFrame)
    assert {"epoch", "bound", "monitor_bound", "seconds"} <= set(history.columns)
    assert confirmatory.converged_ is True
    settings = confirmatory.settings_
    assert len(history) * settings["check_steps"] < settings["max_steps"]
    # The monitored bound uses fixed persons and fixed draws, so its changes are the weights':
    # after the annealing phase it is within the rule's tolerance of (or above) its best value.
    monitored = history["monitor_bound"]
    assert monitored.iloc[-1] > monitored.max() - settings["tol"]


def test_equal_slopes_model_has_one_slope():
    data, _ = irt.simulate(1000, 8, 1, seed=SEED)
    model = irt.ItemFactorModel(1, equal_slopes=True, seed=SEED).fit(data, epochs=40,
                                                                     verbose=0)
    assert model.items_["a1"].nunique() == 1
    assert model.n_parameters_ == 1 + 8


@pytest.mark.parametrize("settings, message", [
    ({"rotation": "promax"}, "rotation must be one of"),
    ({"n_factors": 0}, "n_factors"),
    ({"iw_samples": 0}, "iw_samples"),
    ({"n_factors": 2, "equal_slopes": True}, "equal_slopes"),
    ({"n_factors": 2, "pattern": pd.DataFrame({"F1": [1, 1, 1]}, index=["a", "b", "c"])},
     "pattern has 1 columns"),
    ({"pattern": pd.DataFrame({"F1": [1, 0, 1]}, index=["a", "b", "c"])}, r"items \['b'\]"),
    ({"n_factors": 4}, r"n_factors=4 is more than the 3 items"),
    ({"n_factors": 2}, r"exploratory model of 3 items: at most 1 \(the Ledermann bound\)"),
    ({"n_factors": 4, "pattern": pd.DataFrame(1, index=["a", "b", "c"], columns=list("ABCD"))},
     r"at most 3 factors$"),
    ({"items": ["a", "z"]}, r"not in the data: \['z'\]"),
    ({"max_categories": 1}, "max_categories"),
])
def test_bad_settings_raise_naming_them(settings, message):
    data = pd.DataFrame({"a": [0, 1, 1, 0], "b": [1, 1, 0, 0], "c": [0, 0, 1, 1]})
    with pytest.raises(ValueError, match=message):
        irt.ItemFactorModel(**settings).fit(data, epochs=1, verbose=0)


def test_two_items_are_too_few_for_an_exploratory_model():
    data = pd.DataFrame({"a": [0, 1, 1, 0], "b": [1, 1, 0, 0]})
    with pytest.raises(ValueError, match="needs at least 3 items"):
        irt.ItemFactorModel(1).fit(data, epochs=1, verbose=0)


def test_the_ledermann_bound_is_the_largest_identified_number_of_factors():
    # (J - D)^2 >= J + D: the exploratory model has no more parameters than correlations.
    for n_items in range(1, 200):
        largest = max(d for d in range(n_items + 1) if (n_items - d) ** 2 >= n_items + d)
        assert max_exploratory_factors(n_items) == largest
    assert [max_exploratory_factors(j) for j in (3, 5, 6, 10)] == [1, 2, 3, 6]


def test_a_non_positive_parameter_count_raises():
    # 100 exploratory factors on 6 binary items: 600 slopes + 6 intercepts - 4,950 rotations.
    with pytest.raises(ValueError, match="-4344 free parameters"):
        n_parameters(np.full(6, 2), None, 100, equal_slopes=False, correlated=False)


def test_results_need_a_fit():
    with pytest.raises(RuntimeError, match="not fitted"):
        irt.ItemFactorModel().score(pd.DataFrame({"a": [0, 1]}))


@pytest.mark.parametrize("fixture", ["confirmatory", "graded"])
def test_saved_model_loads_with_the_same_results(fixture, request, tmp_path):
    # A confirmatory model (pattern, correlations) and a mixed-type one (item_type dict, graded
    # category map): every fitted table comes back exactly, and the network gives the same
    # scores (same weights, same seeded draws) to float32 round-off.
    model = request.getfixturevalue(fixture)
    model = model[0] if isinstance(model, tuple) else model
    path = tmp_path / "model.lvirt"
    model.save(path)
    loaded = irt.load(path)
    for name in ("items_", "factor_corr_", "history_"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(model, name))
    assert loaded.category_map_ == model.category_map_
    assert loaded.item_types_ == model.item_types_ and loaded.item_type == model.item_type
    assert (loaded.n_parameters_, loaded.settings_) == (model.n_parameters_, model.settings_)
    data = pd.DataFrame({item: [min(codes), max(codes), min(codes)]
                         for item, codes in model.category_map_.items()})
    np.testing.assert_allclose(loaded.score(data), model.score(data), rtol=1e-5, atol=1e-6)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path)


def test_loading_a_file_that_is_not_a_saved_model_says_so(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("a,b\n0,1\n")
    with pytest.raises(ValueError, match="not a file written by ItemFactorModel.save"):
        irt.load(path)
    with pytest.raises(FileNotFoundError, match="no saved model"):
        irt.load(tmp_path / "missing.lvirt")


def test_a_file_saved_before_item_types_were_objects_still_loads():
    # tests/data/graded_2pl_v2.lvirt was written by latentvi before `latentvi.irt.items`
    # (format version 2: the graded intercepts were weights of the likelihood itself). The
    # numbers below were computed from it by that version; the same weights and the same seed
    # give the same draws, so they must agree to float32 rounding.
    folder = pathlib.Path(__file__).parent / "data"
    model = irt.load(folder / "graded_2pl_v2.lvirt")
    data = pd.read_csv(folder / "graded_2pl_v2.csv", index_col=0)
    assert model.item_types_["item1"] == "2PL" and model.item_types_["item2"] == "graded"
    # the raw importance-sampled estimate with that version's draws (100 per person, batches
    # of 100 rows); `log_likelihood` now adds the delta method's bias correction on top
    responses = model._encode(data)
    raw = lv.log_marginal_likelihood(model.model_, responses.codes, num_samples=100,
                                     mask=responses.mask, seed=model.seed)
    assert float(np.sum(raw)) == pytest.approx(-229.1842040645814, abs=1e-3)
    # that version's sampled scores (1,000 independent draws from q: Monte Carlo error of
    # ~0.02 in the EAP, ~0.03 in the SD) against today's exact ones; and today's adaptive
    # quasi-random sampling against quadrature (one factor: exact to ~1e-5)
    exact = model.score(data.iloc[:3]).to_numpy()
    np.testing.assert_allclose(exact, [[-1.9473763704299927, 0.6132042407989502],
                                       [-1.589874029159546, 0.5883310437202454],
                                       [0.08035743236541748, 0.5451146960258484]], atol=0.04)
    np.testing.assert_allclose(model.score(data.iloc[:3], integration="sampling").to_numpy(),
                               exact, atol=1e-4)
    assert list(model.items_.columns) == ["a1", "d", "d1", "d2"]


def test_polytomous_items_identify_more_exploratory_factors():
    # Four binary items identify one exploratory factor (Ledermann); four 4-category items
    # carry more than their correlations and mirt fits two factors to them (Science):
    # 2 x 4 - 1 slopes + 12 intercepts = 19 <= 4^4 - 1 response-pattern degrees of freedom.
    from latentvi.irt.parameters import check_n_factors, pattern_bound
    assert pattern_bound([4, 4, 4, 4]) == 3
    check_n_factors(2, 4, exploratory=True, n_categories=[4, 4, 4, 4])
    with pytest.raises(ValueError, match="Ledermann"):
        check_n_factors(2, 4, exploratory=True, n_categories=[2, 2, 2, 2])
