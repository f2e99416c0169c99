"""Validation and coding of response DataFrames (latentvi/irt/responses.py)."""

import numpy as np
import pandas as pd
import pytest

from latentvi.irt.responses import apply_category_map, encode_responses, item_types


def test_codes_sorted_values_and_keeps_the_map():
    frame = pd.DataFrame({"q1": [1, 3, 5, 3], "q2": [0, 1, 1, 0]}, index=list("abcd"))
    responses = encode_responses(frame, "graded")
    assert responses.category_map == {"q1": {1: 0, 3: 1, 5: 2}, "q2": {0: 0, 1: 1}}
    np.testing.assert_array_equal(responses.codes[:, 0], [0, 1, 2, 1])
    np.testing.assert_array_equal(responses.n_categories, [3, 2])
    assert list(responses.index) == list("abcd")


def test_missing_answers_become_a_mask_not_a_value():
    frame = pd.DataFrame({"q1": [0.0, np.nan, 1.0], "q2": pd.array([1, None, 0], "Int64"),
                          "q3": [1, 0, 1]})
    responses = encode_responses(frame)
    np.testing.assert_array_equal(responses.mask, [[1, 1, 1], [0, 0, 1], [1, 1, 1]])
    assert responses.codes[1, 0] == 0 and responses.codes[1, 1] == 0


def test_ordered_categorical_follows_category_order():
    levels = ["never", "sometimes", "often"]
    answers = pd.Categorical(["often", "never", None, "sometimes"], categories=levels,
                             ordered=True)
    frame = pd.DataFrame({"q": answers, "r": [0, 1, 1, 0]})
    responses = encode_responses(frame, {"q": "graded", "r": "binary"})
    assert responses.category_map["q"] == {"never": 0, "sometimes": 1, "often": 2}
    np.testing.assert_array_equal(responses.codes[:, 0], [2, 0, 0, 1])
    assert not responses.mask[2, 0]


def test_unobserved_categories_are_not_counted():
    answers = pd.Categorical(["a", "c", "a"], categories=["a", "b", "c"], ordered=True)
    responses = encode_responses(pd.DataFrame({"q": answers}), "graded")
    assert responses.category_map["q"] == {"a": 0, "c": 1}


def test_persons_without_answers_are_dropped_with_a_warning():
    frame = pd.DataFrame({"q1": [0, np.nan, 1], "q2": [1, np.nan, 0]}, index=["x", "y", "z"])
    with pytest.warns(UserWarning, match=r"dropping 1 persons.*'y'"):
        responses = encode_responses(frame)
    assert list(responses.index) == ["x", "z"]
    with pytest.raises(ValueError, match="answered no item"):
        encode_responses(frame, drop_empty=False)


@pytest.mark.parametrize("frame, error, message", [
    (pd.DataFrame({"q": ["0", "yes", "1"]}), TypeError, r"column 'q'.*'yes'.*row 1"),
    (pd.DataFrame({"q": [1, 1, 1], "r": [0, 1, 0]}), ValueError, r"item 'q' has 1 observed"),
    (pd.DataFrame({"q": [0, 1, 2]}), ValueError, r"item 'q' has 3 .*'binary' allows 2"),
    (pd.DataFrame({"q": [0, 1]}, index=["a", "a"]), ValueError, r"duplicated index.*'a'"),
    (pd.DataFrame(), ValueError, "empty"),
    (pd.DataFrame({"q": [0, np.inf]}), ValueError, r"'q' has an infinite value"),
    (pd.DataFrame({"q": pd.Categorical([0, 1])}), TypeError, "unordered categorical"),
])
def test_bad_input_errors_name_the_column_or_row(frame, error, message):
    with pytest.raises(error, match=message):
        encode_responses(frame)


def test_not_a_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        encode_responses(np.zeros((3, 2)))


def test_item_type_dict_must_cover_the_columns():
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        item_types({"a": "binary"}, ["a", "b"])
    with pytest.raises(ValueError, match="'binary' or 'graded'"):
        item_types("nominal", ["a"])


def test_new_data_use_the_fitted_map_and_reject_unseen_values():
    fitted = encode_responses(pd.DataFrame({"q": [2, 4, 6], "r": [0, 1, 0]}), "graded")
    new = pd.DataFrame({"r": [1, np.nan], "q": [6, 2]}, index=["p", "s"])
    coded = apply_category_map(new, fitted.category_map)
    np.testing.assert_array_equal(coded.codes, [[2, 1], [0, 0]])
    np.testing.assert_array_equal(coded.mask, [[1, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"item 'q' has value 5 at row 's'"):
        apply_category_map(pd.DataFrame({"q": [2, 5], "r": [0, 1]}, index=["p", "s"]),
                           fitted.category_map)
    with pytest.raises(ValueError, match=r"lack the items.*'r'"):
        apply_category_map(pd.DataFrame({"q": [2]}), fitted.category_map)
