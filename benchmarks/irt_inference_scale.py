"""What a fit costs afterwards at scale: standard errors, scores, item and person fit on the
100,000 persons x 100 items x 5 factors cell of benchmarks/irt.py, and whether the standard
errors there match the spread of the estimates across replications.

One set of true items is drawn once (`irt.simulate`, 100 binary items, simple structure, factor
correlations 0.3, seed 0); each replication draws 100,000 new persons from it (seed r) and fits
the confirmatory model (`ItemFactorModel(5, pattern=truth pattern)`, defaults).

- `timing` (replication 1): wall time and the process's peak RSS after each step: fit,
  `standard_errors` (observed information by importance sampling, Louis' identity: five
  factors are beyond quadrature), `score` (EAP by importance sampling), `item_fit` (S-X2, Zh,
  infit, outfit), `fit_statistics` (M2), `residuals` (local dependence X2), `person_fit`,
  and `log_likelihood`.
- `replications`: R fits and their default SEs; per parameter kind, the pooled ratio
  sqrt(mean over parameters and replications of SE^2) / sqrt(mean over parameters of the
  variance of the estimates across replications), and the coverage of the 95% intervals. With
  R replications one parameter's variance has R - 1 degrees of freedom, the pooled one over
  100 slopes about 100 (R - 1): at R = 6 the ratio is precise to about 3%.
  `--refine` fits with `refine=True` (Newton steps from sampled information).

Usage:
    python benchmarks/irt_inference_scale.py timing
    python benchmarks/irt_inference_scale.py replications --replications 10
"""

import argparse
import json
import os
import pathlib
import platform
import resource
import sys
import time
import warnings

import numpy as np
from irt_coverage import flatten  # the same flat {name: value} view of a fit

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
N_PERSONS, N_ITEMS, N_FACTORS, FACTOR_CORR = 100_000, 100, 5, 0.3
Z95 = 1.959964


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def draw(seed, n_persons):
    from latentvi import irt
    _, truth = irt.simulate(10, N_ITEMS, N_FACTORS, factor_corr=FACTOR_CORR, seed=0)
    data, _ = irt.simulate(n_persons, parameters=truth["parameters"], factor_corr=FACTOR_CORR,
                           seed=seed)
    return data, truth


def fit(data, truth, seed, refine="auto"):
    from latentvi import irt
    return irt.ItemFactorModel(N_FACTORS, pattern=truth["pattern"], seed=seed,
                               refine=refine).fit(data, verbose=0)


def timing(n_persons):
    data, truth = draw(1, n_persons)
    steps = {}

    def timed(name, function):
        start = time.perf_counter()
        out = function()
        steps[name] = {"seconds": round(time.perf_counter() - start, 1),
                       "peak_rss_gb": round(peak_rss_gb(), 2)}
        print(f"{name}: {steps[name]}", file=sys.stderr, flush=True)
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = timed("fit", lambda: fit(data, truth, 1))
        se = timed("standard_errors", lambda: model.standard_errors(data))
        timed("score", lambda: model.score(data))
        timed("item_fit (S-X2, Zh, infit)", lambda: model.item_fit(data))
        timed("fit_statistics (M2)", lambda: model.fit_statistics(data))
        timed("residuals (LD)", lambda: model.residuals(data))
        timed("person_fit", lambda: model.person_fit(data))
        timed("log_likelihood", lambda: model.log_likelihood(data))
    steps["standard_errors"]["mc_error"] = round(se.mc_error, 4)
    return steps


def replications(n_persons, count, path, refine="auto"):
    results = json.loads(path.read_text()) if path.exists() else {}
    runs = results.setdefault("runs", [])
    done = {run["seed"] for run in runs}
    for seed in range(1, count + 1):
        if seed in done:
            continue
        data, truth = draw(seed, n_persons)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model = fit(data, truth, seed, refine)
            fitted = time.perf_counter()
            se = model.standard_errors(data)
            finished = time.perf_counter()
        runs.append({"seed": seed, "estimates": flatten(model.items_, model.factor_corr_),
                     "se": flatten(se.items, se.factor_corr), "mc_error": se.mc_error,
                     "fit_s": fitted - start, "se_s": finished - fitted})
        results["summary"] = summarize(runs, truth)
        path.write_text(json.dumps(results, indent=1))
        print(f"replication {seed}: {results['summary']}", file=sys.stderr, flush=True)
    return results


def summarize(runs, truth):
    target = flatten(truth["items"], truth["factor_corr"])
    kinds = {}
    for key, value in target.items():
        kind = ("factor correlation" if "~" in key else
                "slope" if key.split(":")[1].startswith("a") else "intercept")
        estimates = np.array([run["estimates"][key] for run in runs])
        errors = np.array([run["se"][key] for run in runs])
        entry = kinds.setdefault(kind, {"se2": [], "var": [], "covered": []})
        entry["covered"].extend((np.abs(estimates - value) <= Z95 * errors).tolist())
        entry["se2"].append(float(np.mean(errors ** 2)))
        if len(runs) > 1:
            entry["var"].append(float(np.var(estimates, ddof=1)))
    # pooled over the parameters of a kind: sqrt(mean SE^2) / sqrt(mean variance across
    # replications); a mean of per-parameter ratios would be biased up by 1 / SD at small R
    return {kind: {"se_over_sd": float(np.sqrt(np.mean(e["se2"]) / np.mean(e["var"])))
                   if e["var"] else None,
                   "coverage": float(np.mean(e["covered"])), "n_parameters": len(e["se2"]),
                   "replications": len(runs)}
            for kind, e in kinds.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["timing", "replications"])
    parser.add_argument("--persons", type=int, default=N_PERSONS)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--refine", action="store_true",
                        help="fit with refine=True (Newton steps from sampled information)")
    args = parser.parse_args(argv)
    suffix = "_refined" if args.refine else ""
    path = RESULTS / f"irt_inference_scale_{args.what}{suffix}.json"
    if args.what == "timing":
        result = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
                  "n_persons": args.persons, "steps": timing(args.persons)}
        path.write_text(json.dumps(result, indent=1))
        print("| step | seconds | peak RSS (GB) |\n|---|---|---|")
        for name, step in result["steps"].items():
            print(f"| {name} | {step['seconds']} | {step['peak_rss_gb']} |")
    else:
        result = replications(args.persons, args.replications, path,
                              True if args.refine else "auto")
        print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
