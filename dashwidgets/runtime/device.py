"""Device choice and mixed precision, so every other module stays device-agnostic."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil

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


# ---------------------------------------------------------------- torch.compile (Engine(compile=True))
# The flag rides on the model as a plain attribute (not a submodule, so never in a state_dict):
# every copy of the engine's template (each version's model, each training run's) inherits it,
# and run_inference / train.loop.fit look it up with compiled_forward.
COMPILE_ATTR = "_dw_compile"


def _call(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x)


_compiled_call = None  # torch.compile(_call), made on first use: one function for every model,
# with the module an argument (its Parameters are graph inputs), so no cache holds a model alive


def check_compile(value, device: torch.device) -> bool:
    """``compile`` as a bool; a clear error for other values, or where inductor has no compiler
    to use (a C++ compiler on the CPU, Triton on CUDA)."""
    if not isinstance(value, bool):
        raise TypeError(f"compile must be True or False, got {value!r}")
    if not value:
        return False
    if not hasattr(torch, "compile"):
        raise ValueError(f"compile=True needs torch.compile (torch >= 2.0); this is torch {torch.__version__}")
    if device.type == "cpu":
        cxx = os.environ.get("CXX") or next((c for c in ("g++", "c++", "clang++") if shutil.which(c)), None)
        if cxx is None or shutil.which(cxx) is None:
            raise ValueError(
                "compile=True on the CPU needs a C++ compiler for torch.compile's inductor backend "
                "(none of $CXX, g++, c++, clang++ was found); install one (e.g. build-essential) or use compile=False"
            )
    elif device.type == "cuda":
        try:
            from torch.utils._triton import has_triton
        except ImportError:  # pragma: no cover - very old torch
            has_triton = None
        if has_triton is not None and not has_triton():
            raise ValueError("compile=True on CUDA needs Triton (pip install triton), or use compile=False")
    else:
        raise ValueError(f"compile=True is supported on cpu and cuda, not {device.type!r}; use compile=False")
    return True


def mark_compile(model: torch.nn.Module, on: bool) -> None:
    """Set (or clear) ``model``'s compile flag; copies of it inherit the flag."""
    object.__setattr__(model, COMPILE_ATTR, bool(on))


def compiled_forward(model: torch.nn.Module):
    """``model`` itself, or (when its compile flag is set) ``torch.compile(model)``: a wrapper
    that runs the same module with the same Parameters (so weights trained through it are the
    model's own, and ``model.state_dict()`` keeps its keys: no ``_orig_mod.`` prefix). Static
    shapes (``dynamic=False``): run_inference pads its last batch to the batch size."""
    if not getattr(model, COMPILE_ATTR, False):
        return model
    global _compiled_call
    if _compiled_call is None:
        _compiled_call = torch.compile(_call, dynamic=False)
    return functools.partial(_compiled_call, model)
