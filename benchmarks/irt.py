"""Item factor analysis benchmark: latentvi vs DeepIRTools on the same simulated data.

For each cell (persons n, factors D) one binary data set is simulated with
`latentvi.irt.simulate` (20 items when D = 1, 100 items when D > 1; slopes U[0.8, 2], intercepts
U[-1.5, 1.5], factor correlations 0.3, simple structure) and fitted by

- latentvi: `irt.ItemFactorModel` with its defaults (IWAE with DReG; k, batch size and epochs
  chosen from the data size: k = 1,000 / J clipped to 5..50, batches of n / 8 within 32..256,
  about 1,500 steps; see latentvi/irt/training.py);
- DeepIRTools: `deepirtools.IWAVE(model_type='grm', n_cats=[2]*J)` with its documented defaults
  (learning rate 1e-3, batch size 32, iw_samples 5, DReG, its own convergence check: stop when
  the 100-step running loss has not improved for 100 checks).

Both fit the same model: for D > 1 the comparison is confirmatory (the simulated simple-structure
pattern is given to latentvi as `pattern` and to DeepIRTools as its Q matrix, with correlated
factors in both), so the parameters are identified and no rotation or factor matching can favour
either side. Reported per library: fit wall time (model construction + fit), scoring time, RMSE
of the free slopes and of the intercepts against the truth, the mean correlation between
estimated and true traits, and the RMSE of the factor correlations (D > 1). latentvi scores are
its EAP by importance sampling (`score`); DeepIRTools scores are its encoder means
(`scores(iw_samples=1)`; its resampling estimator with iw_samples > 1 returns one posterior draw,
which is noisier).

Every fit runs in a fresh Python process, so that neither library's threads, caches or traced
functions carry over into the other's cells. With --repeats R each cell is timed R times (fresh
processes again) and the median is reported; the fits are deterministic given the seed, so the
accuracy columns come from the first run.

The run is incremental: each finished (n, D, library) cell is written to the JSON at once, and
cells already there are skipped, so a long grid can be resumed.

Usage (DeepIRTools needs PyTorch: see benchmarks/README or docs/psychometrics.md):
    python benchmarks/irt.py                       # full grid, both libraries
    python benchmarks/irt.py --sizes 1000 10000 --factors 1 5
    python benchmarks/irt.py --quick               # 1,000 persons, D = 1, to irt_quick.json
    python benchmarks/irt.py --libraries latentvi --repeats 3
"""

import argparse
import contextlib
import io
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
import warnings

import numpy as np

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
LIBRARIES = ("latentvi", "deepirtools")
FACTOR_CORR = 0.3


def n_items_for(n_factors):
    return 20 if n_factors == 1 else 100


def simulate_cell(n_persons, n_factors, seed):
    from latentvi import irt
    return irt.simulate(n_persons, n_items_for(n_factors), n_factors, item_type="binary",
                        factor_corr=FACTOR_CORR if n_factors > 1 else 0.0, seed=seed)


def fit_latentvi(data, truth, n_factors, seed, score=True):
    from latentvi import irt
    pattern = truth["pattern"] if n_factors > 1 else None
    start = time.perf_counter()
    model = irt.ItemFactorModel(n_factors=n_factors, pattern=pattern, seed=seed)
    model.fit(data, verbose=0)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = model.score(data) if score else None
    score_seconds = time.perf_counter() - start
    slopes = model.items_[[f"a{d + 1}" for d in range(n_factors)]].to_numpy()
    return {"fit_seconds": fit_seconds, "score_seconds": score_seconds, "slopes": slopes,
            "intercepts": model.items_["d"].to_numpy(),
            "scores": None if scores is None else scores.iloc[:, :n_factors].to_numpy(),
            "factor_corr": model.factor_corr_.to_numpy(),
            "epochs": len(model.history_), "iw_samples": model.iw_samples_}


