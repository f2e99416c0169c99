"""Small-integer data (`latentvi.CodedArray`, `Responses.answers`) and the row order of array
batches (latentvi/inputs.py, latentvi/irt/responses.py)."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from conftest import linear_model

import latentvi as lv
from latentvi.inputs import make_dataset
from latentvi.irt.responses import MISSING, encode_responses


def _answers(n=300, width=6, seed=0):
    """int8 codes 0..3 with about 15% of cells missing (-1)."""
    rng = np.random.default_rng(seed)
    answers = rng.integers(0, 4, (n, width)).astype(np.int8)
    answers[rng.random((n, width)) < 0.15] = -1
    answers[:, 0] = np.maximum(answers[:, 0], 0)  # nobody without an answer
    return answers


def _weights_after_fit(data, mask=None):
    keras_seed = 3
    tf.keras.utils.set_random_seed(keras_seed)
    model = linear_model(6, 2, masked=True)
    lv.fit(model, data, mask=mask, epochs=3, batch_size=64, seed=5, verbose=0)
    return model.get_weights()


def test_coded_array_fits_exactly_as_float_codes_with_a_mask():
    # Same rows, same order, same values: the weights must agree to the last bit.
    answers = _answers()
    coded = _weights_after_fit(lv.CodedArray(answers))
    floats = _weights_after_fit(np.maximum(answers, 0).astype(np.float32), mask=answers >= 0)
    for a, b in zip(coded, floats):
        np.testing.assert_array_equal(a, b)


def test_coded_array_batches_are_codes_and_mask():
    answers = _answers(n=10)
    x, mask = next(iter(make_dataset(lv.CodedArray(answers), None, batch_size=10)))
    np.testing.assert_array_equal(x.numpy(), np.maximum(answers, 0))
    np.testing.assert_array_equal(mask.numpy(), answers >= 0)
    assert x.dtype == tf.float32
    complete = np.abs(answers).astype(np.uint8)
    only_x = next(iter(make_dataset(lv.CodedArray(complete), None, batch_size=10)))
    assert isinstance(only_x, tf.Tensor)  # no missing cell: no mask to apply
    np.testing.assert_array_equal(only_x.numpy(), complete)


@pytest.mark.parametrize("values, error, message", [
    (np.zeros((4, 6), np.float32), TypeError, r"integer NumPy array.*float32"),
    (np.zeros(6, np.int8), ValueError, r"at least 2 dimensions.*\(6,\)"),
    (np.zeros((0, 6), np.int8), ValueError, r"at least one row"),
])
def test_coded_array_refuses_what_is_not_small_integers(values, error, message):
    with pytest.raises(error, match=message):
        lv.CodedArray(values)


def test_coded_array_errors_name_the_problem():
    answers = _answers(n=20)
    unmasked = linear_model(6, 2)
    with pytest.raises(ValueError, match=r"missing cells \(negative codes\).*masked=True.*"
                                         r"first at row \d+, column \d+"):
        lv.fit(unmasked, lv.CodedArray(answers), epochs=1, verbose=0)
    masked = linear_model(6, 2, masked=True)
    with pytest.raises(ValueError, match=r"CodedArray.*give no mask"):
        lv.fit(masked, lv.CodedArray(answers), mask=answers >= 0, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"data has columns 5 but the model expects 6"):
        lv.fit(masked, lv.CodedArray(answers[:, :5]), epochs=1, verbose=0)


def _passes(dataset, n_passes):
    iterator = iter(dataset.repeat())
    batches_per_pass = int(dataset.cardinality())
    return [np.concatenate([next(iterator).numpy()[:, 0] for _ in range(batches_per_pass)])
            for _ in range(n_passes)]


def test_shuffled_passes_are_permutations_that_change_and_repeat_with_a_seed():
    rows = np.arange(103, dtype=np.float32)[:, np.newaxis]
    dataset = make_dataset(rows, None, batch_size=10, shuffle=True, seed=7)
    assert int(dataset.cardinality()) == 11  # ceil(103 / 10), known to Keras' epoch logic
    first = _passes(dataset, 3)
    for order in first:  # every row exactly once in each pass
        np.testing.assert_array_equal(np.sort(order), rows[:, 0])
    # three orders of 103 rows: two alike by chance has probability ~3/103!
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    again = _passes(make_dataset(rows, None, batch_size=10, shuffle=True, seed=7), 3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    other = _passes(make_dataset(rows, None, batch_size=10, shuffle=True, seed=8), 1)
    assert not np.array_equal(first[0], other[0])
    ordered = _passes(make_dataset(rows, None, batch_size=10), 2)
    np.testing.assert_array_equal(ordered[0], rows[:, 0])
    np.testing.assert_array_equal(ordered[1], rows[:, 0])


def test_responses_hold_one_byte_a_cell():
    frame = pd.DataFrame({"q1": [1, 3, None, 3], "q2": [0, 1, 1, None]}, index=list("abcd"))
    responses = encode_responses(frame, "graded")
    assert responses.answers.dtype == np.int8
    np.testing.assert_array_equal(responses.answers, [[0, 0], [1, 1], [MISSING, 1], [1, -1]])
    np.testing.assert_array_equal(responses.codes, [[0, 0], [1, 1], [0, 1], [1, 0]])
    assert responses.codes.dtype == np.float32
    np.testing.assert_array_equal(responses.mask, [[1, 1], [1, 1], [0, 1], [1, 0]])
    part = responses.rows([1, 3])
    assert list(part.index) == ["b", "d"] and part.n_persons == 2
    extended = responses.with_extra(np.full((4, 1), 0.5))
    np.testing.assert_array_equal(extended.codes[:, 2], 0.5)
    np.testing.assert_array_equal(extended.mask[:, 2], True)
    data, mask = extended.training_data()  # extra columns: float codes and a mask
    assert mask is not None and data.shape == (4, 3)
    data, mask = responses.training_data()
    assert isinstance(data, lv.CodedArray) and data.values is responses.answers and mask is None


def test_more_than_127_categories_take_two_bytes():
    frame = pd.DataFrame({"q": np.arange(300) % 150, "r": np.arange(300) % 2})
    responses = encode_responses(frame, "graded", max_categories=200)
    assert responses.answers.dtype == np.int16
    assert responses.codes[:, 0].max() == 149


def test_evaluation_takes_coded_arrays_as_it_takes_arrays():
    # The same rows in the same order with the same seeds: equal to float32 precision.
    answers = _answers(n=40)
    model = linear_model(6, 2, masked=True)
    floats, mask = np.maximum(answers, 0).astype(np.float32), answers >= 0
    coded = lv.log_marginal_likelihood(model, lv.CodedArray(answers), num_samples=50, seed=1)
    plain = lv.log_marginal_likelihood(model, floats, mask=mask, num_samples=50, seed=1)
    np.testing.assert_array_equal(coded, plain)
    table = lv.evaluate(model, lv.CodedArray(answers), per_row=True, seed=2)
    np.testing.assert_array_equal(table.to_numpy(),
                                  lv.evaluate(model, floats, mask=mask, per_row=True,
                                              seed=2).to_numpy())


def test_pipelines_run_without_autotuning_unless_a_dataset_asks_for_it():
    """tf.data's tuner stalled epoch starts for seconds (latentvi/inputs.py `untuned`): the
    batches `fit` makes, and a user's Dataset without autotune options, run without it; a
    Dataset whose options turn it on keeps it. Batches are whole: 103 rows in 11 batches of
    at most 10, the last of 3."""
    from latentvi.inputs import batches

    model = linear_model(1, 1)
    made = make_dataset(np.arange(103, dtype=np.float32)[:, np.newaxis], None, batch_size=10,
                        shuffle=True, seed=1)
    assert made.options().autotune.enabled is False
    assert [len(b) for b in made] == [10] * 10 + [3]
    users = tf.data.Dataset.from_tensor_slices(np.zeros((40, 1), np.float32)).batch(8) \
        .prefetch(tf.data.AUTOTUNE)
    assert batches(model, users, None, 8).options().autotune.enabled is False
    options = tf.data.Options()
    options.autotune.enabled = True
    tuned = batches(model, users.with_options(options), None, 8)
    assert tuned.options().autotune.enabled is True
    assert sum(len(b) for b in tuned) == 40
