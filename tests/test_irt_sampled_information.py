"""Standard errors from the importance-sampled observed information (Louis' identity;
latentvi.irt.sampled_information) against the quadrature ones, mirt's, and an independent
finite-difference Hessian of a four-factor model whose likelihood factorizes."""

import warnings

import numpy as np
import pandas as pd
import pytest
from irt_quadrature import log_likelihood
from test_irt_standard_errors import MIRT_LSAT7, _numeric_covariance

from latentvi import ConvergenceWarning, irt
from latentvi.irt.item_parameters import ItemParameters


@pytest.mark.parametrize("method", ["observed", "sandwich", "crossprod"])
def test_lsat7_sampled_standard_errors_match_quadrature_and_mirt(lsat7_2pl, lsat7, method):
    exact = lsat7_2pl.standard_errors(lsat7, method=method)
    sampled = lsat7_2pl.standard_errors(lsat7, method=method, integration="sampling",
                                        num_samples=1000)
    # 1,000 persons x 500 draws per half: Monte Carlo SD of the SEs ~0.5% (measured
    # 0.2-0.6% over seeds; five items leave half the posterior variance, so the covariance
    # term is large against the information); 2% is four of those
    assert exact.mc_error == 0.0
    assert sampled.mc_error < 0.01
    np.testing.assert_allclose(sampled.items.to_numpy(), exact.items.to_numpy(), rtol=0.02)
    a, d = MIRT_LSAT7[method]
    np.testing.assert_allclose(sampled.items["a1"], a, rtol=0.05)  # the 5%
    np.testing.assert_allclose(sampled.items["d"], d, rtol=0.05)


def test_shared_and_fixed_weights_match_quadrature(lsat7):
    first = irt.ItemFactorModel(1, seed=0).fit(lsat7, epochs=2, verbose=0)
    table = first.parameters()
    table.loc[table["name"] == "a1", "equal"] = "a"  # one weight used by every item
    table.loc[(table["item"] == "item4") & (table["name"] == "d"), ["value", "estimated"]] = \
        [0.5, False]
    model = irt.ItemFactorModel(1, seed=0, parameters=table).fit(lsat7, verbose=0)
    exact = model.standard_errors(lsat7)
    sampled = model.standard_errors(lsat7, integration="sampling", num_samples=1000)
    assert np.isnan(sampled.items.loc["item4", "d"])
    # as above: Monte Carlo SD ~0.5%
    np.testing.assert_allclose(sampled.items.to_numpy(), exact.items.to_numpy(), rtol=0.02)


def test_two_factor_graded_with_missing_answers_matches_quadrature():
    data, truth = irt.simulate(1500, 8, 2, item_type="graded", n_categories=3,
                               factor_corr=0.3, missing_rate=0.1, seed=4)
    model = irt.ItemFactorModel(2, item_type="graded", pattern=truth["pattern"],
                                seed=0).fit(data, verbose=0)
    exact = model.standard_errors(data)
    sampled = model.standard_errors(data, integration="sampling")
    # 32 draws per person over ~1,500 distinct patterns: measured within 1.5% of the
    # quadrature SEs, Monte Carlo SD ~0.5%
    assert 0 < sampled.mc_error < 0.015
    np.testing.assert_allclose(sampled.items.to_numpy(), exact.items.to_numpy(), rtol=0.04)
    np.testing.assert_allclose(sampled.factor_corr.iloc[1, 0], exact.factor_corr.iloc[1, 0],
                               rtol=0.04)


def test_four_factors_beyond_quadrature_match_the_exact_hessian():
    # four uncorrelated factors with three items each: the likelihood is a product of four
    # one-factor likelihoods, so each block's SEs come from a 1-D finite-difference Hessian
    slopes = np.kron(np.eye(4), np.ones((3, 1))) * np.tile([1.2, 0.9, 1.5], 4)[:, None]
    truth = ItemParameters.from_arrays(slopes, np.tile([0.4, -0.6, 0.1], 4))
    data, _ = irt.simulate(2000, parameters=truth, seed=7)
    pattern = pd.DataFrame((slopes != 0).astype(int), index=truth.items,
                           columns=[f"F{d + 1}" for d in range(4)])
    model = irt.ItemFactorModel(4, pattern=pattern, correlated_factors=False,
                                seed=0).fit(data, verbose=0)
    se = model.standard_errors(data)  # 'auto' samples: four factors
    assert 0 < se.mc_error <= 0.01
    codes = data.to_numpy()
    for block in range(4):
        items = slice(3 * block, 3 * block + 3)
        a = model.items_.iloc[items, block].to_numpy()
        d = model.items_["d"].iloc[items].to_numpy()

        def negative(free, items=items):
            parameters = ItemParameters.from_arrays(free[:3, None], free[3:])
            return -log_likelihood(parameters, codes[:, items])

        expected = np.sqrt(np.diag(_numeric_covariance(negative, np.r_[a, d])))
        found = np.r_[se.items.iloc[items, block], se.items["d"].iloc[items]]
        # the information is exact at any point, so the fit's distance from the maximum does
        # not matter; the draws add at most ~1% (the automatic draws stop once mc_error is
        # below 1%): 4% is four of those
        np.testing.assert_allclose(found, expected, rtol=0.04)


def test_sampling_arguments_are_checked(lsat7_2pl, lsat7):
    with pytest.raises(ValueError, match="integration must be one of"):
        lsat7_2pl.standard_errors(lsat7, integration="laplace")
    with pytest.raises(ValueError, match="num_samples must be an even number"):
        lsat7_2pl.standard_errors(lsat7, integration="sampling", num_samples=5)


def test_distance_from_the_maximum_is_measured_and_warned(lsat7_2pl, lsat7):
    # the refined fit is the exact maximum: the Newton step to it is ~0 standard errors
    assert lsat7_2pl.standard_errors(lsat7).distance < 0.05
    # 20 steps of the stochastic fit on 20,000 persons stop short of it (measured 1.16 SE;
    # the full default fit 0.21): the SEs say so
    data, _ = irt.simulate(20000, 10, 1, seed=2)
    with pytest.warns(ConvergenceWarning, match="did not converge within max_steps=20"):
        rough = irt.ItemFactorModel(1, seed=0, refine=False).fit(data, max_steps=20, verbose=0)
    with pytest.warns(UserWarning, match="standard errors .* from the maximum"):
        se = rough.standard_errors(data)
    assert se.distance > 0.5


def test_no_maximum_nearby_is_said_without_a_number():
    # An information matrix that is not positive definite (a fit stopped far from any
    # maximum) has no Newton step measured in SEs: the distance is infinite, computed without
    # an overflow (which used to read "inf standard errors").
    from latentvi.irt.standard_errors import _distance
    saddle = np.diag([2.0, -1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from an overflow
        assert _distance(saddle, np.array([0.1, 0.1])) == np.inf
    # and a positive definite one: step I^-1 g = (0.05, 0.1), SEs sqrt(0.5), 1: RMS of
    # (0.0707, 0.1)
    assert _distance(np.diag([2.0, 1.0]), np.array([0.1, 0.1])) == pytest.approx(
        np.sqrt((0.05**2 / 0.5 + 0.1**2) / 2))
