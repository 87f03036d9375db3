"""Embedded biased benchmarks with ground-truth masks, generated offline in seconds.

Every benchmark starts from scikit-learn's 1,797 real handwritten digits (8x8, shipped with
scikit-learn), upscaled to ``size`` pixels with a random affine jitter (rotation, scale, shift,
shear) so no two samples are identical, and adds one spurious feature whose kind is correlated with
the class — the construction of Schaaf et al., "Towards Measuring Bias in Image Classification"
(object bias: a ball beside the cat; background bias: apples on apple-tree backgrounds):

``colored-digits``
    Colour bias: the digit's strokes are painted in a class-correlated colour on black.
    The bias region *is* the object region (the colour lives on the strokes), so
    ``masks["bias"] == masks["object"]`` for this benchmark.
``texture-digits``
    Background bias: a white digit over a class-correlated procedural texture (stripes,
    checkerboard, rings, ...). ``masks["bias"]`` is the background (everything but the digit).
``patch-digits``
    Object bias: a small coloured shape beside the digit, never overlapping it, whose kind is
    correlated with the class. ``masks["bias"]`` is the shape's bounding box.

With probability ``bias`` a train/val image carries its own class's spurious feature, otherwise one
drawn uniformly from all classes (so it may still match by chance). The test split is always drawn
with bias 0: it is the unbiased reference. ``attributes["bias_class"]`` records whose feature an
image carries and ``attributes["aligned"]`` whether that is its own class.

The base digits are partitioned into disjoint pools per split (60 % / 15 % / 25 %), so test images
are written by other hands than training images. Same arguments, same bytes.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .imageset import ImageSet

BENCHMARKS = ("colored-digits", "texture-digits", "patch-digits")
"""The digit benchmarks the papers' replication claims are checked on."""
SCALE_BENCHMARKS = ("scene-digits",)
"""Benchmarks for scale (any size, rendered lazily per index: :mod:`dashwidgets.datasets.scenes`)."""

# Ten well-separated colours (the tab10 palette), one per spurious-feature kind.
PALETTE = np.array(
    [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ],
    dtype=np.float32,
) / 255.0

_POOL_FRACTIONS = {"train": 0.60, "val": 0.15, "test": 0.25}
_CHUNK = 1024


