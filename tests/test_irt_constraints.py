"""Fixed and equal item parameters from an edited parameter table, fitted (latentvi.irt.constraints):
the constrained maximum against the exact one found by NumPy quadrature, and anchoring."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from irt_quadrature import log_likelihood, patterns
from scipy.optimize import minimize
from scipy.special import expit, logit

from latentvi import irt
from latentvi.irt.constraints import Ties
from latentvi.irt.item_parameters import ItemParameters

TYPES = {f"item{j}": "2PL" for j in range(1, 5)} | {"item5": "3PL"}


def test_ties_read_fixed_values_and_group_means_and_split_the_gradient():
    ties = Ties((2, 3))
    ties.fix((0, 1), 5.0)
    ties.join([(0, 0), (1, 0), (1, 2)])
    weight = tf.Variable([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]])
    with tf.GradientTape() as tape:
        read = ties.read(weight)
        loss = tf.reduce_sum(read * tf.constant([[1.0, 1.0, 1.0], [2.0, 1.0, 3.0]]))
    # the group {1, 4, 7} reads its mean 4; entry (0, 1) reads 5
    np.testing.assert_allclose(read.numpy(), [[4.0, 5.0, 3.0], [4.0, 5.0, 4.0]])
    gradient = tape.gradient(loss, weight).numpy()
    # each member gets the mean of the group's gradients (1 + 2 + 3) / 3; the fixed one none
    np.testing.assert_allclose(gradient, [[2.0, 0.0, 1.0], [2.0, 1.0, 2.0]])


@pytest.fixture(scope="module")
def constrained(lsat7):
    """LSAT7, item 5 as 3PL with g fixed at 0.2, items 1-3 sharing one slope."""
    first = irt.ItemFactorModel(item_type=TYPES, seed=0).fit(lsat7, epochs=2, verbose=0)
    table = first.parameters()
    table.loc[(table["item"] == "item5") & (table["name"] == "g"), ["value", "estimated"]] = \
        [0.2, False]
    table.loc[(table["name"] == "a1") & table["item"].isin(["item1", "item2", "item3"]),
              "equal"] = "A"
    return irt.ItemFactorModel(item_type=TYPES, seed=0, parameters=table).fit(lsat7, verbose=0)


def _exact_constrained(lsat7):
    """ML of the same constrained model: a = (a_123, a4, a5), d [5], g5 = 0.2."""
    rows, counts = patterns(lsat7.to_numpy())
    codes = rows.repeat(counts, axis=0)

    def parameters(free):
        a = np.r_[free[0], free[0], free[0], free[1], free[2]]
        return ItemParameters.from_arrays(a, free[3:], list(TYPES.values()),
                                          g=[0, 0, 0, 0, 0.2], items=list(TYPES))

    found = minimize(lambda free: -log_likelihood(parameters(free), codes),
                     np.r_[1.0, 0.8, 0.8, 1.9, 0.8, 1.5, 0.5, 1.6], method="BFGS",
                     options={"gtol": 1e-6})
    return found.x, -found.fun


def test_fixed_and_equal_parameters_reach_the_constrained_maximum(constrained, lsat7):
    items = constrained.items_
    assert items.loc["item5", "g"] == pytest.approx(0.2, abs=1e-6)
    assert items.loc[["item1", "item2", "item3"], "a1"].nunique() == 1
    exact, exact_loglik = _exact_constrained(lsat7)
    fitted = np.r_[items["a1"].iloc[[0, 3, 4]], items["d"]]
    # The refinement maximizes the same constrained likelihood (measured 0.0004 from BFGS on
    # the 61-node grid); 0.005 allows for the float32 stop.
    np.testing.assert_allclose(fitted, exact, atol=0.005)
    assert float(constrained.log_likelihood(lsat7)) == pytest.approx(exact_loglik, abs=0.01)
    assert constrained.n_parameters_ == 8  # 3 slopes + 5 intercepts; g fixed


def test_the_table_reports_the_constraints_and_survives_saving(constrained, lsat7, tmp_path):
    table = constrained.parameters()
    g_row = table[(table["item"] == "item5") & (table["name"] == "g")].iloc[0]
    assert not g_row["estimated"] and g_row["value"] == pytest.approx(0.2)
    assert list(table.loc[table["equal"] == "A", "item"]) == ["item1", "item2", "item3"]
    path = tmp_path / "constrained.lvirt"
    constrained.save(path)
    loaded = irt.load(path)
    pd.testing.assert_frame_equal(loaded.parameters(), table)
    assert float(loaded.log_likelihood(lsat7)) == pytest.approx(
        float(constrained.log_likelihood(lsat7)), abs=1e-6)


def test_an_anchor_item_fixed_at_the_maximum_leaves_the_maximum(lsat7, lsat7_2pl):
    # Fixing every parameter of item 3 at the unconstrained ML values must leave the other
    # items at theirs: the same maximum, with 2 parameters fewer.
    free = lsat7_2pl
    table = free.parameters()
    table.loc[table["item"] == "item3", "estimated"] = False
    anchored = irt.ItemFactorModel(1, seed=1, parameters=table).fit(lsat7, verbose=0)
    np.testing.assert_allclose(anchored.items_.loc["item3"], free.items_.loc["item3"],
                               atol=1e-6)
    # both refined to the maximum (0.002 each, as against mirt)
    np.testing.assert_allclose(anchored.items_.to_numpy(), free.items_.to_numpy(), atol=0.004)
    assert anchored.n_parameters_ == free.n_parameters_ - 2


def test_a_fixed_guessing_parameter_on_its_own_scale():
    # g is held on the logit scale; a fixed g must come back exactly as given
    assert expit(logit(0.2)) == pytest.approx(0.2)
    table = pd.DataFrame({"item": ["q1", "q1", "q1"], "name": ["a1", "d", "g"],
                          "value": [1.0, 0.0, 1.0], "lower": [-np.inf, -np.inf, 0.0],
                          "upper": [np.inf, np.inf, 1.0], "estimated": [True, True, False],
                          "prior": [None] * 3, "equal": [None] * 3})
    from latentvi.irt.parameter_table import read_parameter_table
    with pytest.raises(ValueError, match=r"row 2 .*strictly between 0 and 1"):
        read_parameter_table(table, ["q1"], ["3PL"], [2], 1)
