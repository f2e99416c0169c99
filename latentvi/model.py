"""LatentModel: a prior p(z), a likelihood p(x | z) and an amortized posterior q(z | x).

The model is a Keras 3 `Model` whose `train_step` maximizes a variational bound, so
`keras.Model.fit` supplies progress bars, callbacks, checkpoints, XLA and `tf.distribute`.
The bound itself comes from an objective (`latentvi.ELBO`, `latentvi.IWAE`) set by `fit`.
"""

import os

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from latentvi._checks import resolve_seed
from latentvi.fitting import FitMethod
from latentvi.likelihoods import Likelihood
from latentvi.objectives import Objective
from latentvi.posteriors import Posterior
from latentvi.priors import Prior

__all__ = ["LatentModel", "check_model", "load_model", "unpack"]


@keras.saving.register_keras_serializable("latentvi.model")
class LatentModel(FitMethod, keras.Model):
    """A latent-variable model p(z) p(x | z) with an amortized posterior q(z | x).

    Args:
      prior: a `latentvi.Prior` (e.g. `StandardNormal(latent_dim)`).
      likelihood: a `latentvi.Likelihood` wrapping a decoder network (e.g. `Bernoulli`).
      posterior: a `latentvi.Posterior` wrapping an encoder network (`GaussianPosterior`,
        `FlowPosterior`).
      objective: the `latentvi.Objective` that `fit` maximizes by default (set by `fit`;
        saved with the model).

    Examples:
      >>> model = LatentModel(StandardNormal(2),
      ...                     Bernoulli(networks.mlp((512,), output_shape=(28, 28))),
      ...                     GaussianPosterior(networks.mlp((512,)), latent_dim=2))
      >>> result = model.fit(x_train, epochs=10, batch_size=128)
    """

    def __init__(self, prior, likelihood, posterior, objective=None, **kwargs):
        super().__init__(**kwargs)
        _check_part(prior, Prior, "prior", "latentvi.StandardNormal(latent_dim)")
        _check_part(likelihood, Likelihood, "likelihood", "latentvi.Bernoulli(decoder)")
        _check_part(posterior, Posterior, "posterior",
                    "latentvi.GaussianPosterior(encoder, latent_dim)")
        if prior.latent_dim != posterior.latent_dim:
            raise ValueError(f"prior.latent_dim ({prior.latent_dim}) and posterior.latent_dim "
                             f"({posterior.latent_dim}) must be equal")
        self.prior, self.likelihood, self.posterior = prior, likelihood, posterior
        self.data_shape = None
        # Counter-based seed stream for the Monte Carlo samples of each step: saved with the
        # weights, so a resumed fit continues the stream instead of repeating it.
        self.seed_state = self.add_weight(shape=(2,), dtype="int32", initializer="zeros",
                                          trainable=False, aggregation="only_first_replica",
                                          name="seed_state")
        self.objective = objective

    @property
    def objective(self):
        """The `Objective` that `fit` maximizes by default (None before the first fit)."""
        return self._objective

    @objective.setter
    def objective(self, objective):
        if objective is not None and not isinstance(objective, Objective):
            raise TypeError(f"objective must be a latentvi.Objective such as latentvi.ELBO() or "
                            f"latentvi.IWAE(k=5); got {type(objective).__name__}")
        self._objective = objective
        # The history's columns: loss, bound, reconstruction and the gap under its name.
        gap = "gap" if objective is None else objective.gap_name
        names = ("loss", "bound", "reconstruction", gap)
        if list(getattr(self, "trackers", {})) != list(names):
            self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def latent_dim(self):
        return self.prior.latent_dim

    @property
    def masked(self):
        """Whether the model takes missing cells (its posterior sees the observation mask)."""
        return self.posterior.masked

    # -- the three parts ------------------------------------------------------------------
    def encode(self, x, mask=None, training=False):
        """q(z | x): a batch of Gaussians, one per row of x."""
        return self.posterior.distribution(x, mask=mask, training=training)

    def decode(self, z, mask=None, training=False):
        """p(x | z): one distribution per latent vector; its event is one data row."""
        return self.likelihood.distribution(z, mask=mask, training=training)

    def log_joint(self, x, z, mask=None, training=False):
        """log p(z) + log p(x | z), summed over observed cells; z may carry sample dims [k, n, d]."""
        z = tf.convert_to_tensor(z, tf.float32)
        log_prior = self.prior.distribution().log_prob(z)
        return log_prior + self.decode(z, mask=mask, training=training).log_prob(x)

    def sample(self, n, seed=None):
        """Draws n rows x from the generative model p(z) p(x | z); returns a NumPy array."""
        seed_z, seed_x = tfp.random.split_seed(_stateless_seed(seed), n=2)
        z = self.prior.distribution().sample(int(n), seed=seed_z)
        return self.decode(z).sample(seed=seed_x).numpy()

    def call(self, x, training=False):
        """A point summary of q(z | x) per row (`Posterior.location`: the mean for Gaussians)."""
        return self.posterior.location(x)

    # -- building and saving --------------------------------------------------------------
    def build_for_shape(self, data_shape=None):
        """Creates all weights; checks that `data_shape` matches what the likelihood produces."""
        produced = tuple(self.decode(tf.zeros([1, self.latent_dim])).event_shape.as_list())
        if data_shape is not None and tuple(data_shape) != produced:
            raise ValueError(f"data rows have shape {tuple(data_shape)} but the model's "
                             f"likelihood produces rows of shape {produced}")
        x0 = tf.zeros((1,) + produced)
        q = self.encode(x0, mask=tf.ones_like(x0) if self.masked else None)
        q.log_prob(q.sample(seed=tf.constant([0, 0])))  # a flow builds its layers on first use
        self.data_shape = produced
        self.built = True
        return produced

    def get_build_config(self):
        return None if self.data_shape is None else {"data_shape": list(self.data_shape)}

    def build_from_config(self, config):
        self.build_for_shape(tuple(config["data_shape"]))

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {**super().get_config(), "prior": serialize(self.prior),
                "likelihood": serialize(self.likelihood), "posterior": serialize(self.posterior),
                "objective": None if self.objective is None else serialize(self.objective)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("prior", "likelihood", "posterior", "objective"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def save(self, filepath, overwrite=False, **kwargs):
        """Saves architecture, weights, objective and optimizer state to a `.keras` file.

        Raises FileExistsError rather than overwrite an existing file unless `overwrite=True`.
        """
        filepath = os.fspath(filepath)
        if not filepath.endswith(".keras"):
            raise ValueError(f"save path must end in '.keras', got {filepath!r}")
        if os.path.exists(filepath) and not overwrite:
            raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it")
        super().save(filepath, overwrite=True, **kwargs)

    # -- training machinery used by keras.Model.fit --------------------------------------
    @property
    def metrics(self):
        return list(self.trackers.values())

    def next_seed(self):
        """A fresh stateless seed for this step's Monte Carlo draws."""
        seed = tf.identity(self.seed_state)
        self.seed_state.assign_add(tf.constant([0, 1], tf.int32))
        return seed

    def train_step(self, data):
        x, mask = unpack(data)
        terms, grads = self.objective.gradients(self, x, mask=mask, seed=self.next_seed(),
                                                training=True)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:  # each replica's gradient is summed across replicas
            grads = [None if g is None else g / replicas for g in grads]
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_trackers(terms)

    def make_train_function(self, force=False):
        """With XLA and steps_per_execution = s > 1, runs s steps in ONE compiled call.

        Keras runs each step as its own XLA call from an uncompiled loop, which costs about 1 ms
        a step on a CPU (a fifth of a small VAE's step). Here s full batches are stacked and a
        tf.while_loop inside one XLA program takes them in turn; a shorter or ragged tail (the
        last batches of an epoch) runs one step per call.
        """
        spe = self.steps_per_execution
        if ((self.train_function is not None and not force) or spe == 1 or not self.jit_compile
                or tf.distribute.get_strategy().num_replicas_in_sync > 1):
            return super().make_train_function(force)
        single = tf.function(self.train_step, jit_compile=True, reduce_retracing=True)

        @tf.function(jit_compile=True, reduce_retracing=True)
        def block(stacked):
            def body(i):
                self.train_step(tf.nest.map_structure(lambda t: t[i], stacked))
                return (i + 1,)
            tf.while_loop(lambda i: i < spe, body, (tf.constant(0),))
            return {m.name: m.result() for m in self.metrics}

        def function(iterator):
            batches = []
            for _ in range(spe):
                try:
                    batches.append(next(iterator))
                except (StopIteration, tf.errors.OutOfRangeError):
                    break
            if not batches:
                raise StopIteration
            if len(batches) == spe and len({tuple(tuple(t.shape) for t in tf.nest.flatten(b))
                                            for b in batches}) == 1:
                return block(tf.nest.map_structure(lambda *t: tf.stack(t), *batches))
            for data in batches:
                logs = single(data)
            return logs

        self.train_function = function
        return function

    def test_step(self, data):
        x, mask = unpack(data)
        terms = self.objective(self, x, mask=mask, seed=self.next_seed(), training=False)
        return self._update_trackers(terms)

    def _update_trackers(self, terms):
        bound = tf.reduce_mean(terms.bound)
        values = (-bound, bound, tf.reduce_mean(terms.reconstruction), tf.reduce_mean(terms.gap))
        for tracker, value in zip(self.trackers.values(), values):
            tracker.update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def unpack(data):
    """A batch is x, or (x, mask) for data with missing cells."""
    if isinstance(data, (tuple, list)):
        return data[0], data[1] if len(data) > 1 else None
    return data, None


def load_model(filepath, compile=True):
    """Loads a model saved by `LatentModel.save` (or a `ModelCheckpoint` of a fit).

    The optimizer state is restored too (unless `compile=False`), so `model.fit(...)` resumes
    training.
    """
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"no saved model at {filepath}")
    model = keras.saving.load_model(filepath, compile=compile)
    if not isinstance(model, LatentModel):
        raise TypeError(f"{filepath} holds a {type(model).__name__}, not a latentvi LatentModel")
    return model


def check_model(model):
    """Raises TypeError unless `model` is a LatentModel (for functions that take one)."""
    if not isinstance(model, LatentModel):
        raise TypeError(f"model must be a latentvi.LatentModel, got {type(model).__name__}")


def _check_part(part, kind, name, example):
    if not isinstance(part, kind):
        raise TypeError(f"{name} must be a latentvi {kind.__name__.strip('_').lower()} "
                        f"such as {example}; got {type(part).__name__}")


def _stateless_seed(seed):
    return tf.constant([resolve_seed(seed), 0], tf.int32)
