"""Checkpoints (latentvi/checkpoint.py): a killed fit resumes exactly; a diverged one goes back.

The kill is a real SIGKILL: a child process fits with a `checkpoint_dir` and kills itself after
a set number of compiled calls, in the middle of an epoch (no timing involved). A second child
runs the same call, which resumes from the last epoch written, and its final weights are
compared with those of an uninterrupted fit run here.
"""

import importlib.util
import signal
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
from conftest import linear_model

import latentvi as lv
from latentvi.checkpoint import STATE_FILE

# Fits shared by the children (run as a script) and this process (imported as a module).
SCRIPT = '''
import os, signal, sys

import keras
import numpy as np

import latentvi as lv
from latentvi import irt
from latentvi.irt import training
from latentvi.irt.responses import encode_responses


class KillAfter(keras.callbacks.Callback):
    """SIGKILLs this process after `calls` compiled calls of the fit."""

    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def on_train_batch_end(self, batch, logs=None):
        self.calls -= 1
        if self.calls == 0:
            os.kill(os.getpid(), signal.SIGKILL)


def latent(directory, callbacks):
    """5 epochs of 8 steps; with IWAE draws, a shuffled order and Adam moments to restore."""
    x = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = lv.LatentModel(lv.StandardNormal(2),
                           lv.NormalLikelihood(lv.networks.mlp((8,), output_shape=4)),
                           lv.GaussianPosterior(lv.networks.mlp((8,)), 2))
    lv.fit(model, x, objective=lv.IWAE(k=3), epochs=5, batch_size=50, learning_rate=0.01,
           seed=1, verbose=0, checkpoint_dir=directory, callbacks=callbacks)
    return model.get_weights()


def item_factor(directory, callbacks):
    """The convergence rule's budget of 6 checks of 128 steps (4 calls each): the rule starts
    annealing after check 2 (its PlateauCosine variables and best weights are state)."""
    data, _ = irt.simulate(200, 5, 1, seed=0)
    responses = encode_responses(data)
    settings = training.schedule(*responses.codes.shape, 1, iw_samples=5, max_steps=768)
    model = training.build_model(responses.n_categories, 1, None, False, False, seed=0)
    model.likelihood.set_persons(len(responses.codes))
    _, rule = training.run(model, responses, settings, 0, 0, callbacks,
                           checkpoint_dir=directory)
    return model.get_weights() + [np.array(rule.trace), np.array(rule.anneal_epoch)]


if __name__ == "__main__":
    which, directory, out, kill_calls = sys.argv[1:]
    callbacks = [KillAfter(int(kill_calls))] if int(kill_calls) else []
    np.savez(out, *globals()[which](directory, callbacks))
'''


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("script") / "fits.py"
    path.write_text(SCRIPT)
    spec = importlib.util.spec_from_file_location("checkpoint_fits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module


def _child(script, which, directory, out, kill_calls=0):
    return subprocess.run([sys.executable, str(script), which, str(directory), str(out),
                           str(kill_calls)], capture_output=True, text=True, timeout=300,
                          check=False)


def _killed_then_resumed(script, which, tmp_path, kill_calls):
    directory, out = tmp_path / "checkpoint", tmp_path / "resumed.npz"
    killed = _child(script, which, directory, out, kill_calls)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (directory / STATE_FILE).exists() and not out.exists()
    resumed = _child(script, which, directory, out)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not directory.exists()  # removed when the fit completed: the next call starts afresh
    with np.load(out) as stored:
        return [stored[f"arr_{i}"] for i in range(len(stored.files))]


# Resumption repeats the same float32 operations on the same values in the same order (the
# restored weights, moments, step count, seed counter and data position are exact copies), so
# the weights come out bitwise equal; the tolerance allows only for a change in the summation
# order of multi-threaded CPU kernels between this process and the children.
RTOL, ATOL = 1e-5, 1e-6


def test_a_killed_fit_resumes_to_the_uninterrupted_weights(script, tmp_path):
    path, fits = script
    # 20 steps: 2 epochs of 8 written, killed 4 steps into the third.
    resumed = _killed_then_resumed(path, "latent", tmp_path, kill_calls=20)
    uninterrupted = fits.latent(None, [])
    assert len(resumed) == len(uninterrupted)
    for got, expected in zip(resumed, uninterrupted):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_a_killed_item_factor_fit_resumes_with_its_convergence_rule(script, tmp_path):
    path, fits = script
    # 14 calls: checks 1-3 written (annealing started after check 2), killed inside check 4.
    resumed = _killed_then_resumed(path, "item_factor", tmp_path, kill_calls=14)
    uninterrupted = fits.item_factor(None, [])
    assert int(uninterrupted[-1]) == 2 and len(uninterrupted[-2]) == 6
    for got, expected in zip(resumed, uninterrupted):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_a_checkpoint_of_another_fit_is_refused(fa_data, tmp_path):
    train = fa_data[0][:400]
    with pytest.raises(KeyboardInterrupt):
        lv.fit(linear_model(6, 2), train, epochs=3, batch_size=100, seed=0, verbose=0,
               checkpoint_dir=tmp_path, callbacks=[_Interrupt(1)])
    with pytest.raises(ValueError, match="another fit.*batch_size"):
        lv.fit(linear_model(6, 2), train, epochs=3, batch_size=50, seed=0, verbose=0,
               checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="another model"):
        lv.fit(linear_model(6, 3), train, epochs=3, batch_size=100, seed=0, verbose=0,
               checkpoint_dir=tmp_path)
    result = lv.fit(linear_model(6, 2), train, epochs=3, batch_size=100, seed=0, verbose=0,
                    checkpoint_dir=tmp_path)
    assert list(result.history["epoch"]) == [1, 2, 3]  # epoch 1 from the checkpoint


class _BlowUp(keras.callbacks.Callback):
    """Sets a learning rate of 1e30 from epoch 3 on and records the weights after each epoch."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            self.model.optimizer.learning_rate.assign(1e30)

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_a_diverged_fit_keeps_the_last_finite_weights(fa_data):
    model, blow_up = linear_model(6, 2), _BlowUp()
    with pytest.warns(lv.DivergenceWarning, match="diverged in epoch 3.*after epoch 2"
                                                  ".*learning_rate"):
        result = lv.fit(model, fa_data[0][:1000], epochs=5, batch_size=100,
                        learning_rate=0.01, seed=0, verbose=0, callbacks=[blow_up])
    assert not all(np.isfinite(w).all() for w in blow_up.weights[2])
    assert result.diverged_epoch == 3 and list(result.history["epoch"]) == [1, 2]
    for kept, after_epoch_2 in zip(model.get_weights(), blow_up.weights[1]):
        np.testing.assert_array_equal(kept, after_epoch_2)
    assert int(model.optimizer.iterations) == 2 * 10  # the optimizer state of epoch 2 too
    with warnings.catch_warnings():  # the model trains on from there
        warnings.simplefilter("error", lv.DivergenceWarning)
        lv.fit(model, fa_data[0][:1000], epochs=1, batch_size=100, learning_rate=0.01,
               verbose=0)
