"""Exploratory item factor analysis with many factors: does the fit reach its optimum?

Data: `designs.cross_loading_design` (D factors correlated 0.3, J / D items per factor with
slopes U(0.8, 2), 10 items with one cross-loading U(0.3, 0.6), intercepts N(0, 1)), drawn with
NumPy, not with the package's simulator. Per cell (n persons, J items, D factors):

- latentvi exploratory: `ItemFactorModel(n_factors=D)` with its defaults (convergence rule);
- latentvi confirmatory: the same data with the true pattern (cross-loadings included): the
  model the exploratory one contains, so the exploratory log-likelihood must not fall below it
  by more than the Monte Carlo error;
- latentvi confirmatory with the fixed schedule the package used before its convergence rule
  (`epochs=` max(3, ceil(1,500 / steps per epoch)), a cosine decay over about 1,500 steps): the
  reference for "the rule must not make confirmatory fits more than 20% slower";
- DeepIRTools exploratory (`IWAVE(model_type='grm', latent_size=D)`, its defaults).

Reported: fit seconds, steps, `converged_`, slope RMSE after an oblique Procrustes rotation to the
true slopes (`irt.rotate(method='target')`, the rotation most favourable to each estimator),
factor-correlation RMSE after it, and for latentvi the log-likelihood of the first 5,000 persons
(importance sampling, 2,000 draws each) with its Monte Carlo SE, exploratory minus confirmatory.

Every fit runs in a fresh Python process. Usage:
    python benchmarks/irt_exploratory.py                 # 20k x 100 x 5 and 200k x 200 x 10
    python benchmarks/irt_exploratory.py --cells 20000,100,5 --fits latentvi_efa latentvi_cfa \
        --seeds 1 2 3
Writes benchmarks/results/irt_exploratory.json and .md (incrementally; done cells are skipped).
"""

import argparse
import contextlib
import io
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import time
import warnings

import numpy as np
from designs import cross_loading_design

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
FITS = ("latentvi_efa", "latentvi_cfa", "latentvi_cfafixed", "deepirtools_efa")
LOGLIK_PERSONS, LOGLIK_DRAWS = 5000, 2000


def old_default_epochs(n_persons):
    """The epochs of the fixed schedule before the convergence rule (about 1,500 steps)."""
    from latentvi.irt.training import schedule
    steps_per_epoch = math.ceil(n_persons / schedule(n_persons, 1).batch_size)
    return max(3, math.ceil(1500 / steps_per_epoch))


def fit_latentvi(data, truth, n_factors, seed, exploratory, fixed=False):
    from latentvi import irt
    start = time.perf_counter()
    model = irt.ItemFactorModel(n_factors=n_factors, seed=seed, rotation=None,
                                pattern=None if exploratory else truth["pattern"])
    epochs = old_default_epochs(len(data)) if fixed else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", irt.ConvergenceWarning)
        model.fit(data, verbose=0, epochs=epochs)
    seconds = time.perf_counter() - start
    loglik, loglik_se = log_likelihood(model, data.iloc[:LOGLIK_PERSONS])
    steps = (len(model.history_) * model.settings_["check_steps"] if epochs is None else
             epochs * math.ceil(len(data) / model.settings_["batch_size"]))
    return {"fit_seconds": seconds, "converged": model.converged_, "warned": len(caught) > 0,
            "steps": int(steps),
            "slopes": model.items_[[f"a{d + 1}" for d in range(n_factors)]].to_numpy(),
            "factor_corr": model.factor_corr_.to_numpy(), "loglik": loglik,
            "loglik_se": loglik_se}


