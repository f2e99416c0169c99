"""Orlando and Thissen's S-X2 item-fit statistic (mirt's default `itemfit(fit)`), for any
number of factors, in NumPy.

Persons with every item observed are grouped by their summed score S = sum_j x_j (the sum of
category codes, 0..S_max). For item j, at each score s the observed table holds the counts
O_jk(s) of persons at s who answered k, and the expected table

    E_jk(s) = N_s * integral P_jk(theta) P(S_{-j} = s - k | theta) phi(theta) dtheta
                  / integral P(S = s | theta) phi(theta) dtheta,

with N_s the number of persons at score s and S_{-j} the summed score of the other items.
Both summed-score distributions come from the Lord-Wingersky recursion (adding one item at a
time: L_j(s) = sum_k L_{j-1}(s - k) P_j(k | theta)). One factor is integrated as mirt does: 61
equally spaced points on [-6, 6] weighted by the N(0, variance) density, normalized (mirt's
`EAPsum(S_X2 = TRUE)` with `select_quadpts(1) = 61` and `theta_lim = c(-6, 6)`). Several
factors use the integration rule of the limited-information statistics
(`latentvi.irt.limited_information.grid`: product Gauss-Hermite up to 3 factors, scrambled
Sobol points beyond; mirt uses an equally spaced product grid, or QMC). The rest-score
likelihoods of all items are built in one pass of the recursion with item j left out of its
own (an array [J, scores, nodes], in chunks of nodes). The two extreme scores (0 and
S_max), which carry no information, are dropped; the cells E_jk(s) where s - k is not a
possible score of the other items are structurally empty.

After collapsing small cells (below), with O and E the collapsed tables,

    S-X2_j = sum over cells with E > 0 of (O - E)^2 / E,
    df_j   = (cells with E > 0) - (score rows kept) - (free parameters of item j),
    p      = P(chi-square_df > S-X2),
    RMSEA  = sqrt(max(S-X2 / df - 1, 0) / (N - 1))   (mirt's `rmsea`; N = complete rows);

df < 0 is reported as 0, and S-X2 (hence p and RMSEA) is NaN when df = 0. The free parameters
are the item's nonzero slopes plus the type's free parameters (`ItemType.n_parameters`), as
mirt's `sum(pars[[i]]@est)` for an item without fixed parameters.

Collapsing (a port of mirt 1.47's `collapseCells`, with `mincell` the minimum expected count;
"across items first if polytomous, then across scores"), for each item's [scores x categories]
table:

1. the score rows with structurally empty cells (the lowest and highest scores of a polytomous
   item) are added to the nearest complete row at their end of the score range;
2. scores nobody obtained are dropped; a score row with exactly one person is added to the next
   row (the last such row to the one before);
3. polytomous items: in each row flagged with an expected count < mincell (flags taken before
   step 2's merges, by position, as mirt does), the smallest cell (the last one on ties) is
   merged into its smaller neighbouring category (the left one on ties) until every cell is
   >= mincell or two cells remain; the merged cells are packed to the left of the row;
4. the last category column is merged into the one before while its total expected count is
   below mincell * ceil(0.1 * rows) (more than two columns only); then, from the last column
   down, any column positive in fewer than 5% of the rows is merged into the one before;
5. while some nonzero expected count is < mincell, the first such score row is merged into its
   neighbour (the first / last row into the second / second to last; otherwise the neighbour
   with the smaller observed total, the lower score on ties).

Differences from mirt: items whose table shrinks below two rows or two columns get NaN (mirt:
NA, or an R error in corner cases); an item with an unobserved category keeps its categories'
columns aligned (mirt's `makeObstables` shifts them).

References:
  [1] Orlando & Thissen (2000). Likelihood-based item-fit indices for dichotomous item response
      theory models. Applied Psychological Measurement 24, 50-64.
  [2] Orlando & Thissen (2003). Further investigation of the performance of S-X2: an item fit
      index for use with dichotomous item response theory models. APM 27, 289-298.
  [3] Kang & Chen (2007). An investigation of the performance of the generalized S-X2 item-fit
      index for polytomous IRT models. ACT research report.
  [4] Lord & Wingersky (1984). Comparison of IRT true-score and equipercentile observed-score
      "equatings". APM 8, 453-461.
  [5] Chalmers (2012). mirt: A multidimensional item response theory package for the R
      environment. Journal of Statistical Software 48(6). (R/itemfit.R, R/utils.R)
"""

