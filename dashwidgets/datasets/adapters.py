"""Bring your own images: folders, arrays/tensors and torchvision datasets become an ImageSet.

Every adapter runs the same checks (:mod:`.checks`, one helper per concern).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .checks import (
    _class_names,
    _classes_without_images,
    _default_classes,
    _image_to_hwc,
    _integer_labels,
    _is_junk,
    _label_array,
    _listed,
    _read_images,
    _read_mask,
    _scalar_label,
    _size_wh,
    _stack_same_size,
    _subfolders,
    _to_numpy,
    to_uint8_nchw,
)
from .imageset import SPLITS, ImageSet


def from_tensors(
    images: Any,
    labels: Any,
    classes: Sequence[str] | None = None,
    split: Any = None,
    attributes: Mapping[str, Any] | None = None,
    masks: Mapping[str, Any] | None = None,
    name: str = "tensors",
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> ImageSet:
    """Wrap arrays or tensors as an ImageSet.

    Parameters
    ----------
    images : array-like
        ``[N, C, H, W]`` (channels first) or ``[N, H, W, C]`` (channels last) with C = 3 (RGB),
        1 (grey, repeated to 3 channels) or 4 (RGBA: the alpha channel is dropped and the colour
        kept as stored, as PIL's ``convert("RGB")`` does), or grey ``[N, H, W]``. When both
        dimension 1 and the last could hold channels, the reading with the larger image sides
        wins; a tie is read channels first. ``uint8``/integer in [0, 255], bool (black/white),
        or float in [0, 1] (float16 and bfloat16 too).
    labels : array-like
        ``[N]`` integer class indices; whole-number floats are accepted, fractions, NaN, bools
        and strings are refused with the index of the first bad one.
    classes : list of str, optional
        Class names, one per class index. Defaults to ``"0" .. str(max(labels))``; then the
        labels must hold at least two classes, and indices no image uses give a warning.
    split : array-like of str, optional
        ``[N]`` "train"/"val"/"test"; when omitted, a seeded random split by ``fractions``.
    attributes, masks : dict, optional
        Per-image columns ``[N]`` and boolean masks ``[N, H, W]``.
    """
    imgs = to_uint8_nchw(images)
    lab = _to_numpy(labels)
    if lab.ndim != 1:
        raise ValueError(f"labels must be one-dimensional [N], got shape {lab.shape}")
    if len(lab) != len(imgs):
        raise ValueError(f"got {len(imgs)} images but {len(lab)} labels: lengths must match")
    lab = _integer_labels(lab, at="labels[{i}]")
    if classes is None:
        classes = _default_classes(lab)
        missing = _classes_without_images(lab, classes)
        if missing:
            warnings.warn(
                f"labels never use class indices {_listed(missing)} (of 0..{len(classes) - 1}): "
                "they become classes with no images; pass classes=[...] to name every class, or "
                "relabel 0..K-1",
                stacklevel=2,
            )
    else:
        classes = _class_names(classes)
    if split is None:
        split = random_split(len(imgs), fractions, seed)
    return ImageSet(
        images=imgs,
        labels=lab,
        split=_to_numpy(split),
        classes=classes,
        attributes={k: _to_numpy(v) for k, v in (attributes or {}).items()},
        masks={k: _to_numpy(v) for k, v in (masks or {}).items()},
        name=name,
        meta={"source": "tensors"},
    )


def from_torchvision(
    dataset: Any | Mapping[str, Any],
    classes: Sequence[str] | None = None,
    size: int | tuple[int, int] | None = None,
    name: str | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> ImageSet:
    """Convert a torchvision-style dataset (items ``(image, label)``) into an ImageSet.

    ``dataset`` is one dataset (split at random by ``fractions``) or a dict
    ``{"train": ds, "val": ds, "test": ds}``. Images may be PIL images, tensors or arrays
    (``[C, H, W]``, ``[H, W, C]`` or grey ``[H, W]``, read as :func:`from_tensors` reads a batch);
    they are resized to ``size`` ((height, width) or one int) when given, otherwise all must share
    one size. Labels must be whole class indices (an int, a whole float, a one-element tensor).
    Class names come from ``classes``, else the dataset's ``classes`` attribute.
    """
    size_wh = None if size is None else _size_wh(size)
    parts = dict(dataset) if isinstance(dataset, Mapping) else {None: dataset}
    for key in parts:
        if key is not None and key not in SPLITS:
            raise ValueError(f"unknown split {key!r} in dataset dict; expected keys from {SPLITS}")
    images, names, labels, splits = [], [], [], []
    for key, ds in parts.items():
        if not hasattr(ds, "__len__") or not hasattr(ds, "__getitem__"):
            raise TypeError(f"expected a map-style dataset with __len__/__getitem__, got {type(ds).__name__}")
        where = "dataset" if key is None else f"dataset[{key!r}]"
        part_labels = []
        for i in range(len(ds)):
            item = ds[i]
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise ValueError(f"{where} item {i} is not an (image, label) pair: {type(item).__name__}")
            images.append(_image_to_hwc(item[0], size_wh, where=f"{where} item {i}"))
            names.append(f"{where} item {i}")
            part_labels.append(_scalar_label(item[1], where=f"{where} item {i}"))
        labels.append(_integer_labels(_label_array(part_labels), at=f"the label of {where} item {{i}}"))
        splits += [key] * len(ds)
        if classes is None and getattr(ds, "classes", None) is not None:
            classes = ds.classes
    if not images:
        raise ValueError("the dataset is empty")
    imgs = _stack_same_size(images, names)
    split = None if None in parts else np.asarray(splits)
    first = next(iter(parts.values()))
    return from_tensors(
        imgs,
        np.concatenate(labels),
        classes=classes,
        split=split,
        name=name or type(first).__name__,
        seed=seed,
        fractions=fractions,
    )


def from_folder(
    root: str | Path,
    size: int | tuple[int, int] | None = None,
    masks: Mapping[str, str | Path] | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    name: str | None = None,
    allow_empty_classes: bool = False,
) -> ImageSet:
    """Read a class-per-folder tree of images.

    Layouts: ``root/<class>/<image>`` (split at random by ``fractions``, seeded), or
    ``root/<split>/<class>/<image>`` with splits ``train``, ``val``, ``test``. Images are resized
    to ``size`` ((height, width) or one int) when given, otherwise all must share one size.

    Clutter that operating systems and archivers leave (dot-files such as ``.DS_Store``,
    ``Thumbs.db``, ``desktop.ini``, ``__MACOSX``) is skipped silently; sub-folders inside a class
    folder are skipped with a warning. Any other file that is not a readable image is refused:
    one ValueError lists every such file with its path. A class folder with no images is refused
    too, unless ``allow_empty_classes=True`` keeps it as a class with no images (with a warning).

    ``masks`` maps a mask name to a folder that mirrors ``root`` (same relative paths, any image
    extension): non-zero pixels are inside the mask. Masks are resized with the images.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"folder not found: {root}")
    size_wh = None if size is None else _size_wh(size)
    subdirs = _subfolders(root)
    if subdirs and {p.name for p in subdirs} <= set(SPLITS):
        split_dirs = [(p.name, p) for p in subdirs]
    else:
        split_dirs = [(None, root)]
    classes = sorted({c.name for _, d in split_dirs for c in _subfolders(d)})
    if len(classes) < 2:
        raise ValueError(
            f"{root} must contain one sub-folder per class (at least 2), found {classes or 'none'}"
        )
    files, labels, splits, nested = [], [], [], []
    for split, d in split_dirs:
        for ci, cname in enumerate(classes):
            cdir = d / cname
            if not cdir.is_dir():
                continue
            for f in sorted(cdir.iterdir()):
                if _is_junk(f):
                    continue
                if f.is_dir():
                    nested.append(f)
                    continue
                files.append(f)
                labels.append(ci)
                splits.append(split)
    if not files:
        raise ValueError(f"no images found under {root}")
    if nested:
        warnings.warn(
            f"sub-folders inside class folders are not read: {_listed(nested)}; images must sit "
            "directly in <root>/<class>/ or <root>/<split>/<class>/",
            stacklevel=2,
        )
    labels = np.asarray(labels, dtype=np.int64)
    empty = _classes_without_images(labels, classes)
    if empty:
        folders = [d / c for c in empty for _, d in split_dirs if (d / c).is_dir()]
        if not allow_empty_classes:
            raise ValueError(
                f"class folders with no images: {_listed(folders)}; a class needs images to be "
                "learned. Remove them, or pass allow_empty_classes=True to keep them as classes"
            )
        warnings.warn(f"class folders with no images kept as classes: {_listed(folders)}", stacklevel=2)
    images = _read_images(files, size_wh, root)
    imgs = _stack_same_size(images, [str(f) for f in files])
    h, w = imgs.shape[2:4]  # imgs is [N, 3, H, W]
    mask_arrays = {}
    for mname, mroot in (masks or {}).items():
        mroot = Path(mroot)
        mask_arrays[mname] = np.stack([_read_mask(mroot, f.relative_to(root), (h, w)) for f in files])
    split_arr = None if split_dirs[0][0] is None else np.asarray(splits)
    ds = from_tensors(
        imgs,
        labels,
        classes=classes,
        split=split_arr,
        masks=mask_arrays,
        name=name or root.name,
        seed=seed,
        fractions=fractions,
    )
    ds.meta = {"source": "folder", "root": str(root), "files": [str(f.relative_to(root)) for f in files]}
    return ds


# ---------------------------------------------------------------------- helpers
def random_split(n: int, fractions: tuple[float, float, float], seed: int) -> np.ndarray:
    """Seeded assignment of ``n`` items to train/val/test by ``fractions``."""
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or (fr < 0).any() or fr.sum() <= 0:
        raise ValueError(f"fractions must be three non-negative numbers (train, val, test), got {fractions!r}")
    fr = fr / fr.sum()
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.round(np.cumsum(fr) * n).astype(int)
    out = np.empty(n, dtype="U5")
    out[order[: bounds[0]]] = "train"
    out[order[bounds[0] : bounds[1]]] = "val"
    out[order[bounds[1] :]] = "test"
    return out
