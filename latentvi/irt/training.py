"""How an ItemFactorModel is built and fitted: the network, the bound and the default schedule.

Defaults (chosen on LSAT7 and simulated 2PL / graded data; figures are slope RMSEs against the
simulated truth from benchmarks/irt.py's designs, 100 items, 5 or 10 correlated factors):
- encoder: one hidden layer of 64 tanh units on [x * mask, mask]; q(z | x) Gaussian with a full
  covariance when D > 1 (posterior correlations between factors are real in IRT). Wider
  encoders (128 tanh, 100 ELU) gave worse slopes at 10,000 x 100 x 5 (0.07-0.08 vs 0.05);
- bound: IWAE with k samples, doubly reparameterized gradients for the encoder (their
  signal-to-noise ratio does not fall as k grows);
- k = 1,000 / J, between 5 and 50 (LSAT7: 50; 20 items: 50; 100 items: 10). A small k biases
  the slopes towards 0: at 10,000 x 100 x 5, k = 5 gave 0.053-0.055 (estimated/true 0.97),
  k = 10 0.040-0.045 (0.98-0.99);
- batches of n/8 persons, a power of 2 between 32 and 256 (at 10,000 x 100 x 10, batches of
  128 left the slopes unconverged after 1,500 steps: 0.34); up to 512 persons every step sees
  all of them: on Science (392 persons, 4 graded items) batches of 64 stopped 0.18 nats below
  the maximum, with estimates up to 0.15 from mirt's (the remaining gain, ~0.0005 nats per
  person, hides in the minibatch noise), while the whole sample reached mirt's log-likelihood
  to 0.001 and its estimates to 0.007;
- optimizer: Adam at a learning rate of 0.01 until the convergence rule finds a plateau, then
  a cosine decay to 1% of it (`latentvi.convergence`), so that the Monte Carlo noise of the
  last steps averages out; the encoder's rate is min(0.01, 0.05 / D) (`EncoderScaledAdam`).
  Adam moves each weight by about the learning rate per step, and an encoder step moves all D
  coordinates of every person's q(z | x) at once; the noise this adds to the draws of z
  attenuates the slopes like measurement error in a regression. With the encoder at 0.01,
  10-factor slopes came out 3-7% short (0.050-0.128 across seeds at 10,000 x 100 x 10); with the
  encoder at 0.005 and everything else at 0.01, 0.046-0.050. An overall 0.02 made 5-factor
  slopes drift towards 0 (0.24, ratio 0.87). Each gradient coordinate is clipped to 3 times its
  running RMS: at a constant 0.01 single outlying minibatches dropped the bound of a 5-factor
  model by 2-10 nats per person for hundreds of steps (Adam turns one outlier into ~30
  learning rates of movement of every weight); clipped, the dips recover within one check;
- when to stop: the convergence rule, checking every 128 steps on 2,048 fixed persons with
  fixed draws; a plateau is two checks without a gain of 0.002 nats per person in the best
  value, declared no earlier than the 8th check (a bound with many importance samples hardly
  sees the encoder, which kept improving: EAP errors against quadrature grew from 4.5 to 5.5
  Monte Carlo SEs when easy fits stopped at the 5th); the decay then runs for 0.4 times the
  steps so far, at least 4 checks. Measured on benchmarks/irt_exploratory.py's designs (seed 1;
  steps and slope RMSE; 20k x 100 x 5 confirmatory, exploratory; 200k x 200 x 10 exploratory):
  patience 3 and half the steps: 2,176 / 0.016, 2,944 / 0.025, 1,920 / 0.015; patience 2 and
  0.4: 1,792 / 0.014, 1,536 / 0.025, 1,664 / 0.017; patience 3 and 0.33: 1,920 / 0.023,
  2,560 / 0.028, 1,792 / 0.017 (a short decay leaves step noise in the estimates). Budget:
  20,000 steps;
- start: intercepts, and an exploratory model's slopes, from principal-axis factoring of the
  item correlations (`latentvi.irt.start`): from equal positive slopes the factors of an
  exploratory model start interchangeable and 1,500 steps left 20,000 x 100 x 5 slopes at RMSE
  0.055 against 0.026. Confirmatory slopes start random and positive: from the factor-analytic
  start a 200,000 x 200 x 10 confirmatory fit with cross-loadings crawled (6,016 steps, slope
  RMSE 0.045) where the random start took 3,712 steps to 0.009;
- 32 steps per compiled call (per-step Python overhead dominated small models); XLA only where
  Keras enables it ('auto': accelerators, not CPUs, where it was 20% slower).
"""

import math
from dataclasses import dataclass

import keras
import numpy as np

