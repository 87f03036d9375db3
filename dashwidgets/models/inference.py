"""Batched inference: one pass gives predictions, probabilities, losses and embeddings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..runtime.device import autocast
from .layers import capture, pool_features


def run_inference(
    model: nn.Module,
    inputs: Callable[[torch.Tensor], torch.Tensor],
    targets: torch.Tensor,
    idx: np.ndarray,
    device: torch.device,
    batch_size: int = 512,
    layer: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """One batched pass over ``idx``: logits → probs/pred/loss, and pooled ``layer`` output.

    Returns numpy arrays ``pred [M]``, ``probs [M, C]``, ``loss [M]`` and, when ``layer`` is given,
    ``embedding [M, D]``. Runs under ``torch.inference_mode`` and autocast on CUDA.
    """
    model.eval()
    # indices live where the labels do, and outputs stay on the device until one copy at the
    # end: a per-batch .cpu() would make every batch wait for the GPU
    idx_t = torch.as_tensor(idx, dtype=torch.int64).to(targets.device)
    probs, losses, embs = [], [], []
    with torch.inference_mode(), contextlib.ExitStack() as stack:
        store = stack.enter_context(capture(model, layer)) if layer else None
        for start in range(0, len(idx_t), batch_size):
            bi = idx_t[start : start + batch_size]
            x = inputs(bi)
            y = targets[bi]
            with autocast(device):
                logits = model(x)
            logits = logits.float()
            if logits.dim() != 2:
                raise ValueError(f"model output must be [batch, classes] logits, got shape {tuple(logits.shape)}")
            probs.append(torch.softmax(logits, 1))
            losses.append(F.cross_entropy(logits, y, reduction="none"))
            if store is not None:
                if not store:
                    raise ValueError(f"layer {layer!r} did not run in the forward pass")
                embs.append(pool_features(store[-1].float()))
                store.clear()
            if progress is not None:
                progress(len(bi))
    n_classes = probs[0].shape[1] if probs else 0
    p = torch.cat(probs).cpu().numpy() if probs else np.zeros((0, n_classes), np.float32)
    out = {
        "probs": p.astype(np.float32, copy=False),
        "pred": p.argmax(1).astype(np.int64) if len(p) else np.zeros(0, np.int64),
        "loss": torch.cat(losses).cpu().numpy().astype(np.float32) if losses else np.zeros(0, np.float32),
    }
    if layer:
        out["embedding"] = torch.cat(embs).cpu().numpy().astype(np.float32) if embs else np.zeros((0, 0), np.float32)
    return out
