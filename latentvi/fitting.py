"""fit: maximize a variational bound with Keras 3 `Model.fit` underneath.

Keras supplies the progress bar, callbacks (EarlyStopping, ModelCheckpoint, TensorBoard, ...),
XLA compilation and `tf.distribute` strategies; this module checks the inputs, builds the
pipeline and turns Keras's history into a table.
"""

import contextlib
import sys
import warnings
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from latentvi._checks import non_negative_int, one_of, positive_int
from latentvi.checkpoint import LastGoodState
from latentvi.distributed import (
    check_seed,
    prepare_replica,
    supported_steps_per_execution,
)
from latentvi.inputs import batches
from latentvi.objectives import ELBO
from latentvi.progress import Progress, dynamic_display

__all__ = ["DivergenceWarning", "FitMethod", "FitResult", "fit"]


class DivergenceWarning(UserWarning):
    """A fit stopped because its bound or weights stopped being finite; the weights are those
    of the last finite epoch."""


@dataclass
class FitResult:
    """What `fit` returns.

    Attributes:
      history: DataFrame, one row per finite epoch: epoch (1-based), bound, reconstruction and
        their gap reconstruction - bound, named by the objective: kl for the ELBO, gap for
        IWAE (means over the training rows seen during that epoch, in nats per row); the same
        with a val_ prefix on validation_data, if given; seconds (wall time of the epoch). A resumed fit's history starts with the epochs run before the interruption.
      best_epoch: the epoch with the highest validation bound (training bound without
        validation data); None when no epoch ended with a finite bound.
      model: the fitted model.
      diverged_epoch: the epoch in which the bound or the weights stopped being finite (the fit
        then stopped, with the weights of the epoch before), or None.
    """
    history: pd.DataFrame
    best_epoch: int | None
    model: keras.Model
    diverged_epoch: int | None = None


class FitMethod:
    """Gives `LatentModel` its `fit` method (the fitter sits above the model and knows it only
    through this class)."""

    def fit(self, data, **kwargs):
        """Same as `latentvi.fit(model, data, **kwargs)`; returns a `FitResult`."""
        return fit(self, data, **kwargs)


