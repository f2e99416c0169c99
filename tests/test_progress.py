"""Progress output: a line per epoch (throttled) in logs and pipes, one line redrawn in place
on a terminal."""

import io

import keras
import numpy as np
from conftest import linear_model

import latentvi as lv
from latentvi.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _fit(data, **kwargs):
    keras.utils.set_random_seed(3)
    model = linear_model(6, 2)
    return lv.fit(model, data, epochs=4, batch_size=100, learning_rate=0.01, seed=3, **kwargs)


def test_default_fit_writes_a_few_lines_to_a_pipe(fa_data, capsys):
    # Under pytest stdout is not a terminal, like a log file or a notebook's captured output:
    # Keras' bar would write a line per redraw (dozens per epoch); the default writes one line
    # per epoch at most once a second: this sub-second fit writes its first and last epochs.
    train, _ = fa_data
    _fit(train[:1000])
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert 1 <= len(lines) <= 4 and "4 epochs" in lines[-1] and "bound" in lines[-1]
    assert "\r" not in out and "\x1b" not in out


def test_a_log_gets_one_line_per_epoch_no_more_often_than_min_seconds(fa_data):
    train, _ = fa_data
    every, throttled = io.StringIO(), io.StringIO()
    _fit(train[:1000], verbose=0, callbacks=[Progress("fa", stream=every, min_seconds=0),
                                             Progress("fa", stream=throttled,
                                                      min_seconds=3600)])
    assert [line.split(", ")[1] for line in every.getvalue().splitlines()] == [
        "1 epoch", "2 epochs", "3 epochs", "4 epochs"]
    # an hour between lines: the first epoch when it ends, the last when the fit ends
    assert [line.split(", ")[1] for line in throttled.getvalue().splitlines()] == [
        "1 epoch", "4 epochs"]


def test_progress_redraws_in_place_on_a_terminal(fa_data):
    train, _ = fa_data
    terminal = Terminal()
    _fit(train[:1000], verbose=0, callbacks=[Progress("fa", stream=terminal)])
    text = terminal.getvalue()
    assert text.count("\r") == 5 and text.count("\n") == 1  # 4 epochs and the final redraw
    assert text.rstrip().endswith(text.rstrip().split("\r")[-1])
    assert "fa: 40 steps, 4 epochs" in text.split("\r")[-1]


def test_verbose_2_writes_a_line_per_epoch(fa_data):
    train, _ = fa_data
    log = io.StringIO()
    _fit(train[:1000], verbose=0, callbacks=[Progress("fa", verbose=2, stream=log)])
    lines = log.getvalue().splitlines()
    assert [line.split(", ")[1] for line in lines] == ["1 epoch", "2 epochs", "3 epochs",
                                                       "4 epochs"]
    assert np.all(["bound" in line for line in lines])
