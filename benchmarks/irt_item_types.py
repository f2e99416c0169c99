"""Fit time of each item type on the same design: 10,000 persons x 50 items x 1 factor.

Each type's items are simulated from `irt.ItemParameters.from_arrays` (slopes U(0.8, 2); 2PL and
3PL intercepts N(0, 1), 3PL guessing U(0.1, 0.25); graded, gpcm and nominal with 4 categories)
and fitted with a fixed schedule of 38 epochs (1,520 steps, the 2PL default's budget before the
convergence rule), so that the seconds compare the cost per step of the types, not how long
each takes to converge. Every fit runs in a fresh Python process; --repeats R reports the
median of R runs. Target of the item-type issue: a 3PL fit within 2x of the 2PL fit.

Usage:  python benchmarks/irt_item_types.py [--repeats 3]
Writes benchmarks/results/irt_item_types.json and .md.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import numpy as np

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
TYPES = ("2PL", "3PL", "graded", "gpcm", "nominal")
N_PERSONS, N_ITEMS, EPOCHS = 10_000, 50, 38


def design(item_type, seed=0):
    """ItemParameters of N_ITEMS items of `item_type`."""
    from latentvi import irt
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.8, 2.0, N_ITEMS)
    if item_type in ("2PL", "3PL"):
        g = rng.uniform(0.1, 0.25, N_ITEMS) if item_type == "3PL" else None
        return irt.ItemParameters.from_arrays(a, rng.normal(size=N_ITEMS), item_type, g=g)
    steps = -np.sort(rng.normal(scale=1.2, size=(N_ITEMS, 3)), axis=1)
    if item_type == "graded":
        return irt.ItemParameters.from_arrays(a, steps, "graded")
    values = [{f"d{k + 1}": float(v) for k, v in enumerate(np.cumsum(row))} for row in steps]
    if item_type == "nominal":
        values = [{"ak0": 0.0, "ak1": 0.8, "ak2": 2.2, "ak3": 3.0, "d0": 0.0, **row}
                  for row in values]
    names = [f"item{j + 1}" for j in range(N_ITEMS)]
    return irt.ItemParameters(names, [item_type] * N_ITEMS, [4] * N_ITEMS, a[:, None], values)


def one_fit(item_type):
    from latentvi import irt
    data, _ = irt.simulate(N_PERSONS, parameters=design(item_type), seed=1)
    model = irt.ItemFactorModel(1, item_type=item_type, seed=1)
    start = time.perf_counter()
    model.fit(data, epochs=EPOCHS, verbose=0)
    return {"item_type": item_type, "fit_seconds": round(time.perf_counter() - start, 2),
            "steps": EPOCHS * int(np.ceil(N_PERSONS / model.settings_["batch_size"]))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_fit(args.one)))
        return 0
    rows = []
    for item_type in TYPES:
        runs = [json.loads(subprocess.run([sys.executable, __file__, "--one", item_type],
                                          capture_output=True, text=True, check=True)
                           .stdout.strip().splitlines()[-1]) for _ in range(args.repeats)]
        seconds = float(np.median([run["fit_seconds"] for run in runs]))
        rows.append({"item_type": item_type, "fit_seconds": seconds, "steps": runs[0]["steps"],
                     "runs": [run["fit_seconds"] for run in runs]})
        print(rows[-1], flush=True)
    base = rows[0]["fit_seconds"]
    lines = ["| item type | seconds (median) | steps | relative to 2PL |", "|---|---:|---:|---:|"]
    lines += [f"| {r['item_type']} | {r['fit_seconds']:.2f} | {r['steps']:,} | "
              f"{r['fit_seconds'] / base:.2f} |" for r in rows]
    machine = {"platform": platform.platform(), "cpu_count": os.cpu_count()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "irt_item_types.json").write_text(json.dumps({"machine": machine, "rows": rows},
                                                            indent=1))
    (RESULTS / "irt_item_types.md").write_text(
        f"# Fit time by item type (benchmarks/irt_item_types.py)\n\nMachine: {machine}; "
        f"{N_PERSONS:,} persons x {N_ITEMS} items x 1 factor, {EPOCHS} epochs\n\n"
        + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
