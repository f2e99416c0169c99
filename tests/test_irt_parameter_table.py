"""mirt's parameter table: its rows, and the checks of an edited table (no fitting here)."""

import numpy as np
import pytest

from latentvi import irt
from latentvi.irt.parameter_table import parameter_table, read_parameter_table

ITEMS = ["q1", "q2", "q3"]
TYPES = ["2PL", "2PL", "graded"]
CATEGORIES = [2, 2, 3]


@pytest.fixture
def table():
    parameters = irt.ItemParameters(ITEMS, TYPES, CATEGORIES, [[1.0], [1.5], [0.8]],
                                    [{"d": 0.2}, {"d": -0.4}, {"d1": 1.0, "d2": -1.0}])
    return parameter_table(parameters, np.ones((3, 1), bool),
                           priors={"q2": {"d": ("norm", 0.0, 2.0)}})


def test_one_row_per_parameter_as_mirt_lists_them(table):
    # 3 slopes + 1 + 1 + 2 intercepts, then MEAN_1 and COV_11 of the latent distribution.
    assert list(table["name"]) == ["a1", "d", "a1", "d", "a1", "d1", "d2", "MEAN_1", "COV_11"]
    assert list(table["item"][:7]) == ["q1", "q1", "q2", "q2", "q3", "q3", "q3"]
    assert table["estimated"][:7].all() and not table["estimated"][7:].any()
    assert table.loc[3, "prior"] == ("norm", 0.0, 2.0)
    assert table.loc[8, "value"] == 1.0


def test_an_unedited_table_asks_nothing(table):
    spec = read_parameter_table(table, ITEMS, TYPES, CATEGORIES, 1)
    assert np.isnan(spec.fixed_slopes).all() and not spec.equal_slopes
    np.testing.assert_array_equal(spec.start_slopes[:, 0], [1.0, 1.5, 0.8])
    assert spec.priors == {"q2": {"d": ("norm", 0.0, 2.0)}}


def test_fixed_slopes_and_a_common_slope(table):
    edited = table.copy()
    edited.loc[0, ["value", "estimated"]] = [1.0, False]
    edited.loc[[2, 4], "equal"] = "slope"
    spec = read_parameter_table(edited, ITEMS, TYPES, CATEGORIES, 1)
    assert spec.fixed_slopes[0, 0] == 1.0 and np.isnan(spec.fixed_slopes[1:, 0]).all()
    assert spec.equal_slopes


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.assign(item=t["item"].replace("q1", "q9")), r"row 0 .*no item 'q9'"),
    (lambda t: t.assign(name=t["name"].replace("d1", "g")), r"row 5 .*has no parameter 'g'"),
    (lambda t: t.assign(lower=t["lower"].where(t.index != 1, 5.0),
                        upper=t["upper"].where(t.index != 1, 1.0)),
     r"row 1 .*lower 5.0 is above upper 1.0"),
    (lambda t: t.assign(lower=t["lower"].where(t.index != 1, 5.0)),
     r"row 1 .*value 0.2 is outside \[5.0, inf\]"),
    (lambda t: t.assign(estimated=t["estimated"].where(t.index != 3, False)),
     r"row 3 .*prior on a fixed parameter"),
    (lambda t: t.assign(equal=[None, "x", "x"] + [None] * 6),
     r"equality label 'x' joins different parameters"),
    (lambda t: t.assign(prior=[None] * 3 + [("cauchy", 0, 1)] + [None] * 5),
     r"row 3 .*prior must be"),
    (lambda t: t.assign(estimated=t["estimated"].where(t.index != 6, False)),
     r"row 6 .*fixing 'd2' needs 'd1' of item 'q3' fixed too"),
    (lambda t: t.assign(estimated=t["estimated"].where(~t.index.isin([5, 6]), False),
                        value=t["value"].where(t.index != 6, 2.0)),
     r"row 6 .*intercepts must decrease, d1 > d2"),
    (lambda t: t.assign(estimated=t["estimated"].where(t.index != 1, False),
                        equal=[None, "x", None, "x"] + [None] * 5),
     r"row 1 .*fixed parameter cannot also be in the equality group 'x'"),
    (lambda t: t.assign(equal=[None] * 6 + ["x"] + [None] * 2),
     r"row 6 .*making 'd2' equal across items needs 'd1' equal"),
])
def test_bad_edits_name_the_row(table, edit, message):
    with pytest.raises(ValueError, match=message):
        read_parameter_table(edit(table), ITEMS, TYPES, CATEGORIES, 1)


def test_equality_among_some_items_and_fixed_intercepts(table):
    edited = table.copy()
    edited.loc[[0, 2], "equal"] = "ab"  # q1's and q2's slopes, not q3's
    edited.loc[5:6, "estimated"] = False  # q3's d1 and d2: an anchor item's intercepts
    edited.loc[1, "equal"] = "d"
    edited.loc[3, ["equal", "prior"]] = ["d", None]
    spec = read_parameter_table(edited, ITEMS, TYPES, CATEGORIES, 1)
    assert not spec.equal_slopes and spec.slope_groups == {"ab": [(0, 0), (1, 0)]}
    assert spec.fixed == [(2, "d1"), (2, "d2")] and spec.values[2] == {"d1": 1.0, "d2": -1.0}
    assert spec.equal == {"d": [(0, "d"), (1, "d")]}
    assert spec.savings == 2 + 1 + 1  # two fixed, one slope and one intercept fewer


def test_a_nominal_items_identification_rows_stay_fixed():
    parameters = irt.ItemParameters(
        ["n1"], ["nominal"], [3], [[1.0]],
        [{"ak0": 0.0, "ak1": 1.2, "ak2": 2.0, "d0": 0.0, "d1": 0.5, "d2": -0.3}])
    table = parameter_table(parameters, np.ones((1, 1), bool))
    assert list(table["estimated"][:7]) == [True, False, True, False, False, True, True]
    spec = read_parameter_table(table, ["n1"], ["nominal"], [3], 1)
    assert spec.fixed == [] and spec.values[0] == {"ak1": 1.2, "d1": 0.5, "d2": -0.3}
    edited = table.copy()
    edited.loc[1, "estimated"] = True
    with pytest.raises(ValueError, match=r"row 1 .*ak0 = 0 identifies the nominal model"):
        read_parameter_table(edited, ["n1"], ["nominal"], [3], 1)


def test_a_prior_on_a_parameter_the_item_lacks_names_the_item():
    from latentvi.irt.parameter_table import prior_lists
    lists = prior_lists({"q3": {"d2": ("norm", 0, 1)}}, ITEMS, TYPES, CATEGORIES)
    assert lists == {"d2": [None, None, ["norm", 0.0, 1.0]]}
    with pytest.raises(ValueError, match=r"item 'q1' \(2PL\) has no parameter 'g'"):
        prior_lists({"q1": {"g": ("norm", -1.5, 3)}}, ITEMS, TYPES, CATEGORIES)
    with pytest.raises(ValueError, match="scale parameters must be positive"):
        prior_lists({"q1": {"d": ("norm", 0, -1)}}, ITEMS, TYPES, CATEGORIES)
