"""Training the region classifier (De Coninck et al., §3.1): "a single patch per image is
randomly selected for training" from the grid's positions each step; AdamW (lr 1e-3) with the
learning rate divided by 10 at 4/9 and 8/9 of training (the paper's "every 40 epochs" of 90),
cross-entropy with label smoothing 0.1. The target is any per-image class (an attribute, or the
label). Progress is reported per epoch with the train loss and the patch accuracy on up to 64 held-out
images (all their grid patches)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..models.region import RegionNet, crop, grid_logits
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
    label_smoothing: float = 0.1,
    seed: int = 0,
    emit: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
) -> list[dict]:
    """Train ``net`` in place on images ``train_idx`` (``targets`` holds a class per dataset
    image); returns one record per epoch (``epoch``, ``loss``, ``val_accuracy`` over every grid
    patch of up to 64 of ``val_idx``). ``stop`` set → :class:`Cancelled` between steps."""
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
        rec = {"epoch": epoch + 1, "loss": float(np.mean(losses)),
               "val_accuracy": patch_accuracy(net, inputs, y_all, val_idx[:64], offsets, device)}
        history.append(rec)
        if emit is not None:
            emit({"type": "epoch", "progress": step / total, **rec})
    net.eval()
    return history


def patch_accuracy(net: RegionNet, inputs, y_all: torch.Tensor, idx: np.ndarray, offsets, device) -> float:
    if len(idx) == 0:
        return float("nan")
    logits = grid_logits(net, inputs, idx, offsets, device)
    y = y_all[torch.as_tensor(np.asarray(idx))][:, None]
    return float((logits.argmax(2) == y).float().mean())
