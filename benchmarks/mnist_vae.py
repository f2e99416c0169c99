"""latentvi vs plain Keras 3 on Fashion-MNIST: the same VAEs side by side, speed and test bounds.

Models: the 784-512-2 ReLU MLP VAE of the Keras notebooks, and the 784-200-200-50 tanh VAE of
Burda et al. (2016). Each is trained twice in one run, with the same data (Fashion-MNIST 60k/10k,
dynamically binarized training images from one shared tf.data pipeline, a fixed binarization of
the test images), batch size, Adam learning rate and epochs:
  latentvi:    latentvi.models.mlp_vae(...).fit(...)
  plain Keras: encoder/decoder keras.Models, a Sampling layer and a VAE(keras.Model) with a
               custom train_step (sigmoid decoder, binary cross-entropy * 784 + analytic KL),
               written as the classic Keras notebooks write them, no latentvi.
latentvi is compiled with XLA (jit_compile=True); plain Keras runs twice, as the notebooks
compile it (jit_compile='auto', which Keras 3 resolves to no XLA on a CPU-only machine) and with
XLA. The three fits of a model run in one process with their epochs interleaved (latentvi's
epoch e, then one epoch of each Keras fit; every other epoch the Keras epochs come first and in
the reverse order), so that a change in the machine's load falls on all of them alike. A
profile then times training steps of each on cached batches, interleaved in rounds, against
the dense layers' matrix products alone, to show where the time goes.

Per row: seconds per epoch (median over epochs 2.., so compilation is not counted; the first
epoch's time is reported apart), process CPU seconds per epoch (all threads), images/s, test
negative ELBO (10,000 images), test -log p(x) (importance sampling, k=5000, on the first
--n-logpx test images), and the latentvi / Keras time ratio. Writes benchmarks/results/mnist_vae.json and .md.

    python benchmarks/mnist_vae.py              # defaults: 5 epochs, log p(x) on 1,000 images
    python benchmarks/mnist_vae.py --epochs 1 --n-train 2000 --n-logpx 20   # smoke run
    python benchmarks/mnist_vae.py --steps-per-execution 32    # latentvi runs 32 steps a call
"""

import argparse
import json
import math
import os
import platform
import time

import keras
import numpy as np
import tensorflow as tf

import latentvi
from latentvi.datasets.mnist import dynamic_binarization, load_mnist
from latentvi.models import mlp_vae

ARCHITECTURES = {
    "784-512-2 relu (Keras notebook)": {"hidden": (512,), "latent_dim": 2, "activation": "relu"},
    "784-200-200-50 tanh (Burda et al.)": {"hidden": (200, 200), "latent_dim": 50,
                                           "activation": "tanh"}}
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


