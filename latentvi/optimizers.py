"""Adam with a slower learning rate for the encoder (the amortized posterior's network).

The encoder and the generative part (prior and likelihood) answer to different step sizes: a step
of the encoder moves every coordinate of q(z | x) for every row at once, so its Monte Carlo noise
enters all the draws of z that the likelihood's weights are fitted to. Noisy draws act like
measurement error in a regression and attenuate the fitted weights (item slopes shrink towards 0
in item factor analysis). `EncoderScaledAdam` lets the encoder take smaller steps while the prior
and likelihood keep theirs.
"""

import keras

from latentvi._checks import positive_float

__all__ = ["EncoderScaledAdam"]


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

    def __init__(self, learning_rate=0.001, encoder_scale=1.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.encoder_scale = positive_float(encoder_scale, "encoder_scale")
        self._encoder_keys = set()

    def mark_encoder(self, variables):
        """The variables whose learning rate is scaled (replaces any earlier marking)."""
        self._encoder_keys = {self._var_key(v) for v in variables}

    def update_step(self, gradient, variable, learning_rate):
        if self._var_key(variable) in self._encoder_keys:
            learning_rate = learning_rate * self.encoder_scale
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "encoder_scale": self.encoder_scale}
