"""Plots for image models: latent space, decoded manifold, reconstructions, samples, training.

Every function draws on the Axes (or Figure) it is given, or on a new `matplotlib.figure.Figure`
that is not registered with pyplot (so scripts and tests never open windows or leak figures),
and returns the Figure; save it with `fig.savefig(path)`. Images are shown as the decoder's
per-pixel means, e.g. Bernoulli probabilities, which are smoother than binary draws.
"""

from statistics import NormalDist

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "decoded_means",
    "latent_grid",
    "latent_scatter",
    "posterior_means",
    "prior_samples",
    "reconstructions",
    "training_curves",
]


def latent_scatter(model, x, labels=None, class_names=None, dims=(0, 1), ax=None,
                   batch_size=1000, point_size=3):
    """Posterior means E[z | x] of two latent dimensions, coloured by class.

    Args:
      model: a fitted `LatentModel` with latent_dim >= 2.
      x: images [n, ...].
      labels: integer class of each image (None: one colour).
      class_names: names of the classes, indexed by label, for the legend.
      dims: the two latent dimensions plotted.
      ax: Axes to draw on (None: a new figure).
      batch_size: images encoded together.
      point_size: marker size.

    Returns:
      The matplotlib Figure.
    """
    first, second = _two_dims(model, dims)
    z = posterior_means(model, x, batch_size)
    ax = ax or _new_axes(6, 5.5)
    if labels is None:
        ax.scatter(z[:, first], z[:, second], s=point_size, alpha=0.6)
    else:
        labels = np.asarray(labels)
        if labels.shape != (len(z),):
            raise ValueError(f"labels must hold one class per image ({len(z)}); "
                             f"got shape {labels.shape}")
        for label in np.unique(labels):  # a class keeps its colour in any subset
            name = class_names[label] if class_names is not None else str(label)
            chosen = labels == label
            ax.scatter(z[chosen, first], z[chosen, second], s=point_size, alpha=0.6,
                       color=_colour(label), label=name)
        ax.legend(markerscale=8 / max(point_size, 1), fontsize="small", framealpha=0.8)
    ax.set_xlabel(f"z[{first}]")
    ax.set_ylabel(f"z[{second}]")
    ax.set_title("Latent space (posterior means)")
    return ax.figure


def latent_grid(model, n=15, dims=(0, 1), quantiles=(0.05, 0.95), ax=None):
    """Images decoded over an n x n grid of the latent plane, at normal quantiles.

    z[dims[0]] and z[dims[1]] run over the standard normal quantiles from quantiles[0] to
    quantiles[1] (so the grid covers the prior's mass evenly); other dimensions are 0.

    Args:
      model: a fitted `LatentModel` with image rows [H, W] (or [H, W, C]).
      n: grid size per side.
      dims: the two latent dimensions varied.
      quantiles: lowest and highest normal quantile of the grid, in (0, 1).
      ax: Axes to draw on (None: a new figure).

    Returns:
      The matplotlib Figure.
    """
    first, second = _two_dims(model, dims)
    low, high = quantiles
    if not 0 < low < high < 1:
        raise ValueError(f"quantiles must satisfy 0 < low < high < 1; got {quantiles}")
    values = np.array([NormalDist().inv_cdf(q) for q in np.linspace(low, high, int(n))])
    z = np.zeros((n * n, model.latent_dim), np.float32)
    # Rows of the picture run from high to low z[second], as on a y axis.
    z[:, first] = np.tile(values, n)
    z[:, second] = np.repeat(values[::-1], n)
    ax = ax or _new_axes(7, 7)
    ax.imshow(_tile(decoded_means(model, z), n, n), cmap="gray", vmin=0, vmax=1,
              extent=(values[0], values[-1], values[0], values[-1]), aspect="equal")
    ax.set_xlabel(f"z[{first}] (normal quantiles {low:g}..{high:g})")
    ax.set_ylabel(f"z[{second}]")
    ax.set_title("Decoded latent plane")
    return ax.figure


