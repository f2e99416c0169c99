"""Parameter recovery of ItemFactorModel on simulated data, and LSAT7 against mirt.

Cases (the accuracy targets of the psychometrics issue):
  lsat7            1000 x 5 binary, 1 factor: max |a - a_mirt|, max |d - d_mirt|, loglik.
  binary_cfa       10,000 x 50 binary, 3 factors correlated 0.3, simple structure, confirmatory.
  binary_efa       the same data, exploratory + oblimin, columns and signs matched to the truth.
  graded_cfa       10,000 x 30 five-category graded items, 3 factors correlated 0.3.
  missing_cfa      binary_cfa's design with 20% of the answers missing at random.
  binary_efa5      10,000 x 100 binary, 5 factors correlated 0.3, exploratory + oblimin.
Reported: RMSE of the free slopes and of the intercepts, max factor-correlation error, the
correlation of EAP scores with the true traits next to sqrt(empirical reliability), the
coverage of +-1.96 SE intervals, the fit time (this machine), the training steps and whether
the convergence rule stopped the fit (`converged_`).

Usage:  python benchmarks/irt_accuracy.py [--quick] [--fixed-steps 1500]
Writes benchmarks/results/irt_accuracy.json and .md. With --fixed-steps N every fit runs a
fixed cosine schedule of about N steps (`epochs=`) instead of the convergence rule, as the
package did before the rule (N = 1,500), written to irt_accuracy_fixed.json and .md.
"""

import argparse
import itertools
import json
import os
import platform
import time

import numpy as np

from latentvi import irt
from latentvi.datasets import load_lsat7

MIRT_A = np.array([0.988, 1.081, 1.706, 0.765, 0.736])
MIRT_D = np.array([1.856, 0.808, 1.804, 0.486, 1.855])
MIRT_LOGLIK = -2658.805
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def rmse(estimate, truth):
    estimate, truth = np.asarray(estimate, float), np.asarray(truth, float)
    keep = ~np.isnan(truth)
    return float(np.sqrt(np.mean((estimate[keep] - truth[keep]) ** 2)))


def match_factors(slopes, truth_slopes):
    """Column permutation and signs of `slopes` that best match the true slopes."""
    n_factors = truth_slopes.shape[1]
    best, best_score = None, -np.inf
    for order in itertools.permutations(range(n_factors)):
        candidate = slopes[:, order]
        signs = np.sign(np.sum(candidate * truth_slopes, axis=0))
        score = np.sum(candidate * signs * truth_slopes)
        if score > best_score:
            best, best_score = (list(order), signs), score
    return best


def score_quality(model, data, theta):
    scores = model.score(data)
    names = list(theta.columns)
    model_names = model.factor_names_
    corr, coverage, reliability = [], [], []
    for name, true_name in zip(model_names, names):
        eap, se = scores[name].to_numpy(), scores[f"SE_{name}"].to_numpy()
        truth = theta[true_name].to_numpy()
        corr.append(abs(np.corrcoef(eap, truth)[0, 1]))
        coverage.append(np.mean(np.abs(eap - np.sign(corr[-1]) * truth) <= 1.96 * se))
        reliability.append(np.var(eap) / (np.var(eap) + np.mean(se**2)))
    return {"eap_corr": float(np.mean(corr)), "sqrt_reliability": float(np.mean(np.sqrt(
        reliability))), "coverage": float(np.mean(coverage))}


def fixed_epochs(n_persons, fixed_steps):
    """Epochs of about `fixed_steps` steps at the default batch size, or None (the rule)."""
    if fixed_steps is None:
        return None
    from latentvi.irt.training import schedule
    batch_size = schedule(n_persons, 1).batch_size
    return max(1, round(fixed_steps / np.ceil(n_persons / batch_size)))


def case_lsat7(fixed_steps=None):
    data = load_lsat7()
    start, cpu = time.perf_counter(), time.process_time()
    model = irt.ItemFactorModel(n_factors=1, seed=0).fit(
        data, verbose=0, epochs=fixed_epochs(len(data), fixed_steps))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    loglik = model.log_likelihood(data)
    return {"case": "lsat7", "seconds": seconds, "cpu_seconds": cpu,
            "max_a_error": float(np.max(np.abs(model.items_["a1"] - MIRT_A))),
            "max_d_error": float(np.max(np.abs(model.items_["d"] - MIRT_D))),
            "loglik": float(loglik), "loglik_error": abs(loglik - MIRT_LOGLIK),
            **steps_taken(model)}


def steps_taken(model):
    """Training steps and the convergence flag of a fitted model."""
    settings = model.settings_
    if settings["epochs"] is None:
        steps = len(model.history_) * settings["check_steps"]
    else:
        steps = settings["epochs"] * int(np.ceil(model.n_persons_ / settings["batch_size"]))
    return {"steps": int(steps), "converged": model.converged_}


