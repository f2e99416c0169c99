"""ItemFactorModel: item factor analysis of a persons x items DataFrame, mirt-style.

The model is a `LatentModel` like any other in the package: a normal prior over D factors, the
item response likelihood (2PL / graded, `latentvi.irt.likelihood`) and an amortized Gaussian
q(z | x) whose encoder sees each person's answers and observation mask. `fit` maximizes the
importance-weighted bound with `iw_samples` samples per person; as that number grows the bound
approaches the marginal likelihood, so the item parameters approach marginal maximum likelihood.

Exploratory models are fitted unrotated with z ~ N(0, I), then rotated (`latentvi.irt.rotation`);
confirmatory models (`pattern`) fix slopes at 0 and learn the factor correlations.
"""

import dataclasses
import warnings

import numpy as np
import pandas as pd

from latentvi._checks import non_negative_int, one_of, positive_int
from latentvi.estimate import MonteCarloEstimate
from latentvi.irt import (
    adaptive_sampling,
    fit_checks,
    item_fit,
    multiple_group,
    person_fit,
    quadrature,
    residuals,
    saving,
    score_methods,
    scoring,
    streamed_fit,
    streaming,
    training,
)
from latentvi.irt.information import item_information, test_information
from latentvi.irt.irt_parameters import irt_parameters
from latentvi.irt.item_parameters import ItemParameters
from latentvi.irt.items import get as get_item_type
from latentvi.irt.limited_information import limited_information_fit
from latentvi.irt.model_comparison import criteria
from latentvi.irt.parameter_table import (
    ParameterSpec,
    fixed_or_none,
    parameter_table,
    prior_lists,
    read_parameter_table,
    start_slopes,
)
from latentvi.irt.parameters import check_n_factors, n_parameters, orient, rasch_scale
from latentvi.irt.responses import (
    apply_category_map,
    encode_responses,
    grouped_by_type,
    item_types,
    select_items,
)
from latentvi.irt.screening import check_max_categories, check_missing_codes
from latentvi.irt.standard_errors import METHODS, standard_errors
from latentvi.irt.start import starting_values_of

__all__ = ["LOGLIK_DRAWS", "SCORE_DRAWS", "ItemFactorModel", "load"]

ROTATIONS = ("oblimin", "geomin", "varimax", None)
EXACT_CELLS = 50_000_000  # scores and log-likelihoods by quadrature up to this many evaluations
SE_CELLS = 500_000_000  # standard errors by quadrature up to this many evaluations x weights
# Default draws per person when sampling: (fewest, most, budget of persons x draws x items)
SCORE_DRAWS = (32, 256, 300_000_000)     # EAP scores
LOGLIK_DRAWS = (64, 1024, 600_000_000)   # the log-likelihood (even: two halves)
MAX_IW_SAMPLES = 100_000  # importance samples per person in the bound
_RASCH = "Rasch"  # `latentvi.irt.items.partial_credit.Rasch.name`


