"""Comparing fitted models on the same data: information criteria and the likelihood-ratio test.

For a model with log-likelihood l, p free parameters and n persons (mirt's definitions):

    AIC   = -2 l + 2 p
    BIC   = -2 l + p log n
    SABIC = -2 l + p log((n + 2) / 24)      (sample-size adjusted BIC)
    HQ    = -2 l + 2 p log(log n)            (Hannan-Quinn)

and for nested models (the smaller one a constrained version of the larger) the
likelihood-ratio statistic X2 = 2 (l_large - l_small), chi-square with p_large - p_small degrees
of freedom when the constraints are not on the boundary of the parameter space.

References:
  [1] Chalmers (2012). mirt. Journal of Statistical Software 48(6) (anova.SingleGroupClass).
"""

import numpy as np
import pandas as pd
from scipy.stats import chi2

__all__ = ["anova", "criteria"]


def criteria(loglik, n_parameters, n_persons):
    """{AIC, SABIC, HQ, BIC} of a log-likelihood with p parameters and n persons."""
    deviance = -2.0 * float(loglik)
    return {"AIC": deviance + 2 * n_parameters,
            "SABIC": deviance + n_parameters * np.log((n_persons + 2) / 24),
            "HQ": deviance + 2 * n_parameters * np.log(np.log(n_persons)),
            "BIC": deviance + n_parameters * np.log(n_persons)}


def anova(smaller, larger, data, num_samples=None):
    """mirt's anova(m1, m2): both models' criteria and the likelihood-ratio test of the first
    (nested in the second) against the second.

    Args:
      smaller, larger: fitted `ItemFactorModel`s on the same data, the first nested in the
        second (e.g. a Rasch and a 2PL model).
      data: the data both were fitted to.
      num_samples: importance samples per person where a log-likelihood cannot be computed by
        quadrature (more than 3 factors; None: `ItemFactorModel.log_likelihood`'s default);
        the test is then only as exact as those estimates.

    Returns:
      DataFrame with one row per model: loglik, n_params, AIC, SABIC, HQ, BIC, and on the
      second row X2, df and p.

    Raises:
      ValueError: when the second model does not have more parameters than the first, or the
        models were fitted to different persons or items.
    """
    fits = [model.information_criteria(data, num_samples=num_samples)
            for model in (smaller, larger)]
    persons = [len(model._encode(data).codes) for model in (smaller, larger)]
    if persons[0] != persons[1] or set(smaller.item_types_) != set(larger.item_types_):
        raise ValueError("anova compares models of the same items fitted to the same persons; "
                         "these differ")
    df = int(fits[1]["n_params"] - fits[0]["n_params"])
    if df <= 0:
        raise ValueError(f"the second model must have more parameters than the first (nested "
                         f"in it); got {int(fits[0]['n_params'])} and "
                         f"{int(fits[1]['n_params'])}: swap them")
    rows = []
    for fit, n in zip(fits, persons):
        rows.append({"loglik": fit["loglik"], "n_params": int(fit["n_params"]),
                     **criteria(fit["loglik"], fit["n_params"], n)})
    statistic = 2.0 * (fits[1]["loglik"] - fits[0]["loglik"])
    rows[0].update(X2=np.nan, df=np.nan, p=np.nan)
    rows[1].update(X2=statistic, df=df, p=float(chi2.sf(statistic, df)))
    return pd.DataFrame(rows, index=["smaller", "larger"])