from latentvi._checks import positive_float, positive_int
from latentvi.convergence import Convergence, PlateauCosine
from latentvi.fitting import fit
from latentvi.irt import quadrature, sampled_refinement
from latentvi.irt.groups import GroupedItemResponse
from latentvi.irt.likelihood import ItemResponse, ItemSlopes
from latentvi.irt.scoring import unique_patterns
from latentvi.model import LatentModel
from latentvi.networks import mlp
from latentvi.objectives import IWAE
from latentvi.optimizers import EncoderScaledAdam
from latentvi.posteriors import GaussianPosterior
from latentvi.priors import CorrelatedNormal, StandardNormal

__all__ = ["REFINE_CELLS", "Settings", "build_model", "refine", "run", "schedule"]

LEARNING_RATE = 0.01
ENCODER_STEP = 0.05  # encoder learning rate x factors: how far one step moves q(z | x)
FINAL_FRACTION = 0.01
MAX_STEPS = 20_000
MAX_FIXED_STEPS = 10_000_000  # a fixed number of epochs beyond this many steps is a typo
CHECK_STEPS = 128
TOL = 2e-3
PATIENCE = 2
MONITOR_ROWS = 2048
ANNEAL_FRACTION, MIN_ANNEAL_CHECKS = 0.4, 4
MIN_CHECKS = 8  # with the annealing, at least 12 checks: 1,536 steps, the old fixed budget
CLIP_RATIO = 3.0  # gradient coordinates clipped to 3x their running RMS (see above)
MIN_BATCH, MAX_BATCH = 32, 256
WHOLE_BATCH_PERSONS = 512  # up to this many persons, every step sees them all (see above)
BATCH_FRACTION = 8
HIDDEN_UNITS = 64
STEPS_PER_EXECUTION = 32
SAMPLED_ITEMS = 1000
MIN_IW_SAMPLES, MAX_IW_SAMPLES = 5, 50
REFINE_CELLS = 2_000_000  # 'auto' refines when patterns x nodes x items is at most this


@dataclass
class Settings:
    """The settings of one fit.

    epochs: fixed passes over the data (cosine-decayed learning rate, no convergence rule), or
      None: the convergence rule (`latentvi.convergence`) with a budget of max_steps.
    max_steps: the rule's budget; check_steps: steps between two checks of the rule; tol: the
      rule's tolerance in nats per person per check.
    """
    epochs: int | None
    batch_size: int
    iw_samples: int
    learning_rate: float
    encoder_learning_rate: float
    max_steps: int
    check_steps: int
    tol: float


