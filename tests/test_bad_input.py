"""A catalogue of malformed and odd inputs, each answered by one clear message or a documented
rule (docs/psychometrics.md, "Input rules").

The API refuses with a ValueError / TypeError / FileNotFoundError naming the column, row or
argument and what was expected; the command line with exit code 2 and that message on stderr,
never a traceback. Some inputs are accepted by a rule (missing codes, blank cells, gaps in the
codes, trailing separators), some of those with a warning. Inputs already covered elsewhere
(tests/test_irt_responses.py, test_survey_inputs.py, test_cli.py, test_irt_model.py) are not
repeated here. One tiny model is fitted (2 epochs) for the scoring and loading cases, and one
command-line fit runs end to end; every other case fails or is decided before any fit.
"""

import importlib.util
import json
import re
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from latentvi import cli, irt
from latentvi.cli.reading import select_items
from latentvi.datasets import load_lsat7

ITEMS = [f"item{j}" for j in range(1, 6)]
LSAT = load_lsat7().iloc[::5].reset_index(drop=True)  # 200 persons x 5 binary items
SHORT = ["--epochs", "1", "--seed", "0", "--no-plots", "--loglik-samples", "200", "--quiet"]
# Warnings that come with some refused inputs (checked where the input is accepted).
pytestmark = pytest.mark.filterwarnings(
    "ignore:items with (values set apart|answers that are not whole):UserWarning")


@pytest.fixture(scope="module")
def model():
    return irt.ItemFactorModel(n_factors=1, seed=0, refine=False).fit(LSAT, epochs=2, verbose=0)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.lvirt"
    model.save(path)
    return path


# -- building odd inputs ---------------------------------------------------------------------
def _set(column, rows, value, frame=LSAT):
    """A copy of `frame` with `value` in `column` at `rows` (the column as objects)."""
    frame = frame.astype({column: object})
    frame.loc[rows, column] = value
    return frame


AGREE = _set("item1", slice(None), np.where(LSAT.item1, "Agree", "Disagree"))


def _renamed(*names):
    return LSAT.set_axis(list(names) + ITEMS[len(names):], axis=1)


def _fit(frame=LSAT, epochs=1, batch_size=None, verbose=0, **settings):
    model = irt.ItemFactorModel(**{"seed": 0, **settings})
    return model.fit(frame, epochs=epochs, batch_size=batch_size, verbose=verbose)


def _write(folder, name, content):
    path = folder / name
    if isinstance(content, pd.DataFrame) and path.suffix == ".parquet":
        content.to_parquet(path)
    elif isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _parts(folder, saved, **replaced):
    """A copy of the saved model with parts of its zip archive replaced (estimator_json,
    model_keras)."""
    with zipfile.ZipFile(saved) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts.update({name.replace("_", "."): value for name, value in replaced.items()})
    path = folder / "edited.lvirt"
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in parts.items():
            archive.writestr(name, value)
    return path


def _state(folder, saved, edit):
    with zipfile.ZipFile(saved) as archive:
        state = json.loads(archive.read("estimator.json"))
    return _parts(folder, saved, estimator_json=json.dumps(edit(state)))


def _altered(folder, saved):
    """The saved model with 200 bytes zeroed a third of the way in (a bad disk or copy)."""
    data = bytearray(saved.read_bytes())
    start = len(data) // 3
    data[start:start + 200] = bytes(200)
    return _write(folder, "altered.lvirt", bytes(data))


