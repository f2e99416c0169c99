"""A user-defined item type (examples/custom_item_type.py, the worked example of the docs)."""

import importlib.util
import pathlib

import numpy as np
import pytest
from scipy.stats import norm

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "custom_item_type.py"


@pytest.fixture(scope="module")
def fitted():
    spec = importlib.util.spec_from_file_location("custom_item_type", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--persons", "5000", "--seed", "1"])


def test_probit_items_are_recovered(fitted):
    model, truth = fitted
    # 5,000 persons: the SEs of these probit slopes and intercepts are 0.02-0.05, so 0.15
    # is 3 or more SEs for every parameter.
    estimated = model.items_[["a1", "d"]].to_numpy()
    np.testing.assert_allclose(estimated, truth.table()[["a1", "d"]].to_numpy(), atol=0.15)
    assert model.item_types_["item1"] == "probit"


def test_the_new_type_serves_information_and_curves(fitted):
    model, _ = fitted
    # The base class's numeric information of a probit item: a^2 phi(z)^2 / (Phi (1 - Phi)).
    a, d = model.items_.loc["item3", ["a1", "d"]]
    z = a * 0.5 + d
    expected = a**2 * norm.pdf(z) ** 2 / (norm.cdf(z) * norm.sf(z))
    assert model.item_information(np.array([0.5]))["item3"].iloc[0] == pytest.approx(
        expected, rel=1e-6)


def test_a_table_can_fix_and_equate_the_new_types_parameters(fitted):
    from latentvi import irt
    model, truth = fitted
    data, _ = irt.simulate(5000, parameters=truth, seed=1)
    table = model.parameters()
    is_d = table["name"] == "d"
    table.loc[is_d & (table["item"] == "item1"), ["value", "estimated"]] = [0.5, False]
    table.loc[is_d & table["item"].isin(["item2", "item3"]), "equal"] = "d23"
    refit = irt.ItemFactorModel(item_type="probit", seed=1, parameters=table).fit(data,
                                                                                  verbose=0)
    assert refit.items_.loc["item1", "d"] == pytest.approx(0.5, abs=1e-6)
    assert refit.items_.loc["item2", "d"] == refit.items_.loc["item3", "d"]
    # items 2 and 3 have true d -0.3 and 0.0: their common d lies between (their SEs ~0.02)
    assert -0.3 < refit.items_.loc["item2", "d"] < 0.0
    assert refit.n_parameters_ == model.n_parameters_ - 2
