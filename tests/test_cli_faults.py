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
    assert cli.main(["fit", str(folder), "--out", str(tmp_path / "out"), "--report",
                     *FAST[:-2]]) == 0
    out = tmp_path / "out"
    page = (out / "report.html").read_text()  # counts from the files, scores of a sample
    assert "1,200 persons x 6 items" in page and "random sample of 1,200" in page
    scores = pd.read_parquet(out / "scores.parquet")
    assert list(scores.index) == list(data.index) and list(scores.columns) == ["F1", "SE_F1"]
    summary = json.loads((out / "fit.json").read_text())
    assert summary["n_persons"] == len(data) and not (out / "items_se.csv").exists()
    # `latentvi score` with the saved model streams the shards the same way
    assert cli.main(["score", str(out / "model.lvirt"), str(folder), "--out",
                     str(tmp_path / "again.parquet"), "--quiet"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "again.parquet"), scores)
    # the fit in memory ends at the exact maximum (refined); the streamed one, not refined,
    # within the optimization noise of the stochastic fit: a third of the slopes' SE (~0.1
    # at 1,200 persons) at most
    in_memory = irt.ItemFactorModel(seed=0).fit(data, verbose=0)
    streamed = pd.read_csv(out / "items.csv", index_col=0)
    assert np.abs(streamed.to_numpy() - in_memory.items_.to_numpy()).max() < 0.035


KILLED_CLI = """
import os, signal, sys

import keras

from latentvi import cli

kill_after = int(sys.argv[1])


class KillAt(keras.callbacks.Callback):
    # SIGKILL this process in the middle of check `kill_after` (a check is 128 steps)
    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= kill_after * 128 + 64:
            os.kill(os.getpid(), signal.SIGKILL)


progress = cli.fit.progress
if kill_after:
    cli.fit.progress = lambda what, quiet: [KillAt()]
sys.exit(cli.main(sys.argv[2:]))
"""


def test_a_killed_command_resumes_from_its_checkpoint_to_the_same_results(data, tmp_path):
    import subprocess
    import sys
    csv = tmp_path / "answers.csv"
    data.to_csv(csv)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_CLI)
    options = ["--id-column", "person", "--seed", "0", "--no-plots", "--loglik-samples",
               "200", "--quiet", "--max-steps", "1024"]
    state = tmp_path / "state"

    def command(kill_after, out, *extra):
        return subprocess.run([sys.executable, str(script), str(kill_after), "fit", str(csv),
                               "--out", str(out), *options, *extra], capture_output=True,
                              text=True, timeout=600, check=False)

    killed = command(3, tmp_path / "resumed", "--checkpoint", str(state))
    assert killed.returncode == -9, killed.stderr[-2000:]  # a real SIGKILL mid-check
    assert (state / "fit_state.npz").is_file() and not (tmp_path / "resumed").exists()
    resumed = command(0, tmp_path / "resumed", "--checkpoint", str(state))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert cli.main(["fit", str(csv), "--out", str(tmp_path / "plain"), *options]) == 0
    # the resumed command ends with the estimates of one never killed: on a CPU with a seed
    # the state after check 3 is the whole state of the fit, so equal to the last digit
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "plain" / "items.csv", index_col=0),
                                  pd.read_csv(tmp_path / "resumed" / "items.csv",
                                              index_col=0))
    assert not state.exists() or not any(state.iterdir())  # removed once the fit completed


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


def test_other_warnings_are_shown_once_after_the_command(capsys):
    # Shown while the record was still open, each warning was recorded again and the loop
    # over the record never ended (a 2-factor CLI fit filled 20 GB of memory that way).
    import warnings

    from latentvi.cli.messages import reported_warnings
    def command():
        with reported_warnings():
            warnings.warn("overflow somewhere", RuntimeWarning)
            warnings.warn("persons dropped", UserWarning)

    with pytest.warns(RuntimeWarning, match="overflow somewhere") as record:
        command()
    assert sum("overflow somewhere" in str(w.message) for w in record) == 1
    assert "latentvi: warning: persons dropped" in capsys.readouterr().err
