"""Thumbnails for the browser: one PNG sprite atlas per request."""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F


def thumbnails(images: np.ndarray, size: int) -> np.ndarray:
    """``[N, 3, H, W] uint8`` → ``[N, size, size, 3] uint8`` (antialiased, aspect kept by padding)."""
    n, _, h, w = images.shape
    if n == 0:
        return np.zeros((0, size, size, 3), np.uint8)
    if h == size and w == size:
        return np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    x = torch.from_numpy(images).float()
    scale = size / max(h, w)
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    x = F.interpolate(x, size=(th, tw), mode="bilinear", antialias=scale < 1, align_corners=False)
    out = torch.zeros((n, 3, size, size))
    top, left = (size - th) // 2, (size - tw) // 2
    out[:, :, top : top + th, left : left + tw] = x
    return out.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def atlas_png(images: np.ndarray, size: int) -> tuple[bytes, int]:
    """Pack ``[N, 3, H, W] uint8`` images as a grid of ``size`` px cells; returns (PNG bytes, columns).

    Cell ``k`` sits at column ``k % cols``, row ``k // cols``.
    """
    from PIL import Image

    thumbs = thumbnails(images, size)
    n = len(thumbs)
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    sheet = np.zeros((rows * size, cols * size, 3), np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        sheet[r * size : (r + 1) * size, c * size : (c + 1) * size] = thumbs[k]
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, format="PNG", compress_level=1)
    return buf.getvalue(), cols


def heat_thumbnails(maps: np.ndarray, size: int, percentile: float = 99.5) -> np.ndarray:
    """Attribution maps ``[N, H, W]`` → ``[N, size, size] uint8`` for display: |relevance|
    divided by its ``percentile`` per image (so one hot pixel does not wash out the rest), clipped
    to 0..255, resized like :func:`thumbnails`."""
    a = np.abs(np.asarray(maps, dtype=np.float32))
    if len(a) == 0:
        return np.zeros((0, size, size), np.uint8)
    top = np.percentile(a.reshape(len(a), -1), percentile, axis=1)
    top = np.where(top > 0, top, 1.0)[:, None, None]
    scaled = np.clip(a / top * 255.0, 0, 255).astype(np.uint8)
    rgb = thumbnails(np.repeat(scaled[:, None], 3, axis=1), size)
    return np.ascontiguousarray(rgb[..., 0])
