"""Plots (matplotlib): each function draws on a given or new Axes and returns the Figure."""

from latentvi.plotting.images import latent_grid, latent_scatter, prior_samples, reconstructions, training_curves  # noqa: E501
from latentvi.plotting.irt import category_probabilities, information_curves, item_curves, loadings_heatmap  # noqa: E501
__all__ = ["latent_scatter", "latent_grid", "reconstructions", "prior_samples", "training_curves"]
__all__ += ["item_curves", "information_curves", "loadings_heatmap", "category_probabilities"]