def fit_deepirtools(data, truth, n_factors, seed, score=True):
    import deepirtools
    import torch
    deepirtools.manual_seed(seed)
    responses = torch.tensor(data.to_numpy(), dtype=torch.float32)
    n_items = responses.shape[1]
    options = {}
    if n_factors > 1:
        options = {"Q": torch.tensor(truth["pattern"].to_numpy(), dtype=torch.float32),
                   "correlated_factors": list(range(n_factors))}
    start = time.perf_counter()
    # Its progress lines go to stdout whatever `verbose` says.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = deepirtools.IWAVE(model_type="grm", latent_size=n_factors,
                                  n_cats=[2] * n_items, verbose=False, **options)
        model.fit(responses, batch_size=32, iw_samples=5)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        scores = model.scores(responses, iw_samples=1).numpy() if score else None
    score_seconds = time.perf_counter() - start
    cov = model.cov.numpy() if n_factors > 1 else np.eye(1)
    return {"fit_seconds": fit_seconds, "score_seconds": score_seconds,
            "slopes": model.loadings.numpy(), "intercepts": model.intercepts.numpy().ravel(),
            "scores": scores, "factor_corr": cov, "iterations": int(model.global_iter)}


def marginal_ml_2pl(data, n_nodes=61):
    """The exact marginal maximum-likelihood 2PL (one factor): slopes and intercepts maximizing
    the Gauss-Hermite-integrated likelihood (what mirt computes), by L-BFGS with the analytic
    gradient. The benchmark's yardstick for the two approximate estimators at D = 1."""
    from numpy.polynomial.hermite_e import hermegauss
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit, logsumexp
    nodes, weights = hermegauss(n_nodes)
    log_prior = np.log(weights / weights.sum())
    x = data.to_numpy(float)
    n_items = x.shape[1]

    def negative_loglik(params):
        slopes, intercepts = params[:n_items], params[n_items:]
        eta = nodes[:, None] * slopes + intercepts  # [Q, J]
        log_joint = x @ log_expit(eta).T + (1 - x) @ log_expit(-eta).T + log_prior  # [n, Q]
        log_marginal = logsumexp(log_joint, axis=1)
        posterior = np.exp(log_joint - log_marginal[:, None])
        d_eta = posterior.T @ x - posterior.sum(axis=0)[:, None] * expit(eta)  # [Q, J]
        return -log_marginal.sum(), -np.concatenate([nodes @ d_eta, d_eta.sum(axis=0)])

    start = np.concatenate([np.ones(n_items), np.zeros(n_items)])
    found = minimize(negative_loglik, start, jac=True, method="L-BFGS-B",
                     options={"maxiter": 1000, "gtol": 1e-6})
    return found.x[:n_items], found.x[n_items:]


def distance_to_ml(result, data):
    """RMS differences of the slopes and intercepts from the exact ML estimate (D = 1)."""
    slopes, intercepts = marginal_ml_2pl(data)
    sign = -1.0 if result["slopes"].sum() < 0 else 1.0
    return {"slope_rms_vs_ml": float(np.sqrt(np.mean(
                (sign * result["slopes"].ravel() - slopes) ** 2))),
            "intercept_rms_vs_ml": float(np.sqrt(np.mean(
                (result["intercepts"] - intercepts) ** 2)))}


def accuracy(result, truth, n_factors):
    """RMSEs and trait correlations after flipping factors whose slopes sum negative."""
    signs = np.where(result["slopes"].sum(axis=0) < 0, -1.0, 1.0)
    slopes = result["slopes"] * signs
    corr = result["factor_corr"] * np.outer(signs, signs)
    scores = result["scores"] * signs
    true_slopes = truth["items"][[f"a{d + 1}" for d in range(n_factors)]].to_numpy()
    free = truth["pattern"].to_numpy().astype(bool)
    theta = truth["theta"].to_numpy()
    metrics = {
        "slope_rmse": float(np.sqrt(np.mean((slopes[free] - true_slopes[free]) ** 2))),
        "intercept_rmse": float(np.sqrt(np.mean(
            (result["intercepts"] - truth["items"]["d"].to_numpy()) ** 2))),
        "score_corr": float(np.mean([np.corrcoef(scores[:, d], theta[:, d])[0, 1]
                                     for d in range(n_factors)])),
    }
    if n_factors > 1:
        upper = np.triu_indices(n_factors, 1)
        metrics["factor_corr_rmse"] = float(np.sqrt(np.mean(
            (corr[upper] - truth["factor_corr"].to_numpy()[upper]) ** 2)))
    return metrics


