"""Limited-information goodness of fit: M2 (binary items) and C2 (polytomous), RMSEA, SRMSR, CFI, TLI.

The statistics are the univariate category proportions P(x_j = k), k = 1..K_j-1, and the
bivariate cross-products E[x_j x_l], j < l (for binary items: the first- and second-order
marginals of M2, Maydeu-Olivares & Joe 2006; for ordinal items the C2 of Cai & Hansen 2013,
which mirt reports as M2(type = 'C2')). With p the observed statistics of N complete response
vectors, pi(theta) the model's, Xi their asymptotic covariance under the model and
Delta = d pi / d theta over the free parameters,

    C = Xi^-1 - Xi^-1 Delta (Delta' Xi^-1 Delta)^-1 Delta' Xi^-1,
    M2 = N (p - pi)' C (p - pi),   df = (number of statistics) - rank(Delta),

and RMSEA = sqrt(max(M2 - df, 0) / (N df)) with its 90% interval from the noncentral
chi-square. The independence model (each item's categories free, items unrelated) gives the
baseline M2_0 on df_0 for CFI = 1 - max(M2 - df, 0) / max(M2_0 - df_0, M2 - df, 0) and
TLI = (M2_0 / df_0 - M2 / df) / (M2_0 / df_0 - 1). SRMSR is the root mean square of the
differences between the observed and model-implied correlations of the item scores.

Every expectation is an integral over the latent traits of products of the items' category
probabilities (local independence), computed by Gauss-Hermite quadrature on a product grid
(61 nodes for one factor, 31 x 31 for two, 15 x 15 x 15 for three) and, beyond three factors,
by randomized quasi-Monte Carlo (8,192 scrambled Sobol points mapped to N(0, Sigma); mirt's
`M2(QMC = TRUE)` uses 5,000 Halton points), from each item type's own `probabilities`. Delta
by central differences: an item's parameter moves only that item's statistics (its category
proportions and the cross-products with its partners), so each column costs one item's
probabilities at the nodes; the factor correlations move every item.

References:
  [1] Maydeu-Olivares & Joe (2006). Limited information goodness-of-fit testing in
      multidimensional contingency tables. Psychometrika 71(4).
  [2] Cai & Hansen (2013). Limited-information goodness-of-fit testing of hierarchical item
      factor models. BJMSP 66(2).
"""

import itertools
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import brentq
from scipy.stats import chi2, ncx2, norm, qmc

__all__ = ["M2", "NODES", "FitStatistics", "grid", "limited_information_fit"]

NODES = {1: 61, 2: 31, 3: 15}
QMC_POINTS = 2 ** 13  # beyond 3 factors; see `grid`
COVARIANCE_POINTS = 2 ** 11  # of those, for the statistics' covariance; see `_covariance`
_STEP = 1e-5  # central differences of expectations: error ~ step^2


class FitStatistics(NamedTuple):
    """M2 (C2 when some item has more than 2 categories) and the indices built on it."""
    statistic: str
    M2: float
    df: int
    p: float
    RMSEA: float
    RMSEA_5: float
    RMSEA_95: float
    SRMSR: float
    TLI: float
    CFI: float

    def to_series(self):
        return pd.Series(self._asdict())


