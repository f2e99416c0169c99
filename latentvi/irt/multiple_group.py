"""Fitting and reading a multiple-group or latent-regression `ItemFactorModel` (mirt's
multipleGroup and latent regression).

`ItemFactorModel(invariance=..., anchors=...).fit(data, group=..., covariates=...)` comes here:
the model is `latentvi.irt.groups.GroupedItemResponse` (one copy of the items per group, the
groups' latent means and covariances, regression weights on covariates), fitted by the same
importance-weighted bound, convergence rule and exact refinement as a one-group model.

Invariance (mirt's `invariance=` vocabulary):
- 'slopes': every item's slopes equal across groups; 'intercepts': every item's other
  parameters (intercepts, thresholds, asymptotes, category scores) equal across groups;
- anchors (`anchors=[...]`, or item names inside `invariance`): those items' parameters all
  equal across groups;
- 'free_means': the groups' latent means are estimated (the reference group's is 0);
  'free_var': their SDs (the reference group's are 1); 'free_cov': their factor correlations
  (else every group has the reference group's).
Without any, the groups are fitted as separate models on one scale each (configural).
"""

import dataclasses

import numpy as np
import pandas as pd
import tensorflow as tf

from latentvi._checks import one_of, positive_int
from latentvi.irt import (
    adaptive_sampling,
    fit_checks,
    group_information,
    quadrature,
    scoring,
    streaming,
    training,
)
from latentvi.irt.constraints import Ties
from latentvi.irt.item_parameters import ItemParameters
from latentvi.irt.items import get as get_item_type
from latentvi.irt.parameter_table import prior_lists
from latentvi.irt.parameters import check_n_factors
from latentvi.irt.person_covariates import read_covariates
from latentvi.irt.reported_jacobian import add_item_parameters, block_jacobians, picked_rows
from latentvi.irt.responses import (
    answered,
    encode_responses,
    grouped_by_type,
    item_types,
    select_items,
)
from latentvi.irt.start import starting_values_of

__all__ = ["INVARIANCE", "Prepared", "build", "equal_items", "fit", "group_item_parameters",
           "latent_ties", "plausible_values", "prepare", "read_invariance", "refine",
           "reported", "score", "se_tables", "structural_basis", "summarize", "tie_items"]

INVARIANCE = ("free_means", "free_var", "free_cov", "slopes", "intercepts")
GROUP_LEVEL = "group"


def read_invariance(invariance, anchors, items):
    """(set of keywords, [anchor items]) from `invariance` (a keyword, a list of keywords and
    item names, or None) and `anchors` (item names or None), after checking them."""
    if invariance is None:
        invariance = ()
    if isinstance(invariance, str):
        invariance = (invariance,)
    keywords, named = set(), []
    for entry in invariance:
        if entry in INVARIANCE:
            keywords.add(entry)
        elif entry in items:
            named.append(entry)
        else:
            raise ValueError(f"invariance has {entry!r}, which is neither one of {INVARIANCE} "
                             f"nor an item")
    if anchors is not None:
        if isinstance(anchors, str) or not pd.api.types.is_list_like(anchors):
            raise TypeError(f"anchors must be a list of item names; got {anchors!r}")
        unknown = [item for item in anchors if item not in items]
        if unknown:
            raise ValueError(f"anchors names items not in the model: {unknown}; the items "
                             f"are {list(items)[:20]}")
        named += [item for item in anchors if item not in named]
    if "free_means" in keywords and "intercepts" not in keywords and not named:
        raise ValueError("invariance 'free_means' needs items whose intercepts are equal "
                         "across groups ('intercepts' or anchors): otherwise a group's mean "
                         "and its intercepts are not identified")
    if ({"free_var", "free_cov"} & keywords) and "slopes" not in keywords and not named:
        raise ValueError("invariance 'free_var' / 'free_cov' needs items whose slopes are equal "
                         "across groups ('slopes' or anchors): otherwise a group's variance "
                         "and its slopes are not identified")
    return keywords, named


