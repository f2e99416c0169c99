"""mirt's person-scoring methods for one-factor item models, in NumPy.

Everything works from an `ItemParameters` (any item type: its `probabilities` and `information`).
A person answers items j with categories x_j (the observed cells only; missing ones are skipped),
theta ~ N(0, v) (v = 1, or e.g. a Rasch model's latent variance), and

    log L(theta) = sum_j log P_j(x_j | theta),   I(theta) = sum_j I_j(theta)  (observed items).

Pattern scores (`pattern_scores`, one solve per distinct pattern; mirt's `fscores(method=)`):

- MAP: the posterior mode, argmax log L(theta) - theta^2 / (2 v); SE = (-f''(theta_hat))^(-1/2)
  for that objective f (mirt: nlm's Hessian of -log posterior).
- ML: argmax log L(theta); SE = (-d^2 log L / d theta^2)^(-1/2), the observed information
  (mirt's default; equal to I(theta) for 2PL items). Patterns at the minimum (every observed
  item in its lowest category) / maximum score get -inf / +inf with SE NaN, as mirt; so do
  estimates whose SE exceeds 30 (mirt's rule for a flat likelihood).
- WLE (Warm, 1989): argmax log L(theta) + 0.5 log I(theta), finite for every pattern; mirt
  reports SE = (-f''(theta_hat))^(-1/2) for this objective f (nlm's Hessian of WLE.mirt).
- EAP: posterior mean and SD, by Gauss-Hermite quadrature with weights for N(0, v).

The optimizations run on [-20, 20] (mirt's max_theta): a grid search (step 0.05) finds the
global maximum's cell, golden-section search refines it to ~1e-10, and the second derivatives
are central differences (step 5e-3, relative error ~1e-6).

EAP for sum scores (`eap_sum`; Thissen et al., 1995): the Lord-Wingersky recursion gives, at each
quadrature node, P(S = s | theta) for the sum of category codes S, by adding one item at a time:
L_j(s) = sum_k L_{j-1}(s - k) P_j(k | theta). Then E[theta | S = s], SD[theta | S = s] and the
expected counts n P(S = s) = n sum_q w_q L_J(s | theta_q).

Plausible values (`plausible_values`): exact draws from each posterior, by inverting its CDF on a
fine grid (401 points over EAP +- 8 SD) with linear interpolation.

Reliability: `marginal_rxx` = integral of v I(theta) / (v I(theta) + 1) over N(0, v) (Thissen &
Wainer, 2001; mirt 1.47 integrates I / (I + v) over N(0, 1), the same for v = 1);
`empirical_rxx` = var(theta_hat) / (var(theta_hat) + mean(SE^2)) over finite estimates
(mirt's empirical_rxx; var with n - 1).

References:
  [1] Warm (1989). Weighted likelihood estimation of ability in item response theory.
      Psychometrika 54, 427-450.
  [2] Bock & Mislevy (1982). Adaptive EAP estimation of ability in a microcomputer environment.
  [3] Lord & Wingersky (1984). Comparison of IRT true-score and equipercentile observed-score
      "equatings". Applied Psychological Measurement 8, 453-461.
  [4] Thissen, Pommerich, Billeaud & Williams (1995). Item response theory for scores on tests
      including polytomous items with ordered responses. APM 19, 39-49.
  [5] Thissen & Wainer (2001). Test Scoring. Erlbaum.
  [6] Chalmers (2012). mirt: A multidimensional item response theory package for the R
      environment. Journal of Statistical Software 48(6).
"""

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import logsumexp

__all__ = ["METHODS", "checked_codes", "codes_of", "eap_sum", "empirical_rxx", "marginal_rxx",
           "pattern_scores", "plausible_values", "summed_score_likelihood"]

METHODS = ("map", "ml", "wle", "eap")
N_NODES = 101     # Gauss-Hermite nodes: the posterior moments are exact to ~1e-10
MAX_THETA = 20.0  # mirt's max_theta: the interval searched by MAP, ML and WLE
GRID_STEP = 0.05  # grid search step; golden section then refines inside one cell
STEP = 5e-3       # central-difference step of second derivatives
MAX_SE = 30.0     # mirt: an ML estimate with a larger SE is reported as +-inf
TINY = 1e-300     # floor of probabilities before their log


