"""latentvi: latent-variable models fitted by amortized variational inference (TF + TFP).

A model is a prior p(z), a likelihood p(x | z) and an amortized posterior q(z | x); `fit`
maximizes the ELBO or the importance-weighted bound, `log_marginal_likelihood` estimates log p(x).
"""

from latentvi._quiet import import_tensorflow as _import_tensorflow

_import_tensorflow()

from latentvi import networks  # noqa: E402
from latentvi.evaluation import evaluate, log_marginal_likelihood  # noqa: E402
from latentvi.fitting import FitResult, fit  # noqa: E402
from latentvi.likelihoods import Bernoulli, Categorical, OrderedLogistic  # noqa: E402
from latentvi.likelihoods import Normal as NormalLikelihood  # noqa: E402
from latentvi.model import LatentModel, load_model  # noqa: E402
from latentvi.objectives import ELBO, IWAE, Terms  # noqa: E402
from latentvi.posteriors import GaussianPosterior  # noqa: E402
from latentvi.priors import CorrelatedNormal, Normal, StandardNormal  # noqa: E402

__version__ = "0.1.0"

# Submodules with heavier imports (matplotlib, pandas I/O) load on first use: latentvi.plotting.
_LAZY_SUBMODULES = ("datasets", "models", "plotting", "irt")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f"latentvi.{name}")
    raise AttributeError(f"module 'latentvi' has no attribute {name!r}")


__all__ = [
    "LatentModel", "load_model", "fit", "FitResult", "evaluate", "log_marginal_likelihood",
    "StandardNormal", "Normal", "CorrelatedNormal",
    "Bernoulli", "NormalLikelihood", "Categorical", "OrderedLogistic",
    "GaussianPosterior", "ELBO", "IWAE", "Terms", "networks",
]