class _Statistics:
    """The statistics' layout: univariate (j, k) then bivariate (j, l), and how to evaluate
    them and the expectations of their products at quadrature nodes."""

    def __init__(self, n_categories):
        self.n_categories = np.asarray(n_categories, int)
        self.univariate = [(j, k) for j, K in enumerate(self.n_categories) for k in range(1, K)]
        self.bivariate = list(itertools.combinations(range(len(self.n_categories)), 2))
        self._pairs = np.array(self.bivariate, int).reshape(-1, 2)
        self._first = (np.array([j for j, _ in self.univariate], int),
                       np.array([k for _, k in self.univariate], int))
        items = range(len(self.n_categories))
        # per item: (index, category) of its univariate statistics, (index, partner) of its pairs
        self.univariate_of = {j: [] for j in items}
        for a, (j, k) in enumerate(self.univariate):
            self.univariate_of[j].append((a, k))
        self.pairs_of = {j: [] for j in items}
        for b, (j, l) in enumerate(self.bivariate, start=len(self.univariate)):
            self.pairs_of[j].append((b, l))
            self.pairs_of[l].append((b, j))

        self.size = len(self.univariate) + len(self.bivariate)

    def observed(self, codes):
        codes = np.asarray(codes, float)
        first = [np.mean(codes[:, j] == k) for j, k in self.univariate]
        products = codes.T @ codes / len(codes)
        return np.array(first + [products[j, l] for j, l in self.bivariate])

    @staticmethod
    def item_moments(probabilities):
        """Each item's conditional first and second moments m, s [J, G] at the nodes."""
        m = np.array([p @ np.arange(p.shape[1]) for p in probabilities])
        s = np.array([p @ np.arange(p.shape[1]) ** 2 for p in probabilities])
        return m, s

    def node_values(self, probabilities):
        """V [S, G] (each statistic's conditional expectation at each node), and each item's
        conditional first and second moments m, s [J, G]."""
        m, s = self.item_moments(probabilities)
        rows = [probabilities[j][:, k] for j, k in self.univariate]
        rows += [m[j] * m[l] for j, l in self.bivariate]
        return np.array(rows), m, s

    def expectations(self, probabilities, weights):
        """pi [S]: the proportions sum_g w_g P_jk(g) and cross-products sum_g w_g m_j m_l."""
        m, _ = self.item_moments(probabilities)
        shares = [weights @ p for p in probabilities]
        first = [shares[j][k] for j, k in zip(*self._first)]
        products = (m * weights) @ m.T
        return np.concatenate([first, products[self._pairs[:, 0], self._pairs[:, 1]]])

    def second_moments(self, probabilities, weights):
        """E[y_a y_b] [S, S]: disjoint statistics multiply their node values; those sharing
        an item combine that item's factors (x_j x_j = x_j^2, 1[x_j = k] x_j = k 1[x_j = k],
        1[x_j = k] 1[x_j = k'] = 0 for k != k')."""
        values, m, s = self.node_values(probabilities)
        moments = (values * weights) @ values.T
        univariate_of, pairs_of = self.univariate_of, self.pairs_of
        n_univariate = len(self.univariate)
        for j in range(len(self.n_categories)):
            u_index = [a for a, _ in univariate_of[j]]
            ks = np.array([k for _, k in univariate_of[j]], float)
            # 1[x_j = k] 1[x_j = k']
            moments[np.ix_(u_index, u_index)] = np.diag(
                probabilities[j][:, ks.astype(int)].T @ weights)
            if not pairs_of[j]:
                continue
            b_index = [b for b, _ in pairs_of[j]]
            partners = m[[l for _, l in pairs_of[j]]]  # [J-1, G]
            # 1[x_j = k] x_j x_l = k 1[x_j = k] x_l
            block = (ks[:, None] * probabilities[j][:, ks.astype(int)].T * weights) @ partners.T
            moments[np.ix_(u_index, b_index)] = block
            moments[np.ix_(b_index, u_index)] = block.T
            # x_j x_l x_j x_m = x_j^2 x_l x_m (l != m)
            block = (partners * weights * s[j]) @ partners.T
            moments[np.ix_(b_index, b_index)] = np.where(
                np.eye(len(b_index), dtype=bool), moments[np.ix_(b_index, b_index)], block)
        for b, (j, l) in enumerate(self.bivariate):  # (x_j x_l)^2
            moments[n_univariate + b, n_univariate + b] = (s[j] * s[l]) @ weights
        return moments


