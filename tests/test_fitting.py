"""fit: history table, determinism, XLA, MirroredStrategy, callbacks, data forms."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from conftest import linear_model

import latentvi as lv


def test_history_table(fitted_fa):
    _, result = fitted_fa
    history = result.history
    # An IWAE fit: its gap (reconstruction - bound) is not a KL, so it is named "gap".
    assert list(history.columns) == ["epoch", "bound", "reconstruction", "gap", "val_bound",
                                     "val_reconstruction", "val_gap", "seconds"]
    assert list(history["epoch"]) == list(range(1, 41))
    np.testing.assert_allclose(history["bound"], history["reconstruction"] - history["gap"],
                               atol=1e-3)
    assert result.best_epoch == history.loc[history["val_bound"].idxmax(), "epoch"]
    # Training from random weights must improve the bound by a wide margin.
    assert history["bound"].iloc[-1] > history["bound"].iloc[0] + 1.0
    assert (history["seconds"] > 0).all()


def _short_fit(data, seed, **kwargs):
    keras.utils.set_random_seed(seed)  # initial weights are drawn at construction
    model = linear_model(6, 2)
    result = lv.fit(model, data, objective=lv.IWAE(k=3), epochs=2, batch_size=250,
                    learning_rate=0.01, seed=seed, verbose=0, **kwargs)
    return model, result


def test_same_seed_same_history(fa_data):
    # Weight initialization, shuffling and Monte Carlo draws all follow the seed: two CPU fits
    # agree to float32 rounding.
    train, _ = fa_data
    first = _short_fit(train[:1000], seed=7)[1].history
    second = _short_fit(train[:1000], seed=7)[1].history
    other = _short_fit(train[:1000], seed=8)[1].history
    np.testing.assert_allclose(first["bound"], second["bound"], rtol=1e-6)
    assert not np.allclose(first["bound"], other["bound"], rtol=1e-6)


def test_xla_fit_reaches_the_same_optimum(fa_data, fitted_fa):
    # XLA draws its stateless random numbers with another algorithm, so the path differs from
    # the graph-mode fit; after the same 40 epochs both must sit on the FA maximum-likelihood
    # plateau: held-out bounds within 0.05 nats/row.
    train, test = fa_data
    model = linear_model(train.shape[1], 2)
    result = lv.fit(model, train, objective=lv.IWAE(k=5), epochs=40, batch_size=100,
                    learning_rate=0.01, validation_data=test, seed=3, verbose=0,
                    jit_compile=True)
    single = fitted_fa[1].history["val_bound"].iloc[-1]
    assert abs(result.history["val_bound"].iloc[-1] - single) < 0.05


def test_mirrored_strategy_matches_single_device(fa_data):
    # Two logical CPUs each take half of every batch and gradients are summed across replicas,
    # so from the same initial weights and data order the fit follows the single-device path;
    # only the Monte Carlo draws differ. Measured: per-epoch bounds differ by <= 0.05 nats/row
    # and the held-out IWAE_50 by ~0.01, against bounds that move by 7 nats over the 8 epochs;
    # tolerances of 0.15 and 0.05 leave room for the draws.
    train, test = fa_data
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    histories, held_out = [], []
    for chosen in (None, strategy):
        keras.utils.set_random_seed(0)
        model = linear_model(train.shape[1], 2)
        result = lv.fit(model, train, objective=lv.IWAE(k=5), epochs=8, batch_size=500,
                        learning_rate=0.03, seed=3, verbose=0, strategy=chosen)
        histories.append(result.history["bound"].to_numpy())
        # The weights learned under the strategy were copied back into the user's model.
        held_out.append(lv.evaluate(model, test, objective=lv.IWAE(k=50), seed=1)["bound"])
    np.testing.assert_allclose(histories[1], histories[0], atol=0.15)
    assert abs(held_out[1] - held_out[0]) < 0.05


def test_early_stopping_and_callbacks(fa_data):
    train, test = fa_data
    weights = []
    model = linear_model(train.shape[1], 2)
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()))
    result = model.fit(train[:500], validation_data=test[:500], epochs=200, batch_size=500,
                       learning_rate=0.05, early_stopping=2, seed=1, verbose=0,
                       callbacks=[record])
    assert len(result.history) < 200  # stopped early
    assert len(weights) == len(result.history)  # user callbacks ran every epoch
    # restore_best_weights: the model ends with the best epoch's weights, not the last ones.
    best = weights[result.best_epoch - 1]
    for restored, kept in zip(model.get_weights()[1:], best[1:]):  # [0] is the seed counter
        np.testing.assert_array_equal(restored, kept)


def test_dataframe_and_dataset_inputs_match_array(fa_data):
    # The same seeded fit on the same rows through the three input forms gives one history.
    train, _ = fa_data
    rows = train[:500]
    as_array = _short_fit(rows, seed=2, shuffle=False)[1].history["bound"]
    frame = pd.DataFrame(rows, columns=[f"v{i}" for i in range(rows.shape[1])])
    as_frame = _short_fit(frame, seed=2, shuffle=False)[1].history["bound"]
    dataset = tf.data.Dataset.from_tensor_slices(rows).batch(250)
    as_dataset = _short_fit(dataset, seed=2)[1].history["bound"]
    np.testing.assert_allclose(as_frame, as_array, rtol=1e-6)
    np.testing.assert_allclose(as_dataset, as_array, rtol=1e-6)


def test_resume_keeps_optimizer_state(fa_data, tmp_path):
    train, _ = fa_data
    model, _ = _short_fit(train[:1000], seed=4)
    steps = int(model.optimizer.iterations.numpy())
    assert steps == 2 * 4  # 2 epochs of 4 batches of 250
    path = tmp_path / "checkpoint.keras"
    model.save(path)
    restored = lv.load_model(path)
    assert int(restored.optimizer.iterations.numpy()) == steps
    restored.fit(train[:1000], epochs=1, batch_size=250, verbose=0)
    assert int(restored.optimizer.iterations.numpy()) == steps + 4


def test_model_checkpoint_callback_writes_loadable_models(fa_data, tmp_path):
    train, _ = fa_data
    path = tmp_path / "epoch{epoch}.keras"
    model = linear_model(train.shape[1], 2)
    model.fit(train[:500], epochs=2, batch_size=250, verbose=0, seed=0,
              callbacks=[keras.callbacks.ModelCheckpoint(str(path))])
    loaded = lv.load_model(tmp_path / "epoch2.keras")
    np.testing.assert_allclose(loaded.encode(train[:5]).mean(), model.encode(train[:5]).mean(),
                               rtol=1e-6)


def test_divergence_is_reported_and_the_weights_kept_finite(fa_data):
    # A learning rate of 1e30 overflows float32 within a step: the fit must stop, say so and
    # keep the weights it started from instead of returning inf/NaN weights as if all were well.
    model = linear_model(6, 2)
    model.build_for_shape((6,))
    start = model.get_weights()
    with pytest.warns(lv.DivergenceWarning, match="diverged in epoch 1.*learning_rate"):
        result = lv.fit(model, fa_data[0][:1000], epochs=5, batch_size=100, learning_rate=1e30,
                        verbose=0)
    assert result.diverged_epoch == 1 and result.best_epoch is None and len(result.history) == 0
    for kept, started in zip(model.get_weights(), start):
        np.testing.assert_array_equal(kept, started)


@pytest.mark.parametrize("rows, batch_size, steps_per_execution", [
    (400, 10, 32),   # 40 steps per epoch: calls of 20 steps under one iterator
    (370, 10, 32),   # 37 steps (prime): one iterator per epoch, calls of 32 and 5 steps
    (95, 10, 4),     # 10 steps, the last batch partial: calls of 2 steps
])
def test_an_epoch_is_one_pass_over_the_data(fa_data, rows, batch_size, steps_per_execution):
    # However the steps are grouped into compiled calls, each epoch takes ceil(n / batch)
    # optimizer steps, so the epochs and the passes over the data stay in step.
    model = linear_model(6, 2)
    lv.fit(model, fa_data[0][:rows], epochs=3, batch_size=batch_size, seed=0, verbose=0,
           steps_per_execution=steps_per_execution)
    assert int(model.optimizer.iterations) == 3 * -(-rows // batch_size)