# -- the plain Keras VAE, as the classic notebooks write it -----------------------------------
class Sampling(keras.layers.Layer):
    """z = z_mean + exp(z_log_var / 2) * epsilon."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(tf.shape(z_mean), seed=self.seed_generator)
        return z_mean + tf.exp(0.5 * z_log_var) * epsilon


def keras_encoder(hidden, latent_dim, activation):
    inputs = keras.Input(shape=(28, 28))
    h = keras.layers.Flatten()(inputs)
    for units in hidden:
        h = keras.layers.Dense(units, activation=activation)(h)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(h)
    z = Sampling()([z_mean, z_log_var])
    return keras.Model(inputs, [z_mean, z_log_var, z], name="encoder")


def keras_decoder(hidden, latent_dim, activation):
    latent_inputs = keras.Input(shape=(latent_dim,))
    h = latent_inputs
    for units in hidden[::-1]:
        h = keras.layers.Dense(units, activation=activation)(h)
    outputs = keras.layers.Reshape((28, 28))(keras.layers.Dense(784, activation="sigmoid")(h))
    return keras.Model(latent_inputs, outputs, name="decoder")


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.total_loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            total_loss = tf.reduce_mean(negative_elbo(data, z_mean, z_log_var, reconstruction))
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        return {"loss": self.total_loss_tracker.result()}


def negative_elbo(data, z_mean, z_log_var, reconstruction):
    """Per image: binary cross-entropy * 784 (Keras averages over pixels) + analytic KL."""
    flat = tf.reshape(data, [-1, 784])
    reconstruction_loss = keras.losses.binary_crossentropy(
        flat, tf.reshape(reconstruction, [-1, 784])) * 784
    kl_loss = -0.5 * tf.reduce_sum(1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=1)
    return reconstruction_loss + kl_loss


def keras_test_negative_elbo(vae, x, batch_size=500):
    values = [negative_elbo(x[i:i + batch_size], *_keras_forward(vae, x[i:i + batch_size]))
              for i in range(0, len(x), batch_size)]
    return float(np.mean(np.concatenate([v.numpy() for v in values])))


def _keras_forward(vae, x):
    z_mean, z_log_var, z = vae.encoder(x)
    return z_mean, z_log_var, vae.decoder(z)


def keras_log_px(vae, x, num_samples=5000, chunk=500, seed=0):
    """log p(x) = log mean_s p(x, z_s) / q(z_s | x), z_s ~ q: the same estimator as latentvi's,
    written in plain TF for the Keras model (pixel probabilities clipped as in its loss)."""
    @tf.function(jit_compile=True)
    def chunk_logsumexp(x_one, key):
        z_mean, z_log_var, _ = vae.encoder(x_one[tf.newaxis])
        scale = tf.exp(0.5 * z_log_var)
        eps = tf.random.stateless_normal([chunk, z_mean.shape[-1]], seed=key)
        z = z_mean + scale * eps
        p = tf.clip_by_value(tf.reshape(vae.decoder(z), [chunk, 784]), 1e-7, 1 - 1e-7)
        flat = tf.reshape(x_one, [1, 784])
        log_lik = tf.reduce_sum(flat * tf.math.log(p) + (1 - flat) * tf.math.log(1 - p), -1)
        log_prior = -0.5 * tf.reduce_sum(tf.square(z) + math.log(2 * math.pi), -1)
        log_q = -0.5 * tf.reduce_sum(tf.square(eps) + math.log(2 * math.pi) + z_log_var, -1)
        return tf.reduce_logsumexp(tf.cast(log_lik + log_prior - log_q, tf.float64))

    chunks = math.ceil(num_samples / chunk)
    out = []
    for row in range(len(x)):
        parts = [chunk_logsumexp(x[row], tf.constant([seed, row * chunks + c]))
                 for c in range(chunks)]
        out.append(float(tf.reduce_logsumexp(tf.stack(parts))) - math.log(chunks * chunk))
    return np.array(out)


class EpochTimer(keras.callbacks.Callback):
    """Wall and process CPU seconds per epoch (CPU time is steadier on a shared machine),
    accumulated over the fit calls it is passed to."""

    def __init__(self):
        super().__init__()
        self.seconds, self.cpu_seconds = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start[0])
        self.cpu_seconds.append(time.process_time() - self._start[1])


# -- the runs ---------------------------------------------------------------------------------
# Keras as the notebooks compile it ('auto', which Keras resolves to no XLA on a CPU-only
# machine) and, for comparison, with XLA too; latentvi always with XLA.
FRAMEWORKS = ("latentvi (XLA)", "plain Keras 3 (default compile)", "plain Keras 3 (XLA)")
KERAS_COMPILES = ("auto", True)


class KerasRun:
    """A plain Keras VAE, compiled once, trained one epoch at a time by `Interleave`."""

    def __init__(self, spec, args, jit_compile):
        keras.utils.set_random_seed(args.seed)
        self.vae = VAE(keras_encoder(spec["hidden"], spec["latent_dim"], spec["activation"]),
                       keras_decoder(spec["hidden"], spec["latent_dim"], spec["activation"]))
        self.vae.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                         jit_compile=jit_compile,
                         steps_per_execution=args.keras_steps_per_execution)
        self.timer, self.epochs = EpochTimer(), 0

    def epoch(self, train):
        self.vae.fit(train, epochs=self.epochs + 1, initial_epoch=self.epochs,
                     callbacks=[self.timer], verbose=0)
        self.epochs += 1

    def results(self, x_test, args):
        negative_bound = keras_test_negative_elbo(self.vae, x_test)
        log_px = keras_log_px(self.vae, x_test[:args.n_logpx], args.iw_samples, seed=args.seed)
        return self.timer, negative_bound, log_px


class Interleave(keras.callbacks.Callback):
    """Runs one epoch of each Keras fit around each epoch of latentvi's fit: after it on even
    epochs (placed after latentvi's timer), before it on odd ones (placed before the timer),
    the Keras fits in alternating order."""

    def __init__(self, runs, train, before):
        super().__init__()
        self.runs, self.train, self.before = runs, train, before

    def _run(self, epoch):
        for run in (self.runs if epoch % 4 < 2 else self.runs[::-1]):
            run.epoch(self.train)

    def on_epoch_begin(self, epoch, logs=None):
        if self.before and epoch % 2 == 1:
            self._run(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if not self.before and epoch % 2 == 0:
            self._run(epoch)


def run_interleaved(spec, train, x_test, args):
    """The latentvi fit and the two Keras fits of one model, epochs interleaved; returns
    (timer, test -ELBO, log p(x) per row) for each, in FRAMEWORKS' order."""
    keras_runs = [KerasRun(spec, args, jit_compile) for jit_compile in KERAS_COMPILES]
    keras.utils.set_random_seed(args.seed)
    model = mlp_vae(**spec)
    timer = EpochTimer()
    callbacks = [Interleave(keras_runs, train, before=True), timer,
                 Interleave(keras_runs, train, before=False)]
    model.fit(train, epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed,
              verbose=0, jit_compile=True, callbacks=callbacks,
              steps_per_execution=args.steps_per_execution)
    negative_bound = -float(latentvi.evaluate(model, x_test, seed=args.seed)["bound"])
    log_px = latentvi.log_marginal_likelihood(model, x_test[:args.n_logpx],
                                              num_samples=args.iw_samples, seed=args.seed)
    return [(timer, negative_bound, log_px)] + [run.results(x_test, args) for run in keras_runs]


def row(model, framework, timer, negative_bound, log_px, n_train):
    def steady(values):  # epoch 1 includes tracing and compilation
        return float(np.median(values[1:])) if len(values) > 1 else float(values[0])
    seconds = steady(timer.seconds)
    return {"model": model, "framework": framework, "seconds_per_epoch": seconds,
            "cpu_seconds_per_epoch": steady(timer.cpu_seconds),
            "first_epoch_seconds": float(timer.seconds[0]), "images_per_second": n_train / seconds,
            "epoch_seconds": [float(v) for v in timer.seconds],
            "test_negative_elbo": negative_bound, "test_negative_log_px": float(-log_px.mean()),
            "test_negative_log_px_se": float(log_px.std(ddof=1) / math.sqrt(len(log_px)))
            if len(log_px) > 1 else float("nan")}


def pipeline_seconds(train):
    """One pass over the input pipeline alone: the share of an epoch spent making batches."""
    start = time.perf_counter()
    for _ in train:
        pass
    return time.perf_counter() - start


def step_milliseconds(steps, batches, calls=25, rounds=9):
    """{name: (median wall ms, median process CPU ms) per call of steps[name](batch)}: the
    functions are called in turn, `calls` times each per round (cycling over `batches`), in
    alternating order, after two calls that compile them; medians over the rounds."""
    def timed(step):
        start = (time.perf_counter(), time.process_time())
        for i in range(calls):
            result = step(batches[i % len(batches)])
        float(tf.nest.flatten(result)[0])
        return [1000 * (now - then) / calls
                for now, then in zip((time.perf_counter(), time.process_time()), start)]
    for step in steps.values():
        step(batches[0]), step(batches[-1])
    times = {name: [] for name in steps}
    for r in range(rounds):
        for name in (list(steps) if r % 2 == 0 else list(steps)[::-1]):
            times[name].append(timed(steps[name]))
    return {name: tuple(float(np.median(column)) for column in zip(*values))
            for name, values in times.items()}


def dense_matmuls(spec, batch_size):
    """A compiled function doing the matrix products of every dense layer of the encoder and
    decoder that a training step needs: forward, the weight gradient, and the gradient to the
    layer's input except for the first layer (whose input is the data): the arithmetic no
    implementation can skip."""
    hidden, latent_dim = list(spec["hidden"]), spec["latent_dim"]
    sizes = list(zip([784] + hidden, hidden + [2 * latent_dim]))
    sizes += list(zip([latent_dim] + hidden[::-1], hidden[::-1] + [784]))
    tensors = [(tf.random.normal([batch_size, i]), tf.random.normal([i, o]),
                tf.random.normal([batch_size, o])) for i, o in sizes]

    @tf.function(jit_compile=True)
    def products(unused_batch):
        total = 0.0
        for layer, (x, w, g) in enumerate(tensors):
            total += tf.reduce_sum(x @ w) + tf.reduce_sum(tf.transpose(x) @ g)
            if layer > 0:
                total += tf.reduce_sum(g @ tf.transpose(w))
        return total
    return products


def profile(spec, batches, args):
    """(wall, CPU) ms per training step of each implementation on cached batches, and of its
    matmuls."""
    keras.utils.set_random_seed(args.seed)
    model = mlp_vae(**spec)
    model.build_for_shape()
    model.objective = latentvi.ELBO()
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), jit_compile=True)
    model.optimizer.build(model.trainable_variables)
    steps = {"latentvi": tf.function(model.train_step, jit_compile=True)}
    for label, jit in (("keras", False), ("keras_xla", True)):
        vae = VAE(keras_encoder(spec["hidden"], spec["latent_dim"], spec["activation"]),
                  keras_decoder(spec["hidden"], spec["latent_dim"], spec["activation"]))
        vae.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        vae.optimizer.build(vae.trainable_variables)
        steps[label] = tf.function(vae.train_step, jit_compile=jit)
    steps["matmuls"] = dense_matmuls(spec, len(batches[0]))
    return step_milliseconds(steps, batches)


