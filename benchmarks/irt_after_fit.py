"""Do scoring and the log-likelihood cost at most the fit, at every cell of benchmarks/irt.py?

The issue's goal: after fitting, `score` (EAP) and `log_likelihood` together take at most the
fit's time, on every cell of the benchmarks/irt.py grid (1,000 / 10,000 / 100,000 persons x
1 / 5 / 10 factors; 20 items for one factor, 100 otherwise; the same simulated data,
`irt.simulate`, seed 0 + factors). Each cell runs in a fresh process: the fit with
`ItemFactorModel` defaults (confirmatory pattern for D > 1), then the defaults of `score` and
`log_likelihood` (quadrature for one factor, adaptive importance sampling beyond), each timed
with wall clock. Also reported: the log-likelihood's Monte Carlo SE and the draws per person
the defaults chose.

Usage:
    python benchmarks/irt_after_fit.py                     # the whole grid
    python benchmarks/irt_after_fit.py --sizes 10000 --factors 5
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
import warnings

from irt import simulate_cell

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def one_cell(n_persons, n_factors, seed):
    from latentvi import irt
    from latentvi.irt import model as model_module
    data, truth = simulate_cell(n_persons, n_factors, seed)
    pattern = truth["pattern"] if n_factors > 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model = irt.ItemFactorModel(n_factors, pattern=pattern, seed=seed).fit(data, verbose=0)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model.score(data)
        score_seconds = time.perf_counter() - start
        start = time.perf_counter()
        loglik = model.log_likelihood(data)
        loglik_seconds = time.perf_counter() - start
    responses = model._encode(data)
    sampled = n_factors > 3
    return {"n_persons": n_persons, "n_factors": n_factors, "fit_s": round(fit_seconds, 2),
            "score_s": round(score_seconds, 2), "loglik_s": round(loglik_seconds, 2),
            "ratio": round((score_seconds + loglik_seconds) / fit_seconds, 2),
            "loglik": float(loglik), "loglik_se": round(loglik.se, 3),
            "score_draws": model._draws(responses, None, model_module.SCORE_DRAWS)
            if sampled else "quadrature",
            "loglik_draws": model._draws(responses, None, model_module.LOGLIK_DRAWS)
            if sampled else "quadrature"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_cell(args.one[0], args.one[1], args.one[1])))
        return
    cells = []
    print("| persons | factors | fit s | score s | loglik s | (score + loglik) / fit | "
          "loglik (SE) | draws score / loglik |\n|---:|---:|---:|---:|---:|---:|---|---|")
    for n_factors in args.factors:
        for n_persons in args.sizes:
            out = subprocess.run([sys.executable, __file__, "--one", str(n_persons),
                                  str(n_factors)], capture_output=True, text=True, check=True)
            cell = json.loads(out.stdout.strip().splitlines()[-1])
            cells.append(cell)
            print(f"| {n_persons:,} | {n_factors} | {cell['fit_s']} | {cell['score_s']} | "
                  f"{cell['loglik_s']} | {cell['ratio']} | {cell['loglik']:.1f} "
                  f"({cell['loglik_se']}) | {cell['score_draws']} / {cell['loglik_draws']} |",
                  flush=True)
    result = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "load_average": os.getloadavg()}, "cells": cells}
    (RESULTS / "irt_after_fit.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