# -- the Python API: fit ---------------------------------------------------------------------
FIT_REFUSED = [
    pytest.param(lambda: _fit(AGREE), TypeError,
                 r"column 'item1' holds text answers \['Disagree', 'Agree'\].*recode",
                 id="text answers"),
    pytest.param(lambda: _fit(_set("item2", [4, 9], "N/A")), TypeError,
                 r"'item2' has a non-numeric value 'N/A' \(first at row 4\).*"
                 r"missing_codes=\['N/A'\]", id="N/A without missing_codes"),
    pytest.param(lambda: _fit(_set("item3", [4, 9], 99)), ValueError,
                 r"item 'item3' has 3 observed categories \[0, 1, 99\].*missing_codes",
                 id="99 as an answer of a binary item"),
    pytest.param(lambda: _fit(LSAT.assign(item1=1)), ValueError,
                 r"item 'item1' has 1 observed categories \[1\]", id="a column of one value"),
    pytest.param(lambda: _fit(LSAT.assign(item5=np.nan)), ValueError,
                 r"item 'item5' has 0 observed categories", id="an all-missing column"),
    pytest.param(lambda: _fit(_renamed("item1", "item1")), ValueError,
                 r"duplicated columns: \['item1'\]", id="duplicate column names"),
    pytest.param(lambda: _fit(_renamed("item1", "")), ValueError,
                 r"columns without a name, at positions \[1\]", id="empty column name"),
    pytest.param(lambda: _fit(_renamed(None)), ValueError,
                 r"columns without a name, at positions \[0\]", id="None as column name"),
    pytest.param(lambda: _fit(_set("item1", [3], 0.5)), ValueError,
                 r"item 'item1' has 3 observed categories \[0, 0.5, 1\] but item_type 'binary'",
                 id="0.5 in a binary item"),
    pytest.param(lambda: _fit(LSAT.assign(item1=np.resize(np.arange(60), 200)),
                              item_type="graded"),
                 irt.SuspiciousColumns, r"'item1': 60 categories \(at most 20 expected\)",
                 id="60 categories"),
    pytest.param(lambda: _fit(_set("item2", [3], "0,5")), TypeError,
                 r"'item2' has '0,5' \(first at row 3\), a number with a decimal comma",
                 id="decimal comma"),
    pytest.param(lambda: _fit(LSAT.assign(item1=pd.Timestamp("2024-05-01"))), TypeError,
                 r"column 'item1' holds dates", id="a date column"),
    pytest.param(lambda: _fit(LSAT.assign(item1=LSAT.item1 + 0j)), TypeError,
                 r"column 'item1' holds complex numbers", id="complex numbers"),
    pytest.param(lambda: _fit(LSAT.assign(item4=[[0, 1]] + LSAT.item4.tolist()[1:])),
                 TypeError, r"column 'item4' has a list at row 0", id="a list in a cell"),
    pytest.param(lambda: _fit(LSAT.to_numpy()), TypeError, r"must be a pandas DataFrame",
                 id="a NumPy array"),
    pytest.param(lambda: _fit(LSAT.iloc[:0]), ValueError, r"responses are empty.*\(0, 5\)",
                 id="header only, no rows"),
    pytest.param(lambda: _fit(n_factors=3, items=ITEMS[:2]), ValueError,
                 r"n_factors=3 is more than the 2 items", id="n_factors > items selected"),
    pytest.param(lambda: _fit(n_factors="2"), TypeError,
                 r"n_factors must be an integer >= 1, got '2'", id="n_factors as a string"),
    pytest.param(lambda: _fit(n_factors=0), ValueError, r"n_factors must be an integer >= 1",
                 id="zero factors"),
    pytest.param(lambda: _fit(n_factors=1, pattern=np.ones((5, 1))), TypeError,
                 r"pattern must be a DataFrame items x factors", id="pattern as an array"),
    pytest.param(lambda: _fit(n_factors=1, pattern=pd.DataFrame(1, ITEMS + ITEMS[:1], ["F1"])),
                 ValueError, r"pattern .*more than one row.*'item1'", id="pattern rows repeated"),
    pytest.param(lambda: _fit(epochs=0), ValueError, r"epochs must be an integer >= 1, got 0",
                 id="zero epochs"),
    pytest.param(lambda: _fit(epochs=-5), ValueError, r"epochs must be an integer >= 1",
                 id="negative epochs"),
    pytest.param(lambda: _fit(epochs=2.5), TypeError, r"epochs must be an integer >= 1, got 2.5",
                 id="fractional epochs"),
    pytest.param(lambda: _fit(epochs=10**30), ValueError, r"epochs=.* steps .* more than",
                 id="huge epochs"),
    pytest.param(lambda: _fit(seed=2**40), ValueError, r"seed must be below 2\*\*32",
                 id="huge seed"),
    pytest.param(lambda: _fit(iw_samples=2**40), ValueError, r"iw_samples must be at most",
                 id="huge iw_samples"),
    pytest.param(lambda: _fit(batch_size=0), ValueError, r"batch_size must be an integer >= 1",
                 id="batch_size 0"),
    pytest.param(lambda: _fit(item_type=["2PL"] * 5), TypeError,
                 r"item_type must be a type name .* or a dict", id="item_type as a list"),
    pytest.param(lambda: _fit(item_type={item: "gradd" for item in ITEMS}), ValueError,
                 r"item_type\['item1'\] must be one of .*got 'gradd'", id="item_type misspelt"),
    pytest.param(lambda: _fit(rotation="promax"), ValueError,
                 r"rotation must be one of 'oblimin', 'geomin', 'varimax', None; got 'promax'",
                 id="unknown rotation"),
    pytest.param(lambda: _fit(seed="1"), ValueError, r"seed must be an integer >= 0, got '1'",
                 id="seed as a string"),
    pytest.param(lambda: _fit(seed=-1), ValueError, r"seed must be an integer >= 0, got -1",
                 id="negative seed"),
    pytest.param(lambda: _fit(verbose=5), ValueError, r"verbose must be one of 0, 1, 2",
                 id="verbose 5"),
    pytest.param(lambda: _fit(missing_codes="99"), TypeError,
                 r"missing_codes must be a list of values.*got '99'", id="missing_codes as text"),
    pytest.param(lambda: _fit(items="item1"), TypeError, r"items must be a list of column labels",
                 id="items as a string"),
]


