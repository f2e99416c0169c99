"""An `ItemFactorModel` on files read as a stream (`latentvi.irt.streaming`): the fit's data,
scores written chunk by chunk, the log-likelihood summed over chunks.

`ItemFactorModel.fit(path)` scans the files once (category map, persons, a random sample),
takes its starting values and the convergence rule's monitoring persons from the sample, and
trains on an endless shuffled stream of minibatches (`Stream.dataset`). `score(path, out=...)`
and `log_likelihood(path)` go over the files chunk by chunk with the in-memory methods, so that
every chunk is scored exactly as the same rows in a DataFrame would be.
"""

import pathlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from latentvi import distributed
from latentvi.estimate import MonteCarloEstimate
from latentvi.irt import streaming
from latentvi.irt.responses import grouped_by_type
from latentvi.irt.scoring import total

__all__ = ["Stream", "log_likelihood_files", "no_refinement", "scan_files", "score_files"]


@dataclass
class Stream:
    """The training data of a fit on files: the `files`, their `scan`, the coding settings."""
    files: streaming.ResponseFiles
    scan: streaming.Scan
    items: list
    missing_codes: object

    @property
    def n_persons(self):
        return self.scan.n_persons

    def dataset(self, batch_size, seed=None, strategy=None):
        """An endless batched `tf.data.Dataset` of (codes, mask) minibatches. Under a
        multi-worker strategy each worker reads its own share of the files (and Keras gives
        each worker its share of every batch it reads)."""
        n_items = len(self.items)
        category_map = self.scan.sample.category_map
        files_read = _worker_files(len(self.files.paths), strategy)
        _check_shares(self.files, strategy)

        def batches():
            return streaming.training_batches(self.files, self.items, category_map,
                                              self.missing_codes, batch_size, seed,
                                              files_read=files_read)

        signature = (tf.TensorSpec((batch_size, n_items), tf.float32),
                     tf.TensorSpec((batch_size, n_items), tf.bool))
        dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
        return dataset.prefetch(8)


def _worker_files(n_files, strategy):
    """The positions of the files this worker reads: all of them, except under a multi-worker
    strategy (`streaming.shard`, by the worker's task id)."""
    if not distributed.is_multi_worker(strategy):
        return None
    worker, n_workers = _worker(strategy)
    return streaming.shard(n_files, worker, n_workers)


def _worker(strategy):
    """(this worker's task id, the number of workers) of a multi-worker strategy."""
    resolver = strategy.cluster_resolver
    return resolver.task_id, resolver.cluster_spec().num_tasks(resolver.task_type)


def _check_shares(files, strategy):
    """Warns when the workers' shares of the files differ in rows by more than 5%: every
    worker contributes as many persons to each step, so the persons of a smaller share would
    weigh more in the fit (Parquet files; a CSV's rows are not counted)."""
    if not distributed.is_multi_worker(strategy) or files.kind != "parquet":
        return
    n_workers = _worker(strategy)[1]
    rows = [streaming.n_rows(files, path) for path in files.paths]
    shares = [sum(rows[k] for k in streaming.shard(len(rows), worker, n_workers))
              for worker in range(n_workers)]
    if max(shares) > 1.05 * min(shares):
        warnings.warn(f"the workers' shares of the files hold {shares} rows: each worker gives "
                      f"every step as many persons, so those of the smaller shares weigh more; "
                      f"split the data into files of equal size, a multiple of {n_workers} of "
                      f"them", UserWarning, stacklevel=4)


def scan_files(est, data, verbose):
    """(the coded sample as `Responses`, the `Stream`) of the files `data` names, for
    `est.fit`; sets `est.item_order_`."""
    files = streaming.open_files(data)
    columns = [column for column in files.columns if column != files.id_column]
    items = columns if est.items is None else _chosen(est.items, columns, files)
    empty = pd.DataFrame(columns=items)
    ordered = list(grouped_by_type(empty, est.item_type).columns)
    progress = _reading_progress(files, verbose)
    scan = streaming.scan(files, ordered, est.item_type, missing_codes=est.missing_codes,
                          max_categories=est.max_categories, seed=est.seed, progress=progress)
    est.item_order_ = list(items)
    return scan.sample, Stream(files, scan, ordered, est.missing_codes)


def _chosen(items, columns, files):
    if isinstance(items, (str, bytes)) or not pd.api.types.is_list_like(items):
        raise TypeError(f"items must be a list of column labels, e.g. items=['q1', 'q2']; got "
                        f"{items!r}")
    unknown = [item for item in items if item not in set(columns)]
    if unknown:
        raise ValueError(f"items names columns not in {files}: {unknown[:10]}; its columns are "
                         f"{columns[:20]}")
    return list(items)


def _reading_progress(files, verbose):
    """A progress callback printing a line every 10 chunks read (verbose >= 1)."""
    if not verbose:
        return None
    state = {"calls": 0}

    def report(line):
        state["calls"] += 1
        if state["calls"] % 10 == 0:
            print(f"{files}: {line}", flush=True)

    return report


def no_refinement(mode):
    """The refinement of a fit on files: none (it needs every answer pattern at once)."""
    if mode is True:
        warnings.warn("refine=True is not done for a fit on files (the exact-ML refinement "
                      "needs every answer pattern in memory); the stochastic fit is kept",
                      UserWarning, stacklevel=4)


def score_files(est, data, out, verbose=1, **options):
    """Scores every person of the files `data` names into `out` (.parquet or .csv), chunk by
    chunk with `est.score(chunk, **options)`; returns the path written."""
    if out is None:
        raise ValueError("scores of files are written to a file: give out='scores.parquet' "
                         "(or .csv)")
    out = pathlib.Path(out)
    if out.exists() and not options.pop("overwrite", False):
        raise FileExistsError(f"{out} exists; pass overwrite=True to replace it")
    options.pop("overwrite", None)
    verbose = options.pop("verbose", verbose)
    files = streaming.open_files(data)
    seed = options.pop("seed", None)
    base = est.seed if seed is None else seed
    # each chunk its own seed: plausible values drawn with one seed per chunk would repeat
    # their random numbers every CHUNK_ROWS persons
    frames = (est.score(frame, seed=None if base is None else int(base) + number, **options)
              for number, frame in enumerate(streaming.chunks(files, _items(est))))
    streaming.write_chunks(frames, out, what="scores", verbose=verbose)
    return out


def log_likelihood_files(est, data, num_samples=None, integration="auto"):
    """sum_i log p(x_i) over the persons of the files, chunk by chunk; a MonteCarloEstimate
    (its `.se` from the chunks' SEs, independent) and the number of persons."""
    files = streaming.open_files(data)
    estimates, persons = [], 0
    for frame in streaming.chunks(files, _items(est)):
        answered = frame.notna().any(axis=1)  # `log_likelihood` needs persons with answers
        frame = frame[answered.to_numpy()]
        if not len(frame):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            estimate = est.log_likelihood(frame, num_samples=num_samples,
                                          integration=integration)
        estimates.append((float(estimate), estimate.se))
        persons += int(est._encode(frame).answered_any().sum())
    values = np.array(estimates)
    return total(values[:, 0], values[:, 1]) if len(values) else MonteCarloEstimate(0.0, 0.0), \
        persons


def _items(est):
    return list(est.category_map_)
