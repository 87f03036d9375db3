"""Find the layers of any classifier: conv layers by name, the embedding layer, feature hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def conv_layers(model: nn.Module) -> list[str]:
    """Names of every ``nn.Conv2d`` in ``model``, in registration order."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def last_conv(model: nn.Module) -> str:
    """Name of the last conv layer; ValueError when the model has none."""
    names = conv_layers(model)
    if not names:
        raise ValueError(
            f"{type(model).__name__} has no Conv2d layer: dashwidgets audits convolutional image "
            "classifiers (name another layer with embedding_layer=... to use its output as embedding)"
        )
    return names[-1]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name``; ValueError listing the conv layers when unknown."""
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        raise ValueError(
            f"{type(model).__name__} has no layer {name!r}; conv layers are {conv_layers(model)}"
        )
    return modules[name]


def pool_features(out: torch.Tensor) -> torch.Tensor:
    """``[N, C, H, W]`` → global average pool ``[N, C]``; other ranks are flattened to ``[N, D]``."""
    if out.dim() == 4:
        return out.mean(dim=(2, 3))
    return out.flatten(1)


@contextmanager
def capture(model: nn.Module, name: str) -> Iterator[list[torch.Tensor]]:
    """Context manager that records the output of layer ``name`` on every forward pass.

    The hook is removed on exit, also when the body raises.
    """
    store: list[torch.Tensor] = []
    layer = get_layer(model, name)

    def hook(_module, _inputs, output):
        store.append(output)

    handle = layer.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()
