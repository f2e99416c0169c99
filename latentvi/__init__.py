"""latentvi: latent-variable models fitted by amortized variational inference (TF + TFP).

A model is a prior p(z), a likelihood p(x | z) and an amortized posterior q(z | x); `fit`
maximizes the ELBO or the importance-weighted bound, `log_marginal_likelihood` estimates log p(x).
"""

import os as _os

# TensorFlow's C++ start-up messages are noise for users; respect a value they set themselves.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import absl.logging as _absl_logging  # noqa: E402

_absl_logging.set_verbosity(_absl_logging.ERROR)

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

__all__ = [
    "LatentModel", "load_model", "fit", "FitResult", "evaluate", "log_marginal_likelihood",
    "StandardNormal", "Normal", "CorrelatedNormal",
    "Bernoulli", "NormalLikelihood", "Categorical", "OrderedLogistic",
    "GaussianPosterior", "ELBO", "IWAE", "Terms", "networks",
]
