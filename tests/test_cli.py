"""Command line: one-line errors with exit code 2, and a small fit whose files match the model."""

import contextlib
import importlib.util
import io
import json
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

import latentvi
from latentvi import cli, irt


@pytest.fixture(scope="module")
def responses_csv(tmp_path_factory):
    data, _ = irt.simulate(300, 6, 1, seed=0)
    path = tmp_path_factory.mktemp("data") / "responses.csv"
    data.to_csv(path)
    return path


@pytest.fixture(scope="module")
def cli_fit(responses_csv, tmp_path_factory):
    """One small fit through main(); the model and criteria are captured as fit_summary sees
    them, so the files can be compared with the model itself."""
    out = tmp_path_factory.mktemp("fit") / "results"
    captured = {}
    original = cli.fit.fit_summary

    def capture(model, criteria, *rest):
        captured.update(model=model, criteria=criteria)
        return original(model, criteria, *rest)

    cli.fit.fit_summary = capture
    try:
        code = cli.main(["fit", str(responses_csv), "--out", str(out), "--epochs", "5",
                         "--seed", "0", "--index-col", "person", "--loglik-samples", "200",
                         "--quiet"])
    finally:
        cli.fit.fit_summary = original
    return code, out, captured


def _error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_fit_writes_files_that_match_the_model(cli_fit, responses_csv):
    code, out, captured = cli_fit
    assert code == 0
    for name in ("model.lvirt", "items.csv", "items_se.csv", "scores.csv", "fit.json",
                 "history.csv", "item_curves.png", "information.png", "loadings.png"):
        assert (out / name).is_file(), name
    model, criteria = captured["model"], captured["criteria"]
    summary = json.loads((out / "fit.json").read_text())
    for key in ("loglik", "loglik_se", "AIC", "BIC"):
        assert summary[key] == pytest.approx(float(criteria[key]), rel=1e-12)
    assert summary["loglik_se"] == 0  # one factor: exact, by quadrature
    # mirt's count for 6 binary 2PL items: 6 slopes + 6 intercepts.
    assert summary["n_params"] == 12
    assert summary["AIC"] == pytest.approx(-2 * summary["loglik"] + 24, rel=1e-12)
    assert summary["BIC"] == pytest.approx(-2 * summary["loglik"] + 12 * np.log(300), rel=1e-12)
    assert summary["settings"]["factors"] == 1 and summary["versions"]["latentvi"]
    # The settings the fit used, defaults resolved: 300 persons (up to 512) -> every step sees
    # all of them; 6 items -> k = 1000 // 6 = 166, clipped to 50.
    assert summary["settings"]["epochs"] == 5 and summary["settings"]["batch_size"] == 300
    assert summary["settings"]["iw_samples"] == 50 == model.iw_samples_
    items = pd.read_csv(out / "items.csv", index_col=0)
    # float32 parameters are written with float32's ~7 significant digits.
    np.testing.assert_allclose(items.to_numpy(), model.items_.to_numpy(), rtol=1e-6)
    errors = pd.read_csv(out / "items_se.csv", index_col=0)
    data = pd.read_csv(responses_csv, index_col="person")
    np.testing.assert_allclose(errors.to_numpy(),
                               model.standard_errors(data).items.to_numpy(), rtol=1e-6)
    scores = pd.read_csv(out / "scores.csv", index_col=0)
    data = pd.read_csv(responses_csv, index_col="person")
    assert list(scores.index) == list(data.index)
    assert list(scores.columns) == ["F1", "SE_F1"] and (scores["SE_F1"] > 0).all()


def test_existing_output_folder_needs_force(cli_fit, responses_csv, capsys):
    _, out, _ = cli_fit
    code = cli.main(["fit", str(responses_csv), "--out", str(out), "--quiet"])
    assert code == 2
    assert "--force" in _error_line(capsys)


def test_missing_file(tmp_path, capsys):
    assert cli.main(["fit", str(tmp_path / "nope.csv"), "--quiet"]) == 2
    assert "no such file" in _error_line(capsys)


