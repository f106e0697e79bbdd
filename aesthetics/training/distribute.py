"""Distribution strategies for training and pretraining (`train.distribute`,
`pretrain.distribute`).

    none          TensorFlow's default strategy: one device
    mirrored      `tf.distribute.MirroredStrategy`: every GPU of this machine
                  (or, without GPUs, every logical CPU; see below)
    multi_worker  `tf.distribute.MultiWorkerMirroredStrategy`: the machines of
                  the cluster in the `TF_CONFIG` environment variable
    tpu           `tf.distribute.TPUStrategy` on the TPU the resolver finds

Model building, optimizer, metrics, checkpoint loading and fitting happen
inside `strategy.scope()` (the training loops do that). `distributed_dataset`
splits the global batch (`data.batch_size`) across replicas and shards the
training files by input pipeline (worker) *before* decoding, so each worker
decodes only its own files.

`AESTHETICS_VIRTUAL_CPUS=N` splits the CPU into N logical devices before
TensorFlow places anything: mirrored training can then be run and tested on
a machine without GPUs.

In a multi-worker run only the chief (task "chief", or worker 0 when there
is none) writes the run folder; the other workers write into a private
temporary folder that is deleted at the end (they start from a copy of the
run folder's checkpoint and state, so a resumed run resumes everywhere).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os

from aesthetics.constants import DISTRIBUTE_STRATEGIES
from aesthetics.errors import ConfigError

log = logging.getLogger("aesthetics")
VIRTUAL_CPUS_ENV = "AESTHETICS_VIRTUAL_CPUS"


def virtual_cpus() -> int:
    """The logical CPU count asked for by AESTHETICS_VIRTUAL_CPUS (0: unset)."""
    text = os.environ.get(VIRTUAL_CPUS_ENV, "").strip()
    if not text:
        return 0
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 1 <= n <= 64:
        raise ConfigError(f"{VIRTUAL_CPUS_ENV}={text!r}: expected a whole number from 1 to 64")
    return n


def apply_virtual_cpus() -> int:
    """Splits the CPU into `virtual_cpus()` logical devices; must run before
    TensorFlow initialises its devices (the CLI calls it first thing).
    Returns the number of logical CPUs in use."""
    import tensorflow as tf

    n = virtual_cpus()
    cpus = tf.config.list_physical_devices("CPU")
    if n <= 1 or not cpus:
        return len(tf.config.list_logical_devices("CPU")) if n else 1
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError:  # devices already initialised in this process
        have = len(tf.config.list_logical_devices("CPU"))
        if have != n:
            log.warning("%s=%d ignored: TensorFlow's devices were initialised already (%d CPU)",
                        VIRTUAL_CPUS_ENV, n, have)
        return have
    return n


def check_strategy_name(name: str, key: str = "train.distribute") -> str:
    if name not in DISTRIBUTE_STRATEGIES:
        raise ConfigError(f"{key}: unknown strategy {name!r}; choose one of {list(DISTRIBUTE_STRATEGIES)}")
    if name == "multi_worker" and not os.environ.get("TF_CONFIG"):
        raise ConfigError(
            f"{key}=multi_worker needs the TF_CONFIG environment variable (the cluster and this "
            f"worker's task); see docs/TRAINING.md"
        )
    if name == "multi_worker":
        _tf_config()  # a malformed TF_CONFIG fails here, before any heavy work
    return name


def _tf_config() -> dict:
    text = os.environ.get("TF_CONFIG", "")
    try:
        config = json.loads(text)
        workers = config["cluster"]
        task = config["task"]
        if not isinstance(workers, dict) or not isinstance(task, dict):
            raise TypeError
        task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError('TF_CONFIG is not valid: expected {"cluster": {"worker": ["host:port", ...]}, '
                          '"task": {"type": "worker", "index": 0}}') from None
    return config


def make_strategy(name: str = "none"):
    """The `tf.distribute.Strategy` for a config value (see the module doc)."""
    import tensorflow as tf

    check_strategy_name(name)
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        # several logical CPUs (AESTHETICS_VIRTUAL_CPUS) are replicas; one CPU is one replica
        return tf.distribute.MirroredStrategy(devices=cpus,
                                              cross_device_ops=tf.distribute.ReductionToOneDevice())
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        raise ConfigError(f"train.distribute=tpu: no TPU found ({e})") from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy) -> bool:
    """Whether this process writes the run folder (always, unless it is a
    non-chief worker of a multi-worker run)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type in (None, "worker") and task_id == 0 and not has_chief


