"""What every `ItemFactorModel` fit does around its training run (`training.run`), one group or
several: the progress line it shows, the error when it diverged before any finite check, and
the warning when the convergence rule ran out of steps.
"""

import warnings

from latentvi._checks import one_of
from latentvi.convergence import ConvergenceWarning
from latentvi.progress import Progress

__all__ = ["check_diverged", "progress", "warn_unconverged"]


def progress(n_persons, n_items, settings, verbose):
    """The fit's progress callbacks: none for verbose=0, else one `Progress` line."""
    verbose = one_of(verbose, (0, 1, 2), "verbose")
    if verbose == 0:
        return []
    return [Progress(f"{n_persons:,} persons x {n_items} items", verbose=verbose,
                     epoch_name="check" if settings.epochs is None else "epoch")]


def check_diverged(result):
    """Raises when a fit diverged before any check ended finite (nothing to keep)."""
    if result.diverged_epoch is not None and result.best_epoch is None:
        raise FloatingPointError(
            f"the fit diverged in its first check (epoch {result.diverged_epoch}): the bound "
            f"was not finite; check the data (items with extreme answers), or lower the "
            f"learning rate with a smaller batch_size or iw_samples")


def warn_unconverged(rule, settings, stacklevel):
    """A `ConvergenceWarning` when the convergence `rule` (None for a fixed number of epochs)
    stopped at max_steps; `stacklevel` counts from the caller, as for `warnings.warn`."""
    if rule is None or rule.converged:
        return
    warnings.warn(
        f"the fit did not converge within max_steps={settings.max_steps}: its best "
        f"bound was still rising by more than tol={settings.tol} nats per person every "
        f"few {settings.check_steps}-step checks (see history_['monitor_bound']); refit "
        f"with a larger max_steps (or a larger tol), and check the model (number of "
        f"factors, items with few answers)",
        ConvergenceWarning, stacklevel=stacklevel + 1)