def latent_ties(n_groups, n_factors, n_covariates, keywords, correlated):
    """{weight: Ties config} of `GroupedItemResponse`'s latent weights: the reference group's
    mean 0 and SDs 1, the other groups' free or fixed alike as `keywords` say."""
    means, log_sd = Ties((n_groups, n_factors)), Ties((n_groups, n_factors))
    pairs = max(n_factors * (n_factors - 1) // 2, 1)
    corr, regression = Ties((n_groups, pairs)), Ties((n_factors, max(n_covariates, 1)))
    for g in range(n_groups):
        for d in range(n_factors):
            if g == 0 or "free_means" not in keywords:
                means.fix((g, d), 0.0)
            if g == 0 or "free_var" not in keywords:
                log_sd.fix((g, d), 0.0)
    for k in range(pairs):
        if not correlated:
            for g in range(n_groups):
                corr.fix((g, k), 0.0)
        elif "free_cov" not in keywords:
            corr.join([(g, k) for g in range(n_groups)])
    if not n_covariates:
        for d in range(n_factors):
            regression.fix((d, 0), 0.0)
    return {"group_means": means.to_config(), "group_log_sd": log_sd.to_config(),
            "group_corr": corr.to_config(), "regression": regression.to_config()}


def tie_items(likelihood, n_groups, types, n_categories, free_slopes, equal_slopes,
              equal_others):
    """Makes the copies of items `equal_slopes` (indices) equal in their slopes and those of
    `equal_others` in their other parameters, across groups."""
    slope_groups, equal = [], []
    for j, (name, n_cat) in enumerate(zip(types, n_categories)):
        copies = [j * n_groups + g for g in range(n_groups)]
        if j in equal_slopes:
            slope_groups += [[(v, d) for v in copies] for d in np.flatnonzero(free_slopes[j])]
        if j in equal_others:
            kind = get_item_type(name)
            weights = kind.parameter_weights(n_cat)
            fixed = kind.fixed_parameters(n_cat)
            equal += [[(v, parameter) for v in copies]
                      for parameter in kind.parameter_names(n_cat)
                      if parameter in weights and parameter not in fixed]
    if slope_groups:
        likelihood.decoder.join(slope_groups)
    if equal:
        likelihood.constrain([], equal, {})


def equal_items(keywords, anchored, n_items):
    """(items whose slopes are equal across groups, items whose other parameters are)."""
    everything = set(range(n_items))
    return (everything if "slopes" in keywords else set(anchored),
            everything if "intercepts" in keywords else set(anchored))


@dataclasses.dataclass
class Prepared:
    """A grouped fit's coded data and design (what `build` needs to make a model)."""
    responses: object
    augmented: object
    persons: object
    membership: np.ndarray
    types: list
    pattern: object
    n_factors: int
    keywords: set
    anchored: set
    settings: object


def prepare(est, data, group, covariates, epochs=None, batch_size=None, max_steps=None,
            tol=None):
    """Checks and codes the data, groups and covariates of a grouped fit (sets the
    estimator's item_types_, item_order_, factor_names_, persons_, invariance_, anchors_)."""
    est._check_settings()
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame (persons x items); got "
                        f"{type(data).__name__}")
    _check_supported(est)
    if not data.index.is_unique:
        raise ValueError("the data's index has repeated labels; a multiple-group fit matches "
                         "persons to their group and covariates by index (reset_index())")
    others = ([group] if _is_label(group) else []) + (
        [covariates] if _is_label(covariates) else
        list(covariates) if isinstance(covariates, (list, tuple)) else [])
    frame = (data.drop(columns=[name for name in others if name in data.columns])
             if est.items is None else select_items(data, est.items))
    persons = read_covariates(data, group, covariates, n_items=frame.shape[1])
    responses = encode_responses(grouped_by_type(frame, est.item_type), est.item_type,
                                 missing_codes=est.missing_codes,
                                 max_categories=est.max_categories)
    items = responses.items
    est.item_types_ = dict(zip(items, item_types(est.item_type, items)))
    est.item_order_ = [item for item in frame.columns if item in est.item_types_]
    keywords, anchors = read_invariance(est.invariance, est.anchors, items)
    pattern = est._pattern_array(items)
    n_factors = positive_int(est.n_factors, "n_factors")
    check_n_factors(n_factors, len(items), exploratory=pattern is None,
                    n_categories=responses.n_categories)
    kept = data.loc[responses.index]
    extra = persons.extra_columns(kept)
    membership = persons.membership(kept)
    types = list(est.item_types_.values())
    anchored = {items.index(item) for item in anchors}
    _check_categories(responses, membership, persons.groups, keywords, anchored)
    est.equal_slopes_, est.estimated_slopes_ = False, (
        np.ones((len(items), n_factors), bool) if pattern is None else pattern > 0).tolist()
    est.priors_ = {item: dict(found) for item, found in (est.priors or {}).items()}
    est.invariance_ = sorted(keywords)
    est.anchors_ = [items[j] for j in sorted(anchored)]
    est.persons_ = persons
    est.constraints_ = {"fixed": [], "labels": []}
    est._constraint_savings = 0
    augmented = responses.with_extra(extra)
    settings = training.schedule(
        responses.n_persons, len(items), n_factors, epochs, batch_size, est.iw_samples,
        max_steps, tol, whole_batch_persons=max(get_item_type(name).whole_batch_persons
                                                for name in types))
    return Prepared(responses, augmented, persons, membership, types, pattern, n_factors,
                    keywords, anchored, settings)


