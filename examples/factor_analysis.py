"""Fit a linear-Gaussian latent model (factor analysis) and compare with the exact answer.

Factor analysis has a closed-form log-likelihood, so this example shows every number latentvi
prints next to the truth: the training history, the held-out bound, and log p(x) estimated by
importance sampling against the exact value.

    python examples/factor_analysis.py --epochs 30
"""

import argparse

import keras
import numpy as np
from scipy import stats

import latentvi as lv


def simulate(n, weights, bias, psi, rng):
    z = rng.normal(size=(n, weights.shape[1]))
    return (z @ weights.T + bias + rng.normal(size=(n, len(bias))) * np.sqrt(psi)).astype("f4")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    weights, bias = rng.normal(size=(8, args.latent_dim)), rng.normal(size=8)
    psi = rng.uniform(0.2, 0.6, size=8)
    train, test = (simulate(n, weights, bias, psi, rng) for n in (args.n_train, 2000))

    keras.utils.set_random_seed(args.seed)
    model = lv.LatentModel(
        prior=lv.StandardNormal(args.latent_dim),
        likelihood=lv.NormalLikelihood(lv.networks.mlp(hidden=(), output_shape=8)),
        posterior=lv.GaussianPosterior(lv.networks.mlp(hidden=(64,)), args.latent_dim,
                                       covariance="full"),
    )
    result = model.fit(train, objective=lv.IWAE(k=5), epochs=args.epochs, batch_size=100,
                       learning_rate=0.01, validation_data=test, seed=args.seed, verbose=2)
    print(result.history.tail().to_string(index=False))

    estimate = lv.log_marginal_likelihood(model, test, num_samples=1000, seed=args.seed)
    exact = stats.multivariate_normal(bias, weights @ weights.T + np.diag(psi)).logpdf(test)
    print(f"held-out log p(x), importance-sampled (S=1000): {estimate.mean():.4f} nats/row")
    print(f"held-out log p(x) under the true parameters:    {exact.mean():.4f} nats/row")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
