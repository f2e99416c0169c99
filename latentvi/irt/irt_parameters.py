"""mirt's traditional IRT parameterization (coef(fit, IRTpars = TRUE)) and its standard errors.

latentvi fits the slope-intercept form of each item, eta = a theta + d. For one factor, mirt's
`IRTpars = TRUE` reports the classical form instead: difficulty b = -d / a for 2PL, 3PL and
4PL items (g and u as they are), thresholds b_k = -d_k / a for graded items, step
difficulties b_k = -(d_k - d_(k-1)) / a for gpcm and Rasch items, and Bock's a_k = a ak_k,
c_k = d_k for nominal items. Each item type says its own conversion
(`ItemType.irt_parameters`).

Standard errors follow by the delta method from the covariance of the fitted parameters
(`StandardErrors.vcov`): with psi = (a, the item's parameters) and phi(psi) the converted
ones, Cov(phi) = J Cov(psi) J^T, J = d phi / d psi by central differences (the conversions
are rational functions: the step 1e-6 leaves an error ~1e-12 relative). Parameters the fit
held fixed have no row in vcov and contribute nothing.
"""

import numpy as np
import pandas as pd

__all__ = ["irt_parameters"]

_STEP = 1e-6


def irt_parameters(parameters, vcov=None):
    """DataFrame indexed by item: the IRT parameters and, with `vcov` (the labelled covariance
    'item:name' of `StandardErrors.vcov`), their SEs in SE_ columns beside each.

    Args:
      parameters: `ItemParameters` of a one-factor model.
      vcov: optional DataFrame covariance of the fitted parameters.
    """
    if parameters.n_factors != 1:
        raise ValueError(f"the IRT parameterization (b = -d / a) is defined for one-factor "
                         f"models; this one has {parameters.n_factors} factors")
    rows = []
    for j, item in enumerate(parameters.items):
        kind, values = parameters.item_type(j), parameters.values[j]
        slope, n_categories = float(parameters.slopes[j, 0]), int(parameters.n_categories[j])
        converted = _converted(kind, slope, values, n_categories)
        row = dict(converted)
        if vcov is not None:
            for name, se in _standard_errors(kind, item, slope, values, n_categories, vcov,
                                             list(converted)).items():
                row[f"SE_{name}"] = se
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(parameters.items, name="item"))
    if vcov is None:
        return table
    order = [c for name in table.columns if not name.startswith("SE_")
             for c in (name, f"SE_{name}")]
    return table[order]


def _converted(kind, slope, values, n_categories):
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            return {name: float(value) for name, value in
                    kind.irt_parameters(slope, values, n_categories).items()}
    except NotImplementedError as error:
        raise ValueError(f"{error}: irt_parameters needs items of types that have "
                         f"one (2PL, 3PL, 4PL, graded, gpcm, Rasch, nominal)") from None


def _standard_errors(kind, item, slope, values, n_categories, vcov, names):
    """{name: SE} of one item's converted parameters `names` by the delta method."""
    inputs = [("a1", slope)] + [(name, float(value)) for name, value in values.items()]
    labels = [f"{item}:{name}" for name, _ in inputs]
    free = [k for k, label in enumerate(labels) if label in vcov.index]
    jacobian = np.zeros((len(names), len(free)))
    for column, k in enumerate(free):
        ends = []
        for step in (_STEP, -_STEP):
            moved = [value + (step if i == k else 0.0) for i, (_, value) in enumerate(inputs)]
            shifted = dict(zip([name for name, _ in inputs[1:]], moved[1:]))
            found = _converted(kind, moved[0], shifted, n_categories)
            ends.append(np.array([found[name] for name in names]))
        jacobian[:, column] = (ends[0] - ends[1]) / (2 * _STEP)
    chosen = [labels[k] for k in free]
    covariance = vcov.loc[chosen, chosen].to_numpy()
    variance = np.einsum("rp,pq,rq->r", jacobian, covariance, jacobian)
    return dict(zip(names, np.sqrt(np.maximum(variance, 0.0))))