def build(est, prepared, equal_slopes, equal_others):
    """The grouped `LatentModel` of `prepared` with the copies of items `equal_slopes` /
    `equal_others` equal across groups, at its starting values."""
    responses, persons, pattern = prepared.responses, prepared.persons, prepared.pattern
    n_groups, n_factors, types = len(persons.groups), prepared.n_factors, prepared.types
    copies = [item for item in responses.items for _ in range(n_groups)]
    copy_types = [name for name in types for _ in range(n_groups)]
    copy_categories = np.repeat(responses.n_categories, n_groups)
    grouping = {"n_items": len(responses.items), "n_groups": n_groups,
                "covariate_center": list(persons.center), "covariate_scale": list(persons.scale),
                "latent_ties": latent_ties(n_groups, n_factors, len(persons.covariate_names),
                                           prepared.keywords, est._learns_correlations(pattern))}
    model = training.build_model(
        copy_categories, n_factors, None if pattern is None else np.repeat(pattern, n_groups, 0),
        False, False, est.seed, item_types=copy_types,
        priors=prior_lists(est.priors_, copies, copy_types, copy_categories),
        grouping=grouping)
    likelihood = model.likelihood
    likelihood.set_persons(responses.n_persons)
    start = starting_values_of(responses, n_factors, pattern, est.seed)
    if pattern is None:
        likelihood.decoder.start_from(np.repeat(start.slopes, n_groups, 0))
    likelihood.start_from(np.repeat(start.intercepts, n_groups, 0))
    tie_items(likelihood, n_groups, types, responses.n_categories,
              np.asarray(est.estimated_slopes_, bool), equal_slopes, equal_others)
    return model


def fit(estimator, data, group, covariates, epochs=None, batch_size=None, verbose=1,
        callbacks=None, max_steps=None, tol=None, checkpoint_dir=None):
    """Fits `estimator` (an ItemFactorModel) with groups and / or covariates; returns it."""
    if streaming.is_file_source(data):
        raise NotImplementedError("a multiple-group or latent-regression fit reads a "
                                  "DataFrame; fitting files is for single-group models")
    est = estimator
    prepared = prepare(est, data, group, covariates, epochs, batch_size, max_steps, tol)
    responses, settings = prepared.responses, prepared.settings
    est.model_ = build(est, prepared, *equal_items(prepared.keywords, prepared.anchored,
                                                   len(responses.items)))
    est.settings_ = dataclasses.asdict(settings)
    progress = fit_checks.progress(*responses.answers.shape, settings, verbose)
    result, rule = training.run(est.model_, prepared.augmented, settings, est.seed, 0,
                                list(callbacks or []) + progress,
                                checkpoint_dir=checkpoint_dir)
    fit_checks.check_diverged(result)
    est.history_ = result.history
    est.converged_ = None if rule is None else rule.converged
    est.refinement_ = refine(est.model_, prepared, est.refine)
    fit_checks.warn_unconverged(rule, settings, stacklevel=3)
    est.category_map_ = responses.category_map
    est.n_persons_ = responses.n_persons
    est.dropped_persons_ = responses.dropped
    est.n_dropped_ = len(responses.dropped)
    est._prepared = prepared
    summarize(est, responses, prepared.membership)
    return est


