"""The one container every part of dashwidgets reads images from."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass(eq=False)
class ImageSet:
    """Images, labels and ground truth for one audit.

    Parameters
    ----------
    images : np.ndarray
        ``[N, 3, H, W] uint8`` RGB images, channels first.
    labels : np.ndarray
        ``[N] int64`` class indices into ``classes``.
    split : np.ndarray
        ``[N]`` strings, each one of ``"train"``, ``"val"``, ``"test"``.
    classes : list of str
        Class names; ``len(classes)`` is the number of classes.
    attributes : dict of str to np.ndarray
        Per-image metadata, each ``[N]``. The embedded benchmarks set ``"aligned"`` (bool: the
        image carries its own class's spurious feature) and ``"bias_class"`` (int: whose spurious
        feature it carries).
    masks : dict of str to np.ndarray
        Per-image ground-truth regions, each ``[N, H, W] bool``. The embedded benchmarks set
        ``"object"`` (the digit) and ``"bias"`` (the spurious feature).
    name : str
        Short name shown in views and stored in workspaces.
    meta : dict
        How the set was made (generator parameters, source folder...), JSON-serialisable.
    """

    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    classes: list[str]
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = "images"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.images = _check_images(self.images)
        n = len(self.images)
        self.classes = [str(c) for c in self.classes]
        if len(self.classes) < 2:
            raise ValueError(f"need at least 2 classes, got {len(self.classes)}: {self.classes!r}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"class names must be unique, got {self.classes!r}")
        self.labels = _check_labels(self.labels, n, len(self.classes))
        self.split = _check_split(self.split, n)
        self.attributes = {str(k): _check_column(k, v, n) for k, v in dict(self.attributes).items()}
        self.masks = {
            str(k): _check_mask(k, v, self.images.shape) for k, v in dict(self.masks).items()
        }
        self._fingerprint: str | None = None

    # ------------------------------------------------------------------ basic views
    def __len__(self) -> int:
        return len(self.images)

    @property
    def mapped(self) -> bool:
        """True when the images are memory-mapped from an image store on disk
        (:func:`dashwidgets.datasets.store.open_store`), not held in RAM."""
        base = self.images
        while base is not None:
            if isinstance(base, np.memmap):
                return True
            base = getattr(base, "base", None)
        return False

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of every image."""
        return int(self.images.shape[2]), int(self.images.shape[3])

    def indices(self, split: str | Sequence[str] | None = None) -> np.ndarray:
        """``[M] int64`` indices of the images in ``split`` (all images when ``None``)."""
        if split is None:
            return np.arange(len(self), dtype=np.int64)
        names = [split] if isinstance(split, str) else list(split)
        for s in names:
            if s not in SPLITS:
                raise ValueError(f"unknown split {s!r}; expected one of {SPLITS}")
        return np.flatnonzero(np.isin(self.split, names)).astype(np.int64)

    def split_codes(self) -> np.ndarray:
        """``[N] uint8``: each image's split as its position in SPLITS (0 train, 1 val, 2 test)."""
        codes = np.zeros(len(self), np.uint8)
        for k, name in enumerate(SPLITS):
            codes[self.split == name] = k
        return codes

    def subset(self, idx: Sequence[int] | np.ndarray) -> ImageSet:
        """A new ImageSet with the images at ``idx`` (in that order)."""
        idx = self.check_indices(idx)
        return ImageSet(
            images=self.images[idx],
            labels=self.labels[idx],
            split=self.split[idx],
            classes=list(self.classes),
            attributes={k: v[idx] for k, v in self.attributes.items()},
            masks={k: v[idx] for k, v in self.masks.items()},
            name=self.name,
            meta={k: v for k, v in self.meta.items() if k != "store"},  # the subset is in memory
        )

    def check_indices(self, idx: Sequence[int] | np.ndarray) -> np.ndarray:
        """Validate image indices: ``[M] int64``; raises ValueError naming bad values."""
        try:
            arr = np.asarray(idx)
        except (ValueError, TypeError) as e:  # ragged nested lists: numpy's message names no argument
            raise ValueError(f"indices must be a one-dimensional list or array of integers, got {idx!r:.80}: {e}") from None
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(f"indices must be one-dimensional, got shape {arr.shape}")
        if arr.size == 0:
            return arr.astype(np.int64)
        if arr.dtype == bool:
            raise ValueError("indices must be integers, got a boolean array; use np.flatnonzero(mask)")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"indices must be integers, got dtype {arr.dtype}")
        bad = arr[(arr < 0) | (arr >= len(self))]
        if bad.size:
            raise ValueError(
                f"image indices out of range [0, {len(self)}): {bad[:5].tolist()}"
                + (" ..." if bad.size > 5 else "")
            )
        return arr.astype(np.int64)

    def class_index(self, name_or_index: str | int) -> int:
        """Index of a class given by name or index; ValueError for unknown classes."""
        if isinstance(name_or_index, str):
            if name_or_index not in self.classes:
                raise ValueError(f"unknown class {name_or_index!r}; classes are {self.classes!r}")
            return self.classes.index(name_or_index)
        i = int(name_or_index)
        if not 0 <= i < self.num_classes:
            raise ValueError(f"class index {i} out of range [0, {self.num_classes})")
        return i

    def fingerprint(self) -> str:
        """A short hash of images, labels, splits and classes (cached).

        Large sets hash a strided sample of images so the cost stays bounded (≤ 64 MB read).
        """
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(repr((self.images.shape, self.classes)).encode())
            h.update(np.ascontiguousarray(self.labels).tobytes())
            h.update("|".join(self.split.tolist()).encode())
            per_image = max(1, self.images[0].nbytes)
            stride = max(1, (len(self) * per_image) // (64 << 20))
            h.update(np.ascontiguousarray(self.images[::stride]).tobytes())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def counts(self) -> dict[str, int]:
        """Number of images per split."""
        return {s: int((self.split == s).sum()) for s in SPLITS}

    def __repr__(self) -> str:
        h, w = self.image_size
        c = self.counts()
        parts = ", ".join(f"{k}={v}" for k, v in c.items() if v)
        extra = ""
        if self.attributes:
            extra += f", attributes={sorted(self.attributes)}"
        if self.masks:
            extra += f", masks={sorted(self.masks)}"
        return (
            f"ImageSet({self.name!r}, {len(self)} images {h}x{w}, {self.num_classes} classes, "
            f"{parts}{extra})"
        )

    # ------------------------------------------------------------------ persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat dict of arrays for ``np.savez`` (see :meth:`from_arrays`)."""
        out = {
            "images": self.images,
            "labels": self.labels,
            "split": self.split.astype("U5"),
            "classes": np.asarray(self.classes, dtype=str),
            "name": np.asarray(self.name),
        }
        for k, v in self.attributes.items():
            out[f"attr__{k}"] = v
        for k, v in self.masks.items():
            out[f"mask__{k}"] = v
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], meta: dict | None = None) -> ImageSet:
        return cls(
            images=arrays["images"],
            labels=arrays["labels"],
            split=arrays["split"],
            classes=[str(c) for c in arrays["classes"].tolist()],
            attributes={k[6:]: arrays[k] for k in arrays if k.startswith("attr__")},
            masks={k[6:]: arrays[k] for k in arrays if k.startswith("mask__")},
            name=str(arrays["name"]),
            meta=meta or {},
        )