@pytest.mark.parametrize("call, error, message", FIT_REFUSED)
def test_fit_refuses_naming_the_problem(call, error, message):
    with pytest.raises(error, match=message):
        call()


# Accepted by a rule: (frame, encode_responses settings, item1's category map, warning or None).
ACCEPTED = [
    pytest.param(_set("item1", [5], -9, _set("item1", [2, 7], 99)), {"missing_codes": [99, -9]},
                 {0: 0, 1: 1}, None, id="missing codes 99 and -9"),
    pytest.param(_set("item1", [2, 7], 99), {"missing_codes": ["99"]}, {0: 0, 1: 1}, None,
                 id="missing code '99' given as text"),
    pytest.param(_set("item1", [2], "N/A"), {"missing_codes": ["N/A"]}, {0: 0, 1: 1}, None,
                 id="N/A declared missing"),
    pytest.param(_set("item1", [4], "  ", _set("item1", [2, 3], "")), {}, {0: 0, 1: 1},
                 None, id="blank text is missing"),
    pytest.param(LSAT.assign(item1=np.resize([1, 2, 3, 5], 200)), {"item_type": "graded"},
                 {1: 0, 2: 1, 3: 2, 5: 3}, None, id="a category nobody chose (1, 2, 3, 5)"),
    pytest.param(LSAT.assign(item1=np.resize([1, 2, 3, 4, 5, 9], 200)), {"item_type": "graded"},
                 {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 9: 5}, r"set apart.*'item1': \[9\]",
                 id="a lone 9 on a 1..5 scale"),
    pytest.param(_set("item1", [3, 8], 0.5), {"item_type": "graded"}, {0: 0, 0.5: 1, 1: 2},
                 r"not whole numbers: 'item1': \[0.5\]", id="0.5 as a category"),
    pytest.param(LSAT.assign(item1=np.resize(np.arange(60), 200)),
                 {"item_type": "graded", "max_categories": 60},
                 {value: value for value in range(60)}, None, id="60 categories allowed"),
    pytest.param(LSAT.drop(index=7).reindex(LSAT.index),
                 {}, {0: 0, 1: 1}, r"dropping 1 persons who answered no item \(first: \[7\]\)",
                 id="an all-missing row"),
    pytest.param(LSAT.astype(str).map(lambda text: f" {text} "), {}, {0: 0, 1: 1}, None,
                 id="numbers as text with spaces"),
]


@pytest.mark.parametrize("frame, settings, categories, warned", ACCEPTED)
def test_accepted_by_a_rule(frame, settings, categories, warned):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        responses = irt.encode_responses(frame, **settings)
    assert responses.category_map["item1"] == categories
    messages = [str(found.message) for found in caught if found.category is UserWarning]
    assert len(messages) == (warned is not None), messages
    assert warned is None or re.search(warned, messages[0])


