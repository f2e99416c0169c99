"""Checkpoints: the state of a fit at its last finite epoch, for a diverged or a killed fit.

Two things end a long fit badly. The bound or the weights stop being finite (a learning rate
too large for the data's scale), or the process dies (a SIGKILL, a pre-empted node). Both are
answered by the state at the end of the last good epoch, which `LastGoodState` keeps:

- in memory: a non-finite bound in any step, or a non-finite weight or validation bound at
  an epoch's end, stops the fit, and the weights and optimizer state of the last good epoch
  are put back;
- with a directory (`fit(..., checkpoint_dir=...)`), also on disk after every epoch, in one file
  replaced atomically (a kill while it is written leaves the previous one). The same call, run
  again, reads it and goes on with the next epoch: an epoch the kill interrupted runs again
  from its first step. The file is removed when the fit completes.

The state is everything the next epoch depends on: the model's weights (among them
`seed_state`, the counter of the Monte Carlo seed stream), the optimizer's variables (step
count and moments), the epoch, the history so far, whether a callback had stopped the fit, and
the state of the callbacks that keep one across epochs: `keras.callbacks.EarlyStopping` and any
callback with `checkpoint_state()` / `restore_checkpoint_state(state)` methods, such as
`latentvi.Convergence` (plain values, NumPy arrays and lists or dicts of them). The data
position is not stored: `fit` cycles array data through one iterator, so the position after
epoch e is e times the steps per epoch, which a resumed fit skips.

`keras.callbacks.BackupAndRestore` is not used: it restores the weights and the epoch but no
data position or callback state, and it rewrites its file in place.
"""

import json
import math
import os
import time

import keras
import numpy as np

from latentvi._checks import resolve_seed

__all__ = ["STATE_FILE", "LastGoodState"]

STATE_FILE = "fit_state.npz"
_EARLY_STOPPING = ("wait", "stopped_epoch", "best", "best_weights", "best_epoch")


class LastGoodState(keras.callbacks.Callback):
    """Keeps the state of a fit at the end of its last finite epoch; last of the callbacks.

    Args:
      directory: where the state is written after every epoch, or None (memory only). A state
        found there is read at once: `initial_epoch` and `shuffle_seed` come from it, and
        `start` puts it into the model.
      callbacks: the fit's other callbacks; the state of those that keep one is saved.

    Attributes:
      history: one dict per finite epoch, its logs and its `seconds`, resumed epochs first.
      diverged_epoch: the epoch (1-based) whose bound or weights were not finite, or None.
      initial_epoch: the epochs a resumed fit has behind it (0 for a fresh fit).
      stopped: whether a callback had stopped the resumed fit (it then runs no more epochs).
      shuffle_seed: with a directory, the seed of the data order of a fit given no seed: drawn
        once and stored, so that the resumed fit sees the same order.
    """

    def __init__(self, directory=None, callbacks=()):
        super().__init__()
        self.directory = None if directory is None else os.fspath(directory)
        self._stateful = [c for c in callbacks if _keeps_state(c)]
        self._saved = _read(self._path) if self.directory is not None else None
        meta = self._saved[0] if self._saved is not None else {}
        self.initial_epoch = meta.get("epoch", 0)
        self.stopped = meta.get("stopped", False)
        self.shuffle_seed = (None if self.directory is None
                             else resolve_seed(meta.get("shuffle_seed"), "shuffle_seed"))
        self.history = list(meta.get("history", []))
        self.diverged_epoch = None
        self._fingerprint = None

    @property
    def _path(self):
        return os.path.join(self.directory, STATE_FILE)

    def start(self, model, fingerprint):
        """Puts a state read from the directory into `model` (built, with its optimizer).

        fingerprint: the fit's settings (JSON values); a state written by a fit with other
        settings is refused (ValueError) rather than resumed into this one.
        """
        self._fingerprint = dict(fingerprint)
        if self._saved is None:
            return
        meta, arrays = self._saved
        for key, value in self._fingerprint.items():
            if meta["fingerprint"].get(key) != value:
                raise ValueError(
                    f"checkpoint_dir {self.directory!r} holds the state of another fit ({key} "
                    f"{meta['fingerprint'].get(key)!r} there, {value!r} here); pass another "
                    f"directory, or delete {STATE_FILE} there to start afresh")
        _assign(model.weights, _stored(arrays, "model"), "model weights", self.directory)
        _assign(model.optimizer.variables, _stored(arrays, "optimizer"), "optimizer variables",
                self.directory)

    def discard(self):
        """Removes the state file (and the directory, if that leaves it empty)."""
        if self.directory is None:
            return
        for path in (self._path, self._path + ".tmp"):
            if os.path.exists(path):
                os.remove(path)
        if os.path.isdir(self.directory) and not os.listdir(self.directory):
            os.rmdir(self.directory)

    # -- the callback ---------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        # After the other callbacks' on_train_begin, which reset their state.
        if self._saved is not None:
            meta, arrays = self._saved
            for callback, state in zip(self._stateful, meta["callbacks"]):
                _restore_state(callback, _decode(state, arrays))
        self._good = self._snapshot()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if logs and not math.isfinite(float(logs.get("loss", 0.0))):
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        values = {key: float(value) for key, value in (logs or {}).items()}
        good = self._snapshot()
        if not (all(math.isfinite(v) for v in values.values())
                and all(np.isfinite(w).all() for part in good for w in part)):
            self._restore(self._good)
            self.diverged_epoch = epoch + 1
            self.model.stop_training = True
            return
        self._good = good
        self.history.append({**values, "seconds": seconds})
        if self.directory is not None:
            self._write(epoch + 1)

    # -- state ----------------------------------------------------------------------------
    def _snapshot(self):
        return (self.model.get_weights(), [v.numpy() for v in self.model.optimizer.variables])

    def _restore(self, state):
        weights, optimizer = state
        self.model.set_weights(weights)
        for variable, value in zip(self.model.optimizer.variables, optimizer):
            variable.assign(value)

    def _write(self, epoch):
        weights, optimizer = self._good
        arrays = {f"model.{i}": w for i, w in enumerate(weights)}
        arrays.update({f"optimizer.{i}": v for i, v in enumerate(optimizer)})
        callbacks = [_encode(_state_of(c), arrays, f"callback{i}")
                     for i, c in enumerate(self._stateful)]
        meta = {"epoch": epoch, "stopped": bool(self.model.stop_training),
                "fingerprint": self._fingerprint, "shuffle_seed": self.shuffle_seed,
                "history": self.history, "callbacks": callbacks}
        os.makedirs(self.directory, exist_ok=True)
        _write(self._path, meta, arrays)


