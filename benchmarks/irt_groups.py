"""Multiple groups, DIF and latent regression: accuracy against simulated truth and time at scale.

    python benchmarks/irt_groups.py power        # DIF power / false positives, 50 replications
    python benchmarks/irt_groups.py scan         # 30 groups x 3,000 persons x 40 items DIF scan
    python benchmarks/irt_groups.py regression   # latent regression at 20,000 persons
    python benchmarks/irt_groups.py recovery     # group mean / SD with anchors, 20 replications

Each prints a table and writes benchmarks/results/irt_groups_<what>.json.

Designs:
- power: two groups of `--persons` (default 2,000) persons, 20 binary items (slopes U[0.8, 2],
  intercepts U[-1.5, 1.5]); in the focal group item 1's intercept +0.5, item 2's -0.5 and
  item 3's slope +0.8 (3 DIF items); focal latent N(0.5, 1.2^2). Baseline: every item equal
  across groups, free means and variances; DIF by `irt.dif` (`--method`, default 'score'),
  Holm-adjusted, alpha 0.05.
- scan: 30 groups x 3,000 persons x 40 binary items, group means N(0, 0.5^2), SDs U[0.8, 1.25],
  4 items with intercept DIF (+-0.5) in a third of the groups; the whole pipeline: the
  invariant baseline fit, then the score-test scan of all 40 items (`method='score'`).
- regression: 20,000 persons, 2 correlated factors (r = 0.3), 20 binary items (10 per factor),
  3 covariates (normal, binary, uniform), B = [[0.5, -0.3, 0.2], [0.0, 0.4, -0.6]]; checks
  |B_hat - B| / SE and plausible-value group means against the truth.
- recovery: two groups, 20 items of which 17 anchors, focal N(0.5, 1.2^2); the estimates'
  distance from the truth in SEs.
"""

import argparse
import json
import pathlib
import time

import numpy as np
import pandas as pd

from latentvi import irt
from latentvi.irt.item_parameters import ItemParameters

RESULTS = pathlib.Path(__file__).parent / "results"


def _items(n_items, seed, n_factors=1):
    rng = np.random.default_rng(seed)
    slopes = np.zeros((n_items, n_factors))
    for j in range(n_items):
        slopes[j, j * n_factors // n_items] = rng.uniform(0.8, 2.0)
    d = rng.uniform(-1.5, 1.5, n_items)
    return ItemParameters.from_arrays(slopes, d, "2PL")


def _shifted(parameters, intercepts=None, slopes=None):
    values = [dict(v) for v in parameters.values]
    a = parameters.slopes.copy()
    for j, shift in (intercepts or {}).items():
        values[j]["d"] += shift
    for j, shift in (slopes or {}).items():
        a[j, 0] += shift
    return ItemParameters(parameters.items, parameters.types, parameters.n_categories, a,
                          values, parameters.factor_names)


INVARIANT = ["slopes", "intercepts", "free_means", "free_var"]


def power(args):
    rows = []
    for rep in range(args.replications):
        reference = _items(20, 1000 + rep)
        focal = _shifted(reference, {0: 0.5, 1: -0.5}, {2: 0.8})
        data, _ = irt.simulate_groups({"A": args.persons, "B": args.persons},
                                      {"A": reference, "B": focal}, means={"B": 0.5},
                                      covariances={"B": 1.44}, seed=rep)
        start = time.perf_counter()
        model = irt.ItemFactorModel(1, invariance=INVARIANT, seed=rep).fit(
            data, group="group", verbose=0)
        fitted = time.perf_counter() - start
        result = irt.dif(model, data, method=args.method, purify=args.purify)
        flagged = result.items["flagged"].to_numpy()
        rows.append({"replication": rep, "dif_flagged": int(flagged[:3].sum()),
                     "clean_flagged": int(flagged[3:].sum()), "fit_s": fitted,
                     "dif_s": time.perf_counter() - start - fitted,
                     "items_flagged": list(result.items.index[flagged])})
        print(f"rep {rep}: DIF items flagged {flagged[:3].sum()}/3, clean items flagged "
              f"{flagged[3:].sum()}/17, fit {fitted:.1f} s, dif {rows[-1]['dif_s']:.1f} s",
              flush=True)
    frame = pd.DataFrame(rows)
    summary = {"replications": len(frame), "persons_per_group": args.persons,
               "method": args.method, "purify": args.purify,
               "power": float(frame["dif_flagged"].sum() / (3 * len(frame))),
               "power_per_item": [float(np.mean([f"item{j + 1}" in r for r in
                                                  frame["items_flagged"]])) for j in range(3)],
               "false_positive_rate": float(frame["clean_flagged"].sum() / (17 * len(frame))),
               "fit_s_median": float(frame["fit_s"].median()),
               "dif_s_median": float(frame["dif_s"].median())}
    return summary, rows


def scan(args):
    rng = np.random.default_rng(args.seed)
    reference = _items(40, 7)
    groups = {f"g{k:02d}": 3000 for k in range(30)}
    shifted = {label: (_shifted(reference, {0: 0.5, 1: -0.5, 2: 0.5, 3: -0.5})
                       if k % 3 == 1 else reference) for k, label in enumerate(groups)}
    means = {label: (0.0 if k == 0 else rng.normal(0, 0.5)) for k, label in enumerate(groups)}
    sds = {label: (1.0 if k == 0 else rng.uniform(0.8, 1.25)) for k, label in enumerate(groups)}
    data, _ = irt.simulate_groups(groups, shifted, means=means,
                                  covariances={g: s ** 2 for g, s in sds.items()}, seed=3)
    start = time.perf_counter()
    model = irt.ItemFactorModel(1, invariance=INVARIANT, seed=1).fit(data, group="group",
                                                                     verbose=0)
    fitted = time.perf_counter() - start
    result = irt.dif(model, data, method="score")
    scanned = time.perf_counter() - start - fitted
    flagged = result.items["flagged"].to_numpy()
    estimated = model.group_parameters_
    truth = pd.DataFrame({"MEAN_1": means, "SD": sds})
    summary = {"groups": 30, "persons": len(data), "items": 40, "fit_s": fitted,
               "scan_s": scanned, "total_s": fitted + scanned,
               "steps": int(len(model.history_) * model.settings_["check_steps"]),
               "dif_items_flagged": int(flagged[:4].sum()),
               "clean_items_flagged": int(flagged[4:].sum()),
               "mean_rmse": float(np.sqrt(np.mean((estimated["MEAN_1"] - truth["MEAN_1"])
                                                  ** 2))),
               "sd_rmse": float(np.sqrt(np.mean((np.sqrt(estimated["COV_11"]) - truth["SD"])
                                                ** 2)))}
    print(result.items.head(8).round(3))
    return summary, result.items.reset_index().to_dict("records")


def regression(args):
    rng = np.random.default_rng(args.seed)
    n = args.persons
    covariates = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.binomial(1, 0.4, n),
                               "x3": rng.uniform(-1, 1, n)}).astype(float)
    weights = np.array([[0.5, -0.3, 0.2], [0.0, 0.4, -0.6]])
    parameters = _items(20, 5, n_factors=2)
    correlation = np.array([[1.0, 0.3], [0.3, 1.0]])
    data, truth = irt.simulate_groups({"all": n}, parameters, covariances={"all": correlation},
                                      covariates=covariates.to_numpy(), regression=weights,
                                      seed=args.seed)
    data = data.drop(columns="group")
    pattern = pd.DataFrame((parameters.slopes != 0).astype(int), index=parameters.items,
                           columns=["F1", "F2"])
    start = time.perf_counter()
    model = irt.ItemFactorModel(2, pattern=pattern, seed=1).fit(data, covariates=covariates,
                                                                verbose=0)
    fitted = time.perf_counter() - start
    errors = model.standard_errors(data)
    se_s = time.perf_counter() - start - fitted
    z = (model.regression_.to_numpy() - weights) / errors.regression.to_numpy()
    draws = model.score(data, method="plausible", n_draws=5, covariates=covariates)
    half = covariates["x2"].to_numpy() == 1
    pv = draws.filter(like="_F1").to_numpy()
    summary = {"persons": n, "fit_s": fitted, "se_s": se_s,
               "weights": model.regression_.round(4).to_numpy().tolist(),
               "se": errors.regression.round(4).to_numpy().tolist(),
               "z": z.round(2).tolist(), "max_abs_z": float(np.abs(z).max()),
               "pv_mean_x2_1": float(pv[half].mean()),
               "true_mean_x2_1": float(truth["theta"]["F1"][half].mean()),
               "pv_mean_x2_0": float(pv[~half].mean()),
               "true_mean_x2_0": float(truth["theta"]["F1"][~half].mean())}
    return summary, []


