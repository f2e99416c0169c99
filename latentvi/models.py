"""Ready models: the classic image VAEs as `LatentModel`s, built from `latentvi.networks`.

Each returns an untrained model with a standard normal prior, a Bernoulli likelihood (the decoder
outputs one logit per pixel) and a diagonal Gaussian posterior. Any other architecture is a few
lines with `LatentModel(prior, likelihood, posterior)`; these are shortcuts, not a framework.

References:
  [1] Kingma & Welling (2014). Auto-Encoding Variational Bayes. ICLR.
  [2] Burda, Grosse & Salakhutdinov (2016). Importance Weighted Autoencoders. ICLR.
      Their one-stochastic-layer model is `mlp_vae(hidden=(200, 200), latent_dim=50,
      activation='tanh')`.
  [3] Chollet. Variational AutoEncoder (keras.io/examples/generative/vae): the convolutional VAE.
"""


from latentvi._checks import positive_int
from latentvi.likelihoods import Bernoulli
from latentvi.model import LatentModel
from latentvi.networks import conv_decoder, conv_encoder, mlp, shape_tuple
from latentvi.posteriors import GaussianPosterior
from latentvi.priors import StandardNormal

__all__ = ["conv_vae", "mlp_vae"]


def mlp_vae(input_shape=(28, 28), latent_dim=2, hidden=(512,), activation="relu"):
    """A multilayer-perceptron VAE: x -> hidden -> q(z | x); z -> reversed hidden -> logits.

    The defaults are the classic Keras MNIST VAE, 784-512-2 with a mirrored decoder.

    Args:
      input_shape: shape of one image (or any data row), e.g. (28, 28).
      latent_dim: size of z.
      hidden: hidden layer sizes of the encoder; the decoder uses them in reverse order.
      activation: activation of the hidden layers ('relu', 'tanh', ...).

    Returns:
      An unbuilt `LatentModel` (StandardNormal prior, Bernoulli likelihood, Gaussian posterior).

    Examples:
      >>> model = mlp_vae()                                        # 784-512-2
      >>> burda = mlp_vae(hidden=(200, 200), latent_dim=50, activation="tanh")
      >>> result = model.fit(x_train, epochs=10, batch_size=128)
    """
    input_shape = shape_tuple(input_shape, "input_shape")
    latent_dim = positive_int(latent_dim, "latent_dim")
    hidden = tuple(positive_int(units, "hidden") for units in hidden)
    encoder = mlp(hidden, activation=activation, name="encoder")
    decoder = mlp(hidden[::-1], output_shape=input_shape, activation=activation, name="decoder")
    return LatentModel(StandardNormal(latent_dim), Bernoulli(decoder),
                       GaussianPosterior(encoder, latent_dim))


def conv_vae(input_shape=(28, 28, 1), latent_dim=2, filters=32, kernel_size=3, units=16,
             batch_norm=True, activation="relu", batch_norm_momentum=0.9):
    """A convolutional VAE: strided Conv2D (+ BatchNorm) encoder, Conv2DTranspose decoder.

    Encoder: Conv2D(filters, stride 2) -> Conv2D(2 * filters, stride 2) -> Dense(units) ->
    q(z | x). Decoder: Dense to a (H/4, W/4, 2 * filters) map -> Conv2DTranspose(2 * filters,
    stride 2) -> Conv2DTranspose(filters, stride 2) -> a linear Conv2DTranspose to one logit per
    pixel. Single-channel images are [H, W] rows, as `load_mnist` returns them.

    Args:
      input_shape: (height, width) or (height, width, channels); height and width divisible by 4.
      latent_dim: size of z.
      filters: filters of the first encoder block (the second has twice as many).
      kernel_size: convolution kernel size.
      units: size of the encoder's dense feature layer.
      batch_norm: BatchNormalization after each convolution block.
      activation: activation of the blocks.
      batch_norm_momentum: momentum of the BatchNorm running statistics used at evaluation.
        Keras's default 0.99 needs ~700 steps to forget its initial variance of 1 (these layers'
        batch variances are ~0.01), so a model trained for a few epochs on a CPU evaluated ~200
        nats worse than it trained; 0.9 forgets it in ~50 steps.

    Returns:
      An unbuilt `LatentModel` (StandardNormal prior, Bernoulli likelihood, Gaussian posterior).

    Examples:
      >>> model = conv_vae()
      >>> result = model.fit(x_train, epochs=10, batch_size=128)
    """
    input_shape = shape_tuple(input_shape, "input_shape")
    if len(input_shape) == 2:
        input_shape = input_shape + (1,)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width) or (height, width, channels); "
                         f"got {input_shape}")
    latent_dim = positive_int(latent_dim, "latent_dim")
    filters = positive_int(filters, "filters")
    blocks = (filters, 2 * filters)
    encoder = conv_encoder(input_shape, blocks, kernel_size, positive_int(units, "units"),
                           batch_norm=batch_norm, activation=activation,
                           batch_norm_momentum=batch_norm_momentum, name="encoder")
    decoder = conv_decoder(input_shape, blocks[::-1], kernel_size, batch_norm=batch_norm,
                           activation=activation, squeeze_channels=True,
                           batch_norm_momentum=batch_norm_momentum, name="decoder")
    return LatentModel(StandardNormal(latent_dim), Bernoulli(decoder),
                       GaussianPosterior(encoder, latent_dim))
