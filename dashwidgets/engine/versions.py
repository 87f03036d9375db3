"""The version store: every trained version, its weights, the active version, the history, the
workspace, and one registry of per-version caches.

Services never keep a cache of their own in a plain dict: they ask :meth:`VersionStore.cache` for
one, keyed per version and bounded in memory, so :meth:`VersionStore.discard` frees everything a
version left behind in one call (and a service's files on disk through ``on_discard``).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import hashlib
import inspect
import threading
import warnings
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from ..models.version import ModelVersion
from .caches import VersionCache
from .diskcache import DiskCache
from .workspace import Workspace, WorkspaceError, id_numbers, load_state

EVENTS = ("active", "version", "discard", "augment", "tags")
_MODEL_CACHE = 4


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def architecture(model: nn.Module) -> dict:
    """What identifies an architecture: its class and every parameter's name and shape, hashed
    (two torchvision ResNets share a class but not a signature), and a line a person can read."""
    state = model.state_dict()
    text = ";".join(f"{k}:{tuple(v.shape)}:{v.dtype}" for k, v in sorted(state.items()))
    n = sum(p.numel() for p in model.parameters())
    cls = f"{type(model).__module__}.{type(model).__qualname__}"
    return {
        "signature": hashlib.sha256(f"{cls}|{text}".encode()).hexdigest()[:16],
        "description": f"{type(model).__qualname__} with {n:,} parameters in {len(state)} tensors",
    }


class VersionStore:
    """Owns the versions of one Engine (see the module docstring).

    Parameters
    ----------
    template : nn.Module
        The architecture, on the engine's device, with the user's ``requires_grad`` flags.
    header : dict
        What the workspace header records about the dataset and model.
    workspace : Workspace, optional
    """

    def __init__(self, template: nn.Module, header: dict, workspace: Workspace | None, dataset):
        self.template = template
        self.init_state = {k: v.detach().cpu().clone() for k, v in template.state_dict().items()}
        self.workspace = workspace
        self.workspace_errors: list[str] = []
        self.lock = threading.RLock()
        self._versions: OrderedDict[str, ModelVersion] = OrderedDict()
        self._weights: dict[str, dict[str, torch.Tensor]] = {}
        self._history: list[dict] = []
        self._next_id = 1
        self._active: str | None = None
        self._listeners: dict[str, list[Callable]] = {e: [] for e in EVENTS}
        self._caches: list[VersionCache] = []
        self._discard_hooks: list[Callable[[str], None]] = []
        self._pins: Counter[str] = Counter()
        self.unsaved: set[str] = set()
        self.models = self.cache("models", max_items=_MODEL_CACHE)
        self.header = {**header, "architecture": architecture(template)}
        self.disk: DiskCache | None = None  # the workspace's cache of results (see diskcache)
        if workspace is not None:
            self._attach(dataset)
            self.disk = DiskCache(
                workspace.path("cache"),
                {"dataset": dataset.fingerprint(), "architecture": self.header["architecture"]["signature"],
                 "normalize": self.header.get("normalize")},
                self.weights, lambda vid: self.alive(vid) and vid not in self.unsaved,
                device=next((t.device.type for t in template.parameters()), "cpu"),
            )
            discarded = {h.get("version") for h in self._history if h.get("event") == "discard"}
            self.disk.prune({v for v in discarded if isinstance(v, str)} - set(self._versions))

    # ---------------------------------------------------------------- cache registry
    def cache(
        self, name: str, max_items: int | None = None, max_bytes: int | None = None,
        on_discard: Callable[[str], None] | None = None,
    ) -> VersionCache:
        """A new per-version cache, freed by :meth:`discard`; ``on_discard(vid)`` also runs then
        (a service deletes its workspace files for that version there)."""
        c = VersionCache(name, self.alive, max_items, max_bytes)
        with self.lock:
            self._caches.append(c)
            if on_discard is not None:
                self._discard_hooks.append(on_discard)
        return c

    @property
    def caches(self) -> dict[str, VersionCache]:
        return {c.name: c for c in self._caches}

    def cache_info(self) -> dict:
        """Bytes held per in-memory cache, and the workspace's disk cache (None without one)."""
        return {"memory": {c.name: c.nbytes for c in self._caches},
                "disk": self.disk.info() if self.disk is not None else None}

    def clear_caches(self, v: ModelVersion | str | None = None, memory: bool = True, disk: bool = True) -> int:
        """Empty the caches of one version (every version for None): in memory, on disk, or
        both. Versions, the projection map and everything else in the workspace stay. Returns
        the bytes deleted from disk."""
        vid = None if v is None else self.version(v).id
        if memory:
            for c in self._caches:
                if vid is None:
                    c.clear()
                else:
                    c.drop(vid)
        if disk and self.disk is not None:
            return self.disk.clear(None if vid is None else [vid])
        return 0

    # ---------------------------------------------------------------- lookup
    def alive(self, vid: str) -> bool:
        with self.lock:
            return vid in self._versions

    @property
    def versions(self) -> list[ModelVersion]:
        with self.lock:
            return list(self._versions.values())

    def version(self, v: ModelVersion | str) -> ModelVersion:
        """Look up a version by record or id; ValueError names unknown ones."""
        vid = v.id if isinstance(v, ModelVersion) else v
        if not isinstance(vid, str):
            raise TypeError(f"expected a ModelVersion or a version id string, got {type(v).__name__}")
        with self.lock:
            if vid not in self._versions:
                known = list(self._versions) or "none yet; call train() first"
                raise ValueError(f"unknown version {vid!r}; versions are {known}")
            return self._versions[vid]

    def weights(self, vid: str | None) -> dict[str, torch.Tensor]:
        """A version's weights (CPU), or the initial weights for None."""
        with self.lock:
            return self.init_state if vid is None else self._weights[self.version(vid).id]

    def model(self, v: ModelVersion | str) -> nn.Module:
        """The version's ``nn.Module`` in eval mode on the engine's device (cached; frozen)."""
        vid = self.version(v).id
        m = self.models.get(vid)
        if m is None:
            m = copy.deepcopy(self.template)
            m.load_state_dict(self.weights(vid))
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
            m = self.models.put(vid, None, m)
        return m

    # ---------------------------------------------------------------- pins
    @contextlib.contextmanager
    def pinned(self, vid: str | None) -> Iterator[None]:
        """While inside, ``vid`` cannot be discarded (a job trains from it)."""
        if vid is None:
            yield
            return
        with self.lock:
            self.version(vid)
            self._pins[vid] += 1
        try:
            yield
        finally:
            with self.lock:
                self._pins[vid] -= 1
                if self._pins[vid] <= 0:
                    del self._pins[vid]

    # ---------------------------------------------------------------- adding, discarding
    def add(self, build: Callable[[str], ModelVersion], weights: dict[str, torch.Tensor]) -> ModelVersion:
        """Allocate the next id, build the record with it, save it (weights first) and keep it.

        With a workspace the id comes from the disk under the workspace lock, so two processes
        training into one workspace both keep their versions. When the save fails (full disk,
        read-only), the version is kept in memory only and the warning says how to save it.
        """
        ws = self.workspace
        with self.lock, (ws.locked() if ws is not None else contextlib.nullcontext()):
            used = set(range(1, self._next_id))
            if ws is not None:
                used |= ws.used_ids() | self._history_ids(ws.read_history(warn=False))
            vid = f"v{max(used, default=0) + 1}"
            self._next_id = int(vid[1:]) + 1
            version = build(vid)
            if ws is not None:
                try:
                    ws.save_version(version, weights)
                except OSError as e:
                    self.unsaved.add(vid)
                    for path in ws.version_paths(vid):
                        with contextlib.suppress(OSError):
                            path.unlink(missing_ok=True)
                    warnings.warn(
                        f"{vid} could not be saved in {ws.root} ({e.strerror or e}); it is kept in this "
                        f"kernel only. Save it elsewhere with torch.save(eng.model({vid!r}).state_dict(), path)",
                        RuntimeWarning, stacklevel=4,
                    )
            before = self.active
            self._versions[vid] = version
            self._weights[vid] = weights
        self.emit("version", version=vid)
        self._emit_active_change(before)
        return version

    def discard(self, v: ModelVersion | str) -> None:
        """Forget a version: weights, every registered cache, its workspace files."""
        vid = self.version(v).id
        with self.lock:
            if vid == self._active:
                raise ValueError(
                    f"{vid} is the active version (the one linked views show); make another version "
                    "active before discarding it"
                )
            if self._pins.get(vid):
                raise ValueError(f"{vid} is the parent of a running training job; cancel it or wait before discarding {vid}")
            before = self.active
            del self._versions[vid]
            self._weights.pop(vid, None)
            self.unsaved.discard(vid)
            for c in self._caches:
                c.drop(vid)
            hooks = list(self._discard_hooks)
            if self.workspace is not None:
                self.workspace.delete_version(vid)
            if self.disk is not None:
                self.disk.drop(vid)
        for hook in hooks:
            hook(vid)
        self.record({"event": "discard", "version": vid})
        self.emit("discard", version=vid)
        self._emit_active_change(before)

    # ---------------------------------------------------------------- history
    def record(self, event: dict) -> None:
        event = {"time": now(), **event}
        with self.lock:
            if self.workspace is not None:
                self._history = self.workspace.append_history([event])
            else:
                self._history.append(event)

    @property
    def history(self) -> list[dict]:
        with self.lock:
            return [dict(h) for h in self._history]

    @staticmethod
    def _history_ids(history: list[dict]) -> set[int]:
        return id_numbers((h.get("version") for h in history), "v")

    # ---------------------------------------------------------------- active version, events
    @property
    def active(self) -> ModelVersion | None:
        with self.lock:
            if self._active is not None and self._active in self._versions:
                return self._versions[self._active]
            return next(reversed(self._versions.values()), None)

    def set_active(self, v: ModelVersion | str) -> None:
        vid = self.version(v).id
        before = self.active
        with self.lock:
            self._active = vid
        self.record({"event": "activate", "version": vid})
        self._emit_active_change(before)

    def on(self, event: str, callback: Callable[[dict], None]) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; choose one of {list(EVENTS)}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        ref = weakref.WeakMethod(callback) if inspect.ismethod(callback) else (lambda cb=callback: cb)
        with self.lock:
            self._listeners[event].append(ref)

    def off(self, event: str, callback: Callable[[dict], None]) -> None:
        with self.lock:
            self._listeners[event] = [r for r in self._listeners.get(event, []) if r() not in (None, callback)]

    def listeners(self, event: str) -> int:
        """How many live callbacks ``event`` has (a closed view's are gone)."""
        with self.lock:
            return sum(r() is not None for r in self._listeners[event])

    def emit(self, event: str, **payload: Any) -> None:
        with self.lock:
            refs = list(self._listeners[event])
        for ref in refs:
            cb = ref()
            if cb is None:
                continue
            try:
                cb({"event": event, **payload})
            except Exception as e:  # noqa: BLE001 - a broken listener must not break the engine
                warnings.warn(f"{event} listener {cb!r} failed: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
        with self.lock:  # drop listeners whose owner is gone
            self._listeners[event] = [r for r in self._listeners[event] if r() is not None]

    def _emit_active_change(self, before: ModelVersion | None) -> None:
        after = self.active
        old, new = (before.id if before else None), (after.id if after else None)
        if old != new:
            self.emit("active", old=old, new=new)

    # ---------------------------------------------------------------- workspace
    def _attach(self, dataset) -> None:
        ws = self.workspace
        if not ws.exists() and ws.create(self.header, dataset, self.init_state):
            return
        header = ws.read_header()
        fp = header.get("dataset", {}).get("fingerprint")
        if fp != dataset.fingerprint():
            raise WorkspaceError(
                f"workspace {ws.root} was made for another dataset ({header.get('dataset', {}).get('name')!r}, "
                f"fingerprint {fp}); this one is {dataset.name!r} ({dataset.fingerprint()}). "
                "Choose another folder or open it with dw.Engine.open"
            )
        mine = self.header["architecture"]
        theirs = header.get("architecture")
        if header.get("model", {}) != self.header["model"] or (theirs and theirs.get("signature") != mine["signature"]):
            made = (theirs or {}).get("description") or header.get("model")
            raise WorkspaceError(
                f"workspace {ws.root} was made with another architecture: {made}; the model given is "
                f"{mine['description']}. Pass the same architecture, or choose another folder"
            )
        init = ws.root / "init.pt"
        if init.exists():
            try:
                state = load_state(init)
            except (ValueError, OSError) as e:
                self.workspace_errors.append(f"corrupted initial weights {init}: {e}")
            else:
                try:
                    self.template.load_state_dict(state)
                except RuntimeError:
                    raise WorkspaceError(
                        f"workspace {ws.root} was made with another architecture ({header.get('model')}); its "
                        f"initial weights do not fit the model given ({mine['description']})"
                    ) from None
                self.init_state = {k: v.clone() for k, v in state.items()}
        loaded, errors = ws.load_versions()
        for version, state in loaded:
            try:
                scratch = copy.deepcopy(self.template)
                scratch.load_state_dict(state)
            except Exception as e:  # noqa: BLE001 - architecture mismatch, bad tensors
                errors.append(f"weights of {version.id} do not fit this model: {type(e).__name__}: {str(e)[:200]}")
                continue
            self._versions[version.id] = version
            self._weights[version.id] = state
        self.workspace_errors += errors
        self._history = ws.read_history()
        used = ws.used_ids() | {int(v[1:]) for v in self._versions} | self._history_ids(self._history)
        self._next_id = max(used, default=0) + 1
        pinned = [h.get("version") for h in self._history if h.get("event") == "activate"]
        if pinned and pinned[-1] in self._versions:
            self._active = pinned[-1]
