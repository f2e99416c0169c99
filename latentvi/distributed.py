"""Fitting on several machines: what `MultiWorkerMirroredStrategy` needs beyond one machine.

`fit(model, data, strategy=tf.distribute.MultiWorkerMirroredStrategy())` runs the same program
on every worker of a cluster (each reads its `TF_CONFIG`); the gradients of each step are summed
across workers by an all-reduce, so all copies of the model take the same steps. Three things
do not hold by themselves across processes, and this module supplies them (and one limit of
Keras that holds for any strategy with several replicas):

- the same starting point: each worker builds its model with its own random initial weights
  unless the seeds agree, so `prepare_replica` gives every worker worker 0's weights;
- each worker its own rows: every worker must shuffle the rows alike, which needs `fit`'s
  `seed` (see `check_seed`) and the same TensorFlow global seed on every worker
  (`keras.utils.set_random_seed` with one value everywhere, or not at all); `shard_by_batch`
  then makes each worker take its own share of every global batch;
- logs Keras can average: Keras 3 averages each worker's step logs along a first axis that a
  scalar lacks (https://github.com/tensorflow/tensorflow/issues/72388), so `prepare_replica`
  gives them one;
- a model built before the fit: Keras would build it again from a first batch averaged across
  workers, which fails for masked data, (x, mask) pairs;
- one step per compiled call: Keras 3 fails to run several steps per call under a strategy
  with several replicas (https://github.com/keras-team/keras/issues/19246), so
  `supported_steps_per_execution` lowers `steps_per_execution` to 1 there.

On one machine the first three are no-ops.
"""

import tensorflow as tf

__all__ = ["check_seed", "is_multi_worker", "prepare_replica", "shard_by_batch",
           "supported_steps_per_execution"]


def is_multi_worker(strategy):
    """Whether `strategy` synchronizes replicas in more than one process (worker)."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.num_replicas_in_sync > len(strategy.extended.worker_devices))


def check_seed(seed, strategy):
    """Raises ValueError for a multi-worker fit without a seed: each worker would shuffle the
    rows its own way, and the batches of the workers would overlap instead of partitioning."""
    if seed is None and is_multi_worker(strategy):
        raise ValueError("seed must be an integer when fitting with MultiWorkerMirroredStrategy: "
                         "every worker must shuffle the rows alike to take its own share of "
                         "each batch; got seed=None")


def supported_steps_per_execution(steps_per_execution, strategy):
    """`steps_per_execution`, or 1 under a strategy with more than one replica, where Keras'
    loop over several steps inside one call fails ("You must feed a value for placeholder
    tensor", keras-team/keras#19246; measured with MirroredStrategy on two CPUs and with two
    workers)."""
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        return 1
    return steps_per_execution


def shard_by_batch(dataset):
    """`dataset` set to be split by batch: under a multi-worker strategy each global batch of
    the pipeline is cut into one piece per replica and each worker keeps its own pieces.

    Keras sets this policy for the arrays it batches itself; latentvi batches arrays into a
    `tf.data.Dataset`, whose default policy (AUTO) first looks for input files to split and,
    finding none in an in-memory pipeline, falls back to this one. Setting it says so rather
    than leaving it to the fallback.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def prepare_replica(replica, strategy):
    """Readies a model created under `strategy` for `keras.Model.fit` across workers: worker
    0's weights on every worker, and step logs with the axis Keras averages along. Returns
    `replica` (unchanged on one machine)."""
    if not is_multi_worker(strategy):
        return replica
    replica.set_weights(_chief_values(strategy, replica.get_weights()))
    replica.train_step = _with_replica_axis(replica.train_step)
    replica.test_step = _with_replica_axis(replica.test_step)
    # Keras builds a model under a strategy from a first batch averaged across workers, which
    # fails for an (x, mask) pair ("Attempt to convert a value (PerReplica...)": its reduce
    # takes one tensor); the replica is built already (`fitting._replicate`), so skip it.
    replica._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    return replica


def _chief_values(strategy, values):
    """Worker 0's `values` (a list of arrays), on every worker."""
    def keep_first(arrays):
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        # A sum to which only replica 0 contributes is a broadcast from it (tf.where, not a
        # product, so that a NaN elsewhere cannot leak in). One all-reduce per array: a list
        # is packed into one tensor, which the integer seed state cannot share with floats.
        return [context.all_reduce(tf.distribute.ReduceOp.SUM,
                                   tf.where(first, a, tf.zeros_like(a))) for a in arrays]

    # Run eagerly, a cross-worker strategy warns of (and pays) per-op overhead.
    summed = tf.function(lambda: strategy.run(keep_first, args=(values,)))()
    return [strategy.experimental_local_results(value)[0].numpy() for value in summed]


def _with_replica_axis(step):
    def step_with_axis(data):
        return {name: tf.reshape(value, [1]) for name, value in step(data).items()}
    return step_with_axis
