"""A convergence rule for `fit`: train until the bound stops improving, then anneal and stop.

A fixed number of steps either stops an easy model late or a hard one early, and nothing tells
the user which (an exploratory 5-factor item model ended 46 nats below its optimum on 2,000
persons with no sign of it). `Convergence` replaces the fixed budget:

1. The learning rate stays at its initial value. At the end of every epoch (a window of steps:
   pass `steps_per_epoch` to `fit`) the bound is evaluated on a fixed set of monitoring rows
   with fixed Monte Carlo draws (common random numbers), so that two evaluations differ only
   through the weights, not through fresh noise.
2. When the last `patience` windows have not raised the best bound so far by `tol` nats per
   row, the steps' own noise dominates what is left to gain. The weights go back to those of
   the best window (a step-noise excursion at the plateau is not kept), the learning rate
   decays by a cosine to `final_fraction` of its value over `anneal_fraction` times the steps
   taken so far (at least `min_anneal_epochs` windows), which averages that noise out, and the
   fit stops. `converged` is True. Comparing with the best value, not the last one, keeps a
   passing dip from reading as a plateau or as progress.
3. If the budget `max_epochs` would run out first, the decay starts in time to end with the
   budget, `converged` is False and the fit warns.

`PlateauCosine` is the learning-rate schedule the rule drives: constant, then one cosine.

References:
  [1] Loshchilov & Hutter (2017). SGDR: Stochastic Gradient Descent with Warm Restarts. ICLR
      (the cosine decay).
  [2] Chalmers (2012). mirt, JSS 48(6): EM cycles stop when parameters change by < TOL, with a
      maximum number of cycles (NCYCLES) and a warning when that maximum is reached.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from latentvi._checks import positive_float, positive_int

__all__ = ["Convergence", "ConvergenceWarning", "PlateauCosine"]


class ConvergenceWarning(UserWarning):
    """A fit reached its budget before its bound stopped improving."""


_NEVER = 2.0**53  # an anneal start no fit reaches


@keras.saving.register_keras_serializable("latentvi")
class PlateauCosine(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = initial while step < anneal_start, then a cosine from initial to
    initial * final_fraction over anneal_steps, then initial * final_fraction.

    `anneal_start` and `anneal_steps` are variables that a callback (`Convergence`) sets while
    training runs; the compiled training step reads their current values.
    """

    def __init__(self, initial_learning_rate, final_fraction=0.01, anneal_start=_NEVER,
                 anneal_steps=1.0):
        self.initial_learning_rate = positive_float(initial_learning_rate,
                                                    "initial_learning_rate")
        self.final_fraction = float(final_fraction)
        self.anneal_start = tf.Variable(float(anneal_start), dtype=tf.float64, trainable=False)
        self.anneal_steps = tf.Variable(float(anneal_steps), dtype=tf.float64, trainable=False)

    def start_annealing(self, step, steps):
        """Decay from `step` over `steps` steps."""
        self.anneal_start.assign(float(step))
        self.anneal_steps.assign(float(max(steps, 1)))

    def __call__(self, step):
        progress = (tf.cast(step, tf.float64) - self.anneal_start) / self.anneal_steps
        progress = tf.clip_by_value(progress, 0.0, 1.0)
        cosine = 0.5 * (1.0 + tf.cos(math.pi * progress))
        fraction = self.final_fraction + (1.0 - self.final_fraction) * cosine
        return tf.cast(self.initial_learning_rate * fraction, tf.float32)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "final_fraction": self.final_fraction,
                "anneal_start": float(self.anneal_start.numpy()),
                "anneal_steps": float(self.anneal_steps.numpy())}


