"""The command line at scale and under faults: streamed files, --checkpoint, and a results
folder that is written whole or not at all."""

import json

import numpy as np
import pandas as pd
import pytest

from latentvi import cli, irt

FAST = ["--seed", "0", "--no-plots", "--loglik-samples", "200", "--quiet", "--epochs", "4"]


@pytest.fixture(scope="module")
def data():
    responses, _ = irt.simulate(1200, 6, 1, seed=4)
    responses.index.name = "person"
    return responses


def test_a_folder_of_shards_is_fitted_as_a_stream_and_scored_to_parquet(data, tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    for part, rows in enumerate(np.array_split(np.arange(len(data)), 3)):
        data.iloc[rows].to_parquet(folder / f"part{part}.parquet")
    assert cli.main(["fit", str(folder), "--out", str(tmp_path / "out"), *FAST[:-2]]) == 0
    out = tmp_path / "out"
    scores = pd.read_parquet(out / "scores.parquet")
    assert list(scores.index) == list(data.index) and list(scores.columns) == ["F1", "SE_F1"]
    summary = json.loads((out / "fit.json").read_text())
    assert summary["n_persons"] == len(data) and not (out / "items_se.csv").exists()
    # the fit in memory ends at the exact maximum (refined); the streamed one, not refined,
    # within the optimization noise of the stochastic fit: a third of the slopes' SE (~0.1
    # at 1,200 persons) at most
    in_memory = irt.ItemFactorModel(seed=0).fit(data, verbose=0)
    streamed = pd.read_csv(out / "items.csv", index_col=0)
    assert np.abs(streamed.to_numpy() - in_memory.items_.to_numpy()).max() < 0.035


def test_checkpoint_leaves_the_result_of_a_plain_fit_and_no_state(data, tmp_path):
    csv = tmp_path / "answers.csv"
    data.to_csv(csv)
    plain, resumable = tmp_path / "plain", tmp_path / "resumable"
    assert cli.main(["fit", str(csv), "--out", str(plain), "--id-column", "person", *FAST]) == 0
    assert cli.main(["fit", str(csv), "--out", str(resumable), "--id-column", "person",
                     "--checkpoint", str(tmp_path / "state"), *FAST]) == 0
    # saving the state after every epoch does not change the fit (exact on a CPU)
    pd.testing.assert_frame_equal(pd.read_csv(plain / "items.csv", index_col=0),
                                  pd.read_csv(resumable / "items.csv", index_col=0))
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())


def test_a_failed_write_leaves_the_old_results_folder_as_it_was(data, tmp_path, monkeypatch):
    csv = tmp_path / "answers.csv"
    data.to_csv(csv)
    out = tmp_path / "out"
    assert cli.main(["fit", str(csv), "--out", str(out), "--id-column", "person", *FAST]) == 0
    (out / "notes.txt").write_text("the user's own file")
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cli.fit, "fit_summary", broken)  # fails after the fit, mid-write
    with pytest.raises(OSError, match="disk full"):
        cli.main(["fit", str(csv), "--out", str(out), "--id-column", "person", "--force",
                  *FAST[:-2], "--epochs", "2"])
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert [path.name for path in tmp_path.iterdir() if "partial" in path.name] == []
    monkeypatch.undo()
    # a rerun with --force replaces the results and keeps the user's file
    assert cli.main(["fit", str(csv), "--out", str(out), "--id-column", "person", "--force",
                     *FAST[:-2], "--epochs", "2"]) == 0
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert json.loads((out / "fit.json").read_text())["epochs"] == 2
