"""A workspace folder that keeps every finished version across kernel restarts.

Layout (the version store's part; each service owns a subfolder of its own)::

    workspace.json          format marker, dataset fingerprint, model spec and architecture
                            signature, input normalisation
    .lock                   an OS-level lock held while anything is written (two processes
                            can train into one workspace; ids are allocated from the disk)
    dataset.npz             the ImageSet (so the workspace opens on its own), or
    dataset.json            for a memory-mapped image store: its path (the images are not copied)
    init.pt                 the initial weights every run without a parent starts from
    history.json            training / discard / augmentation events
    versions/v1.pt          weights (torch.save of a state dict; loaded with weights_only=True)
    versions/v1.json        the ModelVersion record, written after its weights: its presence
                            marks a finished version
    projection/...          the t-SNE map (written by the projection service)
    cache/<vid>/*.npz       evaluations and attribution maps of each version, keyed by all they
                            depend on (see :mod:`.diskcache`): deleted with the version, or by
                            ``Engine.clear_cache``; never needed to open the workspace
    augmentations/...       augmented images, translators/...: the augmentation service's

Every file is written to a temporary name in the same folder, flushed to disk and renamed over the
target, so a crash leaves either the old file or the new one, never half of one. Files get the
user's umask (a team can share a workspace), not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..datasets.imageset import ImageSet
from ..models.version import ModelVersion

FORMAT = "dashwidgets-workspace"
FORMAT_VERSION = 1
_VID = re.compile(r"^v(\d+)$")
_LOCK_TIMEOUT = 120.0  # seconds to wait for another process's write to finish
# What an interrupted Workspace.create can leave behind: such a folder may be reused.
_CREATE_LEFTOVERS = re.compile(r"^(dataset\.npz|versions|\.lock|init\.pt|\.[\w.]+\.tmp)$")


def _current_umask() -> int:
    """The process's umask (read once, at import, when no other thread can race the swap)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


class WorkspaceWarning(UserWarning):
    """A file in a workspace could not be read; the rest of the workspace still loaded."""


class WorkspaceError(ValueError):
    """The workspace as a whole cannot be used (missing or corrupted ``workspace.json``...)."""


def describe_load_error(e: BaseException) -> str:
    """A short reason why ``torch.load(weights_only=True)`` refused a file. PyTorch's own message
    advises retrying with ``weights_only=False``, which would run whatever code the file holds:
    that advice is never repeated."""
    text = f"{type(e).__name__}: {e}"
    if "weights_only" in text or "Unpickl" in type(e).__name__ or "allow_pickle" in text:
        return f"not a plain data file ({type(e).__name__}; refused, it may hold code)"
    return text.splitlines()[0][:300]


def id_numbers(names, prefix: str) -> set[int]:
    """The numbers of the ids among ``names`` of the form ``<prefix><digits>`` ("v3" -> 3);
    anything else (None, garbled names) is passed over."""
    return {int(n[1:]) for n in names if isinstance(n, str) and n[:1] == prefix and n[1:].isdecimal()}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), _FILE_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True).encode())


def state_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict saved by :func:`state_bytes`; raises ValueError with a safe reason."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - any unreadable file becomes one clear reason
        raise ValueError(describe_load_error(e)) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("not a state dict of tensors")
    return state


