"""The default classifier: a small CNN that trains from scratch in seconds on a CPU."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Conv blocks (conv 3x3 → batch-norm → ReLU, max-pool between stages), global average
    pooling and a linear head.

    Input ``[N, 3, H, W]`` float (any H, W ≥ 8); output ``[N, num_classes]`` logits. The last conv
    layer, ``features.<k>``, is what the projection and Grad-CAM read by default.
    """

    def __init__(self, num_classes: int, widths: Sequence[int] = (24, 48, 96), in_channels: int = 3):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        layers: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c, num_classes)
        self.num_classes = num_classes
        self.widths = tuple(int(w) for w in widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))

    def spec(self) -> dict:
        """JSON description from which :func:`build_model` rebuilds this architecture."""
        return {"kind": "SmallCNN", "num_classes": self.num_classes, "widths": list(self.widths)}


def default_model(num_classes: int, seed: int = 0) -> SmallCNN:
    """The default classifier with seeded initial weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SmallCNN(num_classes)


def build_model(spec: dict) -> nn.Module:
    """Rebuild a model from :meth:`SmallCNN.spec` (weights are loaded separately)."""
    if spec.get("kind") != "SmallCNN":
        raise ValueError(f"cannot rebuild a model of kind {spec.get('kind')!r}; pass model=... instead")
    return SmallCNN(int(spec["num_classes"]), widths=spec.get("widths", (24, 48, 96)))
