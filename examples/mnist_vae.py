"""MLP VAE on MNIST (784-512-2, Bernoulli decoder, analytic KL, Adam, batch 128).

Trains on dynamically binarized digits, prints the test negative ELBO and the importance-sampled
test log p(x), and saves the figures: latent scatter by class, decoded latent plane,
reconstructions, prior samples and training curves.

    python examples/mnist_vae.py --epochs 10 --out mnist_vae_out

Where only the MNIST test files are at hand (as on machines without internet), the 10,000 test
images are split into training and held-out parts, and the script says so.
"""

from latentvi.datasets.mnist import class_names, dynamic_binarization
from latentvi.images import example_parser, load_images, save_figures, test_report
from latentvi.models import mlp_vae


def main(argv=None):
    args = example_parser(__doc__.splitlines()[0], epochs=10, out="mnist_vae_out",
                          variant="digits", n_train=0, n_logpx=500).parse_args(argv)
    (x_train, _), (x_test, y_test) = load_images(args.variant, args.data_dir, args.n_train,
                                                 args.n_test)
    model = mlp_vae(latent_dim=args.latent_dim)
    train = dynamic_binarization(x_train, args.batch_size, seed=args.seed)
    result = model.fit(train, epochs=args.epochs, validation_data=x_test, seed=args.seed,
                       verbose=2)
    numbers = test_report(model, x_test, args.n_logpx, args.iw_samples, args.seed)
    numbers["figures"] = save_figures(model, result.history, x_test, y_test,
                                      class_names(args.variant), args.out)
    return numbers


if __name__ == "__main__":
    main()
