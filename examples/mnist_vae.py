"""MLP VAE on MNIST (784-512-2, Bernoulli decoder, analytic KL, Adam, batch 128).

Trains on dynamically binarized images, prints the test negative ELBO and the importance-sampled
test log p(x), and saves the figures: latent scatter by class, decoded latent plane,
reconstructions, prior samples and training curves.

    python examples/mnist_vae.py --epochs 10 --out mnist_vae_out

Where only the MNIST test files are at hand (as on machines without internet), the 10,000 test
images are split into training and held-out parts, and the script says so.
"""

import argparse
import os
import time

import latentvi
from latentvi.datasets.mnist import class_names, dynamic_binarization, load_mnist
from latentvi.models import mlp_vae
from latentvi.plotting import (
    latent_grid,
    latent_scatter,
    prior_samples,
    reconstructions,
    training_curves,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--data-dir", default=None, help="folder with the IDX .gz files")
    parser.add_argument("--out", default="mnist_vae_out", help="folder for the PNG figures")
    parser.add_argument("--variant", default="digits", choices=("digits", "fashion"))
    parser.add_argument("--n-train", type=int, default=0, help="training images (0: all)")
    parser.add_argument("--n-test", type=int, default=0, help="test images used (0: all)")
    parser.add_argument("--n-logpx", type=int, default=500,
                        help="test images for log p(x) (each costs --iw-samples decoder passes)")
    parser.add_argument("--iw-samples", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def load_data(variant, data_dir, n_train, held_out=2000):
    """Train and test images, dynamic-binarization ready; falls back to the test files only."""
    try:
        (x_train, y_train), (x_test, y_test) = load_mnist(variant, data_dir, binarize="dynamic")
    except FileNotFoundError as error:
        print(f"Training files unavailable ({str(error).split('.')[0]}); splitting the "
              f"10,000 test images into {10000 - held_out} for training and {held_out} held out.")
        x, y = load_mnist(variant, data_dir, split="test", binarize="dynamic")
        (x_train, y_train), (x_test, y_test) = (x[:-held_out], y[:-held_out]), \
                                               (x[-held_out:], y[-held_out:])
    if n_train:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    return (x_train, y_train), (x_test, y_test)


def report(model, x_test, n_logpx, iw_samples, seed):
    """Test negative ELBO (all test images) and -log p(x) (first n_logpx images), in nats."""
    negative_elbo = -float(latentvi.evaluate(model, x_test, seed=seed)["bound"])
    subset = x_test[:n_logpx]
    start = time.perf_counter()
    log_px = latentvi.log_marginal_likelihood(model, subset, num_samples=iw_samples, seed=seed)
    print(f"test negative ELBO ({len(x_test)} images): {negative_elbo:.2f} nats")
    print(f"test -log p(x) (k={iw_samples}, first {len(subset)} images): "
          f"{-log_px.mean():.2f} +- {log_px.std(ddof=1) / len(subset) ** 0.5:.2f} nats "
          f"({time.perf_counter() - start:.0f} s)")
    return {"negative_elbo": negative_elbo, "negative_log_px": float(-log_px.mean())}


def save_figures(model, result, x_test, y_test, names, out):
    """Writes the PNG files (five for latent_dim >= 2) into `out`; returns their paths."""
    os.makedirs(out, exist_ok=True)
    figures = {"training_curves": training_curves(result.history),
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


def main(argv=None):
    args = parse_args(argv)
    (x_train, _), (x_test, y_test) = load_data(args.variant, args.data_dir, args.n_train)
    if args.n_test:
        x_test, y_test = x_test[:args.n_test], y_test[:args.n_test]
    model = mlp_vae(latent_dim=args.latent_dim)
    train = dynamic_binarization(x_train, args.batch_size, seed=args.seed)
    result = model.fit(train, epochs=args.epochs, validation_data=x_test, seed=args.seed,
                       verbose=2)
    numbers = report(model, x_test, args.n_logpx, args.iw_samples, args.seed)
    numbers["figures"] = save_figures(model, result, x_test, y_test, class_names(args.variant),
                                      args.out)
    return numbers


if __name__ == "__main__":
    main()