import math
import warnings

import numpy as np
import pandas as pd
from scipy.stats import chi2

from latentvi.irt.limited_information import grid
from latentvi.irt.score_methods import codes_of

__all__ = ["collapse_cells", "s_x2"]

N_POINTS = 61        # mirt's select_quadpts(1)
THETA_LIMIT = 6.0    # mirt's theta_lim = c(-6, 6)
COLUMNS = ["S_X2", "df", "RMSEA_S_X2", "p_S_X2"]
QMC_POINTS = 2 ** 12  # beyond 3 factors: expected counts to ~0.1%, well inside their noise
CHUNK = 25_000_000    # items x scores x nodes held at once by the rest-score recursion


def s_x2(parameters, codes, mask=None, variance=1.0, mincell=1.0, correlation=None):
    """Orlando-Thissen S-X2 item fit (mirt's itemfit(fit, 'S_X2', mincell=mincell)).

    Args:
      parameters: `ItemParameters` (any number of factors).
      codes: responses [n, J], integer categories 0..K_j-1 (NaN where missing), one column per
        item in `parameters.items` order (a DataFrame's values are used as they are).
      mask: observed cells [n, J] (default: the finite entries of codes). Only complete rows
        (every item observed) are used.
      variance: the variance of each factor (a number, or one per factor).
      mincell: the minimum expected cell count of the collapsing (mirt's `mincell`).
      correlation: the factors' correlation matrix [D, D] (default: identity).

    Returns:
      DataFrame indexed by item with columns S_X2, df, RMSEA_S_X2 and p_S_X2.
    """
    codes = _complete_rows(parameters, codes, mask, mincell)
    nodes, weights = _integration(parameters.n_factors, variance, correlation)
    probabilities = parameters.probabilities(nodes)
    traces = [probabilities[item].T for item in parameters.items]  # each [K_j, Q]
    scores = codes.sum(axis=1)
    n_scores = sum(len(p) - 1 for p in traces) + 1
    counts = np.bincount(scores, minlength=n_scores)[1:-1]  # N_s, s = 1..S_max - 1
    expected = _expected_tables(traces, weights)
    rows = []
    for j in range(len(parameters.items)):
        observed = _observed_table(codes[:, j], scores, traces[j].shape[0], n_scores)
        table = collapse_cells(observed, expected[j] * counts[:, np.newaxis], mincell)
        n_free = np.count_nonzero(parameters.slopes[j]) + parameters.item_type(j).n_parameters(
            int(parameters.n_categories[j]))
        rows.append(_statistic(table, n_free, len(codes)))
    table = pd.DataFrame(rows, columns=COLUMNS, index=pd.Index(parameters.items, name="item"))
    missing = table.index[table["S_X2"].isna()].tolist()
    if missing:
        warnings.warn(f"S-X2 is NaN for {len(missing)} item(s) {missing[:10]}: after collapsing "
                      f"cells with expected counts below mincell={mincell}, their tables leave "
                      f"no degrees of freedom ({len(codes)} complete rows; S-X2 needs a few "
                      f"hundred persons)", stacklevel=3)
    return table


def collapse_cells(observed, expected, mincell=1.0):
    """mirt's collapseCells for one item: (O, E) [rows, columns] after collapsing, E NaN in the
    cells left out, or None when fewer than two score rows or categories remain.

    observed, expected: [scores 1..S_max-1, K] counts; expected NaN where structurally empty.
    """
    o = np.array(observed, float)
    e = np.array(expected, float)
    o, e = _merge_incomplete_rows(o, e)
    if len(o) < 2:
        return None
    keep = o.sum(axis=1) != 0
    o, e = o[keep], e[keep]
    flags = e < mincell  # mirt flags the rows here, before the single-person merges
    o, e = _merge_single_person_rows(o, e)
    if len(o) < 2:
        return None
    if o.shape[1] > 2:
        o, e = _collapse_categories(o, e, flags, mincell)
    e[np.isnan(e)] = 0.0
    o, e = _merge_rare_columns(o, e, mincell)
    if o.shape[1] < 2:
        return None
    o, e = _merge_small_rows(o, e, mincell)
    if len(o) < 2:
        return None
    e[e == 0] = np.nan
    return o, e