class Workspace:
    """Reads and writes one workspace folder (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._lock = None

    # ---------------------------------------------------------------- lock
    @contextlib.contextmanager
    def locked(self):
        """Hold the workspace's OS-level lock (re-entrant in one thread; other threads and
        processes wait, at most ``_LOCK_TIMEOUT`` seconds, then get a WorkspaceError)."""
        from filelock import FileLock, Timeout

        if self._lock is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(str(self.root / ".lock"), mode=_FILE_MODE)  # a team shares the lock too
        try:
            self._lock.acquire(timeout=_LOCK_TIMEOUT)
        except Timeout:
            raise WorkspaceError(
                f"workspace {self.root} is locked by another process for over {_LOCK_TIMEOUT:.0f} s "
                f"(remove {self.root / '.lock'} only if no process uses it)"
            ) from None
        try:
            yield self
        finally:
            self._lock.release()

    # ---------------------------------------------------------------- header
    @property
    def header_path(self) -> Path:
        return self.root / "workspace.json"

    def exists(self) -> bool:
        return self.header_path.is_file()

    def read_header(self) -> dict:
        if not self.root.is_dir():
            raise WorkspaceError(f"workspace folder not found: {self.root}")
        if not self.header_path.is_file():
            raise WorkspaceError(f"{self.root} is not a dashwidgets workspace (no workspace.json)")
        try:
            header = json.loads(self.header_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise WorkspaceError(f"corrupted workspace file {self.header_path}: {e}") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise WorkspaceError(f"corrupted workspace file {self.header_path}: not a {FORMAT} header")
        if not isinstance(header.get("format_version", 0), int) or header.get("format_version", 0) > FORMAT_VERSION:
            raise WorkspaceError(
                f"{self.header_path} was written by a newer dashwidgets (format {header['format_version']})"
            )
        return header

    def check_empty_for_create(self) -> None:
        """Refuse to turn a folder holding someone else's files into a workspace: the
        workspace writes history.json, versions/ and projection/ and must never overwrite or
        delete files it did not write."""
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"workspace path {self.root} exists and is not a folder")
        if not self.root.is_dir():
            return
        foreign = sorted(p.name for p in self.root.iterdir() if not _CREATE_LEFTOVERS.match(p.name))
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise WorkspaceError(
                f"{self.root} is not empty and is not a dashwidgets workspace (it holds {shown}); "
                "choose an empty or new folder for workspace="
            )

    def create(self, header: dict, dataset: ImageSet, init_state: dict[str, torch.Tensor]) -> bool:
        """Start a new workspace: dataset and initial weights first, then the header that makes
        it valid (under the lock, so two processes creating one workspace make it once). False
        when another process made it meanwhile."""
        self.check_empty_for_create()
        with self.locked():
            if self.exists():
                return False
            (self.root / "versions").mkdir(exist_ok=True)
            if dataset.mapped and dataset.meta.get("store"):  # a store on disk: referenced, not copied
                atomic_write_json(self.root / "dataset.json", {"store": dataset.meta["store"],
                                                               "fingerprint": dataset.fingerprint()})
            else:
                buf = io.BytesIO()
                np.savez(buf, **dataset.to_arrays())
                atomic_write_bytes(self.root / "dataset.npz", buf.getvalue())
            atomic_write_bytes(self.root / "init.pt", state_bytes(init_state))
            atomic_write_json(self.header_path, {"format": FORMAT, "format_version": FORMAT_VERSION, **header})
        return True

    def check_writable(self) -> None:
        """Raise WorkspaceError when a version could not be saved here (read-only folder, full
        disk): checked before a training job starts, not after its work is done."""
        d = self.root / "versions"
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=d)
            try:
                os.write(fd, b"\0" * 4096)
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(tmp)
        except OSError as e:
            raise WorkspaceError(
                f"cannot write to workspace {self.root}: {e.strerror or e}; free space, fix the "
                "folder's permissions, or use another workspace= (versions would not be kept)"
            ) from None

    def read_dataset(self, meta: dict | None = None) -> ImageSet:
        ref = self.root / "dataset.json"
        if ref.exists():  # made from an image store, which it references
            from ..datasets.store import StoreError, open_store

            try:
                store = json.loads(ref.read_text())["store"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise WorkspaceError(f"corrupted workspace file {ref}: {e}") from None
            try:
                return open_store(store)
            except StoreError as e:
                raise WorkspaceError(f"this workspace's images live in the image store {store}, which it does "
                                     f"not copy: {e}") from None
        path = self.root / "dataset.npz"
        try:
            with np.load(path, allow_pickle=False) as z:
                return ImageSet.from_arrays({k: z[k] for k in z.files}, meta=meta)
        except FileNotFoundError:
            raise WorkspaceError(f"workspace dataset missing: {path}") from None
        except (ValueError, OSError, KeyError, TypeError) as e:
            raise WorkspaceError(f"corrupted workspace file {path}: {e}") from None

    # ---------------------------------------------------------------- versions
    def version_paths(self, vid: str) -> tuple[Path, Path]:
        d = self.root / "versions"
        return d / f"{vid}.pt", d / f"{vid}.json"

    def save_version(self, version: ModelVersion, state: dict[str, torch.Tensor]) -> None:
        """Weights first, record second: a version exists only once both are on disk."""
        pt, js = self.version_paths(version.id)
        atomic_write_bytes(pt, state_bytes(state))
        atomic_write_bytes(js, version.to_json().encode())

    def delete_version(self, vid: str) -> None:
        pt, js = self.version_paths(vid)
        js.unlink(missing_ok=True)  # record first: a lone weights file is never loaded
        pt.unlink(missing_ok=True)

    def used_ids(self) -> set[int]:
        """Numbers of every version id with any file on disk (readable or not)."""
        d = self.root / "versions"
        if not d.is_dir():
            return set()
        return id_numbers((f.name.split(".")[0] for f in d.iterdir() if f.suffix in (".pt", ".json")), "v")

    def load_versions(self) -> tuple[list[tuple[ModelVersion, dict[str, torch.Tensor]]], list[str]]:
        """Every finished version with its weights, and one message per file that failed (a
        record whose id is not its file's name is refused: it would load another's weights)."""
        d = self.root / "versions"
        loaded, errors = [], []
        if not d.is_dir():
            return loaded, errors
        records = sorted(
            (f for f in d.glob("v*.json") if _VID.match(f.stem)), key=lambda f: int(f.stem[1:])
        )
        for js in records:
            pt = js.with_suffix(".pt")
            try:
                version = ModelVersion.from_json(js.read_text())
                if version.id != js.stem:
                    raise ValueError(f"its id {version.id!r} is not its file name {js.stem!r}")
            except (ValueError, TypeError, UnicodeDecodeError, OSError) as e:
                errors.append(f"corrupted version record {js}: {e}; skipped")
                continue
            try:
                state = load_state(pt)
            except FileNotFoundError:
                errors.append(f"weights missing for version {version.id}: {pt}")
                continue
            except (ValueError, OSError) as e:
                errors.append(f"corrupted weights file {pt}: {e}")
                continue
            loaded.append((version, state))
        for pt in d.glob("v*.pt"):
            if _VID.match(pt.stem) and not pt.with_suffix(".json").exists():
                errors.append(f"incomplete version {pt.stem}: {pt} has no record (interrupted save?)")
        return loaded, errors

    # ---------------------------------------------------------------- history
    def read_history(self, warn: bool = True) -> list[dict]:
        path = self.root / "history.json"
        if not path.exists():
            return []
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, list) or not all(isinstance(h, dict) for h in data):
                raise ValueError("expected a list of events")
            return data
        except (ValueError, UnicodeDecodeError) as e:
            if warn:
                warnings.warn(
                    f"corrupted workspace file {path}: {e}; history starts empty", WorkspaceWarning, stacklevel=3
                )
            return []

    def append_history(self, events: list[dict]) -> list[dict]:
        """Add ``events`` to the history on disk (read under the lock, so another process's
        events are kept) and return the whole history."""
        with self.locked():
            history = self.read_history(warn=False) + list(events)
            atomic_write_json(self.root / "history.json", history)
        return history

    # ---------------------------------------------------------------- files of the services
    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def save_array(self, path: Path, arr: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        atomic_write_bytes(path, buf.getvalue())

    @staticmethod
    def load_array(path: Path) -> np.ndarray | None:
        """The array at ``path``; None when missing; a corrupted file is named in a warning."""
        if not path.exists():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            warnings.warn(f"corrupted workspace file {path}: {e}; it will be recomputed", WorkspaceWarning, stacklevel=3)
            return None
