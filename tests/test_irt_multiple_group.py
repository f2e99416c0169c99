"""Multiple groups, invariance, DIF, latent regression and plausible values.

Data (tests/data, simulated by `irt.simulate_groups`, seeds in benchmarks/irt_groups.py's
style): two_groups.csv, 1,000 + 1,000 persons, 10 binary items; group B has N(0.5, 1.2^2)
traits and DIF in items 1 (intercept +0.6), 2 (intercept -0.6) and 3 (slope +0.8).
latent_regression.csv, 1,500 persons, the same 10 items, theta = 0.5 x1 - 0.7 x2 + N(0, 1).
"""

import pathlib

import numpy as np
import pandas as pd
import pytest

from latentvi import irt

DATA = pathlib.Path(__file__).parent / "data"
ITEMS = [f"item{j}" for j in range(1, 11)]
FREE_LATENT = ["free_means", "free_var"]


@pytest.fixture(scope="module")
def two_groups():
    return pd.read_csv(DATA / "two_groups.csv")


@pytest.fixture(scope="module")
def anchored(two_groups):
    return irt.ItemFactorModel(1, invariance=FREE_LATENT, anchors=ITEMS[3:], seed=1).fit(
        two_groups, group="group", verbose=0)


@pytest.fixture(scope="module")
def invariant(two_groups):
    return irt.ItemFactorModel(1, invariance=["slopes", "intercepts"] + FREE_LATENT,
                               seed=1).fit(two_groups, group="group", verbose=0)


@pytest.fixture(scope="module")
def regression():
    data = pd.read_csv(DATA / "latent_regression.csv")
    model = irt.ItemFactorModel(1, seed=1).fit(data, covariates=["x1", "x2"], verbose=0)
    return data, model


def test_anchored_group_mean_and_sd_within_two_standard_errors(anchored, two_groups):
    # The truth is N(0.5, 1.2^2); a correct estimate with a correct SE lies within 2 SE with
    # probability 0.95 (benchmarks/irt_groups.py recovery checks the rate over replications)
    errors = anchored.standard_errors(two_groups)
    mean, variance = anchored.group_parameters_.loc["B", ["MEAN_1", "COV_11"]]
    se_mean, se_variance = errors.group_parameters.loc["B", ["MEAN_1", "COV_11"]]
    assert abs(mean - 0.5) < 2 * se_mean
    sd, se_sd = np.sqrt(variance), se_variance / (2 * np.sqrt(variance))
    assert abs(sd - 1.2) < 2 * se_sd
    # the reference group is the scale: mean 0 and variance 1, not estimated
    assert anchored.group_parameters_.loc["A", "MEAN_1"] == 0.0
    assert np.isnan(errors.group_parameters.loc["A", "MEAN_1"])
    # anchors are equal across groups; the studied items differ where the DIF is
    items = anchored.items_
    assert np.allclose(items.loc["A"].loc[ITEMS[3:]], items.loc["B"].loc[ITEMS[3:]])
    assert items.loc[("B", "item3"), "a1"] - items.loc[("A", "item3"), "a1"] > 0.3
    assert items.loc[("B", "item1"), "d"] - items.loc[("A", "item1"), "d"] > 0.3


def test_configural_model_is_the_separate_fits(two_groups):
    # With nothing equal across groups and N(0, 1) in each, the multiple-group likelihood is
    # the product of the groups' own: the log-likelihoods add up, to the refinement's
    # precision (exact quadrature ML both ways; 1e-2 nats of 6,000)
    data = two_groups[ITEMS[:5] + ["group"]]  # five items keep the three fits short
    joint = irt.ItemFactorModel(1, seed=2).fit(data, group="group", verbose=0)
    total = 0.0
    for label in ("A", "B"):
        part = data[data["group"] == label][ITEMS[:5]]
        single = irt.ItemFactorModel(1, seed=2).fit(part, verbose=0)
        total += float(single.log_likelihood(part))
        assert np.allclose(joint.items_.loc[label].to_numpy(), single.items_.to_numpy(),
                           atol=2e-3)
    assert abs(float(joint.log_likelihood(data)) - total) < 1e-2
    # parameters: 2 x (5 slopes + 5 intercepts), no latent ones
    assert joint.n_parameters_ == 20


