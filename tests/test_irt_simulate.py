"""irt.simulate (latentvi/irt/simulate.py): the data follow the model it reports."""

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit

from latentvi import irt


def test_shapes_names_and_truth_tables():
    data, truth = irt.simulate(500, 9, 3, item_type="graded", n_categories=4, seed=0)
    assert data.shape == (500, 9)
    assert list(data.columns) == [f"item{j}" for j in range(1, 10)]
    assert list(truth["items"].columns) == ["a1", "a2", "a3", "d1", "d2", "d3"]
    assert truth["theta"].shape == (500, 3) and truth["theta"].index.equals(data.index)
    # Simple structure: three consecutive blocks of three items.
    np.testing.assert_array_equal(truth["pattern"].to_numpy(), np.kron(np.eye(3), np.ones((3, 1))))
    assert set(np.unique(data.to_numpy())) <= {0, 1, 2, 3}
    assert np.all(np.diff(truth["items"][["d1", "d2", "d3"]].to_numpy(), axis=1) < 0)


def test_proportions_match_the_model_marginals():
    data, truth = irt.simulate(20000, 4, 1, seed=1)
    items = truth["items"]
    nodes, weights = hermegauss(61)
    expected = (weights / weights.sum()) @ expit(nodes[:, None] * items["a1"].to_numpy()
                                                 + items["d"].to_numpy())
    # binomial SD of a proportion with n = 20,000 is at most 0.0035; 4 SDs.
    np.testing.assert_allclose(data.mean().to_numpy(), expected, atol=0.014)


def test_factor_correlation_and_missing_rate():
    data, truth = irt.simulate(20000, 6, 2, factor_corr=0.5, missing_rate=0.2, seed=2)
    # SD of a correlation near 0.5 with n = 20,000 is ~0.005.
    assert np.corrcoef(truth["theta"].to_numpy().T)[0, 1] == pytest.approx(0.5, abs=0.02)
    assert truth["factor_corr"].iloc[0, 1] == 0.5
    assert data.isna().to_numpy().mean() == pytest.approx(0.2, abs=0.01)


def test_same_seed_same_data():
    first, _ = irt.simulate(50, 5, 1, seed=3)
    second, _ = irt.simulate(50, 5, 1, seed=3)
    assert first.equals(second)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_categories": 3}, "binary items have 2 categories"),
    ({"n_factors": 9}, "at least n_factors"),
    ({"missing_rate": 1.0}, "missing_rate"),
    ({"factor_corr": 1.5}, "factor_corr"),
    ({"item_type": "nominal"}, "item_type"),
])
def test_bad_arguments_raise(kwargs, message):
    settings = {"n_persons": 10, "n_items": 4, "n_factors": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        irt.simulate(**settings)


def test_given_parameters_as_mirt_simdata():
    # mirt's simdata(a, d, N, itemtype): answers drawn from given items. The share of each
    # category must match its marginal probability, the integral of P(x = k | theta) over
    # N(0, 1) (Gauss-Hermite, 61 nodes); with 20,000 persons a share's SD is <= 0.0035, so 0.015
    # is over 4 SDs.
    parameters = irt.ItemParameters.from_arrays(
        [1.0, 1.5, 0.8], [[0.5, np.nan], [1.0, -1.0], [-0.3, np.nan]],
        ["2PL", "graded", "2PL"], items=["x", "y", "z"])
    data, truth = irt.simulate(20000, parameters=parameters, seed=4)
    assert list(data.columns) == ["x", "y", "z"] and truth["parameters"] is parameters
    nodes, weights = hermegauss(61)
    marginal = {item: weights @ p / weights.sum()
                for item, p in parameters.probabilities(nodes[:, None]).items()}
    for item in data.columns:
        shares = data[item].value_counts(normalize=True).sort_index().to_numpy()
        np.testing.assert_allclose(shares, marginal[item], atol=0.015)
    assert list(truth["items"].columns) == ["a1", "d", "d1", "d2"]


def test_parameters_and_sizes_are_exclusive():
    parameters = irt.ItemParameters.from_arrays([1.0], [0.0])
    with pytest.raises(ValueError, match="not both"):
        irt.simulate(10, 3, 1, parameters=parameters)
    with pytest.raises(ValueError, match="needs"):
        irt.ItemParameters.from_arrays([1.0], [0.0], "3PL")
