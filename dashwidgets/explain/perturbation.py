"""Area over the perturbation curve (AOPC), Samek et al. 2017, as Schaaf et al. use it.

Most relevant first: at each of ``steps`` steps the ``patch x patch`` region around the next most
relevant location is replaced with uniform noise, and the drop of the target's probability is
recorded. ``AOPC = 1/(P+1) * sum_{p=0..P} f(x'(0)) - f(x'(p))``: larger means the map found the
regions the model relies on. Relevance of a location is the mean attribution in its patch; a
location whose centre was already perturbed is skipped (so each step perturbs new pixels until the
image is covered). The noise of an image is drawn once, so pixels perturbed twice keep their value.

Everything is batched: all images of a chunk advance one step together, and the perturbed images
of many steps go through the model in one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class AOPCResult:
    """Per-image AOPC ``scores [N]`` and perturbation ``curves [N, steps + 1]`` (the drop of the
    target's probability after each step; column 0 is the unperturbed image, 0)."""

    method: str
    indices: np.ndarray
    scores: np.ndarray
    curves: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores)) if len(self.scores) else float("nan")

    def __repr__(self) -> str:
        return (
            f"AOPCResult(method={self.method!r}, images={len(self.scores)}, mean={self.mean:.4f})"
        )


def aopc(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    attributions: torch.Tensor,
    steps: int = 100,
    patch: int = 9,
    low: float | torch.Tensor = 0.0,
    high: float | torch.Tensor = 1.0,
    seed: int = 0,
    batch_size: int = 64,
    max_forward: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """AOPC of ``attributions [N, H, W]`` for ``model`` on inputs ``x [N, C, H, W]`` and classes
    ``target [N]``. Noise is uniform in ``[low, high]`` (scalars or per-channel ``[1, C, 1, 1]``
    tensors in input space). Returns ``(scores [N], curves [N, steps + 1])`` as numpy."""
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    if patch < 1 or patch % 2 == 0:
        raise ValueError(f"patch must be a positive odd size, got {patch}")
    if attributions.shape != (x.shape[0], *x.shape[-2:]):
        raise ValueError(
            f"attributions must be [N, H, W] = {(x.shape[0], *x.shape[-2:])}, got {tuple(attributions.shape)}"
        )
    target = torch.as_tensor(target, dtype=torch.int64, device=x.device).reshape(-1)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    low_t = torch.as_tensor(low, dtype=x.dtype, device=x.device)
    high_t = torch.as_tensor(high, dtype=x.dtype, device=x.device)
    was_training = model.training
    model.eval()
    curves = []
    try:
        with torch.inference_mode():
            for i in range(0, len(x), batch_size):
                xb, tb = x[i : i + batch_size], target[i : i + batch_size]
                rb = attributions[i : i + batch_size].to(x.device, torch.float32)
                noise = torch.rand(xb.shape, generator=gen).to(x.device, x.dtype)
                noise = low_t + (high_t - low_t) * noise
                curves.append(_curve(model, xb, tb, rb, noise, steps, patch, max_forward))
    finally:
        model.train(was_training)
    if not curves:
        return np.zeros(0), np.zeros((0, steps + 1))
    curve = torch.cat(curves).cpu().numpy().astype(np.float64)
    return curve.mean(axis=1), curve


def _curve(model, x, target, rel, noise, steps, patch, max_forward) -> torch.Tensor:
    b, _, h, w = x.shape
    pad = patch // 2
    region = F.avg_pool2d(rel[:, None], patch, stride=1, padding=pad, count_include_pad=False)[:, 0]
    region = region.reshape(b, -1)
    covered = torch.zeros(b, 1, h, w, device=x.device, dtype=x.dtype)
    rows = torch.arange(b, device=x.device)
    pending: list[torch.Tensor] = [x]  # step 0: the unperturbed images
    probs: list[torch.Tensor] = []

    def flush():
        batch = torch.cat(pending)
        p = torch.softmax(model(batch).float(), dim=1)
        probs.append(
            p.gather(1, target.repeat(len(pending))[:, None])[:, 0].reshape(len(pending), b)
        )
        pending.clear()

    for _ in range(steps):
        free = region.masked_fill(covered.reshape(b, -1) > 0, float("-inf"))
        loc = free.argmax(dim=1)
        spot = torch.zeros(b, h * w, device=x.device, dtype=x.dtype)
        spot[rows, loc] = torch.isfinite(free[rows, loc]).to(x.dtype)  # nothing left: no new patch
        spot = F.max_pool2d(spot.reshape(b, 1, h, w), patch, stride=1, padding=pad)
        covered = torch.maximum(covered, spot)
        pending.append(x * (1 - covered) + noise * covered)
        if len(pending) * b >= max_forward:
            flush()
    if pending:
        flush()
    f = torch.cat(probs).T  # [B, steps + 1]
    return f[:, :1] - f
