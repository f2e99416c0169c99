"""Validation and coding of response DataFrames (latentvi/irt/responses.py)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from latentvi.irt.responses import (
    SuspiciousColumns,
    apply_category_map,
    encode_responses,
    item_types,
    select_items,
)


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
    with pytest.raises(ValueError, match=r"item_type must be one of .*graded.*got 'bogus'"):
        item_types("bogus", ["a"])
    with pytest.raises(ValueError, match=r"item_type\['a'\] must be one of"):
        item_types({"a": "bogus"}, ["a"])
    assert item_types({"a": "binary", "b": "graded"}, ["a", "b"]) == ["2PL", "graded"]


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


# -- survey exports: IDs, demographics, missing-value codes ----------------------------------

def survey_columns(n=300, seed=0):
    """Five 0/1 items, an ID (n distinct numbers) and an age with 64 distinct values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"q{j}": rng.integers(0, 2, n) for j in range(1, 6)})
    frame.insert(0, "id", np.arange(5001, 5001 + n))
    frame["age"] = np.resize(np.arange(18, 82), n)
    return frame


@pytest.mark.parametrize("item_type", ["binary", "graded"])
def test_an_id_and_an_age_column_are_refused_together_with_a_short_message(item_type):
    with pytest.raises(SuspiciousColumns) as caught:
        encode_responses(survey_columns(), item_type)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.columns == {"id": "all 300 values distinct: an ID?",
                             "age": "64 categories (at most 20 expected)"}
    message = str(error)
    assert len(message) < 400 and "\n" not in message
    assert message.endswith("select the items with items=[...] (or drop these columns), "
                            "or raise max_categories")


def test_raising_max_categories_accepts_a_many_valued_item_but_not_an_id():
    frame = survey_columns()
    responses = encode_responses(frame.drop(columns="id"), "graded", max_categories=64)
    assert responses.n_categories[-1] == 64
    with pytest.raises(SuspiciousColumns) as caught:
        encode_responses(frame, "graded", max_categories=1000)
    assert list(caught.value.columns) == ["id"]


def test_a_text_id_is_refused_as_an_id_rather_than_as_text():
    frame = survey_columns().assign(id=[f"P{i:04d}" for i in range(300)])
    with pytest.raises(SuspiciousColumns) as caught:
        encode_responses(frame, "graded", max_categories=64)
    assert list(caught.value.columns) == ["id"]


def test_many_suspicious_columns_are_all_kept_but_few_are_named():
    frame = pd.DataFrame({f"measure{j}": np.arange(30.0) + j for j in range(14)})
    with pytest.raises(SuspiciousColumns) as caught:
        encode_responses(frame)
    assert list(caught.value.columns) == list(frame.columns)
    message = str(caught.value)
    assert len(message) < 400
    assert "'measure9'" in message and "'measure10'" not in message and "4 more" in message


def test_missing_codes_become_masked_cells_and_text_numbers_are_read():
    frame = pd.DataFrame({"q1": [1, ".", 2, -9, 3], "q2": ["0", "1", "-9", "1", "."],
                          "q3": [0, 1, 1, -9, 0]}, index=list("abcde"))
    responses = encode_responses(frame, "graded", missing_codes=[-9, "."])
    assert responses.category_map == {"q1": {1: 0, 2: 1, 3: 2}, "q2": {0: 0, 1: 1},
                                      "q3": {0: 0, 1: 1}}
    np.testing.assert_array_equal(responses.mask, [[1, 1, 1], [0, 1, 1], [1, 0, 1],
                                                   [0, 1, 0], [1, 0, 1]])
    np.testing.assert_array_equal(responses.codes[:, 0], [0, 0, 1, 0, 2])
    # New data are coded with the same codes.
    new = apply_category_map(frame.iloc[[3, 4]], responses.category_map, missing_codes=[-9, "."])
    np.testing.assert_array_equal(new.mask, [[0, 1, 0], [1, 0, 1]])
    with pytest.raises(TypeError, match=r"column 'q1' has a non-numeric value '\.'.*"
                                        r"missing_codes=\['\.'\]"):
        encode_responses(frame, "graded")


