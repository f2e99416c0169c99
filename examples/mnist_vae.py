"""MLP VAE on MNIST (784-512-2, Bernoulli decoder, analytic KL, Adam, batch 128).

Trains on dynamically binarized digits, prints the test negative ELBO and the importance-sampled
test log p(x), and saves the figures: latent scatter by class, decoded latent plane,
reconstructions, prior samples and training curves.

    python examples/mnist_vae.py --epochs 10 --out mnist_vae_out

Where only the MNIST test files are at hand (as on machines without internet), the 10,000 test
images are split into training and held-out parts, and the script says so.
"""

from image_workflow import example_parser, run_example  # examples/image_workflow.py

from latentvi.models import mlp_vae


def main(argv=None):
    args = example_parser(__doc__.splitlines()[0], epochs=10, out="mnist_vae_out",
                          variant="digits", n_train=0, n_logpx=500).parse_args(argv)
    return run_example(mlp_vae(latent_dim=args.latent_dim), args)


if __name__ == "__main__":
    main()