def worker_name(strategy) -> str:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return "local"
    return f"{resolver.task_type}{resolver.task_id}"


def distributed_dataset(strategy, make, global_batch: int, n_examples: int):
    """(training dataset for `strategy`, steps_per_epoch).

    `make(batch_size, shard)` builds an endless `tf.data.Dataset` of full
    batches of `batch_size`, reading only the files of `shard` = (count,
    index), or all of them for None; every epoch is ceil(n_examples /
    global_batch) steps. Without a strategy that is `make(global_batch,
    None)`. With one, each input pipeline (worker) reads its own shard of
    the files, before decoding, at the per-replica batch size
    (`distribute_datasets_from_function`; its replicas take successive
    batches), and every worker runs the same number of steps whatever its
    shard's size. With `data.shuffle_buffer=1` a mirrored run sees exactly
    the batches a one-device run sees (tested); with shuffling, the seeded
    order under a strategy is fixed but not the one-device order.
    """
    import math

    import tensorflow as tf

    steps = max(1, math.ceil(n_examples / global_batch))
    if not has_strategy(strategy):
        return make(global_batch, None), steps
    replicas = strategy.num_replicas_in_sync
    if global_batch < replicas:
        raise ConfigError(f"data.batch_size {global_batch} is smaller than the number of replicas "
                          f"({replicas}); raise it to at least {replicas}")
    if global_batch % replicas:  # TensorFlow's per-replica split would fail later, less clearly
        raise ConfigError(f"data.batch_size {global_batch} is not a multiple of the {replicas} "
                          f"replicas; use a multiple, e.g. {replicas * max(1, global_batch // replicas)}")

    def per_pipeline(context):
        shard = (context.num_input_pipelines, context.input_pipeline_id)
        ds = make(context.get_per_replica_batch_size(global_batch), shard if shard[0] > 1 else None)
        options = tf.data.Options()
        # the files are sharded by hand, before decoding
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return ds.with_options(options)

    return strategy.distribute_datasets_from_function(per_pipeline), steps


def has_strategy(strategy) -> bool:
    """Whether `strategy` is a real one (not TensorFlow's default strategy)."""
    return type(strategy).__name__ != "_DefaultDistributionStrategy"