def test_dif_flags_the_dif_items(invariant, two_groups):
    # Items 1-3 carry DIF of 0.6 logits / 0.8 in slope at 1,000 per group (power > 0.9 in
    # benchmarks/irt_groups.py power); the seven clean items are not flagged on this data set
    result = irt.dif(invariant, two_groups, "group", method="score")
    flagged = result.items["flagged"]
    assert flagged.loc[ITEMS[:3]].all()
    assert not flagged.loc[ITEMS[3:]].any()
    assert (result.items["df"] == 2).all()
    # Holm: the adjusted p is the running maximum of (m - rank + 1) p over sorted p
    p = result.items["p"].sort_values()
    holm = np.minimum(np.maximum.accumulate((len(p) - np.arange(len(p))) * p.to_numpy()), 1)
    assert np.allclose(result.items.loc[p.index, "p_adjusted"], holm)
    # item 1 is easier in B (+0.6), item 2 harder: the signed areas say so
    assert result.items.loc["item1", "signed_area"] > 0.05
    assert result.items.loc["item2", "signed_area"] < -0.05


def test_score_test_agrees_with_likelihood_ratio(invariant, two_groups):
    # Score and LR statistics are asymptotically equal; at n = 2,000 they agree within 10%
    # for the DIF items and within 0.3 for the clean ones (measured: 31.4 / 32.7, 1.79 / 1.79)
    lrt = irt.dif(invariant, two_groups, items=["item1", "item4"], method="lrt")
    score = irt.dif(invariant, two_groups, items=["item1", "item4"], method="score")
    assert abs(lrt.items.loc["item1", "X2"] / score.items.loc["item1", "X2"] - 1) < 0.1
    assert abs(lrt.items.loc["item4", "X2"] - score.items.loc["item4", "X2"]) < 0.3
    assert lrt.baseline_loglik == pytest.approx(float(invariant.log_likelihood(two_groups)),
                                                abs=0.05)
    # mirt's DIF(m_inv, c('a1', 'd'), scheme = 'drop') (tests/data/mirt_multiple_group.txt)
    assert lrt.items.loc["item1", "X2"] == pytest.approx(31.3512, abs=0.02)


def test_group_scores_on_the_common_scale(anchored, two_groups):
    scores = anchored.score(two_groups)
    means = scores.groupby(two_groups["group"])["F1"].mean()
    # EAPs average to the group means (a property of posterior means over the sample)
    assert means["A"] == pytest.approx(0.0, abs=0.01)
    assert means["B"] == pytest.approx(anchored.group_parameters_.loc["B", "MEAN_1"], abs=0.01)
    draws = anchored.score(two_groups, method="plausible", n_draws=10, seed=3)
    pv_mean = draws.to_numpy().mean(axis=1)
    # plausible values reproduce the group means and SDs (the EAPs' spread is smaller)
    by_group = pd.DataFrame({"pv": pv_mean, "group": two_groups["group"]}).groupby("group")
    assert by_group["pv"].mean()["B"] == pytest.approx(means["B"], abs=0.03)
    spread = draws[two_groups["group"] == "B"].to_numpy().std()
    assert spread == pytest.approx(np.sqrt(anchored.group_parameters_.loc["B", "COV_11"]),
                                   rel=0.05)


def test_latent_regression_weights_within_two_standard_errors(regression):
    data, model = regression
    errors = model.standard_errors(data)
    truth = np.array([0.5, -0.7])
    z = (model.regression_.loc["F1"].to_numpy() - truth) / errors.regression.loc["F1"]
    assert (np.abs(z) < 2).all()
    # plausible values by covariate level reproduce the regression's group means within
    # their Monte Carlo error (residual SD 1 over ~600 / 900 persons: 0.04 / 0.03; x 3)
    draws = model.score(data, method="plausible", n_draws=5, seed=1).to_numpy().mean(axis=1)
    for level in (0.0, 1.0):
        rows = data["x2"].to_numpy() == level
        expected = 0.5 * data["x1"][rows].mean() - 0.7 * level
        assert abs(draws[rows].mean() - expected) < 3 / np.sqrt(rows.sum()) + 2 * float(
            errors.regression.loc["F1"].max())


