"""Fits, scores and log-likelihoods on files read as a stream (`latentvi.irt.streaming`)."""

import numpy as np
import pandas as pd
import pytest

from latentvi import irt
from latentvi.irt import streaming

N_PERSONS, N_ITEMS = 4000, 8


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """(folder of 4 Parquet shards with a named person index, the same data in memory)."""
    folder = tmp_path_factory.mktemp("shards")
    data, _ = irt.simulate(N_PERSONS, N_ITEMS, 1, missing_rate=0.05, seed=7)
    data.index = pd.Index([f"p{i}" for i in range(N_PERSONS)], name="person")
    data.iloc[5] = np.nan  # a person with no answer: dropped from the fit, as in memory
    for part, rows in enumerate(np.array_split(np.arange(N_PERSONS), 4)):
        data.iloc[rows].to_parquet(folder / f"part{part}.parquet")
    return folder, data


@pytest.fixture(scope="module")
def fitted(shards):
    folder, data = shards
    with pytest.warns(UserWarning, match="dropping 1 persons"):
        streamed = irt.ItemFactorModel(seed=0).fit(str(folder / "*.parquet"), verbose=0)
    with pytest.warns(UserWarning, match="dropping 1 persons"):
        in_memory = irt.ItemFactorModel(seed=0).fit(data, verbose=0)
    return streamed, in_memory


def test_a_stream_fit_finds_the_in_memory_estimates(fitted):
    streamed, in_memory = fitted
    assert streamed.n_persons_ == in_memory.n_persons_ == N_PERSONS - 1
    assert list(streamed.dropped_persons_) == ["p5"]
    assert streamed.category_map_ == in_memory.category_map_
    # The in-memory fit is refined to the exact maximum; the stream fit is the stochastic fit
    # alone. Its distance from the maximum is optimization noise, a small share of the SEs
    # (slopes ~0.06, intercepts ~0.04 at 4,000 persons): 0.03 is half an SE of a slope.
    difference = (streamed.items_ - in_memory.items_).abs().to_numpy()
    assert difference.max() < 0.03, difference


def test_scores_of_files_are_written_chunk_by_chunk_as_in_memory(fitted, shards, tmp_path,
                                                                 monkeypatch):
    streamed, _ = fitted
    folder, data = shards
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 700)  # chunks across and within files
    out = streamed.score(str(folder), out=tmp_path / "scores.parquet")
    written = pd.read_parquet(out)
    expected = streamed.score(data)
    assert list(written.index) == list(data.index)  # the stored person index labels them
    np.testing.assert_allclose(written.to_numpy(), expected.to_numpy(), atol=1e-5)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        streamed.score(str(folder), out=out)
    csv = streamed.score(str(folder), out=tmp_path / "scores.csv", verbose=0)
    np.testing.assert_allclose(pd.read_csv(csv, index_col=0).to_numpy(),
                               expected.to_numpy(), atol=1e-5)
    assert not list(tmp_path.glob(".*partial"))  # temporary files renamed, none left


def test_log_likelihood_of_files_sums_the_chunks_exactly(fitted, shards, monkeypatch):
    streamed, _ = fitted
    folder, data = shards
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 1500)
    by_chunks = streamed.log_likelihood(str(folder / "*.parquet"))
    # by quadrature both are exact to ~1e-6 nats per person
    assert by_chunks == pytest.approx(float(streamed.log_likelihood(data)), abs=1e-2)
    criteria = streamed.information_criteria(str(folder / "*.parquet"))
    assert criteria["loglik"] == pytest.approx(float(by_chunks))
    assert criteria["BIC"] == pytest.approx(
        -2 * float(by_chunks) + streamed.n_parameters_ * np.log(N_PERSONS - 1))


def test_a_csv_stream_codes_answers_as_a_dataframe_does(tmp_path, monkeypatch):
    # text cells, a missing code and a category first seen in a late chunk: the category
    # map built in one pass over chunks equals the one of the whole table in memory
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.integers(1, 5, size=(600, 4)).astype(object),
                         columns=["q1", "q2", "q3", "q4"])
    frame.iloc[::7, 0] = "."
    frame.iloc[::11, 1] = 99
    frame.loc[frame["q3"] == 4, "q3"] = 3
    frame.iloc[590, 2] = 4
    frame.to_csv(tmp_path / "survey.csv", index=False)
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 100)
    files = streaming.open_files(tmp_path / "survey.csv")
    scan = streaming.scan(files, list(frame.columns), "graded", missing_codes=[".", 99])
    expected = irt.responses.encode_responses(pd.read_csv(tmp_path / "survey.csv"), "graded",
                                              missing_codes=[".", 99])
    assert scan.sample.category_map == expected.category_map
    assert scan.n_persons == 600 and len(scan.sample.codes) == 600
    np.testing.assert_array_equal(scan.sample.codes, expected.codes)