def refine(latent, prepared, mode):
    """The exact-ML refinement of a grouped model (at most 3 factors; `mode` False: none):
    Newton steps with the information computed group by group
    (`group_information.newton_refine`). A stochastic fit leaves the direction that rescales
    every slope against every group's SD (only the reference group's fixed variance pins it)
    far from converged: on 30 groups x 3,000 persons x 40 items the groups' SDs came out 10%
    low and their means 10% shrunk; three Newton steps remove that."""
    if mode is False or quadrature.n_points(latent.latent_dim) is None:
        return None
    augmented = prepared.augmented
    return group_information.newton_refine(latent, augmented.codes, augmented.mask,
                                           prepared.membership)


def _is_label(value):
    return isinstance(value, (str, int, np.integer)) and not isinstance(value, bool)


def _check_supported(est):
    if est.pattern is None and est.n_factors > 1:
        raise ValueError("a multiple-group or latent-regression model with several factors "
                         "needs a confirmatory pattern (an exploratory model's rotation would "
                         "differ between groups)")
    if est.equal_slopes or est.parameters_table is not None:
        raise ValueError("equal_slopes and parameters= are not implemented for multiple-group "
                         "or latent-regression models; use invariance= and anchors=")
    types = est.item_type.values() if isinstance(est.item_type, dict) else [est.item_type]
    if any(str(getattr(name, "name", name)) == "Rasch" for name in types):
        raise ValueError("item_type 'Rasch' is not implemented for multiple-group models; use "
                         "'2PL' items with invariance=['slopes', 'intercepts', 'free_means', "
                         "'free_var']")


def _check_categories(responses, membership, groups, keywords, anchored):
    """Raises if a group never used some category of an item whose parameters are free in
    that group (its intercept would run off to infinity)."""
    free = "intercepts" not in keywords
    for j, item in enumerate(responses.items):
        if not free or j in anchored:
            continue
        answers = responses.answers[:, j]
        for g, label in enumerate(groups):
            seen = np.unique(answers[(membership == g) & answered(answers)]).astype(int)
            unused = sorted(set(range(int(responses.n_categories[j]))) - set(seen))
            if unused:
                names = {code: value for value, code in responses.category_map[item].items()}
                raise ValueError(
                    f"item {item!r}: group {label!r} has no answers in categories "
                    f"{[names[k] for k in unused]}, so its parameters cannot be estimated in "
                    f"that group; make the item an anchor (anchors=[{item!r}]) or use "
                    f"invariance='intercepts', or collapse the categories")


def factor_signs(slopes):
    """+-1 per factor: the sign of the reference group's largest absolute slope on it."""
    biggest = np.argmax(np.abs(slopes), axis=0)
    signs = np.sign(slopes[biggest, np.arange(slopes.shape[1])])
    return np.where(signs == 0, 1.0, signs)


