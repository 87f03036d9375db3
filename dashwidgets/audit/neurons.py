"""Neuron activation scores (VisCUIT §3.3, after Summit's neuron importance).

The paper: "For each image, each neuron's maximum activation across spatial locations is
considered as the activation value of the neuron for the image. Then, for each layer, we extract
the neurons with the highest activation values until the sum of the extracted neurons' activation
values exceeds 3% of the layer's total activation value [...] the proportion of the images in the
subgroup that have the neuron as their highly activated neuron [is] the neuron's activation score."

So, per image and layer, channels are taken in descending order of their spatial maximum while
the sum taken so far has not exceeded 3 % of the layer's total: the channel that makes the sum
exceed it is the last one taken. Ties keep channel order. Spatial maxima below zero count as zero
(a conv output that never becomes positive does not fire after its ReLU), and a zero channel is
never highly activated; an image whose layer is all zero has no highly activated neuron there.

Everything is vectorised over images and channels (torch sort and cumsum): no per-image loop.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

FRACTION = 0.03


def highly_activated(maxima: np.ndarray | torch.Tensor, fraction: float = FRACTION) -> torch.Tensor:
    """``bool [N, C]``: the highly activated channels of each image, from one layer's spatial
    maxima ``[N, C]`` (see the module docstring for the rule)."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    m = torch.as_tensor(maxima).float()
    if m.dim() != 2:
        raise ValueError(f"maxima must be [images, channels], got shape {tuple(m.shape)}")
    m = m.clamp(min=0)
    vals, order = torch.sort(m, dim=1, descending=True, stable=True)
    before = vals.cumsum(1) - vals  # sum of the channels taken before this one
    total = vals.sum(1, keepdim=True)
    take = (before <= fraction * total) & (vals > 0)
    return torch.zeros_like(take).scatter_(1, order, take)


def check_groups(groups: Mapping[str, np.ndarray], n: int, what: str = "rows") -> dict[str, np.ndarray]:
    """``groups`` (name → positions in ``[0, n)``) as int64 arrays; errors name the group."""
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError(f"groups must be a non-empty dict of name -> image indices, got {groups!r:.80}")
    out = {}
    for name, idx in groups.items():
        if not isinstance(name, str):
            raise TypeError(f"group names must be strings (they become column names), got {name!r}")
        if name in ("layer", "neuron"):
            raise ValueError(f"group name {name!r} clashes with the table's {name!r} column")
        arr = np.asarray(idx)
        if arr.ndim != 1:
            raise ValueError(f"group {name!r} must be a one-dimensional list of indices, got shape {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"group {name!r} is empty: a score is a share of the group's images")
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"group {name!r} must hold integer indices, got dtype {arr.dtype}")
        bad = arr[(arr < 0) | (arr >= n)]
        if bad.size:
            raise ValueError(f"group {name!r} has {what} out of range [0, {n}): {bad[:5].tolist()}")
        out[name] = arr.astype(np.int64)
    return out


def neuron_scores(
    maxima: Mapping[str, np.ndarray | torch.Tensor],
    groups: Mapping[str, np.ndarray],
    fraction: float = FRACTION,
) -> pd.DataFrame:
    """Activation score of every neuron for every group.

    ``maxima``: layer name → spatial maxima ``[N, C]`` (rows are the same N images in every
    layer); ``groups``: name → row positions in ``[0, N)``. Returns one row per (layer, neuron),
    layers in ``maxima``'s order: ``layer``, ``neuron`` and one column per group with the share of
    its images for which the neuron is highly activated (:func:`highly_activated`).
    """
    if not maxima:
        raise ValueError("no layers to score")
    n = {len(m) for m in maxima.values()}
    if len(n) != 1:
        raise ValueError(f"every layer's maxima must cover the same images, got row counts {sorted(n)}")
    groups = check_groups(groups, n.pop())
    # only the rows some group holds are ranked (a subgroup is a small part of its split)
    rows_used, inverse = np.unique(np.concatenate(list(groups.values())), return_inverse=True)
    local, start = {}, 0
    for name, rows in groups.items():
        local[name] = torch.from_numpy(inverse[start : start + len(rows)])
        start += len(rows)
    frames = []
    for layer, m in maxima.items():
        high = highly_activated(torch.as_tensor(m)[torch.from_numpy(rows_used)], fraction)
        cols = {"layer": layer, "neuron": np.arange(high.shape[1], dtype=np.int64)}
        for name in groups:
            cols[name] = high[local[name]].float().mean(0).numpy().astype(np.float64)
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)
