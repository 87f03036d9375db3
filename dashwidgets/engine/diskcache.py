"""The disk tier behind the in-memory per-version caches: results that are expensive to
recompute (evaluations, attribution maps) kept in the workspace, so a reopened engine reads them
back instead of running the model again::

    cache/<vid>/<kind>-<digest>.npz     one entry: the value's arrays plus ``__key__``

The key of an entry is everything its value depends on: this format's number, the dataset's
fingerprint, the architecture's signature, a digest of the version's weights, the input
normalisation, and the service's own key (split and layer; method, layer, target and index
sets and parameters). The file name is a hash of the key and the key is stored inside and
compared on every read, so a file written under other settings is never used (it is a miss, and
the new result replaces it).

Entries are whole results, one file per call, written with the workspace's atomic write: a
crash leaves the old file or the new one, and two processes writing one entry write the same
value. (A memory-mapped per-image array with a filled mask would let partial attribution
results accumulate, but it is updated in place, so a crash or a second process could leave rows
marked filled that are not; whole files need no lock and cannot be torn.)

A file that cannot be read (truncated, corrupted) is named in a :class:`WorkspaceWarning` and
recomputed; a workspace that cannot be written (read-only, full disk) still serves what it holds
and skips writes, with one warning. Discarding a version deletes its folder.

The device is NOT in the key: it is recorded in the entry (``__meta__``: device, torch version).
A result computed on CUDA differs from the CPU's in the last bits only, as results of two batch
sizes do; the key holds what changes a result's meaning (weights, data, normalisation, method,
index set), so a map computed on a GPU server is read back on a laptop instead of recomputed
there. Whichever engine writes an entry first, later engines read that value.

The disk tier is bounded: ``max_bytes`` (``DASHWIDGETS_CACHE_MB`` megabytes, read when the
engine opens the workspace; default 2048; 0 writes nothing). After each write the least recently
used entries (a read touches its file's mtime, so recency is shared by every process on the
workspace) are deleted, whole, until the cache fits; an entry larger than the cap is not
written. Only ``cache/`` is ever evicted, never a version. Temporary files a crashed writer left
(``.*.tmp``, over an hour old) are deleted then too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .workspace import WorkspaceWarning, atomic_write_bytes

CACHE_FORMAT = 1
_KEY = "__key__"
_META = "__meta__"  # where the value was computed (device, torch): recorded, not part of the key
CACHE_MB_ENV = "DASHWIDGETS_CACHE_MB"
DEFAULT_CACHE_MB = 2048
_STALE_TMP_S = 3600.0  # a writer's temporary file older than this was left by a crash


def cache_limit_bytes(environ=os.environ) -> int:
    """The disk tier's cap in bytes from ``DASHWIDGETS_CACHE_MB`` (default 2048 MB); a value
    that is not a non-negative number raises a ValueError naming the variable."""
    raw = environ.get(CACHE_MB_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_CACHE_MB << 20
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb >= 0 or mb == float("inf"):
        raise ValueError(f"{CACHE_MB_ENV} must be a non-negative number of megabytes (0: no disk cache), got {raw!r}")
    return int(mb * (1 << 20))


def canonical(obj: Any) -> Any:
    """``obj`` as JSON-able data that identifies it: arrays and tensors by dtype, shape and a
    hash of their bytes. TypeError for anything else (such a value is not cached on disk)."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return repr(float(obj))  # exact, and NaN-safe in JSON
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        return {"array": hashlib.sha256(arr.tobytes()).hexdigest()[:32], "dtype": arr.dtype.str, "shape": list(arr.shape)}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    raise TypeError(f"no canonical form for {type(obj).__name__}")


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:32]


