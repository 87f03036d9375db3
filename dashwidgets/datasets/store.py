"""Image stores on disk: an :class:`ImageSet` whose images stay in a memory-mapped file.

A store is a folder::

    images.npy          [N, 3, H, W] uint8, read through np.memmap (only the pages a batch touches)
    mask__<name>.npy    [N, H, W] bool, memory-mapped too
    index.npz           labels, split, class names, attributes (a few bytes per image)
    store.json          format, name, shape, fingerprint, how it was made

Memory-mapped ``.npy`` files were chosen over zarr: a batch read is one fancy index into the
page cache with no decompression and no new dependency, and a 10^6-image set of 64 px digits is
12 GB on disk either way (the images do not compress well enough chunk by chunk to pay for
decoding on every read; ``benchmarks/scale.py`` measures the read rate). The engine reads such a
set in batches and never loads it whole; a workspace made from it records the store's path and
fingerprint instead of copying the images.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .imageset import ImageSet

FORMAT = "dashwidgets-image-store"
FORMAT_VERSION = 1


class StoreError(ValueError):
    """A folder that is not a readable image store (missing, incomplete or corrupted)."""


def write_store(
    folder: str | Path,
    batches: Iterator[tuple[np.ndarray, dict[str, np.ndarray]]],
    n: int,
    image_shape: tuple[int, int, int],
    labels: np.ndarray,
    split: np.ndarray,
    classes: list[str],
    attributes: dict[str, np.ndarray] | None = None,
    mask_names: tuple[str, ...] = (),
    name: str = "images",
    meta: dict | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImageSet:
    """Write ``n`` images, arriving as ``(images [B,3,H,W] uint8, {mask name: [B,H,W] bool})``
    batches in index order, into a new store at ``folder``; returns it opened (memory-mapped).
    Only one batch is in memory at a time. ``folder`` must not exist or be empty."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise StoreError(f"{folder} is not empty; an image store needs a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    c, h, w = image_shape
    images = np.lib.format.open_memmap(folder / "images.npy", mode="w+", dtype=np.uint8, shape=(n, c, h, w))
    masks = {k: np.lib.format.open_memmap(folder / f"mask__{k}.npy", mode="w+", dtype=bool, shape=(n, h, w))
             for k in mask_names}
    at = 0
    for imgs, mask_batch in batches:
        b = len(imgs)
        if at + b > n:
            raise StoreError(f"the source gave more than the {n} images announced")
        images[at : at + b] = imgs
        for k in mask_names:
            masks[k][at : at + b] = mask_batch[k]
        at += b
        if progress is not None:
            progress(at)
    if at != n:
        raise StoreError(f"the source gave {at} images, not the {n} announced")
    images.flush()
    for m in masks.values():
        m.flush()
    del images, masks
    np.savez(folder / "index.npz", labels=np.asarray(labels, np.int64), split=np.asarray(split).astype("U5"),
             classes=np.asarray(classes, dtype=str),
             **{f"attr__{k}": np.asarray(v) for k, v in (attributes or {}).items()})
    ds = open_store(folder, _header={"format": FORMAT, "format_version": FORMAT_VERSION, "name": name,
                                     "meta": meta or {}})
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "n": n,
              "shape": [c, h, w], "masks": list(mask_names), "fingerprint": ds.fingerprint(), "meta": meta or {}}
    (folder / "store.json").write_text(json.dumps(header, indent=1))
    return ds


def open_store(folder: str | Path, _header: dict | None = None) -> ImageSet:
    """The :class:`ImageSet` of the store at ``folder``, its images and masks memory-mapped
    (read-only). Clear errors for a folder that is not a complete store."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StoreError(f"no image store at {folder}: the folder does not exist")
    try:
        header = _header or json.loads((folder / "store.json").read_text())
    except FileNotFoundError:
        raise StoreError(f"{folder} is not an image store (no store.json); write one with "
                         "dw.datasets.to_store(...)") from None
    except (OSError, ValueError) as e:
        raise StoreError(f"corrupted image store {folder}: store.json: {e}") from None
    if header.get("format") != FORMAT or header.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{folder} is not a version-{FORMAT_VERSION} dashwidgets image store")
    try:
        images = np.load(folder / "images.npy", mmap_mode="r")
        with np.load(folder / "index.npz", allow_pickle=False) as z:
            index = {k: z[k] for k in z.files}
        masks = {p.name[len("mask__"):-len(".npy")]: np.load(p, mmap_mode="r") for p in sorted(folder.glob("mask__*.npy"))}
    except (OSError, ValueError) as e:
        raise StoreError(f"corrupted image store {folder}: {e}") from None
    if "n" in header and len(images) != header["n"]:
        raise StoreError(f"corrupted image store {folder}: images.npy holds {len(images)} images, store.json says {header['n']}")
    ds = ImageSet(
        images=images, labels=index["labels"], split=index["split"], classes=index["classes"].tolist(),
        attributes={k[len("attr__"):]: v for k, v in index.items() if k.startswith("attr__")},
        masks=masks, name=header.get("name", "images"), meta={**header.get("meta", {}), "store": str(folder.resolve())},
    )
    if "fingerprint" in header and ds.fingerprint() != header["fingerprint"]:
        raise StoreError(f"corrupted image store {folder}: its images no longer match the fingerprint in store.json")
    return ds


def to_store(source, folder: str | Path, batch: int | None = None,
             progress: Callable[[int], None] | None = None) -> ImageSet:
    """Write ``source`` (an :class:`ImageSet`, or a lazily rendered
    :class:`~dashwidgets.datasets.scenes.SceneDigits`) into an image store at ``folder`` and
    return it memory-mapped. A SceneDigits set is rendered ``batch`` images at a time (default:
    about 64 MB of float32 pixels per batch), so a set larger than RAM can be written."""
    from .scenes import SceneDigits

    if not isinstance(source, (ImageSet, SceneDigits)):
        raise TypeError(f"to_store takes an ImageSet or a SceneDigits, got {type(source).__name__}")
    if batch is None:
        h, w = (source.size, source.size) if isinstance(source, SceneDigits) else source.image_size
        batch = max(16, (64 << 20) // (3 * h * w * 4))

    if isinstance(source, SceneDigits):
        n, s = len(source), source.size

        def scene_batches():
            for i in range(0, n, batch):
                imgs, obj = source.render(np.arange(i, min(n, i + batch)))
                yield imgs, {"object": obj, "bias": ~obj}

        return write_store(folder, scene_batches(), n, (3, s, s), source.labels, source.split, source.classes,
                           {"aligned": source.bias_class == source.labels, "bias_class": source.bias_class},
                           ("object", "bias"), name="scene-digits",
                           meta={"benchmark": "scene-digits", "bias": source.bias, "seed": source.seed,
                                 "size": s, **{f"n_{k}": v for k, v in source.counts.items()}}, progress=progress)
    if isinstance(source, ImageSet):
        n = len(source)

        def set_batches():
            for i in range(0, n, batch):
                sl = slice(i, min(n, i + batch))
                yield source.images[sl], {k: m[sl] for k, m in source.masks.items()}

        return write_store(folder, set_batches(), n, source.images.shape[1:], source.labels, source.split,
                           source.classes, source.attributes, tuple(source.masks), name=source.name,
                           meta=source.meta, progress=progress)
    raise TypeError(f"to_store takes an ImageSet or a SceneDigits, got {type(source).__name__}")