def input_pipelines(strategy) -> int:
    """Input pipelines (one per worker) of `strategy`."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return 1
    spec = resolver.cluster_spec().as_dict()
    return sum(len(spec.get(kind, [])) for kind in ("chief", "worker"))


def worker_folder(run_dir, strategy):
    """For a non-chief worker: a private temporary run folder holding a copy
    of the run folder's resume files (so it resumes where the chief does).
    Returns (folder, cleanup function)."""
    import shutil
    import tempfile
    from pathlib import Path

    run_dir = Path(run_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f"aesthetics-{worker_name(strategy)}-"))
    for name in ("config.json", "state.json", "split.json", "history.csv", "checkpoints"):
        src = run_dir / name
        try:
            if src.is_dir():
                shutil.copytree(src, tmp / name)
            elif src.is_file():
                shutil.copy2(src, tmp / name)
        except OSError as e:  # the chief may be starting the folder over (--no-resume)
            log.warning("worker %s: could not copy %s (%s); starting without it",
                        worker_name(strategy), src, e.strerror or e)
    return tmp, lambda: shutil.rmtree(tmp, ignore_errors=True)


def build_before_fit(model, strategy, element_spec=None, batch: int = 1) -> None:
    """Works around two Keras 3 (3.15) gaps under a strategy, on this model:

    * Keras builds the compiled loss and metrics from the first batch it
      pulls from the distributed iterator, which it first reduces across
      replicas; under MultiWorkerMirroredStrategy that reduction fails
      ("Attempt to convert a value (PerReplica...)"). They are built here
      from `element_spec` (the training batches' specs, at `batch` rows:
      a pretext batch must hold whole groups) or the model's
      input and output shapes instead (shapes are all the build needs), and
      Keras' own build at the start of `fit` is switched off.
    * Under MultiWorkerMirroredStrategy Keras averages each step's logs with
      `strategy.reduce("MEAN", value, axis=0)`, which fails on the scalar
      loss and metrics ("Invalid reduction dimension 0 for input with 0
      dimensions"); the step's logs are given a length-1 axis for it.
    """
    import numpy as np
    import tensorflow as tf

    if not has_strategy(strategy):
        return
    if element_spec is not None:  # (x, y) specs of the training dataset's batches
        x, y = tf.nest.map_structure(
            lambda spec: np.zeros((batch, *spec.shape[1:]), spec.dtype.as_numpy_dtype), element_spec)
    else:
        x = np.zeros((1, *model.input_shape[1:]), np.float32)
        y = np.zeros((1, *model.output_shape[1:]), np.float32)
    with strategy.scope():
        model._symbolic_build(data_batch=(x, y))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    if input_pipelines(strategy) > 1 and not getattr(model, "_aesthetics_step_logs_1d", False):
        step = model.train_step

        def train_step(data):
            return {k: tf.reshape(v, [1]) for k, v in step(data).items()}

        model.train_step = train_step
        model._aesthetics_step_logs_1d = True


def split_batches(strategy, dataset, global_batch: int, group: int = 1):
    """A dataset of whole global batches (pretext batches: groups of `group`
    consecutive crops that the ranking loss compares) for `strategy`: input
    pipeline p of P takes the p-th contiguous 1/P of every batch, and each of
    its replicas a contiguous per-replica share, so no group is ever split
    across replicas. Needs global_batch % (replicas * group) == 0."""
    import tensorflow as tf

    if not has_strategy(strategy):
        return dataset
    replicas = strategy.num_replicas_in_sync
    if global_batch % (replicas * group):
        raise ConfigError(
            f"a batch of {global_batch} crops in groups of {group} cannot be split evenly over "
            f"{replicas} replicas; make pretrain.images_per_batch * pretrain.crops_per_image a "
            f"multiple of {replicas}"
        )

    def per_pipeline(context):
        pipelines, index = context.num_input_pipelines, context.input_pipeline_id
        share = global_batch // pipelines
        ds = dataset
        if pipelines > 1:
            ds = ds.map(lambda x, y: tf.nest.map_structure(
                lambda t: t[index * share:(index + 1) * share], (x, y)))
        ds = ds.unbatch().batch(context.get_per_replica_batch_size(global_batch), drop_remainder=True)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return ds.with_options(options)

    return strategy.distribute_datasets_from_function(per_pipeline)


@contextlib.contextmanager
def strategy_run(name: str, run_dir):
    """`with strategy_run(config.train.distribute, run_dir) as (strategy,
    folder):` the strategy's scope, and the folder this process writes: the
    run folder, or for a non-chief worker a private temporary copy of its
    resume files (deleted on exit)."""
    from pathlib import Path

    strategy = make_strategy(name)
    folder, cleanup = Path(run_dir), None
    if not is_chief(strategy):
        folder, cleanup = worker_folder(run_dir, strategy)
    try:
        with strategy.scope():
            yield strategy, folder
    finally:
        if cleanup is not None:
            cleanup()
