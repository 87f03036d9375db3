"""The checks every adapter shares, one helper per concern: :func:`to_uint8_nchw` (image layout
and dtype), ``_integer_labels`` (labels are whole class indices), ``_class_names`` (names are
strings), ``_default_classes`` (labels given without names), ``_classes_without_images``,
``_stack_same_size`` (one image size), ``_open_image`` (files, named in every error) and
``_is_junk`` (operating-system clutter in folders)."""

from __future__ import annotations

import numbers
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
# Files and folders that operating systems, archivers and NAS boxes leave next to images (compared
# lower-case, as Windows does); dot-files are skipped too.
JUNK_NAMES = {"thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "icon\r", "__macosx", "@eadir"}
CHANNELS = (1, 3, 4)
LAYOUTS = (
    "[N, C, H, W] or [N, H, W, C] with C = 1, 3 or 4 channels (grey, RGB, RGBA), or grey [N, H, W]"
)


def to_uint8_nchw(images: Any) -> np.ndarray:
    """Images in any common layout/dtype → ``[N, 3, H, W] uint8``; ValueError names the problem.

    Layouts and dtypes as :func:`from_tensors` documents them; RGBA loses its alpha channel.
    """
    try:
        arr = _to_numpy(images)
    except ValueError as e:  # numpy cannot stack a ragged list
        raise ValueError(
            f"images must be one array {LAYOUTS}; a list of images of different sizes cannot be "
            f"stacked ({e}): resize them first, or use from_torchvision(..., size=...)"
        ) from None
    arr = _channels_first(arr)
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        nan = np.isnan(arr)
        if nan.any():
            where = np.argwhere(nan)[0]
            raise ValueError(
                f"float images contain NaN ({int(nan.sum())} values; the first in image {where[0]}, "
                f"channel {where[1]}, row {where[2]}, column {where[3]})"
            )
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 1.0)
        if lo < 0.0 or hi > 1.0:
            hint = "; they look like [0, 255]: divide by 255" if lo >= 0 and hi <= 255 else ""
            raise ValueError(f"float images must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]{hint}")
        return (arr.astype(np.float32) * 255.0 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"integer images must lie in [0, 255], got [{arr.min()}, {arr.max()}]")
        return arr.astype(np.uint8)
    raise ValueError(f"unsupported image dtype {arr.dtype}; expected uint8, integer, bool or float")


def _channels_first(arr: np.ndarray) -> np.ndarray:
    """``[N, 3, H, W]`` view of a batch in any accepted layout (see ``LAYOUTS``)."""
    if arr.ndim == 3:  # [N, H, W] grey
        arr = arr[:, None]
    if arr.ndim != 4:
        raise ValueError(f"images must be {LAYOUTS}; got rank {arr.ndim} with shape {arr.shape}")
    first, last = arr.shape[1] in CHANNELS, arr.shape[3] in CHANNELS
    if first and last:  # read it the way whose image sides are larger; a tie is channels first
        last = min(arr.shape[1:3]) > min(arr.shape[2:4])
    if last:
        arr = arr.transpose(0, 3, 1, 2)
    elif not first:
        raise ValueError(
            f"images must be {LAYOUTS}; got shape {arr.shape}, in which neither dimension 1 "
            f"({arr.shape[1]}) nor the last ({arr.shape[3]}) is a channel count of 1, 3 or 4"
        )
    if arr.shape[1] == 1:
        return np.repeat(arr, 3, axis=1)
    return arr[:, :3]  # RGBA: drop alpha


def _integer_labels(values: np.ndarray, at: str) -> np.ndarray:
    """``[N] int64`` class indices from integer or whole-number float labels.

    ``at`` names a position, with ``{i}`` for the index (``"labels[{i}]"``); the ValueError names
    the first label that is not a whole number (fractions, NaN, infinities, bools, strings, None).
    """
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind in "iu":
        return arr.astype(np.int64)
    if kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(arr) & (np.mod(arr, 1) == 0))
        if not bad.any():
            return arr.astype(np.int64)
        i = int(np.flatnonzero(bad)[0])
    else:  # bool, str, object: the first value that is not a whole number
        whole = [isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer()
                 for v in arr.tolist()]
        i = whole.index(False) if False in whole else 0
    hint = "; if False/True mean classes 0/1, pass labels.astype(int)" if kind == "b" else ""
    raise ValueError(f"labels must be integer class indices; {at.format(i=i)} is {arr.tolist()[i]!r}{hint}")