def summarize(est, responses, membership):
    """Sets the fitted tables: items_ (group, item), group_parameters_, regression_,
    factor_corr_ (the reference group's), group_item_parameters_, n_parameters_."""
    likelihood = est.model_.likelihood
    persons, names = est.persons_, est.factor_names_
    n_groups = len(persons.groups)
    slopes = likelihood.decoder.slopes.numpy().astype(np.float64)
    values = likelihood.values()
    signs = factor_signs(slopes[0::n_groups])
    est.transform_ = np.diag(signs)
    parameters = {label: ItemParameters(responses.items, list(est.item_types_.values()),
                                        responses.n_categories,
                                        slopes[g::n_groups] * signs, values[g::n_groups], names)
                  for g, label in enumerate(persons.groups)}
    est.group_item_parameters_ = parameters
    reference = parameters[persons.groups[0]]
    est.item_parameters_ = reference
    if persons.grouped:
        est.items_ = pd.concat({label: found.table().loc[est.item_order_]
                                for label, found in parameters.items()},
                               names=[GROUP_LEVEL, "item"])
    else:
        est.items_ = reference.table().loc[est.item_order_]
    means = likelihood.latent("group_means").numpy() * signs
    covariances = likelihood.group_covariances().numpy() * np.outer(signs, signs)
    counts = np.bincount(membership, minlength=n_groups)
    rows = []
    for g in range(n_groups):
        row = {"n": int(counts[g])}
        row.update({f"MEAN_{d + 1}": means[g, d] for d in range(len(names))})
        row.update({f"COV_{d + 1}{e + 1}": covariances[g, d, e] for d in range(len(names))
                    for e in range(d + 1)})
        rows.append(row)
    est.group_parameters_ = pd.DataFrame(rows, index=pd.Index(
        [label if label is not None else "all" for label in persons.groups], name=GROUP_LEVEL))
    weights = likelihood.regression_weights().numpy() * signs[:, np.newaxis]
    est.regression_ = pd.DataFrame(weights, index=names, columns=persons.covariate_names)
    sd = np.sqrt(np.diag(covariances[0]))
    est.factor_corr_ = pd.DataFrame(covariances[0] / np.outer(sd, sd), index=names,
                                    columns=names)
    est.n_parameters_ = int(structural_basis(est.model_).shape[1])


def structural_basis(model):
    """`quadrature.free_basis` of a grouped `LatentModel` without the slopes a confirmatory
    pattern fixes at 0 (their weights exist but never move the likelihood)."""
    variables = model.likelihood.trainable_variables + model.prior.trainable_variables
    basis = quadrature.free_basis(model, variables)
    decoder = model.likelihood.decoder
    if decoder.pattern is None:
        return basis
    offset = 0
    for variable in variables:
        if variable is decoder.kernel:
            break
        offset += int(np.prod(variable.shape))
    zero = offset + np.flatnonzero(np.asarray(decoder.pattern).reshape(-1) == 0)
    keep = basis[zero].sum(axis=0) < basis.sum(axis=0)
    return basis[:, keep]


# -- scores -----------------------------------------------------------------------------------
def _groups_of(responses, n_groups):
    return np.argmax(responses.extra[:, :n_groups], axis=1)


def score(est, responses, quadrature_ok, num_samples):
    """EAP scores and posterior SDs of the reported theta [n, D] each (NumPy) of augmented
    responses (answer codes, then the extra columns)."""
    model, likelihood = est.model_, est.model_.likelihood
    n_groups = likelihood.n_groups
    extra = tf.constant(responses.extra, tf.float32)
    mean = likelihood.person_latent(extra)[0].numpy().astype(np.float64)
    signs = np.diag(est.transform_)
    trils = likelihood.group_scale_trils().numpy().astype(np.float64)
    membership = _groups_of(responses, n_groups)
    all_codes, all_mask = responses.codes, responses.mask
    loc = np.zeros((len(membership), len(signs)))
    scale = np.zeros_like(loc)
    for g in range(n_groups):
        rows = membership == g
        if not rows.any():
            continue
        transform = trils[g].T * signs  # theta (reported) = s * (m + L z): row z L^T S
        codes, mask = all_codes[rows], all_mask[rows]
        if quadrature_ok:
            loc[rows], scale[rows] = scoring.exact_eap(model, codes, mask, transform)
        else:
            loc[rows], scale[rows] = adaptive_sampling.eap(
                model, codes, mask, transform.astype(np.float32), num_samples=num_samples,
                seed=est.seed)
    return loc + mean * signs, scale


