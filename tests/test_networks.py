"""Networks and the Gaussian posterior: output shapes and covariance structure."""

import numpy as np
import pytest

import latentvi as lv


def test_mlp_shapes():
    x = np.zeros((4, 28, 28), np.float32)
    assert lv.networks.mlp((16,))(x).shape == (4, 16)
    assert lv.networks.mlp((16,), output_shape=(28, 28))(x).shape == (4, 28, 28)


def test_conv_encoder_and_decoder_shapes():
    x = np.zeros((2, 28, 28), np.float32)
    assert lv.networks.conv_encoder(units=8)(x).shape == (2, 8)
    z = np.zeros((2, 3), np.float32)
    assert lv.networks.conv_decoder()(z).shape == (2, 28, 28)
    assert lv.networks.conv_decoder((28, 28, 3))(z).shape == (2, 28, 28, 3)
    with pytest.raises(ValueError, match="divisible"):
        lv.networks.conv_decoder((30, 30, 1))


@pytest.mark.parametrize("covariance", ["diag", "full"])
def test_gaussian_posterior_covariance(covariance):
    posterior = lv.GaussianPosterior(lv.networks.mlp((8,)), latent_dim=3, covariance=covariance)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    q = posterior.distribution(x)
    assert q.batch_shape == (5,) and q.event_shape == (3,)
    cov = q.covariance().numpy()
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    off_diagonal = cov - np.einsum("nii->ni", cov)[..., None] * np.eye(3)
    assert (np.abs(off_diagonal).max() == 0) == (covariance == "diag")


def test_masked_posterior_sees_the_mask():
    posterior = lv.GaussianPosterior(lv.networks.mlp((8,)), latent_dim=2, masked=True)
    x = np.ones((1, 3), np.float32)
    mask = np.array([[True, False, True]])
    np.testing.assert_array_equal(posterior.encoder_inputs(x, mask), [[1, 0, 1, 1, 0, 1]])