class Convergence(keras.callbacks.Callback):
    """Stops a fit whose monitored bound has stopped improving, after a final annealing phase.

    Use it with an optimizer whose learning rate is a `PlateauCosine` and with `fit(...,
    epochs=max_epochs, steps_per_epoch=window, callbacks=[rule])`.

    Args:
      data: the monitoring rows x (array [m, ...], float32), a fixed subset of the training data.
      mask: their observation mask (bool array) or None.
      objective: the bound to monitor (normally the fit's objective).
      schedule: the optimizer's `PlateauCosine`.
      steps_per_epoch: steps in one window.
      max_epochs: the budget in windows.
      tol: gain of the best bound, in nats per row, that counts as progress.
      patience: windows without progress that make a plateau.
      anneal_fraction: length of the annealing phase as a fraction of the steps before it.
      min_anneal_epochs: shortest annealing phase, in windows.
      min_epochs: windows before a plateau may be declared. A bound with many importance
        samples hardly sees the encoder, which may still be improving after the bound is flat.
      seed: seed of the fixed Monte Carlo draws.

    A fit with a `checkpoint_dir` saves the rule's state (`checkpoint_state`) with its own, so
    that a resumed fit stops where the uninterrupted one would.

    Attributes (after the fit):
      converged: True when the plateau came before the budget.
      trace: the monitored bound after each window (nats per row).
      anneal_epoch: the window after which annealing started (None if it never did).
    """

    def __init__(self, data, mask, objective, schedule, steps_per_epoch, max_epochs, tol=1e-3,
                 patience=3, anneal_fraction=0.25, min_anneal_epochs=2, min_epochs=1, seed=0):
        super().__init__()
        self.data = tf.constant(data, tf.float32)
        self.mask = None if mask is None else tf.constant(mask, tf.bool)
        self.objective = objective
        self.schedule = schedule
        self.steps_per_epoch = positive_int(steps_per_epoch, "steps_per_epoch")
        self.max_epochs = positive_int(max_epochs, "max_epochs")
        self.tol = positive_float(tol, "tol")
        self.patience = positive_int(patience, "patience")
        self.anneal_fraction = positive_float(anneal_fraction, "anneal_fraction")
        self.min_anneal_epochs = positive_int(min_anneal_epochs, "min_anneal_epochs")
        self.min_epochs = positive_int(min_epochs, "min_epochs")
        self.seed = tf.constant([int(seed), 7919], tf.int32)
        self._monitor = None

    def on_train_begin(self, logs=None):
        self.trace, self.converged, self.anneal_epoch, self._stop_after = [], False, None, None
        self._best = (-np.inf, None)
        self._monitor = tf.function(lambda x, mask: tf.reduce_mean(self.objective(
            self.model, x, mask=mask, seed=self.seed, training=False).bound))

    def on_epoch_end(self, epoch, logs=None):
        value = float(self._monitor(self.data, self.mask))
        self.trace.append(value)
        if logs is not None:
            logs["monitor_bound"] = value
        windows = epoch + 1
        if self._stop_after is not None:
            self.model.stop_training = windows >= self._stop_after
            return
        if not math.isfinite(value):
            return
        if value > self._best[0]:
            self._best = (value, self.model.get_weights())
        anneal = max(self.min_anneal_epochs, math.ceil(self.anneal_fraction * windows))
        if self._flat():
            self.converged = True
        elif windows + anneal < self.max_epochs:
            return
        anneal = min(anneal, max(self.max_epochs - windows, 1))
        if value < self._best[0] - self.tol:
            self.model.set_weights(self._best[1])
        self.anneal_epoch = windows
        self._stop_after = windows + anneal
        self.schedule.start_annealing(int(self.model.optimizer.iterations.numpy()),
                                      anneal * self.steps_per_epoch)

    def checkpoint_state(self):
        """The rule's state after an epoch, for a checkpoint (`latentvi.checkpoint`)."""
        return {"trace": self.trace, "converged": self.converged,
                "anneal_epoch": self.anneal_epoch, "stop_after": self._stop_after,
                "best": list(self._best),
                "anneal_start": float(self.schedule.anneal_start.numpy()),
                "anneal_steps": float(self.schedule.anneal_steps.numpy())}

    def restore_checkpoint_state(self, state):
        """Takes up the state `checkpoint_state` returned, in a resumed fit."""
        self.trace, self.converged = list(state["trace"]), state["converged"]
        self.anneal_epoch, self._stop_after = state["anneal_epoch"], state["stop_after"]
        self._best = tuple(state["best"])
        self.schedule.anneal_start.assign(state["anneal_start"])
        self.schedule.anneal_steps.assign(state["anneal_steps"])

    def _flat(self):
        if len(self.trace) <= self.patience or len(self.trace) < self.min_epochs:
            return False
        before = max(self.trace[:-self.patience])
        return max(self.trace[-self.patience:]) < before + self.tol
