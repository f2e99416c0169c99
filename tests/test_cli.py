"""Command line: one-line errors with exit code 2, and a small fit whose files match the model."""

import json
import re

import numpy as np
import pandas as pd
import pytest

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
    original = cli.fit_summary

    def capture(model, criteria, *rest):
        captured.update(model=model, criteria=criteria)
        return original(model, criteria, *rest)

    cli.fit_summary = capture
    try:
        code = cli.main(["fit", str(responses_csv), "--out", str(out), "--epochs", "5",
                         "--seed", "0", "--index-col", "person", "--loglik-samples", "200",
                         "--quiet"])
    finally:
        cli.fit_summary = original
    return code, out, captured


def _error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_fit_writes_files_that_match_the_model(cli_fit, responses_csv):
    code, out, captured = cli_fit
    assert code == 0
    for name in ("items.csv", "scores.csv", "fit.json", "history.csv", "item_curves.png",
                 "information.png", "loadings.png"):
        assert (out / name).is_file(), name
    model, criteria = captured["model"], captured["criteria"]
    summary = json.loads((out / "fit.json").read_text())
    for key in ("loglik", "AIC", "BIC"):
        assert summary[key] == pytest.approx(float(criteria[key]), rel=1e-12)
    # mirt's count for 6 binary 2PL items: 6 slopes + 6 intercepts.
    assert summary["n_params"] == 12
    assert summary["AIC"] == pytest.approx(-2 * summary["loglik"] + 24, rel=1e-12)
    assert summary["BIC"] == pytest.approx(-2 * summary["loglik"] + 12 * np.log(300), rel=1e-12)
    assert summary["settings"]["factors"] == 1 and summary["versions"]["latentvi"]
    # The settings the fit used, defaults resolved: 300 persons / 8 -> batches of 32; 6 items
    # -> k = 1000 // 6 = 166, clipped to 50.
    assert summary["settings"]["epochs"] == 5 and summary["settings"]["batch_size"] == 32
    assert summary["settings"]["iw_samples"] == 50 == model.iw_samples_
    items = pd.read_csv(out / "items.csv", index_col=0)
    # float32 parameters are written with float32's ~7 significant digits.
    np.testing.assert_allclose(items.to_numpy(), model.items_.to_numpy(), rtol=1e-6)
    scores = pd.read_csv(out / "scores.csv", index_col=0)
    data = pd.read_csv(responses_csv, index_col="person")
    assert list(scores.index) == list(data.index)
    assert list(scores.columns) == ["F1", "se_F1"] and (scores["se_F1"] > 0).all()


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
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
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
    # Columns a1, a1 (mirt), d, d (mirt), rounded to 3 decimals for printing.
    np.testing.assert_allclose(table[:, 1], cli.MIRT_LSAT7["a1"])
    np.testing.assert_allclose(table[:, 3], cli.MIRT_LSAT7["d"])
    np.testing.assert_allclose(table[:, [0, 2]], fitted[0].items_[["a1", "d"]], atol=5e-4)
    assert "-2658.805" in out
