"""One image snapshot per engine: every view's thumbnails travel once, as one compressed atlas.

A page exported without a kernel (``dashwidgets export NOTEBOOK --html OUT``) keeps only what the
views synced. So that the gallery can page through a lasso's images and the projection can draw
its zoomed-in thumbnails there, the views of one :class:`Engine` share an :class:`ImageSnapshot`:
a widget model without a view that holds the thumbnails of the dataset's images as one WebP
sprite atlas, plus per version the small per-image arrays the gallery filters and sorts on.

Size against detail (the trade-off the image budget sets)
---------------------------------------------------------
The atlas must fit the image budget, ``DASHWIDGETS_IMAGE_BUDGET_MB`` (read when a view is made;
the exporter sets it) or :func:`set_image_budget` (wins over the variable), default
:data:`DEFAULT_BUDGET_MB`. The snapshot takes the largest thumbnail cell of :data:`CELLS` (not
above the images' own side) whose atlas fits; when even :data:`MIN_CELL` px thumbnails of every
image do not fit, it keeps an evenly spaced subsample of the images (``indices``) and the views
say which images have no thumbnail. A bigger budget buys sharper thumbnails and more images, a
smaller one a lighter page; 0 turns the snapshot off (the views then need the kernel for images).
An exported page carries the atlas base64-encoded (4/3 of its bytes).

Format, measured on colored-digits (9000 images, 32 px cells, Pillow 13, Chromium's
``createImageBitmap``): PNG 19.4 MB (320 ms to decode), JPEG q85 2.9 MB (104 ms), WebP q80
1.7 MB (400 ms, mean abs. error 4.4 / 255 against JPEG's 4.8). WebP is chosen: the page's size
is the hard limit, and the decode happens once per page. Cells are multiples of 8 so codec
blocks do not straddle two images much; WebP's 16383 px side limit and the browser's memory
bound the atlas at :data:`MAX_PIXELS` decoded pixels.
"""

from __future__ import annotations

import io
import math
import os
import weakref
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from ..engine.engine import Engine
from ._atlas import thumbnails
from ._codec import Array

ENV = "DASHWIDGETS_IMAGE_BUDGET_MB"
"""Environment variable: the image budget in MB (decimal), read when a view is made."""
DEFAULT_BUDGET_MB = 4.0
"""float: default budget; the executed quickstart's 9000 images fit at 32 px in about 1.8 MB."""
CELLS = (64, 48, 32, 24, 16)
"""Thumbnail cell sizes tried, largest first (never above the images' own side)."""
MIN_CELL = 16
"""int: smallest cell; below it the snapshot keeps fewer images instead of smaller ones."""
MAX_PIXELS = 1 << 25
"""int: most decoded atlas pixels (128 MB as RGBA in the browser; a side of at most 5793 px)."""
QUALITY = 80
"""int: WebP quality."""
_SAMPLE = 256
"""Images encoded to estimate each cell's bytes per image."""
_VERSION_BYTES = 11
"""Bytes per image and version of the per-version arrays (pred 2, confidence 4, loss 4, correct 1)."""
_RESERVED_VERSIONS = 4
"""Versions whose arrays the budget reserves room for."""

_budget_mb: float | None = None
_snapshots: weakref.WeakKeyDictionary[Engine, ImageSnapshot] = weakref.WeakKeyDictionary()


def set_image_budget(mb: float | None) -> None:
    """Set the size budget, in MB, of the image snapshot views made from now on carry (see the
    module docstring for the trade-off); 0 turns it off, None goes back to the environment
    variable ``DASHWIDGETS_IMAGE_BUDGET_MB`` or the default."""
    global _budget_mb
    if mb is not None:
        mb = _check_budget(mb, "set_image_budget(mb)")
    _budget_mb = mb


def _check_budget(value: Any, what: str) -> float:
    try:
        mb = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number of megabytes, got {value!r}") from None
    if not math.isfinite(mb) or mb < 0:
        raise ValueError(f"{what} must be a finite number of megabytes >= 0, got {value!r}")
    return mb


