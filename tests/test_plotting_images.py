"""Image plots: each draws what the model computes, on a given or new Axes, and returns the Figure."""

from statistics import NormalDist

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import latentvi
from latentvi.models import mlp_vae
from latentvi.plotting import (
    latent_grid,
    latent_scatter,
    prior_samples,
    reconstructions,
    training_curves,
)
from latentvi.plotting.images import _tile, decoded_means, posterior_means

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def model():
    """A small, untrained but built 2-D model: the plots only need its deterministic maps."""
    vae = mlp_vae(hidden=(16,), latent_dim=2)
    vae.build_for_shape()
    return vae


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((12, 28, 28)).astype(np.float32)


def test_scatter_places_posterior_means_and_names_classes(model, images):
    labels = np.arange(12) % 3
    fig = latent_scatter(model, images, labels, class_names=["shirt", "bag", "boot"])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    means = model.encode(images).mean().numpy()
    for label, collection in enumerate(ax.collections):
        np.testing.assert_allclose(collection.get_offsets(), means[labels == label], rtol=1e-5)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["shirt", "bag", "boot"]
    with pytest.raises(ValueError, match="one class per image"):
        latent_scatter(model, images, labels[:5])


def test_scatter_draws_on_the_given_axes(model, images):
    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    assert latent_scatter(model, images, ax=ax, dims=(1, 0)) is fig
    np.testing.assert_allclose(ax.collections[0].get_offsets(),
                               posterior_means(model, images)[:, ::-1], rtol=1e-5)


def test_grid_tiles_decoded_means_at_normal_quantiles(model):
    fig = latent_grid(model, n=4, quantiles=(0.1, 0.9))
    picture = fig.axes[0].images[0].get_array()
    assert picture.shape == (4 * 28, 4 * 28)
    low, high = NormalDist().inv_cdf(0.1), NormalDist().inv_cdf(0.9)
    # Top-left tile: lowest z[0], highest z[1] (rows run down the y axis).
    expected = decoded_means(model, np.array([[low, high]], np.float32))[0]
    np.testing.assert_allclose(picture[:28, :28], expected, rtol=1e-5)
    np.testing.assert_allclose(fig.axes[0].images[0].get_extent(), [low, high, low, high])


def test_reconstructions_show_originals_over_decoded_posterior_means(model, images):
    fig = reconstructions(model, images, n=5)
    axes = np.array(fig.axes).reshape(2, 5)
    np.testing.assert_array_equal(axes[0, 3].images[0].get_array(), images[3])
    rebuilt = model.decode(model.encode(images[:5]).mean()).mean().numpy()
    np.testing.assert_allclose(axes[1, 3].images[0].get_array(), rebuilt[3], rtol=1e-5)


def test_prior_samples_are_reproducible_and_tiled(model):
    first = prior_samples(model, n=10, seed=3).axes[0].images[0].get_array()
    again = prior_samples(model, n=10, seed=3).axes[0].images[0].get_array()
    assert first.shape == (3 * 28, 4 * 28)  # 10 draws in 4 columns, 3 rows
    np.testing.assert_array_equal(first, again)
    assert np.all(first[2 * 28:, 2 * 28:] == 0)  # the two unused cells are blank


def test_training_curves_plot_the_negative_bound():
    history = pd.DataFrame({"epoch": [1, 2, 3], "bound": [-300.0, -250.0, -220.0],
                            "val_bound": [-310.0, -260.0, -240.0]})
    lines = training_curves(history).axes[0].get_lines()
    np.testing.assert_array_equal(lines[0].get_ydata(), [300, 250, 220])
    np.testing.assert_array_equal(lines[1].get_ydata(), [310, 260, 240])
    with pytest.raises(ValueError, match="'epoch' and 'bound'"):
        training_curves(pd.DataFrame({"loss": [1.0]}))


def test_tile_places_images_row_major():
    tiles = np.arange(5)[:, None, None] * np.ones((5, 2, 3))
    picture = _tile(tiles, rows=2, columns=3)
    assert picture.shape == (4, 9)
    assert picture[0, 3] == 1 and picture[2, 0] == 3 and picture[2, 6] == 0  # blank pad


def test_plots_needing_two_dimensions_explain(images):
    one = latentvi.LatentModel(latentvi.StandardNormal(1),
                               latentvi.Bernoulli(latentvi.networks.mlp((4,), (28, 28))),
                               latentvi.GaussianPosterior(latentvi.networks.mlp((4,)), 1))
    one.build_for_shape()
    with pytest.raises(ValueError, match="latent_dim >= 2"):
        latent_scatter(one, images)
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        latent_grid(mlp_vae(hidden=(4,)), quantiles=(0.0, 1.0))
