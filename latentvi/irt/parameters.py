"""From fitted weights to mirt's tables: oriented (rotated) slopes, intercepts, parameter counts.

Slopes and loadings. With the logistic-to-normal constant D = 1.702, an item's standardized
factor loadings are F_j = (a_j / D) / sqrt(1 + |a_j / D|^2), mirt's conversion. An exploratory
model is rotated as mirt does: the loadings F are rotated (Kaiser-normalized, as GPArotation
with normalize=TRUE) to find the rotation matrix T, and the slopes follow the same T:

    oblique:     a_rot = a inv(T)^T,  Phi = T^T T
    orthogonal:  a_rot = a T,         Phi = I

Because F_j is a_j times a positive number and Kaiser normalization rescales every row to unit
length, T is the same whether F or a is rotated; the likelihood is unchanged by construction:
a_rot . theta = a . z for the reported factors theta = z M with M = T.
"""

import math

import numpy as np

__all__ = ["LOGISTIC_SCALE", "check_n_factors", "max_exploratory_factors",
           "n_parameters", "orient", "standardized_loadings"]

LOGISTIC_SCALE = 1.702


def standardized_loadings(slopes):
    """F [J, D] from slopes a [J, D] (orthogonal factors of unit variance)."""
    scaled = np.asarray(slopes, float) / LOGISTIC_SCALE
    return scaled / np.sqrt(1.0 + np.sum(scaled**2, axis=1, keepdims=True))


def orient(slopes, correlation, method=None, seed=None):
    """Rotates (method given) or sign-flips the factors so each slope column sums positive.

    Args:
      slopes: unrotated slopes a [J, D], factors z with correlation `correlation`.
      correlation: [D, D] correlation of z.
      method: None, or 'oblimin' / 'geomin' / 'varimax' (z must then be N(0, I)).
      seed: seed for geomin's random starts.

    Returns:
      (M [D, D] with reported factors theta = z M, slopes for theta, correlation of theta,
       whether the rotation converged).
    """
    slopes = np.asarray(slopes, float)
    if method is None:
        signs = np.where(slopes.sum(axis=0) < 0, -1.0, 1.0)
        flip = np.diag(signs)
        return flip, slopes @ flip, flip @ np.asarray(correlation, float) @ flip, True
    from latentvi.irt.rotation import rotate
    rotation = rotate(standardized_loadings(slopes), method=method, normalize=True, seed=seed)
    transform = np.asarray(rotation.rotation, float)
    rotated = slopes @ np.linalg.inv(transform).T
    return transform, rotated, np.asarray(rotation.factor_corr, float), bool(rotation.converged)


def max_exploratory_factors(n_items):
    """The Ledermann bound: the most factors an exploratory model of `n_items` items identifies.

    An exploratory model explains the J(J+1)/2 distinct entries of the items' (tetrachoric or
    polychoric) correlation matrix by J D loadings and J uniquenesses, less the D(D-1)/2
    loadings a rotation can change; it is identified only if these parameters do not outnumber
    the entries, (J - D)^2 >= J + D, i.e. D <= (2J + 1 - sqrt(8J + 1)) / 2 (Ledermann, 1937).
    J = 3 allows 1 factor, J = 5 two, J = 6 three, J = 10 six.

    References:
      [1] Ledermann (1937). On the rank of the reduced correlational matrix in multiple-factor
          analysis. Psychometrika 2, 85-93.
    """
    return max(0, math.floor((2 * n_items + 1 - math.sqrt(8 * n_items + 1)) / 2))


def check_n_factors(n_factors, n_items, exploratory):
    """Raises ValueError if `n_items` items cannot identify `n_factors` factors."""
    bound = max_exploratory_factors(n_items)
    if n_factors > n_items:
        hint = f" ({bound} for an exploratory model)" if exploratory else ""
        raise ValueError(f"n_factors={n_factors} is more than the {n_items} items can measure: "
                         f"at most {n_items} factors{hint}")
    if exploratory and bound == 0:
        raise ValueError(f"an exploratory model needs at least 3 items (the Ledermann bound); "
                         f"the data have {n_items}")
    if exploratory and n_factors > bound:
        raise ValueError(f"n_factors={n_factors} is too many for an exploratory model of "
                         f"{n_items} items: at most {bound} (the Ledermann bound); use fewer "
                         f"factors, more items or a confirmatory pattern")


def n_parameters(n_categories, pattern, n_factors, equal_slopes, correlated,
                 item_parameters=None):
    """Free parameters as mirt counts them (for AIC / BIC).

    Slopes (pattern ones, or J*D, or D shared slopes) + the items' own parameters
    (`item_parameters`, their types' count; default the intercepts sum(K_j - 1)); an
    exploratory model loses D(D-1)/2 to rotational indeterminacy; learned correlations add
    D(D-1)/2.
    """
    n_items = len(n_categories)
    pairs = n_factors * (n_factors - 1) // 2
    if equal_slopes:
        slopes = n_factors
    else:
        slopes = int(np.sum(pattern)) if pattern is not None else n_items * n_factors
    if item_parameters is None:
        item_parameters = int(np.sum(np.asarray(n_categories) - 1))
    count = slopes + int(item_parameters)
    if pattern is None and not equal_slopes:
        count -= pairs
    if correlated:
        count += pairs
    if count < 1:  # AIC and BIC would be meaningless; `check_n_factors` prevents this in a fit
        raise ValueError(f"the model has {count} free parameters: {n_factors} factors are not "
                         f"identified by {n_items} items")
    return int(count)