def image_budget() -> float:
    """The image budget in MB now: :func:`set_image_budget`'s, else ``DASHWIDGETS_IMAGE_BUDGET_MB``'s,
    else :data:`DEFAULT_BUDGET_MB`."""
    if _budget_mb is not None:
        return _budget_mb
    raw = os.environ.get(ENV, "").strip()
    return _check_budget(raw, f"the environment variable {ENV}") if raw else DEFAULT_BUDGET_MB


def _webp(sheet: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, format="WEBP", quality=QUALITY, method=4)
    return buf.getvalue()


def _sheet(thumbs: np.ndarray, cols: int) -> np.ndarray:
    """``[M, s, s, 3]`` thumbnails as one ``[rows*s, cols*s, 3]`` grid, cell k at (k % cols, k // cols)."""
    m, s = len(thumbs), thumbs.shape[1]
    rows = max(1, math.ceil(m / cols))
    padded = np.zeros((rows * cols, s, s, 3), np.uint8)
    padded[:m] = thumbs
    return np.ascontiguousarray(padded.reshape(rows, cols, s, s, 3).transpose(0, 2, 1, 3, 4).reshape(rows * s, cols * s, 3))


def encode_atlas(images: np.ndarray, cell: int) -> tuple[bytes, int]:
    """``[M, 3, H, W] uint8`` as one WebP atlas of ``cell`` px cells: (bytes, columns)."""
    cols = max(1, math.ceil(math.sqrt(len(images))))
    return _webp(_sheet(thumbnails(images, cell), cols)), cols


