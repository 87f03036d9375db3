"""The region classifier's network and patch grid (De Coninck et al., "Mitigating bias with
region attributions", §3.1).

The paper: a ResNet18 "operates on patches of size k × k. Additionally, the network takes in a
region indicator [...] translated into an embedding akin to the vision transformer approach [...]
concatenated to the input image". Patches come from ``p`` positions on a ``√p × √p`` grid: patch
``i`` has top-left ``((i mod √p)·s, ⌊i / √p⌋·s)``, with stride ``s = (I − k) / (√p − 1)`` so the
last row and column of patches end at the image border (the paper prints ``I − k/√p``, which
would put patches outside the image; we read it as the grid that spans the image). Offsets are
rounded to whole pixels.

Here the embedding is one learned ``k × k`` plane per position, concatenated as a fourth input
channel. The backbone keeps ResNet18's shape (a stem, four stages of two basic blocks, global
pooling, one linear layer) with its width and downsampling scaled to the patch: stride-2 stages
only while the feature map stays at least 2 px wide, so an 8-px patch is not pooled away.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..runtime.device import autocast


def grid_side(positions: int) -> int:
    """``√p`` for a square number of positions ``p ≥ 4``; errors name the problem."""
    if isinstance(positions, bool) or not isinstance(positions, numbers.Integral):
        raise TypeError(f"positions must be an integer, got {positions!r}")
    g = math.isqrt(int(positions)) if positions > 0 else 0
    if positions < 4 or g * g != positions:
        raise ValueError(f"positions must be a square number of at least 4 (a √p × √p grid), got {positions}")
    return g


def grid_offsets(image: int, patch: int, positions: int) -> torch.Tensor:
    """``int64 [√p]``: the patch offsets along one axis of an ``image``-px side."""
    g = grid_side(positions)
    if isinstance(patch, bool) or not isinstance(patch, numbers.Integral) or patch < 1:
        raise ValueError(f"patch must be a positive number of pixels, got {patch!r}")
    if patch > image:
        raise ValueError(f"patch {patch} px is larger than the image ({image} px)")
    if g > image - patch + 1:
        raise ValueError(
            f"positions={positions} asks for {g} patch positions per side, but a {patch}-px patch has only "
            f"{image - patch + 1} distinct offsets in a {image}-px image; use at most {(image - patch + 1) ** 2}"
        )
    s = (image - patch) / (g - 1)
    return torch.tensor([round(j * s) for j in range(g)], dtype=torch.int64)


def default_geometry(image: int) -> tuple[int, int]:
    """``(patch, positions)`` for ``image``-px images: a quarter of the side (the paper's 32 px at
    128 px) and a grid of ``side/4 + 1`` positions per axis, at most 33 (stride about 3 px at
    32 px, 3 × 3 at 128 px; the paper's ~45 × 45 at 128 px costs p patch passes per image map,
    1,089 here)."""
    k = max(4, image // 4)
    g = max(2, min(image - k + 1, image // 4 + 1, 33))
    return k, g * g


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + self.skip(x))


class RegionNet(nn.Module):
    """ResNet18-shaped patch classifier with a learned region embedding as a fourth channel.

    ``forward(patches [B, 3, k, k], region [B] int64) -> logits [B, num_classes]``.
    """

    def __init__(self, patch: int, positions: int, num_classes: int, width: int | None = None):
        super().__init__()
        grid_side(positions)
        self.patch, self.positions, self.num_classes = int(patch), int(positions), int(num_classes)
        w = int(width or (8 if patch <= 16 else 16 if patch <= 48 else 32))
        self.width = w
        self.embed = nn.Embedding(positions, patch * patch)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.stem = nn.Sequential(nn.Conv2d(4, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        blocks, cin, size = [], w, patch
        for i, mult in enumerate((1, 2, 4, 8)):
            stride = 2 if i > 0 and size >= 4 else 1
            size = (size + stride - 1) // stride
            blocks += [_Block(cin, w * mult, stride), _Block(w * mult, w * mult, 1)]
            cin = w * mult
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, patches: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        k = self.patch
        plane = self.embed(region).view(-1, 1, k, k).to(patches.dtype)
        x = self.blocks(self.stem(torch.cat([patches, plane], 1)))
        return self.head(x.mean((2, 3)))

    def spec(self) -> dict:
        return {"patch": self.patch, "positions": self.positions, "num_classes": self.num_classes, "width": self.width}


def crop(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, C, k, k]``: from each image of ``x [B, C, H, W]`` the patch at its ``(top, left)``
    (one gather, no loop)."""
    b = x.shape[0]
    ar = torch.arange(k, device=x.device)
    rows = (top.to(x.device)[:, None] + ar)[:, None, :, None].expand(b, x.shape[1], k, x.shape[3])
    x = x.gather(2, rows)
    cols = (left.to(x.device)[:, None] + ar)[:, None, None, :].expand(b, x.shape[1], k, k)
    return x.gather(3, cols)


def all_patches(x: torch.Tensor, offsets: torch.Tensor, k: int) -> torch.Tensor:
    """``[B·p, C, k, k]``: every grid patch of every image of ``x``, image-major, position ``i``
    (row ``i // √p``, column ``i mod √p``) in order."""
    b, c = x.shape[:2]
    g = len(offsets)
    o = offsets.to(x.device)
    ar = torch.arange(k, device=x.device)
    idx = (o[:, None] + ar).reshape(-1)  # [g·k]
    rows = x.index_select(2, idx).view(b, c, g, k, x.shape[3])
    both = rows.index_select(4, idx).view(b, c, g, k, g, k)
    return both.permute(0, 2, 4, 1, 3, 5).reshape(b * g * g, c, k, k)


def grid_logits(net: RegionNet, inputs: Callable[[torch.Tensor], torch.Tensor], idx: np.ndarray,
                offsets: torch.Tensor, device: torch.device, max_patches: int = 8192) -> torch.Tensor:
    """``float [len(idx), p, C]`` logits of every grid patch of images ``idx`` (model inputs from
    ``inputs(idx_tensor)``), on the CPU; images are batched so that one forward pass sees about
    ``max_patches`` patches."""
    per = max(1, max_patches // net.positions)
    out = []
    idx_t = torch.as_tensor(np.asarray(idx), dtype=torch.int64)
    net.eval()
    with torch.inference_mode():
        for start in range(0, len(idx_t), per):
            part = idx_t[start : start + per]
            patches = all_patches(inputs(part), offsets, net.patch)
            region = torch.arange(net.positions, device=patches.device).repeat(len(part))
            with autocast(device):
                logits = net(patches, region)
            out.append(logits.float().view(len(part), net.positions, -1).cpu())
    return torch.cat(out) if out else torch.zeros((0, net.positions, net.num_classes))