def schedule(n_persons, n_items, n_factors=1, epochs=None, batch_size=None, iw_samples=None,
             max_steps=None, tol=None, whole_batch_persons=WHOLE_BATCH_PERSONS):
    """Default (or checked) settings for n persons, J items and D factors; up to
    `whole_batch_persons` persons (the item types' `whole_batch_persons`, at least 512) every
    step sees them all."""
    encoder_learning_rate = min(LEARNING_RATE, ENCODER_STEP / n_factors)
    if batch_size is None and n_persons <= max(whole_batch_persons, WHOLE_BATCH_PERSONS):
        batch_size = max(n_persons, 1)
    elif batch_size is None:
        batch_size = int(min(MAX_BATCH, max(MIN_BATCH, 2 ** round(
            math.log2(max(n_persons, 1) / BATCH_FRACTION)))))
    batch_size = positive_int(batch_size, "batch_size")
    if iw_samples is None:
        iw_samples = int(min(MAX_IW_SAMPLES, max(MIN_IW_SAMPLES,
                                                 SAMPLED_ITEMS // max(1, n_items))))
    if epochs is not None:
        epochs = positive_int(epochs, "epochs")
        steps = epochs * math.ceil(max(n_persons, 1) / batch_size)
        if steps > MAX_FIXED_STEPS:
            raise ValueError(f"epochs={epochs:,} means {steps:,} steps of {batch_size} persons, "
                             f"more than {MAX_FIXED_STEPS:,}; give fewer epochs (or leave "
                             f"epochs=None: the fit then runs until it converges)")
    max_steps = MAX_STEPS if max_steps is None else positive_int(max_steps, "max_steps")
    tol = TOL if tol is None else positive_float(tol, "tol")
    return Settings(epochs, batch_size, positive_int(iw_samples, "iw_samples"), LEARNING_RATE,
                    encoder_learning_rate, max_steps, CHECK_STEPS, tol)


def build_model(n_categories, n_factors, pattern, equal_slopes, correlated, seed=None,
                item_types=None, priors=None, fixed_slopes=None, grouping=None):
    """The LatentModel: normal prior, item response likelihood (items of `item_types`, by
    default 2PL and graded), masked Gaussian encoder. With `grouping` (the keyword arguments
    of `GroupedItemResponse`: n_items, n_groups, ...) the items are each group's copies and
    the data rows carry the groups and covariates after the answers."""
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    n_items = len(n_categories)
    prior = (CorrelatedNormal(n_factors) if correlated else StandardNormal(n_factors))
    slopes = ItemSlopes(n_items, n_factors, pattern=pattern, equal_slopes=equal_slopes,
                        fixed=fixed_slopes)
    if grouping is None:
        likelihood = ItemResponse(slopes, n_categories, item_types, priors=priors)
    else:
        likelihood = GroupedItemResponse(slopes, n_categories, item_types, priors=priors,
                                         **grouping)
        n_items = (grouping["n_items"] + grouping["n_groups"]
                   + len(grouping["covariate_center"]))
    encoder = mlp((HIDDEN_UNITS,), activation="tanh")
    posterior = GaussianPosterior(encoder, n_factors, masked=True,
                                  covariance="full" if n_factors > 1 else "diag")
    model = LatentModel(prior, likelihood, posterior)
    model.build_for_shape((n_items,))
    return model


def run(model, responses, settings, seed, verbose, callbacks=None, stream=None,
        n_persons=None, **fit_options):
    """Fits `model` to the coded responses; returns (latentvi's `FitResult`, the `Convergence`
    rule or None for a fixed number of epochs).

    stream: None (train on `responses`), or an endless batched `tf.data.Dataset` of (codes,
    mask) of `n_persons` persons (a fit on files, `latentvi.irt.streamed_fit`); `responses`
    is then a sample of them, whose persons the convergence rule monitors.
    fit_options: `checkpoint_dir` (where the fit's state, the rule's among it, is written
    after every check: the same call run again after an interruption resumes from the last
    check and ends as the uninterrupted fit would) and `strategy` (a `tf.distribute`
    strategy), passed to `latentvi.fit`.
    """
    n_persons = responses.n_persons if n_persons is None else n_persons
    if settings.epochs is not None:
        steps_per_epoch = math.ceil(n_persons / settings.batch_size)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            settings.learning_rate, settings.epochs * steps_per_epoch, alpha=FINAL_FRACTION)
        return _fit(model, responses, settings, learning_rate, settings.epochs,
                    None if stream is None else steps_per_epoch, seed, verbose, callbacks,
                    stream, **fit_options), None
    learning_rate = PlateauCosine(settings.learning_rate, FINAL_FRACTION)
    windows = math.ceil(settings.max_steps / settings.check_steps)
    monitored = responses.rows(_monitor_rows(responses.n_persons, seed))
    rule = Convergence(monitored.codes, monitored.mask,
                       IWAE(k=settings.iw_samples), learning_rate, settings.check_steps,
                       windows, tol=settings.tol, patience=PATIENCE,
                       anneal_fraction=ANNEAL_FRACTION,
                       min_anneal_epochs=MIN_ANNEAL_CHECKS, min_epochs=MIN_CHECKS,
                       seed=0 if seed is None else seed)
    result = _fit(model, responses, settings, learning_rate, windows, settings.check_steps,
                  seed, verbose, [rule] + list(callbacks or []), stream, **fit_options)
    return result, rule


def _fit(model, responses, settings, learning_rate, epochs, steps_per_epoch, seed, verbose,
         callbacks, stream=None, **fit_options):
    optimizer = EncoderScaledAdam(
        learning_rate, encoder_scale=settings.encoder_learning_rate / settings.learning_rate,
        clip_ratio=CLIP_RATIO)
    data, mask = responses.training_data() if stream is None else (stream, None)
    return fit(model, data, mask=mask,
               objective=IWAE(k=settings.iw_samples, gradient="dreg"), epochs=epochs,
               batch_size=settings.batch_size, optimizer=optimizer, seed=seed, verbose=verbose,
               callbacks=callbacks, jit_compile="auto", steps_per_execution=STEPS_PER_EXECUTION,
               steps_per_epoch=steps_per_epoch, **fit_options)


def _monitor_rows(n_persons, seed):
    """A fixed random subset of persons whose bound the convergence rule follows."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(n_persons)[:MONITOR_ROWS])


def refine(model, responses, mode="auto", newton=True):
    """The exact-ML refinement (`latentvi.irt.quadrature.refine`) of a fitted model, on the
    data's distinct answer patterns; returns its `Refinement`, or None where it was not run.

    mode: True (refine: by quadrature up to 3 factors; beyond, Newton steps with the
    importance-sampled score and information, `sampled_refinement.newton_refine`, which
    returns a `SampledRefinement`), False (never), or 'auto' (quadrature when patterns x
    nodes x items <= REFINE_CELLS).
    """
    if mode is False:
        return None
    n_factors = model.latent_dim
    if quadrature.n_points(n_factors) is None:
        if mode is True:
            return sampled_refinement.newton_refine(model, responses.codes, responses.mask)
        return None
    patterns, observed, inverse = unique_patterns(responses.codes, responses.mask)
    size = quadrature.cells(len(patterns), patterns.shape[1], n_factors)
    if mode == "auto" and size > REFINE_CELLS:
        return None
    return quadrature.refine(model, patterns, None if observed.all() else observed,
                             np.bincount(inverse), quadrature.n_points(n_factors),
                             newton=newton)