def recovery(args):
    rows = []
    for rep in range(args.replications):
        reference = _items(20, 2000 + rep)
        focal = _shifted(reference, {0: 0.5, 1: -0.5}, {2: 0.8})
        data, _ = irt.simulate_groups({"A": args.persons, "B": args.persons},
                                      {"A": reference, "B": focal}, means={"B": 0.5},
                                      covariances={"B": 1.44}, seed=100 + rep)
        model = irt.ItemFactorModel(1, invariance=["free_means", "free_var"],
                                    anchors=reference.items[3:], seed=rep).fit(
            data, group="group", verbose=0)
        errors = model.standard_errors(data)
        mean, var = model.group_parameters_.loc["B", ["MEAN_1", "COV_11"]]
        se_mean, se_var = errors.group_parameters.loc["B", ["MEAN_1", "COV_11"]]
        sd, se_sd = np.sqrt(var), se_var / (2 * np.sqrt(var))
        rows.append({"replication": rep, "mean": mean, "se_mean": se_mean, "sd": sd,
                     "se_sd": se_sd, "z_mean": (mean - 0.5) / se_mean,
                     "z_sd": (sd - 1.2) / se_sd})
        print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    summary = {"replications": len(frame), "persons_per_group": args.persons,
               "mean_of_means": float(frame["mean"].mean()),
               "mean_of_sds": float(frame["sd"].mean()),
               "within_2se_mean": float((frame["z_mean"].abs() < 2).mean()),
               "within_2se_sd": float((frame["z_sd"].abs() < 2).mean()),
               "sd_of_z_mean": float(frame["z_mean"].std()),
               "sd_of_z_sd": float(frame["z_sd"].std())}
    return summary, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["power", "scan", "regression", "recovery"])
    parser.add_argument("--replications", type=int, default=50)
    parser.add_argument("--persons", type=int, default=None)
    parser.add_argument("--method", default="score")
    parser.add_argument("--purify", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.persons is None:
        args.persons = {"regression": 20_000, "power": 2000}.get(args.what, 1000)
    if args.what == "recovery" and args.replications == 50:
        args.replications = 20
    summary, rows = {"power": power, "scan": scan, "regression": regression,
                     "recovery": recovery}[args.what](args)
    print(pd.Series(summary).to_string())
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"irt_groups_{args.what}.json"
    path.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1, default=float))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
