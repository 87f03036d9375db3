"""A workspace folder that keeps every finished version across kernel restarts.

Layout::

    workspace.json          format marker, dataset fingerprint, model spec, input normalisation
    dataset.npz             the ImageSet (so the workspace opens on its own)
    history.json            training / discard / augmentation events
    versions/v1.pt          weights (torch.save of a state dict; loaded with weights_only=True)
    versions/v1.json        the ModelVersion record, written after its weights: its presence
                            marks a finished version
    projection/...          the reference t-SNE map and per-version coordinates

Every file is written to a temporary name in the same folder, flushed to disk and renamed over the
target, so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

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


class WorkspaceWarning(UserWarning):
    """A file in a workspace could not be read; the rest of the workspace still loaded."""


class WorkspaceError(ValueError):
    """The workspace as a whole cannot be used (missing or corrupted ``workspace.json``...)."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True).encode())


class Workspace:
    """Reads and writes one workspace folder (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

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
        if header.get("format_version", 0) > FORMAT_VERSION:
            raise WorkspaceError(
                f"{self.header_path} was written by a newer dashwidgets (format {header['format_version']})"
            )
        return header

    def create(self, header: dict, dataset: ImageSet) -> None:
        """Start a new workspace: dataset first, then the header that makes it valid."""
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"workspace path {self.root} exists and is not a folder")
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "versions").mkdir(exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **dataset.to_arrays())
        atomic_write_bytes(self.root / "dataset.npz", buf.getvalue())
        atomic_write_json(self.header_path, {"format": FORMAT, "format_version": FORMAT_VERSION, **header})

    def read_dataset(self, meta: dict | None = None) -> ImageSet:
        path = self.root / "dataset.npz"
        try:
            with np.load(path, allow_pickle=False) as z:
                return ImageSet.from_arrays({k: z[k] for k in z.files}, meta=meta)
        except FileNotFoundError:
            raise WorkspaceError(f"workspace dataset missing: {path}") from None
        except (ValueError, OSError, KeyError) as e:
            raise WorkspaceError(f"corrupted workspace file {path}: {e}") from None

    # ---------------------------------------------------------------- versions
    def version_paths(self, vid: str) -> tuple[Path, Path]:
        d = self.root / "versions"
        return d / f"{vid}.pt", d / f"{vid}.json"

    def save_version(self, version: ModelVersion, state: dict[str, torch.Tensor]) -> None:
        """Weights first, record second: a version exists only once both are on disk."""
        pt, js = self.version_paths(version.id)
        self.save_state(pt, state)
        atomic_write_bytes(js, version.to_json().encode())

    @staticmethod
    def save_state(path: Path, state: dict[str, torch.Tensor]) -> None:
        """Atomically write a state dict (read back with ``torch.load(weights_only=True)``)."""
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(path, buf.getvalue())

    def delete_version(self, vid: str) -> None:
        pt, js = self.version_paths(vid)
        js.unlink(missing_ok=True)  # record first: a lone weights file is never loaded
        pt.unlink(missing_ok=True)

    def used_ids(self) -> set[int]:
        """Numbers of every version id with any file on disk (readable or not)."""
        d = self.root / "versions"
        out = set()
        if d.is_dir():
            for f in d.iterdir():
                m = _VID.match(f.name.split(".")[0])
                if m and f.suffix in (".pt", ".json"):
                    out.add(int(m.group(1)))
        return out

    def load_versions(self) -> tuple[list[tuple[ModelVersion, dict[str, torch.Tensor]]], list[str]]:
        """Every finished version with its weights, and one message per file that failed."""
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
            except (ValueError, TypeError, UnicodeDecodeError) as e:
                errors.append(f"corrupted version record {js}: {e}")
                continue
            try:
                state = torch.load(pt, map_location="cpu", weights_only=True)
                if not isinstance(state, dict):
                    raise ValueError("not a state dict")
            except FileNotFoundError:
                errors.append(f"weights missing for version {version.id}: {pt}")
                continue
            except Exception as e:  # noqa: BLE001 - any unreadable file is reported, not fatal
                errors.append(f"corrupted weights file {pt}: not a readable state dict ({type(e).__name__})")
                continue
            loaded.append((version, state))
        for pt in d.glob("v*.pt"):
            if _VID.match(pt.stem) and not pt.with_suffix(".json").exists():
                errors.append(f"incomplete version {pt.stem}: {pt} has no record (interrupted save?)")
        return loaded, errors

    # ---------------------------------------------------------------- history
    def read_history(self) -> list[dict]:
        path = self.root / "history.json"
        if not path.exists():
            return []
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, list):
                raise ValueError("expected a list")
            return data
        except (ValueError, UnicodeDecodeError) as e:
            warnings.warn(f"corrupted workspace file {path}: {e}; history starts empty", WorkspaceWarning, stacklevel=3)
            return []

    def write_history(self, history: list[dict]) -> None:
        atomic_write_json(self.root / "history.json", history)

    # ---------------------------------------------------------------- augmentations
    def save_augmentation(self, aug) -> None:
        d = self.root / "augmentations"
        d.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(
            buf, images=aug.images, sources=aug.sources, labels=aug.labels,
            style_sources=aug.style_sources, accepted=aug.accepted,
        )
        atomic_write_bytes(d / f"{aug.id}.npz", buf.getvalue())
        atomic_write_json(d / f"{aug.id}.json", aug.meta())

    def load_augmentations(self) -> tuple[list, list[str]]:
        from ..augment.record import Augmentation

        d = self.root / "augmentations"
        out, errors = [], []
        if not d.is_dir():
            return out, errors
        for meta_path in sorted(d.glob("a*.json"), key=lambda p: int(p.stem[1:]) if p.stem[1:].isdigit() else 0):
            try:
                meta = json.loads(meta_path.read_text())
                with np.load(meta_path.with_suffix(".npz"), allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
                out.append(
                    Augmentation(
                        id=meta["id"], method=meta["method"], style=meta.get("style"), params=meta.get("params", {}),
                        sources=arrays["sources"], labels=arrays["labels"], images=arrays["images"],
                        style_sources=arrays["style_sources"], created=meta.get("created", ""),
                        accepted=arrays["accepted"].astype(bool),
                    )
                )
            except (OSError, ValueError, KeyError) as e:
                errors.append(f"corrupted augmentation {meta_path.stem} in {d}: {type(e).__name__}: {e}")
        return out, errors

    # ---------------------------------------------------------------- translators
    def translator_paths(self, key: str) -> tuple[Path, Path]:
        d = self.root / "translators"
        return d / f"{key}.pt", d / f"{key}.json"

    def save_translator(self, key: str, meta: dict, state: dict[str, torch.Tensor]) -> None:
        """Weights first, record second (as for versions)."""
        pt, js = self.translator_paths(key)
        pt.parent.mkdir(parents=True, exist_ok=True)
        self.save_state(pt, state)
        atomic_write_json(js, meta)

    def load_translator(self, key: str) -> tuple[dict, dict[str, torch.Tensor]] | None:
        """``(meta, state)`` of a saved translator, None when there is none; a corrupted one is
        named in a WorkspaceWarning and treated as missing (it is trained again)."""
        pt, js = self.translator_paths(key)
        if not js.exists():
            return None
        try:
            meta = json.loads(js.read_text())
            state = torch.load(pt, map_location="cpu", weights_only=True)
            return meta, state
        except Exception as e:  # noqa: BLE001 - any unreadable file: warn and retrain
            warnings.warn(
                f"corrupted translator {key} in {pt.parent}: {type(e).__name__}: {e}; it will be trained again",
                WorkspaceWarning, stacklevel=3,
            )
            return None

    def delete_translators(self, version_id: str) -> None:
        d = self.root / "translators"
        if d.is_dir():
            for f in d.glob(f"{version_id}-*"):
                f.unlink(missing_ok=True)

    # ---------------------------------------------------------------- projections
    def save_array(self, name: str, arr: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        atomic_write_bytes(self.root / "projection" / f"{name}.npy", buf.getvalue())

    def load_array(self, name: str) -> np.ndarray | None:
        path = self.root / "projection" / f"{name}.npy"
        if not path.exists():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            warnings.warn(f"corrupted workspace file {path}: {e}; it will be recomputed", WorkspaceWarning, stacklevel=3)
            return None

    def delete_arrays(self, prefix: str) -> None:
        d = self.root / "projection"
        if d.is_dir():
            for f in d.glob(f"{prefix}*.npy"):
                f.unlink(missing_ok=True)