def plan(images: np.ndarray, budget_bytes: int) -> tuple[int, np.ndarray]:
    """The cell size and the images (sorted ``[M] int64`` indices) a snapshot of ``images``
    (``[N, 3, H, W] uint8``, a memory map is fine: only a sample and the kept images are read)
    keeps within ``budget_bytes``: the largest cell of :data:`CELLS` at which all images fit
    (estimated from :data:`_SAMPLE` evenly spaced images, with 10 % margin), else
    :data:`MIN_CELL` px for an evenly spaced subsample. ``M`` may be 0."""
    n = len(images)
    side = max(images.shape[2], images.shape[3]) if n else MIN_CELL
    if side < MIN_CELL:
        cells = [int(side)]
    else:
        cells = sorted({min(int(side), CELLS[0])} | {c for c in CELLS if c <= side}, reverse=True)
    sample = np.unique(np.linspace(0, n - 1, min(n, _SAMPLE)).round().astype(np.int64)) if n else np.zeros(0, np.int64)
    per_image = {}
    for cell in cells:
        atlas, _ = encode_atlas(images[sample], cell) if len(sample) else (b"", 1)
        per_image[cell] = 1.1 * len(atlas) / max(1, len(sample)) + 4 + 3 + _VERSION_BYTES * _RESERVED_VERSIONS
        fits_pixels = n * cell * cell <= MAX_PIXELS
        if fits_pixels and per_image[cell] * n <= budget_bytes:
            return cell, np.arange(n, dtype=np.int64)
    cell = cells[-1]
    m = int(min(n, budget_bytes // per_image[cell], MAX_PIXELS // (cell * cell))) if n else 0
    keep = np.unique(np.linspace(0, n - 1, m).round().astype(np.int64)) if m > 0 else np.zeros(0, np.int64)
    return cell, keep


class ImageSnapshot(ipywidgets.Widget):
    """The thumbnails and per-image facts one engine's views share, so they render without a kernel.

    A widget model without a view (``@jupyter-widgets/base``'s ``WidgetModel``): views point at it
    with a widget-reference trait, and a page shows it once however many views use it. Make it
    with :func:`snapshot_for`; :meth:`add_version` adds a version's arrays when a view shows it.

    Cell ``k`` of ``atlas`` is image ``indices[k]``, at column ``k % cols``, row ``k // cols``.
    """

    atlas = traitlets.Bytes(b"").tag(sync=True)
    """bytes: WebP sprite atlas (``cell`` px cells, ``cols`` a row); empty when nothing fits."""
    mime = traitlets.Unicode("image/webp").tag(sync=True)
    """str: MIME type of ``atlas``."""
    cell = traitlets.Int(MIN_CELL).tag(sync=True)
    """int: atlas cell size in pixels."""
    cols = traitlets.Int(1).tag(sync=True)
    """int: atlas columns."""
    n_images = traitlets.Int(0).tag(sync=True)
    """int: images in the dataset (``indices`` may hold fewer: the others have no thumbnail)."""
    indices = Array("int32").tag(sync=True)
    """ndarray: int32 [M] dataset indices of the images kept, ascending (all when M = n_images)."""
    label = Array("uint16").tag(sync=True)
    """ndarray: uint16 [M] true class of each kept image."""
    split_code = Array("uint8").tag(sync=True)
    """ndarray: uint8 [M] split of each kept image (0 train, 1 val, 2 test)."""
    classes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: class names."""
    versions = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: ids of the versions whose arrays are held (row v of the arrays below)."""
    pred = Array("uint16", (None, None)).tag(sync=True)
    """ndarray: uint16 [V, M] predicted class per version."""
    confidence = Array("float32", (None, None)).tag(sync=True)
    """ndarray: float32 [V, M] probability of the predicted class."""
    loss = Array("float32", (None, None)).tag(sync=True)
    """ndarray: float32 [V, M] per-image cross-entropy."""
    correct = Array("uint8", (None, None)).tag(sync=True)
    """ndarray: uint8 [V, M] 1 when the prediction is right."""
    budget_mb = traitlets.Float(DEFAULT_BUDGET_MB).tag(sync=True)
    """float: the budget the snapshot was made for."""

    def __init__(self, engine: Engine, budget_mb: float):
        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a dashwidgets Engine, got {type(engine).__name__}")
        budget_mb = _check_budget(budget_mb, "budget_mb")
        ds = engine.dataset
        cell, keep = plan(ds.images, int(budget_mb * 1e6))
        atlas, cols = encode_atlas(ds.images[keep], cell) if len(keep) else (b"", 1)
        super().__init__(
            atlas=atlas, cell=cell, cols=cols, n_images=len(ds), indices=keep, label=np.asarray(ds.labels)[keep],
            split_code=ds.split_codes()[keep], classes=list(ds.classes), budget_mb=budget_mb,
        )
        self._engine = engine

    @property
    def nbytes(self) -> int:
        """Bytes the snapshot puts on the wire: atlas plus arrays."""
        arrays = (self.indices, self.label, self.split_code, self.pred, self.confidence, self.loss, self.correct)
        return len(self.atlas) + sum(a.nbytes for a in arrays)

    def add_version(self, version: str) -> None:
        """Hold ``version``'s pred / confidence / loss / correct for the kept images (once)."""
        vid = self._engine.version(version).id
        if vid in self.versions:
            return
        ev = self._engine.evaluate(vid)
        keep = self.indices.astype(np.int64)
        rows = [(self.pred, ev.pred), (self.confidence, ev.confidence), (self.loss, ev.loss), (self.correct, ev.correct)]
        new = [np.concatenate([old.reshape(-1, len(keep)), np.asarray(v)[keep][None].astype(old.dtype)]) for old, v in rows]
        with self.hold_sync():
            self.pred, self.confidence, self.loss, self.correct = new
            self.versions = [*self.versions, vid]


def _usable(snap: ImageSnapshot | None, budget: float) -> bool:
    return snap is not None and snap.budget_mb == budget and snap.comm is not None


def snapshot_ready(engine: Engine) -> bool:
    """Whether :func:`snapshot_for` would answer at once (nothing to encode): the engine's
    snapshot for the current budget exists, or the budget is 0."""
    budget = image_budget()
    return budget == 0 or _usable(_snapshots.get(engine), budget)


def snapshot_for(engine: Engine) -> ImageSnapshot | None:
    """The engine's shared :class:`ImageSnapshot` for the current :func:`image_budget` (made on
    first use, remade when the budget changed); None when the budget is 0."""
    budget = image_budget()
    if budget == 0:
        return None
    snap = _snapshots.get(engine)
    if not _usable(snap, budget):
        snap = ImageSnapshot(engine, budget)
        _snapshots[engine] = snap
    return snap