def test_the_training_stream_visits_every_person_once_per_pass_mixing_files(shards):
    folder, data = shards
    files = streaming.open_files(folder)
    items = list(data.columns)
    fitted_map = irt.responses.encode_responses(data.dropna(how="all"), "binary").category_map
    batches = streaming.training_batches(files, items, fitted_map, None, batch_size=333,
                                         seed=1, buffer_rows=1200)
    first_pass = [next(batches) for _ in range(12)]  # 12 x 333 = 3,996 of 3,999 persons
    codes = np.concatenate([codes for codes, _ in first_pass])
    mask = np.concatenate([mask for _, mask in first_pass])
    whole = irt.responses.apply_category_map(data.dropna(how="all"), fitted_map)
    rows = {tuple(np.where(m, c, -1)) for c, m in zip(whole.codes, whole.mask)}
    drawn = [tuple(np.where(m, c, -1)) for c, m in zip(codes, mask)]
    assert set(drawn) <= rows
    # distinct patterns are fewer than persons, so count persons through their patterns
    assert len(drawn) == 3996
    # the first batch mixes the four files (1,000 rows each) through the buffer
    first = {tuple(np.where(m, c, -1)) for c, m in zip(*first_pass[0])}
    by_file = [{tuple(np.where(m, c, -1)) for c, m in zip(whole.codes[k * 1000:(k + 1) * 1000],
                                                          whole.mask[k * 1000:(k + 1) * 1000])}
               for k in range(4)]
    assert sum(bool(first & patterns) for patterns in by_file) >= 2


@pytest.mark.parametrize("make, error, message", [
    (lambda d: [d / "a.parquet", d / "b.csv"], ValueError, "mix Parquet and CSV"),
    (lambda d: str(d / "nothing*.parquet"), FileNotFoundError, "no file matches"),
    (lambda d: d / "missing.parquet", FileNotFoundError, "no such file"),
    (lambda d: [d / "a.parquet", d / "c.parquet"], ValueError, "same columns"),
    (lambda d: d / "a.json", ValueError, "Parquet .* and CSV"),
])
def test_bad_file_sources_are_named(tmp_path, make, error, message):
    pd.DataFrame({"q1": [0, 1], "q2": [1, 0]}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"q1": [0, 1], "q2": [1, 0]}).to_csv(tmp_path / "b.csv")
    pd.DataFrame({"q1": [0, 1], "q3": [1, 0]}).to_parquet(tmp_path / "c.parquet")
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(error, match=message):
        streaming.open_files(make(tmp_path))


def test_scores_of_files_need_an_output_file(fitted, shards):
    streamed, _ = fitted
    with pytest.raises(ValueError, match="give out="):
        streamed.score(str(shards[0]))


def test_a_bad_answer_deep_in_the_files_is_named_with_its_column_and_files(tmp_path):
    frame = pd.DataFrame({"q1": [0, 1] * 50, "q2": [1, 0] * 50}).astype(object)
    frame.iloc[77, 1] = "Agree"
    frame.to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(TypeError, match=r"column 'q2' has a non-numeric value 'Agree' \(in "
                                        r".*a\.csv\)"):
        irt.ItemFactorModel().fit(tmp_path / "a.csv", verbose=0)


def test_a_report_on_files_counts_every_answer_as_in_memory(fitted, shards, monkeypatch):
    import sys
    report = sys.modules["latentvi.irt.report"]  # the module (irt.report is the function)
    streamed, _ = fitted
    folder, data = shards
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 900)  # counts added over chunks
    monkeypatch.setattr(report, "SAMPLE_SCORES", 1000)
    on_files = report.collect(streamed, str(folder), criteria=pd.Series(
        {"loglik": -1.0, "loglik_se": 0.0, "n_params": 16, "AIC": 1.0, "BIC": 1.0}))
    in_memory = report.collect(streamed, data, criteria=on_files.criteria)
    pd.testing.assert_frame_equal(on_files.data, in_memory.data)
    assert on_files.n_rows == N_PERSONS
    assert on_files.missing_overall == pytest.approx(in_memory.missing_overall)
    assert len(on_files.scores) == 1000 and "random sample of 1,000" in on_files.scores_note
    assert "not computed for data read from files" in on_files.standard_errors.error
    page = report.render(on_files)
    assert "random sample of 1,000 of the 4,000 persons" in page


def test_chunks_that_read_a_column_differently_code_as_one_table(tmp_path, monkeypatch):
    # the reader takes item a for numbers in the first chunk and for text in the second (a '.'
    # there), and '99' is given as text: the map equals the whole table's in memory, and a
    # header-only file adds nothing
    frame = pd.DataFrame({"a": list(range(11)) * 20, "b": [0, 1] * 110}).astype(object)
    frame.iloc[150, 0] = "."
    frame.iloc[::9, 1] = 99
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.iloc[:0].to_csv(tmp_path / "b.csv", index=False)
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 100)
    files = streaming.open_files([tmp_path / "a.csv", tmp_path / "b.csv"])
    scan = streaming.scan(files, ["a", "b"], "graded", missing_codes=[".", "99"])
    expected = irt.responses.encode_responses(pd.read_csv(tmp_path / "a.csv"), "graded",
                                              missing_codes=[".", "99"])
    assert scan.sample.category_map == expected.category_map
    assert len(expected.category_map["a"]) == 11 and len(expected.category_map["b"]) == 2


def test_person_labels_repeated_across_files_are_refused(tmp_path):
    for name in ("a", "b"):
        pd.DataFrame({"q1": [0, 1] * 30, "q2": [1, 0] * 30},
                     index=pd.Index([f"p{i}" for i in range(60)], name="person")).to_parquet(
            tmp_path / f"{name}.parquet")
    with pytest.raises(ValueError, match=r"person labels repeat in 2 files"):
        streaming.scan(streaming.open_files(tmp_path), ["q1", "q2"], "binary")