def fit(model, data, objective=None, epochs=10, batch_size=128, validation_data=None,
        learning_rate=1e-3, optimizer=None, early_stopping=None, callbacks=None, seed=None,
        verbose="auto", strategy=None, jit_compile="auto", shuffle=True, mask=None,
        validation_mask=None, steps_per_execution=1, steps_per_epoch=None, checkpoint_dir=None):
    """Fits `model` by maximizing `objective` over minibatches of `data`.

    Args:
      model: a `LatentModel`.
      data: NumPy array, numeric DataFrame, or batched `tf.data.Dataset` of x or (x, mask).
        NaN marks missing cells (needs a masked posterior). A Dataset runs with tf.data's
        autotuning off unless its options set it (with it, epoch starts stalled for seconds;
        see `latentvi.inputs.untuned`).
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
        the learned weights copied back. `batch_size` is the global batch, split among the
        replicas. With `MultiWorkerMirroredStrategy` every worker runs the same call (same
        data, same `seed`, which is then required) and starts from worker 0's weights
        (`latentvi.distributed`; docs/scaling.md).
      jit_compile: compile the step with XLA: True, False or 'auto' (Keras decides).
      shuffle: reshuffle array data every epoch.
      mask, validation_mask: explicit boolean observation masks (True = observed).
      steps_per_execution: training steps run inside one compiled call. Raising it cuts the
        per-step Python overhead that dominates small models; batch-level callbacks then see
        every `steps_per_execution`-th step only. With `jit_compile=True` on one replica the
        steps run in a single XLA program (`LatentModel.make_train_function`): the fastest
        setting for small models on a CPU (8 or more; benchmarks/results/mnist_vae.md). For
        array data it is lowered to a divisor of the steps per epoch (see
        `_training_pipeline`), and to 1 under a strategy with more than one replica, where
        Keras cannot run several.
      steps_per_epoch: for array data, training steps per epoch; None (default) is one pass
        over the rows. A fixed number makes epoch-end callbacks (and the history's rows) come
        every that many steps whatever the data size; the rows keep cycling, reshuffled each
        pass, under one iterator.
      checkpoint_dir: a directory where the state of the fit is written at the end of every
        epoch (`latentvi.checkpoint`): weights, optimizer state, the Monte Carlo seed stream,
        epoch, history and the state of `Convergence` and early stopping. The same call run
        again after an interruption (a kill, a crash) resumes from the last epoch written, an
        interrupted epoch from its start, and ends as the uninterrupted fit would: on a CPU,
        with array data and a seed, with the same weights. Array data then always cycle under
        one iterator (see `steps_per_execution`). The state is removed when the fit completes,
        so the next call starts afresh. Under a `strategy`, which takes a first batch through
        an iterator of its own before the fit (drawing shuffle seeds), the resumed epochs see
        other orders of the rows. For a `tf.data.Dataset` the resumed fit restarts a finite
        dataset at the resumed epoch (and skips the batches already taken from an endless
        one): it repeats the uninterrupted fit when the dataset's order does not depend on how
        often it was iterated.

    Returns:
      A `FitResult` with `history` (DataFrame), `best_epoch` and `diverged_epoch`.

    Raises:
      TypeError, ValueError: for data or arguments that do not fit the model, naming them, and
        for a `checkpoint_dir` holding the state of another fit.

    Warns:
      DivergenceWarning: when the bound (in any step) or a weight stopped being finite: the fit
        stops, the model keeps the weights and optimizer state of the last finite epoch, and
        `history` ends with that epoch.
    """
    if not isinstance(model, FitMethod):
        raise TypeError(f"model must be a latentvi.LatentModel, got {type(model).__name__}")
    epochs = positive_int(epochs, "epochs")
    if seed is not None:
        seed = non_negative_int(seed, "seed")
    check_seed(seed, strategy)
    steps_per_execution = supported_steps_per_execution(
        positive_int(steps_per_execution, "steps_per_execution"), strategy)
    if steps_per_epoch is not None:
        steps_per_epoch = positive_int(steps_per_epoch, "steps_per_epoch")
    callbacks = ([keras.callbacks.EarlyStopping(
        "val_loss" if validation_data is not None else "loss",
        patience=positive_int(early_stopping, "early_stopping"), restore_best_weights=True)]
        if early_stopping else []) + list(callbacks or [])
    state = LastGoodState(checkpoint_dir, callbacks)
    train, steps_per_epoch, steps_per_execution = _training_pipeline(
        model, data, mask, batch_size, shuffle, state.shuffle_seed if seed is None else seed,
        steps_per_execution, steps_per_epoch,
        None if checkpoint_dir is None else state.initial_epoch)
    valid = None if validation_data is None else batches(
        model, validation_data, validation_mask, batch_size, "validation_data")
    if seed is not None:
        model.seed_state.assign(np.array([seed, 0], np.int32))
    objective = objective or model.objective or ELBO()
    verbose, progress = _display(verbose)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        trained = _replicate(model, strategy) if strategy is not None else model
        trained.objective = objective
        _compile(trained, optimizer, learning_rate, jit_compile, strategy, steps_per_execution)
        state.start(trained, {"batch_size": batch_size, "steps_per_epoch": steps_per_epoch,
                              "seed": seed, "shuffle": shuffle})
        keras.Model.fit(trained, train, validation_data=valid, steps_per_epoch=steps_per_epoch,
                        initial_epoch=state.initial_epoch,
                        epochs=state.initial_epoch if state.stopped else epochs,
                        callbacks=callbacks + [state] + progress, verbose=verbose,
                        shuffle=False)
    if trained is not model:
        model.set_weights(trained.get_weights())
        model.objective = objective
    state.discard()
    if state.diverged_epoch is not None:
        warnings.warn(_divergence_message(state.diverged_epoch), DivergenceWarning,
                      stacklevel=2)
    history = _history_table(state.history, objective.gap_name)
    column = "val_bound" if "val_bound" in history else "bound"
    best = int(history.loc[history[column].idxmax(), "epoch"]) if len(history) else None
    return FitResult(history=history, best_epoch=best, model=model,
                     diverged_epoch=state.diverged_epoch)


def _divergence_message(epoch):
    kept = (f"the weights are those after epoch {epoch - 1}, the last finite one" if epoch > 1
            else "the weights are those the fit started from")
    return (f"the fit diverged in epoch {epoch}: the bound or the weights stopped being finite "
            f"(NaN or inf), so the fit stopped and {kept}. Try a lower learning_rate, check "
            f"the data's scale (standardize columns with large values), or an optimizer that "
            f"clips gradients (e.g. keras.optimizers.Adam(clipnorm=1.0))")


