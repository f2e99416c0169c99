"""A normalizing-flow posterior: the Gaussian q0(z | x) pushed through coupling layers.

z = f_L(... f_1(z0; x) ...; x), z0 ~ q0(z | x) = the `GaussianPosterior`'s Gaussian, where each
f_l is an affine coupling layer (Dinh, Sohl-Dickstein & Bengio 2017) conditioned on the row x
through the encoder's features h(x), as in the inverse autoregressive flow of Kingma et al.
(2016): one part u of z passes unchanged and the other part v becomes

    v' = v * exp(s(u, h)) + t(u, h),      log |det df/dz| = sum s(u, h),

with s, t from a small network. Both directions cost one pass of that network, so log q(z) of
any z (not only of the flow's own draws) is cheap: the doubly reparameterized gradient (DReG),
which recomputes log q from the draws, works as for the Gaussian. The parts alternate between
layers, and each network's last layer starts at zero, so the flow starts as the identity: q
starts as the Gaussian posterior and can only become more flexible.

References:
  [1] Rezende & Mohamed (2015). Variational Inference with Normalizing Flows. ICML.
  [2] Dinh, Sohl-Dickstein & Bengio (2017). Density estimation using Real NVP. ICLR.
  [3] Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling (2016). Improved Variational
      Inference with Inverse Autoregressive Flow. NeurIPS.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import positive_int
from latentvi.posteriors import GaussianPosterior, Posterior

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["ConditionalCoupling", "FlowPosterior"]


class ConditionalCoupling(tfb.Bijector):
    """One affine coupling layer conditioned on per-row features (a TFP bijector, event [D]).

    Args:
      network: Keras layer [..., n_fixed + units] -> [..., 2 * (D - n_fixed)]: the shift t and
        the raw log-scale of the transformed part, given the fixed part and the features.
      context: features h(x), [n, units]; draws with leading sample dimensions [k, n, D] see the
        same features for every draw.
      n_fixed: size of the part that passes unchanged.
      fixed_first: whether that part is the first n_fixed coordinates (else the last).
      training: passed to the network.
      stopped: evaluate the network with its weights held constant (for DReG's log q); the
        network must then be a `keras.Sequential` of Dense layers.
    """

    def __init__(self, network, context, n_fixed, fixed_first=True, training=False,
                 stopped=False):
        super().__init__(forward_min_event_ndims=1, name="conditional_coupling")
        self.network, self.context = network, context
        self.n_fixed, self.fixed_first, self.training = n_fixed, fixed_first, training
        self.stopped = stopped

    def _split(self, z):
        if self.fixed_first:
            return z[..., :self.n_fixed], z[..., self.n_fixed:]
        cut = z.shape[-1] - self.n_fixed
        return z[..., cut:], z[..., :cut]

    def _join(self, fixed, moved):
        return tf.concat([fixed, moved] if self.fixed_first else [moved, fixed], axis=-1)

    def _shift_and_log_scale(self, fixed):
        context = tf.broadcast_to(self.context, tf.concat(
            [tf.shape(fixed)[:-1], tf.shape(self.context)[-1:]], axis=0))
        inputs = tf.concat([fixed, context], axis=-1)
        flat = tf.reshape(inputs, [-1, inputs.shape[-1]])
        flat = (_constant_dense_stack(self.network, flat) if self.stopped
                else self.network(flat, training=self.training))
        out = tf.reshape(flat, tf.concat([tf.shape(inputs)[:-1], tf.shape(flat)[-1:]], axis=0))
        shift, raw = tf.split(out, 2, axis=-1)
        return shift, 2.0 * tf.tanh(0.5 * raw)  # log-scale within (-2, 2): no overflow

    def _forward(self, z):
        fixed, moved = self._split(z)
        shift, log_scale = self._shift_and_log_scale(fixed)
        return self._join(fixed, moved * tf.exp(log_scale) + shift)

    def _inverse(self, y):
        fixed, moved = self._split(y)
        shift, log_scale = self._shift_and_log_scale(fixed)
        return self._join(fixed, (moved - shift) * tf.exp(-log_scale))

    def _forward_log_det_jacobian(self, z):
        return tf.reduce_sum(self._shift_and_log_scale(self._split(z)[0])[1], axis=-1)

    def _inverse_log_det_jacobian(self, y):
        return -tf.reduce_sum(self._shift_and_log_scale(self._split(y)[0])[1], axis=-1)


def _constant_dense_stack(network, inputs):
    """A Sequential of Dense layers applied with its weights cut from the graph."""
    for layer in network.layers:
        inputs = tf.matmul(inputs, tf.stop_gradient(layer.kernel))
        if layer.use_bias:
            inputs = inputs + tf.stop_gradient(layer.bias)
        inputs = layer.activation(inputs)
    return inputs


@keras.saving.register_keras_serializable("latentvi.flows")
class FlowPosterior(Posterior):
    """q(z | x): `base`'s Gaussian pushed through `n_layers` affine coupling layers conditioned on x.

    Args:
      base: a `GaussianPosterior` (its encoder's features also condition the flow).
      n_layers: number of coupling layers (>= 1).
      hidden_units: hidden layer widths of each coupling network.
      activation: their activation.

    Examples:
      >>> posterior = FlowPosterior(GaussianPosterior(networks.mlp((200, 200)), latent_dim=50))
    """

    nested_layers = ("base",)

    def __init__(self, base, n_layers=8, hidden_units=(128,), activation="relu", **kwargs):
        if not isinstance(base, GaussianPosterior):
            raise TypeError(f"base must be a latentvi.GaussianPosterior, got "
                            f"{type(base).__name__}")
        super().__init__(base.latent_dim, masked=base.masked, **kwargs)
        if self.latent_dim < 2:
            raise ValueError(f"a coupling flow needs latent_dim >= 2 (it transforms one part "
                             f"of z given the other); got latent_dim={self.latent_dim}")
        self.base = base
        self.n_layers = positive_int(n_layers, "n_layers")
        self.hidden_units = tuple(positive_int(u, "hidden_units") for u in hidden_units)
        self.activation = activation
        self.n_fixed = self.latent_dim // 2
        self.networks = [self._network(i) for i in range(self.n_layers)]

    def _network(self, index):
        n_moved = self.latent_dim - self.n_fixed
        hidden = [keras.layers.Dense(u, activation=self.activation, name=f"hidden{j}")
                  for j, u in enumerate(self.hidden_units)]
        last = keras.layers.Dense(2 * n_moved, kernel_initializer="zeros", name="shift_scale")
        return keras.Sequential(hidden + [last], name=f"coupling{index}")

    def build(self, input_shape):
        self.built = True

    def flow(self, context, training=False):
        """The bijector z0 -> z for rows with encoder features `context` [n, units]."""
        steps = [ConditionalCoupling(net, context, self.n_fixed, fixed_first=i % 2 == 0,
                                     training=training)
                 for i, net in enumerate(self.networks)]
        return tfb.Chain(steps[::-1])  # a Chain applies its last bijector first

    def distribution(self, x, mask=None, training=False):
        features = self.base.features(x, mask, training=training)
        return tfd.TransformedDistribution(self.base.gaussian(features),
                                           self.flow(features, training=training))

    def stop_gradient(self, q):
        """q with every parameter held constant (the base Gaussian's, the features and the
        coupling networks' weights) and fresh coupling layers, so that log q(z) is recomputed
        from z through the inverse flow rather than looked up in the bijectors' cache of their
        own draws: its gradient reaches the weights only through z."""
        steps = [ConditionalCoupling(b.network, tf.stop_gradient(b.context), b.n_fixed,
                                     b.fixed_first, b.training, stopped=True)
                 for b in q.bijector.bijectors]
        return tfd.TransformedDistribution(self.base.stop_gradient(q.distribution),
                                           tfb.Chain(steps))

    def location(self, x, mask=None):
        """The base Gaussian's mean pushed through the flow (the mean of q itself has no closed
        form; for a Gaussian base this is the image of its mode)."""
        features = self.base.features(x, mask)
        return self.flow(features).forward(self.base.gaussian(features).mean())

    def get_config(self):
        config = super().get_config()
        for key in ("latent_dim", "masked"):
            config.pop(key)
        return {**config, "base": keras.saving.serialize_keras_object(self.base),
                "n_layers": self.n_layers, "hidden_units": list(self.hidden_units),
                "activation": self.activation}