class DiskCache:
    """Entries ``(vid, kind, key) -> {name: array}`` under ``<workspace>/cache``.

    ``identity`` is what every key of this engine shares (dataset fingerprint, architecture,
    normalisation); ``weights(vid)`` gives a version's weights, hashed once per version;
    ``writable(vid)`` says whether entries of ``vid`` may be written (not for a version kept in
    memory only). ``device`` is recorded in each entry written (see the module docstring);
    ``max_bytes`` caps the folder (None: ``DASHWIDGETS_CACHE_MB``), and may be set later."""

    def __init__(self, root: Path, identity: dict, weights: Callable[[str], dict], writable: Callable[[str], bool],
                 device: str = "cpu", max_bytes: int | None = None):
        self.root = Path(root)
        self.device = str(device)
        self.max_bytes = cache_limit_bytes() if max_bytes is None else int(max_bytes)
        self.identity = canonical(identity)
        self._weights = weights
        self._writable = writable
        self._digests: dict[str, str] = {}
        self._lock = threading.Lock()
        self.write_error: str | None = None  # the first failed write, reported once
        self.hits = self.misses = 0

    # ---------------------------------------------------------------- keys
    def _full_key(self, vid: str, kind: str, key: Any) -> str:
        with self._lock:
            digest = self._digests.get(vid)
        if digest is None:
            digest = weights_digest(self._weights(vid))
            with self._lock:
                self._digests[vid] = digest
        return json.dumps({"format": CACHE_FORMAT, "engine": self.identity, "version": vid, "weights": digest,
                           "kind": kind, "key": canonical(key)}, sort_keys=True)

    def path(self, vid: str, kind: str, full_key: str) -> Path:
        return self.root / vid / f"{kind}-{hashlib.sha256(full_key.encode()).hexdigest()[:24]}.npz"

    # ---------------------------------------------------------------- read, write
    def get(self, vid: str, kind: str, key: Any) -> dict[str, np.ndarray] | None:
        """The arrays stored for ``key``; None when absent, written under another key, or
        unreadable (named in a warning)."""
        try:
            full = self._full_key(vid, kind, key)
        except TypeError:
            return None
        path = self.path(vid, kind, full)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                if _KEY not in z.files or str(z[_KEY]) != full:
                    self.misses += 1
                    return None
                out = {k: z[k] for k in z.files if k not in (_KEY, _META)}
        except FileNotFoundError:  # deleted meanwhile (discarded, cleared by another process)
            self.misses += 1
            return None
        except Exception as e:  # noqa: BLE001 - any unreadable file is recomputed, never fatal
            warnings.warn(f"corrupted cache file {path}: {type(e).__name__}: {str(e)[:200]}; it will be recomputed",
                          WorkspaceWarning, stacklevel=3)
            self.misses += 1
            return None
        self.hits += 1
        with contextlib.suppress(OSError):  # most recently used now (a read-only workspace keeps its times)
            os.utime(path)
        return out

    def meta(self, vid: str, kind: str, key: Any) -> dict | None:
        """What an entry records about where it was computed (``{"device", "torch"}``); None
        when there is no readable entry for ``key`` or it records nothing (an older file)."""
        try:
            path = self.path(vid, kind, self._full_key(vid, kind, key))
            with np.load(path, allow_pickle=False) as z:
                return json.loads(str(z[_META])) if _META in z.files else None
        except Exception:  # noqa: BLE001 - absent or unreadable: nothing recorded
            return None

    def put(self, vid: str, kind: str, key: Any, arrays: dict[str, np.ndarray]) -> bool:
        """Write an entry (atomically); False when skipped (version not on disk, value without a
        canonical key) or when the workspace cannot be written (one warning per engine)."""
        if not self._writable(vid):
            return False
        try:
            full = self._full_key(vid, kind, key)
        except TypeError:
            return False
        buf = io.BytesIO()
        meta = json.dumps({"device": self.device, "torch": torch.__version__.split("+")[0]})
        np.savez(buf, **{_KEY: np.array(full), _META: np.array(meta)}, **{k: np.asarray(v) for k, v in arrays.items()})
        data = buf.getvalue()
        if len(data) > self.max_bytes:  # would evict everything and still not fit
            return False
        path = self.path(vid, kind, full)
        try:
            atomic_write_bytes(path, data)
        except OSError as e:
            if self.write_error is None:
                self.write_error = f"{e.strerror or e}"
                warnings.warn(f"results are not cached in {self.root} ({self.write_error}); they are kept in "
                              "memory and recomputed by the next engine", WorkspaceWarning, stacklevel=3)
            return False
        self.evict(keep=path)
        return True

    # ---------------------------------------------------------------- size, removal
    def evict(self, keep: Path | None = None) -> int:
        """Delete least recently used entries (oldest mtime first, whole files, never ``keep``)
        until the folder holds at most ``max_bytes``, and crashed writers' stale temporary
        files; the bytes freed. Files another process deletes meanwhile are passed over."""
        entries, total, freed, now = [], 0, 0, time.time()
        for p, st in self._scan():
            if p.name.endswith(".tmp") and p.name.startswith("."):
                if now - st.st_mtime > _STALE_TMP_S:
                    with contextlib.suppress(OSError):
                        p.unlink()
                        freed += st.st_size
                continue
            if p.suffix == ".npz":
                entries.append((st.st_mtime, p, st.st_size))
                total += st.st_size
        entries.sort(key=lambda e: (e[0], str(e[1])))
        for _, p, size in entries:
            if total <= self.max_bytes:
                break
            if p == keep:
                continue
            with contextlib.suppress(OSError):
                p.unlink()
                freed += size
            total -= size  # gone, whether we or another process deleted it
        return freed

    def _scan(self, vid: str | None = None):
        """``(path, stat)`` of every file in the version folders (``<root>/<vid>/<file>``, the only
        layout written), by ``os.scandir``: a full scan follows every write, and pathlib's rglob
        plus a stat per file took 3x as long (244 vs 84 ms for 5,000 entries on a loaded 2-core
        machine). Files or folders deleted meanwhile are passed over."""
        try:
            folders = [Path(e.path) for e in os.scandir(self.root) if e.is_dir(follow_symlinks=False)] \
                if vid is None else [self.root / vid]
        except OSError:
            return
        for folder in folders:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for e in entries:
                try:
                    if e.is_file(follow_symlinks=False):
                        yield Path(e.path), e.stat(follow_symlinks=False)
                except OSError:
                    continue

    def files(self, vid: str | None = None) -> list[Path]:
        return sorted(p for p, _ in self._scan(vid) if p.suffix == ".npz")

    def info(self) -> dict:
        """``{"path", "files", "bytes", "versions": {vid: bytes}}`` of what is on disk now."""
        per: dict[str, int] = {}
        n = 0
        for p, st in self._scan():
            if p.suffix != ".npz":
                continue
            per[p.parent.name] = per.get(p.parent.name, 0) + st.st_size
            n += 1
        return {"path": str(self.root), "files": n, "bytes": sum(per.values()), "versions": per,
                "max_bytes": self.max_bytes}

    def drop(self, vid: str) -> None:
        """Delete a version's entries (its folder); missing or undeletable files are left."""
        with self._lock:
            self._digests.pop(vid, None)
        if (self.root / vid).is_dir():
            shutil.rmtree(self.root / vid, ignore_errors=True)

    def clear(self, vids: list[str] | None = None) -> int:
        """Delete the entries of ``vids`` (every folder when None); the bytes freed."""
        names = [p.name for p in self.root.iterdir() if p.is_dir()] if vids is None and self.root.is_dir() else vids or []
        freed = 0
        for vid in names:
            freed += sum(st.st_size for p, st in self._scan(vid) if p.suffix == ".npz")
            self.drop(vid)
        return freed

    def prune(self, gone: set[str]) -> None:
        """Delete the folders of versions known to be discarded (by another process, say)."""
        if not self.root.is_dir():
            return
        for p in self.root.iterdir():
            if p.is_dir() and p.name in gone and os.access(p, os.W_OK):
                shutil.rmtree(p, ignore_errors=True)