def _scalar_label(label: Any, where: str) -> Any:
    """One dataset item's label as a Python value (tensors and arrays must hold one number)."""
    if hasattr(label, "shape"):
        arr = _to_numpy(label)
        if arr.size != 1:
            raise ValueError(
                f"{where}: the label must be a single class index, got shape {tuple(arr.shape)} "
                "(one-hot or soft labels: pass their argmax)"
            )
        return arr.reshape(()).item()
    return label


def _label_array(labels: list[Any]) -> np.ndarray:
    """A list of Python labels as one array; mixed types (an int and a str) stay objects."""
    kinds = {type(v) for v in labels}
    if kinds <= {int} or kinds <= {int, float}:
        return np.asarray(labels)
    return np.asarray(labels, dtype=object)


def _class_names(classes: Any) -> list[str]:
    """Class names as a list of str, one per class index; integers are written as text.

    TypeError for a string, mapping or non-sequence in place of the list and for names that are
    not text (None, floats, bytes); ValueError for blank names.
    """
    if isinstance(classes, (str, bytes, Mapping)) or not isinstance(classes, Iterable):
        raise TypeError(
            f"classes must be a list of class names, one per class index, got {type(classes).__name__} "
            f"{classes!r:.80}"
        )
    names = list(classes)
    for i, c in enumerate(names):
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (str, numbers.Integral)):
            raise TypeError(f"classes[{i}] is {c!r} ({type(c).__name__}); class names must be strings")
        if isinstance(c, str) and not c.strip():
            raise ValueError(f"classes[{i}] is {c!r}; class names must not be blank")
    return [str(c) for c in names]


MAX_DEFAULT_CLASSES = 100_000
"""The most classes labels given without names may imply (ImageNet-21k has 21,841): a larger
index is an id, not a class index, and naming 0..max would take the kernel's memory."""


def _default_classes(labels: np.ndarray) -> list[str]:
    """Names ``"0" .. str(max)`` for labels given without class names.

    Refuses negative labels and labels that hold fewer than two classes: a classifier needs at
    least two, and padding one class to two would train on a class that has no images.
    """
    if not len(labels):
        raise ValueError("labels is empty: an ImageSet needs at least one image")
    if (labels < 0).any():
        i = int(np.flatnonzero(labels < 0)[0])
        raise ValueError(f"labels must be non-negative class indices; labels[{i}] is {int(labels[i])}")
    present = np.unique(labels)
    if len(present) < 2:
        raise ValueError(
            f"every label is {int(present[0])}: a classifier needs at least two classes. If the "
            "other classes exist but have no images here, name them all with classes=[...]"
        )
    top = int(present[-1])
    if top >= MAX_DEFAULT_CLASSES:
        i = int(np.flatnonzero(labels == top)[0])
        raise ValueError(
            f"labels[{i}] is {top}: without classes=[...] the labels are class indices 0..max, so this would "
            f"make {top + 1} classes (at most {MAX_DEFAULT_CLASSES} here). Map the labels to 0..K-1 first "
            "(np.unique(labels, return_inverse=True)) or name every class with classes=[...]"
        )
    return [str(i) for i in range(top + 1)]


def _classes_without_images(labels: np.ndarray, classes: Sequence[str]) -> list[str]:
    """Names of the classes no label uses."""
    counts = np.bincount(labels, minlength=len(classes))
    return [classes[c] for c in np.flatnonzero(counts[: len(classes)] == 0)]


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def _image_to_hwc(img: Any, size_wh: tuple[int, int] | None, where: str) -> np.ndarray:
    """One dataset item's image (PIL, tensor or array) → ``[H, W, 3] uint8``."""
    from PIL import Image

    if isinstance(img, Image.Image):
        try:
            pil = _pil_to_rgb(img)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
    else:
        arr = _to_numpy(img)
        if arr.ndim not in (2, 3):
            raise ValueError(f"{where}: an image must have rank 2 or 3, got shape {arr.shape}")
        try:
            arr = to_uint8_nchw(arr[None])[0]
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        pil = Image.fromarray(arr.transpose(1, 2, 0))
    if size_wh is not None:
        pil = pil.resize(size_wh, Image.BILINEAR)
    return np.asarray(pil, dtype=np.uint8)


