"""fit: maximize a variational bound with Keras 3 `Model.fit` underneath.

Keras supplies the progress bar, callbacks (EarlyStopping, ModelCheckpoint, TensorBoard, ...),
XLA compilation and `tf.distribute` strategies; this module checks the inputs, builds the
pipeline and turns Keras's history into a table.
"""

import contextlib
import sys
import time
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from latentvi._checks import non_negative_int, one_of, positive_int
from latentvi.inputs import make_dataset, prepare
from latentvi.model import LatentModel, check_model
from latentvi.objectives import ELBO
from latentvi.progress import Progress, dynamic_display

__all__ = ["FitResult", "fit"]


@dataclass
class FitResult:
    """What `fit` returns.

    Attributes:
      history: DataFrame, one row per epoch: epoch (1-based), bound, reconstruction, kl (means
        over the training rows seen during that epoch, in nats per row), val_bound,
        val_reconstruction, val_kl (on validation_data, if given), seconds (wall time of the epoch).
      best_epoch: the epoch with the highest validation bound (training bound without
        validation data).
      model: the fitted model.
    """
    history: pd.DataFrame
    best_epoch: int
    model: LatentModel


class _EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def fit(model, data, objective=None, epochs=10, batch_size=128, validation_data=None,
        learning_rate=1e-3, optimizer=None, early_stopping=None, callbacks=None, seed=None,
        verbose="auto", strategy=None, jit_compile="auto", shuffle=True, mask=None,
        validation_mask=None, steps_per_execution=1, steps_per_epoch=None):
    """Fits `model` by maximizing `objective` over minibatches of `data`.

    Args:
      model: a `LatentModel`.
      data: NumPy array, numeric DataFrame, or batched `tf.data.Dataset` of x or (x, mask).
        NaN marks missing cells (needs a masked posterior).
      objective: `ELBO()` (default), `IWAE(k)`, or the model's stored objective when resuming.
      epochs: passes over the data.
      batch_size: rows per step (ignored for a Dataset, which is batched already).
      validation_data: held-out rows in the same forms as `data`; adds val_* columns.
      learning_rate: step size of a newly created optimizer.
      optimizer: None keeps the model's optimizer from an earlier fit or a loaded checkpoint
        (with its state, so training resumes) or else creates Adam; a name ('adam', 'rmsprop',
        ...) or a `keras.optimizers.Optimizer` starts afresh. With
        `latentvi.optimizers.EncoderScaledAdam` the encoder takes smaller steps than the rest.
      early_stopping: None, or a patience in epochs: stop when the validation (else training)
        bound has not improved for that many epochs, and restore the best weights.
      callbacks: more Keras callbacks.
      seed: integer seed for shuffling and Monte Carlo draws. Initial weights are drawn when the
        networks are constructed: call `keras.utils.set_random_seed(seed)` before building the
        model too, and a CPU fit repeats exactly.
      verbose: 'auto' (default): Keras' progress bar on a terminal or in a notebook, elsewhere
        (a log file, a pipe) one line when the fit ends (`latentvi.progress`); or Keras'
        0 (silent), 1 (progress bar) or 2 (a line per epoch).
      strategy: a `tf.distribute.Strategy`; the model is replicated under it for this fit and
        the learned weights copied back.
      jit_compile: compile the step with XLA: True, False or 'auto' (Keras decides).
      shuffle: reshuffle array data every epoch.
      mask, validation_mask: explicit boolean observation masks (True = observed).
      steps_per_execution: training steps run inside one compiled call. Raising it cuts the
        per-step Python overhead that dominates small models; batch-level callbacks then see
        every `steps_per_execution`-th step only. For array data it is lowered to a divisor
        of the steps per epoch (see `_training_pipeline`).
      steps_per_epoch: for array data, training steps per epoch; None (default) is one pass
        over the rows. A fixed number makes epoch-end callbacks (and the history's rows) come
        every that many steps whatever the data size; the rows keep cycling, reshuffled each
        pass, under one iterator.

    Returns:
      A `FitResult` with `history` (DataFrame) and `best_epoch`.

    Raises:
      TypeError, ValueError: for data or arguments that do not fit the model, naming them.
    """
    check_model(model)
    epochs = positive_int(epochs, "epochs")
    if seed is not None:
        seed = non_negative_int(seed, "seed")
    steps_per_execution = positive_int(steps_per_execution, "steps_per_execution")
    if steps_per_epoch is not None:
        steps_per_epoch = positive_int(steps_per_epoch, "steps_per_epoch")
    train, steps_per_epoch, steps_per_execution = _training_pipeline(
        model, data, mask, batch_size, shuffle, seed, steps_per_execution, steps_per_epoch)
    valid = None if validation_data is None else _pipeline(
        model, validation_data, validation_mask, batch_size, "validation_data", False, seed)
    if seed is not None:
        model.seed_state.assign(np.array([seed, 0], np.int32))
    objective = objective or model.objective or ELBO()
    monitor = "val_loss" if valid is not None else "loss"
    timer = _EpochTimer()
    extra = [keras.callbacks.EarlyStopping(monitor, patience=positive_int(early_stopping,
                                                                          "early_stopping"),
                                           restore_best_weights=True)] if early_stopping else []
    verbose, progress = _display(verbose)
    all_callbacks = ([timer, keras.callbacks.TerminateOnNaN()] + extra + list(callbacks or [])
                     + progress)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        trained = _replicate(model, strategy) if strategy is not None else model
        trained.objective = objective
        _compile(trained, optimizer, learning_rate, jit_compile, strategy, steps_per_execution)
        keras_history = keras.Model.fit(trained, train, epochs=epochs, validation_data=valid,
                                        steps_per_epoch=steps_per_epoch, callbacks=all_callbacks,
                                        verbose=verbose, shuffle=False)
    if trained is not model:
        model.set_weights(trained.get_weights())
        model.objective = objective
    history = _history_table(keras_history.history, timer.seconds)
    _check_finite(history)
    column = "val_bound" if "val_bound" in history else "bound"
    best = int(history.loc[history[column].idxmax(), "epoch"])
    return FitResult(history=history, best_epoch=best, model=model)


