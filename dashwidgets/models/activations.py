"""Per-channel spatial maxima of many conv layers, in one batched pass with forward hooks.

A conv layer's activation is read where its channels are activated: when a ``BatchNorm2d`` over
the same channels is registered right after the conv (SmallCNN, torchvision ResNets and VGG-BN),
its output is hooked instead of the raw conv output, so after the neuron scores' clamp at zero
the value is what the following ReLU passes on (in a residual block's last BatchNorm: before the
skip connection is added). Layers keep their conv name either way. Maxima are taken inside the
hook, before in-place ReLUs or residual adds change the output tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..runtime.device import autocast
from .layers import conv_layers, get_layer


def check_conv_layers(model: nn.Module, layers: Sequence[str] | None) -> list[str]:
    """``layers`` (default: every conv layer) as a list of the model's conv layer names; a
    ValueError names a model without conv layers and any name that is not one of them."""
    convs = conv_layers(model)
    if not convs:
        raise ValueError(
            f"{type(model).__name__} has no Conv2d layer: neuron scores are per-channel maxima of conv layers"
        )
    if layers is None:
        return convs
    if isinstance(layers, str):
        layers = [layers]
    out = []
    for name in layers:
        if not isinstance(name, str):
            raise TypeError(f"layer names must be strings, got {name!r}")
        if name not in convs:
            get_layer(model, name)  # an unknown name: its own message lists the conv layers
            raise ValueError(f"layer {name!r} is not a Conv2d layer; conv layers are {convs}")
        out.append(name)
    if not out:
        raise ValueError("layers is empty; name at least one conv layer (or None for all)")
    return list(dict.fromkeys(out))


def activation_modules(model: nn.Module, layers: Sequence[str]) -> dict[str, nn.Module]:
    """``conv name -> module whose output is that conv's activation`` (the BatchNorm2d registered
    right after it over the same channels, else the conv itself)."""
    named = list(model.named_modules())
    position = {name: i for i, (name, _) in enumerate(named)}
    out = {}
    for name in layers:
        i = position[name]
        conv = named[i][1]
        nxt = named[i + 1][1] if i + 1 < len(named) else None
        same = isinstance(nxt, nn.BatchNorm2d) and nxt.num_features == getattr(conv, "out_channels", None)
        out[name] = nxt if same else conv
    return out


def channel_maxima(
    model: nn.Module,
    inputs: Callable[[torch.Tensor], torch.Tensor],
    idx: np.ndarray,
    device: torch.device,
    layers: Sequence[str],
    batch_size: int = 512,
) -> dict[str, np.ndarray]:
    """``layer -> float32 [M, C]``: each image's maximum over spatial positions of each channel of
    each named layer, for images ``idx`` (``inputs(idx_tensor)`` gives model inputs). One forward
    pass per batch records every layer through hooks (see :func:`activation_modules` for where);
    results stay on the device until the end."""
    model.eval()
    for name in layers:
        get_layer(model, name)
    modules = activation_modules(model, layers)
    current: dict[str, torch.Tensor] = {}
    outs: dict[str, list[torch.Tensor]] = {name: [] for name in layers}

    def hook_for(name: str):
        def hook(_module, _inputs, output):
            current[name] = output.detach().amax(dim=(2, 3)).float()

        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in modules.items()]
    idx_t = torch.as_tensor(idx, dtype=torch.int64)
    try:
        with torch.inference_mode():
            for start in range(0, len(idx_t), batch_size):
                current.clear()
                with autocast(device):
                    model(inputs(idx_t[start : start + batch_size]))
                for name in layers:
                    if name not in current:
                        raise ValueError(f"layer {name!r} did not run in the forward pass")
                    outs[name].append(current[name])
    finally:
        for h in handles:
            h.remove()
    result = {}
    for name in layers:
        if outs[name]:
            result[name] = torch.cat(outs[name]).cpu().numpy()
        else:
            result[name] = np.zeros((0, get_layer(model, name).out_channels), np.float32)
    return result