def load(
    name: str,
    bias: float = 0.99,
    seed: int = 0,
    size: int = 32,
    n_train: int = 6000,
    n_val: int = 1000,
    n_test: int = 2000,
) -> ImageSet:
    """Generate an embedded biased benchmark.

    Parameters
    ----------
    name : {"colored-digits", "texture-digits", "patch-digits", "scene-digits"}
        ``"scene-digits"`` (Waterbirds-like: digits on natural scenes) takes ``size`` 32, 64, 128
        or 224 and renders through :class:`~dashwidgets.datasets.scenes.SceneDigits`, whose
        images can also be read lazily without this call.
    bias : float in [0, 1]
        Probability that a train/val image carries its own class's spurious feature. The test
        split always uses bias 0.
    seed : int
        Seeds every random choice; the same arguments give the same bytes.
    size : int
        Image side in pixels (16 to 512).
    n_train, n_val, n_test : int
        Number of images per split.

    Returns
    -------
    ImageSet
        ``images [N, 3, size, size] uint8`` with ``attributes`` ``"aligned"``, ``"bias_class"`` and
        ``masks`` ``"object"``, ``"bias"``, ordered train, then val, then test.
    """
    if name in SCALE_BENCHMARKS:
        from .scenes import SceneDigits

        return SceneDigits(bias=bias, seed=seed, size=size, n_train=n_train, n_val=n_val, n_test=n_test).to_imageset()
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {BENCHMARKS + SCALE_BENCHMARKS}")
    if isinstance(bias, bool) or not isinstance(bias, numbers.Real) or not 0.0 <= bias <= 1.0:
        raise ValueError(f"bias must be a number in [0, 1], got {bias!r}")
    if not isinstance(size, (int, np.integer)) or not 16 <= size <= 512:
        raise ValueError(f"size must be an integer in [16, 512], got {size!r}")
    counts = {"train": n_train, "val": n_val, "test": n_test}
    for split, n in counts.items():
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n_{split} must be a non-negative integer, got {n!r}")
    if sum(counts.values()) == 0:
        raise ValueError("n_train + n_val + n_test must be positive")

    rng = np.random.default_rng(seed)
    digits, digit_labels = _base_digits()
    pools = _split_pools(digit_labels, rng)

    images, labels, splits, bias_class, obj_masks, bias_masks = [], [], [], [], [], []
    for split, n in counts.items():
        if n == 0:
            continue
        pool = pools[split]
        base = pool[rng.integers(0, len(pool), size=n)]
        y = digit_labels[base]
        p = bias if split != "test" else 0.0
        keep = rng.random(n) < p
        b = np.where(keep, y, rng.integers(0, 10, size=n))
        for start in range(0, n, _CHUNK):
            sl = slice(start, min(n, start + _CHUNK))
            img, om, bm = _render(name, digits[base[sl]], b[sl], size, rng)
            images.append(img)
            obj_masks.append(om)
            bias_masks.append(bm)
        labels.append(y)
        bias_class.append(b)
        splits.append(np.full(n, split, dtype="U5"))

    labels_arr = np.concatenate(labels).astype(np.int64)
    bias_arr = np.concatenate(bias_class).astype(np.int64)
    return ImageSet(
        images=np.concatenate(images),
        labels=labels_arr,
        split=np.concatenate(splits),
        classes=[str(i) for i in range(10)],
        attributes={"aligned": bias_arr == labels_arr, "bias_class": bias_arr},
        masks={"object": np.concatenate(obj_masks), "bias": np.concatenate(bias_masks)},
        name=name,
        meta={
            "benchmark": name,
            "bias": float(bias),
            "seed": int(seed),
            "size": int(size),
            "n_train": int(n_train),
            "n_val": int(n_val),
            "n_test": int(n_test),
        },
    )


# ---------------------------------------------------------------------- sources
@lru_cache(maxsize=1)
def _base_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits as float32 intensities in [0, 1], and their labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


