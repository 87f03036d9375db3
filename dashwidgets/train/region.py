"""Training the region classifier (De Coninck et al., §3.1): "a single patch per image is
randomly selected for training" from the grid's positions each step; AdamW (lr 1e-3) with the
learning rate divided by 10 at 4/9 and 8/9 of training (the paper's "every 40 epochs" of 90),
cross-entropy with label smoothing (the paper's 0.1; ``label_smoothing=0`` keeps the top probability
of a patch that settles the target free to reach 1, see :meth:`Engine.region_classifier`). The
target is any per-image class (an attribute, or the label). Progress is reported per epoch with the
train loss and the patch accuracy on the same ``val_patches`` random held-out (image, position)
pairs, cropped once: one forward pass per epoch (every grid patch of 64 images, as before, took
0.95 s beside the 1.6 s of an epoch's training on 2,000 images at batch 256, one busy CPU thread;
2,048 patches take 0.3 s)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..models.region import RegionNet, crop
from ..runtime.device import autocast, needs_grad_scaler, optimizer_step
from ..runtime.jobs import Cancelled


def fit_region(
    net: RegionNet,
    inputs: Callable[[torch.Tensor], torch.Tensor],
    targets: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    offsets: torch.Tensor,
    device: torch.device,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 256,
    label_smoothing: float = 0.0,
    seed: int = 0,
    val_patches: int = 2048,
    emit: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
) -> list[dict]:
    """Train ``net`` in place on images ``train_idx`` (``targets`` holds a class per dataset
    image); returns one record per epoch (``epoch``, ``loss``, ``val_accuracy`` over the same
    ``val_patches`` random (image, position) pairs of ``val_idx`` every epoch). ``stop`` set →
    :class:`Cancelled` between steps."""
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr)
    steps_per_epoch = max(1, math.ceil(len(train_idx) / batch_size))
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [round(total * 4 / 9), round(total * 8 / 9)], gamma=0.1)
    scaler = torch.amp.GradScaler(device.type) if needs_grad_scaler(device) else None
    g, k = len(offsets), net.patch
    y_all = torch.as_tensor(targets, dtype=torch.int64)
    train_t = torch.as_tensor(np.asarray(train_idx), dtype=torch.int64)
    val = _ValPatches(inputs, y_all, np.asarray(val_idx), offsets, k, val_patches, seed)
    history = []
    step = 0
    for epoch in range(epochs):
        net.train()
        order = train_t[torch.randperm(len(train_t), generator=gen)]
        losses = []
        for start in range(0, len(order), batch_size):
            if stop is not None and stop.is_set():
                raise Cancelled()
            idx = order[start : start + batch_size]
            pos = torch.randint(0, g * g, (len(idx),), generator=gen)
            x = crop(inputs(idx), offsets[pos // g], offsets[pos % g], k)
            y = y_all[idx].to(device)
            with autocast(device):
                loss = F.cross_entropy(net(x, pos.to(device)), y, label_smoothing=label_smoothing)
            optimizer_step(loss, opt, scaler)
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
        rec = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_accuracy": val.accuracy(net, device)}
        history.append(rec)
        if emit is not None:
            emit({"type": "epoch", "progress": step / total, **rec})
    net.eval()
    return history


class _ValPatches:
    """Up to ``n`` (image, grid position) pairs of the val images, drawn once (``seed``) and
    cropped once, so the per-epoch check is one forward pass over the same patches every epoch."""

    def __init__(self, inputs, y_all: torch.Tensor, idx: np.ndarray, offsets: torch.Tensor, k: int, n: int, seed: int):
        g = len(offsets)
        self.x = self.y = self.pos = None
        if len(idx) == 0 or n == 0:
            return
        gen = torch.Generator().manual_seed(int(seed) + 1)
        pairs = torch.randperm(len(idx) * g * g, generator=gen)[:n]  # without replacement
        img = torch.as_tensor(idx, dtype=torch.int64)[pairs // (g * g)]
        self.pos = pairs % (g * g)
        top, left = offsets[self.pos // g], offsets[self.pos % g]
        self.x = torch.cat([crop(inputs(img[i : i + 256]), top[i : i + 256], left[i : i + 256], k)
                            for i in range(0, len(img), 256)])  # 256 images in memory at a time
        self.y = y_all[img]

    def accuracy(self, net: RegionNet, device: torch.device) -> float:
        if self.x is None:
            return float("nan")
        net.eval()
        with torch.inference_mode(), autocast(device):
            pred = net(self.x, self.pos.to(device)).argmax(1).cpu()
        net.train()
        return float((pred == self.y).float().mean())
