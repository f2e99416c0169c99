"""Person and item fit from residuals at the persons' scores: Drasgow's Zh and the Rasch
infit / outfit mean squares, as mirt's personfit() and itemfit(fit_stats = c('Zh', 'infit')).

Each observed answer x_ij of person i to item j (categories k = 0..K_j-1) is compared with the
model at the person's estimated traits theta_i (EAP by default), P_ijk = P(x_ij = k | theta_i):

    E_ij = sum_k k P_ijk            (expected score)      resid_ij = x_ij - E_ij
    W_ij = sum_k (k - E_ij)^2 P_ijk (its variance)        C_ij = sum_k (k - E_ij)^4 P_ijk
    l_ij = log P_ij,x_ij            (log-likelihood)      mu_ij = sum_k P_ijk log P_ijk
    s2_ij = sum_k P_ijk (log P_ijk)^2 - mu_ij^2           (the variance of l_ij under the model)

(W below sqrt(1e-5) is raised to it, as mirt does.) Summed over a person's n_i observed items
(personfit) or over an item's N_j observed persons (itemfit), with S the sum:

    Zh     = (S l - S mu) / sqrt(S s2)         (Drasgow, Levine & Williams, 1985; large
                                                 negative values: unlikely answer strings)
    outfit = S (resid^2 / W) / n               (unweighted mean square; expectation 1)
    infit  = S resid^2 / S W                   (information-weighted mean square)
    z      = (MS^(1/3) - 1) (3 / q) + q / 3    (Wilson-Hilferty standardization) with
    q_out  = sqrt(|S (C / W^2) / n^2 - 1 / n|),  q_in = sqrt(S (C - W^2) / (S W)^2),
             each at most 1.4142

(Wright & Masters, 1982). Persons with infinite scores (ML estimates of all-lowest or
all-highest patterns) get the largest finite estimate + 0.1 (the smallest - 0.1), as mirt.

Differences from mirt: a person's q_out divides by n_i^2 (mirt: by J^2 even when answers are
missing; the same for complete data); the item Zh sums over the persons who answered the item
(mirt refuses missing data for it); persons who answered nothing get NaN.

The terms are computed in blocks of persons, so memory stays flat at any n.

References:
  [1] Drasgow, Levine & Williams (1985). Appropriateness measurement with polychotomous item
      response models and standardized indices. British Journal of Mathematical and Statistical
      Psychology 38, 67-86.
  [2] Wright & Masters (1982). Rating scale analysis. MESA Press.
  [3] Chalmers (2012). mirt. Journal of Statistical Software 48(6). (R/personfit.R,
      R/itemfit.R)
"""

import numpy as np
import pandas as pd

from latentvi.irt.score_methods import codes_of

__all__ = ["COLUMNS", "finite_scores", "item_statistics", "person_statistics"]

COLUMNS = ["outfit", "z_outfit", "infit", "z_infit", "Zh"]
MIN_VARIANCE = np.sqrt(1e-5)  # mirt: W[W^2 < 1e-5] <- sqrt(1e-5)
MAX_Q = 1.4142                 # mirt's cap on the SD of a mean square
BLOCK = 20_000                 # persons per block


def person_statistics(parameters, codes, mask, theta):
    """mirt's personfit(): DataFrame [n] with outfit, z_outfit, infit, z_infit and Zh.

    Args:
      parameters: `ItemParameters`.
      codes: answers [n, J] (integer categories where observed), columns in item order.
      mask: observed cells [n, J] (None: the finite entries of codes).
      theta: the persons' scores [n, D] (e.g. EAP); +-inf allowed (see the module docstring).
    """
    rows = [_person_block(terms) for terms in _blocks(parameters, codes, mask, theta)]
    return pd.DataFrame(np.vstack(rows) if rows else np.empty((0, 5)), columns=COLUMNS)


def item_statistics(parameters, codes, mask, theta):
    """mirt's itemfit(fit_stats = c('Zh', 'infit')): DataFrame indexed by item with Zh,
    outfit, z_outfit, infit and z_infit over the persons who answered each item."""
    sums = None
    for terms in _blocks(parameters, codes, mask, theta):
        block = {name: value.sum(axis=0) for name, value in _item_terms(terms).items()}
        sums = block if sums is None else {k: sums[k] + block[k] for k in sums}
    table = _statistics(sums)
    return pd.DataFrame(table[:, [4, 0, 1, 2, 3]], columns=["Zh"] + COLUMNS[:4],
                        index=pd.Index(parameters.items, name="item"))


