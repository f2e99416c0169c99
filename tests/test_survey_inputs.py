"""ItemFactorModel on a survey export: an ID and demographics beside the items, missing-value
codes, persons with no answer (latentvi/irt/model.py, responses.py, saving.py).

The survey is LSAT7 (1,000 persons x 5 binary items) with an ID column, an age column (64
values), -9 and '.' for "no answer" and three persons who answered nothing. Fits run 2 epochs:
the tests check what is fitted and how data are read, not the estimates.
"""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from latentvi import irt
from latentvi.datasets import load_lsat7

ITEMS = [f"item{j}" for j in range(1, 6)]
SILENT = [5, 17, 400]  # persons whose every answer is -9


@pytest.fixture(scope="module")
def survey():
    rng = np.random.default_rng(0)
    frame = load_lsat7()
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["age"] = np.resize(np.arange(18, 82), len(frame))
    frame.loc[rng.choice(len(frame), 30, replace=False), "item3"] = -9
    frame["item5"] = frame["item5"].astype(object)
    frame.loc[rng.choice(len(frame), 20, replace=False), "item5"] = "."
    frame.loc[SILENT, ITEMS] = -9
    return frame


@pytest.fixture(scope="module")
def model(survey):
    model = irt.ItemFactorModel(1, items=ITEMS, missing_codes=[-9, "."], seed=0)
    with pytest.warns(UserWarning, match="dropping 3 persons"):
        return model.fit(survey, epochs=2, verbose=0)


@pytest.mark.parametrize("item_type", ["binary", "graded"])
def test_fitting_every_column_refuses_the_id_and_the_age(survey, item_type):
    with pytest.raises(irt.SuspiciousColumns) as caught:
        irt.ItemFactorModel(1, item_type=item_type, missing_codes=[-9, "."]).fit(
            survey, epochs=2, verbose=0)
    assert caught.value.columns == {"id": "all 1000 values distinct: an ID?",
                                    "age": "64 categories (at most 20 expected)"}
    assert len(str(caught.value)) < 400 and "items=[...]" in str(caught.value)


def test_items_selects_the_columns_to_fit(model):
    assert list(model.items_.index) == ITEMS
    assert model.category_map_ == {item: {0: 0, 1: 1} for item in ITEMS}  # no -9, no '.'
    assert model.n_parameters_ == 10


def test_persons_without_answers_are_dropped_and_kept_by_label(model, survey):
    assert list(model.dropped_persons_) == SILENT
    assert model.n_persons_ == len(survey) - len(SILENT)


def test_scoring_takes_the_survey_with_its_other_columns_and_codes(model, survey):
    scores = model.score(survey)
    assert scores.index.equals(survey.index)
    pd.testing.assert_frame_equal(scores, model.score(survey[ITEMS]))
    # Persons who answered nothing get the prior (their answers were all codes).
    np.testing.assert_array_equal(scores.loc[SILENT].to_numpy(), [[0.0, 1.0]] * 3)
    assert model.log_likelihood(survey, num_samples=20) == \
        model.log_likelihood(survey[ITEMS], num_samples=20)
    with pytest.raises(ValueError, match=r"lack the items.*'item2'"):
        model.score(survey.drop(columns="item2"))


def test_unknown_items_are_named_with_the_columns_available(survey):
    with pytest.raises(ValueError, match=r"not in the data: \['item9'\]; the data have \['id'"):
        irt.ItemFactorModel(1, items=ITEMS + ["item9"]).fit(survey, epochs=2, verbose=0)


@pytest.mark.parametrize("settings, message", [
    ({"n_factors": 100}, (r"n_factors=100 is more than the 5 items.*at most 5 factors "
                         r"\(2 for an exploratory model\)")),
    ({"n_factors": 3}, (r"n_factors=3 is too many for an exploratory model of 5 items: "
                       r"at most 2 \(the Ledermann bound\)")),
])
@pytest.mark.filterwarnings("ignore:dropping 3 persons")
def test_too_many_factors_for_the_items_are_refused(survey, settings, message):
    with pytest.raises(ValueError, match=message):
        irt.ItemFactorModel(items=ITEMS, missing_codes=[-9, "."], **settings).fit(
            survey, epochs=2, verbose=0)


def test_multiindex_columns_are_refused_with_the_way_to_flatten(survey):
    frame = survey[ITEMS].copy()
    frame.columns = pd.MultiIndex.from_product([["block"], ITEMS])
    with pytest.raises(TypeError, match="flatten them to one level"):
        irt.ItemFactorModel(1).fit(frame, epochs=2, verbose=0)


def test_settings_and_dropped_persons_survive_save_and_load(model, survey, tmp_path):
    path = tmp_path / "survey.lvirt"
    model.save(path)
    loaded = irt.load(path)
    assert (loaded.items, loaded.missing_codes, loaded.max_categories) == (ITEMS, [-9, "."], 20)
    pd.testing.assert_index_equal(loaded.dropped_persons_, model.dropped_persons_)
    assert loaded.n_dropped_ == model.n_dropped_ == len(SILENT)
    pd.testing.assert_frame_equal(loaded.score(survey), model.score(survey))


def test_files_from_before_these_settings_load_with_the_defaults(model, tmp_path):
    path, old = tmp_path / "new.lvirt", tmp_path / "old.lvirt"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        state = json.loads(archive.read("estimator.json"))
        network = archive.read("model.keras")
    state["version"] = 1
    for name in ("items", "missing_codes", "max_categories"):
        del state["settings"][name]
    del state["dropped_persons_"]
    del state["values"]["n_dropped_"]
    with zipfile.ZipFile(old, "w") as archive:
        archive.writestr("estimator.json", json.dumps(state))
        archive.writestr("model.keras", network)
    loaded = irt.load(old)
    assert (loaded.items, loaded.missing_codes, loaded.max_categories) == (None, None, 20)
    assert len(loaded.dropped_persons_) == 0 and loaded.n_dropped_ == 0