@pytest.mark.parametrize("kwargs, fragment", [
    ({"group": "one"}, "group has one level"),
    ({"group": "small"}, "fewer persons than items"),
    ({"group": "gap"}, "group is missing for 1 persons"),
    ({"covariates": ["age_text"]}, "covariates must be numeric; columns ['age_text']"),
    ({"covariates": ["age_nan"]}, "missing or infinite values in columns ['age_nan']"),
    ({"covariates": ["constant"]}, "covariates do not vary: ['constant']"),
    ({"group": "nope"}, "group='nope' is not a column"),
])
def test_bad_group_and_covariates(two_groups, kwargs, fragment):
    data = two_groups.copy()
    data["one"] = "x"
    data["small"] = np.where(np.arange(len(data)) < 5, "tiny", "big")
    data["gap"] = data["group"].where(np.arange(len(data)) != 7)
    data["age_text"] = "old"
    data["age_nan"] = np.where(np.arange(len(data)) == 3, np.nan, 1.0 * np.arange(len(data)))
    data["constant"] = 1.0
    data["group2"] = data["group"]
    extra = ["one", "small", "gap", "age_text", "age_nan", "constant", "group2", "group"]
    model = irt.ItemFactorModel(1, items=ITEMS)
    with pytest.raises((ValueError, TypeError)) as error:
        model.fit(data, verbose=0, **kwargs)
    assert fragment in str(error.value)
    assert all(column in data.columns for column in extra)  # nothing dropped from the data


@pytest.mark.parametrize("kwargs, fragment", [
    ({"anchors": ["item99"]}, "anchors names items not in the model: ['item99']"),
    ({"invariance": ["free_mean"]}, "invariance has 'free_mean'"),
    ({"invariance": ["free_means"]}, "'free_means' needs items whose intercepts are equal"),
    ({"invariance": ["free_var", "intercepts"]}, "'free_var' / 'free_cov' needs items"),
])
def test_bad_invariance(two_groups, kwargs, fragment):
    with pytest.raises(ValueError, match=None) as error:
        irt.ItemFactorModel(1, **kwargs).fit(two_groups, group="group", verbose=0)
    assert fragment in str(error.value)


def test_methods_not_implemented_for_groups_say_so(anchored, two_groups):
    with pytest.raises(NotImplementedError, match="fit_statistics is not implemented for "
                                                  "multiple-group"):
        anchored.fit_statistics(two_groups)
    with pytest.raises(ValueError, match="dif needs a model fitted with groups"):
        irt.dif(irt.ItemFactorModel(1).fit(two_groups[ITEMS].iloc[:300], verbose=0,
                                           epochs=1), two_groups)


# mirt 1.47's multipleGroup / DIF / latent regression on the same files
# (tests/data/mirt_multiple_group.txt, made by the R script described in its header)
MIRT_INVARIANT = {"a1": [0.945348, 1.252193, 1.819072, 0.920342, 0.933793, 1.958713, 0.967400,
                         0.861938, 2.164840, 1.294057],
                  "d": [-0.135000, -0.202580, 0.610763, -0.626185, -1.005657, 0.823929,
                        0.508204, 0.151349, 0.983310, 0.188298]}
MIRT_ANCHORED_B = {"a1": [0.811254, 1.283953, 2.213962, 0.918053, 0.936016, 1.949771,
                          0.971115, 0.864581, 2.173643, 1.298066],
                   "d": [0.141528, -0.485941, 0.466718, -0.635564, -1.016854, 0.798232,
                         0.496712, 0.140999, 0.958654, 0.172919]}


def test_invariant_model_matches_mirt(invariant, two_groups):
    # Both are exact marginal ML (mirt: EM to 1e-4 on 61 points; we: L-BFGS + Newton on
    # adaptive quadrature): estimates agree to ~1e-4, well inside the 0.02
    table = invariant.items_.loc["B"]
    assert np.allclose(table["a1"], MIRT_INVARIANT["a1"], atol=2e-3)
    assert np.allclose(table["d"], MIRT_INVARIANT["d"], atol=2e-3)
    assert np.allclose(invariant.items_.loc["A"], table)
    mean, variance = invariant.group_parameters_.loc["B", ["MEAN_1", "COV_11"]]
    assert mean == pytest.approx(0.437689, abs=2e-3)
    assert variance == pytest.approx(1.530592, abs=2e-3)
    assert float(invariant.log_likelihood(two_groups)) == pytest.approx(-11715.64135, abs=0.01)
    assert invariant.n_parameters_ == 22


