"""The model-criticism service (Stock & Cisse 2018, issue 15 §2): per-image IFGSM step counts of a
version on a split, and its prototypes and criticisms by the adversarial, MMD-critic and
probability selections (see :mod:`dashwidgets.audit.criticism`).

Caches: the step counts per (version, split, steps, step size, sample, seed) in
``"criticism_steps"`` (the costly part: one forward and backward pass per step), the assembled
:class:`Criticism` per all arguments in ``"criticism"``. Workspace part (``criticism/``): the step
counts as ``steps_<v>_<key>.npy`` (a ``[2, N]`` array: dataset indices and steps), so a reopened
engine does not attack again; an unreadable file is named in a warning and recomputed.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..audit.criticism import METHODS, Criticism, criticize, ifgsm_steps
from ..runtime.jobs import Cancelled, Job
from .context import DataContext, check_positive_int
from .versions import VersionStore


class CriticismService:
    def __init__(self, ctx: DataContext, store: VersionStore, inference):
        self.ctx = ctx
        self.store = store
        self.inference = inference
        self.steps_cache = store.cache("criticism_steps", max_items=64, on_discard=self._delete_files)
        self.cache = store.cache("criticism", max_items=64)

    # ---------------------------------------------------------------- files
    def _path(self, vid: str, key: tuple):
        digest = hashlib.sha1(repr(key).encode()).hexdigest()[:12]
        return self.store.workspace.path("criticism", f"steps_{vid}_{digest}.npy")

    def _delete_files(self, vid: str) -> None:
        if self.store.workspace is not None:
            for p in self.store.workspace.path("criticism").glob(f"steps_{vid}_*.npy"):
                p.unlink(missing_ok=True)

    # ---------------------------------------------------------------- work
    def steps(self, version, idx: np.ndarray, key: tuple, max_steps: int, step_size: float, progress=None) -> np.ndarray:
        """``[N] int64`` IFGSM steps of ``idx`` under ``version`` (cached, kept in the workspace)."""
        ctx, v = self.ctx, self.store.version(version)
        hit = self.steps_cache.get(v.id, key)
        if hit is not None:
            return hit
        ws = self.store.workspace
        if ws is not None:
            saved = ws.load_array(self._path(v.id, key))
            if saved is not None and saved.shape == (2, len(idx)) and np.array_equal(saved[0], idx):
                return self.steps_cache.put(v.id, key, saved[1].astype(np.int64))
        idx_t = torch.from_numpy(idx)
        steps = ifgsm_steps(
            self.store.model(v), lambda pos: ctx.inputs_t(idx_t[pos]), ctx.dataset.labels[idx],
            step=(step_size * 255.0 * ctx.scale).flatten(),  # [0, 1] pixel units -> model-input units
            max_steps=max_steps, batch_size=max(1, ctx.eval_batch_size // 2), device=ctx.device,
            clip=(ctx.shift, ctx.shift + 255.0 * ctx.scale),  # pixel values 0 and 1
            progress=progress,
        )
        if ws is not None and self.store.alive(v.id):
            path = self._path(v.id, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            ws.save_array(path, np.stack([idx, steps]).astype(np.int64))
        return self.steps_cache.put(v.id, key, steps)

    def _check(self, split, max_steps, step_size, methods, n, sample, seed) -> tuple:
        """The arguments, checked (an error names the bad one) and normalised."""
        split = self.ctx.check_split(split)
        max_steps = check_positive_int("steps", max_steps)
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Real) or not 0 < step_size < np.inf:
            raise ValueError(f"step_size must be a positive number (in [0, 1] pixel units), got {step_size!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        methods = (methods,) if isinstance(methods, str) else tuple(methods)
        if not methods or any(m not in METHODS for m in methods):
            raise ValueError(f"unknown criticism methods {methods!r}; choose from {list(METHODS)}")
        n = check_positive_int("n", n)
        sample = None if sample is None else check_positive_int("sample", sample)
        return split, max_steps, float(step_size), methods, n, sample, int(seed)

    def criticize(
        self, version, split: str | None, max_steps: int, step_size: float, methods: Sequence[str] | str,
        n: int, sample: int | None, seed: int, gamma: float | None, lam: float,
        progress: Callable[[int, int], None] | None = None,
    ) -> Criticism:
        """See :meth:`Engine.criticize`; ``progress(done, total)`` after each attacked batch."""
        ctx, v = self.ctx, self.store.version(version)
        split, max_steps, step_size, methods, n, sample, seed = self._check(split, max_steps, step_size, methods, n, sample, seed)
        key = (split, max_steps, float(step_size), methods, n, sample, int(seed), gamma, lam)
        hit = self.cache.get(v.id, key)
        if hit is not None:
            return hit
        ev = self.inference.evaluate(v, split)
        if not len(ev):
            raise ValueError(f"split {split!r} has no images to criticise")
        if sample is not None and sample < len(ev):
            rows = np.sort(np.random.default_rng(int(seed)).choice(len(ev), sample, replace=False))
            ev = ev.take(rows, split)
        steps = None
        if "adv" in methods:
            skey = (split, max_steps, float(step_size), sample, int(seed))
            counter = None
            if progress is not None:
                done, total = [0], len(ev)

                def counter(k: int) -> None:
                    done[0] += k
                    progress(done[0], total)

            steps = self.steps(v, ev.indices, skey, max_steps, float(step_size), counter)
        ds = ctx.dataset
        cr = criticize(
            ev.indices, ev.labels, ev.pred, ev.probs, ds.classes, steps=steps, max_steps=max_steps,
            embedding=ev.embedding, methods=methods, n=n, gamma=gamma, lam=lam,
            attributes={name: a[ev.indices] for name, a in ds.attributes.items()},
            version=v.id, split=split, step_size=float(step_size),
        )
        return self.cache.put(v.id, key, cr)

    def criticize_job(self, version, split, max_steps, step_size, methods, n, sample, seed, gamma, lam) -> Job:
        """:meth:`criticize` in a background :class:`Job` (``step`` events with ``progress`` after
        each attacked batch; ``cancel()`` stops between batches and keeps nothing)."""
        args = (split, max_steps, step_size, methods, n, sample, seed, gamma, lam)
        v = self.store.version(version)
        self._check(split, max_steps, step_size, methods, n, sample, seed)  # bad arguments raise here

        def work(emit, stop):
            def progress(done: int, total: int) -> None:
                if stop.is_set():
                    raise Cancelled()
                emit({"type": "step", "progress": done / total, "done": done, "total": total})

            return self.criticize(v, *args, progress=progress)

        return Job(work, name="criticize")