def _split_pools(labels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Disjoint, class-stratified pools of base-digit indices per split."""
    pools: dict[str, list[np.ndarray]] = {s: [] for s in _POOL_FRACTIONS}
    for c in range(10):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_train = int(round(len(members) * _POOL_FRACTIONS["train"]))
        n_val = int(round(len(members) * _POOL_FRACTIONS["val"]))
        pools["train"].append(members[:n_train])
        pools["val"].append(members[n_train : n_train + n_val])
        pools["test"].append(members[n_train + n_val :])
    return {s: np.concatenate(v) for s, v in pools.items()}


# ---------------------------------------------------------------------- rendering
def _render(
    name: str, base: np.ndarray, bias_class: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one chunk: ``images [n,3,S,S] uint8``, ``object [n,S,S]``, ``bias [n,S,S]`` bool."""
    n = len(base)
    if name == "patch-digits":
        # Leave room in the corners for the spurious object.
        scale, shift = rng.uniform(0.56, 0.64, n), 0.06
    else:
        scale, shift = rng.uniform(0.78, 0.9, n), 0.08
    ink = _warp_digits(base, size, scale, shift, rng)  # [n,S,S] in [0,1]
    obj = ink > 0.3
    noise = rng.normal(0.0, 0.02, size=(n, 3, size, size)).astype(np.float32)

    if name == "colored-digits":
        colour = PALETTE[bias_class] * rng.uniform(0.85, 1.0, size=(n, 1)).astype(np.float32)
        img = ink[:, None] * colour[:, :, None, None]
        bias_mask = obj.copy()
    elif name == "texture-digits":
        bg = _textures(bias_class, size, rng)  # [n,3,S,S]
        a = ink[:, None]
        img = bg * (1.0 - a) + 0.95 * a
        bias_mask = ~obj
    else:  # patch-digits
        img = np.repeat(ink[:, None] * 0.95, 3, axis=1)
        img, bias_mask, obj = _add_patches(img, obj, bias_class, size, rng)
    img = np.clip(img + noise, 0.0, 1.0)
    return (img * 255.0 + 0.5).astype(np.uint8), obj, bias_mask


def _warp_digits(
    base: np.ndarray, size: int, scale: np.ndarray, shift: float, rng: np.random.Generator
) -> np.ndarray:
    """Upscale 8x8 digits to ``size`` with a random affine jitter, batched with grid_sample."""
    n = len(base)
    angle = np.deg2rad(rng.uniform(-12, 12, n))
    shear = rng.uniform(-0.15, 0.15, n)
    t = rng.uniform(-shift, shift, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    # theta maps output coordinates to input coordinates: x_in = A (x_out - t) / scale
    a = np.stack(
        [np.stack([cos, -sin + shear], -1), np.stack([sin, cos], -1)], axis=1
    ) / scale[:, None, None]
    b = -np.einsum("nij,nj->ni", a, t)
    theta = torch.from_numpy(np.concatenate([a, b[:, :, None]], axis=2).astype(np.float32))
    src = torch.from_numpy(np.ascontiguousarray(base))[:, None]
    # Pad the 8x8 source so bilinear sampling fades to zero at the digit's border.
    src = F.pad(src, (1, 1, 1, 1))
    theta[:, :, :2] *= 8.0 / 10.0  # keep the digit's scale after padding
    theta[:, :, 2] *= 8.0 / 10.0
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    ink = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    ink = ink[:, 0].numpy()
    # Sharpen the blurry upscaled strokes with a smoothstep around mid intensity.
    x = np.clip((ink - 0.15) / 0.5, 0.0, 1.0)
    return (x * x * (3.0 - 2.0 * x)).astype(np.float32)


def _textures(kinds: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Ten procedural background textures with a random phase per image: ``[n,3,S,S]``."""
    n = len(kinds)
    yy, xx = np.meshgrid(np.linspace(0, 1, size, endpoint=False), np.linspace(0, 1, size, endpoint=False), indexing="ij")
    yy = yy[None].astype(np.float32)
    xx = xx[None].astype(np.float32)
    phase = rng.uniform(0, 1, (n, 1, 1)).astype(np.float32)
    freq = rng.uniform(4.5, 5.5, (n, 1, 1)).astype(np.float32)
    centre = rng.uniform(0.2, 0.8, (n, 2, 1, 1)).astype(np.float32)
    blobs = _smooth_noise(n, size, rng)
    two_pi = 2 * math.pi
    out = np.empty((n, size, size), np.float32)
    for k in range(10):
        m = kinds == k
        if not m.any():
            continue
        f, p = freq[m], phase[m]
        if k == 0:  # horizontal stripes
            t = 0.5 + 0.5 * np.sin(two_pi * (yy * f + p))
        elif k == 1:  # vertical stripes
            t = 0.5 + 0.5 * np.sin(two_pi * (xx * f + p))
        elif k == 2:  # diagonal stripes
            t = 0.5 + 0.5 * np.sin(two_pi * ((xx + yy) * f * 0.7 + p))
        elif k == 3:  # anti-diagonal stripes
            t = 0.5 + 0.5 * np.sin(two_pi * ((xx - yy) * f * 0.7 + p))
        elif k == 4:  # checkerboard
            t = (np.sin(two_pi * (xx * f * 0.5 + p)) * np.sin(two_pi * (yy * f * 0.5 + p)) > 0)
            t = t.astype(np.float32)
        elif k == 5:  # dots
            d = np.sin(two_pi * (xx * f + p)) * np.sin(two_pi * (yy * f + p))
            t = (d > 0.5).astype(np.float32)
        elif k == 6:  # rings around a random centre
            c = centre[m]
            r = np.sqrt((xx - c[:, 0]) ** 2 + (yy - c[:, 1]) ** 2)
            t = 0.5 + 0.5 * np.sin(two_pi * (r * f * 1.2 + p))
        elif k == 7:  # cross-hatch of thin lines
            h = np.abs(np.sin(math.pi * (yy * f + p))) < 0.3
            v = np.abs(np.sin(math.pi * (xx * f + p))) < 0.3
            t = (h | v).astype(np.float32)
        elif k == 8:  # waves
            t = 0.5 + 0.5 * np.sin(two_pi * (yy * f + 0.12 * np.sin(two_pi * xx * 2) + p))
        else:  # smooth random blotches
            t = blobs[m]
        out[m] = t
    tint = 0.35 + 0.65 * PALETTE[kinds]  # [n,3]: pale class-specific tint
    return (0.08 + 0.5 * out[:, None]) * tint[:, :, None, None]


def _smooth_noise(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    coarse = torch.from_numpy(rng.random((n, 1, 6, 6)).astype(np.float32))
    fine = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[:, 0]
    fine = fine.numpy()
    return (fine > 0.5).astype(np.float32) * 0.8 + 0.1


def _shape_masks(p: int) -> np.ndarray:
    """Ten small binary shapes ``[10, p, p]`` (square, disk, triangle, plus, x, ring, ...)."""
    c = (p - 1) / 2.0
    y, x = np.mgrid[0:p, 0:p].astype(np.float32)
    r = np.sqrt((x - c) ** 2 + (y - c) ** 2)
    w = max(1.0, p / 6.0)
    shapes = [
        np.ones((p, p), bool),  # square
        r <= c + 0.3,  # disk
        (y >= 0) & (np.abs(x - c) <= (y + 1) / 2.0),  # triangle
        (np.abs(x - c) <= w) | (np.abs(y - c) <= w),  # plus
        (np.abs(x - y) <= w) | (np.abs(x + y - (p - 1)) <= w),  # x
        (r <= c + 0.3) & (r >= c - w - 0.5),  # ring
        (np.abs(x - c) + np.abs(y - c)) <= c + 0.3,  # diamond
        (np.abs(y - c) >= c - w - 0.5) & (np.abs(y - c) <= c + 0.5) | (np.abs(y - c) < 0.6),  # bars
        (np.abs(x - c) <= w) | (y <= w - 0.5),  # T
        (x <= w - 0.5) | (y >= p - w - 0.5),  # L
    ]
    return np.stack(shapes).astype(bool)


def _add_patches(
    img: np.ndarray, obj: np.ndarray, kinds: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paint a class-correlated coloured shape beside each digit, never on it."""
    n = len(kinds)
    p = max(5, int(round(size * 0.22)))
    shapes = _shape_masks(p)
    margin = max(1, size // 32)
    lo, hi = margin, size - p - margin
    corners = [(lo, lo), (lo, hi), (hi, lo), (hi, hi)]
    bias_mask = np.zeros((n, size, size), bool)
    # Dilate the digit by one pixel so the patch never touches the strokes.
    grown = obj.copy()
    grown[:, 1:] |= obj[:, :-1]
    grown[:, :-1] |= obj[:, 1:]
    grown[:, :, 1:] |= obj[:, :, :-1]
    grown[:, :, :-1] |= obj[:, :, 1:]
    jitter = rng.integers(-margin, margin + 1, size=(n, 2))
    order = np.argsort(rng.random((n, 4)), axis=1)
    for i in range(n):
        best, best_overlap = None, None
        for j in order[i]:
            y0 = int(np.clip(corners[j][0] + jitter[i, 0], 0, size - p))
            x0 = int(np.clip(corners[j][1] + jitter[i, 1], 0, size - p))
            overlap = int(grown[i, y0 : y0 + p, x0 : x0 + p].sum())
            if best_overlap is None or overlap < best_overlap:
                best, best_overlap = (y0, x0), overlap
            if overlap == 0:
                break
        y0, x0 = best
        shape = shapes[kinds[i]]
        region = img[i, :, y0 : y0 + p, x0 : x0 + p]
        region[:, shape] = PALETTE[kinds[i]][:, None]
        bias_mask[i, y0 : y0 + p, x0 : x0 + p] = True
        # In the rare case the jittered digit reaches a corner, the patch covers it there.
        obj[i, y0 : y0 + p, x0 : x0 + p] &= ~shape
    return img, bias_mask, obj