def wilson_hilferty(mean_square, q):
    """The standardized mean square (MS^(1/3) - 1) (3 / q) + q / 3, q capped at 1.4142."""
    q = np.minimum(q, MAX_Q)
    return (np.cbrt(mean_square) - 1.0) * (3.0 / q) + q / 3.0


def _blocks(parameters, codes, mask, theta):
    """The cell terms of each block of persons (`_cell_terms`)."""
    codes, mask = codes_of(parameters, codes, mask)
    theta = finite_scores(theta, len(codes), parameters.n_factors)
    for start in range(0, len(codes), BLOCK):
        rows = slice(start, start + BLOCK)
        yield _cell_terms(parameters, codes[rows], mask[rows], theta[rows])


def finite_scores(theta, n, n_factors):
    """theta [n, D] float with +-inf replaced by the column's finite max + 0.1 / min - 0.1."""
    theta = np.array(theta, float)
    theta = theta[:, np.newaxis] if theta.ndim == 1 else theta
    if np.shape(theta) != (n, n_factors):
        raise ValueError(f"theta must be [n, D] = [{n}, {n_factors}] (one row per person); got "
                         f"shape {np.shape(theta)}")
    if np.isnan(theta).any():
        raise ValueError(f"theta has NaN in row {int(np.argwhere(np.isnan(theta))[0, 0])}")
    for d in range(n_factors):
        column = theta[:, d]
        finite = column[np.isfinite(column)]
        if len(finite) and not np.isfinite(column).all():
            column[column == np.inf] = finite.max() + 0.1
            column[column == -np.inf] = finite.min() - 0.1
    return theta


def _cell_terms(parameters, codes, mask, theta):
    """{name: [n, J]} of the cell terms of the module docstring (0 where missing) and `mask`."""
    probabilities = parameters.probabilities(theta)
    n, n_items = codes.shape
    terms = {name: np.zeros((n, n_items)) for name in
             ("resid", "w", "c", "loglik", "mu", "s2")}
    for j, item in enumerate(parameters.items):
        p = probabilities[item]
        k = np.arange(p.shape[1], dtype=float)
        log_p = np.log(np.maximum(p, np.finfo(float).tiny))
        expected = p @ k
        deviation = k[np.newaxis, :] - expected[:, np.newaxis]
        terms["resid"][:, j] = codes[:, j] - expected
        terms["w"][:, j] = np.sum(p * deviation ** 2, axis=1)
        terms["c"][:, j] = np.sum(p * deviation ** 4, axis=1)
        terms["loglik"][:, j] = log_p[np.arange(n), codes[:, j]]
        terms["mu"][:, j] = np.sum(p * log_p, axis=1)
        terms["s2"][:, j] = np.sum(p * log_p ** 2, axis=1) - terms["mu"][:, j] ** 2
    terms["w"] = np.where(terms["w"] < MIN_VARIANCE, MIN_VARIANCE, terms["w"])
    for name in list(terms):
        terms[name] = np.where(mask, terms[name], 0.0)
    terms["mask"] = mask
    return terms


def _item_terms(terms):
    """The per-cell summands of the item and person statistics (0 where missing)."""
    observed = terms["mask"]
    w = np.where(observed, terms["w"], 1.0)
    return {"n": observed.astype(float),
            "z2": terms["resid"] ** 2 / w,
            "c_w2": np.where(observed, terms["c"] / w ** 2, 0.0),
            "resid2": terms["resid"] ** 2,
            "w": terms["w"],
            "c_minus_w2": terms["c"] - terms["w"] ** 2,
            "loglik": terms["loglik"], "mu": terms["mu"], "s2": terms["s2"]}


def _person_block(terms):
    """[m, 5] person statistics of one block (NaN for persons with no answers)."""
    return _statistics({name: value.sum(axis=1) for name, value in _item_terms(terms).items()})


def _statistics(sums):
    """[m, 5] outfit, z_outfit, infit, z_infit, Zh from the sums of the cell summands."""
    n = sums["n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        outfit = sums["z2"] / n
        q_out = np.sqrt(np.abs(sums["c_w2"] / n ** 2 - 1.0 / n))
        infit = sums["resid2"] / sums["w"]
        q_in = np.sqrt(sums["c_minus_w2"] / sums["w"] ** 2)
        zh = (sums["loglik"] - sums["mu"]) / np.sqrt(sums["s2"])
        return np.column_stack([outfit, wilson_hilferty(outfit, q_out), infit,
                                wilson_hilferty(infit, q_in), zh])
