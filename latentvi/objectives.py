"""Variational bounds on log p(x): the ELBO and the importance-weighted bound (IWAE).

Every objective returns one value per data row (`Terms`): the bound, a reconstruction term and
their gap, bound = reconstruction - gap (for the ELBO the gap is the KL divergence). The IWAE
logsumexp runs over the k samples of each row separately, never over the batch.

References:
  [1] Kingma & Welling (2014). Auto-Encoding Variational Bayes. ICLR.
  [2] Burda, Grosse & Salakhutdinov (2016). Importance Weighted Autoencoders. ICLR.
  [3] Tucker, Lawson, Gu & Maddison (2019). Doubly Reparameterized Gradient Estimators for
      Monte Carlo Objectives. ICLR.
  [4] Roeder, Wu & Duvenaud (2017). Sticking the Landing: Simple, Lower-Variance Gradient
      Estimators for Variational Inference. NeurIPS.
"""

import math
import warnings
from typing import NamedTuple

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import one_of, positive_float, positive_int

tfd = tfp.distributions

__all__ = ["ELBO", "IWAE", "Objective", "Terms", "importance_log_weights", "penalty"]


class Terms(NamedTuple):
    """Per-row values [n]: bound = reconstruction - gap.

    Attributes:
      bound: the objective's lower bound on log p(x).
      reconstruction: the mean log p(x | z) over the draws of z.
      gap: reconstruction - bound; for the ELBO, KL(q(z | x) || p(z)). The training history
        names it after `Objective.gap_name` ('kl' for the ELBO).
    """
    bound: tf.Tensor
    reconstruction: tf.Tensor
    gap: tf.Tensor

    @property
    def kl(self):
        """Deprecated name of `gap` (it is a KL divergence only for the ELBO)."""
        warnings.warn("Terms.kl is deprecated; use Terms.gap", DeprecationWarning, stacklevel=2)
        return self.gap


