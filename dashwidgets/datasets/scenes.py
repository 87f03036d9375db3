"""``scene-digits``: a Waterbirds-like benchmark at any size, generated lazily per index.

Waterbirds (Sagawa et al. 2020) pastes birds on land or water scenes whose kind correlates with
the bird's class. Here the object is one of scikit-learn's 1,797 handwritten digits (upscaled with
the same affine jitter as the other benchmarks, drawn white with a dark rim so it reads on any
scene) and the scene is a random crop of one of ten natural photographs that scikit-image ships
in its wheel (no download): with probability ``bias`` a train/val image is cut from its own
class's scene, otherwise from a scene drawn uniformly; the test split uses bias 0.

Every image is a pure function of ``(seed, index)``: its split, class, base digit, scene, crop
and jitter come from a counter-based hash (splitmix64) of the pair, never from a running random
stream, so :meth:`SceneDigits.images` renders any subset, in any order, in any batch size,
identically, and a million-image set costs nothing until its images are read. Per-image
metadata (labels, split, bias class) is a few bytes per image and is computed at once.
"""

from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .benchmarks import _base_digits, _split_pools, _warp_digits
from .imageset import SPLITS, ImageSet

SCENES = ("chelsea", "coffee", "astronaut", "rocket", "hubble_deep_field", "retina", "stereo_motorcycle",
          "immunohistochemistry", "grass", "brick")
"""The scikit-image sample images used as scenes, one per class (class k's scene is SCENES[k])."""

SIZES = (32, 64, 128, 224)
"""Image sides offered (pixels)."""

MAX_IMAGES = 10**7
"""Largest set made (the per-image metadata stays a few bytes per image)."""

_SCENE_SIDE = 384  # scenes are resized once to this square before crops are cut from them
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)

# Fields of the per-image hash: each random quantity of an image has its own stream.
_F_SPLIT, _F_DIGIT, _F_KEEP, _F_OTHER, _F_CROP, _F_WARP = 1, 2, 3, 4, 5, 6


def _splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised over uint64 (a bijection with good avalanche)."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return x ^ (x >> np.uint64(31))


