"""Counterfactual probes for :meth:`Engine.report`: edited copies of images that remove one kind
of cue while keeping the object, so a model's accuracy drop on them says which cue it relies on.

Each probe keeps the object's shape (its ground-truth ``object`` mask, or the whole image when a
dataset has none) and changes one thing:

``colour``
    The object's pixels turned to their grey level (ITU-R 601 luma), the rest unchanged: a model
    that reads the object's colour loses its cue; one that reads the shape does not.
``region``
    The compact square (``side`` px) that holds the most attribution mass *outside* the object,
    filled with a neutral colour; the object is never touched: a model that reads a small cue
    beside the object (a patch, a watermark) loses it.
``background``
    Every background pixel except that square filled with the neutral colour: a model that reads
    the background's texture loses it; a compact cue (kept in the square) is not tested twice.

All functions take and return ``uint8 [N, 3, H, W]`` images and ``bool [N, H, W]`` masks; none
reads a dataset's bias labels or bias masks.
"""

from __future__ import annotations

import numpy as np

PROBES = ("colour", "region", "background")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def grey_object(images: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """``images`` with the pixels of ``objects`` replaced by their luma (same in R, G, B)."""
    x = images.astype(np.float32)
    luma = np.einsum("c,nchw->nhw", _LUMA, x)
    out = np.where(objects[:, None], luma[:, None], x)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def neutral_colour(images: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """``float32 [3]``: the mean background colour over all ``images`` (the object excluded):
    no one image's, so no class's, background."""
    bg = ~objects
    n = max(int(bg.sum()), 1)
    return (images.astype(np.float64) * bg[:, None]).sum(axis=(0, 2, 3)).astype(np.float32) / n


def cue_squares(maps: np.ndarray, objects: np.ndarray, side: int) -> np.ndarray:
    """``bool [N, H, W]``: per image the ``side`` x ``side`` square (inside the image) holding
    the most attribution mass of ``maps [N, H, W]`` outside the object, minus the object's
    pixels. Mass over a window, not the single largest pixel: a coarse map (Grad-CAM's) peaks
    near a cue, not always on it."""
    n, h, w = maps.shape
    side = int(min(side, h, w))
    m = np.where(objects, 0.0, np.maximum(maps.astype(np.float64), 0.0))
    c = np.zeros((n, h + 1, w + 1))
    c[:, 1:, 1:] = m.cumsum(1).cumsum(2)
    win = c[:, side:, side:] - c[:, :-side, side:] - c[:, side:, :-side] + c[:, :-side, :-side]
    y0, x0 = np.divmod(win.reshape(n, -1).argmax(axis=1), win.shape[2])
    yy = np.arange(h)[None, :, None]
    xx = np.arange(w)[None, None, :]
    sq = ((yy >= y0[:, None, None]) & (yy < (y0 + side)[:, None, None])
          & (xx >= x0[:, None, None]) & (xx < (x0 + side)[:, None, None]))
    return sq & ~objects


def fill(images: np.ndarray, where: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``images`` with the pixels of ``where [N, H, W]`` set to ``colour [3]``."""
    c = np.clip(np.asarray(colour, dtype=np.float32) + 0.5, 0, 255).astype(np.uint8)
    return np.where(where[:, None], c[None, :, None, None], images).astype(np.uint8)


def probe_images(images: np.ndarray, objects: np.ndarray, maps: np.ndarray, side: int,
                 neutral: np.ndarray) -> dict[str, np.ndarray]:
    """The three probes of ``images`` (see the module docstring): ``{"colour", "region",
    "background"} -> uint8 [N, 3, H, W]``. ``maps``: attribution maps of the model's prediction."""
    square = cue_squares(maps, objects, side)
    return {
        "colour": grey_object(images, objects),
        "region": fill(images, square, neutral),
        "background": fill(images, ~objects & ~square, neutral),
    }