def _complete_rows(parameters, codes, mask, mincell):
    """The complete rows of codes as int [n, J], or a ValueError."""
    if np.ndim(mincell) != 0 or not float(mincell) >= 0:
        raise ValueError(f"mincell must be a non-negative number; got {mincell!r}")
    codes, mask = codes_of(parameters, codes, mask)
    complete = codes[mask.all(axis=1)]
    if len(complete) < 2:
        raise ValueError(f"S-X2 needs at least 2 complete rows; got {len(complete)}")
    return complete


def _integration(n_factors, variance, correlation):
    """Nodes theta [Q, D] and weights [Q] for N(0, Sigma): mirt's 61 points on [-6, 6] with
    normalized density weights for one factor, `limited_information.grid` for more."""
    variance = np.broadcast_to(np.asarray(variance, float), (n_factors,))
    if not np.all(variance > 0):
        raise ValueError(f"variance must be positive (one number, or one per factor); got "
                         f"{variance.tolist()}")
    if n_factors == 1:
        nodes = np.linspace(-THETA_LIMIT, THETA_LIMIT, N_POINTS)
        density = np.exp(-0.5 * nodes ** 2 / variance[0])
        return nodes[:, np.newaxis], density / density.sum()
    correlation = np.eye(n_factors) if correlation is None else np.asarray(correlation, float)
    if correlation.shape != (n_factors, n_factors):
        raise ValueError(f"correlation must be a {n_factors} x {n_factors} matrix; got shape "
                         f"{correlation.shape}")
    return grid(n_factors, correlation, variance, QMC_POINTS)


def _observed_table(item_codes, scores, n_categories, n_scores):
    """Counts O[s, k] [scores 1..S_max-1, K] of category k at summed score s."""
    table = np.zeros((n_scores, n_categories))
    np.add.at(table, (scores, item_codes), 1.0)
    return table[1:-1]


