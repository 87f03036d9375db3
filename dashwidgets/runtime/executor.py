"""Executors: where the engine's batch work runs (issue 17 §4).

A *batch task* is a picklable object with ``n_batches``, ``setup()`` (called once where it runs:
builds the model, opens the images), ``__call__(k) -> dict[str, ndarray]`` (the rows of batch
``k``, one row per image, always with a ``"pos"`` column: each row's position in the task's
index list) and ``shared`` (names of its large attributes, e.g. the images, that an executor may
ship once and reuse across tasks while they are the same object). The batches are the SAME ones
the local path uses, so on CPU the results are bitwise identical to it.

:class:`LocalExecutor` runs a task in this process; :class:`RayExecutor` runs it on a Ray
cluster, on a pool of long-lived actors it keeps across calls (one GPU each when the task asks
for one), or through Ray Data ``map_batches`` (``pool="data"``, new actors every call).
Training and the widgets always stay local.
"""

from __future__ import annotations

import copy
import re
import weakref
from collections import deque
from typing import Any

import numpy as np

RAY_MISSING = "the Ray executor needs Ray: pip install 'dashwidgets[ray]' (ray[data]>=2.9)"
POOLS = ("actors", "data")
_BATCH_LINE = re.compile(r"BatchError: (batch \d+ of \d+ of \w+ failed: [^\n]*)")
_INIT_TRIES = 2  # a loaded machine can take longer than Ray's agent timeout to start a node


class BatchError(RuntimeError):
    """A batch of a task failed on a worker: names the batch, the task and the cause."""


def _run_batch(task: Any, k: int) -> dict[str, np.ndarray]:
    """``task(k)``, any failure raised as a :class:`BatchError` naming batch ``k``."""
    try:
        return task(k)
    except Exception as e:  # noqa: BLE001 - re-raised, naming the batch
        raise BatchError(f"batch {k} of {task.n_batches} of {type(task).__name__} failed: "
                         f"{type(e).__name__}: {e}") from e


def _clean_error(ray, e: BaseException, what: str) -> BaseException:
    """The error to raise on the driver for a worker's failure ``e`` (a RayTaskError): its
    :class:`BatchError` as is, else one line naming ``what`` failed and why (not Ray's traceback dump)."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BatchError):
        return BatchError(str(cause))
    if cause is not None:
        return RuntimeError(f"{what} failed on a Ray worker: {type(cause).__name__}: {cause}")
    return RuntimeError(f"{what} failed on a Ray worker: {str(e).strip().splitlines()[-1][:500]}")


def _gather(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Rows of every batch, concatenated and put back in ``pos`` order (``pos`` dropped)."""
    if not parts:
        return {}
    out = {key: np.concatenate([np.asarray(p[key]) for p in parts]) for key in parts[0]}
    order = np.argsort(out.pop("pos"), kind="stable")
    return {key: np.ascontiguousarray(v[order]) for key, v in out.items()}


class LocalExecutor:
    """Runs a batch task here, batch after batch (what the engine does without Ray)."""

    name = "local"

    def map_batches(self, task: Any, gpu: bool = False) -> dict[str, np.ndarray]:
        task.setup()
        return _gather([task(k) for k in range(task.n_batches)])

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "LocalExecutor()"


class _RayBatchActor:
    """One Ray Data actor (``pool="data"``): fetches the task once (model and images from the
    object store), then maps batch numbers to rows."""

    def __init__(self, task_ref: list):
        import ray

        self.task = ray.get(task_ref[0])  # wrapped in a list so Ray Data passes the ref itself
        self.task.setup()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        parts = [_run_batch(self.task, int(k)) for k in batch["k"]]
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


class _PoolWorker:
    """One long-lived actor of a :class:`RayExecutor`'s pool: ``prepare`` takes a call's task
    (its shared arrays arrive as separate object refs, reused across calls), ``run`` maps a batch
    number to its rows. Ray runs one actor's calls in submission order, so every ``run`` of a
    call sees that call's task."""

    def __init__(self):
        self.task = None

    def prepare(self, task_ref: list, shared: dict) -> int:
        import os

        import ray

        task = ray.get(task_ref[0])  # refs inside containers are not resolved by Ray: fetch here
        for name, ref in shared.items():
            setattr(task, name, ray.get(ref))
        task.setup()
        self.task = task
        return os.getpid()

    def run(self, k: int) -> dict[str, np.ndarray]:
        return _run_batch(self.task, int(k))

    def release(self) -> None:
        self.task = None


_WORKER_CLASS = None


