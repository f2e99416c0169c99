"""The convergence rule (latentvi/convergence.py) and its use by ItemFactorModel.fit.

PlateauCosine is checked against its closed form; the rule on an item factor model: a budget too
small to converge is reported (converged_ False, a ConvergenceWarning that names the remedy), and
a fit the rule stops early has the estimates of a fit run for a long fixed budget.
"""

import math
import warnings

import keras
import numpy as np
import pytest
from conftest import linear_model

import latentvi as lv
from latentvi import irt
from latentvi.convergence import PlateauCosine

SEED = 3


def test_plateau_cosine_is_constant_then_one_cosine():
    schedule = PlateauCosine(0.01, final_fraction=0.01)
    assert float(schedule(10_000)) == pytest.approx(0.01)
    schedule.start_annealing(100, 50)
    expected = [0.01, 0.01, 0.01 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 0.5))), 0.0001,
                0.0001]
    got = [float(schedule(step)) for step in (0, 100, 125, 150, 10_000)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    restored = PlateauCosine.from_config(schedule.get_config())
    assert float(restored(125)) == pytest.approx(expected[2], rel=1e-6)


@pytest.fixture(scope="module")
def small():
    return irt.simulate(1000, 10, 1, seed=SEED)


def test_a_budget_too_small_is_reported(small):
    data, _ = small
    with pytest.warns(irt.ConvergenceWarning, match="max_steps=128"):
        model = irt.ItemFactorModel(1, seed=SEED).fit(data, max_steps=128, verbose=0)
    assert model.converged_ is False
    assert len(model.history_) == 1


def test_the_rule_stops_early_with_the_estimates_of_a_long_fixed_budget(small):
    data, _ = small
    with warnings.catch_warnings():
        warnings.simplefilter("error", irt.ConvergenceWarning)
        ruled = irt.ItemFactorModel(1, seed=SEED).fit(data, verbose=0)
    long = irt.ItemFactorModel(1, seed=SEED).fit(data, epochs=600, verbose=0)  # 4,800 steps
    steps = len(ruled.history_) * ruled.settings_["check_steps"]
    assert ruled.converged_ is True and long.converged_ is None
    assert steps < 0.6 * 600 * 8
    # Both approximate the same maximum-likelihood estimates; their distance is Monte Carlo and
    # step noise, measured at 0.01-0.02 on these 1,000 persons, against standard errors of
    # 0.08-0.15 (slopes) and 0.07-0.1 (intercepts): 0.05 is a third of an SE.
    difference = (ruled.items_ - long.items_).abs().to_numpy()
    assert difference.max() < 0.05


def test_the_rule_on_any_latent_model_reaches_the_exact_log_likelihood(fa_data,
                                                                       factor_analysis):
    # The core callback with a plain Adam on factor analysis, whose log p(x) is known exactly:
    # the rule must stop before its budget, at a fit as good as the exact model on held-out rows.
    train, test = fa_data
    model = linear_model(train.shape[1], 2)
    schedule = lv.PlateauCosine(0.01)
    rule = lv.Convergence(train[:1000], None, lv.IWAE(k=5), schedule, steps_per_epoch=50,
                          max_epochs=200, tol=1e-3, seed=SEED)
    lv.fit(model, train, objective=lv.IWAE(k=5), optimizer=keras.optimizers.Adam(schedule),
           epochs=200, steps_per_epoch=50, batch_size=100, callbacks=[rule], seed=SEED,
           verbose=0)
    assert rule.converged and len(rule.trace) < 200
    exact = factor_analysis.log_prob(test).mean()
    fitted = lv.log_marginal_likelihood(model, test, num_samples=500, seed=SEED).mean()
    # 5,000 rows fit 6 x 2 loadings, 6 means and 6 variances: the held-out cost of estimating
    # 24 parameters is ~24 / (2 x 5,000) = 0.0024 nats per row; 0.02 allows for the Monte Carlo
    # error of the estimate and stops a fit that ended on a plateau it had not reached.
    assert fitted > exact - 0.02
