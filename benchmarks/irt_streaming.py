"""Beyond memory: item factor fits on files read as a stream, and the memory of the paths.

Subcommands (each prints a table and writes benchmarks/results/irt_streaming_<name>.json):

- `write`: simulates N persons x 100 binary items x 5 correlated factors (simple structure,
  slopes U[0.8, 2], intercepts U[-1.5, 1.5], correlations 0.3) with `irt.simulate` in chunks of
  250,000 persons and writes one Parquet shard (int8 answers) per chunk, plus the truth.
- `fit`: in a fresh process, fits the confirmatory 5-factor model (the simulated pattern) to the
  shards (`ItemFactorModel.fit(folder)`), scores every person into a Parquet file
  (`score(folder, out=...)`), and reports wall times, the process's peak resident memory
  (getrusage ru_maxrss) and the slope / intercept RMSE against the truth.
- `cli`: simulates 1,000,000 persons x 20 binary items into one CSV and runs `latentvi fit` on it
  (in memory, and with --stream), reporting wall time and the peak memory of the command.
- `memory`: the in-memory path at 200,000 x 200 x 10 (exploratory) and on its first 20,000
  rows: the fit's peak resident memory above what the process held with the data read
  (sampled every 2 ms), and how much of it grows with the persons, against the size of the
  int8 response matrix.

Usage:
    python benchmarks/irt_streaming.py write --persons 10000000 --folder /tmp/shards
    python benchmarks/irt_streaming.py fit --folder /tmp/shards
    python benchmarks/irt_streaming.py cli --folder /tmp/cli
    python benchmarks/irt_streaming.py memory --folder /tmp/memory
"""

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

RESULTS = pathlib.Path(__file__).parent / "results"
CHUNK = 250_000


def peak_rss_gb(who=resource.RUSAGE_SELF):
    """Peak resident memory in GB (Linux reports kilobytes)."""
    return resource.getrusage(who).ru_maxrss / 1024**2