def _worker_class():
    global _WORKER_CLASS
    if _WORKER_CLASS is None:
        import ray

        _WORKER_CLASS = ray.remote(_PoolWorker)
    return _WORKER_CLASS


def _kill(actors: list, shared: list) -> None:
    """Kill the pool's actors and drop the shared arrays' refs (also run at exit and when the
    executor is garbage-collected, through ``weakref.finalize``)."""
    shared.clear()
    if not actors:
        return
    try:
        import ray

        if ray.is_initialized():
            for a in actors:
                ray.kill(a, no_restart=True)
    except Exception:  # noqa: BLE001 - Ray already shut down (at exit): its actors went with it
        pass
    actors.clear()


class RayExecutor:
    """Runs batch tasks on a Ray cluster.

    ``pool="actors"`` (default): ``num_workers`` long-lived actors (``num_gpus=1`` each when the
    engine's device is CUDA, else ``num_cpus`` each; no more than the cluster holds, see
    :meth:`pool_size`), started on the first call and kept for the
    next ones, so only the first call pays Ray's actor start-up; each call ships the model once
    and each batch number to a free actor (two in flight per actor), and the images are put into
    the object store once while the task's images are the same array. ``pool="data"``: Ray Data
    ``map_batches`` over the batch numbers with a new actor pool every call (Ray Data's own
    scheduling and autoscaling, at the price of that start-up per call).

    ``close()`` (or leaving ``with RayExecutor() as ex:``) kills the actors and frees the shared
    images; a closed executor starts a new pool if it is used again. Actors are also killed when
    the executor is garbage-collected and at exit.

    ``address``: the cluster to join when Ray is not initialised yet (``None``: ``ray.init()``'s
    default, i.e. ``RAY_ADDRESS`` or a new local instance on this machine; ``"auto"``: an existing
    cluster). When Ray is already initialised (``ray.init(...)`` by the caller) it is used as is.
    """

    name = "ray"

    def __init__(self, num_workers: int = 2, address: str | None = None, num_cpus: float = 1.0, pool: str = "actors"):
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 1:
            raise ValueError(f"num_workers must be a positive integer, got {num_workers!r}")
        if not isinstance(num_cpus, (int, float)) or isinstance(num_cpus, bool) or num_cpus <= 0:
            raise ValueError(f"num_cpus must be a positive number, got {num_cpus!r}")
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        try:
            import ray  # noqa: F401
            import ray.data  # noqa: F401
        except ImportError as e:
            raise ImportError(RAY_MISSING) from e
        self.num_workers = int(num_workers)
        self.address = address
        self.num_cpus = float(num_cpus)
        self.pool = pool
        self._actors: list = []
        self._gpu: bool | None = None  # the kind of the running pool
        self._shared: list = []  # [(array, object ref)]: the array is held, so its identity is not reused
        self._close = weakref.finalize(self, _kill, self._actors, self._shared)

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Kill the actor pool and drop the shared images (Ray itself keeps running)."""
        _kill(self._actors, self._shared)
        self._gpu = None

    @property
    def workers(self) -> int:
        """Actors alive in the pool now (0 before the first call and after ``close``)."""
        return len(self._actors)

    def _ray(self):
        import ray

        for attempt in range(1, _INIT_TRIES + 1):
            if ray.is_initialized():
                break
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            except Exception as e:  # noqa: BLE001 - retried once from a clean state, then named
                ray.shutdown()
                if attempt == _INIT_TRIES:
                    raise RuntimeError(
                        f"could not start or join Ray (address={self.address!r}) after {_INIT_TRIES} tries: "
                        f"{type(e).__name__}: {e}; use executor='local' to run here"
                    ) from e
        return ray

    def pool_size(self, cluster: dict, gpu: bool) -> int:
        """Actors to start on a cluster with ``cluster`` resources (``ray.cluster_resources()``):
        ``num_workers``, but no more than its GPUs (one each) or CPUs (``num_cpus`` each) hold,
        since an actor that can never be placed would make every call wait forever."""
        if gpu:
            fits = int(cluster.get("GPU", 0))
            if fits < 1:
                raise RuntimeError(
                    "the engine's device is CUDA but the Ray cluster has no GPU: join a cluster with GPUs, "
                    "or run the engine on the CPU (device='cpu') to use CPU workers"
                )
        else:
            fits = max(1, int(cluster.get("CPU", 0) // self.num_cpus))
        return min(self.num_workers, fits)

    def _start(self, ray, gpu: bool) -> list:
        if self._actors and self._gpu == gpu:
            return self._actors
        _kill(self._actors, [])
        resources = {"num_gpus": 1} if gpu else {"num_cpus": self.num_cpus}
        worker = _worker_class().options(**resources)
        self._actors.extend(worker.remote() for _ in range(self.pool_size(ray.cluster_resources(), gpu)))
        self._gpu = gpu
        return self._actors

    def _put(self, ray, array: Any):
        """The object ref of ``array``, put once while it is the same object (the last two kept)."""
        for held, ref in self._shared:
            if held is array:
                return ref
        ref = ray.put(array)
        self._shared.append((array, ref))
        del self._shared[:-2]
        return ref

    # ---------------------------------------------------------------- running
    def map_batches(self, task: Any, gpu: bool = False) -> dict[str, np.ndarray]:
        ray = self._ray()
        if task.n_batches == 0:  # nothing to map: run locally, it only shapes the empty outputs
            return LocalExecutor().map_batches(task)
        if self.pool == "data":
            return self._map_data(ray, task, gpu)
        actors = self._start(ray, gpu)
        light, shared = copy.copy(task), {}
        for name in getattr(task, "shared", ()):
            value = getattr(task, name)
            if value is not None:
                shared[name] = self._put(ray, value)
                setattr(light, name, None)
        task_ref = ray.put(light)
        try:
            try:
                ray.get([a.prepare.remote([task_ref], shared) for a in actors])
            except ray.exceptions.RayTaskError as e:
                raise _clean_error(ray, e, f"preparing {type(task).__name__}") from None
            free = deque([a for a in actors for _ in range(2)])  # two batches in flight per actor
            pending: dict = {}
            parts, k = [], 0
            while k < task.n_batches or pending:
                while k < task.n_batches and free:
                    a = free.popleft()
                    pending[a.run.remote(k)] = a
                    k += 1
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    free.append(pending.pop(ref))
                    try:
                        parts.append(ray.get(ref))
                    except ray.exceptions.RayTaskError as e:  # the batches in flight finish on their own
                        raise _clean_error(ray, e, f"a batch of {type(task).__name__}") from None
        except ray.exceptions.RayActorError:
            self.close()  # a dead actor: the next call starts a new pool
            raise
        finally:
            for a in self._actors:
                a.release.remote()  # the actors keep no model or images between calls
        return _gather(parts)

    def _map_data(self, ray, task: Any, gpu: bool) -> dict[str, np.ndarray]:
        ctx = ray.data.DataContext.get_current()
        bars, ctx.enable_progress_bars = ctx.enable_progress_bars, False  # the engine reports its own
        try:
            task_ref = ray.put(task)  # once: every actor reads the same copy
            ds = ray.data.from_items([{"k": k} for k in range(task.n_batches)], override_num_blocks=task.n_batches)
            resources = {"num_gpus": 1} if gpu else {"num_cpus": self.num_cpus}
            ds = ds.map_batches(
                _RayBatchActor, fn_constructor_args=([task_ref],), batch_size=1, batch_format="numpy",
                concurrency=min(self.num_workers, task.n_batches), **resources,
            )
            try:
                parts = list(ds.iter_batches(batch_size=None, batch_format="numpy"))
            except Exception as e:  # noqa: BLE001 - Ray Data wraps a worker's error: name the batch
                raise _data_error(ray, e, task) from None
        finally:
            ctx.enable_progress_bars = bars
        return _gather(parts)

    def __repr__(self) -> str:
        pool = "" if self.pool == "actors" else f", pool={self.pool!r}"
        return f"RayExecutor(num_workers={self.num_workers}, address={self.address!r}{pool})"


def _data_error(ray, e: BaseException, task: Any) -> BaseException:
    """The BatchError inside a Ray Data failure: Ray Data wraps the worker's error in its own
    (``UserCodeException``) and keeps the original only as text in the traceback it carries."""
    seen: BaseException | None = e
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, BatchError):
            return BatchError(str(seen).strip().splitlines()[0])
        found = _BATCH_LINE.search(str(seen))
        if found:
            return BatchError(found.group(1))
        seen = getattr(seen, "cause", None) or seen.__cause__
    return _clean_error(ray, e, f"a batch of {type(task).__name__}")


def resolve_executor(executor: Any) -> LocalExecutor | RayExecutor:
    """``"local"``, ``"ray"`` (a :class:`RayExecutor` with defaults, marked ``from_name`` so that
    whoever made it from the name closes it) or an executor instance (its owner closes it)."""
    if executor is None or executor == "local":
        return LocalExecutor()
    if executor == "ray":
        ex = RayExecutor()
        ex.from_name = True
        return ex
    if isinstance(executor, (LocalExecutor, RayExecutor)):
        return executor
    raise ValueError(f"executor must be 'local', 'ray' or a RayExecutor(...), got {executor!r}")
