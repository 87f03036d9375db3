"""Wall-clock timing shared by the benchmark scripts: the device is synchronised before and after,
so a CUDA figure covers the work and not only its launch."""

from __future__ import annotations

import time

import torch


def timed(fn, device: torch.device) -> tuple[float, object]:
    """``(seconds, fn())``."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t, out