def _write(path, meta, arrays):
    """Writes the state to a temporary file, then renames it over `path` (atomic on POSIX)."""
    temporary = path + ".tmp"
    with open(temporary, "wb") as stream:
        np.savez(stream, __meta__=np.array(json.dumps(meta)), **arrays)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def _read(path):
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        return json.loads(str(arrays.pop("__meta__"))), arrays
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{path} is not a readable fit state ({error}); delete it to start "
                         f"afresh") from None


def _stored(arrays, prefix):
    count = sum(key.startswith(prefix + ".") for key in arrays)
    return [arrays[f"{prefix}.{i}"] for i in range(count)]


def _assign(variables, values, what, directory):
    shapes = [tuple(v.shape) for v in variables]
    stored = [tuple(v.shape) for v in values]
    if shapes != stored:
        raise ValueError(f"checkpoint_dir {directory!r} holds {what} of shapes {stored}, but "
                         f"this model has {shapes}: it is the state of another model; pass "
                         f"another directory, or delete {STATE_FILE} there to start afresh")
    for variable, value in zip(variables, values):
        variable.assign(value)


def _keeps_state(callback):
    return (hasattr(callback, "checkpoint_state")
            or isinstance(callback, keras.callbacks.EarlyStopping))


def _state_of(callback):
    if hasattr(callback, "checkpoint_state"):
        return callback.checkpoint_state()
    if isinstance(callback, keras.callbacks.EarlyStopping):
        return {name: getattr(callback, name) for name in _EARLY_STOPPING}
    return None


def _restore_state(callback, state):
    if hasattr(callback, "restore_checkpoint_state"):
        callback.restore_checkpoint_state(state)
    else:
        for name, value in state.items():
            setattr(callback, name, value)


def _encode(value, arrays, key):
    """JSON for `value`, its NumPy arrays moved into `arrays` under keys made from `key`."""
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, dict):
        return {name: _encode(item, arrays, f"{key}.{name}") for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item, arrays, f"{key}.{i}") for i, item in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value, arrays):
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {name: _decode(item, arrays) for name, item in value.items()}
    if isinstance(value, list):
        return [_decode(item, arrays) for item in value]
    return value