# -- the Python API: scoring, saving and loading a fitted model ------------------------------
SCORE_REFUSED = [
    pytest.param(lambda m: m.score(LSAT.rename(columns={"item1": "Item1"})), ValueError,
                 r"lack the items the model was fitted on: \['item1'\]", id="renamed item"),
    pytest.param(lambda m: m.score(LSAT.assign(age=40)), ValueError,
                 r"columns the model was not fitted on: \['age'\].*items=\[\.\.\.\]",
                 id="extra column"),
    pytest.param(lambda m: m.score(LSAT.assign(item1=2)), ValueError,
                 r"item 'item1' has value 2 at row 0, which was not among its categories \[0, 1\]",
                 id="unseen value"),
    pytest.param(lambda m: m.score(_set("item2", [3], 0.5)), ValueError,
                 r"item 'item2' has value 0.5 at row 3", id="0.5 when scoring"),
    pytest.param(lambda m: m.score(_set("item2", [3], np.inf)), ValueError,
                 r"column 'item2' has an infinite value \(first at row 3\)", id="inf when scoring"),
    pytest.param(lambda m: m.score(_set("item3", [6], "yes")), TypeError,
                 r"'item3' has a non-numeric value 'yes' \(first at row 6\)",
                 id="text when scoring"),
    pytest.param(lambda m: m.score(LSAT.set_axis([0] * 200)), ValueError,
                 r"duplicated index", id="repeated person labels"),
    pytest.param(lambda m: m.score(LSAT, method="EAP"), ValueError,
                 r"method must be one of 'eap', 'map', 'ml', 'wle', 'plausible'; got 'EAP'",
                 id="unknown score method"),
    pytest.param(lambda m: m.log_likelihood(LSAT.drop(columns="item4")), ValueError,
                 r"lack the items.*\['item4'\]", id="log_likelihood without an item"),
    pytest.param(lambda m: m.log_likelihood(LSAT, integration="exact"), ValueError,
                 r"integration must be one of 'auto', 'quadrature', 'sampling'; got 'exact'",
                 id="unknown integration"),
    pytest.param(lambda m: m.save("no/such/folder/model.lvirt"), FileNotFoundError,
                 r"the folder .*folder does not exist", id="save into a missing folder"),
]


@pytest.mark.parametrize("call, error, message", SCORE_REFUSED)
def test_scoring_refuses_naming_the_problem(model, call, error, message):
    with pytest.raises(error, match=message):
        call(model)


def test_reordered_item_columns_give_the_same_scores(model):
    reordered = LSAT[ITEMS[::-1]]
    pd.testing.assert_frame_equal(model.score(reordered), model.score(LSAT))
    assert float(model.log_likelihood(reordered)) == float(model.log_likelihood(LSAT))


LOAD_REFUSED = [
    pytest.param(lambda tmp, saved: tmp, ValueError, r"is a folder, not a saved model",
                 id="a folder"),
    pytest.param(lambda tmp, saved: _state(tmp, saved, lambda state: {**state, "version": 99}),
                 ValueError, r"written by a newer latentvi \(file format version 99; this "
                             r"latentvi reads versions up to 3\); upgrade", id="newer save"),
    pytest.param(lambda tmp, saved: _write(tmp, "cut.lvirt", saved.read_bytes()[:5000]),
                 ValueError, r"is damaged: its zip archive is cut short", id="cut short"),
    pytest.param(_altered, ValueError, r"altered.lvirt is damaged \(", id="altered bytes"),
    pytest.param(lambda tmp, saved: _parts(tmp, saved, estimator_json=b"{not json"), ValueError,
                 r"is damaged \(JSONDecodeError", id="settings not JSON"),
    pytest.param(lambda tmp, saved: _state(tmp, saved, lambda state: {**state, "frames": None}),
                 ValueError, r"is damaged: its settings cannot be read back", id="settings lost"),
    pytest.param(lambda tmp, saved: _parts(tmp, saved, model_keras=b"garbage"), ValueError,
                 r"is damaged: its fitted network \(model.keras\) cannot be read",
                 id="network damaged"),
    pytest.param(lambda tmp, saved: 3, TypeError, r"path must be the path of a saved model",
                 id="a number for the path"),
]


@pytest.mark.parametrize("make, error, message", LOAD_REFUSED)
def test_loading_refuses_naming_the_problem(saved, tmp_path, make, error, message):
    with pytest.raises(error, match=message):
        irt.load(make(tmp_path, saved))