def _check_finite(history):
    """A NaN bound means the fit diverged: say so rather than return NaN weights silently."""
    bad = history[~np.isfinite(history["bound"])]
    if len(bad):
        raise FloatingPointError(
            f"the fit diverged: the training bound became {bad['bound'].iloc[0]} in epoch "
            f"{int(bad['epoch'].iloc[0])}; lower the learning_rate (or check the data scale)")


def _pipeline(model, data, mask, batch_size, name, shuffle, seed):
    prepared = prepare(model, data, mask=mask, name=name)
    if not isinstance(prepared, tuple):
        return prepared
    return make_dataset(*prepared, batch_size=batch_size, shuffle=shuffle, seed=seed)


def _training_pipeline(model, data, mask, batch_size, shuffle, seed, steps_per_execution,
                       steps_per_epoch=None):
    """(dataset, steps per epoch or None, steps per compiled call) for the training data.

    Keras makes a new iterator over a finite dataset every epoch, which costs a few
    milliseconds: a third of the time of a 1,000-row fit of 8 steps per epoch. Array data
    therefore repeat without end under one iterator, with an epoch of ceil(n / batch_size)
    steps; a compiled call then runs a divisor of that number of steps, so that epochs end
    where the passes over the data do. When the only divisors are much smaller than
    `steps_per_execution` (a prime number of steps, say), the per-call overhead would cost
    more than it saves, and each epoch gets its own iterator instead. A given `steps_per_epoch`
    always cycles under one iterator.
    """
    dataset = _pipeline(model, data, mask, batch_size, "data", shuffle, seed)
    if isinstance(data, tf.data.Dataset):
        return dataset, steps_per_epoch, steps_per_execution
    fixed = steps_per_epoch is not None
    steps_per_epoch = steps_per_epoch or int(dataset.cardinality())
    wanted = min(steps_per_execution, steps_per_epoch)
    per_call = max(d for d in range(1, wanted + 1) if steps_per_epoch % d == 0)
    if per_call * 2 < wanted and not fixed:
        return dataset, None, steps_per_execution
    return dataset.repeat(), steps_per_epoch, per_call


def _compile(model, optimizer, learning_rate, jit_compile, strategy, steps_per_execution):
    existing = getattr(model, "optimizer", None)
    if optimizer is None and existing is not None and strategy is None:
        optimizer = existing
    elif optimizer is None or isinstance(optimizer, str):
        optimizer = keras.optimizers.get({"class_name": optimizer or "adam",
                                          "config": {"learning_rate": learning_rate}})
    if hasattr(optimizer, "mark_encoder"):  # EncoderScaledAdam
        optimizer.mark_encoder(model.posterior.trainable_variables)
    model.compile(optimizer=optimizer, jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    if not model.optimizer.built:  # built inside the first trace, its slots would force a second
        model.optimizer.build(model.trainable_variables)


def _replicate(model, strategy):
    """A copy of `model` whose variables live under `strategy`, with the same weights."""
    replica = LatentModel.from_config(model.get_config())
    replica.build_for_shape(model.data_shape)
    replica.set_weights(model.get_weights())
    return replica


def _display(verbose):
    """(Keras' verbosity, latentvi's progress callbacks) for `fit`'s `verbose`."""
    if verbose != "auto":
        one_of(verbose, (0, 1, 2), "verbose")
        return verbose, []
    if dynamic_display(sys.stdout):
        return 1, []
    return 0, [Progress("fit", verbose=1)]


def _history_table(history, seconds):
    table = pd.DataFrame({"epoch": np.arange(1, len(seconds) + 1)})
    for key in ("bound", "reconstruction", "kl", "val_bound", "val_reconstruction", "val_kl",
                "monitor_bound"):
        if key in history:
            table[key] = np.asarray(history[key], dtype=float)
    table["seconds"] = seconds
    return table
