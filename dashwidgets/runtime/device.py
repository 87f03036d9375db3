"""Device choice and mixed precision, so every other module stays device-agnostic."""

from __future__ import annotations

import contextlib

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → cuda, then mps, then cpu; anything else is checked and returned."""
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise ValueError(f"unknown device {device!r}: {e}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(dev)!r} requested but CUDA is not available; use device='auto'")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {str(dev)!r} requested but MPS is not available; use device='auto'")
    return dev


def autocast(device: torch.device, enabled: bool = True):
    """bfloat16/float16 autocast on CUDA, a no-op elsewhere (CPU numerics stay float32)."""
    if enabled and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)
    return contextlib.nullcontext()


def channels_last_format(model: torch.nn.Module, device: torch.device) -> torch.memory_format | None:
    """``torch.channels_last`` for a model with 2-d convolutions on CUDA (NHWC is what cuDNN's
    fast kernels and tensor cores work in), else None: the CPU and MPS keep the default layout."""
    if device.type != "cuda" or not _CHANNELS_LAST:
        return None
    has_conv = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    return torch.channels_last if has_conv else None


_CHANNELS_LAST = True  # tests switch it off to compare layouts


def needs_grad_scaler(device: torch.device) -> bool:
    """float16 autocast needs loss scaling; bfloat16 and float32 do not."""
    return device.type == "cuda" and not torch.cuda.is_bf16_supported()


def optimizer_step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    """Zero the gradients, back-propagate ``loss`` and step ``opt`` (through ``scaler`` when
    float16 autocast needs loss scaling, see :func:`needs_grad_scaler`)."""
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        opt.step()