# ---------------------------------------------------------------------- validation
def _check_images(images: Any) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim != 4:
        raise ValueError(
            f"images must have shape [N, 3, H, W] (rank 4), got rank {arr.ndim} with shape {arr.shape}"
        )
    if arr.shape[1] != 3:
        raise ValueError(
            f"images must have 3 colour channels in dimension 1 ([N, 3, H, W]), got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError("images is empty: an ImageSet needs at least one image")
    if arr.shape[2] < 4 or arr.shape[3] < 4:
        raise ValueError(f"images must be at least 4x4 pixels, got {arr.shape[2]}x{arr.shape[3]}")
    if arr.dtype != np.uint8:
        raise ValueError(
            f"images must be uint8 in [0, 255], got dtype {arr.dtype}; "
            "use dashwidgets.datasets.from_tensors to convert float images"
        )
    return np.ascontiguousarray(arr)


def _check_labels(labels: Any, n: int, num_classes: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"labels must have shape [{n}] to match the images, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
    bad = arr[(arr < 0) | (arr >= num_classes)]
    if bad.size:
        raise ValueError(
            f"labels out of range [0, {num_classes}) for {num_classes} classes: "
            f"{sorted(set(bad.tolist()))[:5]}"
        )
    return arr.astype(np.int64)


def _check_split(split: Any, n: int) -> np.ndarray:
    arr = np.asarray(split).astype(str)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"split must have shape [{n}] to match the images, got shape {arr.shape}")
    unknown = sorted(set(arr.tolist()) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown split names {unknown}; expected only {SPLITS}")
    return arr.astype("U5")


def _check_column(name: str, values: Any, n: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"attribute {name!r} must have shape [{n}], got shape {arr.shape}")
    return arr


def _check_mask(name: str, values: Any, image_shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(values)
    n, _, h, w = image_shape
    if arr.shape != (n, h, w):
        raise ValueError(f"mask {name!r} must have shape [{n}, {h}, {w}], got shape {arr.shape}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():  # astype(bool) would put NaN inside the mask
        i = int(np.argwhere(np.isnan(arr))[0][0])
        raise ValueError(f"mask {name!r} contains NaN (first in image {i}); expected bool or 0/1 values")
    return arr if arr.dtype == bool else arr.astype(bool)  # a memory-mapped bool mask stays mapped
