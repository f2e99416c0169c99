"""latentvi: latent-variable models fitted by amortized variational inference (TF + TFP).

A model is a prior p(z), a likelihood p(x | z) and an amortized posterior q(z | x); `fit`
maximizes the ELBO or the importance-weighted bound, `log_marginal_likelihood` estimates log p(x).
`Prior`, `Likelihood`, `Posterior` and `Objective` are the classes to subclass for new models
(docs/extending.md). `Normal` is the deprecated name of the `DiagonalNormal` prior.
"""

from latentvi._quiet import import_tensorflow as _import_tensorflow

_import_tensorflow()

from latentvi import networks, optimizers
from latentvi.convergence import Convergence, ConvergenceWarning, PlateauCosine
from latentvi.diagnostics import ImportanceDiagnostics
from latentvi.estimate import MonteCarloEstimate
from latentvi.evaluation import evaluate, log_marginal_likelihood
from latentvi.fitting import DivergenceWarning, FitResult, fit
from latentvi.flows import ConditionalCoupling, FlowPosterior
from latentvi.inputs import CodedArray
from latentvi.likelihoods import Bernoulli, Categorical, Likelihood, OrderedLogistic
from latentvi.likelihoods import Normal as NormalLikelihood
from latentvi.model import LatentModel, load_model
from latentvi.objectives import ELBO, IWAE, Objective, Terms
from latentvi.posteriors import GaussianPosterior, Posterior
from latentvi.priors import CorrelatedNormal, DiagonalNormal, Normal, Prior, StandardNormal
from latentvi.progress import Progress

__version__ = "0.1.0"

# Submodules with heavier imports (matplotlib, pandas I/O) load on first use: latentvi.plotting.
_LAZY_SUBMODULES = ("datasets", "models", "plotting", "irt")


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
    "CodedArray",
    "ConditionalCoupling",
    "Convergence",
    "ConvergenceWarning",
    "CorrelatedNormal",
    "DiagonalNormal",
    "DivergenceWarning",
    "FitResult",
    "FlowPosterior",
    "GaussianPosterior",
    "ImportanceDiagnostics",
    "LatentModel",
    "Likelihood",
    "MonteCarloEstimate",
    "Normal",
    "NormalLikelihood",
    "Objective",
    "OrderedLogistic",
    "PlateauCosine",
    "Posterior",
    "Prior",
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
