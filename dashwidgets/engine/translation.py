"""The translation service: cluster-conditioned translators, one per (version, k, steps, seed,
foreground), cached in memory and in its part of the workspace::

    translators/<key>.pt     generator weights
    translators/<key>.json   its meta (written after the weights)
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable

from ..audit.cluster import check_k
from ..augment.translate import Translator, generator_state, load_translator, train_translator
from ..runtime.jobs import Job
from .context import check_positive_int
from .progress import progress_bar
from .versions import VersionStore
from .workspace import (
    WorkspaceWarning,
    atomic_write_bytes,
    atomic_write_json,
    describe_load_error,
    load_state,
    state_bytes,
)


class TranslationService:
    def __init__(self, ctx, store: VersionStore, augmentation):
        self.ctx = ctx
        self.store = store
        self.augmentation = augmentation
        self.cache = store.cache("translators", max_items=16, on_discard=self._delete_files)

    # ---------------------------------------------------------------- files
    def _paths(self, key: str):
        d = self.store.workspace.path("translators")
        return d / f"{key}.pt", d / f"{key}.json"

    def _save(self, key: str, meta: dict, state) -> None:
        """Weights first, record second (as for versions)."""
        pt, js = self._paths(key)
        atomic_write_bytes(pt, state_bytes(state))
        atomic_write_json(js, meta)

    def _load(self, key: str):
        """``(meta, state)`` of a saved translator, None when there is none; a corrupted one is
        named in a WorkspaceWarning and treated as missing (it is trained again)."""
        pt, js = self._paths(key)
        if not js.exists():
            return None
        try:
            meta = json.loads(js.read_text())
            state = load_state(pt)
            return meta, state
        except Exception as e:  # noqa: BLE001 - any unreadable file: warn and retrain
            warnings.warn(f"corrupted translator {key} in {pt.parent}: {describe_load_error(e)}; it will be trained again",
                          WorkspaceWarning, stacklevel=5)
            return None

    def _delete_files(self, vid: str) -> None:
        if self.store.workspace is not None:
            d = self.store.workspace.path("translators")
            for f in d.glob(f"{vid}-*") if d.is_dir() else ():
                f.unlink(missing_ok=True)

    def spec(self, version, k: int, steps: int, seed: int, foreground: str | None) -> dict:
        v = self.store.version(version) if version is not None else self.store.active
        if v is None:
            raise ValueError("no trained version: train one before making a translator")
        k = check_k(k)
        steps = check_positive_int("steps", steps)
        seed = check_positive_int("seed", seed, minimum=0)
        foreground = self.augmentation.foreground_kind(foreground)
        key = f"{v.id}-k{k}-s{steps}-r{seed}-{foreground or 'none'}"
        return {"version": v, "k": k, "steps": steps, "seed": seed, "foreground": foreground, "key": key}

    def _cached(self, spec: dict) -> Translator | None:
        vid = spec["version"].id
        hit = self.cache.get(vid, spec["key"])
        if hit is None and self.store.workspace is not None:
            saved = self._load(spec["key"])
            if saved is not None:
                try:
                    hit = self.cache.put(vid, spec["key"], load_translator(saved[0], saved[1], self.ctx.device))
                except (RuntimeError, KeyError, ValueError, TypeError) as e:
                    warnings.warn(f"corrupted translator {spec['key']}: {str(e)[:200]}; it will be trained again",
                                  WorkspaceWarning, stacklevel=4)
        return hit

    def fit(self, spec: dict, emit: Callable[[dict], None], stop: threading.Event | None) -> Translator:
        hit = self._cached(spec)
        if hit is not None:
            emit({"type": "cached", "progress": 1.0, "key": spec["key"]})
            return hit
        v = spec["version"]
        cl = self.augmentation.cluster(v, spec["k"], "train", None, 8, 0)
        fg = self.augmentation.foreground(cl.indices, spec["foreground"], v)
        G, log = train_translator(
            self.ctx.dataset.images[cl.indices], fg, cl.assignment, spec["k"], steps=spec["steps"],
            device=self.ctx.device, seed=spec["seed"], emit=emit, stop=stop,
        )
        t = Translator(v.id, spec["k"], spec["steps"], spec["seed"], spec["foreground"], G,
                       log[-1]["seconds"] if log else 0.0, log)
        with self.store.lock:
            if not self.store.alive(v.id):
                raise ValueError(f"{v.id} was discarded while its translator trained")
            self.cache.put(v.id, spec["key"], t)
            if self.store.workspace is not None:
                self._save(spec["key"], t.meta(), generator_state(t))
        self.store.record({"event": "translator", "key": spec["key"], **t.meta()})
        return t

    def translator(self, version, k: int, steps: int, seed: int, foreground: str | None, progress: bool) -> Translator:
        spec = self.spec(version, k, steps, seed, foreground)
        bar = None

        def emit(ev: dict) -> None:  # a bar only when it trains (not for a cached translator)
            nonlocal bar
            if ev["type"] == "start":
                bar = progress_bar(spec["steps"], f"translator {spec['version'].id} k={spec['k']}", progress)
            elif bar is not None and ev["type"] == "step":
                bar.update(ev["step"] - bar.n)
                bar.set_postfix(g_cls=f"{ev['g_cls']:.2f}", rec=f"{ev['g_rec']:.3f}", refresh=False)

        try:
            return self.fit(spec, emit, None)
        finally:
            if bar is not None:
                bar.close()

    def translator_async(self, version, k: int, steps: int, seed: int, foreground: str | None) -> Job:
        spec = self.spec(version, k, steps, seed, foreground)  # errors raise here
        return Job(lambda emit, stop: self.fit(spec, emit, stop), name="translator")
