"""The `tf.distribute` strategy a run uses, chosen by name, and what the loop asks of it.

    default       TensorFlow's default strategy: one device, no distribution machinery
    one_device    OneDeviceStrategy on the first GPU, else the CPU
    mirrored      MirroredStrategy over every GPU of this machine (or, without GPUs, every
                  logical CPU device: tests split the CPU in two)
    multi_worker  MultiWorkerMirroredStrategy; the cluster comes from the TF_CONFIG variable
    tpu           TPUStrategy on the TPU named by `tpu` ("local" on a TPU VM; TPU_NAME)

Batches are global: with R replicas each gets batch_size / R, and every worker builds its
own input pipeline (its shard of the data) through `distribute_datasets_from_function`.
A multi-worker strategy must exist before TensorFlow runs anything else: create it first.
"""

import json
import os

import tensorflow as tf

from keras_backbones.training.recipe import STRATEGIES, check_choice


def make_strategy(name="default", *, tpu=""):
    """The tf.distribute.Strategy called `name` (see the module docstring)."""
    check_choice("--strategy", name, STRATEGIES)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=tf.distribute.cluster_resolver.TFConfigClusterResolver())
    return _tpu_strategy(tpu)


def _check_tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError("--strategy multi_worker needs the TF_CONFIG environment variable, e.g. "
                         """TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, """
                         """"task": {"type": "worker", "index": 0}}' on the first machine.""")
    try:
        spec = json.loads(raw)
        cluster, task = spec["cluster"], spec["task"]
        hosts = [*cluster.get("chief", []), *cluster.get("worker", [])]
        task["type"], task["index"]  # noqa: B018  (both must be there)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"TF_CONFIG is not a valid cluster spec ({error!r}): it needs "
                         "cluster.worker (and optionally cluster.chief: lists of host:port) and "
                         f"task.type, task.index; got {raw!r}.") from None
    if not hosts:
        raise ValueError(f"TF_CONFIG's cluster lists no chief or worker hosts; got {raw!r}.")


def _tpu_strategy(tpu):
    tpu = tpu or os.environ.get("TPU_NAME", "")
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or None)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ValueError(
            f"--strategy tpu: no TPU found ({first_line}). Pass --tpu=local on a Cloud TPU VM, "
            "or --tpu=NAME (or set TPU_NAME) for a TPU node.") from None
    return tf.distribute.TPUStrategy(resolver)


def is_default(strategy):
    """Whether `strategy` is TensorFlow's default (no-op) strategy."""
    return type(strategy).__name__ == "_DefaultDistributionStrategy"


def is_multi_worker(strategy):
    """Whether `strategy` spans several worker processes (Keras's own test)."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


def replicas(strategy):
    return strategy.num_replicas_in_sync


def per_replica_batch(global_batch, strategy, what="batch_size"):
    """global_batch / replicas, which must divide exactly (the recipe's batch is global)."""
    count = replicas(strategy)
    if global_batch % count:
        raise ValueError(f"{what}={global_batch} (global) does not divide among {count} replicas; "
                         f"use a multiple of {count}.")
    return global_batch // count


def worker(strategy):
    """(task_type, task_id, is_chief) of this process. Outside multi-worker: (None, 0, True).

    The chief is the "chief" task, or worker 0 when the cluster has none (TF's convention)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if resolver is None or task_type is None or isinstance(strategy, tf.distribute.TPUStrategy):
        return None, 0, True
    task_id = resolver.task_id or 0
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return task_type, task_id, is_chief


def distribute(strategy, make_dataset, global_batch):
    """The loop's dataset: `make_dataset(per_replica_batch, input_context)` once per worker
    through distribute_datasets_from_function (each worker its own shard); under the default
    strategy, the plain dataset."""
    per_replica_batch(global_batch, strategy)  # checks that it divides
    if is_default(strategy):
        return make_dataset(global_batch, None)
    return strategy.distribute_datasets_from_function(
        lambda context: make_dataset(context.get_per_replica_batch_size(global_batch), context))