def pattern_scores(parameters, codes, mask=None, method="map", variance=1.0):
    """Scores and standard errors of persons' answer patterns.

    Args:
      parameters: `ItemParameters` of a one-factor model.
      codes: [n, J] integer categories 0..K_j-1 (array or DataFrame; NaN marks missing cells
        when mask is None).
      mask: [n, J] True where observed (None: the finite cells of codes).
      method: 'map', 'ml', 'wle' or 'eap' (see the module docstring for each formula).
      variance: the prior variance v of theta ~ N(0, v) (MAP and EAP).

    Returns:
      (theta [n], se [n]) NumPy arrays. A person with no observed items gets the prior
      (0, sqrt(v)) under MAP and EAP and NaN under ML and WLE.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    codes, mask, inverse = _patterns(*checked_codes(parameters, codes, mask, variance))
    if method == "eap":
        theta, se = _eap(parameters, codes, mask, variance)
    else:
        theta, se = _mode(parameters, codes, mask, method, variance)
    return theta[inverse], se[inverse]


def eap_sum(parameters, codes=None, mask=None, variance=1.0):
    """EAP scores for sum scores (mirt's fscores(method='EAPsum', full.scores=FALSE)).

    Args:
      parameters: `ItemParameters` of a one-factor model.
      codes, mask: as `pattern_scores`, optional. Only complete rows (every item observed) are
        counted in `observed`, and `expected` is scaled to their number.
      variance: the prior variance v of theta ~ N(0, v).

    Returns:
      DataFrame indexed by sum score s = 0..sum_j (K_j - 1) (sum of category codes) with columns
      F1 = E[theta | S = s] and SE_F1 = SD[theta | S = s], and, when codes are given, expected
      (n P(S = s)) and observed (counts of s among the n complete rows).
    """
    _check_model(parameters, variance)
    if codes is not None:
        codes, mask = checked_codes(parameters, codes, mask, variance)
    nodes, log_weights = _nodes(variance)
    probabilities = parameters.probabilities(nodes[:, np.newaxis])
    likelihood = summed_score_likelihood([probabilities[item].T for item in parameters.items])
    joint = likelihood * np.exp(log_weights)  # P(S = s, theta_q)
    marginal = joint.sum(axis=1)
    mean = joint @ nodes / marginal
    sd = np.sqrt(np.maximum(joint @ nodes ** 2 / marginal - mean ** 2, 0.0))
    table = pd.DataFrame({"F1": mean, "SE_F1": sd},
                         index=pd.RangeIndex(len(marginal), name="sum_score"))
    if codes is not None:
        complete = mask.all(axis=1)
        table["expected"] = complete.sum() * marginal
        table["observed"] = np.bincount(codes[complete].sum(axis=1), minlength=len(marginal))
    return table


def plausible_values(parameters, codes, mask=None, n_draws=5, variance=1.0, seed=None):
    """Draws of theta from each person's posterior p(theta | x), [n, n_draws].

    Each posterior is evaluated on 401 points over its EAP +- 8 posterior SDs and sampled by
    inverting its CDF (trapezoid rule, linear interpolation): over many draws the mean and SD
    reproduce the EAP and posterior SD (mirt's plausible.type='MH', not its normal approximation).
    """
    if int(n_draws) != n_draws or n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer; got {n_draws!r}")
    patterns, observed, inverse = _patterns(*checked_codes(parameters, codes, mask, variance))
    mean, sd = _eap(parameters, patterns, observed, variance)
    grid = mean[:, np.newaxis] + sd[:, np.newaxis] * np.linspace(-8, 8, 401)  # [P, G]
    log_post = _log_likelihood(parameters, patterns, observed, grid) - grid ** 2 / (2 * variance)
    density = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    cdf = np.concatenate([np.zeros((len(grid), 1)),
                          np.cumsum((density[:, 1:] + density[:, :-1]) / 2, axis=1)], axis=1)
    cdf /= cdf[:, -1:]
    uniform = np.random.default_rng(seed).uniform(size=(len(codes), int(n_draws)))
    draws = np.empty_like(uniform)  # [n, n_draws]
    for p in range(len(patterns)):
        persons = inverse == p
        draws[persons] = np.interp(uniform[persons], cdf[p], grid[p])
    return draws


def marginal_rxx(parameters, variance=1.0):
    """Marginal reliability: the integral of v I(theta) / (v I(theta) + 1) over N(0, v)
    (mirt's marginal_rxx for v = 1; mirt 1.47 integrates I / (I + v) over N(0, 1))."""
    _check_model(parameters, variance)
    nodes, log_weights = _nodes(variance)
    information = parameters.information(nodes[:, np.newaxis], np.ones(1)).sum(axis=1)
    return float(np.exp(log_weights) @ (variance * information / (variance * information + 1)))


def empirical_rxx(scores, se=None):
    """Empirical reliability var(theta_hat) / (var(theta_hat) + mean(SE^2)) over the persons
    with finite scores (mirt's empirical_rxx; var with n - 1). scores, se: [n] or [n, D]
    (then one value per column); or `scores` a DataFrame from `ItemFactorModel.score` (its
    F and SE_F columns) and no `se`: then a Series by factor."""
    if se is None and isinstance(scores, pd.DataFrame):
        factors = [c for c in scores.columns if f"SE_{c}" in scores.columns]
        values = empirical_rxx(scores[factors].to_numpy(),
                               scores[[f"SE_{c}" for c in factors]].to_numpy())
        return pd.Series(np.atleast_1d(values), index=factors, name="rxx")
    if se is None:
        raise ValueError("empirical_rxx needs se, or a scores DataFrame with SE_ columns")
    scores, se = np.asarray(scores, float), np.asarray(se, float)
    if scores.shape != se.shape or scores.ndim not in (1, 2):
        raise ValueError(f"scores and se must have the same shape [n] or [n, D]; got "
                         f"{scores.shape} and {se.shape}")
    keep = np.isfinite(scores).all(axis=1) if scores.ndim == 2 else np.isfinite(scores)
    if keep.sum() < 2:
        raise ValueError("scores needs at least two finite estimates")
    spread = np.var(scores[keep], axis=0, ddof=1)
    reliability = spread / (spread + np.mean(se[keep] ** 2, axis=0))
    return float(reliability) if scores.ndim == 1 else reliability


def summed_score_likelihood(traces):
    """Lord-Wingersky: P(S = s | theta_q) [S_max + 1, Q] of the sum of category codes, from
    the items' P(x = k | theta_q) [K_j, Q], adding one item at a time:
    L_j(s) = sum_k L_(j-1)(s - k) P_j(k)."""
    likelihood = np.ones((1, traces[0].shape[1])) if traces else np.ones((1, 1))
    for p in traces:
        longer = np.zeros((len(likelihood) + len(p) - 1, likelihood.shape[1]))
        for k, p_k in enumerate(p):
            longer[k:k + len(likelihood)] += likelihood * p_k
        likelihood = longer
    return likelihood


def _check_model(parameters, variance):
    if parameters.n_factors != 1:
        raise ValueError(f"parameters has {parameters.n_factors} factors; these scoring "
                         f"methods need a one-factor model")
    if np.ndim(variance) != 0 or not np.asarray(variance, float) > 0:
        raise ValueError(f"variance must be a positive number; got {variance!r}")


def checked_codes(parameters, codes, mask, variance):
    """(codes [n, J] int, 0 where missing; mask [n, J] bool) of a one-factor model's items,
    or a ValueError naming what is wrong."""
    _check_model(parameters, variance)
    return codes_of(parameters, codes, mask)


def codes_of(parameters, codes, mask=None):
    """(codes [n, J] int, 0 where missing; mask [n, J] bool) of the items of `parameters`
    (any number of factors), or a ValueError naming the item and row that is wrong."""
    values = np.asarray(codes, float)
    n_items = len(parameters.items)
    if values.ndim != 2 or values.shape[1] != n_items:
        raise ValueError(f"codes must be [n, {n_items}] (one column per item); got shape "
                         f"{values.shape}")
    mask = np.isfinite(values) if mask is None else np.asarray(mask, bool)
    if mask.shape != values.shape:
        raise ValueError(f"mask must have the shape of codes {values.shape}; got {mask.shape}")
    values = np.where(mask, values, 0.0)
    top = parameters.n_categories[np.newaxis, :] - 1
    bad = mask & ((values != np.round(values)) | (values < 0) | (values > top))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"codes must be integer categories 0..K-1 where observed; item "
                         f"{parameters.items[j]!r} (K = {top[0, j] + 1}) has {values[i, j]:g} "
                         f"in row {i}")
    return values.astype(int), mask


def _patterns(codes, mask):
    """(distinct codes [P, J], their masks [P, J], each person's pattern index [n])."""
    keys = np.where(mask, codes, -1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return codes[first], mask[first], inverse.reshape(-1)


def _nodes(variance):
    """Gauss-Hermite nodes theta_q [Q] and log weights [Q] of N(0, variance)."""
    nodes, weights = hermegauss(N_NODES)
    return nodes * np.sqrt(variance), np.log(weights / weights.sum())


def _log_likelihood(parameters, codes, mask, theta):
    """log L(theta) [P, G] of patterns [P, J] at points theta [G] (shared) or [P, G] (own)."""
    theta = np.asarray(theta, float)
    shared = theta.ndim == 1
    points = theta if shared else theta.reshape(-1)
    probabilities = parameters.probabilities(points[:, np.newaxis])
    total = np.zeros((len(codes), theta.shape[-1]))
    for j, item in enumerate(parameters.items):
        log_p = np.log(np.maximum(probabilities[item], TINY))  # [points, K]
        if shared:
            term = log_p[:, codes[:, j]].T
        else:
            term = np.take_along_axis(log_p.reshape(*theta.shape, -1),
                                      codes[:, j, np.newaxis, np.newaxis], axis=2)[..., 0]
        total += np.where(mask[:, j, np.newaxis], term, 0.0)
    return total


def _information(parameters, mask, theta):
    """Test information of each pattern's observed items [P, G] at theta [G] or [P, G]."""
    items = parameters.information(theta.reshape(-1, 1), np.ones(1))  # [points, J]
    if theta.ndim == 1:
        return mask.astype(float) @ items.T
    return np.einsum("pgj,pj->pg", items.reshape(*theta.shape, -1), mask)


def _objective(parameters, codes, mask, method, variance, theta):
    """What MAP ('map'), ML ('ml') or WLE ('wle') maximizes, [P, G] at theta [G] or [P, G]."""
    value = _log_likelihood(parameters, codes, mask, theta)
    if method == "map":
        return value - theta ** 2 / (2 * variance)
    if method == "wle":
        with np.errstate(divide="ignore"):
            return value + 0.5 * np.log(_information(parameters, mask, theta))
    return value


def _mode(parameters, codes, mask, method, variance):
    """Maximizer and SE = (-f'')^(-1/2) of the MAP / ML / WLE objective f, per pattern."""
    def f(theta):
        return _objective(parameters, codes, mask, method, variance, theta)

    grid = np.arange(-MAX_THETA, MAX_THETA + GRID_STEP / 2, GRID_STEP)
    best = grid[np.argmax(f(grid), axis=1)]
    theta = _golden(f, np.maximum(best - GRID_STEP, -MAX_THETA),
                    np.minimum(best + GRID_STEP, MAX_THETA))
    around = theta[:, np.newaxis] + np.array([-STEP, 0.0, STEP])
    values = f(around)
    curvature = -(values[:, 0] - 2 * values[:, 1] + values[:, 2]) / STEP ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        se = 1 / np.sqrt(curvature)
    none = ~mask.any(axis=1)
    if method == "ml":
        lowest = (~mask | (codes == 0)).all(axis=1)
        highest = (~mask | (codes == parameters.n_categories - 1)).all(axis=1)
        flat = ~(se <= MAX_SE)  # also NaN: no curvature
        theta = np.where(flat, np.inf * np.sign(theta), theta)
        theta = np.where(lowest, -np.inf, np.where(highest, np.inf, theta))
        se = np.where(lowest | highest | flat, np.nan, se)
    if method in ("ml", "wle"):
        theta, se = np.where(none, np.nan, theta), np.where(none, np.nan, se)
    return theta, se


def _golden(f, low, high, iterations=60):
    """Golden-section maximization of f on [low, high], all patterns at once."""
    ratio = (np.sqrt(5) - 1) / 2
    a, b = low.copy(), high.copy()
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c[:, np.newaxis])[:, 0], f(d[:, np.newaxis])[:, 0]
    for _ in range(iterations):
        left = fc >= fd  # the maximum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_new = np.where(left, b - ratio * (b - a), d)
        d_new = np.where(left, c, a + ratio * (b - a))
        moved = np.where(left, c_new, d_new)
        f_moved = f(moved[:, np.newaxis])[:, 0]
        fc, fd = np.where(left, f_moved, fd), np.where(left, fc, f_moved)
        c, d = c_new, d_new
    return (a + b) / 2


def _eap(parameters, codes, mask, variance):
    """Posterior mean and SD per pattern by Gauss-Hermite quadrature."""
    nodes, log_weights = _nodes(variance)
    log_post = _log_likelihood(parameters, codes, mask, nodes) + log_weights
    weights = np.exp(log_post - logsumexp(log_post, axis=1, keepdims=True))
    mean = weights @ nodes
    sd = np.sqrt(np.maximum(weights @ nodes ** 2 - mean ** 2, 0.0))
    return mean, sd
