"""Coverage of latentvi's standard errors: do 95% intervals cover the truth 95% of the time?

For each design one set of true items is drawn once (`latentvi.irt.simulate`), then R data
sets are drawn from those same items with new persons (seeds 1..R). Each is fitted with
`irt.ItemFactorModel` defaults (with the exact-ML refinement, which 'auto' runs at these
sizes) and its default standard errors (`m.standard_errors(data)`, the observed information).
Reported per parameter kind (slopes, intercepts, factor correlations):

- coverage: the share of (replication, parameter) pairs with |estimate - truth| <= 1.96 SE;
  with R x P pairs, the binomial standard error of a true 95% rate is sqrt(.95 .05 / (R P)),
  0.5 points at R = 200 and 10 parameters (the pairs of one replication are correlated, so
  the real spread is somewhat larger);
- SE / SD: the mean reported SE over the standard deviation of the estimates across the R
  replications, averaged over the parameters (1 when the SEs are right; its own sampling error
  at R = 200 is about 1 / sqrt(2 R) = 5% per parameter, less in the average).

Designs (small, as the issue asks: the coverage of an asymptotic interval is what is tested,
and each fit takes a few seconds on 2 cores):
- `2pl`: 1,000 persons, 10 binary items, 1 factor;
- `graded_cfa`: 1,000 persons, 8 graded items with 4 categories, 2 correlated factors
  (correlation 0.3; simple structure given as the pattern);
- `efa2`: 1,000 persons, 10 binary items, 2 exploratory factors rotated by oblimin (truth: a
  simple structure, 5 items per factor, correlation 0.3). The rotated slopes and factor
  correlation and their SEs (the delta method through the rotation,
  `latentvi.irt.rotation_jacobian`) are compared with the truth after the estimated factors
  are matched to the true ones (the permutation of largest congruence, then signs). Quartimin
  is exactly 0 at a simple structure, so the population's rotated solution is the truth,
  cross-loadings 0 included; those are reported as their own kind ('cross-loading').

The run is incremental (each replication is appended to the JSON at once, and replications
already there are skipped), so it can be stopped and resumed.

Usage:
    python benchmarks/irt_coverage.py                     # both designs, 200 replications
    python benchmarks/irt_coverage.py --designs 2pl --replications 50
    python benchmarks/irt_coverage.py --designs efa2 --replications 100 \
        --out benchmarks/results/irt_coverage_efa2.json
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time
import warnings

import numpy as np
from scipy import optimize

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
DESIGNS = {
    "2pl": {"n_persons": 1000, "n_items": 10, "n_factors": 1, "item_type": "binary",
            "n_categories": 2},
    "graded_cfa": {"n_persons": 1000, "n_items": 8, "n_factors": 2, "item_type": "graded",
                   "n_categories": 4},
    "efa2": {"n_persons": 1000, "n_items": 10, "n_factors": 2, "item_type": "binary",
             "n_categories": 2, "rotation": "oblimin"},
}
FACTOR_CORR = 0.3
Z95 = 1.959964


def truth_of(design):
    """(ItemParameters, items DataFrame, pattern) of the design's fixed true items (seed 0)."""
    from latentvi import irt
    spec = DESIGNS[design]
    _, truth = irt.simulate(10, spec["n_items"], spec["n_factors"], item_type=spec["item_type"],
                            n_categories=spec["n_categories"], factor_corr=FACTOR_CORR, seed=0)
    return truth


def replicate(design, truth, seed):
    """One replication: {'estimates', 'se'} as flat dicts keyed 'item:column' / 'corr'."""
    from latentvi import irt
    spec = DESIGNS[design]
    data, _ = irt.simulate(spec["n_persons"], parameters=truth["parameters"],
                           factor_corr=FACTOR_CORR, seed=seed)
    exploratory = "rotation" in spec
    pattern = truth["pattern"] if spec["n_factors"] > 1 and not exploratory else None
    options = {"rotation": spec["rotation"]} if exploratory else {}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = irt.ItemFactorModel(spec["n_factors"], item_type=spec["item_type"],
                                pattern=pattern, seed=seed, **options).fit(data, verbose=0)
        fitted = time.perf_counter()
        se = m.standard_errors(data)
    done = time.perf_counter()
    tables = (m.items_, m.factor_corr_, se.items, se.factor_corr)
    if exploratory:
        tables = aligned(*tables, truth["items"])
    estimates, errors = flatten(*tables[:2]), flatten(*tables[2:])
    return {"seed": seed, "estimates": estimates, "se": errors,
            "fit_s": fitted - start, "se_s": done - fitted}