def grid(n_factors, correlation, variance, qmc_points=QMC_POINTS):
    """Integration nodes theta [G, D] and weights [G] (summing to 1) for N(0, Sigma).

    Up to 3 factors a product Gauss-Hermite rule (`NODES` per factor). Beyond, randomized
    quasi-Monte Carlo: `qmc_points` scrambled Sobol points (fixed seed, so results repeat)
    u -> Phi^-1(u) L^T, equal weights. For item response functions, smooth in theta, the error
    of these means falls about as 1 / G (against 1 / sqrt(G) for plain Monte Carlo); on a
    5-factor, 100-item model, 8,192 points move M2 by less than 0.1% from 65,536 points.
    """
    scale = np.sqrt(np.asarray(variance, float))
    covariance = np.asarray(correlation, float) * np.outer(scale, scale)
    cholesky = np.linalg.cholesky(covariance)
    if n_factors in NODES:
        nodes, weights = hermegauss(NODES[n_factors])
        weights = weights / weights.sum()
        index = np.array(list(itertools.product(range(len(nodes)), repeat=n_factors)))
        return nodes[index] @ cholesky.T, np.prod(weights[index], axis=1)
    uniform = qmc.Sobol(n_factors, scramble=True, seed=0).random(int(qmc_points))
    return norm.ppf(uniform) @ cholesky.T, np.full(len(uniform), 1.0 / len(uniform))


def _free_parameters(estimator):
    """[(getter/setter key, equality label)] of the estimated parameters the statistics
    depend on: ('slope', j, d), ('value', j, name), ('corr', d, e), ('variance', d)."""
    parameters = estimator.item_parameters_
    fixed = {tuple(pair) for pair in estimator.constraints_["fixed"]}
    labels = {(item, name): label for item, name, label in estimator.constraints_["labels"]}
    estimated = np.asarray(estimator.estimated_slopes_, bool)
    rasch = estimator._rasch()
    free = []
    for j, item in enumerate(parameters.items):
        for d in range(parameters.n_factors):
            if estimated[j, d] and not rasch:
                label = labels.get((item, f"a{d + 1}"))
                if estimator.equal_slopes_:
                    label = f"a{d + 1}"
                free.append((("slope", j, d), label))
        constant = parameters.item_type(j).fixed_parameters(parameters.n_categories[j])
        for name in parameters.values[j]:
            if name not in constant and (item, name) not in fixed:
                free.append((("value", j, name), labels.get((item, name))))
    n_factors = parameters.n_factors
    if rasch:
        free += [(("variance", d), None) for d in range(n_factors)]
    elif estimator._learns_correlations(estimator.pattern):
        free += [(("corr", d, e), None) for d in range(n_factors) for e in range(d)]
    return free


def _covariance(statistics, parameters, correlation, variance):
    """Xi [S, S] = E[y y'] - pi pi'. Beyond 3 factors on the first COVARIANCE_POINTS of the
    Sobol sequence: Xi only weights the residuals (a 0.1% error in Xi moves M2 by about
    0.1%), while its S x S x G product is the statistic's largest cost."""
    points = min(COVARIANCE_POINTS, QMC_POINTS)
    _, weights, probabilities = _evaluate(parameters, correlation, variance, points)
    expected = statistics.expectations(probabilities, weights)
    return statistics.second_moments(probabilities, weights) - np.outer(expected, expected)


def _evaluate(parameters, correlation, variance, qmc_points=QMC_POINTS):
    """(nodes theta [G, D], weights [G], each item's P(x = k | theta) [G, K_j] in item
    order)."""
    theta, weights = grid(parameters.n_factors, correlation, variance, qmc_points)
    probabilities = parameters.probabilities(theta)
    return theta, weights, [probabilities[item] for item in parameters.items]


