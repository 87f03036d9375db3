"""Classical augmentations toward a style, all on ``uint8 [N, 3, H, W]`` images, batched.

Each takes the source images and, where it needs one, a *style pool*: images of the target
cluster, one of which is drawn per source image (seeded). Foreground masks come from the
dataset's ground-truth ``object`` masks or from attribution maps.

``color``       Reinhard-style colour-statistics transfer (per-channel mean and standard deviation)
                of the foreground toward a style image's foreground.
``background``  the source's foreground pasted onto a style image's background (its own object
                filled in from shifted copies of its background, so no second object remains).
``mask``        the most relevant regions (pixels above the ``quantile`` of a relevance map) greyed out
``noise``       or given additive Gaussian noise (sigma 0.5 on the 0..1 pixel scale), as in
                "Mitigating bias with region attribution".
"""

from __future__ import annotations

import numbers

import numpy as np

_SHIFTS = [(dy, dx) for r in (3, 5, 8, 11, 14) for dy, dx in ((0, r), (r, 0), (0, -r), (-r, 0), (r, r), (-r, -r), (r, -r), (-r, r))]


def _as_float(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def _pick(pool_size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if pool_size == 0:
        raise ValueError("the style cluster has no images")
    return rng.integers(0, pool_size, size=n)


def color_transfer(
    src: np.ndarray,
    src_fg: np.ndarray,
    style: np.ndarray,
    style_fg: np.ndarray,
    rng: np.random.Generator,
    strength: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Move each source foreground's per-channel mean and std to those of a style image's
    foreground. ``*_fg``: bool ``[N, H, W]`` (all True to use whole images). Returns (images,
    chosen style rows)."""
    pick = _pick(len(style), len(src), rng)
    x = _as_float(src)
    t = _as_float(style[pick])
    sm, tm = src_fg[:, None].astype(np.float32), style_fg[pick][:, None].astype(np.float32)
    ns, nt = sm.sum(axis=(2, 3), keepdims=True).clip(1), tm.sum(axis=(2, 3), keepdims=True).clip(1)
    mu_s = (x * sm).sum(axis=(2, 3), keepdims=True) / ns
    mu_t = (t * tm).sum(axis=(2, 3), keepdims=True) / nt
    sd_s = np.sqrt((((x - mu_s) ** 2) * sm).sum(axis=(2, 3), keepdims=True) / ns) + 1e-3
    sd_t = np.sqrt((((t - mu_t) ** 2) * tm).sum(axis=(2, 3), keepdims=True) / nt) + 1e-3
    moved = (x - mu_s) / sd_s * sd_t + mu_t
    out = np.where(sm > 0, x + strength * (moved - x), x)
    return _to_uint8(out), pick


def fill_object(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill ``hole`` (bool [H, W]) of ``img`` ([3, H, W] float) with pixels of shifted copies of
    its own non-hole pixels (textures repeat), then with the mean background colour."""
    out = img.copy()
    todo = hole.copy()
    for dy, dx in _SHIFTS:
        if not todo.any():
            break
        shifted = np.roll(img, (dy, dx), axis=(1, 2))
        ok = np.roll(~hole, (dy, dx), axis=(0, 1)) & todo
        out[:, ok] = shifted[:, ok]
        todo &= ~ok
    if todo.any():
        bg = img[:, ~hole].mean(axis=1) if (~hole).any() else np.zeros(img.shape[0], img.dtype)
        out[:, todo] = bg[:, None]
    return out


def background_swap(
    src: np.ndarray,
    src_fg: np.ndarray,
    style: np.ndarray,
    style_fg: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste each source foreground onto a style image's background. Returns (images, rows)."""
    pick = _pick(len(style), len(src), rng)
    x = _as_float(src)
    out = np.empty_like(x)
    for i, j in enumerate(pick):  # per image: hole filling depends on each mask's shape
        bg = fill_object(_as_float(style[j]), style_fg[j])
        out[i] = np.where(src_fg[i][None], x[i], bg)
    return _to_uint8(out), pick


QUANTILE = 0.7
"""The default map quantile: pixels above each map's 0.7 quantile (its top 30 %) are changed, the
paper's "Quantile 0.70" (De Coninck et al., Table 1)."""


def check_quantile(quantile) -> float:
    """``quantile`` (the map quantile above which pixels are changed; 0.7 changes the top 30 %) as
    a float strictly between 0 and 1; a ValueError names it."""
    if isinstance(quantile, bool) or not isinstance(quantile, numbers.Real) or not 0 < quantile < 1:
        raise ValueError("quantile (the map quantile above which pixels are changed: 0.7 changes the top 30 %) "
                         f"must be a number strictly between 0 and 1, got {quantile!r}")
    return float(quantile)


def top_regions(relevance: np.ndarray, quantile: float = QUANTILE) -> np.ndarray:
    """bool ``[N, H, W]``: the pixels of each image at or above its map's ``quantile`` (by absolute
    relevance), i.e. about the top ``1 - quantile`` share."""
    quantile = check_quantile(quantile)
    r = np.abs(np.asarray(relevance, dtype=np.float32))
    thr = np.quantile(r.reshape(len(r), -1), quantile, axis=1)[:, None, None]
    return r >= thr


def targeted(
    src: np.ndarray,
    regions: np.ndarray,
    mode: str,
    rng: np.random.Generator,
    sigma: float = 0.5,
    grey: float = 0.5,
) -> np.ndarray:
    """Grey out (``mode="mask"``) or add N(0, sigma) noise (``"noise"``) inside ``regions``."""
    x = _as_float(src)
    m = regions[:, None]
    if mode == "mask":
        out = np.where(m, np.float32(grey), x)
    elif mode == "noise":
        out = np.where(m, x + rng.normal(0.0, sigma, size=x.shape).astype(np.float32), x)
    else:
        raise ValueError(f"mode must be 'mask' or 'noise', got {mode!r}")
    return _to_uint8(out)