# -- the command line ------------------------------------------------------------------------
def _main(argv, capsys):
    """(exit code, stderr) of `latentvi argv`, checking that no traceback was printed."""
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, err


def _fit_file(content, *options, name="answers.csv"):
    return lambda tmp, saved: ["fit", _write(tmp, name, content), "--out", tmp / "o", *SHORT,
                               *options]


def _with_pattern(text):
    def argv(tmp, saved):
        return ["fit", _write(tmp, "answers.csv", LSAT), "--pattern",
                _write(tmp, "pattern.csv", text), "--out", tmp / "o", *SHORT]
    return argv


def _score_with(make_model, content=LSAT):
    return lambda tmp, saved: ["score", make_model(tmp, saved), _write(tmp, "new.csv", content),
                               "--out", tmp / "s.csv"]


SURVEY = LSAT.assign(id=range(1001, 1201), age=np.resize(np.arange(18, 80), 200),
                     sex=np.resize([1, 2], 200))[["id", "age", "sex", *ITEMS]]
PARQUET = LSAT.assign(item1=LSAT.item1.astype(str).where(LSAT.index != 5, "."),
                      item2=LSAT.item2.astype(float).where(LSAT.index != 6),
                      item3=LSAT.item3.astype("Int64").where(LSAT.index != 7),
                      item4=LSAT.item4.astype(bool), item5=pd.Categorical(LSAT.item5))
NOT_UTF8 = "caf\u00e9,item2\n1,0\n0,1\n".encode("latin-1")

