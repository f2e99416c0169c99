"""MonteCarloEstimate and the precision rule for printing Monte Carlo estimates."""

import json
import math
import pickle

import pytest

from latentvi import MonteCarloEstimate
from latentvi.estimate import decimals_for


@pytest.mark.parametrize("se, decimals", [(0.09, 1), (0.01, 2), (0.004, 2), (0.5, 0),
                                          (25.0, 0), (float("nan"), 6), (0.0, 6)])
def test_decimals_for_the_monte_carlo_se(se, decimals):
    # The last digit shown is the finest whose unit is at least the SE.
    assert decimals_for(se) == decimals


def test_estimate_is_a_float_that_keeps_its_error():
    estimate = MonteCarloEstimate(-12612.7041, 0.09)
    assert estimate == -12612.7041 and estimate + 1 == pytest.approx(-12611.7041)
    assert estimate.se == 0.09 and estimate.value == -12612.7041
    # The rerun-to-rerun spread of the ability test (~0.1) allows one decimal, not three.
    assert str(estimate) == "-12612.7 +- 0.09"
    assert str(MonteCarloEstimate(-2658.8051934, 0.0)) == "-2658.805193 (exact)"
    assert json.loads(json.dumps(estimate)) == -12612.7041
    assert pickle.loads(pickle.dumps(estimate)).se == 0.09
    assert math.isclose(-2 * estimate + 10, 25235.4082)