def _uniform(seed: int, index: np.ndarray, field: int, k: int = 1) -> np.ndarray:
    """``[len(index), k]`` floats in [0, 1), a pure function of (seed, index, field, column)."""
    with np.errstate(over="ignore"):
        key = _splitmix(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(field))
        base = _splitmix(index.astype(np.uint64)[:, None] ^ key)
        cols = _splitmix(base + np.arange(1, k + 1, dtype=np.uint64)[None, :] * np.uint64(0xD1B54A32D192ED03))
    return (cols >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@lru_cache(maxsize=1)
def _scenes() -> torch.Tensor:
    """The ten scenes as ``[10, 3, S, S] float32`` in [0, 1] (centre-cropped squares, resized)."""
    try:
        from skimage import data
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise ImportError("scene-digits needs scikit-image (pip install scikit-image)") from e
    out = []
    for name in SCENES:
        img = getattr(data, name)()
        img = np.asarray(img[0] if isinstance(img, tuple) else img, dtype=np.float32)  # stereo: the left view
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        img = img[..., :3] / (255.0 if img.max() > 1.0 else 1.0)
        h, w = img.shape[:2]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        t = torch.from_numpy(np.ascontiguousarray(img[top : top + s, left : left + s].transpose(2, 0, 1)))
        out.append(F.interpolate(t[None], size=(_SCENE_SIDE, _SCENE_SIDE), mode="bilinear", antialias=True,
                                 align_corners=False)[0])
    return torch.stack(out).clamp(0, 1)


class SceneDigits:
    """A lazily generated Waterbirds-like benchmark (see the module docstring).

    Parameters
    ----------
    bias : float in [0, 1]
        Probability that a train/val image is cut from its own class's scene (test: 0).
    seed : int
    size : int
        Image side, one of :data:`SIZES`.
    n_train, n_val, n_test : int
        Images per split; indices are ordered train, val, test.

    Attributes
    ----------
    labels, split, bias_class : np.ndarray
        Per-image metadata, ``[N]`` (computed at once, a few bytes per image).
    """

    classes = [str(i) for i in range(10)]

    def __init__(self, bias: float = 0.95, seed: int = 0, size: int = 64, n_train: int = 6000,
                 n_val: int = 1000, n_test: int = 2000):
        if isinstance(bias, bool) or not isinstance(bias, numbers.Real) or not 0.0 <= bias <= 1.0:
            raise ValueError(f"bias must be a number in [0, 1], got {bias!r}")
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {size!r}")
        counts = {"train": n_train, "val": n_val, "test": n_test}
        for split, n in counts.items():
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"n_{split} must be a non-negative integer, got {n!r}")
        total = sum(counts.values())
        if not 0 < total <= MAX_IMAGES:
            raise ValueError(f"n_train + n_val + n_test must be in [1, {MAX_IMAGES:,}], got {total:,}")
        self.bias, self.seed, self.size = float(bias), int(seed), int(size)
        self.counts = {s: int(n) for s, n in counts.items()}
        _, digit_labels = _base_digits()
        self._pools = _split_pools(digit_labels, np.random.default_rng(self.seed))
        split_code = np.repeat(np.arange(3, dtype=np.uint8), [self.counts[s] for s in SPLITS])
        self.split = np.asarray(SPLITS)[split_code]
        self._digit = np.empty(total, np.int64)
        for code, s in enumerate(SPLITS):
            where = np.flatnonzero(split_code == code)
            pool = self._pools[s]
            u = _uniform(self.seed, where, _F_DIGIT)[:, 0]
            self._digit[where] = pool[np.minimum((u * len(pool)).astype(np.int64), len(pool) - 1)]
        self.labels = digit_labels[self._digit]
        idx = np.arange(total)
        p = np.where(split_code == 2, 0.0, self.bias)
        keep = _uniform(self.seed, idx, _F_KEEP)[:, 0] < p
        other = np.minimum((_uniform(self.seed, idx, _F_OTHER)[:, 0] * 10).astype(np.int64), 9)
        self.bias_class = np.where(keep, self.labels, other)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"SceneDigits(bias={self.bias}, seed={self.seed}, size={self.size}, "
                + ", ".join(f"n_{s}={n}" for s, n in self.counts.items()) + ")")

    def _check(self, index) -> np.ndarray:
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        bad = idx[(idx < 0) | (idx >= len(self))]
        if bad.size:
            raise IndexError(f"image indices out of range [0, {len(self)}): {bad[:5].tolist()}")
        return idx

    def render(self, index) -> tuple[np.ndarray, np.ndarray]:
        """Images and object masks of ``index``: ``[B, 3, S, S] uint8`` and ``[B, S, S] bool``
        (the bias region is the background, ``~object``)."""
        idx = self._check(index)
        n, s = len(idx), self.size
        if n == 0:
            return np.zeros((0, 3, s, s), np.uint8), np.zeros((0, s, s), bool)
        digits, _ = _base_digits()
        # The digit: the benchmarks' warp, its jitter drawn from this image's own hash stream.
        w = _uniform(self.seed, idx, _F_WARP, 5)
        ink = torch.from_numpy(_warp_digits(digits[self._digit[idx]], s, 0.5 + 0.2 * w[:, 0], 0.12,
                                            _HashRng(w[:, 1:])))
        # The scene: a crop of 40-80 % of the scene's side at a random place, resized to S.
        c = _uniform(self.seed, idx, _F_CROP, 3)
        side = _SCENE_SIDE * (0.4 + 0.4 * c[:, 0])
        x0, y0 = c[:, 1] * (_SCENE_SIDE - side), c[:, 2] * (_SCENE_SIDE - side)
        theta = np.zeros((n, 2, 3), np.float32)
        theta[:, 0, 0] = theta[:, 1, 1] = side / _SCENE_SIDE
        theta[:, 0, 2] = (x0 + side / 2) / _SCENE_SIDE * 2 - 1
        theta[:, 1, 2] = (y0 + side / 2) / _SCENE_SIDE * 2 - 1
        grid = F.affine_grid(torch.from_numpy(theta), [n, 3, s, s], align_corners=False)
        scenes, kinds = _scenes(), self.bias_class[idx]
        bg = torch.empty((n, 3, s, s))
        for k in np.unique(kinds):  # one sample per scene: its images' grids stacked as one tall grid
            rows = torch.from_numpy(np.flatnonzero(kinds == k))
            tall = grid[rows].reshape(1, len(rows) * s, s, 2)
            out = F.grid_sample(scenes[int(k)][None], tall, mode="bilinear", align_corners=False)
            bg[rows] = out[0].reshape(3, len(rows), s, s).transpose(0, 1)
        # White digit with a dark rim, so it reads on bright and dark scenes alike.
        a = ink[:, None]
        r = max(1, s // 16)  # rim width; a separable max filter (two 1-D passes)
        grown = F.max_pool2d(F.max_pool2d(a, (2 * r + 1, 1), stride=1, padding=(r, 0)), (1, 2 * r + 1), stride=1,
                             padding=(0, r))
        rim = (grown - a).clamp(0, 1)
        img = bg * (1 - rim) * (1 - a) + 0.97 * a
        images = (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
        return images, ink.numpy() > 0.3

    def images(self, index) -> np.ndarray:
        """``[B, 3, S, S] uint8`` images of ``index`` (any order; the same bytes every time)."""
        return self.render(index)[0]

    def to_imageset(self, batch: int = 2048) -> ImageSet:
        """All images rendered into one in-memory :class:`ImageSet`, with the benchmarks'
        ``aligned`` / ``bias_class`` attributes and ``object`` / ``bias`` masks."""
        parts = [self.render(np.arange(i, min(len(self), i + batch))) for i in range(0, len(self), batch)]
        obj = np.concatenate([m for _, m in parts])
        return ImageSet(
            images=np.concatenate([im for im, _ in parts]), labels=self.labels.copy(), split=self.split.copy(),
            classes=self.classes,
            attributes={"aligned": self.bias_class == self.labels, "bias_class": self.bias_class.copy()},
            masks={"object": obj, "bias": ~obj}, name="scene-digits",
            meta={"benchmark": "scene-digits", "bias": self.bias, "seed": self.seed, "size": self.size,
                  **{f"n_{k}": v for k, v in self.counts.items()}},
        )


class _HashRng:
    """The ``uniform`` that :func:`_warp_digits` draws its jitter with, answered from hash columns
    in the order it asks (angle, shear, shift), so the warp stays a function of the index."""

    def __init__(self, cols: np.ndarray):
        self._cols, self._k = cols, 0

    def uniform(self, lo: float, hi: float, shape) -> np.ndarray:
        n = self._cols.shape[0]
        want = int(np.prod(shape)) // n
        u = self._cols[:, self._k : self._k + want]
        self._k += want
        return (lo + (hi - lo) * u).reshape(shape)
