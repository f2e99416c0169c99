"""Adam with a slower learning rate for the encoder (the amortized posterior's network).

The encoder and the generative part (prior and likelihood) answer to different step sizes: a step
of the encoder moves every coordinate of q(z | x) for every row at once, so its Monte Carlo noise
enters all the draws of z that the likelihood's weights are fitted to. Noisy draws act like
measurement error in a regression and attenuate the fitted weights (item slopes shrink towards 0
in item factor analysis). `EncoderScaledAdam` lets the encoder take smaller steps while the prior
and likelihood keep theirs.
"""

import keras
from keras import ops

from latentvi._checks import positive_float

__all__ = ["EncoderScaledAdam"]

_CLIP_WARMUP = 10  # steps before the running RMS is trusted as a scale


@keras.saving.register_keras_serializable("latentvi.optimizers")
class EncoderScaledAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose learning rate is multiplied by `encoder_scale` for the
    posterior's weights.

    `fit` marks the posterior's weights before training (`mark_encoder`); every other weight gets
    the learning rate itself. With encoder_scale = 1, or with no weights marked (a training loop
    of your own that does not call `mark_encoder`), this is Adam.

    Args:
      learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`.
      encoder_scale: multiplier (> 0) of the learning rate for the encoder's weights.
      **kwargs: passed to `keras.optimizers.Adam` (beta_1, beta_2, epsilon, ...).
    """

    def __init__(self, learning_rate=0.001, encoder_scale=1.0, clip_ratio=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.encoder_scale = positive_float(encoder_scale, "encoder_scale")
        self.clip_ratio = None if clip_ratio is None else positive_float(clip_ratio, "clip_ratio")
        self._encoder_keys = set()

    def mark_encoder(self, variables):
        """The variables whose learning rate is scaled (replaces any earlier marking)."""
        self._encoder_keys = {self._var_key(v) for v in variables}

    def update_step(self, gradient, variable, learning_rate):
        if self._var_key(variable) in self._encoder_keys:
            learning_rate = learning_rate * self.encoder_scale
        if self.clip_ratio is not None:
            gradient = self._clip_to_running_scale(gradient, variable)
        super().update_step(gradient, variable, learning_rate)

    def _clip_to_running_scale(self, gradient, variable):
        """Clips each coordinate to clip_ratio times its running RMS sqrt(v_hat).

        One outlying minibatch gradient g would otherwise enter Adam's first moment at full
        size while sqrt(v) grows only by sqrt(1 - beta_2) |g|: every weight then moves about
        (1 - beta_1) / sqrt(1 - beta_2) = 3 learning rates in that step and ~30 over the next
        tens of steps, all in the outlier's direction.
        """
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self._velocities[self._get_variable_index(variable)]
        steps = ops.cast(self.iterations, variable.dtype)
        corrected = velocity / ops.maximum(1.0 - ops.power(ops.cast(self.beta_2, variable.dtype),
                                                           steps), 1e-12)
        limit = self.clip_ratio * ops.sqrt(corrected)
        active = ops.logical_and(steps >= _CLIP_WARMUP, velocity > 0)
        limit = ops.where(active, limit, ops.full_like(limit, float("inf")))
        return ops.clip(gradient, -limit, limit)

    def get_config(self):
        return {**super().get_config(), "encoder_scale": self.encoder_scale,
                "clip_ratio": self.clip_ratio}