def _expected_tables(traces, weights):
    """P(x_j = k | S = s) [J][scores 1..S_max-1, K_j], NaN where s - k is not a rest score:
    sum_q w_q P_jk(q) L_(-j)(s - k | q) / sum_q w_q L(s | q), over chunks of nodes."""
    n_items = len(traces)
    n_scores = sum(len(p) - 1 for p in traces) + 1
    numerators = [np.zeros((n_scores, len(p))) for p in traces]
    total = np.zeros(n_scores)
    step = max(1, CHUNK // (n_items * n_scores))
    for start in range(0, len(weights), step):
        chunk = slice(start, start + step)
        parts = [p[:, chunk] for p in traces]
        rest = _rest_score_likelihoods(parts)  # [J, S_max + 1, Q]
        w = weights[chunk]
        for j, p in enumerate(parts):
            top = n_scores - len(p) + 1  # rest scores 0..S_max - (K_j - 1)
            for k, p_k in enumerate(p):
                numerators[j][k:k + top, k] += rest[j, :top] @ (p_k * w)
        last = len(parts[-1])  # item J - 1 completes its own left-out recursion
        full = np.zeros((n_scores, len(w)))
        for k, p_k in enumerate(parts[-1]):
            full[k:k + n_scores - last + 1] += rest[-1, :n_scores - last + 1] * p_k
        total += full @ w
    tables = []
    for j, p in enumerate(traces):
        table = numerators[j] / total[:, np.newaxis]
        for k in range(len(p)):  # s - k outside the rest scores 0..S_max - (K_j - 1)
            table[:k, k] = np.nan
            table[n_scores - len(p) + 1 + k:, k] = np.nan
        tables.append(table[1:-1])
    return tables


def _rest_score_likelihoods(traces):
    """Lord-Wingersky with each item left out of its own recursion: L_(-j)(r | q)
    [J, S_max + 1, Q] (zero-padded above item j's largest rest score). Adding item i
    convolves every recursion but the i-th with P_i(k | q)."""
    n_items, n_nodes = len(traces), traces[0].shape[1]
    likelihood = np.ones((n_items, 1, n_nodes))
    for i, p in enumerate(traces):
        longer = np.zeros((n_items, likelihood.shape[1] + len(p) - 1, n_nodes))
        for k, p_k in enumerate(p):
            longer[:, k:k + likelihood.shape[1]] += likelihood * p_k
        longer[i] = 0.0
        longer[i, :likelihood.shape[1]] = likelihood[i]
        likelihood = longer
    return likelihood


def _merge_incomplete_rows(o, e):
    """Add the rows with structurally empty cells to the nearest complete row at their end."""
    incomplete = np.flatnonzero(np.isnan(e).any(axis=1))
    e = np.where(np.isnan(e), 0.0, e)
    half = len(incomplete) // 2
    if half == 0:
        return o, e
    low = np.arange(incomplete[0], incomplete[half - 1] + 1)
    high = np.arange(incomplete[half], incomplete[-1] + 1)
    below, above = low[-1] + 1, high[0] - 1
    for rows, target in ((low, below), (high, above)):
        if 0 <= target < len(e):
            e[target] += e[rows].sum(axis=0)
            o[target] += o[rows].sum(axis=0)
    keep = np.ones(len(e), bool)
    keep[np.r_[low, high]] = False
    return o[keep], e[keep]


def _merge_single_person_rows(o, e):
    """Add each score row with one person to the next row (the last one to the one before)."""
    dropped = []
    for j in range(len(o) - 1):
        if o[j].sum() == 1:
            dropped.append(j)
            o[j + 1] += o[j]
            e[j + 1] += e[j]
    o, e = np.delete(o, dropped, axis=0), np.delete(e, dropped, axis=0)
    if len(o) >= 2 and o[-1].sum() == 1:
        o[-2] += o[-1]
        e[-2] += e[-1]
        o, e = o[:-1], e[:-1]
    return o, e


def _collapse_categories(o, e, flags, mincell):
    """In each flagged row, merge the smallest expected cell into a neighbour until all cells
    reach mincell or two remain; the merged cells are packed left (E padded NaN, O 0)."""
    n_columns = e.shape[1]
    for j in range(len(e)):
        if not flags[j].any():
            continue
        expected, observed = list(e[j]), list(o[j])
        while len(expected) > 2:
            smallest = min(expected)
            where = max(i for i, value in enumerate(expected) if value == smallest)
            if where == 0:
                into = 1
            elif where == len(expected) - 1:
                into = where - 1
            else:
                into = where - 1 if expected[where - 1] <= expected[where + 1] else where + 1
            expected[into] += expected[where]
            observed[into] += observed[where]
            del expected[where], observed[where]
            if all(value >= mincell for value in expected):
                break
        e[j] = expected + [np.nan] * (n_columns - len(expected))
        o[j] = observed + [0.0] * (n_columns - len(observed))
    return o, e


def _merge_rare_columns(o, e, mincell):
    """Merge the last column into the one before while its expected total is below
    mincell * ceil(0.1 * rows); then merge columns positive in < 5% of rows leftwards."""
    while e.shape[1] > 2 and e[:, -1].sum() < mincell * math.ceil(len(e) * 0.1):
        o = np.column_stack([o[:, :-2], o[:, -2] + o[:, -1]])
        e = np.column_stack([e[:, :-2], e[:, -2] + e[:, -1]])
    dropped = np.zeros(e.shape[1], bool)
    for j in range(e.shape[1] - 1, 0, -1):
        if np.mean(e[:, j] > 0) < 0.05:
            dropped[j] = True
            e[:, j - 1] += e[:, j]
            o[:, j - 1] += o[:, j]
    return o[:, ~dropped], e[:, ~dropped]


def _merge_small_rows(o, e, mincell):
    """While a nonzero expected count is below mincell, merge the first such score row into a
    neighbour (the one with the smaller observed total; the lower score on ties)."""
    while len(e) >= 2:
        small = ((e < mincell) & (e != 0)).any(axis=1)
        if not small.any():
            break
        row = int(np.flatnonzero(small)[0])
        if row == 0:
            into = 1
        elif row == len(e) - 1:
            into = row - 1
        else:
            into = row - 1 if o[row - 1].sum() <= o[row + 1].sum() else row + 1
        e[into] += e[row]
        o[into] += o[row]
        o, e = np.delete(o, row, axis=0), np.delete(e, row, axis=0)
    return o, e


def _statistic(table, n_free, n_persons):
    """(S_X2, df, RMSEA, p) of a collapsed table (None: all NaN, df NaN)."""
    if table is None:
        return np.nan, np.nan, np.nan, np.nan
    o, e = table
    cells = ~np.isnan(e)
    value = float(np.sum((o[cells] - e[cells]) ** 2 / e[cells]))
    df = max(int(cells.sum()) - len(e) - n_free, 0)
    if df == 0:
        return np.nan, 0, np.nan, np.nan
    rmsea = math.sqrt(max(value / df - 1.0, 0.0) / (n_persons - 1))
    return value, df, rmsea, float(chi2.sf(value, df))