def _factor_column(statistics, parameters, correlation, variance, key):
    """d pi / d psi [S] for a factor correlation ('corr', d, e) or variance ('variance', d):
    it moves the nodes, hence every item's statistics."""
    ends = []
    for step in (_STEP, -_STEP):
        moved_correlation = np.array(correlation, float)
        moved_variance = np.array(variance, float)
        if key[0] == "corr":
            moved_correlation[key[1], key[2]] += step
            moved_correlation[key[2], key[1]] += step
        else:
            moved_variance[key[1]] += step
        _, weights, probabilities = _evaluate(parameters, moved_correlation, moved_variance)
        ends.append(statistics.expectations(probabilities, weights))
    return (ends[0] - ends[1]) / (2 * _STEP)


def _item_probabilities(parameters, key, step, theta):
    """P(x_j = k | theta) [G, K_j] of item j = key[1] alone, with the parameter `key`
    (('slope', j, d) or ('value', j, name)) moved by `step`."""
    j = key[1]
    slopes, values = parameters.slopes[j].copy(), dict(parameters.values[j])
    if key[0] == "slope":
        slopes[key[2]] += step
    else:
        values[key[2]] += step
    return parameters.item_type(j).probabilities(theta @ slopes, values,
                                                  parameters.n_categories[j])


def _item_column(statistics, parameters, key, theta, weights, means):
    """d pi / d psi [S] for a parameter psi of item j: only item j's statistics move,
    d P(x_j = k) = sum_g w_g dP_jk(g) and d E[x_j x_l] = sum_g w_g dm_j(g) m_l(g)."""
    j = key[1]
    ends = [_item_probabilities(parameters, key, step, theta) for step in (_STEP, -_STEP)]
    change = (ends[0] - ends[1]) / (2 * _STEP)  # [G, K_j]
    column = np.zeros(statistics.size)
    for a, k in statistics.univariate_of[j]:
        column[a] = change[:, k] @ weights
    mean_change = change @ np.arange(change.shape[1])
    pairs = np.array(statistics.pairs_of[j], int).reshape(-1, 2)
    column[pairs[:, 0]] = means[pairs[:, 1]] @ (mean_change * weights)
    return column


def _jacobian(statistics, parameters, correlation, variance, free, nodes):
    """Delta [S, P]: central differences of the expectations, equal parameters summed;
    `nodes` = `_evaluate` at the estimates."""
    theta, weights, probabilities = nodes
    means, _ = statistics.item_moments(probabilities)
    columns, labels = [], {}
    for key, label in free:
        if key[0] in ("slope", "value"):
            column = _item_column(statistics, parameters, key, theta, weights, means)
        else:
            column = _factor_column(statistics, parameters, correlation, variance, key)
        if label is not None and label in labels:
            columns[labels[label]] += column
        else:
            if label is not None:
                labels[label] = len(columns)
            columns.append(column)
    return np.column_stack(columns)


def _quadratic_form(residual, covariance, delta):
    """e' C e and rank(Delta), C = Xi^-1 - Xi^-1 D (D' Xi^-1 D)^+ D' Xi^-1 (one solve with
    Xi; rank(Delta) = rank(D' Xi^-1 D) as Xi is positive definite)."""
    solved = np.linalg.solve(covariance, np.column_stack([residual, delta]))
    inverse_residual, inverse_delta = solved[:, 0], solved[:, 1:]
    projected = delta.T @ inverse_residual
    inner = delta.T @ inverse_delta
    eigenvalues = np.linalg.eigvalsh(inner)
    rank = int(np.sum(eigenvalues > 1e-10 * eigenvalues.max()))
    inverse_inner = np.linalg.pinv(inner, rcond=1e-10, hermitian=True)
    return float(residual @ inverse_residual - projected @ inverse_inner @ projected), rank


def _rmsea_bounds(statistic, df, n):
    """90% interval: noncentralities whose chi-square puts the statistic at its 95th / 5th
    percentile, as sqrt(lambda / (N df))."""
    def bound(level):
        if chi2.cdf(statistic, df) < level:
            return 0.0
        top = max(10.0 * statistic, 100.0)
        found = brentq(lambda lam: ncx2.cdf(statistic, df, lam) - level, 1e-10, top)
        return float(np.sqrt(found / (n * df)))
    return bound(0.95), bound(0.05)