def test_anchored_model_matches_mirt(anchored, invariant, two_groups):
    table = anchored.items_.loc["B"]
    assert np.allclose(table["a1"], MIRT_ANCHORED_B["a1"], atol=2e-3)
    assert np.allclose(table["d"], MIRT_ANCHORED_B["d"], atol=2e-3)
    mean, variance = anchored.group_parameters_.loc["B", ["MEAN_1", "COV_11"]]
    assert mean == pytest.approx(0.460702, abs=2e-3)
    assert variance == pytest.approx(1.507636, abs=2e-3)
    assert float(anchored.log_likelihood(two_groups)) == pytest.approx(-11685.28806, abs=0.01)
    assert anchored.n_parameters_ == 28
    # observed-information SEs (mirt's Oakes): within 1% (Oakes' identity and our exact
    # Hessian agree to the EM tolerance)
    errors = anchored.standard_errors(two_groups)
    assert errors.group_parameters.loc["B", "MEAN_1"] == pytest.approx(0.065447, rel=0.01)
    assert errors.group_parameters.loc["B", "COV_11"] == pytest.approx(0.174249, rel=0.01)
    assert errors.items.loc[("B", "item3"), "a1"] == pytest.approx(0.238290, rel=0.01)
    # mirt's anova(m_inv, m_anc): X2 = 60.707 on 6 df
    table = irt.anova(invariant, anchored, two_groups)
    assert table.loc["larger", "X2"] == pytest.approx(60.707, abs=0.02)
    assert table.loc["larger", "df"] == 6
    # mirt's DIF(m_anc, c('a1', 'd'), Wald = TRUE, items2test = 1:3)
    wald = irt.dif(anchored, two_groups, method="wald")
    assert np.allclose(wald.items["X2"], [25.1965, 19.3513, 8.0659], rtol=0.01)


def test_latent_regression_matches_mirt(regression):
    data, model = regression
    # mirt(dat, 1, covdata = d[, c('x1', 'x2')], formula = ~ x1 + x2)
    assert model.regression_.loc["F1", "x1"] == pytest.approx(0.4945652, abs=2e-3)
    assert model.regression_.loc["F1", "x2"] == pytest.approx(-0.7245407, abs=2e-3)
    assert float(model.log_likelihood(data)) == pytest.approx(-8442.31813, abs=0.01)
    assert model.n_parameters_ == 22
    # Our SEs are the observed information's. mirt 1.47 prints 0.0265 and 0.0418, below what
    # the weights' SEs would be if theta were observed without error (1 / sqrt(n var(x)):
    # 0.026 and 0.053); ours are above that bound, as an error-laden outcome must make them
    errors = model.standard_errors(data).regression.loc["F1"]
    bound = 1.0 / np.sqrt(len(data) * data[["x1", "x2"]].var().to_numpy())
    assert (errors.to_numpy() > bound).all()


def test_group_by_group_information_is_the_whole_models(anchored):
    # The information computed on one-group views (group_information) must equal the
    # grouped model's own Hessian (every copy of the items evaluated for every person) on
    # the free coordinates, to float32 rounding of sums over 2,000 persons (1e-4 relative)
    from latentvi.irt import group_information, quadrature
    from latentvi.irt.standard_errors import _quadrature_information
    model, prepared = anchored.model_, anchored._prepared
    augmented = prepared.augmented
    variables = model.likelihood.trainable_variables + model.prior.trainable_variables
    views, _ = group_information.information(model, augmented.codes, augmented.mask,
                                             variables, prepared.membership)
    whole = _quadrature_information(model, augmented.codes, augmented.mask, variables,
                                    False)[0]
    basis = quadrature.free_basis(model, variables)
    basis = basis[:, np.abs(np.diag(basis.T @ whole @ basis)) > 1e-10]
    assert basis.shape[1] == anchored.n_parameters_
    expected, found = basis.T @ whole @ basis, basis.T @ views @ basis
    assert np.abs(found - expected).max() < 1e-4 * np.abs(expected).max()


def test_dif_fits_the_baseline_from_a_specification(two_groups):
    # Given a model without groups and group=, dif fits the invariant baseline itself (free
    # group means and SDs) with the model's settings; items 1-3 carry the DIF
    data = two_groups[ITEMS[:6] + ["group"]]
    result = irt.dif(irt.ItemFactorModel(1, seed=3), data, "group", method="score")
    assert list(result.items.index) == ITEMS[:6]
    assert result.items.loc[["item1", "item2"], "flagged"].all()
    assert not result.items.loc[ITEMS[3:6], "flagged"].any()