def _training_pipeline(model, data, mask, batch_size, shuffle, seed, steps_per_execution,
                       steps_per_epoch=None, resume_epoch=None):
    """(dataset, steps per epoch or None, steps per compiled call) for the training data.

    Keras makes a new iterator over a finite dataset every epoch, which costs a few
    milliseconds: a third of the time of a 1,000-row fit of 8 steps per epoch. Array data
    therefore repeat without end under one iterator, with an epoch of ceil(n / batch_size)
    steps; a compiled call then runs a divisor of that number of steps, so that epochs end
    where the passes over the data do. When the only divisors are much smaller than
    `steps_per_execution` (a prime number of steps, say), the per-call overhead would cost
    more than it saves, and each epoch gets its own iterator instead. A given `steps_per_epoch`
    always cycles under one iterator.

    A checkpointed fit (`resume_epoch` not None) always cycles under one iterator: the seeded
    stream of batches is then the same in every run, and a fit resumed after `resume_epoch`
    epochs skips the batches they took.
    """
    dataset = batches(model, data, mask, batch_size, "data", shuffle, seed)
    if isinstance(data, tf.data.Dataset):
        endless = dataset.cardinality() == tf.data.INFINITE_CARDINALITY
        if resume_epoch and steps_per_epoch and endless:
            dataset = dataset.skip(resume_epoch * steps_per_epoch)
        return dataset, steps_per_epoch, steps_per_execution
    fixed = steps_per_epoch is not None or resume_epoch is not None
    steps_per_epoch = steps_per_epoch or int(dataset.cardinality())
    wanted = min(steps_per_execution, steps_per_epoch)
    per_call = max(d for d in range(1, wanted + 1) if steps_per_epoch % d == 0)
    if per_call * 2 < wanted and not fixed:
        return dataset, None, steps_per_execution
    dataset = dataset.repeat()
    if resume_epoch:
        dataset = dataset.skip(resume_epoch * steps_per_epoch)
    return dataset, steps_per_epoch, per_call


def _compile(model, optimizer, learning_rate, jit_compile, strategy, steps_per_execution):
    existing = getattr(model, "optimizer", None)
    if optimizer is None and existing is not None and strategy is None:
        optimizer = existing
    elif optimizer is None or isinstance(optimizer, str):
        optimizer = keras.optimizers.get({"class_name": optimizer or "adam",
                                          "config": {"learning_rate": learning_rate}})
    elif strategy is not None and not optimizer.built:
        optimizer = _under_strategy(optimizer)
    if hasattr(optimizer, "mark_encoder"):  # EncoderScaledAdam
        optimizer.mark_encoder(model.posterior.trainable_variables)
    model.compile(optimizer=optimizer, jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    if not model.optimizer.built:  # built inside the first trace, its slots would force a second
        model.optimizer.build(model.trainable_variables)


def _under_strategy(optimizer):
    """A copy of an optimizer made outside the strategy's scope (its step counter lives
    there, and Keras refuses to mix strategies), with the same learning rate object: a
    schedule that a callback drives (`PlateauCosine`) stays the one the callback holds."""
    config = optimizer.get_config()
    config["learning_rate"] = optimizer._learning_rate
    return type(optimizer).from_config(config)


def _replicate(model, strategy):
    """A copy of `model` whose variables live under `strategy`, with the same weights."""
    replica = type(model).from_config(model.get_config())
    replica.build_for_shape(model.data_shape)
    replica.set_weights(model.get_weights())
    return prepare_replica(replica, strategy)


def _display(verbose):
    """(Keras' verbosity, latentvi's progress callbacks) for `fit`'s `verbose`."""
    if verbose != "auto":
        one_of(verbose, (0, 1, 2), "verbose")
        return verbose, []
    if dynamic_display(sys.stdout):
        return 1, []
    return 0, [Progress("fit", verbose=1)]


def _history_table(rows, gap_name):
    table = pd.DataFrame({"epoch": np.arange(1, len(rows) + 1)})
    terms = ("bound", "reconstruction", gap_name)
    for key in terms + tuple(f"val_{term}" for term in terms) + ("monitor_bound", "seconds"):
        if rows and key in rows[0]:
            table[key] = np.array([row[key] for row in rows], dtype=float)
    return table