def design(n_items, n_factors, seed):
    from latentvi.irt.item_parameters import ItemParameters
    rng = np.random.default_rng(seed)
    slopes = np.zeros((n_items, n_factors))
    for j in range(n_items):
        slopes[j, j * n_factors // n_items] = rng.uniform(0.8, 2.0)
    return ItemParameters.from_arrays(slopes, rng.uniform(-1.5, 1.5, n_items), "2PL")


def write(args):
    from latentvi import irt
    folder = pathlib.Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    parameters = design(100, 5, args.seed)
    start = time.perf_counter()
    for part, first in enumerate(range(0, args.persons, CHUNK)):
        size = min(CHUNK, args.persons - first)
        data, truth = irt.simulate(size, parameters=parameters, factor_corr=0.3,
                                   seed=args.seed + part)
        data = data.astype(np.int8)
        data.index = pd.RangeIndex(first, first + size, name="person")
        data.to_parquet(folder / f"part{part:04d}.parquet")
        print(f"wrote part {part}: {first + size:,} persons, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    truth["items"].to_csv(folder / "truth_items.csv")
    truth["pattern"].to_csv(folder / "truth_pattern.csv")
    size = sum(path.stat().st_size for path in folder.glob("*.parquet"))
    summary = {"persons": args.persons, "items": 100, "factors": 5, "parquet_mb": size / 1e6,
               "write_s": time.perf_counter() - start}
    print(summary)
    return summary


def fit(args):
    return _in_child("_fit_child", args.folder)


def _in_child(command, folder, more=()):
    """Runs `command` of this script in a fresh process, so that its peak memory is its own;
    returns the JSON it prints last."""
    out = subprocess.run([sys.executable, __file__, command, "--folder", folder, *more],
                         capture_output=True, text=True, check=False)
    sys.stderr.write(out.stderr[-3000:])
    print(out.stdout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fit_child(args):
    folder = pathlib.Path(args.folder)
    start = time.perf_counter()
    from latentvi import irt
    pattern = pd.read_csv(folder / "truth_pattern.csv", index_col=0)
    truth = pd.read_csv(folder / "truth_items.csv", index_col=0)
    imported = time.perf_counter() - start
    model = irt.ItemFactorModel(n_factors=5, pattern=pattern, seed=0)
    model.fit(str(folder / "part*.parquet"), verbose=1)
    fitted = time.perf_counter() - start
    fit_rss = peak_rss_gb()
    scores = folder.parent / f"{folder.name}_scores.parquet"
    model.score(str(folder / "part*.parquet"), out=scores, overwrite=True)
    scored = time.perf_counter() - start
    slopes = [f"a{k}" for k in range(1, 6)]
    estimated = model.items_.loc[truth.index]
    free = truth[slopes].to_numpy() != 0
    result = {
        "persons": int(model.n_persons_), "items": len(truth), "factors": 5,
        "steps": int(model.settings_["max_steps"] if model.converged_ is None else
                     len(model.history_) * model.settings_["check_steps"]),
        "converged": bool(model.converged_), "import_s": imported,
        "fit_s": fitted - imported, "score_s": scored - fitted,
        "peak_rss_fit_gb": fit_rss, "peak_rss_gb": peak_rss_gb(),
        "slope_rmse": float(np.sqrt(np.mean((estimated[slopes].to_numpy()[free]
                                             - truth[slopes].to_numpy()[free]) ** 2))),
        "intercept_rmse": float(np.sqrt(np.mean((estimated["d"] - truth["d"]) ** 2))),
        "scores_written": len(pd.read_parquet(scores, columns=["F1"])),
    }
    print(json.dumps(result))


def cli(args):
    from latentvi import irt
    folder = pathlib.Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "million.csv"
    if not csv.exists():
        data, truth = irt.simulate(1_000_000, 20, 1, seed=3)
        data.to_csv(csv, index_label="id")
        truth["items"].to_csv(folder / "truth_items.csv")
    truth = pd.read_csv(folder / "truth_items.csv", index_col=0)
    rows = []
    for mode in args.modes:
        out = folder / f"out_{mode}"
        command = ["latentvi", "fit", str(csv), "--id-column", "id", "--out", str(out),
                   "--force", "--quiet"] + (["--stream"] if mode == "stream" else [])
        start = time.perf_counter()
        # a wrapper process per command, so that its children's peak is this command's alone
        done = subprocess.run([sys.executable, "-c", _PEAK_OF_CHILD, *command],
                              capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(done.stderr)
        items = pd.read_csv(out / "items.csv", index_col=0).loc[truth.index]
        rows.append({"mode": mode, "seconds": seconds,
                     "peak_rss_gb": float(done.stdout.strip().splitlines()[-1]),
                     "slope_rmse": float(np.sqrt(np.mean((items["a1"] - truth["a1"]) ** 2))),
                     "files": sorted(path.name for path in out.iterdir())})
        print(rows[-1], flush=True)
    return rows


_PEAK_OF_CHILD = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], check=False)
if done.returncode:
    sys.exit(done.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2)
"""


def memory(args):
    """The in-memory fit at 20,000 and 200,000 persons: what it holds beyond the data read."""
    rows = [_in_child("_memory_child", args.folder, ["--persons", str(n)])
            for n in (20_000, 200_000)]
    small, large = rows
    # What grows with the persons: the difference between the two fits, per 200,000 persons.
    per_200k = ((large["fit_peak_above_start_gb"] - small["fit_peak_above_start_gb"])
                * 200_000 / (large["persons"] - small["persons"]))
    summary = {"fit_growth_per_200k_gb": per_200k,
               "growth_in_int8_matrices": per_200k / large["int8_matrix_gb"],
               "fit_peak_in_int8_matrices": (large["fit_peak_above_start_gb"]
                                             / large["int8_matrix_gb"])}
    print(f"{'persons':>8} {'int8 MB':>8} {'read MB':>8} {'fit peak above read MB':>23} "
          f"{'fit s':>6}")
    for row in rows:
        print(f"{row['persons']:>8,} {row['int8_matrix_gb'] * 1024:>8.0f} "
              f"{row['read_gb'] * 1024:>8.0f} {row['fit_peak_above_start_gb'] * 1024:>23.0f} "
              f"{row['fit_s']:>6.1f}")
    print(f"growth with the persons: {per_200k * 1024:.0f} MB per 200,000 "
          f"({summary['growth_in_int8_matrices']:.2f} x the int8 matrix)")
    return {"runs": rows, **summary}


class _PeakSampler:
    """The largest resident memory seen (sampled every 2 ms) since `reset`."""

    def __init__(self):
        import threading
        self.peak, self._running = self.now(), True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def now():
        with open("/proc/self/statm") as stream:
            return int(stream.read().split()[1]) * resource.getpagesize() / 1024**3

    def _run(self):
        while self._running:
            self.peak = max(self.peak, self.now())
            time.sleep(0.002)

    def reset(self):
        self.peak = self.now()
        return self.peak

    def stop(self):
        self._running = False
        self._thread.join()
        return self.peak


def _memory_child(args):
    folder = pathlib.Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    import gc

    import tensorflow as tf

    from latentvi import irt
    csv = folder / "data_200k.csv"
    if not csv.exists():
        data, _ = irt.simulate(200_000, 200, 10, factor_corr=0.3, seed=1)
        data.to_csv(csv, index=False)
        del data
    tf.constant(1.0) + 1  # TensorFlow's runtime starts before the measurement
    sampler = _PeakSampler()
    imported = sampler.reset()
    data = pd.read_csv(csv, dtype=np.int8, nrows=args.persons)
    gc.collect()
    start_rss = sampler.reset()
    start = time.perf_counter()
    irt.ItemFactorModel(n_factors=10, seed=0).fit(data, verbose=0)
    seconds = time.perf_counter() - start
    peak = sampler.stop()
    print(json.dumps({"persons": len(data), "items": 200, "factors": 10,
                      "int8_matrix_gb": data.shape[0] * data.shape[1] / 1024**3,
                      "read_gb": start_rss - imported, "fit_peak_above_start_gb": peak - start_rss,
                      "process_peak_gb": peak_rss_gb(), "fit_s": seconds}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["write", "fit", "cli", "memory", "_fit_child",
                                            "_memory_child"])
    parser.add_argument("--folder", default="/tmp/latentvi_shards")
    parser.add_argument("--persons", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["memory", "stream"])
    args = parser.parse_args()
    if args.command.startswith("_"):
        return {"_fit_child": _fit_child, "_memory_child": _memory_child}[args.command](args)
    result = {"write": write, "fit": fit, "cli": cli, "memory": memory}[args.command](args)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"irt_streaming_{args.command}.json"
    path.write_text(json.dumps({"machine": "2-core VM, no GPU", "result": result}, indent=2,
                               default=str) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
