"""latentvi: latent-variable models fitted by amortized variational inference (TF + TFP).

A model is a prior p(z), a likelihood p(x | z) and an amortized posterior q(z | x); `fit`
maximizes the ELBO or the importance-weighted bound, `log_marginal_likelihood` estimates log p(x).
"""

from latentvi._quiet import import_tensorflow as _import_tensorflow

_import_tensorflow()

from latentvi import networks, optimizers
from latentvi.convergence import Convergence, ConvergenceWarning, PlateauCosine
from latentvi.diagnostics import ImportanceDiagnostics
from latentvi.estimate import MonteCarloEstimate
from latentvi.evaluation import evaluate, log_marginal_likelihood
from latentvi.fitting import DivergenceWarning, FitResult, fit
from latentvi.likelihoods import Bernoulli, Categorical, OrderedLogistic
from latentvi.likelihoods import Normal as NormalLikelihood
from latentvi.model import LatentModel, load_model
from latentvi.objectives import ELBO, IWAE, Terms
from latentvi.posteriors import GaussianPosterior
from latentvi.priors import CorrelatedNormal, Normal, StandardNormal
from latentvi.progress import Progress

__version__ = "0.1.0"

# Submodules with heavier imports (matplotlib, pandas I/O) load on first use: latentvi.plotting.
_LAZY_SUBMODULES = ("datasets", "images", "models", "plotting", "irt")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f"latentvi.{name}")
    raise AttributeError(f"module 'latentvi' has no attribute {name!r}")


__all__ = [
    "ELBO",
    "IWAE",
    "Bernoulli",
    "Categorical",
    "Convergence",
    "ConvergenceWarning",
    "CorrelatedNormal",
    "DivergenceWarning",
    "FitResult",
    "GaussianPosterior",
    "ImportanceDiagnostics",
    "LatentModel",
    "MonteCarloEstimate",
    "Normal",
    "NormalLikelihood",
    "OrderedLogistic",
    "PlateauCosine",
    "Progress",
    "StandardNormal",
    "Terms",
    "evaluate",
    "fit",
    "load_model",
    "log_marginal_likelihood",
    "networks",
    "optimizers",
]
