"""Bring your own images: folders, arrays/tensors and torchvision datasets become an ImageSet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .imageset import SPLITS, ImageSet

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


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
        ``[N, 3, H, W]`` (channels first), ``[N, H, W, 3]`` (channels last), or grayscale
        ``[N, H, W]`` / ``[N, 1, H, W]`` (repeated to 3 channels). ``uint8`` in [0, 255], or
        float in [0, 1].
    labels : array-like
        ``[N]`` integer class indices.
    classes : list of str, optional
        Class names; defaults to ``"0" .. str(max(labels))``.
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
    if not np.issubdtype(lab.dtype, np.integer):
        if np.issubdtype(lab.dtype, np.floating) and np.all(np.mod(lab, 1) == 0):
            lab = lab.astype(np.int64)
        else:
            raise ValueError(f"labels must be integer class indices, got dtype {lab.dtype}")
    if classes is None:
        if (lab < 0).any():
            raise ValueError(f"labels must be non-negative, got {int(lab.min())}")
        classes = [str(i) for i in range(int(lab.max()) + 1 if len(lab) else 0)]
        classes = classes if len(classes) >= 2 else ["0", "1"]
    if split is None:
        split = random_split(len(imgs), fractions, seed)
    return ImageSet(
        images=imgs,
        labels=lab,
        split=_to_numpy(split),
        classes=list(classes),
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
    ``{"train": ds, "val": ds, "test": ds}``. Images may be PIL images, tensors or arrays;
    they are resized to ``size`` when given (otherwise all must share one size). Class names come
    from ``classes``, else the dataset's ``classes`` attribute.
    """
    parts = dict(dataset) if isinstance(dataset, Mapping) else {None: dataset}
    for key in parts:
        if key is not None and key not in SPLITS:
            raise ValueError(f"unknown split {key!r} in dataset dict; expected keys from {SPLITS}")
    images, labels, splits = [], [], []
    for key, ds in parts.items():
        if not hasattr(ds, "__len__") or not hasattr(ds, "__getitem__"):
            raise TypeError(f"expected a map-style dataset with __len__/__getitem__, got {type(ds).__name__}")
        for i in range(len(ds)):
            item = ds[i]
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise ValueError(f"dataset item {i} is not an (image, label) pair: {type(item).__name__}")
            images.append(_image_to_hwc(item[0], size, where=f"item {i}"))
            labels.append(int(item[1]))
        splits += [key] * len(ds)
        if classes is None and getattr(ds, "classes", None) is not None:
            classes = list(ds.classes)
    if not images:
        raise ValueError("the dataset is empty")
    imgs = _stack_same_size(images, "dataset items")
    split = None if None in parts else np.asarray(splits)
    first = next(iter(parts.values()))
    return from_tensors(
        imgs,
        np.asarray(labels, dtype=np.int64),
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
) -> ImageSet:
    """Read a class-per-folder tree of images.

    Layouts: ``root/<class>/<image>`` (split at random by ``fractions``, seeded), or
    ``root/<split>/<class>/<image>`` with splits ``train``, ``val``, ``test``. Hidden files are
    ignored; any other file that is not a readable image raises a ValueError naming it.

    ``masks`` maps a mask name to a folder that mirrors ``root`` (same relative paths, any image
    extension): non-zero pixels are inside the mask. Masks are resized with the images.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"folder not found: {root}")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subdirs and {p.name for p in subdirs} <= set(SPLITS):
        split_dirs = [(p.name, p) for p in subdirs]
    else:
        split_dirs = [(None, root)]
    classes = sorted(
        {c.name for _, d in split_dirs for c in d.iterdir() if c.is_dir() and not c.name.startswith(".")}
    )
    if len(classes) < 2:
        raise ValueError(
            f"{root} must contain one sub-folder per class (at least 2), found {classes or 'none'}"
        )
    files, labels, splits = [], [], []
    for split, d in split_dirs:
        for ci, cname in enumerate(classes):
            cdir = d / cname
            if not cdir.is_dir():
                continue
            for f in sorted(cdir.iterdir()):
                if f.name.startswith(".") or f.is_dir():
                    continue
                files.append(f)
                labels.append(ci)
                splits.append(split)
    if not files:
        raise ValueError(f"no images found under {root}")
    images = [_read_image(f, size) for f in files]
    imgs = _stack_same_size(images, str(root))
    h, w = imgs.shape[2:4]  # imgs is [N, 3, H, W]
    mask_arrays = {}
    for mname, mroot in (masks or {}).items():
        mroot = Path(mroot)
        mask_arrays[mname] = np.stack([_read_mask(mroot, f.relative_to(root), (h, w)) for f in files])
    split_arr = None if split_dirs[0][0] is None else np.asarray(splits)
    ds = from_tensors(
        imgs,
        np.asarray(labels, dtype=np.int64),
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


def to_uint8_nchw(images: Any) -> np.ndarray:
    """Images in any common layout/dtype → ``[N, 3, H, W] uint8``; ValueError names the problem."""
    arr = _to_numpy(images)
    if arr.ndim == 3:  # [N, H, W] grayscale
        arr = arr[:, None]
    if arr.ndim != 4:
        raise ValueError(
            f"images must have rank 4 ([N, 3, H, W] or [N, H, W, 3]) or 3 (grayscale [N, H, W]), "
            f"got rank {arr.ndim} with shape {arr.shape}"
        )
    if arr.shape[1] not in (1, 3) and arr.shape[-1] in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    if arr.shape[1] != 3:
        raise ValueError(
            f"images must have 1 or 3 channels (RGB), got {arr.shape[1]} channels in shape {arr.shape}"
        )
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (np.nanmin(arr) < 0.0 or np.nanmax(arr) > 1.0):
            raise ValueError(
                f"float images must lie in [0, 1], got values in [{float(np.nanmin(arr)):.3g}, "
                f"{float(np.nanmax(arr)):.3g}]"
            )
        if np.isnan(arr).any():
            raise ValueError("float images contain NaN")
        return (arr * 255.0 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"integer images must lie in [0, 255], got [{arr.min()}, {arr.max()}]")
        return arr.astype(np.uint8)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _image_to_hwc(img: Any, size: int | tuple[int, int] | None, where: str) -> np.ndarray:
    from PIL import Image

    if isinstance(img, Image.Image):
        pil = img.convert("RGB")
    else:
        arr = _to_numpy(img)
        if arr.ndim not in (2, 3):
            raise ValueError(f"{where}: an image must have rank 2 or 3, got shape {arr.shape}")
        arr = to_uint8_nchw(arr[None])[0]
        pil = Image.fromarray(arr.transpose(1, 2, 0))
    if size is not None:
        pil = pil.resize(_size_wh(size), Image.BILINEAR)
    return np.asarray(pil, dtype=np.uint8)


def _read_image(path: Path, size: int | tuple[int, int] | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"not an image file: {path} (expected one of {sorted(IMAGE_SUFFIXES)})")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if size is not None:
                im = im.resize(_size_wh(size), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"cannot read image file {path}: {e}") from None


def _read_mask(mroot: Path, rel: Path, hw: tuple[int, int]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    candidates = [mroot / rel] + [mroot / rel.with_suffix(s) for s in sorted(IMAGE_SUFFIXES)]
    for c in candidates:
        if c.is_file():
            try:
                with Image.open(c) as im:
                    im = im.convert("L").resize((hw[1], hw[0]), Image.NEAREST)
                    return np.asarray(im) > 0
            except (UnidentifiedImageError, OSError) as e:
                raise ValueError(f"cannot read mask file {c}: {e}") from None
    raise ValueError(f"mask missing for {rel}: looked for {mroot / rel.with_suffix('.*')}")


def _stack_same_size(images: list[np.ndarray], where: str) -> np.ndarray:
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"images in {where} have different sizes {sorted(shapes)[:3]}...; pass size=... to resize"
        )
    return np.stack(images).transpose(0, 3, 1, 2)


def _size_wh(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    h, w = size
    return (int(w), int(h))