CLI_REFUSED = [
    pytest.param(_fit_file(""), r"answers.csv is empty", id="empty file"),
    pytest.param(_fit_file(",".join(ITEMS) + "\n"), r"has no rows", id="header only"),
    pytest.param(_fit_file(LSAT, name="answers"), r"cannot read answers: expected one of .csv",
                 id="no suffix"),
    pytest.param(_fit_file(NOT_UTF8), r"not UTF-8 text \(byte 0xe9 at position 3\)",
                 id="not UTF-8"),
    pytest.param(_fit_file(b"PAR1 not parquet", name="a.parquet"),
                 r"cannot read a.parquet as Parquet", id="damaged Parquet"),
    pytest.param(_fit_file(PARQUET, name="mixed.parquet"),
                 r"'item1' has a non-numeric value '\.' \(first at row 5\).*--missing-codes \.",
                 id="Parquet of mixed dtypes, no codes"),
    pytest.param(_fit_file(AGREE),
                 r"'item1' holds text answers \['Disagree', 'Agree'\]", id="text answers"),
    pytest.param(_fit_file(_set("item2", [4], ".")),
                 r"'item2' has a non-numeric value '\.'.*--missing-codes \.",
                 id="'.' without codes"),
    pytest.param(_fit_file(_set("item3", [4, 9], 99)),
                 r"\[0, 1, 99\] but --item-type 'binary'.*--missing-codes", id="99 without codes"),
    pytest.param(_fit_file(SURVEY, "--id-column", "id"),
                 r"'age' \(62 categories.*--drop", id="demographics beside the items"),
    pytest.param(_fit_file(SURVEY, "--id-column", "id", "--drop", "agee"),
                 r"--drop names columns not in answers.csv: \['agee'\]", id="--drop misspelt"),
    pytest.param(_fit_file(LSAT, "--drop", ",".join(ITEMS)), r"--drop leaves no item columns",
                 id="--drop everything"),
    pytest.param(_fit_file(LSAT, "--items", "item1", "--drop", "item2"),
                 r"argument --drop: not allowed with argument --items", id="--items and --drop"),
    pytest.param(_fit_file(LSAT.assign(item2=0)), r"item 'item2' has 1 observed categories",
                 id="a column of one value"),
    pytest.param(_fit_file(LSAT.assign(item2=np.nan)), r"item 'item2' has 0 observed",
                 id="an all-missing column"),
    pytest.param(_fit_file(_renamed("item1", "item1")),
                 r"2 columns named 'item1' \(columns 1, 2\); column names must be unique",
                 id="duplicate column names"),
    pytest.param(_fit_file(_renamed("item1", "")),
                 r"column 2 of answers.csv has no name in its header.*--drop 'Unnamed: 1'",
                 id="empty column name"),
    pytest.param(_fit_file(LSAT.assign(item1=np.resize(np.arange(60), 200)), "--item-type",
                           "graded"), r"'item1' \(60 categories", id="60 categories"),
    pytest.param(_fit_file(_set("item1", [5], np.inf)),
                 r"'item1' has an infinite value \(first at row 5\)", id="inf"),
    pytest.param(_fit_file(_set("item1", [5], 0.5)),
                 r"\[0, 0.5, 1\] but --item-type 'binary'.*--item-type graded", id="0.5"),
    pytest.param(_fit_file(LSAT, "--factors", "two"), r"argument --factors: expected a whole "
                                                      r"number >= 1; got 'two'", id="factors two"),
    pytest.param(_fit_file(LSAT, "--factors", "0"), r"argument --factors: .*got '0'",
                 id="zero factors"),
    pytest.param(_fit_file(LSAT, "--epochs", "0"), r"argument --epochs: expected a whole number "
                                                   r"from 1 to 100,000; got '0'", id="epochs 0"),
    pytest.param(_fit_file(LSAT, "--epochs", "-3"), r"argument --epochs: .*got '-3'",
                 id="negative epochs"),
    pytest.param(_fit_file(LSAT, "--epochs", str(10**30)), r"argument --epochs: .*100,000",
                 id="huge epochs"),
    pytest.param(_fit_file(LSAT, "--batch-size", "0"), r"argument --batch-size: .*>= 1",
                 id="batch size 0"),
    pytest.param(_fit_file(LSAT, "--loglik-samples", "0"), r"argument --loglik-samples",
                 id="loglik samples 0"),
    pytest.param(_fit_file(LSAT, "--max-categories", "1"), r"argument --max-categories: .*>= 2",
                 id="max categories 1"),
    pytest.param(_fit_file(LSAT, "--tol", "nan"), r"argument --tol: expected a number > 0",
                 id="tol nan"),
    pytest.param(_fit_file(LSAT, "--item-type", "binray"), r"argument --item-type: invalid "
                                                           r"choice: 'binray'", id="item type"),
    pytest.param(_fit_file(LSAT, "--rotation", "promax"), r"argument --rotation: invalid choice",
                 id="rotation"),
    pytest.param(_fit_file(LSAT, "--seed", "abc"), r"argument --seed: .*got 'abc'",
                 id="seed as text"),
    pytest.param(_fit_file(LSAT, "--seed", "-1"), r"argument --seed: expected a whole number "
                                                  r"from 0 to 4,294,967,295", id="negative seed"),
    pytest.param(_fit_file(LSAT, "--sep", ";;"), r"argument --sep: expected one character",
                 id="two-character separator"),
    pytest.param(_fit_file(LSAT, "--missing-codes", "99,,-9"),
                 r"argument --missing-codes: expected comma-separated codes", id="empty code"),
    pytest.param(_with_pattern("item\n" + "\n".join(ITEMS)), r"pattern.csv has no factor columns",
                 id="pattern without factor columns"),
    pytest.param(_with_pattern("item,F1\n" + "\n".join(f"{i},1" for i in ITEMS + ["item2"])),
                 r"more than one row for items \['item2'\]", id="pattern row repeated"),
    pytest.param(_with_pattern("item,F1\nitem1,1\nitem2,1\n"),
                 r"pattern has no row for items \['item3', 'item4', 'item5'\]",
                 id="pattern of the wrong shape"),
    pytest.param(_score_with(lambda tmp, saved: saved, _set("item1", [8], 7)),
                 r"item 'item1' has value 7 at row 8", id="score an unseen answer"),
    pytest.param(_score_with(_altered), r"altered.lvirt is damaged", id="score, damaged model"),
    pytest.param(_score_with(lambda tmp, saved: _state(tmp, saved, lambda s: {**s, "version": 9})),
                 r"newer latentvi", id="score, model from a newer latentvi"),
    pytest.param(lambda tmp, saved: ["info", tmp], r"is a folder without a saved model",
                 id="info on a folder"),
]


@pytest.mark.parametrize("argv, message", CLI_REFUSED)
def test_command_line_refuses_with_one_message(saved, tmp_path, capsys, argv, message):
    code, err = _main(argv(tmp_path, saved), capsys)
    assert code == 2
    assert "error:" in err.splitlines()[-1] and re.search(message, err.splitlines()[-1]), err
    assert not (tmp_path / "o").exists()