def log_likelihood(model, data):
    """sum_i log p(x_i) and its Monte Carlo SE: two independent halves of the draws give each
    person's estimate twice; with d_i their difference, SE(sum of the means) = sqrt(sum d_i^2)/2.
    """
    from latentvi.irt import adaptive_sampling
    responses = model._encode(data)
    halves = np.asarray([adaptive_sampling.log_likelihood(model.model_, responses.codes, responses.mask,
                                                num_samples=LOGLIK_DRAWS // 2, seed=seed)[0]
                         for seed in (11, 12)])
    return float(halves.mean(axis=0).sum()), float(np.sqrt(np.sum(np.diff(halves, axis=0)**2))
                                                   / 2)


def fit_deepirtools(data, truth, n_factors, seed, exploratory=True):
    import deepirtools
    import torch
    deepirtools.manual_seed(seed)
    responses = torch.tensor(data.to_numpy(), dtype=torch.float32)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = deepirtools.IWAVE(model_type="grm", latent_size=n_factors,
                                  n_cats=[2] * responses.shape[1], verbose=False)
        model.fit(responses, batch_size=32, iw_samples=5)
    return {"fit_seconds": time.perf_counter() - start, "steps": int(model.global_iter),
            "slopes": model.loadings.numpy(), "factor_corr": np.eye(n_factors)}


def procrustes_accuracy(slopes, factor_corr, truth):
    """Slope and factor-correlation RMSE after the oblique rotation closest to the truth."""
    from latentvi.irt.rotation import rotate
    # Unrotated slopes of factors with correlation Phi = C C^T become slopes of orthogonal
    # factors A C, which any oblique rotation may then turn.
    orthogonal = slopes @ np.linalg.cholesky(factor_corr)
    found = rotate(orthogonal, method="target", normalize=False,
                   target_loadings=truth["slopes"])
    upper = np.triu_indices(slopes.shape[1], 1)
    return {"slope_rmse": float(np.sqrt(np.mean((found.loadings - truth["slopes"]) ** 2))),
            "factor_corr_rmse": float(np.sqrt(np.mean(
                (found.factor_corr[upper] - truth["factor_corr"][upper]) ** 2)))}


def one_fit(fit, n_persons, n_items, n_factors, seed):
    """The record of one fit in this process (what `--one` prints)."""
    load_average = os.getloadavg()[0]
    data, truth = cross_loading_design(n_persons, n_items, n_factors, seed=seed)
    library, kind = fit.split("_")
    if library == "latentvi":
        result = fit_latentvi(data, truth, n_factors, seed, exploratory=(kind == "efa"),
                              fixed=kind.endswith("fixed"))
    else:
        result = fit_deepirtools(data, truth, n_factors, seed)
    record = {"fit": fit, "n_persons": n_persons, "n_items": n_items, "n_factors": n_factors,
              "seed": seed, "load_average": round(load_average, 2),
              "fit_seconds": round(result["fit_seconds"], 2), "steps": result["steps"]}
    record.update({k: result[k] for k in ("converged", "warned", "loglik", "loglik_se")
                   if k in result})
    record.update({k: round(v, 4) for k, v in procrustes_accuracy(
        result["slopes"], result["factor_corr"], truth).items()})
    return record


def run_fit(fit, cell, seed):
    command = [sys.executable, __file__, "--one", fit, *map(str, cell), str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{fit} {cell} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(records):
    by = {(r["n_persons"], r["n_items"], r["n_factors"], r["seed"], r["fit"]): r
          for r in records}
    cells = sorted({key[:4] for key in by})
    lines = [("| persons | items | factors | seed | fit | seconds | steps | converged | slope RMSE | "
              "factor corr RMSE | loglik (5,000 persons) +- MC SE | minus latentvi_cfa's loglik |"),
             "|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|"]
    for cell in cells:
        cfa = by.get(cell + ("latentvi_cfa",))
        for fit in FITS:
            r = by.get(cell + (fit,))
            if r is None:
                continue
            loglik = (f"{r['loglik']:,.1f} +- {r['loglik_se']:.1f}" if "loglik" in r else "-")
            gap = "-"
            if fit in ("latentvi_efa", "latentvi_cfafixed") and cfa is not None:
                se = np.hypot(r["loglik_se"], cfa["loglik_se"])
                gap = f"{r['loglik'] - cfa['loglik']:+,.1f} +- {se:.1f}"
            lines.append(f"| {cell[0]:,} | {cell[1]} | {cell[2]} | {cell[3]} | {fit} | "
                         f"{r['fit_seconds']} | "
                         f"{r['steps']:,} | {r.get('converged', '-')} | {r['slope_rmse']:.3f} | "
                         f"{r['factor_corr_rmse']:.3f} | {loglik} | {gap} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", nargs="+", default=["20000,100,5", "200000,200,10"],
                        help="persons,items,factors")
    parser.add_argument("--fits", nargs="+", choices=FITS, default=list(FITS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        fit, *numbers = args.one
        print(json.dumps(one_fit(fit, *map(int, numbers))))
        return 0
    RESULTS.mkdir(exist_ok=True)
    json_path, md_path = RESULTS / "irt_exploratory.json", RESULTS / "irt_exploratory.md"
    results = (json.loads(json_path.read_text()) if json_path.exists() else
               {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
                "records": []})
    for text in args.cells:
        cell = tuple(int(v) for v in text.split(","))
        for seed in args.seeds:
            for fit in args.fits:
                if any((r["fit"], r["n_persons"], r["n_items"], r["n_factors"], r["seed"])
                       == (fit, *cell, seed) for r in results["records"]):
                    continue
                print(f"{fit} {cell} seed {seed} ...", flush=True)
                record = run_fit(fit, cell, seed)
                print("  ", record, flush=True)
                results["records"].append(record)
                json_path.write_text(json.dumps(results, indent=1))
                md_path.write_text("# Exploratory item factor analysis "
                                   "(benchmarks/irt_exploratory.py)\n\n"
                                   f"Machine: {results['machine']}\n\n"
                                   + markdown(results["records"]) + "\n")
    print(markdown(results["records"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