def case_simulated(name, item_type, n_items, n_categories, confirmatory, n_persons, seed=1,
                   n_factors=3, missing_rate=0.0, fixed_steps=None):
    data, truth = irt.simulate(n_persons, n_items, n_factors, item_type=item_type,
                               n_categories=n_categories, factor_corr=0.3,
                               missing_rate=missing_rate, seed=seed)
    pattern = truth["pattern"] if confirmatory else None
    start, cpu = time.perf_counter(), time.process_time()
    model = irt.ItemFactorModel(n_factors=n_factors, item_type=item_type, pattern=pattern,
                                seed=seed).fit(data, verbose=0,
                                               epochs=fixed_epochs(n_persons, fixed_steps))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    true_items = truth["items"]
    slope_columns = [f"a{d + 1}" for d in range(n_factors)]
    slopes = model.items_[slope_columns].to_numpy()
    true_slopes = true_items[slope_columns].to_numpy()
    order, signs = match_factors(slopes, true_slopes)
    slopes = slopes[:, order] * signs
    correlation = model.factor_corr_.to_numpy()[np.ix_(order, order)] * np.outer(signs, signs)
    free = truth["pattern"].to_numpy() == 1
    intercepts = [c for c in true_items.columns if c.startswith("d")]
    quality = score_quality(_Reordered(model, order, signs), data, truth["theta"])
    off = ~np.eye(n_factors, dtype=bool)
    return {"case": name, "seconds": seconds, "cpu_seconds": cpu, "n_persons": n_persons,
            "n_items": n_items,
            "slope_rmse": rmse(slopes[free], true_slopes[free]),
            "zero_slope_rmse": rmse(slopes[~free], true_slopes[~free]),
            "intercept_rmse": rmse(model.items_[intercepts].to_numpy(),
                                   true_items[intercepts].to_numpy()),
            "max_corr_error": float(np.max(np.abs(correlation - truth["factor_corr"].to_numpy())[
                off])),
            "epochs": len(model.history_), **steps_taken(model), **quality}


class _Reordered:
    """Scores of a fitted model with factors permuted and sign-flipped to match the truth."""

    def __init__(self, model, order, signs):
        self.model, self.order, self.signs = model, order, signs
        self.factor_names_ = [f"F{d + 1}" for d in range(len(order))]

    def score(self, data):
        scores = self.model.score(data)
        names = self.model.factor_names_
        out = scores.copy()
        for new, (old, sign) in enumerate(zip(self.order, self.signs)):
            out[f"F{new + 1}"] = sign * scores[names[old]].to_numpy()
            out[f"SE_F{new + 1}"] = scores[f"SE_{names[old]}"].to_numpy()
        return out


COLUMNS = ["n_persons", "n_items", "seconds", "cpu_seconds", "steps", "converged",
           "max_a_error",
           "max_d_error", "loglik", "loglik_error", "slope_rmse", "zero_slope_rmse",
           "intercept_rmse", "max_corr_error", "eap_corr", "sqrt_reliability", "coverage"]


def markdown(rows):
    keys = [key for key in COLUMNS if any(key in row for row in rows)]
    lines = ["| case | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for row in rows:
        cells = [_fmt(row.get(key)) for key in keys]
        lines.append(f"| {row['case']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 persons instead of 10,000")
    parser.add_argument("--fixed-steps", type=int,
                        help="a fixed schedule of about this many steps instead of the rule")
    parser.add_argument("--cases", nargs="+", help="run only these cases")
    args = parser.parse_args()
    n_persons = 2000 if args.quick else 10000
    fixed = args.fixed_steps
    cases = {"lsat7": lambda: case_lsat7(fixed),
             "binary_cfa": lambda: case_simulated("binary_cfa", "binary", 50, 2, True, n_persons,
                                                  fixed_steps=fixed),
             "binary_efa": lambda: case_simulated("binary_efa", "binary", 50, 2, False,
                                                  n_persons, fixed_steps=fixed),
             "graded_cfa": lambda: case_simulated("graded_cfa", "graded", 30, 5, True, n_persons,
                                                  fixed_steps=fixed),
             "missing_cfa": lambda: case_simulated("missing_cfa", "binary", 50, 2, True,
                                                   n_persons, missing_rate=0.2,
                                                   fixed_steps=fixed),
             "binary_efa5": lambda: case_simulated("binary_efa5", "binary", 100, 2, False,
                                                   n_persons, n_factors=5, fixed_steps=fixed)}
    cases = [cases[name] for name in (args.cases or cases)]
    rows = []
    for case in cases:
        rows.append(case())
        print(json.dumps(rows[-1]), flush=True)
    table = markdown(rows)
    print(table)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    os.makedirs(RESULTS, exist_ok=True)
    suffix = ("_quick" if args.quick else "") + ("_fixed" if fixed else "")
    with open(os.path.join(RESULTS, f"irt_accuracy{suffix}.json"), "w") as file:
        json.dump({"machine": machine, "rows": rows}, file, indent=2)
    with open(os.path.join(RESULTS, f"irt_accuracy{suffix}.md"), "w") as file:
        file.write(f"# ItemFactorModel accuracy\n\nMachine: {machine}\n\n{table}\n")


if __name__ == "__main__":
    main()