def test_unknown_suffix_and_unreadable_file(tmp_path, capsys):
    strange = tmp_path / "answers.sav"
    strange.write_text("x")
    assert cli.main(["fit", str(strange)]) == 2
    assert "expected one of" in _error_line(capsys)


def test_missing_index_column(responses_csv, tmp_path, capsys):
    code = cli.main(["fit", str(responses_csv), "--index-col", "student_id",
                     "--out", str(tmp_path / "o")])
    assert code == 2
    assert "student_id" in _error_line(capsys)


def test_non_numeric_answers_name_the_column(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"q1": [0, 1, 1], "q2": ["yes", "no", "maybe"]}).to_csv(path, index=False)
    assert cli.main(["fit", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "q2" in _error_line(capsys)


def test_pattern_with_wrong_factor_count(responses_csv, tmp_path, capsys):
    pattern = tmp_path / "pattern.csv"
    pd.DataFrame({"item": [f"item{j + 1}" for j in range(6)], "F1": 1}).to_csv(pattern,
                                                                                 index=False)
    code = cli.main(["fit", str(responses_csv), "--factors", "2", "--pattern", str(pattern),
                     "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--factors is 2" in _error_line(capsys)


def test_parquet_without_pyarrow_gives_install_hint(tmp_path, capsys, monkeypatch):
    path = tmp_path / "answers.parquet"
    path.write_bytes(b"PAR1")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name in ("pyarrow", "fastparquet") else real(name))
    assert cli.main(["fit", str(path)]) == 2
    assert "pip install pyarrow" in _error_line(capsys)


def test_usage_error_and_help(capsys):
    assert cli.main(["fit"]) == 2
    assert cli.main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_demo_prints_latentvi_beside_mirt(monkeypatch, capsys):
    fitted = []

    class ShortFit(irt.ItemFactorModel):
        """The demo's model with a 3-epoch fit: this checks the table, not the estimates."""

        def fit(self, data, epochs=None, batch_size=None, verbose=1, **kwargs):
            fitted.append(self)
            return super().fit(data, epochs=3, verbose=0)

        def log_likelihood(self, data, num_samples=5000):
            return super().log_likelihood(data, num_samples=50)

    monkeypatch.setattr(irt, "ItemFactorModel", ShortFit)
    assert cli.main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if re.match(r"item\d", line)]
    assert [row[0] for row in rows] == [f"item{j}" for j in range(1, 6)]
    table = np.array([[float(v) for v in row[1:]] for row in rows])
    # Columns a1, a1 (mirt), SE a1, SE a1 (mirt), then the same for d, rounded to 3 decimals.
    np.testing.assert_allclose(table[:, 1], cli.MIRT_LSAT7["a1"])
    np.testing.assert_allclose(table[:, 5], cli.MIRT_LSAT7["d"])
    np.testing.assert_allclose(table[:, [3, 7]], np.round(
        np.transpose([cli.MIRT_LSAT7_SE["a1"], cli.MIRT_LSAT7_SE["d"]]), 3))
    np.testing.assert_allclose(table[:, [0, 4]], fitted[0].items_[["a1", "d"]], atol=5e-4)
    # the refinement takes even this short fit to the maximum: SEs within 1% of mirt's
    np.testing.assert_allclose(table[:, [2, 6]], table[:, [3, 7]], rtol=0.01, atol=1e-3)
    assert "-2658.805" in out


# -- survey exports: an id, demographics, missing-value codes ----------------------------------
ITEMS = [f"q{j + 1}" for j in range(6)]
SELECT = ["--id-column", "id", "--drop", "age,sex", "--missing-codes", "-9,."]
# Two epochs: these tests check which columns and persons are fitted and what is written, not
# the estimates; the Monte Carlo log-likelihood on 200 samples is only written, not checked.
SHORT = ["--epochs", "20", "--seed", "1", "--loglik-samples", "200", "--no-plots"]


def _survey():
    """300 persons: id, age, sex, six binary items with -9 (refused) and '.' (not asked) codes;
    person 1008 answered nothing (-9 throughout)."""
    data, _ = irt.simulate(300, 6, 1, seed=0)
    rng = np.random.default_rng(0)
    answers = data.to_numpy().astype(int).astype(object)
    answers[rng.random(answers.shape) < 0.05] = -9
    answers[rng.random(answers.shape) < 0.02] = "."
    answers[7] = -9
    survey = pd.DataFrame(answers, columns=ITEMS)
    survey.insert(0, "id", np.arange(1001, 1301))
    survey.insert(1, "age", rng.integers(18, 80, 300))
    survey.insert(2, "sex", rng.integers(1, 3, 300))
    return survey


def _run(argv):
    """main(argv) with its stderr captured: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, err.getvalue()


@pytest.fixture(scope="module")
def survey_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("survey") / "survey.csv"
    _survey().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def survey_fit(survey_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("survey_fit") / "results"
    code, err = _run(["fit", str(survey_csv), *SELECT, *SHORT, "--quiet", "--out", str(out)])
    return code, out, err


@pytest.fixture(scope="module")
def survey_refit(survey_csv, tmp_path_factory):
    """The same command again, into another folder."""
    out = tmp_path_factory.mktemp("survey_refit") / "results"
    code, _ = _run(["fit", str(survey_csv), *SELECT, *SHORT, "--quiet", "--out", str(out)])
    return code, out


def test_id_and_demographics_are_refused_naming_the_flags(survey_csv, tmp_path, capsys):
    code = cli.main(["fit", str(survey_csv), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    err = _error_line(capsys)
    ages = _survey()["age"].nunique()  # 18..79: about 60 values, more than the 20 allowed
    assert "'id' (all 300 values distinct" in err and f"'age' ({ages} categories" in err
    assert "'sex'" not in err and "q1" not in err
    for flag in ("--items", "--drop", "--id-column", "--max-categories"):
        assert flag in err
    assert not (tmp_path / "o").exists()


def test_items_given_an_item_type_points_to_item_type(survey_csv, tmp_path, capsys):
    code = cli.main(["fit", str(survey_csv), "--items", "graded", "--out", str(tmp_path / "o")])
    assert code == 2
    err = _error_line(capsys)
    assert "no column 'graded'" in err and "--item-type graded" in err


def test_unknown_item_column_lists_the_columns(survey_csv, tmp_path, capsys):
    code = cli.main(["fit", str(survey_csv), "--items", "q1,q7", "--out", str(tmp_path / "o")])
    assert code == 2
    err = _error_line(capsys)
    assert "--items names columns not in survey.csv: ['q7']" in err and "'age'" in err


def test_library_errors_are_phrased_in_flags(survey_csv, tmp_path, capsys):
    code = cli.main(["fit", str(survey_csv), *SELECT, "--factors", "9", "--quiet",
                     "--out", str(tmp_path / "o")])
    assert code == 2
    # The library's warning about person 1008 (no answers) comes first; the error is one line.
    warning, err = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith("latentvi: warning: dropping 1 persons")
    assert err.startswith("latentvi: error: --factors 9") and "n_factors" not in err
    assert cli.in_flags("use item_type='graded' for this item; n_factors is 3; pass "
                        "missing_codes=[-9, '.'] or items=['q1', 'q2']") == (
        "use --item-type graded for this item; --factors is 3; pass --missing-codes -9,. or "
        "--items q1,q2")
    # Plain words are left alone unless written as keyword=value.
    assert cli.in_flags("6 items, 2 epochs") == "6 items, 2 epochs"


def test_convergence_warning_is_phrased_in_flags():
    assert cli.in_flags("a larger tol=0.002") == "a larger --tol 0.002"
    assert cli.in_flags("rising by more than tol=0.002 nats per person; refit with a larger "
                        "max_steps (or a larger tol)") == (
        "rising by more than --tol 0.002 nats per person; refit with a larger --max-steps "
        "(or a larger --tol)")
    assert cli.in_flags("rtol=0.1, atol=0.2") == "rtol=0.1, atol=0.2"


def test_tol_reaches_the_fit(responses_csv, tmp_path):
    out = tmp_path / "o"
    code, err = _run(["fit", str(responses_csv), "--id-column", "person", "--tol", "0.01",
                      *SHORT, "--quiet", "--out", str(out)])
    assert code == 0, err
    assert json.loads((out / "fit.json").read_text())["settings"]["tol"] == 0.01


def test_survey_fit_selects_items_indexes_by_id_and_masks_codes(survey_fit):
    code, out, err = survey_fit
    assert code == 0
    assert (out / "model.lvirt").is_file()
    items = pd.read_csv(out / "items.csv", index_col=0)
    assert list(items.index) == ITEMS and list(items.columns) == ["a1", "d"]
    scores = pd.read_csv(out / "scores.csv", index_col=0)
    assert scores.index.name == "id" and list(scores.index[:3]) == [1001, 1002, 1003]
    summary = json.loads((out / "fit.json").read_text())
    # -9 and '.' are no answers: every item keeps just its two categories 0 and 1.
    assert summary["category_map"] == {item: {"0": 0, "1": 1} for item in ITEMS}
    assert summary["settings"]["missing_codes"] == [-9, "."]
    assert summary["settings"]["items"] == ITEMS and summary["settings"]["drop"] == ["age", "sex"]
    # Person 1008 answered -9 throughout: read, then dropped, and said so even with --quiet.
    assert summary["n_persons_read"] == 300 and summary["n_persons"] == 299
    assert summary["n_dropped"] == 1 and summary["dropped_persons"] == [1008]
    assert summary["dropped_reason"] == "answered none of the items"
    assert "latentvi: warning: dropping 1 persons" in err


def test_missing_codes_fit_as_empty_cells(survey_fit, tmp_path):
    """The same answers with the codes left blank, items chosen by --items: the coded responses
    and the seed are the same, so the estimates are too (to float32 precision)."""
    survey = _survey()
    survey[ITEMS] = survey[ITEMS].replace({-9: np.nan, ".": np.nan}).astype(float)
    path = tmp_path / "blank.csv"
    survey.to_csv(path, index=False)
    code, _ = _run(["fit", str(path), "--id-column", "id", "--items", ",".join(ITEMS), *SHORT,
                    "--quiet", "--out", str(tmp_path / "o")])
    assert code == 0
    blank = pd.read_csv(tmp_path / "o" / "items.csv", index_col=0)
    coded = pd.read_csv(survey_fit[1] / "items.csv", index_col=0)
    np.testing.assert_allclose(blank.to_numpy(), coded.to_numpy(), rtol=1e-6)


def test_same_seed_gives_the_same_files(survey_fit, survey_refit):
    assert survey_fit[0] == survey_refit[0] == 0
    for name in ("items.csv", "scores.csv"):
        assert (survey_fit[1] / name).read_text() == (survey_refit[1] / name).read_text(), name
    # history.csv also holds each epoch's wall time; its bounds are the same.
    histories = [pd.read_csv(out / "history.csv") for out in (survey_fit[1], survey_refit[1])]
    pd.testing.assert_frame_equal(*(history.drop(columns="seconds") for history in histories))
    first, second = (json.loads((out / "fit.json").read_text())
                     for out in (survey_fit[1], survey_refit[1]))
    assert first["loglik"] == second["loglik"]


def test_r_write_csv2_export(survey_fit, tmp_path, capsys):
    """R's write.csv2: ';'-separated, row names under an empty header ('Unnamed: 0')."""
    survey = _survey().set_index("id")
    survey.index.name = None
    path = tmp_path / "export.csv"
    survey.to_csv(path, sep=";")
    code, err = _run(["fit", str(path), "--drop", "age,sex", "--missing-codes", "-9,.", *SHORT,
                      "--out", str(tmp_path / "o")])
    assert code == 0, err
    assert "export.csv is separated by ';'" in err
    assert "first column of export.csv has no name: taken as the person id" in err
    assert "--id-column" in err
    scores = pd.read_csv(tmp_path / "o" / "scores.csv", index_col=0)
    assert list(scores.index[:3]) == [1001, 1002, 1003]
    # The summary: one factor, so the log-likelihood is exact (quadrature), to 3 decimals.
    out, summary = capsys.readouterr().out, json.loads((tmp_path / "o" / "fit.json").read_text())
    assert summary["loglik_se"] == 0
    assert f"log-likelihood {summary['loglik']:.3f} (exact, by quadrature)" in out
    assert "persons: 300 read, 299 fitted, 1 dropped (answered none of the items)" in out
    # The same persons, answers and seed as the comma-separated fit with --id-column id.
    np.testing.assert_allclose(pd.read_csv(tmp_path / "o" / "items.csv", index_col=0),
                               pd.read_csv(survey_fit[1] / "items.csv", index_col=0), rtol=1e-6)


def test_unnamed_first_column_as_explicit_id_column(tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame({"q1": [0, 1], "q2": [1, 1]}, index=["a", "b"]).to_csv(path)
    table = cli.read_responses(path, id_column="Unnamed: 0")
    assert list(table.index) == ["a", "b"] and list(table.columns) == ["q1", "q2"]


def test_separator_that_cannot_be_guessed_asks_for_sep(tmp_path, capsys):
    path = tmp_path / "odd.csv"
    path.write_text("q1;q2\n1;0\n0;1;1;1\n")
    assert cli.main(["fit", str(path), "--out", str(tmp_path / "o")]) == 2
    err = _error_line(capsys)
    assert "separator ';'" in err and "--sep" in err


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"latentvi {latentvi.__version__}\n"


def test_factors_taken_from_the_pattern(survey_csv, tmp_path):
    pattern = tmp_path / "pattern.csv"
    pd.DataFrame({"item": ITEMS, "reading": [1, 1, 1, 0, 0, 0],
                  "math": [0, 0, 0, 1, 1, 1]}).to_csv(pattern, index=False)
    code, err = _run(["fit", str(survey_csv), *SELECT, *SHORT, "--quiet", "--pattern",
                      str(pattern), "--out", str(tmp_path / "o")])
    assert code == 0, err
    items = pd.read_csv(tmp_path / "o" / "items.csv", index_col=0)
    assert list(items.columns) == ["a1", "a2", "d"]
    corr = pd.read_csv(tmp_path / "o" / "factor_corr.csv", index_col=0)
    assert list(corr.index) == ["reading", "math"]
    assert json.loads((tmp_path / "o" / "fit.json").read_text())["settings"]["factors"] == 2


def test_score_new_respondents_with_the_saved_model(survey_fit, tmp_path, capsys):
    _, out, _ = survey_fit
    # 40 of the fitted persons, in reverse order, columns shuffled, codes as in the export.
    new = _survey().iloc[39::-1][["sex", "q4", "id", "q1", "q6", "q2", "age", "q3", "q5"]]
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)
    target = tmp_path / "new_scores.csv"
    argv = ["score", str(out / "model.lvirt"), str(path), "--id-column", "id",
            "--out", str(target)]
    assert cli.main(argv) == 0
    assert "scored 40 persons on 6 items" in capsys.readouterr().out
    scores = pd.read_csv(target, index_col=0)
    assert scores.index.name == "id" and list(scores.index) == list(new["id"])
    fitted = pd.read_csv(out / "scores.csv", index_col=0).loc[scores.index]
    # 40 persons draw other Monte Carlo samples than 300 (the draws' shape follows n), so the
    # EAPs differ by Monte Carlo error alone: about se / sqrt(1000) = 0.03 se per estimate,
    # about 0.045 se between two; 0.25 se is over 5 of those SDs.
    np.testing.assert_array_less(np.abs(scores["F1"] - fitted["F1"]), 0.25 * fitted["SE_F1"])
    np.testing.assert_allclose(scores["SE_F1"], fitted["SE_F1"], rtol=0.1)
    # The person with no answers gets the prior, as in the fit's scores.csv.
    np.testing.assert_allclose(scores.loc[1008].to_numpy(), [0.0, 1.0], atol=1e-6)
    assert cli.main(argv) == 2
    assert "--force" in _error_line(capsys)
    assert cli.main([*argv, "--force", "--quiet"]) == 0


def test_score_needs_the_fitted_items(survey_fit, tmp_path, capsys):
    path = tmp_path / "new.csv"
    _survey().drop(columns="q2").to_csv(path, index=False)
    code = cli.main(["score", str(survey_fit[1] / "model.lvirt"), str(path), "--id-column", "id",
                     "--out", str(tmp_path / "s.csv")])
    assert code == 2
    assert "lacks items the model was fitted on: ['q2']" in _error_line(capsys)


def test_info_prints_the_saved_model(survey_fit, capsys):
    assert cli.main(["info", str(survey_fit[1] / "model.lvirt")]) == 0
    out = capsys.readouterr().out
    assert "1 factor(s), 6 items, 299 persons (fixed epochs)" in out
    rows = [line.split() for line in out.splitlines() if re.match(r"q\d ", line)]
    items = pd.read_csv(survey_fit[1] / "items.csv", index_col=0)
    assert [row[0] for row in rows] == ITEMS
    np.testing.assert_allclose([[float(v) for v in row[1:]] for row in rows], items, atol=5e-4)
    assert "factor correlations" in out
    assert re.search(r"missing_codes\s+-9,\.\n", out)


def test_info_without_a_model_file(tmp_path, capsys):
    assert cli.main(["info", str(tmp_path / "model.lvirt")]) == 2
    assert "no saved model" in _error_line(capsys)


class _ClosedPipe(io.TextIOBase):
    """A standard output whose reader has gone, as in `latentvi info model.lvirt | head -3`."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("command", ["info", "--help"])
def test_a_closed_pipe_ends_quietly(cli_fit, command, capsys, monkeypatch):
    argv = ["info", str(cli_fit[1] / "model.lvirt")] if command == "info" else [command]
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert cli.main(argv) == 0
    assert capsys.readouterr().err == ""


def test_fit_json_lists_the_first_100_dropped_persons():
    model = types.SimpleNamespace(
        dropped_persons_=pd.Index(np.arange(5000, 5250)), n_persons_=750,
        items_=pd.DataFrame({"a1": [1.0], "d": [0.0]}, index=["q1"]),
        history_=pd.DataFrame({"bound": [-1.0]}), converged_=True, n_factors=1, settings_={},
        category_map_={"q1": {0: 0, 1: 1}})
    args = types.SimpleNamespace(data="big.csv", id_column=None, drop=None, missing_codes=None,
                                 max_categories=None, item_type="binary", rotation="oblimin",
                                 pattern=None, loglik_samples=200, seed=0)
    criteria = {"loglik": -1.0, "loglik_se": 0.1, "n_params": 2, "AIC": 6.0, "BIC": 7.0}
    summary = cli.fit_summary(model, criteria, pd.DataFrame(index=range(1000)), args, 1.0)
    assert summary["n_dropped"] == 250
    assert summary["dropped_persons"] == list(range(5000, 5100))
    json.dumps(summary)  # the labels are plain ints, not numpy's


def test_criteria_line_rounds_to_the_monte_carlo_se():
    criteria = pd.Series({"loglik": -2658.8123, "loglik_se": 0.09, "n_params": 10,
                          "AIC": 5337.6246, "BIC": 5386.7022})
    # SE 0.09 -> one decimal; AIC and BIC have SE 0.18 -> whole numbers.
    assert cli.criteria_line(criteria) == ("log-likelihood -2658.8 (Monte Carlo SE 0.09)  "
                                           "AIC 5338  BIC 5387")
    exact = criteria.copy()
    exact["loglik_se"] = 0.0  # quadrature
    assert cli.criteria_line(exact) == ("log-likelihood -2658.812 (exact, by quadrature)  "
                                        "AIC 5337.62  BIC 5386.70")


def test_missing_codes_parse_numbers_as_numbers():
    assert cli.parse_codes("-9,99,.,  NA ,2.5") == [-9, 99, ".", "NA", 2.5]
