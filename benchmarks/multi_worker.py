"""Multi-worker fits on one machine: steps per second in one process and in two local workers.

Each configuration fits the same model to the same rows with the same global batch, in fresh
processes:

- `single`: one process, no strategy;
- `mwms x1`: one process under `MultiWorkerMirroredStrategy` without TF_CONFIG (one worker:
  the cost of the strategy's machinery alone);
- `mwms x2`: two local worker processes with TF_CONFIG (localhost ports), each taking half of
  every global batch, gradients summed by a RING all-reduce over gRPC.

Two models: `fa`, the linear Gaussian model of factor analysis (6 features, 2 factors, 50
weights, IWAE k = 5, global batch 250) and `mlp`, a Bernoulli VAE (100 binary features, one
hidden layer of 256 in encoder and decoder, 8 latent dimensions, 58,000 weights, ELBO, global
batch 512). Each fit runs `--steps` steps per epoch for 1 + `--epochs` epochs; the first epoch
(tracing, connecting) is dropped and steps/s is the steps per epoch over the median epoch time;
each configuration runs `--repeats` times and the table shows the medians.
Runs with 10 steps per compiled call (`steps_per_execution`) show what Python's per-step
overhead costs; two workers always run one step per call (see `latentvi.distributed`).
Also timed alone in the two-worker runs (median of 200 calls): the two exchanges of a step,
the all-reduce of the gradients and the means across workers that Keras takes of the four
logged values (two all-reduces each: a sum and a count).

On a machine with fewer cores than workers x threads the workers compete for the same cores:
this measures what the exchange costs, not a speed-up.

Usage:
    python benchmarks/multi_worker.py                 # table, and results/multi_worker.json
    python benchmarks/multi_worker.py --models fa --steps-per-execution 1
"""

import argparse
import json
import os
import pathlib
import platform
import socket
import statistics
import subprocess
import sys
import time
from importlib import metadata

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
MODES = ("single", "mwms x1", "mwms x2")
BATCH = {"fa": 250, "mlp": 512}
TIMEOUT_S = 600


def build(name):
    """(model, objective, rows) of benchmark model `name`."""
    import keras
    import numpy as np

    import latentvi as lv
    keras.utils.set_random_seed(0)  # the same initial weights and shuffling in every process
    rng = np.random.default_rng(0)
    if name == "fa":
        loadings = rng.normal(size=(6, 2))
        rows = (rng.normal(size=(4000, 2)) @ loadings.T
                + 0.5 * rng.normal(size=(4000, 6))).astype("f4")
        model = lv.LatentModel(lv.StandardNormal(2),
                               lv.likelihoods.Normal(lv.networks.mlp((), output_shape=6)),
                               lv.GaussianPosterior(keras.layers.Identity(), 2))
        return model, lv.IWAE(k=5), rows
    rows = (rng.uniform(size=(8192, 100)) < 0.3).astype("f4")
    model = lv.LatentModel(lv.StandardNormal(8),
                           lv.Bernoulli(lv.networks.mlp((256,), output_shape=100)),
                           lv.GaussianPosterior(lv.networks.mlp((256,)), 8))
    return model, lv.ELBO(), rows


def run_one(model_name, steps, epochs, steps_per_execution):
    """One process's part of a configuration; returns its measurements as a dict."""
    import numpy as np
    import tensorflow as tf

    import latentvi as lv
    from latentvi import distributed

    strategy = None
    if os.environ.get("BENCH_STRATEGY"):
        ring = tf.distribute.experimental.CommunicationImplementation.RING
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=ring))
    model, objective, rows = build(model_name)
    model.build_for_shape(rows.shape[1:])
    steps_per_execution = distributed.supported_steps_per_execution(steps_per_execution,
                                                                    strategy)
    result = lv.fit(model, rows, objective=objective, epochs=1 + epochs,
                    batch_size=BATCH[model_name], steps_per_epoch=steps,
                    steps_per_execution=steps_per_execution, learning_rate=1e-3, seed=0,
                    verbose=0, strategy=strategy)
    seconds = float(np.median(result.history["seconds"].iloc[1:]))
    out = {"steps_per_s": steps / seconds, "ms_per_step": 1000 * seconds / steps,
           "final_bound": float(result.history["bound"].iloc[-1]),
           "n_weights": int(sum(np.prod(w.shape) for w in model.trainable_weights))}
    if distributed.is_multi_worker(strategy):
        out.update(exchange_ms(strategy, model))
    return out