def test_excel_without_its_reader_names_the_package(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name == "openpyxl" else real(name))
    code, err = _main(["fit", _write(tmp_path, "a.xlsx", b"PK"), "--out", tmp_path / "o"], capsys)
    assert code == 2 and "reading Excel needs the optional package openpyxl" in err


def test_excel_text_answers_and_repeated_names(tmp_path, capsys):
    pytest.importorskip("openpyxl")
    path = tmp_path / "a.xlsx"
    _set("item1", [3], "Agree").to_excel(path, index=False)
    assert _main(["fit", path, "--out", tmp_path / "o", *SHORT], capsys)[0] == 2
    _renamed("item1", "item1").to_excel(path, index=False)
    code, err = _main(["fit", path, "--out", tmp_path / "o", *SHORT], capsys)
    assert code == 2 and "2 columns named 'item1'" in err


# -- the command line: accepted by a rule ----------------------------------------------------
def test_reading_rules(tmp_path):
    """Decimal commas in a ';' file, NA / N/A / empty cells as missing, a trailing separator,
    Parquet columns of mixed dtypes, and a demographic column kept until --drop names it."""
    notes = []
    table = cli.read_table(_write(tmp_path, "eu.csv", "q1;q2;\n1,5;NA;\n2;N/A;\n0,5;1;\n"),
                           note=notes.append)
    assert list(table.columns) == ["q1", "q2"] and table["q1"].tolist() == [1.5, 2.0, 0.5]
    assert table["q2"].isna().tolist() == [True, True, False]
    assert any("decimal commas" in note for note in notes)
    assert any("without a name or a value, left out: Unnamed: 2" in note for note in notes)
    parquet = cli.read_responses(_write(tmp_path, "mixed.parquet", PARQUET))
    coded = irt.encode_responses(parquet, missing_codes=["."])
    assert all(codes == {0: 0, 1: 1} for codes in coded.category_map.values())
    survey = cli.read_responses(_write(tmp_path, "survey.csv", SURVEY), "id")
    assert list(select_items(survey, None, ["age"], "survey.csv")[0].columns) == ["sex", *ITEMS]


def test_european_export_with_codes_and_an_id_is_fitted(tmp_path, capsys):
    """';'-separated, a separator at the end of every line, an id and demographics, 99 and -9
    for no answer, one person who answered nothing: fitted as documented."""
    survey = SURVEY.copy()
    survey.loc[[3, 50], "item2"] = 99
    survey.loc[[4, 60], "item4"] = -9
    survey.loc[10, ITEMS] = -9
    text = "\n".join(line + ";" for line in survey.to_csv(index=False, sep=";").splitlines())
    out = tmp_path / "o"
    code, err = _main(["fit", _write(tmp_path, "export.csv", text), "--id-column", "id",
                       "--drop", "age,sex", "--missing-codes", "99,-9", *SHORT[:-1],
                       "--out", out], capsys)
    assert code == 0, err
    assert "export.csv is separated by ';'" in err and "left out: Unnamed: 8" in err
    assert "dropping 1 persons who answered no item (first: [1011])" in err
    summary = json.loads((out / "fit.json").read_text())
    assert summary["category_map"] == {item: {"0": 0, "1": 1} for item in ITEMS}
    scores = pd.read_csv(out / "scores.csv", index_col="id")
    assert list(scores.index[:2]) == [1001, 1002] and scores.loc[1011, "SE_F1"] == 1.0


def test_scoring_reordered_columns_and_a_fit_folder(saved, tmp_path, capsys):
    """The items are taken by name, so their order does not matter; the folder `fit` wrote
    stands for its model.lvirt."""
    runs = {"in order": (saved, LSAT), "reordered": (saved.parent, LSAT[ITEMS[::-1]])}
    for name, (model_path, data) in runs.items():
        code, err = _main(["score", model_path, _write(tmp_path, f"{name}.csv", data), "--out",
                           tmp_path / f"{name}_scores.csv", "--quiet"], capsys)
        assert code == 0, err
    scores = [pd.read_csv(tmp_path / f"{name}_scores.csv", index_col=0) for name in runs]
    pd.testing.assert_frame_equal(*scores)