def run_cell(library, n_persons, n_factors, seed, repeats=1):
    """One cell, each run in a fresh Python process; fit_seconds is the median of `repeats`
    runs (the fits are deterministic given the seed, so accuracy comes from the first)."""
    records = [_subprocess_cell(library, n_persons, n_factors, seed, score=(r == 0))
               for r in range(repeats)]
    record = records[0]
    if repeats > 1:
        record["fit_seconds_runs"] = [r["fit_seconds"] for r in records]
        record["fit_seconds"] = float(np.median(record["fit_seconds_runs"]))
    return record


def _subprocess_cell(library, n_persons, n_factors, seed, score):
    command = [sys.executable, __file__, "--one", library, str(n_persons), str(n_factors),
               str(seed)] + ([] if score else ["--time-only"])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{library} cell ({n_persons}, {n_factors}) failed:\n"
                           f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_cell(library, n_persons, n_factors, seed, score=True):
    """The record of one fit in this process (what `--one` prints)."""
    load_average = os.getloadavg()[0]
    data, truth = simulate_cell(n_persons, n_factors, seed)
    fitter = fit_latentvi if library == "latentvi" else fit_deepirtools
    result = fitter(data, truth, n_factors, seed, score=score)
    record = {"library": library, "n_persons": n_persons, "n_factors": n_factors,
              "n_items": n_items_for(n_factors), "seed": seed,
              "fit_seconds": round(result["fit_seconds"], 2),
              "score_seconds": round(result["score_seconds"], 2),
              "load_average": round(load_average, 2)}
    record.update({k: result[k] for k in ("epochs", "iterations", "iw_samples") if k in result})
    if score:
        record.update({k: round(v, 4) for k, v in accuracy(result, truth, n_factors).items()})
        if n_factors == 1:
            record.update({k: round(v, 4) for k, v in distance_to_ml(result, data).items()})
    return record


def load(path):
    if path.exists():
        return json.loads(path.read_text())
    return {"machine": machine(), "cells": []}


def machine():
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "note": "cells run one after another, each fit in a fresh Python process, with no "
                    "other work on the machine; each cell records the 1-minute load average "
                    "when it started"}


def versions():
    found = {}
    for name in ("latentvi", "tensorflow", "deepirtools", "torch"):
        with contextlib.suppress(Exception):
            from importlib import metadata
            found[name] = metadata.version(name)
    return found


def markdown(results):
    """One row per (n, D): both libraries side by side and the speed ratio."""
    cells = {(c["n_persons"], c["n_factors"], c["library"]): c for c in results["cells"]}
    keys = sorted({(n, d) for n, d, _ in cells})
    lines = [
        ("| persons | factors | items | latentvi fit s | DeepIRTools fit s | speed-up | "
         "slope RMSE (lv / DIT) | intercept RMSE (lv / DIT) | score r (lv / DIT) | "
         "factor corr RMSE (lv / DIT) | slopes, intercepts: RMS from exact ML (lv / DIT) |"),
        "|---:|---:|---:|---:|---:|---:|---|---|---|---|---|"]
    for n, d in keys:
        ours, theirs = cells.get((n, d, "latentvi")), cells.get((n, d, "deepirtools"))

        def pair(key, ours=ours, theirs=theirs):
            def one(cell):
                return "-" if cell is None or key not in cell else f"{cell[key]:.3f}"
            return f"{one(ours)} / {one(theirs)}"

        ratio = (f"{theirs['fit_seconds'] / ours['fit_seconds']:.1f}x"
                 if ours and theirs else "-")
        to_ml = (f"{pair('slope_rms_vs_ml')}, {pair('intercept_rms_vs_ml')}" if d == 1 else "-")
        lines.append(
            f"| {n:,} | {d} | {n_items_for(d)} | {ours['fit_seconds'] if ours else '-'} | "
            f"{theirs['fit_seconds'] if theirs else '-'} | {ratio} | {pair('slope_rmse')} | "
            f"{pair('intercept_rmse')} | {pair('score_corr')} | "
            f"{pair('factor_corr_rmse') if d > 1 else '-'} | {to_ml} |")
    return "\n".join(lines)