def markdown(rows, meta):
    header = ("| model | framework | s/epoch | CPU s/epoch | first epoch s | images/s | "
              f"test -ELBO | test -log p(x) (k={meta['iw_samples']}, {meta['n_logpx']} images) "
              "| latentvi/Keras time (wall; CPU) | latentvi/faster Keras (wall; CPU) |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = (f"{r['time_ratio']:.2f}; {r['cpu_time_ratio']:.2f} | "
                 f"{r['time_ratio_vs_faster_keras']:.2f}; {r['cpu_time_ratio_vs_faster_keras']:.2f}"
                 if "time_ratio" in r else " ")
        lines.append(f"| {r['model']} | {r['framework']} | {r['seconds_per_epoch']:.2f} | "
                     f"{r['cpu_seconds_per_epoch']:.2f} | {r['first_epoch_seconds']:.2f} | "
                     f"{r['images_per_second']:.0f} | {r['test_negative_elbo']:.2f} | "
                     f"{r['test_negative_log_px']:.2f} +- {r['test_negative_log_px_se']:.2f} | "
                     f"{ratio} |")
    lines.append("")
    lines.append(f"Fashion-MNIST, {meta['n_train']} training images (dynamically binarized, one "
                 f"shared tf.data pipeline), {meta['n_test']} test images (fixed binarization), "
                 f"{meta['epochs']} epochs, batch {meta['batch_size']}, Adam lr "
                 f"{meta['learning_rate']}. s/epoch and CPU s/epoch (process CPU time, all "
                 f"threads): medians over epochs 2..{meta['epochs']}. Time ratios: latentvi over "
                 "plain Keras with its default compile, and over the faster of the two Keras "
                 "rows (the issue's reference). test -log p(x): mean over the first "
                 f"{meta['n_logpx']} test images +- its standard error. The three fits of a model "
                 f"ran in one process with their epochs interleaved. Steps per compiled call: "
                 f"latentvi {meta['steps_per_execution']}, Keras "
                 f"{meta['keras_steps_per_execution']}. Input pipeline alone: "
                 f"{meta['pipeline_seconds']:.2f} s per epoch. Load average (1 min) "
                 f"{meta['load_average'][0]:.1f} at the start, {meta['load_average'][1]:.1f} at "
                 f"the end. Machine: {meta['machine']}." + (f" {meta['note']}" if meta["note"] else ""))
    if meta.get("profile"):
        lines += ["", ("Profile (ms per training step, wall / process CPU, on 8 cached batches, "
                       "no input pipeline, one step per call; medians of 9 rounds of 25 calls, "
                       "the implementations in turn; 'matmuls': the dense layers' forward and "
                       "backward matrix products alone):"), "",
                  "| model | latentvi step (XLA) | Keras step (default) | Keras step (XLA) | matmuls |",
                  "|---|---|---|---|---|"]
        for name, p in meta["profile"].items():
            lines.append(f"| {name} | " + " | ".join(
                f"{p[key][0]:.2f} / {p[key][1]:.2f}"
                for key in ("latentvi", "keras", "keras_xla", "matmuls")) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--n-train", type=int, default=0, help="0: all 60,000")
    parser.add_argument("--n-logpx", type=int, default=1000)
    parser.add_argument("--iw-samples", type=int, default=5000)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the per-step profile")
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="latentvi's training steps per compiled call")
    parser.add_argument("--keras-steps-per-execution", type=int, default=1,
                        help="plain Keras' steps per compiled call (the notebooks use 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--note", default="", help="free text added to the table note (e.g. machine load)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    load_start = os.getloadavg()[0]
    (x_train, _), (x_test, _) = load_mnist("fashion", args.data_dir, binarize="dynamic")
    if args.n_train:
        x_train = x_train[:args.n_train]
    train = dynamic_binarization(x_train, args.batch_size, seed=args.seed)
    rows, profiles = [], {}
    for name, spec in ARCHITECTURES.items():
        start = time.perf_counter()
        group = [row(name, framework, *result, len(x_train))
                 for framework, result in zip(FRAMEWORKS, run_interleaved(spec, train, x_test,
                                                                          args))]
        for r in group:
            print(f"{name} / {r['framework']}: {r}", flush=True)
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)
        ours, theirs = group[0], group[1]
        ours["time_ratio"] = ours["seconds_per_epoch"] / theirs["seconds_per_epoch"]
        ours["cpu_time_ratio"] = ours["cpu_seconds_per_epoch"] / theirs["cpu_seconds_per_epoch"]
        ours["time_ratio_vs_keras_xla"] = ours["seconds_per_epoch"] / group[2]["seconds_per_epoch"]
        faster = min(group[1:], key=lambda r: r["seconds_per_epoch"])  # the reference
        ours["faster_keras"] = faster["framework"]
        ours["time_ratio_vs_faster_keras"] = ours["seconds_per_epoch"] / faster["seconds_per_epoch"]
        ours["cpu_time_ratio_vs_faster_keras"] = (ours["cpu_seconds_per_epoch"]
                                                  / faster["cpu_seconds_per_epoch"])
        rows += group
        if args.profile:
            batches = [batch for batch, _ in zip(train, range(8))]
            profiles[name] = profile(spec, batches, args)
            print(f"profile {name}: {profiles[name]}", flush=True)
    meta = {"n_train": len(x_train), "n_test": len(x_test), "epochs": args.epochs,
            "batch_size": args.batch_size, "learning_rate": args.learning_rate,
            "n_logpx": min(args.n_logpx, len(x_test)), "iw_samples": args.iw_samples,
            "steps_per_execution": args.steps_per_execution,
            "keras_steps_per_execution": args.keras_steps_per_execution,
            "pipeline_seconds": pipeline_seconds(train), "profile": profiles,
            "load_average": [load_start, os.getloadavg()[0]],
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, "
                       f"TF {tf.__version__}, Keras {keras.__version__}", "note": args.note}
    table = markdown(rows, meta)
    print(table)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "mnist_vae.json"), "w") as handle:
        json.dump({"meta": meta, "rows": rows}, handle, indent=2)
    with open(os.path.join(args.out, "mnist_vae.md"), "w") as handle:
        handle.write(table + "\n")
    return rows


if __name__ == "__main__":
    main()
