"""anova and the information criteria (latentvi.irt.model_comparison) against mirt on LSAT7."""

import numpy as np
import pytest

from latentvi import irt
from latentvi.datasets import load_lsat7
from latentvi.irt.model_comparison import criteria

# mirt 1.47, anova(rasch, twopl) on LSAT7: AIC, SABIC, HQ, BIC of each; X2 12.192, df 4, p 0.016.
MIRT = {"AIC": (5341.80, 5337.61), "SABIC": (5352.19, 5354.93), "HQ": (5352.99, 5356.26),
        "BIC": (5371.25, 5386.69)}


def test_criteria_are_mirts_formulas():
    # mirt's 2PL: log-likelihood -2658.805, 10 parameters, 1,000 persons
    found = criteria(-2658.805, 10, 1000)
    assert found["AIC"] == pytest.approx(5337.61, abs=0.005)
    assert found["BIC"] == pytest.approx(5386.69, abs=0.005)
    assert found["SABIC"] == pytest.approx(5354.93, abs=0.005)
    assert found["HQ"] == pytest.approx(5356.26, abs=0.005)


@pytest.fixture(scope="module")
def fits():
    lsat7 = load_lsat7()
    rasch = irt.ItemFactorModel(1, item_type="Rasch", seed=0).fit(lsat7, verbose=0)
    twopl = irt.ItemFactorModel(1, seed=0).fit(lsat7, verbose=0)
    return lsat7, rasch, twopl


def test_rasch_against_2pl_matches_mirts_anova(fits):
    lsat7, rasch, twopl = fits
    table = irt.anova(rasch, twopl, lsat7)
    # The 0.5; both fits are refined to the exact maximum, so the criteria agree with
    # mirt's to its printed 0.01 (measured within 0.01).
    for name, (small, large) in MIRT.items():
        assert table.loc["smaller", name] == pytest.approx(small, abs=0.05), name
        assert table.loc["larger", name] == pytest.approx(large, abs=0.05), name
    assert table.loc["larger", "X2"] == pytest.approx(12.192, abs=0.02)
    assert table.loc["larger", "df"] == 4
    assert table.loc["larger", "p"] == pytest.approx(0.016, abs=0.0005)
    assert np.isnan(table.loc["smaller", "X2"])


def test_anova_wants_the_nested_model_first(fits):
    lsat7, rasch, twopl = fits
    with pytest.raises(ValueError, match="swap them"):
        irt.anova(twopl, rasch, lsat7)
