"""Plots (matplotlib): each function draws on a given or new Axes and returns the Figure."""

from latentvi.plotting.images import (
    latent_grid,
    latent_scatter,
    prior_samples,
    reconstructions,
    training_curves,
)
from latentvi.plotting.irt import (
    category_probabilities,
    information_curves,
    item_curves,
    loadings_heatmap,
)

__all__ = ["latent_grid", "latent_scatter", "prior_samples", "reconstructions", "training_curves"]
__all__ += ["category_probabilities", "information_curves", "item_curves", "loadings_heatmap"]