class ItemFactorModel:
    """Item factor analysis (multidimensional 2PL and graded response models) by amortized VI.

    Args:
      n_factors: number of latent traits D.
      item_type: one of mirt's item types for every item, '2PL' (alias 'binary'), '3PL',
        '4PL', 'graded', 'gpcm', 'Rasch', 'nominal' (or a registered custom type; see
        `latentvi.irt.items`), or {column: type} to mix them.
      pattern: None for an exploratory model, or a DataFrame items x factors of 0/1 whose zeros
        fix slopes at 0 (confirmatory); its columns name the factors.
      correlated_factors: confirmatory models learn the factor correlations (else identity).
      rotation: rotation of an exploratory model with D > 1: 'oblimin', 'geomin' (oblique),
        'varimax' (orthogonal) or None (unrotated). As mirt's coef(fit, rotate=...): the
        standardized loadings are rotated with GPArotation's defaults and each factor is
        signed so that its largest absolute loading is positive.
      normalize_rotation: Kaiser-normalize the loadings' rows before rotating (GPArotation's
        normalize=TRUE; mirt does not by default).
      iw_samples: importance samples k per person in the fitted bound (1 is the ELBO). The
        bound approaches the marginal likelihood as k grows, at k times the cost per step.
        None (default): k = 1,000 / n_items, between 5 and 50 (LSAT7: 50; 100 items: 10).
        `iw_samples_` holds the value used.
      equal_slopes: one slope per factor shared by all items (Rasch-like).
        Items of type 'Rasch' (mirt's itemtype='Rasch': slopes 1, latent variance free) are
        fitted so, with one factor: as a . z with z ~ N(0, 1), reported as 1 . theta with
        theta = a z ~ N(0, a^2) (`factor_var_`); every item of the model must then be 'Rasch'.
      priors: {item: {parameter: prior}} with prior ('norm', mean, sd), ('lnorm', meanlog,
        sdlog) or ('beta', a, b), as mirt's PRIOR: the log-prior is added to the fitted bound,
        so the estimate is the marginal MAP. Priors apply on the scale the parameter is
        estimated on: an asymptote g or u on the logit scale (a 'beta' prior there is on the
        probability, mirt's 'expbeta'). E.g. {'item5': {'g': ('norm', -1.5, 3)}}.
      seed: integer seed for initialization, batching and Monte Carlo draws.
      items: the column labels to fit as items, e.g. ['q1', 'q2', ...]; None fits every
        column. With `items`, `score`, `log_likelihood` and `information_criteria` take
        frames with other columns too (an ID, demographics) and use the fitted items only.
      missing_codes: values that mean "no answer" in every item, e.g. [-9, 99, '.']; such
        cells are treated as missing, at fit and when scoring new data.
      max_categories: a column with more distinct answers than this is refused as not an
        item (`SuspiciousColumns`), as is a column of at least 20 answers that are all
        distinct (an ID); the rules are in `latentvi.irt.screening`.
      parameters: an edited copy of `parameters()` (mirt's pars='values'): fixed slopes,
        starting values, priors, slopes made equal (`latentvi.irt.parameter_table`).
      refine: after the stochastic fit, maximize the marginal likelihood (or the posterior,
        with priors) exactly, by L-BFGS over adaptive Gauss-Hermite quadrature around each
        answer pattern's q(z | x) (`latentvi.irt.quadrature`): the estimates are then mirt's
        exact marginal ML / MAP, not within Monte Carlo noise of it. 'auto' (default) does so
        when it is cheap: at most 3 factors and at most 2 million item evaluations per pass
        (distinct answer patterns x nodes x items; nodes 21, 11 x 11, 7 x 7 x 7), which covers
        LSAT7, Science and 1,000 persons x 20 binary items at one factor (0.3-2 s), where the
        stochastic estimate's noise is largest against its standard errors; True always
        (worth it for 3PL / 4PL items, whose guessing sits on a flat ridge; and for large
        data, where the stochastic fit's distance from the maximum, about 1 standard error at
        100,000 persons, would make confidence intervals too short). Beyond 3 factors True
        takes Newton steps with the score and observed information estimated by importance
        sampling (`latentvi.irt.sampled_refinement`; about 10 times the fit's time at 100,000
        persons x 100 items x 5 factors). False never.

    Raises (in `fit`, before any training):
      SuspiciousColumns: columns that look like an ID or a demographic (a ValueError whose
        `columns` maps each to the reason).
      ValueError: n_factors larger than the number of items or, for an exploratory model,
        than the Ledermann bound (2 factors for 5 items; `parameters.max_exploratory_factors`).

    Attributes (after `fit`):
      items_: DataFrame indexed by item: a1..aD, then each type's parameters as mirt's
        coef(simplify=TRUE) names them (d, g, u, d1..d{K-1}, ak0.., d0..), rendered from
      item_parameters_: the items as an `ItemParameters` (what information, plots and saving
        use).
      factor_corr_: DataFrame D x D of factor correlations.
      factor_var_: Series of each factor's variance: 1, except in a Rasch model.
      category_map_: {item: {observed value: code 0..K-1}}.
      n_persons_: the number of persons fitted (those who answered at least one item).
      dropped_persons_: pd.Index of the persons dropped for answering no item (empty if none;
        of a fit on files, the first 100 of them).
      n_dropped_: how many persons were dropped.
      history_: DataFrame of the fit, one row per epoch (bound in nats per person); with the
        convergence rule an epoch is a check of 128 steps and `monitor_bound` is the bound
        of the monitored persons after it.
      converged_: True if the convergence rule stopped the fit, False if its budget ran out
        first, None for a fixed number of epochs.
      refinement_: the exact-ML refinement's `quadrature.Refinement` (log-likelihood per
        person before and after, iterations, whether it converged), beyond 3 factors a
        `sampled_refinement.SampledRefinement` (steps, draws, the last step in SEs), or None
        if not run.
      settings_: the epochs, batch_size, iw_samples, learning rates, max_steps, check_steps
        and tol the fit used.
      model_: the fitted `latentvi.LatentModel` (unrotated factors z).
      transform_: D x D matrix M with reported factors theta = z M.

    Examples:
      >>> from latentvi import irt, datasets
      >>> m = irt.ItemFactorModel(n_factors=1).fit(datasets.load_lsat7())
      >>> m.items_.round(2)  # a1, d per item, as mirt's coef(fit, simplify=TRUE)
    """

    def __init__(self, n_factors=1, item_type="binary", pattern=None, correlated_factors=True,
                 rotation="oblimin", iw_samples=None, seed=None, equal_slopes=False,
                 items=None, missing_codes=None, max_categories=20, priors=None,
                 normalize_rotation=False, parameters=None, refine="auto", invariance=None,
                 anchors=None):
        self.n_factors = n_factors
        self.item_type = item_type
        self.pattern = pattern
        self.correlated_factors = correlated_factors
        self.rotation = rotation
        self.iw_samples = iw_samples
        self.seed = seed
        self.equal_slopes = equal_slopes
        self.items = items
        self.missing_codes = missing_codes
        self.max_categories = max_categories
        self.priors = priors
        self.normalize_rotation = normalize_rotation
        self.parameters_table = parameters
        self.refine = refine
        self.invariance = invariance
        self.anchors = anchors

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, data, epochs=None, batch_size=None, verbose=1, callbacks=None, max_steps=None,
            tol=None, group=None, covariates=None, checkpoint_dir=None, strategy=None):
        """Fits the model to a persons x items DataFrame; returns self.

        Persons who answered no item carry no information and are dropped with a warning;
        `dropped_persons_` keeps their labels.

        By default the fit runs until it converges (`latentvi.convergence`): every 128 steps
        the bound is evaluated on 2,048 fixed persons with fixed Monte Carlo draws; when two
        such checks have not raised its best value by `tol` nats per person (and at least 8
        checks have run), the weights go back to the best check, the learning rate decays to
        1% over 0.4 times the steps taken so far (at least 512) and the fit stops.
        `converged_` says whether this happened within `max_steps`; if not, the fit warns.

        Args:
          data: DataFrame, rows = persons, columns = items (see `latentvi.irt.responses`);
            other columns too if `items` names the items. Or files too large for memory: a
            path, a glob ('exports/*.parquet'), a folder or a list of Parquet or CSV files
            with the same columns, read as a stream in row batches (`latentvi.irt.streaming`):
            memory stays flat in the number of persons; persons are numbered across the files
            unless a Parquet file stores a pandas index. The exact-ML refinement is not run on
            files (`refinement_` None).
          epochs: None (default) for the convergence rule, or a fixed number of passes over
            the data with a cosine-decayed learning rate and no convergence check
            (`converged_` is then None).
          batch_size: persons per step (None: chosen from the number of persons).
          max_steps: the convergence rule's budget of steps (default 20,000).
          tol: the rule's tolerance in nats per person (default 0.002).
          verbose: 1 (default) one status line (steps, checks, bound, seconds), redrawn in
            place on a terminal or in a notebook and written once at the end elsewhere (a log,
            a pipe); 2 one line per check; 0 silent (`latentvi.Progress`).
          callbacks: Keras callbacks passed to `latentvi.fit` (e.g. a progress display).
          group: a column of `data` (its name) or a Series indexed like `data` giving each
            person's group: a multiple-group model (mirt's multipleGroup), each group with its
            own copy of the items unless `invariance` / `anchors` make them equal, and its own
            latent mean and covariance where `invariance` frees them (the reference group, the
            first level, has mean 0 and variance 1). Results: `items_` indexed by (group,
            item), `group_parameters_`, scores on the common scale
            (`latentvi.irt.multiple_group`).
          covariates: a DataFrame indexed like `data`, or names of numeric columns of `data`:
            latent regression theta ~ N(mu_group + B c, Sigma_group) with the weights B
            (`regression_`) estimated; the encoder sees the covariates. There is no intercept:
            the latent mean is mu_group where every covariate is 0 (center them to put it at
            their means).
          checkpoint_dir: a folder where the state of the fit is saved after every check
            (`latentvi.checkpoint`): a fit killed on the way and started again with the same
            call goes on from its last check and ends with the same estimates (exactly, on a
            CPU with a seed). The folder's state is removed when the fit ends.
          strategy: a `tf.distribute` strategy, e.g. `MultiWorkerMirroredStrategy()` on
            several machines (each reads its TF_CONFIG; docs/scaling.md); needs `seed`. On
            files each worker reads its own share of the files (at least one per worker).

        A fit whose bound stops being finite stops with the weights of its last finite check
        and a `DivergenceWarning`; if no check was finite it raises FloatingPointError.
        """
        self.persons_ = None
        if group is not None or covariates is not None:
            return multiple_group.fit(self, data, group, covariates, epochs=epochs,
                                      batch_size=batch_size, verbose=verbose,
                                      callbacks=callbacks, max_steps=max_steps, tol=tol,
                                      checkpoint_dir=checkpoint_dir)
        if self.invariance is not None or self.anchors is not None:
            raise ValueError("invariance and anchors apply to a multiple-group fit; give "
                             "fit(data, group=...)")
        self._check_settings()
        if streaming.is_file_source(data):
            responses, stream = streamed_fit.scan_files(self, data, verbose)
        else:
            frame = data if self.items is None else select_items(data, self.items)
            responses = encode_responses(grouped_by_type(frame, self.item_type), self.item_type,
                                         missing_codes=self.missing_codes,
                                         max_categories=self.max_categories)
            self.item_order_ = [item for item in frame.columns if item in set(responses.items)]
            stream = None
        n_persons = responses.n_persons if stream is None else stream.n_persons
        self.item_types_ = dict(zip(responses.items, item_types(self.item_type,
                                                                 responses.items)))
        pattern = self._pattern_array(responses.items)
        n_factors = positive_int(self.n_factors, "n_factors")
        spec = self._parameter_spec(responses, n_factors, pattern)
        equal_slopes = self.equal_slopes_
        check_n_factors(n_factors, len(responses.items),
                        exploratory=pattern is None and not equal_slopes,
                        n_categories=responses.n_categories)
        settings = training.schedule(
            n_persons, len(responses.items), n_factors, epochs, batch_size, self.iw_samples,
            max_steps, tol, whole_batch_persons=max(get_item_type(name).whole_batch_persons
                                                    for name in self.item_types_.values()))
        self.model_ = training.build_model(
            responses.n_categories, n_factors, pattern, equal_slopes,
            self._learns_correlations(pattern), self.seed,
            item_types=list(self.item_types_.values()),
            priors=prior_lists(self.priors_, responses.items, list(self.item_types_.values()),
                               responses.n_categories),
            fixed_slopes=fixed_or_none(spec.fixed_slopes))
        self.model_.likelihood.set_persons(n_persons)
        start = starting_values_of(responses, n_factors, pattern, self.seed)
        if pattern is None:
            self.model_.likelihood.decoder.start_from(start.slopes)
        self.model_.likelihood.start_from(start.intercepts)
        start_slopes(self.model_.likelihood.decoder, spec.start_slopes)
        if spec.slope_groups:
            self.model_.likelihood.decoder.join(list(spec.slope_groups.values()))
        self.model_.likelihood.constrain(spec.fixed, list(spec.equal.values()), spec.values)
        self._constraint_savings = spec.savings
        self.settings_ = dataclasses.asdict(settings)
        progress = fit_checks.progress(n_persons, len(responses.items), settings, verbose)
        data_stream = (None if stream is None
                       else stream.dataset(settings.batch_size, self.seed, strategy))
        result, rule = training.run(self.model_, responses, settings, self.seed, 0,
                                    list(callbacks or []) + progress, stream=data_stream,
                                    n_persons=n_persons, checkpoint_dir=checkpoint_dir,
                                    strategy=strategy)
        fit_checks.check_diverged(result)
        self.history_ = result.history
        self.converged_ = None if rule is None else rule.converged
        self.refinement_ = (training.refine(self.model_, responses, self.refine)
                            if stream is None else streamed_fit.no_refinement(self.refine))
        fit_checks.warn_unconverged(rule, settings, stacklevel=2)
        self.category_map_ = responses.category_map
        self.n_persons_ = n_persons
        self.dropped_persons_ = (responses.dropped if stream is None
                                 else pd.Index(stream.scan.dropped))
        self.n_dropped_ = (len(responses.dropped) if stream is None
                           else stream.scan.n_dropped)
        self._summarize(responses, pattern)
        return self

    @property
    def iw_samples_(self):
        """The k the fit used (`iw_samples`, or the default chosen from the data)."""
        self._check_fitted()
        return self.settings_["iw_samples"]

    def _check_settings(self):
        positive_int(self.n_factors, "n_factors")
        if self.iw_samples is not None and positive_int(self.iw_samples,
                                                        "iw_samples") > MAX_IW_SAMPLES:
            raise ValueError(f"iw_samples must be at most {MAX_IW_SAMPLES:,} (the bound's "
                             f"gain beyond a few hundred is nil); got {self.iw_samples}")
        if self.seed is not None and non_negative_int(self.seed, "seed") >= 2**32:
            raise ValueError(f"seed must be below 2**32 (NumPy's and Keras' seeds are 32-bit); "
                             f"got {self.seed}")
        one_of(self.rotation, ROTATIONS, "rotation")
        if self.refine not in (True, False, "auto"):
            raise ValueError(f"refine must be True, False or 'auto'; got {self.refine!r}")
        check_missing_codes(self.missing_codes)
        check_max_categories(self.max_categories)
        if self.equal_slopes and self.pattern is None and self.n_factors > 1:
            raise ValueError("equal_slopes with n_factors > 1 needs a confirmatory pattern "
                             "(otherwise the factors are not identified)")

    def _rasch(self):
        """Whether the items are Rasch items (raises ValueError for what the Rasch fit, one
        common slope reported as the latent variance, does not cover)."""
        types = set(self.item_types_.values())
        if _RASCH not in types:
            return False
        if types != {_RASCH}:
            others = sorted(item for item, name in self.item_types_.items() if name != _RASCH)
            raise ValueError(f"item_type mixes 'Rasch' with other types (items {others[:10]}), "
                             f"which is not implemented: the Rasch model's latent variance is "
                             f"fitted as one slope shared by all items; make every item 'Rasch'")
        if self.n_factors != 1:
            raise ValueError(f"item_type 'Rasch' needs n_factors=1; got {self.n_factors}")
        return True

    def _equal_slopes(self):
        return bool(self.equal_slopes) or self._rasch()

    def _parameter_spec(self, responses, n_factors, pattern):
        """The edited parameter table's constraints (`parameters=`), merged with `priors` and
        `equal_slopes`; sets equal_slopes_, priors_ and estimated_slopes_."""
        n_items = len(responses.items)
        if self.parameters_table is None:
            spec = ParameterSpec(np.full((n_items, n_factors), np.nan),
                                 np.full((n_items, n_factors), np.nan), False, {})
        else:
            spec = read_parameter_table(self.parameters_table, responses.items,
                                        list(self.item_types_.values()),
                                        responses.n_categories, n_factors)
        fixed = ~np.isnan(spec.fixed_slopes)
        if fixed.any() and pattern is None and n_factors > 1:
            raise ValueError("fixing slopes of an exploratory model with several factors "
                             "leaves no rotation to make; give a confirmatory pattern")
        free = np.ones((n_items, n_factors), bool) if pattern is None else pattern > 0
        self.estimated_slopes_ = (free & ~fixed).tolist()
        self.equal_slopes_ = bool(self._equal_slopes() or spec.equal_slopes)
        self.priors_ = {item: dict(found) for item, found in (self.priors or {}).items()}
        for item, found in spec.priors.items():
            self.priors_.setdefault(item, {}).update(found)
        items = responses.items
        labels = [[items[j], name, label] for label, members in spec.equal.items()
                  for j, name in members]
        labels += [[items[j], f"a{d + 1}", label] for label, members in spec.slope_groups.items()
                   for j, d in members]
        self.constraints_ = {"fixed": [[items[j], name] for j, name in spec.fixed],
                             "labels": labels}
        return spec

    def _counted_pattern(self, pattern):
        """The slopes a parameter count includes: estimated ones (None: all, exploratory)."""
        estimated = np.asarray(self.estimated_slopes_, bool)
        if pattern is None and estimated.all():
            return None
        return estimated.astype(float)

    def parameters(self):
        """mirt's parameter table (`pars='values'`) of the fitted model: one row per parameter
        with its value, range, whether it was estimated, its prior and its equality label
        (`latentvi.irt.parameter_table`). Edit a copy and pass it as
        `ItemFactorModel(parameters=table)` to fix slopes, set starting values, add priors or
        make a factor's slopes equal."""
        self._check_fitted()
        self._single_group("parameters()")
        order = [self.item_parameters_.items.index(item) for item in self.item_order_]
        rasch = self._rasch()
        return parameter_table(
            self.item_parameters_.subset(self.item_order_),
            np.asarray(self.estimated_slopes_, bool)[order] & ~rasch, priors=self.priors_,
            equal_slopes=self.equal_slopes_,
            factor_var=self.factor_var_.to_numpy() if rasch else None,
            factor_corr=self.factor_corr_.to_numpy(),
            correlated=self._learns_correlations(self.pattern),
            fixed=[tuple(pair) for pair in self.constraints_["fixed"]],
            labels={(item, name): label for item, name, label in self.constraints_["labels"]})

    def _learns_correlations(self, pattern):
        return pattern is not None and bool(self.correlated_factors) and self.n_factors > 1

    def _pattern_array(self, items):
        if self.pattern is None:
            self.factor_names_ = [f"F{d + 1}" for d in range(self.n_factors)]
            return None
        pattern = self.pattern
        if not isinstance(pattern, pd.DataFrame):
            raise TypeError(f"pattern must be a DataFrame items x factors of 0/1; "
                            f"got {type(pattern).__name__}")
        if pattern.shape[1] != self.n_factors:
            raise ValueError(f"pattern has {pattern.shape[1]} columns but n_factors is "
                             f"{self.n_factors}")
        missing = [item for item in items if item not in pattern.index]
        if missing:
            raise ValueError(f"pattern has no row for items {missing}")
        if pattern.index.has_duplicates:
            repeated = list(pattern.index[pattern.index.duplicated()].unique())
            raise ValueError(f"pattern has more than one row for items {repeated}; give each "
                             f"item one row")
        values = pattern.loc[items].to_numpy()
        if not np.isin(values, (0, 1)).all():
            raise ValueError("pattern must hold only 0 (slope fixed at 0) and 1 (free slope)")
        empty = [item for item, row in zip(items, values) if not row.any()]
        if empty:
            raise ValueError(f"pattern gives items {empty} no factor; every item needs one")
        self.factor_names_ = [str(column) for column in pattern.columns]
        return values.astype(np.float32)

    def _summarize(self, responses, pattern):
        slopes = self.model_.likelihood.decoder.slopes.numpy()
        correlation = (self.model_.prior.correlation.numpy()
                       if self._learns_correlations(pattern) else np.eye(self.n_factors))
        method = self.rotation if pattern is None and self.n_factors > 1 else None
        if self._rasch():
            (self.transform_, slopes), self.rotation_converged_ = rasch_scale(slopes), True
        else:
            self.transform_, slopes, correlation, self.rotation_converged_ = orient(
                slopes, correlation, method, self.seed, normalize=bool(self.normalize_rotation))
        names = self.factor_names_
        self.item_parameters_ = ItemParameters(
            responses.items, list(self.item_types_.values()), responses.n_categories, slopes,
            self.model_.likelihood.values(), names)
        self.items_ = self.item_parameters_.table().loc[self.item_order_]
        self.factor_corr_ = pd.DataFrame(correlation, index=names, columns=names)
        self.n_parameters_ = n_parameters(responses.n_categories,
                                          self._counted_pattern(pattern), self.n_factors,
                                          self.equal_slopes_,
                                          self._learns_correlations(pattern),
                                          item_parameters=self.item_parameters_.n_free()
                                          - self._constraint_savings)

    # -- results ----------------------------------------------------------------------------
    @property
    def factor_var_(self):
        """Series: each factor's variance, 1 except in a Rasch model, whose variance is
        (common slope)^2 (the diagonal of M^T M with `transform_` M = diag(a))."""
        self._check_fitted()
        transform = np.asarray(self.transform_, float)
        variance = (np.diag(transform.T @ transform) if self._rasch()
                    else np.ones(len(self.factor_names_)))
        return pd.Series(variance, index=self.factor_names_, name="variance")

    def score(self, data, method="eap", num_samples=None, integration="auto", n_draws=5,
              seed=None, group=None, covariates=None, out=None, overwrite=False, verbose=1):
        """Person scores and their standard errors, as mirt's fscores(method=...).

        method: 'eap' (default): the posterior mean and SD of each factor (below); for
        one-factor models also 'map' (posterior mode; SE from the curvature of the log
        posterior), 'ml' (maximum likelihood, +-inf for all-lowest / all-highest patterns as
        mirt; SE from the observed information) and 'wle' (Warm's weighted likelihood), from
        `latentvi.irt.score_methods`.

        With at most 3 factors (`integration='auto'` or 'quadrature') they are computed by
        adaptive Gauss-Hermite quadrature around each answer pattern's q(z | x)
        (`latentvi.irt.quadrature`): exact, as mirt's. Otherwise ('sampling', or more factors)
        by adaptive importance sampling with quasi-random draws
        (`latentvi.irt.adaptive_sampling`: 16 draws from q place a Gaussian close to each
        person's posterior, then `num_samples` Sobol draws from it). The Monte Carlo error of
        an EAP is then a small share of its SE: on a 5-factor, 100-item model, 13% at 32
        draws, 8% at 64, 5% at 128 (RMS over persons); the total error of a score, its SE
        and this added in quadrature, is 0.8% / 0.3% / 0.1% larger than the SE. None
        (default): 256 draws, fewer for large data (persons x draws x items at most 3e8, at
        least 32 draws), so that scoring costs a fraction of the fit.

        `data` is coded as at fit time (the same `missing_codes`); with `items`, its other
        columns are left out.

        method='plausible': `n_draws` plausible values per person (`plausible_values`).

        `data` may also name files (a path, glob, folder or list of Parquet / CSV files, as in
        `fit`): they are read and scored chunk by chunk and the scores written to `out`
        (.parquet or .csv; an existing file only with `overwrite=True`), one progress line
        per chunk (`verbose=0`: none); returns the path written (`latentvi.irt.streamed_fit`).

        A multiple-group or latent-regression model scores by 'eap' (and 'plausible') on the
        common scale: each person's prior is their group's N(mu_g + B c, Sigma_g). Its group
        and covariates come from `data` as at fit time, or `group=` / `covariates=`.

        Returns:
          DataFrame indexed like `data`: F1..FD (or the pattern's factor names), SE_F1..SE_FD.
          Persons with no answers get the prior: mean 0, SD 1 (sqrt(factor_var_) in a Rasch
          model; their group's mean and SD in a multiple-group model).
        """
        one_of(method, ("eap", "map", "ml", "wle", "plausible"), "method")
        if streaming.is_file_source(data):
            return streamed_fit.score_files(
                self, data, out, method=method, num_samples=num_samples,
                integration=integration, n_draws=n_draws, seed=seed, overwrite=overwrite,
                verbose=verbose)
        if out is not None:
            raise ValueError("out= writes the scores of files; for a DataFrame, write the "
                             "returned scores yourself (e.g. .to_parquet(path))")
        if method == "plausible":
            return self.plausible_values(data, n_draws=n_draws, seed=seed, group=group,
                                         covariates=covariates)
        if self._grouped():
            return self._grouped_scores(data, method, num_samples, integration, group,
                                        covariates)
        responses = self._encode(data)
        if method != "eap":
            theta, se = score_methods.pattern_scores(
                self._one_factor_items(method), responses.codes.astype(int), responses.mask,
                method=method, variance=float(self.factor_var_.iloc[0]))
            names = self.factor_names_
            return pd.DataFrame({names[0]: theta, f"SE_{names[0]}": se}, index=responses.index)
        if self._quadrature(responses, integration):
            loc, scale = scoring.exact_eap(self.model_, responses.codes, responses.mask,
                                           self.transform_)
        else:
            draws = self._draws(responses, num_samples, SCORE_DRAWS)
            loc, scale = adaptive_sampling.eap(self.model_, responses.codes, responses.mask,
                                               self.transform_, num_samples=draws,
                                               seed=self.seed)
        scale[~responses.answered_any()] = np.sqrt(self.factor_var_.to_numpy())
        names = self.factor_names_
        return pd.DataFrame(np.hstack([loc, scale]), index=responses.index,
                            columns=names + [f"SE_{name}" for name in names])

    def _grouped_scores(self, data, method, num_samples, integration, group, covariates):
        if method != "eap":
            raise ValueError(f"method={method!r} is not implemented for multiple-group or "
                             f"latent-regression models; use 'eap' or 'plausible'")
        responses = self._encode(data, group=group, covariates=covariates)
        quadrature_ok = self._quadrature(responses, integration)
        draws = None if quadrature_ok else self._draws(responses, num_samples, SCORE_DRAWS)
        loc, scale = multiple_group.score(self, responses, quadrature_ok, draws)
        names = self.factor_names_
        return pd.DataFrame(np.hstack([loc, scale]), index=responses.index,
                            columns=names + [f"SE_{name}" for name in names])

    def _one_factor_items(self, what):
        self._check_fitted()
        self._single_group(what)
        if self.item_parameters_.n_factors != 1:
            raise ValueError(f"{what} is implemented for one-factor models; this one has "
                             f"{self.item_parameters_.n_factors} factors")
        return self.item_parameters_

    def eap_sum(self, data=None):
        """mirt's fscores(method='EAPsum', full.scores=FALSE) for a one-factor model: for each
        sum score s (of the category codes 0..K-1), E[theta | S = s] and its SD (the
        Lord-Wingersky recursion); with `data`, the expected and observed counts of each sum
        score among the persons who answered every item. DataFrame indexed by sum score."""
        parameters = self._one_factor_items("eap_sum")
        variance = float(self.factor_var_.iloc[0])
        if data is None:
            return score_methods.eap_sum(parameters, variance=variance)
        responses = self._encode(data)
        return score_methods.eap_sum(parameters, responses.codes.astype(int), responses.mask,
                                     variance=variance)

    def plausible_values(self, data, n_draws=5, seed=None, group=None, covariates=None):
        """`n_draws` draws of theta from each person's posterior: a DataFrame indexed like
        `data` with columns PV1..PVn (one factor; mirt's fscores(plausible.draws=)), or
        PV1_F1, PV1_F2, ... Over many draws their mean and SD reproduce the EAP and its SE.

        One-factor, one-group models invert each posterior's CDF on a fine grid
        (`score_methods.plausible_values`). Multiple-group, latent-regression and
        multi-factor models draw by sampling importance resampling from the adapted
        importance-sampling proposal (`adaptive_sampling.posterior_draws`), each person's
        prior being their group's N(mu_g + B c, Sigma_g): the draws respect the group and
        the covariates, as the plausible values of large assessments must (else group
        differences shrink towards the overall mean)."""
        self._check_fitted()
        n_draws = positive_int(n_draws, "n_draws")
        seed = self.seed if seed is None else seed
        if self._grouped() or len(self.factor_names_) > 1:
            responses = self._encode(data, group=group, covariates=covariates)
            transform = (None if self._grouped() else np.asarray(self.transform_, float))
            draws = (multiple_group.plausible_values(self, responses, n_draws, seed)
                     if transform is None else adaptive_sampling.posterior_draws(
                         self.model_, responses.codes, responses.mask, n_draws,
                         seed=seed) @ transform)
            names = self.factor_names_
            columns = ([f"PV{k + 1}" for k in range(n_draws)] if len(names) == 1 else
                       [f"PV{k + 1}_{name}" for k in range(n_draws) for name in names])
            return pd.DataFrame(draws.reshape(len(draws), -1), index=responses.index,
                                columns=columns)
        parameters = self._one_factor_items("plausible_values")
        responses = self._encode(data)
        draws = score_methods.plausible_values(
            parameters, responses.codes.astype(int), responses.mask, n_draws=n_draws,
            variance=float(self.factor_var_.iloc[0]), seed=seed)
        return pd.DataFrame(draws, index=responses.index,
                            columns=[f"PV{k + 1}" for k in range(draws.shape[1])])

    def marginal_rxx(self):
        """mirt's marginal_rxx: the marginal reliability of a one-factor model, the integral
        of v I(theta) / (v I(theta) + 1) over theta ~ N(0, v) (`score_methods`)."""
        return score_methods.marginal_rxx(self._one_factor_items("marginal_rxx"),
                                          variance=float(self.factor_var_.iloc[0]))

    def irt_parameters(self, standard_errors=None):
        """mirt's coef(fit, IRTpars = TRUE) for a one-factor model: a, b = -d / a (2PL, 3PL,
        4PL; g and u as they are), thresholds b_k = -d_k / a (graded), step difficulties
        b_k = -(d_k - d_(k-1)) / a (gpcm, Rasch), Bock's a_k, c_k (nominal); with
        `standard_errors` (what `standard_errors(data)` returned) their delta-method SEs in
        SE_ columns beside each (`latentvi.irt.irt_parameters`). DataFrame indexed by item,
        in the order of `items_`."""
        self._one_factor_items("irt_parameters")
        vcov = None if standard_errors is None else standard_errors.vcov
        return irt_parameters(self.item_parameters_, vcov).loc[self.item_order_]

    def log_likelihood(self, data, num_samples=None, integration="auto"):
        """The marginal log-likelihood sum_i log p(x_i), in nats.

        Returns a `latentvi.MonteCarloEstimate`: a float with `.se`. By adaptive Gauss-Hermite
        quadrature around each person's q(z | x) (`integration='quadrature'`; at most 3
        factors) the value is exact to ~1e-6 nats per person and `.se` is 0. By importance
        sampling ('sampling'; `latentvi.irt.adaptive_sampling`: 16 draws from q place a
        Gaussian close to each person's posterior, then `num_samples` quasi-random draws from
        it, as two independent randomizations of num_samples / 2 Sobol points), `.se` is the
        Monte Carlo standard error of the sum, from the two halves' difference (sqrt of the
        sum of the persons' squared SEs); `str` prints the value to the precision the error
        supports. Each person's estimate is corrected for the log's bias by half its squared
        SE (the delta method: E[log mean w] ~ log p(x) - Var(mean w) / (2 p(x)^2)). On a
        5-factor, 100-item model the per-person error is 0.049 nats at 64 draws, 0.029 at
        128, 0.018 at 256 (the SE of a sum over n persons: that times sqrt(n)).
        num_samples None (default): 1,024 draws, fewer for large data (persons x draws x
        items at most 6e8, at least 64). 'auto' integration (default): quadrature when the
        model has at most 3 factors and the data at most 50 million item evaluations
        (distinct answer patterns x nodes x items), else sampling.

        `data` may name files (as in `fit`): the sum then runs over chunks of
        `streaming.CHUNK_ROWS` persons, each integrated as above.
        """
        if streaming.is_file_source(data):
            return streamed_fit.log_likelihood_files(self, data, num_samples, integration)[0]
        responses = self._encode(data)
        if self._quadrature(responses, integration):
            values = scoring.exact_log_likelihood(self.model_, responses.codes, responses.mask)
            return MonteCarloEstimate(float(np.sum(values)), 0.0)
        return scoring.total(*adaptive_sampling.log_likelihood(
            self.model_, responses.codes, responses.mask,
            num_samples=self._draws(responses, num_samples, LOGLIK_DRAWS), seed=self.seed))

    def _draws(self, responses, num_samples, limits):
        """num_samples, or for None the most draws in `limits` (low, high) that keep persons x
        draws x items within the budget (at least low)."""
        if num_samples is not None:
            return positive_int(num_samples, "num_samples")
        low, high, budget = limits
        cells = max(int(responses.answered_any().sum()), 1) * len(responses.items)
        return int(np.clip(budget // cells, low, high))

    def _quadrature(self, responses, integration):
        """Whether `integration` ('auto', 'quadrature', 'sampling') means quadrature here."""
        one_of(integration, ("auto", "quadrature", "sampling"), "integration")
        if integration == "sampling":
            return False
        n_factors = self.model_.latent_dim
        if quadrature.n_points(n_factors) is None:
            if integration == "quadrature":
                raise ValueError(f"integration='quadrature' needs at most 3 factors; this model "
                                 f"has {n_factors} (use integration='sampling')")
            return False
        if integration == "quadrature":
            return True
        patterns = len(scoring.unique_patterns(responses.codes, responses.mask)[0])
        return quadrature.cells(patterns, len(responses.items), n_factors) <= EXACT_CELLS

    def information_criteria(self, data, num_samples=None, integration="auto"):
        """Series: loglik, loglik_se (0 by quadrature; else its Monte Carlo SE, and the
        criteria's are twice it), n_params, AIC = -2 loglik + 2 p, BIC = -2 loglik + p log(n),
        SABIC and HQ (`latentvi.irt.model_comparison`). `integration` as in `log_likelihood`."""
        if streaming.is_file_source(data):
            loglik, n_persons = streamed_fit.log_likelihood_files(self, data, num_samples,
                                                                  integration)
        else:
            loglik = self.log_likelihood(data, num_samples=num_samples,
                                         integration=integration)
            n_persons = self._encode(data).n_persons
        n_params = self.n_parameters_
        return pd.Series({"loglik": float(loglik), "loglik_se": loglik.se, "n_params": n_params,
                          **criteria(loglik, n_params, n_persons)})

    def fit_statistics(self, data):
        """Limited-information goodness of fit (`latentvi.irt.limited_information`): M2 for
        binary items, C2 when some item has more categories, with df, p, RMSEA and its 90%
        interval, SRMSR, TLI and CFI, as mirt's M2(). Persons with a missing answer are left
        out (with a warning): the statistic needs complete response vectors.

        Returns:
          `FitStatistics` (a named tuple; `.to_series()` for a table row).
        """
        self._check_fitted()
        self._single_group("fit_statistics")
        responses = self._encode(data)
        complete = responses.mask.all(axis=1)
        if not complete.all():
            warnings.warn(f"fit_statistics uses the {int(complete.sum())} persons who answered "
                          f"every item; {int((~complete).sum())} with missing answers are left "
                          f"out", stacklevel=2)
        if complete.sum() < 2:
            raise ValueError("fit_statistics needs persons who answered every item; there are "
                             f"{int(complete.sum())}")
        # the coded columns are in the fit's item order, that of item_parameters_
        return limited_information_fit(self, responses.codes[complete])

    def item_fit(self, data, fit_stats=None, mincell=1.0, method="eap"):
        """mirt's itemfit(): a DataFrame indexed by item (in the order of `items_`).

        fit_stats: any of
          'S_X2': Orlando & Thissen's S-X2 with df, RMSEA and p (`latentvi.irt.item_fit`;
            any number of factors; small expected cells collapsed as mirt does, `mincell`;
            persons who answered every item);
          'Zh': Drasgow's standardized log-likelihood of the item's answers;
          'infit': the outfit and infit mean squares and their z (`latentvi.irt.person_fit`;
            residuals at the persons' `method` scores, over the persons who answered the item).
          Default: all three.
        method: the person scores behind Zh and infit ('eap', or for one factor 'map', 'ml',
          'wle'; as `score`).
        """
        self._check_fitted()
        self._single_group("item_fit")
        fit_stats = ("S_X2", "Zh", "infit") if fit_stats is None else (
            (fit_stats,) if isinstance(fit_stats, str) else fit_stats)
        for name in fit_stats:
            one_of(name, ("S_X2", "Zh", "infit"), "fit_stats")
        responses = self._encode(data)
        codes, mask = responses.codes.astype(int), responses.mask
        tables = []
        if "S_X2" in fit_stats:
            tables.append(item_fit.s_x2(self.item_parameters_, codes, mask,
                                        variance=self.factor_var_.to_numpy(), mincell=mincell,
                                        correlation=self.factor_corr_.to_numpy()))
        if "Zh" in fit_stats or "infit" in fit_stats:
            theta = self.score(data, method=method).to_numpy()[:, :len(self.factor_names_)]
            table = person_fit.item_statistics(self.item_parameters_, codes, mask, theta)
            keep = (["Zh"] if "Zh" in fit_stats else []) + (
                person_fit.COLUMNS[:4] if "infit" in fit_stats else [])
            tables.insert(0, table[keep])
        return pd.concat(tables, axis=1).loc[self.item_order_]

    def person_fit(self, data, method="eap"):
        """mirt's personfit(): a DataFrame indexed like `data` with each person's outfit,
        z_outfit, infit, z_infit and Zh (`latentvi.irt.person_fit`), from the residuals at
        the person's `method` scores ('eap', or for one factor 'map', 'ml', 'wle'). Large
        negative Zh and z (below -2, say) flag answer strings the model finds unlikely;
        persons with no answers get NaN."""
        self._check_fitted()
        self._single_group("person_fit")
        responses = self._encode(data)
        theta = self.score(data, method=method).to_numpy()[:, :len(self.factor_names_)]
        table = person_fit.person_statistics(self.item_parameters_,
                                             responses.codes.astype(int), responses.mask, theta)
        return table.set_axis(responses.index)

    def residuals(self, data, type="LD"):
        """mirt's residuals(): local dependence between item pairs (`latentvi.irt.residuals`).

        type: 'LD' (Chen & Thissen's X2 below the diagonal, the signed Cramer's V above it;
          persons who answered both items of a pair) or 'Q3' (Yen's Q3: correlations of the
          items' residuals at the persons' EAP scores; persons who answered every item).
        Returns a DataFrame items x items in the order of `items_`.
        """
        self._check_fitted()
        self._single_group("residuals")
        one_of(type, ("LD", "Q3"), "type")
        responses = self._encode(data)
        codes, mask = responses.codes.astype(int), responses.mask
        if type == "LD":
            table = residuals.local_dependence(
                self.item_parameters_, codes, mask, self.factor_corr_.to_numpy(),
                self.factor_var_.to_numpy())
        else:
            complete = mask.all(axis=1)
            scores = self.score(data).to_numpy()[:, :len(self.factor_names_)]
            table = residuals.q3(self.item_parameters_, codes[complete],
                                 scores[complete])
        return table.loc[self.item_order_, self.item_order_]

    def standard_errors(self, data, method="observed", integration="auto", num_samples=None,
                        seed=None):
        """Standard errors of the estimated parameters (`latentvi.irt.standard_errors`).

        Args:
          data: the data the model was fitted to (a DataFrame as in `fit`).
          method: 'observed' (default; the observed information, mirt's SE.type 'Oakes'),
            'sandwich' (robust) or 'crossprod' (the cross-product of the persons' scores).
          integration: how the information's integrals over the factors are done:
            'quadrature' (adaptive Gauss-Hermite, exact; at most 3 factors), 'sampling'
            (importance sampling from q with `num_samples` draws per person, Louis' identity;
            `latentvi.irt.sampled_information`; any number of factors and persons; the
            result's `mc_error` says how much noise the draws leave) or 'auto' (default:
            quadrature when it is cheap, at most 3 factors and 500 million item evaluations
            times weights, else sampling).
          num_samples, seed: draws per person (even) and their seed, when sampling. None
            (default): 32, then 4 times more while `mc_error` exceeds 1%, up to 2,048 (large
            data sets stop at 32: the error averages over persons).

        An exploratory model with several factors reports the SEs of its rotated solution:
        the rotated slopes and, for an oblique rotation ('oblimin', 'geomin'), the factor
        correlations (in `.factor_corr`; varimax fixes them at 0). The rotation is a function
        of the fitted unrotated slopes, and the delta method goes through it (the rotation's
        Jacobian by implicit differentiation of its stationarity conditions,
        `latentvi.irt.rotation_jacobian`); the information is singular along rotations of the
        unrotated factors, which change neither the likelihood nor the rotated solution, and
        those D (D - 1) / 2 directions are left out before it is inverted. mirt reports no
        SEs for a rotated solution.

        Returns:
          `StandardErrors`: `.items` (shaped like `items_`), `.factor_corr`, `.vcov`,
          `.mc_error`.

        Raises:
          ValueError: for an unrotated exploratory model with several factors
            (`rotation=None`): its slopes are identified only up to a rotation of the factors
            and have no standard errors; fit with a rotation, or a confirmatory pattern.
        """
        self._check_fitted()
        one_of(method, METHODS, "method")
        one_of(integration, ("auto", "quadrature", "sampling"), "integration")
        n_factors = self.model_.latent_dim
        if integration == "quadrature" and quadrature.n_points(n_factors) is None:
            raise ValueError(f"integration='quadrature' needs at most 3 factors; this model "
                             f"has {n_factors} (use integration='sampling')")
        responses = self._encode(data)
        if self._grouped():
            # group by group by quadrature (`group_information`), at any number of persons
            if integration == "sampling" or quadrature.n_points(n_factors) is None:
                raise NotImplementedError(
                    "standard errors of a multiple-group or latent-regression model are "
                    "computed by quadrature (at most 3 factors); importance sampling is not "
                    "implemented for them yet")
            sampling = False
        else:
            sampling = integration == "sampling" or (
                integration == "auto" and not self._cheap_information(responses))
        return standard_errors(self, responses.codes, responses.mask, method,
                               sampling=sampling,
                               num_samples=None if num_samples is None
                               else positive_int(num_samples, "num_samples"),
                               seed=int(self.seed or 0) if seed is None else int(seed))

    def _cheap_information(self, responses):
        """Whether the quadrature information costs at most SE_CELLS (item evaluations x
        weight entries: the Hessian takes one backward pass per entry)."""
        n_factors = self.model_.latent_dim
        if quadrature.n_points(n_factors) is None:
            return False
        patterns = len(scoring.unique_patterns(responses.codes, responses.mask)[0])
        weights = (self.model_.likelihood.trainable_variables
                   + self.model_.prior.trainable_variables)
        entries = sum(int(np.prod(v.shape)) for v in weights)
        return quadrature.cells(patterns, len(responses.items), n_factors) * entries <= SE_CELLS

    def item_information(self, theta, direction=None):
        """Fisher information of each item at theta (see `latentvi.irt.information`)."""
        self._check_fitted()
        self._single_group("item_information")
        return item_information(self.item_parameters_, theta, direction)[self.item_order_]

    def test_information(self, theta, direction=None):
        """Sum of the item informations at theta: a Series indexed like the theta rows."""
        self._check_fitted()
        self._single_group("test_information")
        return test_information(self.item_parameters_, theta, direction)

    # -- saving ---------------------------------------------------------------------------
    def save(self, path, overwrite=False):
        """Writes the fitted model to one file (`latentvi.irt.load` reads it back): the network
        with its optimizer state, the settings, the category map and every fitted table.

        Raises FileExistsError rather than overwrite an existing file unless `overwrite=True`.
        """
        self._check_fitted()
        self._single_group("save")
        saving.save(self, path, overwrite=overwrite)

    def _encode(self, data, group=None, covariates=None):
        """The coded responses of `data`; a multiple-group / latent-regression model's rows
        end with the persons' extra columns (group one-hot, standardized covariates)."""
        self._check_fitted()
        grouped = self._grouped()
        responses = apply_category_map(data, self.category_map_, missing_codes=self.missing_codes,
                                       ignore_extra=self.items is not None or grouped)
        if not grouped:
            return responses
        return responses.with_extra(
            self.persons_.extra_columns(data, group=group, covariates=covariates))

    def _grouped(self):
        """Whether the model was fitted with groups or covariates."""
        return getattr(self, "persons_", None) is not None

    def _single_group(self, what):
        if self._grouped():
            raise NotImplementedError(
                f"{what} is not implemented for multiple-group or latent-regression models "
                f"yet; fit the groups one at a time (or without covariates) for it")

    def _check_fitted(self):
        if not hasattr(self, "items_"):
            raise RuntimeError("this ItemFactorModel is not fitted yet; call fit(data) first")

    def __repr__(self):
        kind = "exploratory" if self.pattern is None else "confirmatory"
        return (f"ItemFactorModel(n_factors={self.n_factors}, item_type={self.item_type!r}, "
                f"{kind}, rotation={self.rotation!r}, iw_samples={self.iw_samples})")


def load(path):
    """Reads a file written by `ItemFactorModel.save`; returns the fitted `ItemFactorModel`.

    Raises:
      TypeError: `path` is not a path.
      FileNotFoundError: no file at `path`.
      ValueError: a folder, a file that is not a saved model, one written by a newer latentvi
        (upgrade to read it), or a damaged one (cut short, altered bytes, missing parts).
    """
    return saving.load(path, ItemFactorModel)
