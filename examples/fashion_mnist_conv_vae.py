"""Convolutional VAE on Fashion-MNIST (strided Conv2D + BatchNorm encoder, Conv2DTranspose decoder).

Trains on dynamically binarized images, prints the test negative ELBO and the importance-sampled
test log p(x), and saves the figures: latent scatter with the clothing classes, decoded latent
plane, reconstructions, prior samples and training curves.

    python examples/fashion_mnist_conv_vae.py --epochs 5 --out fashion_conv_vae_out

Fashion-MNIST comes from --data-dir, $LATENTVI_DATA, ~/.keras/datasets/fashion-mnist,
/usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist) or a download.
"""

from image_workflow import example_parser, run_example  # examples/image_workflow.py

from latentvi.models import conv_vae


def main(argv=None):
    # A convolution epoch on 2 CPU cores takes about a second per 1,000 images: by default
    # 15,000 training images keep the example under 5 minutes (0: all 60,000).
    parser = example_parser(__doc__.splitlines()[0], epochs=5, out="fashion_conv_vae_out",
                            variant="fashion", n_train=15000, n_logpx=50)
    parser.add_argument("--filters", type=int, default=32)
    args = parser.parse_args(argv)
    return run_example(conv_vae(latent_dim=args.latent_dim, filters=args.filters), args)


if __name__ == "__main__":
    main()
