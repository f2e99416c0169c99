"""From fitted weights to mirt's tables: oriented (rotated) slopes, intercepts, parameter counts.

Slopes and loadings. With the logistic-to-normal constant D = 1.702, an item's standardized
factor loadings are F_j = (a_j / D) / sqrt(1 + |a_j / D|^2), mirt's conversion. An exploratory
model is rotated as mirt does: the loadings F are rotated (with GPArotation's defaults, no
Kaiser normalization; `normalize_rotation=True` normalizes) to find the rotation matrix T, and
the slopes follow the same T:

    oblique:     a_rot = a inv(T)^T,  Phi = T^T T
    orthogonal:  a_rot = a T,         Phi = I

F_j is a_j times a positive number, so F inv(T)^T is a_rot scaled by the same numbers and the
likelihood is unchanged by construction: a_rot . theta = a . z for the reported factors
theta = z M with M = T (with Kaiser normalization T is also the same whether F or a is
rotated; without it, T is the one found on F, as in mirt). Each factor is then signed so that
its largest absolute loading is positive, as mirt does.
"""

import math

import numpy as np

from latentvi.irt.rotation import rotate

__all__ = ["LOGISTIC_SCALE", "check_n_factors", "max_exploratory_factors", "n_parameters",
           "orient", "pattern_bound", "rasch_scale", "standardized_loadings"]

LOGISTIC_SCALE = 1.702


def standardized_loadings(slopes, factor_corr=None, xp=np):
    """mirt's standardized loadings F = (a / 1.702) / sqrt(1 + a Phi a^T / 1.702^2) [J, D] from
    slopes a [J, D] for factors of unit variance with correlations Phi (None: identity).
    `xp` is the array namespace of `slopes`: NumPy, or `tf.experimental.numpy` for float64
    tensors that TensorFlow differentiates (`latentvi.irt.rotation_jacobian`)."""
    scaled = (np.asarray(slopes, float) if xp is np else slopes) / LOGISTIC_SCALE
    corr = np.eye(scaled.shape[1]) if factor_corr is None else np.asarray(factor_corr, float)
    common = xp.einsum("jd,de,je->j", scaled, corr, scaled)
    return scaled / xp.sqrt(1.0 + common)[:, None]


def orient(slopes, correlation, method=None, seed=None, normalize=False):
    """Rotates (method given) or orients the factors of unrotated slopes, as mirt does.

    A rotation is found on the standardized loadings (GPArotation's defaults: no Kaiser
    normalization unless `normalize`), and each rotated factor is then signed so that its
    largest absolute loading is positive (mirt's convention). Without a rotation each factor is
    signed so that its slopes sum positive.

    Args:
      slopes: unrotated slopes a [J, D], factors z with correlation `correlation`.
      correlation: [D, D] correlation of z.
      method: None, or 'oblimin' / 'geomin' / 'varimax' (z must then be N(0, I)).
      seed: seed for geomin's random starts.
      normalize: Kaiser-normalize the loadings' rows before rotating (GPArotation's
        normalize=TRUE).

    Returns:
      (M [D, D] with reported factors theta = z M, slopes for theta, correlation of theta,
       whether the rotation converged).
    """
    slopes = np.asarray(slopes, float)
    if method is None:
        flip = np.diag(np.where(slopes.sum(axis=0) < 0, -1.0, 1.0))
        return flip, slopes @ flip, flip @ np.asarray(correlation, float) @ flip, True
    rotation = rotate(standardized_loadings(slopes), method=method, normalize=normalize,
                      seed=seed)
    loadings = np.asarray(rotation.loadings, float)
    largest = loadings[np.argmax(np.abs(loadings), axis=0), np.arange(loadings.shape[1])]
    flip = np.diag(np.where(largest < 0, -1.0, 1.0))
    transform = np.asarray(rotation.rotation, float)
    rotated = slopes @ np.linalg.inv(transform).T @ flip
    correlation = flip @ np.asarray(rotation.factor_corr, float) @ flip
    return transform @ flip, rotated, correlation, bool(rotation.converged)


def rasch_scale(slopes):
    """The Rasch model's scale: slopes 1 and a latent variance, from one common slope a_d per
    factor fitted with z ~ N(0, I).

    a_d z_d = 1 theta_d with theta_d = a_d z_d ~ N(0, a_d^2): the same model (mirt's
    itemtype='Rasch' estimates that variance with the slopes fixed at 1).

    Returns:
      (M = diag(a) [D, D] with theta = z M, whose variances are the diagonal of M^T M; the
       slopes for theta, 1 where an item loads and 0 elsewhere).
    """
    slopes = np.asarray(slopes, float)
    common = slopes[np.argmax(np.abs(slopes), axis=0), np.arange(slopes.shape[1])]
    return np.diag(common), slopes / common


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


def check_n_factors(n_factors, n_items, exploratory, n_categories=None):
    """Raises ValueError if `n_items` items cannot identify `n_factors` factors.

    Binary items identify an exploratory model through their tetrachoric correlations, so the
    Ledermann bound applies. Polytomous items carry more than their correlations (each pair's
    whole K x K table), and mirt fits, e.g., two exploratory factors to 4 four-category items:
    with any item of more than two categories the bound is instead D < J with no more free
    parameters than the response patterns' degrees of freedom, prod K_j - 1.
    """
    if n_categories is not None and max(n_categories) > 2:
        bound = pattern_bound(n_categories)
    else:
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


def pattern_bound(n_categories):
    """The most exploratory factors (< J) whose free parameters, J D - D(D-1)/2 +
    sum(K_j - 1), do not outnumber the response patterns' degrees of freedom prod K_j - 1."""
    n_items = len(n_categories)
    cells = math.prod(min(int(k), 10**6) for k in n_categories) - 1
    intercepts = int(np.sum(np.asarray(n_categories) - 1))
    found = 0
    for n_factors in range(1, n_items):
        if n_items * n_factors - n_factors * (n_factors - 1) // 2 + intercepts > cells:
            break
        found = n_factors
    return found


def n_parameters(n_categories, pattern, n_factors, equal_slopes, correlated,
                 item_parameters=None):
    """Free parameters as mirt counts them (for AIC / BIC).

    Slopes (pattern ones, or J*D, or D shared slopes, which a Rasch model counts as its D
    latent variances) + the items' own parameters
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