def test_missing_codes_in_an_ordered_categorical():
    answers = pd.Categorical(["low", "high", "don't know", "low"],
                             categories=["low", "high", "don't know"], ordered=True)
    responses = encode_responses(pd.DataFrame({"q": answers, "r": [0, 1, 1, 0]}), "graded",
                                 missing_codes=["don't know"])
    assert responses.category_map["q"] == {"low": 0, "high": 1}
    np.testing.assert_array_equal(responses.mask[:, 0], [1, 1, 0, 1])


def test_values_set_apart_draw_one_warning_naming_items_and_values():
    frame = pd.DataFrame({"q1": [1, 2, 3, 4, 5, 9] * 3, "q2": [0, 1, 99, 0, 1, 0] * 3,
                          "q3": [1, 2, 3, 5, 1, 2] * 3, "q4": [-9, 1, 2, 3, 4, 5] * 3})
    with pytest.warns(UserWarning) as caught:
        encode_responses(frame, "graded")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "'q1': [9]" in message and "'q2': [99]" in message and "'q4': [-9]" in message
    assert "'q3'" not in message  # an unchosen middle category is not a code
    assert "missing_codes=[-9, 9, 99]" in message


def test_no_gap_warning_once_the_codes_are_given():
    frame = pd.DataFrame({"q1": [1, 2, 3, 4, 5, 9] * 3, "q2": [0, 1, 99, 0, 1, 0] * 3})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encode_responses(frame, "graded", missing_codes=[9, 99])


def test_multiindex_columns_say_how_to_flatten():
    frame = pd.DataFrame([[0, 1], [1, 0]],
                         columns=pd.MultiIndex.from_tuples([("block", "q1"), ("block", "q2")]))
    with pytest.raises(TypeError, match=r"MultiIndex columns.*frame\.columns = "):
        encode_responses(frame)


def test_dropped_persons_are_kept_in_the_responses():
    frame = pd.DataFrame({"q1": [0, -9, 1, np.nan], "q2": [1, -9, 0, 1]}, index=list("wxyz"))
    with pytest.warns(UserWarning, match="dropping 1 persons"):
        responses = encode_responses(frame, missing_codes=[-9])
    assert list(responses.dropped) == ["x"] and list(responses.index) == ["w", "y", "z"]
    assert len(encode_responses(frame.drop(index="x")).dropped) == 0


def test_select_items_names_unknown_labels_and_the_columns_available():
    frame = survey_columns()
    assert list(select_items(frame, ["q2", "q1"]).columns) == ["q2", "q1"]
    with pytest.raises(ValueError, match=r"not in the data: \['q9'\]; the data have \['id', "):
        select_items(frame, ["q1", "q9"])
    with pytest.raises(TypeError, match="list of column labels"):
        select_items(frame, "q1")
    with pytest.raises(ValueError, match=r"more than once: \['q1'\]"):
        select_items(frame, ["q1", "q1"])


def test_extra_columns_when_scoring_suggest_items():
    fitted = encode_responses(pd.DataFrame({"q": [0, 1, 0]}))
    with pytest.raises(ValueError, match=r"not fitted on: \['age'\].*items=\[\.\.\.\]"):
        apply_category_map(pd.DataFrame({"q": [1], "age": [40]}), fitted.category_map)
    coded = apply_category_map(pd.DataFrame({"q": [1], "age": [40]}), fitted.category_map,
                               ignore_extra=True)
    assert coded.items == ["q"]


@pytest.mark.parametrize("settings, error, message", [
    ({"missing_codes": -9}, TypeError, r"missing_codes must be a list.*got -9"),
    ({"missing_codes": [None]}, TypeError, "numbers or strings"),
    ({"max_categories": 1}, ValueError, "max_categories must be an integer >= 2"),
])
def test_bad_missing_codes_or_max_categories(settings, error, message):
    with pytest.raises(error, match=message):
        encode_responses(pd.DataFrame({"q": [0, 1]}), **settings)
