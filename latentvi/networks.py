"""Keras 3 networks for encoders and decoders.

Each function returns an unbuilt `keras.Sequential`; it builds on first call, so the input shape
comes from the data. Any other Keras layer or model can be used in their place.
"""

import math

import keras

from latentvi._checks import positive_int

__all__ = ["conv_decoder", "conv_encoder", "mlp", "shape_tuple"]


def shape_tuple(value, name):
    """A shape as a tuple of positive ints (an int is a 1-D shape)."""
    shape = (value,) if isinstance(value, int) else tuple(value)
    return tuple(positive_int(size, name) for size in shape)


def mlp(hidden=(256,), output_shape=None, activation="relu", output_activation=None, name=None):
    """A multilayer perceptron: flatten, hidden Dense layers, optional output layer reshaped.

    Args:
      hidden: sizes of the hidden layers, e.g. (512,) or (200, 200); () for a linear map.
      output_shape: shape of each output row, e.g. 10 or (28, 28); None to end at the last hidden
        layer (an encoder's feature vector).
      activation: activation of the hidden layers.
      output_activation: activation of the output layer (None: linear, e.g. logits).
      name: model name.

    Returns:
      An unbuilt `keras.Sequential`.
    """
    hidden = tuple(hidden)
    if output_shape is None and not hidden:
        raise ValueError("mlp needs at least one hidden layer or an output_shape")
    layers = [keras.layers.Flatten()]
    layers += [keras.layers.Dense(positive_int(units, "hidden"), activation=activation)
               for units in hidden]
    if output_shape is not None:
        shape = shape_tuple(output_shape, "output_shape")
        layers.append(keras.layers.Dense(math.prod(shape), activation=output_activation))
        layers.append(keras.layers.Reshape(shape))
    return keras.Sequential(layers, name=name)


def conv_encoder(input_shape=(28, 28, 1), filters=(32, 64), kernel_size=3, units=16,
                 batch_norm=True, activation="relu", batch_norm_momentum=0.99, name=None):
    """Strided Conv2D (+ BatchNorm) blocks, then a Dense feature layer.

    Each block halves the image size with stride 2. Rows of shape [H, W] are given a channel axis.

    Args:
      input_shape: (height, width, channels) of one image.
      filters: filters of each strided block.
      kernel_size: convolution kernel size.
      units: size of the output feature vector.
      batch_norm: whether each block has BatchNormalization.
      activation: activation after each block and the feature layer.
      batch_norm_momentum: momentum of BatchNorm's running statistics (used at evaluation).
      name: model name.
    """
    input_shape = shape_tuple(input_shape, "input_shape")
    layers = [keras.layers.Reshape(input_shape)]
    for n in filters:
        layers.append(keras.layers.Conv2D(positive_int(n, "filters"), kernel_size, strides=2,
                                          padding="same", use_bias=not batch_norm))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=batch_norm_momentum))
        layers.append(keras.layers.Activation(activation))
    layers += [keras.layers.Flatten(),
               keras.layers.Dense(positive_int(units, "units"), activation=activation)]
    return keras.Sequential(layers, name=name)


def conv_decoder(output_shape=(28, 28, 1), filters=(64, 32), kernel_size=3, batch_norm=True,
                 activation="relu", squeeze_channels=True, batch_norm_momentum=0.99, name=None):
    """Dense to a small feature map, strided Conv2DTranspose blocks, then a linear output conv.

    Each block doubles the image size, so height and width must be divisible by 2**len(filters).
    The output is linear (logits for a Bernoulli likelihood, means for a Normal one).

    Args:
      output_shape: (height, width, channels) of one image.
      filters: filters of each upsampling block.
      kernel_size: convolution kernel size.
      batch_norm: whether each block has BatchNormalization.
      activation: activation after each block.
      squeeze_channels: for one channel, output [H, W] rows instead of [H, W, 1].
      batch_norm_momentum: momentum of BatchNorm's running statistics (used at evaluation).
      name: model name.
    """
    height, width, channels = shape_tuple(output_shape, "output_shape")
    factor = 2 ** len(filters)
    if height % factor or width % factor:
        raise ValueError(f"output_shape {output_shape}: height and width must be divisible by "
                         f"2**len(filters) = {factor}")
    first = positive_int(filters[0], "filters") if filters else channels
    layers = [keras.layers.Dense((height // factor) * (width // factor) * first,
                                 activation=activation),
              keras.layers.Reshape((height // factor, width // factor, first))]
    for n in filters:
        layers.append(keras.layers.Conv2DTranspose(positive_int(n, "filters"), kernel_size,
                                                   strides=2, padding="same",
                                                   use_bias=not batch_norm))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=batch_norm_momentum))
        layers.append(keras.layers.Activation(activation))
    layers.append(keras.layers.Conv2DTranspose(channels, kernel_size, padding="same"))
    if squeeze_channels and channels == 1:
        layers.append(keras.layers.Reshape((height, width)))
    return keras.Sequential(layers, name=name)
