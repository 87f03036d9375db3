"""Batched inference: one pass gives predictions, probabilities, losses and embeddings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..runtime.device import autocast, compiled_forward
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

    ``inputs(bi)`` receives each batch's indices as a CPU int64 tensor (pinned on CUDA, so its
    ``non_blocking`` copy to wherever the images live does not wait for the device).

    Returns numpy arrays ``pred [M]``, ``probs [M, C]``, ``loss [M]`` and, when ``layer`` is given,
    ``embedding [M, D]``. Runs under ``torch.inference_mode`` and autocast on CUDA.

    No per-batch host sync: every per-batch output stays on ``device`` and is copied to the host
    once per call; the targets of all of ``idx`` are gathered once, up front.
    """
    model.eval()
    forward = compiled_forward(model)
    # a compiled model (Engine(compile=True)) sees one input shape: a short batch is padded with
    # copies of its first index to ``batch_size`` and the padding's outputs dropped (eval mode:
    # each image's outputs are its own), rather than recompiled for every remainder
    pad = forward is not model
    idx_t = torch.as_tensor(np.asarray(idx), dtype=torch.int64)
    if device.type == "cuda":
        idx_t = idx_t.pin_memory()  # batches of it copy to the device asynchronously
    probs, losses, embs = [], [], []
    # one autocast region for the whole pass: parameters that require grad (validation during
    # training) are cast to bf16 once per call, not once per batch
    with torch.inference_mode(), autocast(device), contextlib.ExitStack() as stack:
        store = stack.enter_context(capture(model, layer)) if layer else None
        y_all = targets[idx_t.to(targets.device, non_blocking=True)]
        for start in range(0, len(idx_t), batch_size):
            bi = idx_t[start : start + batch_size]
            n = len(bi)
            if pad and n < batch_size:
                bi = torch.cat([bi, bi[:1].expand(batch_size - n)])
            logits = forward(inputs(bi)).float()[:n]
            if logits.dim() != 2:
                raise ValueError(f"model output must be [batch, classes] logits, got shape {tuple(logits.shape)}")
            probs.append(torch.softmax(logits, 1))
            losses.append(F.cross_entropy(logits, y_all[start : start + batch_size], reduction="none"))
            if store is not None:
                if not store:
                    raise ValueError(f"layer {layer!r} did not run in the forward pass")
                embs.append(pool_features(store[-1][:n].float()))
                store.clear()
            if progress is not None:
                progress(n)
    n_classes = probs[0].shape[1] if probs else 0
    p = _to_host(probs, (0, n_classes))
    out = {"probs": p, "pred": p.argmax(1).astype(np.int64) if len(p) else np.zeros(0, np.int64),
           "loss": _to_host(losses, (0,))}
    if layer:
        out["embedding"] = _to_host(embs, (0, 0))
    return out


def _to_host(parts: list[torch.Tensor], empty: tuple[int, ...]) -> np.ndarray:
    """The concatenated ``parts`` as one float32 numpy array: one device→host copy per call."""
    if not parts:
        return np.zeros(empty, np.float32)
    t = torch.cat(parts) if len(parts) > 1 else parts[0]
    return t.to("cpu", torch.float32).numpy()