def aligned(items, correlation, se_items, se_corr, truth_items):
    """An exploratory fit's factors matched to the truth's: estimated factor order[m] is true
    factor m, the assignment of largest total |congruence| (cosine between the slope columns),
    and is reflected where that congruence is negative. Returns the four tables with the
    slope columns and correlations reordered and signed (SEs reordered)."""
    names = [c for c in truth_items.columns if c.startswith("a") and c[1:].isdigit()]
    estimated, true = items[names].to_numpy(), truth_items.loc[items.index, names].to_numpy()
    congruence = (estimated / np.linalg.norm(estimated, axis=0)).T @ (
        true / np.linalg.norm(true, axis=0))  # [estimated factor, true factor]
    rows, columns = optimize.linear_sum_assignment(-np.abs(congruence))
    order = rows[np.argsort(columns)]
    signs = np.sign(congruence[order, np.arange(len(names))])
    items, se_items = items.copy(), se_items.copy()
    items[names] = estimated[:, order] * signs
    se_items[names] = se_items[names].to_numpy()[:, order]
    correlation = correlation.copy()
    correlation.iloc[:, :] = correlation.to_numpy()[np.ix_(order, order)] * np.outer(signs, signs)
    se_corr = se_corr.copy()
    se_corr.iloc[:, :] = se_corr.to_numpy()[np.ix_(order, order)]
    return items, correlation, se_items, se_corr


def flatten(items, correlation, keep_zeros=False):
    """{'item:column': value} of the free entries (nonzero slopes, intercepts, thresholds;
    zeros too with `keep_zeros`) and {'F1~F2': r} of the correlations."""
    out = {f"{item}:{column}": float(value) for item, row in items.iterrows()
           for column, value in row.items()
           if np.isfinite(value) and (keep_zeros or value != 0.0)}
    names = list(correlation.index)
    for i in range(len(names)):
        for j in range(i):
            out[f"{names[j]}~{names[i]}"] = float(correlation.iloc[i, j])
    return out


def summarize(runs, truth, exploratory=False):
    """{kind: {'coverage', 'se_over_sd', 'n_pairs'}} over the replications. An exploratory
    design's zero true slopes are estimated too: they count as 'cross-loading'."""
    from latentvi import irt  # noqa: F401  (truth tables come from the package's simulator)
    target = flatten(truth["items"], truth["factor_corr"], keep_zeros=exploratory)
    kinds = {}
    for key, value in target.items():
        if value == 0.0 and not exploratory:
            continue
        kind = "cross-loading" if value == 0.0 and kind_of(key) == "slope" else kind_of(key)
        estimates = np.array([run["estimates"][key] for run in runs])
        errors = np.array([run["se"][key] for run in runs])
        covered = np.abs(estimates - value) <= Z95 * errors
        entry = kinds.setdefault(kind, {"covered": [], "ratio": []})
        entry["covered"].extend(covered.tolist())
        entry["ratio"].append(float(np.mean(errors) / np.std(estimates, ddof=1)))
    return {kind: {"coverage": float(np.mean(e["covered"])),
                   "se_over_sd": float(np.mean(e["ratio"])),
                   "se_over_sd_min": float(np.min(e["ratio"])),
                   "se_over_sd_max": float(np.max(e["ratio"])),
                   "n_pairs": len(e["covered"])}
            for kind, e in kinds.items()}


def kind_of(key):
    if "~" in key:
        return "factor correlation"
    column = key.split(":")[1]
    return "slope" if column.startswith("a") else "intercept"


def markdown(results):
    header = ("| design | replications | parameter | coverage of 95% intervals | SE / SD (mean, "
              "min-max) | median fit + SE time (s) |")
    lines = [header, "|---|---|---|---|---|---|"]
    for design, entry in results["designs"].items():
        runs = entry["runs"]
        time_s = np.median([r["fit_s"] + r["se_s"] for r in runs])
        for kind, s in entry["summary"].items():
            lines.append(f"| {design} | {len(runs)} | {kind} ({s['n_pairs']} pairs) | "
                         f"{s['coverage']:.3f} | {s['se_over_sd']:.3f} ({s['se_over_sd_min']:.2f}"
                         f"-{s['se_over_sd_max']:.2f}) | {time_s:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=list(DESIGNS))
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--out", default=str(RESULTS / "irt_coverage.json"))
    args = parser.parse_args(argv)
    path = pathlib.Path(args.out)
    results = json.loads(path.read_text()) if path.exists() else {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "designs": {}}
    for design in args.designs:
        truth = truth_of(design)
        entry = results["designs"].setdefault(design, {"spec": DESIGNS[design], "runs": []})
        done = {run["seed"] for run in entry["runs"]}
        for seed in range(1, args.replications + 1):
            if seed in done:
                continue
            entry["runs"].append(replicate(design, truth, seed))
            entry["summary"] = summarize(entry["runs"], truth, "rotation" in DESIGNS[design])
            path.write_text(json.dumps(results, indent=1))
            print(f"{design} replication {seed}: {entry['summary']}", file=sys.stderr,
                  flush=True)
        entry["summary"] = summarize(entry["runs"], truth, "rotation" in DESIGNS[design])
    path.write_text(json.dumps(results, indent=1))
    table = markdown(results)
    path.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