def reconstructions(model, x, n=10, fig=None):
    """Originals (top row) and their reconstructions E[x | z = E[z | x]] (bottom row).

    Args:
      model: a fitted `LatentModel`.
      x: images; the first n are shown.
      n: number of images.
      fig: Figure to draw on (None: a new one).

    Returns:
      The matplotlib Figure.
    """
    x = np.asarray(x[:n], np.float32)
    rebuilt = decoded_means(model, posterior_means(model, x, len(x)))
    fig = fig or Figure(figsize=(1.2 * len(x), 2.8))
    axes = fig.subplots(2, len(x), squeeze=False)
    for column in range(len(x)):
        _show(axes[0, column], x[column])
        _show(axes[1, column], rebuilt[column])
    axes[0, 0].set_title("original", loc="left", fontsize="small")
    axes[1, 0].set_title("reconstruction", loc="left", fontsize="small")
    return fig


def prior_samples(model, n=64, seed=0, ax=None):
    """Images decoded from n draws z ~ p(z), tiled in a square grid.

    Args:
      model: a fitted `LatentModel`.
      n: number of draws (a square grid of ceil(sqrt(n)) columns).
      seed: integer seed of the draws.
      ax: Axes to draw on (None: a new figure).

    Returns:
      The matplotlib Figure.
    """
    z = model.prior.distribution().sample(int(n), seed=_stateless(seed)).numpy()
    columns = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    ax = ax or _new_axes(6, 6 * rows / columns)
    ax.imshow(_tile(decoded_means(model, z), rows, columns), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(f"Samples from the prior ({n} draws, decoder means)")
    return ax.figure


def training_curves(history, ax=None):
    """Negative bound (nats per image) per epoch, training and validation.

    Args:
      history: `FitResult.history` (columns epoch, bound and optionally val_bound), or a
        `FitResult`.
      ax: Axes to draw on (None: a new figure).

    Returns:
      The matplotlib Figure.
    """
    history = getattr(history, "history", history)
    if "epoch" not in history or "bound" not in history:
        raise ValueError("history must have columns 'epoch' and 'bound' (FitResult.history)")
    ax = ax or _new_axes(6, 4)
    ax.plot(history["epoch"], -history["bound"], marker="o", label="training")
    if "val_bound" in history:
        ax.plot(history["epoch"], -history["val_bound"], marker="o", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative bound (nats per image)")
    ax.set_title("Training curves")
    ax.legend()
    return ax.figure


# -- shared pieces ----------------------------------------------------------------------------
def posterior_means(model, x, batch_size=1000):
    """E[z | x] for every row of x, as a NumPy array [n, latent_dim] (the posterior's point
    summary, `Posterior.location`: the mean for a Gaussian q)."""
    x = np.asarray(x, np.float32)
    parts = [np.asarray(model.posterior.location(x[i:i + batch_size]))
             for i in range(0, len(x), int(batch_size))]
    return np.concatenate(parts)


def decoded_means(model, z, batch_size=1000):
    """E[x | z] (e.g. Bernoulli probabilities) for latent vectors z [n, latent_dim]."""
    z = np.asarray(z, np.float32)
    parts = [model.decode(z[i:i + batch_size]).mean().numpy()
             for i in range(0, len(z), int(batch_size))]
    return np.concatenate(parts)


def _two_dims(model, dims):
    first, second = (int(d) for d in dims)
    if model.latent_dim < 2:
        raise ValueError(f"this plot needs a model with latent_dim >= 2; "
                         f"it has {model.latent_dim}")
    if not (0 <= first < model.latent_dim and 0 <= second < model.latent_dim) \
            or first == second:
        raise ValueError(f"dims must be two different latent dimensions in "
                         f"0..{model.latent_dim - 1}; got {tuple(dims)}")
    return first, second


def _tile(images, rows, columns):
    """One picture from images [rows * columns, H, W(, C)], row-major; blanks pad the end."""
    images = np.asarray(images)
    height, width = images.shape[1:3]
    padded = np.zeros((rows * columns,) + images.shape[1:], images.dtype)
    padded[:len(images)] = images
    grid = padded.reshape((rows, columns) + images.shape[1:])
    grid = np.swapaxes(grid, 1, 2)
    return grid.reshape((rows * height, columns * width) + images.shape[3:])


def _show(ax, image):
    ax.imshow(np.asarray(image), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()


def _colour(index):
    from matplotlib import colormaps
    return colormaps["tab10"](index % 10)


def _new_axes(width, height):
    return Figure(figsize=(width, height), layout="constrained").add_subplot()


def _stateless(seed):
    import tensorflow as tf
    return tf.constant([int(seed), 0], tf.int32)
