"""Bad input gives a ValueError/TypeError that names what is wrong."""

import numpy as np
import pandas as pd
import pytest
from conftest import linear_model

import latentvi as lv


@pytest.fixture(scope="module")
def model():
    return linear_model(6, 2)


@pytest.fixture(scope="module")
def masked_model():
    return linear_model(6, 2, masked=True)


def _fit(model, data, **kwargs):
    return lv.fit(model, data, epochs=1, batch_size=50, verbose=0, **kwargs)


def test_wrong_width_names_both_widths(model):
    with pytest.raises(ValueError, match=r"data has columns 5 but the model expects 6"):
        _fit(model, np.zeros((10, 5), np.float32))


def test_nan_without_masked_posterior_names_row_and_column(model):
    x = pd.DataFrame(np.zeros((10, 6)), columns=list("abcdef"), index=list("pqrstuvwxy"))
    x.loc["s", "c"] = np.nan
    with pytest.raises(ValueError, match=r"missing values.*masked=True.*row 's', column 'c'"):
        _fit(model, x)


def test_non_numeric_column_is_named(model):
    x = pd.DataFrame(np.zeros((10, 6)), columns=list("abcdef"))
    x["d"] = "yes"
    with pytest.raises(TypeError, match=r"column 'd' has non-numeric dtype"):
        _fit(model, x)


@pytest.mark.parametrize("data", [np.zeros((0, 6), np.float32), pd.DataFrame(columns=list("abcdef"),
                                                                              dtype=float)])
def test_empty_data(model, data):
    with pytest.raises(ValueError, match="empty"):
        _fit(model, data)


def test_infinite_value_is_located(model):
    x = np.zeros((10, 6), np.float32)
    x[7, 2] = np.inf
    with pytest.raises(ValueError, match=r"infinite.*row 7, column 2"):
        _fit(model, x)


def test_unbatched_dataset_is_explained(model):
    import tensorflow as tf
    with pytest.raises(ValueError, match=r"must be batched"):
        _fit(model, tf.data.Dataset.from_tensor_slices(np.zeros((10, 6), np.float32)))


def test_validation_data_is_checked_under_its_own_name(model):
    with pytest.raises(ValueError, match=r"validation_data has columns 4"):
        _fit(model, np.zeros((10, 6), np.float32), validation_data=np.zeros((5, 4)))


def test_mask_with_wrong_shape(masked_model):
    with pytest.raises(ValueError, match=r"mask has shape \(10, 5\)"):
        _fit(masked_model, np.zeros((10, 6), np.float32), mask=np.ones((10, 5), bool))


@pytest.mark.parametrize("make, message", [
    (lambda: lv.StandardNormal(0), "latent_dim must be an integer >= 1"),
    (lambda: lv.CorrelatedNormal(-2), "latent_dim"),
    (lambda: lv.GaussianPosterior(lv.networks.mlp((8,)), latent_dim=0), "latent_dim"),
    (lambda: lv.GaussianPosterior(lv.networks.mlp((8,)), 2, covariance="block"), "covariance"),
    (lambda: lv.StandardNormal(2.5), "latent_dim"),
    (lambda: lv.LatentModel(lv.StandardNormal(3), lv.Bernoulli(lv.networks.mlp((), 4)),
                            lv.GaussianPosterior(lv.networks.mlp((8,)), 2)), r"latent_dim \(3\)"),
    (lambda: lv.LatentModel(lv.Bernoulli(lv.networks.mlp((), 4)), lv.StandardNormal(2),
                            lv.GaussianPosterior(lv.networks.mlp((8,)), 2)), "prior must be"),
    (lambda: lv.OrderedLogistic(lv.networks.mlp((), 4), n_categories=1), "n_categories"),
])
def test_bad_settings_name_the_argument(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_bad_fit_arguments(model):
    x = np.zeros((10, 6), np.float32)
    with pytest.raises(ValueError, match="epochs"):
        lv.fit(model, x, epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        lv.fit(model, x, batch_size=0)
    with pytest.raises(TypeError, match="model must be a latentvi.LatentModel"):
        lv.fit("model", x)
