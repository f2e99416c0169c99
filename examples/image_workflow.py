"""The image-VAE workflow shared by examples/mnist_vae.py and examples/fashion_mnist_conv_vae.py:
command-line options, data, test numbers and saved figures. Example code, not part of latentvi;
the scripts import it from beside them.

    (x_train, y_train), (x_test, y_test) = load_images("fashion", n_train=15000)
    model = latentvi.models.conv_vae()
    result = model.fit(dynamic_binarization(x_train, 128), epochs=5, validation_data=x_test)
    report_test_set(model, x_test, n_logpx=500)
    save_figures(model, result.history, x_test, y_test, class_names("fashion"), "out/")
"""

import argparse
import os
import time

from latentvi.datasets.mnist import class_names, dynamic_binarization, load_mnist
from latentvi.evaluation import evaluate, log_marginal_likelihood
from latentvi.plotting.images import (
    latent_grid,
    latent_scatter,
    prior_samples,
    reconstructions,
    training_curves,
)

__all__ = ["example_parser", "load_images", "report_test_set", "run_example", "save_figures"]


def example_parser(description, epochs, out, variant, n_train, n_logpx):
    """The command-line options of the image examples, with their own defaults."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--data-dir", default=None, help="folder with the IDX .gz files")
    parser.add_argument("--out", default=out, help="folder for the PNG figures")
    parser.add_argument("--variant", default=variant, choices=("digits", "fashion"))
    parser.add_argument("--n-train", type=int, default=n_train, help="training images (0: all)")
    parser.add_argument("--n-test", type=int, default=0, help="test images used (0: all)")
    parser.add_argument("--n-logpx", type=int, default=n_logpx,
                        help="test images for log p(x) (each costs --iw-samples decoder passes)")
    parser.add_argument("--iw-samples", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def load_images(variant, data_dir=None, n_train=0, n_test=0, held_out=2000):
    """Grey-level train and test images with labels.

    Where only the test files exist (MNIST digits on machines without internet), the 10,000
    test images are split into 10,000 - held_out for training and held_out for testing, and
    the function says so.
    """
    try:
        (x_train, y_train), (x_test, y_test) = load_mnist(variant, data_dir, binarize="dynamic")
    except FileNotFoundError as error:
        print(f"Training files unavailable ({str(error).split('.')[0]}); splitting the "
              f"10,000 test images into {10000 - held_out} for training and {held_out} held out.")
        x, y = load_mnist(variant, data_dir, split="test", binarize="dynamic")
        (x_train, y_train), (x_test, y_test) = ((x[:-held_out], y[:-held_out]),
                                                (x[-held_out:], y[-held_out:]))
    if n_train:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    if n_test:
        x_test, y_test = x_test[:n_test], y_test[:n_test]
    return (x_train, y_train), (x_test, y_test)


def report_test_set(model, x_test, n_logpx=500, iw_samples=5000, seed=0):
    """Prints and returns the test negative ELBO (all images) and -log p(x) (first n_logpx)."""
    negative_elbo = -float(evaluate(model, x_test, seed=seed)["bound"])
    subset = x_test[:n_logpx]
    start = time.perf_counter()
    log_px = log_marginal_likelihood(model, subset, num_samples=iw_samples, seed=seed)
    print(f"test negative ELBO ({len(x_test)} images): {negative_elbo:.2f} nats")
    print(f"test -log p(x) (k={iw_samples}, first {len(subset)} images): "
          f"{-log_px.mean():.2f} +- {log_px.std(ddof=1) / len(subset) ** 0.5:.2f} nats "
          f"({time.perf_counter() - start:.0f} s)")
    return {"negative_elbo": negative_elbo, "negative_log_px": float(-log_px.mean())}



def save_figures(model, history, x_test, y_test, names, out):
    """Writes the PNG files (five for latent_dim >= 2) into `out`; returns their paths."""
    os.makedirs(out, exist_ok=True)
    figures = {"training_curves": training_curves(history),
               "reconstructions": reconstructions(model, x_test, n=10),
               "prior_samples": prior_samples(model, n=64)}
    if model.latent_dim >= 2:  # the two latent-plane plots need two dimensions
        figures["latent_scatter"] = latent_scatter(model, x_test[:5000], y_test[:5000], names)
        figures["latent_grid"] = latent_grid(model, n=20)
    paths = []
    for name, figure in figures.items():
        paths.append(os.path.join(out, f"{name}.png"))
        figure.savefig(paths[-1], dpi=100)
    print("figures:", ", ".join(paths))
    return paths


def run_example(model, args):
    """An example's whole run for parsed `example_parser` options: load, fit on dynamically
    binarized images, report the test numbers, save the figures; returns the numbers."""
    (x_train, _), (x_test, y_test) = load_images(args.variant, args.data_dir, args.n_train,
                                                 args.n_test)
    train = dynamic_binarization(x_train, args.batch_size, seed=args.seed)
    result = model.fit(train, epochs=args.epochs, validation_data=x_test, seed=args.seed,
                       verbose=2)
    numbers = report_test_set(model, x_test, args.n_logpx, args.iw_samples, args.seed)
    numbers["figures"] = save_figures(model, result.history, x_test, y_test,
                                      class_names(args.variant), args.out)
    return numbers