def plausible_values(est, responses, n_draws, seed, num_samples=512):
    """[n, n_draws, D] draws of the reported theta from each person's posterior (sampling
    importance resampling from the adapted proposal, `adaptive_sampling.posterior_draws`)."""
    model, likelihood = est.model_, est.model_.likelihood
    z = adaptive_sampling.posterior_draws(model, responses.codes, responses.mask, n_draws,
                                          num_samples=num_samples, seed=seed)
    extra = tf.constant(responses.extra, tf.float32)
    mean, tril = (t.numpy().astype(np.float64) for t in likelihood.person_latent(extra))
    theta = mean[:, np.newaxis, :] + np.einsum("nde,nse->nsd", tril, z)
    return theta * np.diag(est.transform_)


def group_item_parameters(est, group):
    """The `ItemParameters` of one group of a fitted multiple-group model."""
    one_of(group, list(est.group_item_parameters_), "group")
    return est.group_item_parameters_[group]


# -- standard errors --------------------------------------------------------------------------

def reported(est, variables):
    """The reported parameters of a grouped model as labels ((group, item), name),
    (('GROUP', group), 'MEAN_1' / 'COV_11' ...), (('REGRESSION', factor), covariate), and
    their Jacobian d phi / dw [R, W] (as `standard_errors._reported`)."""
    likelihood = est.model_.likelihood
    n_groups, groups = likelihood.n_groups, est.persons_.groups
    items, names = list(est.item_parameters_.items), est.factor_names_
    n_factors = len(names)
    signs = tf.constant(np.diag(est.transform_), tf.float32)
    free = np.asarray(est.estimated_slopes_, bool)
    labels, picks, blocks = [], [], []
    with tf.GradientTape(persistent=True) as tape:
        blocks.append(tf.reshape(likelihood.decoder.slopes * signs, [-1]))
        for j, item in enumerate(items):
            for g in range(n_groups):
                for d in np.flatnonzero(free[j]):
                    labels.append(((groups[g], item), f"a{d + 1}"))
                    picks.append((0, (j * n_groups + g) * n_factors + d))
        add_item_parameters(likelihood, lambda copy: (groups[copy % n_groups],
                                                      items[copy // n_groups]),
                            labels, picks, blocks)
        blocks.append(tf.reshape(likelihood.latent("group_means") * signs, [-1]))
        blocks.append(tf.reshape(likelihood.group_covariances()
                                 * signs[:, tf.newaxis] * signs, [-1]))
        for g, label in enumerate(groups):
            for d in range(n_factors):
                labels.append((("GROUP", label), f"MEAN_{d + 1}"))
                picks.append((len(blocks) - 2, g * n_factors + d))
                for e in range(d + 1):
                    labels.append((("GROUP", label), f"COV_{d + 1}{e + 1}"))
                    picks.append((len(blocks) - 1, (g * n_factors + d) * n_factors + e))
        covariates = est.persons_.covariate_names
        if covariates:
            blocks.append(tf.reshape(likelihood.regression_weights() * signs[:, tf.newaxis],
                                     [-1]))
            for d, factor in enumerate(names):
                for c, covariate in enumerate(covariates):
                    labels.append((("REGRESSION", factor), covariate))
                    picks.append((len(blocks) - 1, d * len(covariates) + c))
    return labels, picked_rows(block_jacobians(tape, blocks, variables), picks)


def se_tables(est, se):
    """(items, group parameters, regression) tables of SEs from {label: se}, shaped like
    items_, group_parameters_ (without n) and regression_ (NaN where fixed)."""
    items = est.items_.copy() * np.nan
    groups = est.group_parameters_.drop(columns="n").copy() * np.nan
    regression = est.regression_.copy() * np.nan
    for (where, name), value in se.items():
        kind, key = where
        if kind == "GROUP":
            groups.loc[key if key is not None else "all", name] = value
        elif kind == "REGRESSION":
            regression.loc[key, name] = value
        elif est.persons_.grouped:
            items.loc[(kind, key), name] = value
        else:
            items.loc[key, name] = value
    return items, groups, regression
