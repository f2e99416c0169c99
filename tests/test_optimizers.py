"""EncoderScaledAdam: the encoder's weights take steps encoder_scale times those of the rest."""

import keras
import numpy as np
import pytest
from conftest import linear_model

import latentvi as lv
from latentvi.optimizers import EncoderScaledAdam


def test_one_step_moves_the_encoder_by_the_scaled_rate(fa_data):
    # Adam's first step moves a weight by lr * g / (|g| + eps / sqrt(1 - beta_2)), i.e. by lr
    # to within 0.1% for any gradient above 3e-3 in size, so the largest move of each weight
    # matrix after one step of fit is its learning rate: 0.01 for the likelihood, 0.01 x 0.2
    # for the encoder (the posterior's head).
    keras.utils.set_random_seed(0)
    model = linear_model(6, 2)
    model.build_for_shape((6,))
    before = [v.numpy() for v in model.trainable_variables]
    lv.fit(model, fa_data[0][:100], epochs=1, batch_size=100, seed=0, verbose=0,
           optimizer=EncoderScaledAdam(0.01, encoder_scale=0.2))
    encoder = {id(v) for v in model.posterior.trainable_variables}
    assert encoder and len(encoder) < len(model.trainable_variables)
    for variable, start in zip(model.trainable_variables, before):
        step = np.abs(variable.numpy() - start).max()
        expected = 0.002 if id(variable) in encoder else 0.01
        assert step == pytest.approx(expected, rel=2e-3), variable.path


def test_config_round_trip_and_bad_scale():
    optimizer = EncoderScaledAdam(0.005, encoder_scale=0.5, beta_2=0.99)
    copy = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(copy, EncoderScaledAdam)
    assert (copy.encoder_scale, copy.beta_2) == (0.5, 0.99)
    assert float(copy.learning_rate) == pytest.approx(0.005)
    with pytest.raises(ValueError, match="encoder_scale"):
        EncoderScaledAdam(encoder_scale=0.0)