def _pil_to_rgb(im: Any) -> Any:
    """An RGB copy of a PIL image; 16-bit grey is scaled to 8 bits (PIL's convert clips it at 255)."""
    from PIL import Image

    if im.mode.startswith("I;16"):
        arr = np.asarray(im).astype(np.uint32)
        return Image.fromarray(((arr * 255 + 32767) // 65535).astype(np.uint8)).convert("RGB")
    if im.mode in ("I", "F"):
        raise ValueError(f"32-bit image mode {im.mode!r} is not supported; save the image with 8 or 16 bits")
    return im.convert("RGB")


def _open_image(path: Path, convert: Callable[[Any], Any], size_wh: tuple[int, int] | None,
                resample: int, kind: str = "image") -> np.ndarray:
    """Decode one file as ``convert`` makes it; every error and PIL warning names the path."""
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                im = convert(im)
                if size_wh is not None:
                    im = im.resize(size_wh, resample)
                arr = np.asarray(im, dtype=np.uint8)
        except Image.DecompressionBombError as e:
            raise ValueError(
                f"cannot read {kind} file {path}: {e} If you trust the file, raise "
                "PIL.Image.MAX_IMAGE_PIXELS"
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, EOFError, ValueError) as e:
            raise ValueError(f"cannot read {kind} file {path}: {e}") from None
    for w in caught:  # re-emit outside the block, so the caller's filters apply
        message = f"{path}: {w.message}" if issubclass(w.category, Image.DecompressionBombWarning) else w.message
        warnings.warn(message, w.category, stacklevel=4)
    return arr


def _read_images(files: list[Path], size_wh: tuple[int, int] | None, root: Path) -> list[np.ndarray]:
    """``[H, W, 3] uint8`` per file; one ValueError lists every file that is not a readable image."""
    from PIL import Image

    images, problems = [], []
    for f in files:
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(f"{f}: not an image file name")
            continue
        try:
            images.append(_open_image(f, _pil_to_rgb, size_wh, Image.BILINEAR))
        except ValueError as e:
            problems.append(str(e).removeprefix("cannot read image file "))
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ValueError(
            f"{len(problems)} file(s) under {root} are not readable images (image files end in "
            f"{', '.join(sorted(IMAGE_SUFFIXES))}); remove or fix them:\n  {shown}"
        )
    return images


def _read_mask(mroot: Path, rel: Path, hw: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    candidates = [mroot / rel] + [mroot / rel.with_suffix(s) for s in sorted(IMAGE_SUFFIXES)]
    for c in candidates:
        if c.is_file():
            grey = _open_image(c, lambda im: im.convert("L"), (hw[1], hw[0]), Image.NEAREST, kind="mask")
            return grey > 0
    raise ValueError(f"mask missing for {rel}: looked for {mroot / rel.with_suffix('.*')}")


def _is_junk(path: Path) -> bool:
    """Hidden files and the clutter in ``JUNK_NAMES``: never images, never classes."""
    return path.name.startswith(".") or path.name.lower() in JUNK_NAMES


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not _is_junk(p))


def _stack_same_size(images: list[np.ndarray], names: list[str]) -> np.ndarray:
    """``[N, 3, H, W]`` from ``[H, W, 3]`` images; the ValueError names the images of odd size."""
    sizes = [im.shape[:2] for im in images]
    (h, w), _ = Counter(sizes).most_common(1)[0]
    odd = [f"{n} ({s[0]}x{s[1]})" for n, s in zip(names, sizes, strict=True) if s != (h, w)]
    if odd:
        raise ValueError(
            f"images have different sizes: most are {h}x{w} (height x width) but {len(odd)} differ: "
            f"{_listed(odd)}; pass size=(height, width) to resize them all"
        )
    return np.stack(images).transpose(0, 3, 1, 2)


def _size_wh(size: Any) -> tuple[int, int]:
    """``size`` (one int, or (height, width)) as PIL's (width, height); ValueError/TypeError otherwise."""
    pair = (size, size) if isinstance(size, numbers.Integral) else size
    ok = (
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in pair)
    )
    if not ok:
        raise ValueError(f"size must be a positive int or a (height, width) pair of them, got {size!r}")
    h, w = pair
    return (int(w), int(h))


def _listed(items: Sequence[Any], limit: int = 10) -> str:
    """``a, b, c`` or ``a, b, ... (25 in all)`` for error messages."""
    shown = ", ".join(str(x) for x in items[:limit])
    return shown if len(items) <= limit else f"{shown}, ... ({len(items)} in all)"
