"""Ready models: architectures (parameter counts in closed form) and a short fit on real digits."""

import itertools
import pathlib

import keras
import numpy as np
import pytest

import latentvi
from latentvi.datasets import load_mnist
from latentvi.models import conv_vae, mlp_vae

SHARED_MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def trainable_parameters(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def dense_parameters(sizes):
    """Weights and biases of a chain of Dense layers with these widths."""
    return sum(i * o + o for i, o in itertools.pairwise(sizes))


def test_mlp_vae_matches_the_keras_notebook_784_512_2():
    model = mlp_vae()
    assert model.build_for_shape() == (28, 28)
    assert isinstance(model.prior, latentvi.StandardNormal)
    assert isinstance(model.likelihood, latentvi.Bernoulli)
    assert isinstance(model.posterior, latentvi.GaussianPosterior)
    # Keras notebook: 784-512 encoder with z_mean and z_log_var heads (512 -> 2 each, which is
    # the same count as one 512 -> 4 head), and a 2-512-784 decoder: 807,700 parameters.
    expected = dense_parameters([784, 512, 4]) + dense_parameters([2, 512, 784])
    assert expected == 807_700 and trainable_parameters(model) == expected


def test_mlp_vae_burda_architecture_and_activation():
    model = mlp_vae(hidden=(200, 200), latent_dim=50, activation="tanh")
    model.build_for_shape()
    expected = dense_parameters([784, 200, 200, 100]) + dense_parameters([50, 200, 200, 784])
    assert trainable_parameters(model) == expected and model.latent_dim == 50
    hidden = [layer for layer in model.posterior.encoder.layers
              if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in hidden] == [200, 200]
    assert all(layer.activation is keras.activations.tanh for layer in hidden)


def test_conv_vae_has_strided_batchnorm_encoder_and_transposed_decoder():
    model = conv_vae(filters=8)
    assert model.build_for_shape() == (28, 28)  # rows as load_mnist returns them
    encoder = model.posterior.encoder.layers
    convs = [layer for layer in encoder if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [8, 16] and all(c.strides == (2, 2) for c in convs)
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in encoder) == 2
    decoder = model.likelihood.decoder.layers
    transposed = [layer for layer in decoder if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert [c.filters for c in transposed] == [16, 8, 1]
    # Running statistics that settle within a short CPU fit (see conv_vae's docstring).
    norms = [layer for layer in encoder + decoder
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 4 and all(layer.momentum == 0.9 for layer in norms)
    # The decoder gives one logit per pixel for a batch of latent vectors.
    assert model.decode(np.zeros((3, 2), np.float32)).event_shape == (28, 28)


def test_invalid_shapes_are_named():
    with pytest.raises(ValueError, match="divisible by"):
        conv_vae(input_shape=(30, 30)).build_for_shape()
    with pytest.raises(ValueError, match="input_shape must be"):
        conv_vae(input_shape=(28,))
    with pytest.raises(ValueError, match="latent_dim"):
        mlp_vae(latent_dim=0)


@pytest.fixture(scope="module")
def digits():
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST test set not found at {SHARED_MNIST}")
    x, _ = load_mnist("digits", data_dir=SHARED_MNIST, split="test", binarize="static",
                      download=False)
    return x[:2000], x[-1000:]


def independent_pixels_nats(train, test):
    """-log p(test) per image under one Bernoulli per pixel fitted to train: the best a model
    that ignores its latent variable can do."""
    p = np.clip(train.mean(axis=0), 1e-3, 1 - 1e-3)
    return float(-(test * np.log(p) + (1 - test) * np.log1p(-p)).sum(axis=(1, 2)).mean())


def test_short_fit_on_2000_digits_beats_the_independent_pixel_model(digits):
    train, held_out = digits
    untrained = mlp_vae()
    untrained.build_for_shape()
    before = -latentvi.evaluate(untrained, held_out, seed=0)["bound"]
    model = mlp_vae()
    model.fit(train, epochs=20, batch_size=128, seed=0, verbose=0)
    after = -latentvi.evaluate(model, held_out, seed=0)["bound"]
    baseline = independent_pixels_nats(train, held_out)
    # Untrained: all logits near 0, so about 784 log 2 = 543 nats. The independent-pixel model
    # scores ~218 nats on these images; a VAE whose 2-D code carries information must beat it.
    # After 20 epochs (a few seconds) it scores 191-197 nats over seeds 0-3, 21-27 nats below;
    # asking for 10 nats leaves twice the seed-to-seed spread (~6 nats) as room.
    assert before > 500
    assert after < baseline - 10
