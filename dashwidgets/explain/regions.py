"""Region attributions from a region classifier (De Coninck et al., §3.2–3.4).

- :func:`confidence`: per-patch confidence from logits — top softmax (Eq. 2), margin (Eq. 3) or
  negative entropy (Eq. 4). The negative entropy is shown as ``1 − H / log C`` so that, like the
  other two, it lies in [0, 1] and grows with confidence (the paper normalises "to a [0, 1] range
  wherever feasible").
- :func:`region_maps`: every grid patch of a batch of images classified in one pass; the
  ``√p × √p`` map of their confidences.
- :func:`pixel_maps`: Algorithm 1, the mean confidence of every patch covering a pixel, computed
  as ``Rᵀ · M · C`` with the grid's row and column cover matrices (the grid is a product of row
  and column offsets), then normalised to [0, 1] per image (min–max; a constant map becomes 0).
  Pixels no patch covers (a grid sparser than the patch) are 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..models.region import RegionNet, grid_logits

CONFIDENCES = ("entropy", "top", "margin")


def confidence(logits: torch.Tensor, kind: str = "entropy") -> torch.Tensor:
    """``[N]`` confidence of each row of ``logits [N, C]`` in [0, 1] (see the module docstring)."""
    if kind not in CONFIDENCES:
        raise ValueError(f"unknown confidence {kind!r}; use one of {list(CONFIDENCES)}")
    p = torch.softmax(logits.float(), 1)
    if kind == "top":
        return p.amax(1)
    if kind == "margin":
        two = p.topk(2, dim=1).values if p.shape[1] > 1 else torch.cat([p, torch.zeros_like(p)], 1)
        return two[:, 0] - two[:, 1]
    h = -(p * p.clamp_min(1e-12).log()).sum(1)
    return 1 - h / math.log(p.shape[1]) if p.shape[1] > 1 else torch.ones_like(h)


def region_maps(
    net: RegionNet,
    inputs: Callable[[torch.Tensor], torch.Tensor],
    idx: np.ndarray,
    offsets: torch.Tensor,
    device: torch.device,
    kind: str = "entropy",
    max_patches: int = 8192,
) -> np.ndarray:
    """``float32 [N, √p, √p]`` confidence of every grid patch of images ``idx``, all patches of
    a batch of images in one forward pass (:func:`~dashwidgets.models.region.grid_logits`)."""
    if kind not in CONFIDENCES:
        raise ValueError(f"unknown confidence {kind!r}; use one of {list(CONFIDENCES)}")
    g = len(offsets)
    logits = grid_logits(net, inputs, idx, offsets, device, max_patches)
    n = logits.shape[0]
    return confidence(logits.reshape(n * net.positions, -1), kind).view(n, g, g).numpy().astype(np.float32)


def cover(offsets: torch.Tensor, k: int, size: int) -> torch.Tensor:
    """``[√p, size]`` float: row ``j`` is 1 on the pixels patch offset ``j`` covers."""
    ar = torch.arange(size)
    return ((ar >= offsets[:, None]) & (ar < offsets[:, None] + k)).float()


def pixel_maps(regions: np.ndarray | torch.Tensor, offsets: torch.Tensor, k: int, image_size: tuple[int, int],
               normalize: bool = True) -> np.ndarray:
    """``float32 [N, H, W]``: Algorithm 1 on region maps ``[N, √p, √p]`` (module docstring)."""
    m = torch.as_tensor(np.asarray(regions), dtype=torch.float32)
    h, w = image_size
    r, c = cover(offsets, k, h), cover(offsets, k, w)
    total = torch.einsum("jh,nji,iw->nhw", r, m, c)
    counts = r.sum(0)[:, None] * c.sum(0)[None, :]
    out = torch.where(counts > 0, total / counts.clamp_min(1), torch.zeros_like(total))
    if normalize and len(out):
        lo = out.flatten(1).amin(1)[:, None, None]
        hi = out.flatten(1).amax(1)[:, None, None]
        span = hi - lo
        out = torch.where(span > 0, (out - lo) / span.clamp_min(1e-12), torch.zeros_like(out))
    return out.numpy().astype(np.float32)