class Objective:
    """Base class of training objectives; subclass it to write your own.

    The contract (what `fit`, `LatentModel.train_step` and `evaluate` rely on):

    - `__call__(model, x, mask=None, seed=None, training=False)` (override): `Terms` of float32
      tensors [n], one value per row of x [n, *row_shape], for a `LatentModel` `model` (use
      `model.encode(x, mask)`, `model.decode(z, mask)`, `model.prior.distribution()`); `seed`
      is a stateless seed (int32 [2]) for every random draw, so that the step is reproducible
      and runs under XLA; `mask` (boolean, True = observed) may be None.
    - `loss(...)`: (terms, scalar loss) whose gradient training follows; the default is minus
      the mean bound. Override it to train on something other than the reported bound (as
      `ELBO(beta=...)` does) while the history still reports the bound (its `loss` column
      is minus the bound, whatever `loss` returns).
    - `gradients(...)`: (terms, gradients for `model.trainable_variables`); the default
      differentiates `loss` plus the model's penalties. Override it for estimators that are
      not the gradient of a loss (as `IWAE(gradient='dreg')` does).
    - `gap_name`: the history's name for the terms' `gap` ('gap' unless overridden).
    - serialization: register the class with `keras.saving.register_keras_serializable` and
      return the constructor arguments from `get_config`; the objective is saved with the
      model.

    Attributes read during a step (such as a weight a callback changes between epochs) must
    be `tf.Variable`s: a plain Python number is frozen into the compiled step when it is
    first traced.
    """

    gap_name = "gap"

    def __call__(self, model, x, mask=None, seed=None, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def loss(self, model, x, mask=None, seed=None, training=False):
        """(terms, scalar loss) whose gradient estimates minus the bound's gradient."""
        terms = self(model, x, mask=mask, seed=seed, training=training)
        return terms, -tf.reduce_mean(terms.bound)

    def gradients(self, model, x, mask=None, seed=None, training=False):
        """(terms, gradients of the loss plus the model's penalties) for
        `model.trainable_variables`, in that order."""
        with tf.GradientTape() as tape:
            terms, loss = self.loss(model, x, mask=mask, seed=seed, training=training)
            loss = loss + penalty(model)
        return terms, tape.gradient(loss, model.trainable_variables)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def penalty(model):
    """The sum of the model's Keras losses (weight regularizers and the like) and of its
    likelihood's `penalty()` (e.g. minus a scaled log-prior of item parameters), or 0."""
    terms = list(model.losses)
    extra = getattr(model.likelihood, "penalty", None)
    if extra is not None:
        terms.append(tf.convert_to_tensor(extra(), tf.float32))
    return tf.add_n(terms) if terms else tf.constant(0.0)


@keras.saving.register_keras_serializable("latentvi.objectives")
class ELBO(Objective):
    """ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z)), one sample of z per row.

    Args:
      kl: 'analytic' for the closed-form KL (lower variance; needs a registered KL pair, as for
        Gaussian prior and posterior), 'sample' for the one-sample estimate log q(z) - log p(z),
        'auto' (default) for the closed form where TFP has one and the estimate elsewhere (a
        flow posterior, a mixture prior). The estimate's gradient follows log q only through
        the draw (the path derivative [4]): unbiased, and less noisy than the full one.
      beta: weight of the KL term during training (beta-VAE [Higgins et al. 2017]). The reported
        bound always uses beta = 1, so it stays a bound on log p(x).
    """

    gap_name = "kl"

    def __init__(self, kl="auto", beta=1.0):
        self.kl = one_of(kl, ("auto", "analytic", "sample"), "kl")
        self.beta = positive_float(beta, "beta") if beta != 0 else 0.0

    def __call__(self, model, x, mask=None, seed=None, training=False):
        q = model.encode(x, mask=mask, training=training)
        z = q.sample(seed=seed)
        reconstruction = model.decode(z, mask=mask, training=training).log_prob(x)
        kl = self._kl(model, q, model.prior.distribution(), z)
        return Terms(reconstruction - kl, reconstruction, kl)

    def _kl(self, model, q, prior, z):
        if self.kl != "sample":
            try:
                return tfd.kl_divergence(q, prior)
            except NotImplementedError:
                if self.kl == "analytic":
                    raise ValueError(
                        f"ELBO(kl='analytic'): TFP has no closed-form KL between "
                        f"{type(q).__name__} and {type(prior).__name__}; use ELBO(kl='sample') "
                        f"or kl='auto'") from None
        return _path_log_prob(model, q, z) - prior.log_prob(z)

    def loss(self, model, x, mask=None, seed=None, training=False):
        terms = self(model, x, mask=mask, seed=seed, training=training)
        return terms, -tf.reduce_mean(terms.reconstruction - self.beta * terms.gap)

    def get_config(self):
        return {"kl": self.kl, "beta": self.beta}

    def __repr__(self):
        return f"ELBO(kl={self.kl!r}, beta={self.beta})"


@keras.saving.register_keras_serializable("latentvi.objectives")
class IWAE(Objective):
    """IWAE_k(x) = E[log (1/k) sum_i p(x, z_i) / q(z_i | x)], z_1..z_k ~ q(z | x) per row.

    IWAE_1 is the ELBO; the bound rises towards log p(x) as k grows [2]. Reported terms:
    reconstruction = mean_i log p(x | z_i) and gap = reconstruction - bound (the price of the
    latent code under this bound; not a KL divergence), so that bound = reconstruction - gap.

    Args:
      k: number of importance samples per row (>= 1).
      gradient: 'reparam' for the standard reparameterized gradient, 'dreg' for the doubly
        reparameterized gradient of the posterior's weights [3], whose signal-to-noise ratio does
        not decay as k grows. Both are unbiased for the same bound.
    """

    def __init__(self, k=5, gradient="reparam"):
        self.k = positive_int(k, "k")
        self.gradient = one_of(gradient, ("reparam", "dreg"), "gradient")

    def log_weights(self, model, x, mask=None, seed=None, training=False):
        """log w_i = log p(x, z_i) - log q(z_i | x), [k, n]; with z_i reparameterized."""
        q = model.encode(x, mask=mask, training=training)
        return importance_log_weights(model, x, q.sample(self.k, seed=seed), q, mask, training)

    def _terms(self, log_w, log_likelihood):
        bound = tf.reduce_logsumexp(log_w, axis=0) - math.log(self.k)
        reconstruction = tf.reduce_mean(log_likelihood, axis=0)
        return Terms(bound, reconstruction, reconstruction - bound)

    def __call__(self, model, x, mask=None, seed=None, training=False):
        return self._terms(*self.log_weights(model, x, mask, seed, training))

    def gradients(self, model, x, mask=None, seed=None, training=False):
        """With gradient='dreg', one backward pass through the likelihood serves both parts.

        With normalized weights w_i (held constant) and S = -mean_n sum_i w_i log w_i, where
        log q(z_i) is evaluated with q's parameters held constant: the gradient of S for the
        prior's and likelihood's weights is the IWAE gradient, and dS/dz_i = -w_i d log w_i / dz_i,
        so the encoder's DReG gradient -sum_i w_i^2 (d log w_i / dz_i)(dz_i / dphi) [3] is the
        backward pass from z alone with output gradient w_i dS/dz_i.
        """
        if self.gradient == "reparam":
            return super().gradients(model, x, mask=mask, seed=seed, training=training)
        encoder = model.posterior.trainable_variables
        encoder_ids = {id(v) for v in encoder}
        others = [v for v in model.trainable_variables if id(v) not in encoder_ids]
        with tf.GradientTape(persistent=True) as tape:
            q = model.encode(x, mask=mask, training=training)
            z = q.sample(self.k, seed=seed)
            log_w, log_likelihood = importance_log_weights(
                model, x, z, model.posterior.stop_gradient(q), mask, training)
            weights = tf.stop_gradient(tf.nn.softmax(log_w, axis=0))
            extra = penalty(model)
            surrogate = -tf.reduce_mean(tf.reduce_sum(weights * log_w, axis=0)) + extra
        *other_grads, z_grad = tape.gradient(surrogate, others + [z])
        encoder_grads = tape.gradient(z, encoder, output_gradients=z_grad * weights[..., None])
        if model.losses:  # the penalty's own gradient for the encoder's weights
            encoder_grads = [g if p is None else p if g is None else g + p
                             for g, p in zip(encoder_grads, tape.gradient(extra, encoder))]
        del tape
        by_id = {id(v): g for v, g in zip(encoder + others, encoder_grads + other_grads)}
        return self._terms(log_w, log_likelihood), [by_id[id(v)] for v in model.trainable_variables]

    def get_config(self):
        return {"k": self.k, "gradient": self.gradient}

    def __repr__(self):
        return f"IWAE(k={self.k}, gradient={self.gradient!r})"


def _path_log_prob(model, q, z):
    """log q(z) whose gradient reaches q's parameters only through the draw z (the path
    derivative, "sticking the landing": Roeder, Wu & Duvenaud 2017). Same value; the dropped
    score term has expectation 0 but adds noise, most of all when q is close to the posterior.
    Posteriors without `stop_gradient` use the full derivative."""
    try:
        return model.posterior.stop_gradient(q).log_prob(z)
    except NotImplementedError:
        return q.log_prob(z)


def importance_log_weights(model, x, z, density, mask=None, training=False):
    """(log w [k, n], log p(x | z) [k, n]): log w = log p(z) + log p(x | z) - log q(z | x) at
    draws z, with log q from `density` (q itself, or q with its parameters held constant)."""
    log_likelihood = model.decode(z, mask=mask, training=training).log_prob(x)
    log_w = model.prior.distribution().log_prob(z) + log_likelihood - density.log_prob(z)
    return log_w, log_likelihood