def _correlations(mean, products, second):
    """Correlations of the item scores from their means, cross-products and E[x^2]."""
    variance = second - mean**2
    covariance = products - np.outer(mean, mean)
    scale = np.sqrt(np.maximum(variance, 1e-300))
    return covariance / np.outer(scale, scale)


def limited_information_fit(estimator, codes):
    """`FitStatistics` of a fitted `ItemFactorModel` on complete coded responses [n, J]."""
    parameters = estimator.item_parameters_
    correlation = estimator.factor_corr_.to_numpy()
    variance = estimator.factor_var_.to_numpy()
    codes = np.asarray(codes, int)
    n = len(codes)
    statistics = _Statistics(parameters.n_categories)
    observed = statistics.observed(codes)
    nodes = _evaluate(parameters, correlation, variance)
    _, weights, probabilities = nodes
    expected = statistics.expectations(probabilities, weights)
    covariance = _covariance(statistics, parameters, correlation, variance)
    delta = _jacobian(statistics, parameters, correlation, variance, _free_parameters(estimator),
                      nodes)
    form, rank = _quadratic_form(observed - expected, covariance, delta)
    statistic, df = n * form, statistics.size - rank
    if df < 1:
        raise ValueError(f"M2 has {statistics.size} statistics but the model {rank} free "
                         f"parameters: no degrees of freedom are left")
    baseline, baseline_df = _independence(statistics, codes)
    rmsea = float(np.sqrt(max(statistic - df, 0.0) / (n * df)))
    low, high = _rmsea_bounds(statistic, df, n)
    # SRMSR: observed against model-implied correlations of the item scores
    m, s = statistics.item_moments(probabilities)
    model_corr = _correlations(m @ weights, (m * weights) @ m.T, s @ weights)
    data_corr = np.corrcoef(codes, rowvar=False)
    upper = np.triu_indices(len(parameters.items), 1)
    srmsr = float(np.sqrt(np.mean((data_corr[upper] - model_corr[upper]) ** 2)))
    tli = (baseline / baseline_df - statistic / df) / (baseline / baseline_df - 1.0)
    cfi = 1.0 - max(statistic - df, 0.0) / max(baseline - baseline_df, statistic - df, 1e-300)
    name = "M2" if int(parameters.n_categories.max()) == 2 else "C2"
    return FitStatistics(name, statistic, int(df), float(chi2.sf(statistic, df)), rmsea, low,
                         high, srmsr, float(tli), float(cfi))


def _independence(statistics, codes):
    """M2 of the independence model (each item's category proportions free) and its df."""
    n = len(codes)
    shares = [np.array([np.mean(codes[:, j] == k) for k in range(K)])
              for j, K in enumerate(statistics.n_categories)]

    def expectations(shares):
        probabilities = [np.asarray(p, float)[np.newaxis, :] for p in shares]
        return statistics.expectations(probabilities, np.ones(1))

    expected = expectations(shares)
    probabilities = [p[np.newaxis, :] for p in shares]
    covariance = (statistics.second_moments(probabilities, np.ones(1))
                  - np.outer(expected, expected))
    columns = []
    for j, p in enumerate(shares):
        for k in range(1, len(p)):  # P(k) up, P(0) down: the proportions still sum to 1
            ends = []
            for step in (_STEP, -_STEP):
                moved = [np.array(q, float) for q in shares]
                moved[j][k] += step
                moved[j][0] -= step
                ends.append(expectations(moved))
            columns.append((ends[0] - ends[1]) / (2 * _STEP))
    form, rank = _quadratic_form(statistics.observed(codes) - expected, covariance,
                                 np.column_stack(columns))
    return n * form, statistics.size - rank


def M2(model, data):
    """mirt's M2(model): the `FitStatistics` of a fitted `ItemFactorModel` on `data` (persons
    with a missing answer are left out, with a warning: the statistic needs complete
    response vectors)."""
    return model.fit_statistics(data)