def exchange_ms(strategy, model, calls=200):
    """Median wall times (ms) of a step's two exchanges between workers, timed alone: the
    all-reduce of tensors shaped as `model`'s trainable weights (the gradients), and the mean
    across workers that Keras takes of each of the four logged values (loss, bound,
    reconstruction, kl) after every step."""
    import tensorflow as tf

    with strategy.scope():
        grads = [tf.ones(w.shape) for w in model.trainable_weights]

    @tf.function
    def gradients():
        return strategy.run(lambda: tf.distribute.get_replica_context().all_reduce("sum", grads))

    @tf.function
    def logs():
        values = strategy.run(lambda: [tf.ones([1]) for _ in range(4)])
        return [strategy.reduce("MEAN", value, axis=0) for value in values]

    return {"gradient_allreduce_ms": _median_ms(gradients, strategy, calls),
            "log_means_ms": _median_ms(logs, strategy, calls)}


def _median_ms(function, strategy, calls):
    import numpy as np
    for _ in range(10):
        function()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        [value.numpy() for value in strategy.experimental_local_results(function()[0])]
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(mode, args_for_child):
    """Runs a configuration's processes; returns worker 0's measurements."""
    command = [sys.executable, __file__, "--child", *args_for_child]
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    if mode == "single":
        envs = [env]
    elif mode == "mwms x1":
        envs = [dict(env, BENCH_STRATEGY="1")]
    else:
        ports = free_ports(2)
        cluster = {"worker": [f"localhost:{port}" for port in ports]}
        envs = [dict(env, BENCH_STRATEGY="1", TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": i}})) for i in range(2)]
    processes = [subprocess.Popen(command, env=e, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for e in envs]
    try:
        outputs = [p.communicate(timeout=TIMEOUT_S) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(processes, outputs):
        if p.returncode:
            raise RuntimeError(f"{mode} failed:\n{err[-3000:]}")
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def median_of(runs):
    """One cell from repeated runs: the median of each measurement, and every run's steps/s
    (the machine's other load moves them)."""
    cell = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    cell["steps_per_s_runs"] = [run["steps_per_s"] for run in runs]
    return cell


def _ms(value):
    return "" if value is None else f"{value:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["fa", "mlp"], choices=list(BATCH))
    parser.add_argument("--steps-per-execution", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--steps", type=int, default=100, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs (after the first)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh runs per configuration; the table shows their median")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, steps, epochs, per_call = args.child
        print(json.dumps(run_one(name, int(steps), int(epochs), int(per_call))))
        return
    load_before = os.getloadavg()
    rows = []
    print("| model | weights | global batch | steps/execution | mode | steps/s | ms/step | "
          "gradient all-reduce ms | log means ms | final bound |\n"
          "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for name in args.models:
        for per_call in args.steps_per_execution:
            for mode in MODES:
                if mode == "mwms x2" and per_call > 1:
                    continue  # one step per call under several replicas (latentvi.distributed)
                cell = median_of([launch(mode, [name, str(args.steps), str(args.epochs),
                                                str(per_call)]) for _ in range(args.repeats)])
                cell.update(model=name, global_batch=BATCH[name], steps_per_execution=per_call,
                            mode=mode)
                rows.append(cell)
                exchanges = [_ms(cell.get(key)) for key in ("gradient_allreduce_ms",
                                                            "log_means_ms")]
                print(f"| {name} | {cell['n_weights']:,} | {BATCH[name]} | {per_call} | {mode} | "
                      f"{cell['steps_per_s']:.1f} | {cell['ms_per_step']:.2f} | "
                      f"{exchanges[0]} | {exchanges[1]} | {cell['final_bound']:.3f} |",
                      flush=True)
    result = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "tensorflow": metadata.version("tensorflow"),
                          "load_average_before": load_before,
                          "load_average_after": os.getloadavg()},
              "settings": {"steps_per_epoch": args.steps, "timed_epochs": args.epochs,
                           "repeats": args.repeats},
              "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "multi_worker.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
