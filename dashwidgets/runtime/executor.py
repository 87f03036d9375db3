"""Executors: where the engine's batch work runs (issue 17 §4).

A *batch task* is a picklable object with ``n_batches``, ``setup()`` (called once where it runs:
builds the model, opens the images) and ``__call__(k) -> dict[str, ndarray]`` (the rows of batch
``k``, one row per image, always with a ``"pos"`` column: each row's position in the task's
index list). The batches are the SAME ones the local path uses, so on CPU the results are
bitwise identical to it.

:class:`LocalExecutor` runs a task in this process; :class:`RayExecutor` runs it on a Ray
cluster through Ray Data ``map_batches`` with a pool of actors (one GPU each when the task asks
for one). Training and the widgets always stay local.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RAY_MISSING = "the Ray executor needs Ray: pip install 'dashwidgets[ray]' (ray[data]>=2.9)"


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

    def __repr__(self) -> str:
        return "LocalExecutor()"


class _RayBatchActor:
    """One Ray Data actor: fetches the task once (model and images from the object store),
    then maps batch numbers to rows."""

    def __init__(self, task_ref: list):
        import ray

        self.task = ray.get(task_ref[0])  # wrapped in a list so Ray Data passes the ref itself
        self.task.setup()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        parts = [self.task(int(k)) for k in batch["k"]]
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


class RayExecutor:
    """Runs batch tasks on a Ray cluster: Ray Data ``map_batches`` over the batch numbers with
    ``num_workers`` actors (``num_gpus=1`` each when the engine's device is CUDA, else
    ``num_cpus`` each).

    ``address``: the cluster to join when Ray is not initialised yet (``None``: ``ray.init()``'s
    default, i.e. ``RAY_ADDRESS`` or a new local instance on this machine; ``"auto"``: an existing
    cluster). When Ray is already initialised (``ray.init(...)`` by the caller) it is used as is.
    """

    name = "ray"

    def __init__(self, num_workers: int = 2, address: str | None = None, num_cpus: float = 1.0):
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 1:
            raise ValueError(f"num_workers must be a positive integer, got {num_workers!r}")
        if not isinstance(num_cpus, (int, float)) or isinstance(num_cpus, bool) or num_cpus <= 0:
            raise ValueError(f"num_cpus must be a positive number, got {num_cpus!r}")
        try:
            import ray  # noqa: F401
            import ray.data  # noqa: F401
        except ImportError as e:
            raise ImportError(RAY_MISSING) from e
        self.num_workers = int(num_workers)
        self.address = address
        self.num_cpus = float(num_cpus)

    def _ray(self):
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        return ray

    def map_batches(self, task: Any, gpu: bool = False) -> dict[str, np.ndarray]:
        ray = self._ray()
        if task.n_batches == 0:  # nothing to map: run locally, it only shapes the empty outputs
            return LocalExecutor().map_batches(task)
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
            parts = list(ds.iter_batches(batch_size=None, batch_format="numpy"))
        finally:
            ctx.enable_progress_bars = bars
        return _gather(parts)

    def __repr__(self) -> str:
        return f"RayExecutor(num_workers={self.num_workers}, address={self.address!r})"


def resolve_executor(executor: Any) -> LocalExecutor | RayExecutor:
    """``"local"``, ``"ray"`` (a :class:`RayExecutor` with defaults) or an executor instance."""
    if executor is None or executor == "local":
        return LocalExecutor()
    if executor == "ray":
        return RayExecutor()
    if isinstance(executor, (LocalExecutor, RayExecutor)):
        return executor
    raise ValueError(f"executor must be 'local', 'ray' or a RayExecutor(...), got {executor!r}")