def report(results):
    """irt.md: what was run, on what, and the table."""
    info = results.get("machine", {})
    found = ", ".join(f"{k} {v}" for k, v in results.get("versions", {}).items())
    return (
        "# Item factor analysis: latentvi vs DeepIRTools\n\n"
        "Same simulated binary data for both (`benchmarks/irt.py`; 20 items when D = 1, 100 "
        "when D > 1; confirmatory simple structure with factor correlations 0.3 for D > 1). "
        "Fit seconds include model construction; speed-up = DeepIRTools time / latentvi time. "
        "Each library runs with its own defaults (DeepIRTools: batch 32, lr 1e-3, iw_samples 5, "
        "its convergence check; latentvi: ItemFactorModel defaults, which choose k = iw_samples "
        "in 5..50, batch size and epochs from the data size). Every fit runs in a fresh Python "
        "process; with --repeats the latentvi time is the median of the runs "
        "(`fit_seconds_runs` in the JSON). Fit times of one cell vary from run to run on a "
        "shared 2-core virtual machine, by up to 2x for a 10-second fit; accuracy is "
        "deterministic given the seed. At D = 1 the exact marginal ML estimate (Gauss-Hermite "
        "quadrature, what mirt computes) is the yardstick both estimators approximate: the last "
        "column is each one's RMS distance from it.\n\n"
        f"Machine: {info.get('platform', '?')}, {info.get('cpu_count', '?')} CPUs, "
        f"{info.get('note', '')}. Versions: {found}.\n\n" + markdown(results) + "\n")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="1,000 persons and one factor, written to irt_quick.json")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each cell this many times (fresh processes); report the median")
    parser.add_argument("--one", nargs=4, metavar=("LIBRARY", "PERSONS", "FACTORS", "SEED"),
                        help=argparse.SUPPRESS)  # one fit in this process; prints its record
    parser.add_argument("--time-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.one:
        library, n_persons, n_factors, seed = args.one
        print(json.dumps(one_cell(library, int(n_persons), int(n_factors), int(seed),
                                  score=not args.time_only)))
        return 0
    if args.quick:
        args.sizes, args.factors = [1000], [1]
    stem = "irt_quick" if args.quick else "irt"
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.out / f"{stem}.json", args.out / f"{stem}.md"
    results = load(json_path)
    done = {(c["library"], c["n_persons"], c["n_factors"]) for c in results["cells"]}
    for n_factors in args.factors:
        for n_persons in args.sizes:
            for library in args.libraries:
                if (library, n_persons, n_factors) in done:
                    continue
                print(f"{library}: {n_persons:,} persons, {n_factors} factor(s) ...", flush=True)
                record = run_cell(library, n_persons, n_factors, args.seed + n_factors,
                                  args.repeats)
                print("  ", record, flush=True)
                # Re-read first: another run may have added cells meanwhile.
                results = load(json_path)
                results["cells"].append(record)
                results["versions"] = versions()
                json_path.write_text(json.dumps(results, indent=1))
                md_path.write_text(report(results))
    md_path.write_text(report(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
