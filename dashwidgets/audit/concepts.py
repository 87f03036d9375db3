"""Neuron concept patches (VisCUIT §3, "Neuron Concept Window", after Summit and NeuroCartography).

The paper: "for each neuron, we get the 10 images that activate the neuron the most over the
entire dataset. Then, for each of the images, we randomly generate 32 masks, each of which is for
a square concept patch (30px by 30px). We separate the square areas of different masks to be at
least 5px apart [...]. We then input all the concept patches to the classifier [...]. For each
neuron, 10 concept patches that activate the neuron the most are considered as the neuron's
concept patches."

Here:

- A neuron's activation for an image is its spatial maximum (as in the neuron scores), read where
  :mod:`dashwidgets.models.activations` reads it.
- Patch side and spacing scale with the image: ``side = max(3, round(30 * s / 224))`` and
  ``gap = max(1, round(5 * s / 224))`` for the shorter image side ``s`` (30 px and 5 px at 224 px;
  4 px and 1 px at 32 px).
- "5 px apart" is read as the distance between the masks' positions (top-left corners, in both
  axes' maximum): squares of 30 px kept 5 px apart *as areas* leave room for at most 36 of them in
  a 224-px image, and random placement stops near 20, so the paper's 32 masks could not be drawn.
  Positions are drawn at random without replacement, each at least ``gap`` from every one taken;
  when fewer than ``n_patches`` fit (a tiny image) the image gets as many as fit.
- A patch is shown to the model as the whole image with everything outside the square set to zero
  in model input space (the dataset mean when the engine normalises with dataset statistics), so
  any model input size works and the neuron sees the patch where it was.
- Draws are seeded per (``seed``, image): an image gets the same masks whichever neuron asks.

Everything runs batched: the masked inputs of all requested neurons' top images go through the
model in one hooked pass (:func:`~dashwidgets.models.activations.channel_maxima`) that reads every
requested layer at once.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..models.activations import channel_maxima

PATCH_AT_224 = 30
GAP_AT_224 = 5


@dataclass(frozen=True)
class Concepts:
    """One neuron's concept patches.

    ``images``: dataset indices of the images that activate the neuron most (descending) with
    ``image_activations``; ``patches`` uint8 ``[top, 3, side, side]`` the squares cut from them,
    ``activations`` float32 ``[top]`` (the neuron's spatial maximum when only that square of its
    image is shown; descending), ``sources`` the dataset index each patch comes from and ``boxes``
    int64 ``[top, 4]`` its ``(y0, x0, y1, x1)`` in image pixels (end exclusive).
    """

    layer: str
    neuron: int
    images: np.ndarray
    image_activations: np.ndarray
    patches: np.ndarray
    activations: np.ndarray
    sources: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.activations)

    def __repr__(self) -> str:
        best = f", best {self.activations[0]:.3g}" if len(self.activations) else ""
        return f"Concepts({self.layer}[{self.neuron}]: {len(self.images)} images, {len(self)} patches{best})"


def patch_geometry(h: int, w: int) -> tuple[int, int]:
    """``(side, gap)`` of concept patches for ``h × w`` images (see the module docstring)."""
    s = min(int(h), int(w))
    side = min(s, max(3, round(PATCH_AT_224 * s / 224)))
    return side, max(1, round(GAP_AT_224 * s / 224))


def sample_boxes(h: int, w: int, n: int, side: int, gap: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n`` square boxes ``(y0, x0, y1, x1)`` of ``side`` px in an ``h × w`` image, their
    positions at random and at least ``gap`` px apart in the larger of the two axes."""
    ny, nx = h - side + 1, w - side + 1
    order = rng.permutation(ny * nx)
    taken = np.empty((0, 2), np.int64)
    for start in range(0, len(order), 256):  # candidates in chunks: most images fill in the first
        cand = np.stack(np.divmod(order[start : start + 256], nx), 1)
        for yx in cand:
            if len(taken) and (np.abs(taken - yx).max(1) < gap).any():
                continue
            taken = np.vstack([taken, yx])
            if len(taken) == n:
                break
        if len(taken) == n:
            break
    return np.concatenate([taken, taken + side], 1).astype(np.int64)


def check_neurons(neurons: Sequence[tuple[str, int]], channels: Mapping[str, int]) -> list[tuple[str, int]]:
    """``neurons`` as ``(layer, channel)`` pairs; errors name an unknown layer or channel."""
    if isinstance(neurons, tuple) and len(neurons) == 2 and isinstance(neurons[0], str):
        neurons = [neurons]
    out = []
    for item in neurons:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ValueError(f"a neuron is a (layer, channel) pair, got {item!r}")
        layer, ch = item
        if layer not in channels:
            raise ValueError(f"layer {layer!r} is not a conv layer of the model; conv layers are {list(channels)}")
        if isinstance(ch, bool) or not isinstance(ch, numbers.Integral) or not 0 <= ch < channels[layer]:
            raise ValueError(f"neuron {ch!r} out of range for layer {layer!r}, which has {channels[layer]} channels")
        out.append((str(layer), int(ch)))
    if not out:
        raise ValueError("no neurons given: name at least one (layer, channel) pair")
    return list(dict.fromkeys(out))


def check_counts(n_images, n_patches, top) -> tuple[int, int, int]:
    for name, value in (("n_images", n_images), ("n_patches", n_patches), ("top", top)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(n_images), int(n_patches), int(top)


def masked(x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Inputs ``x [B, 3, H, W]`` with everything outside each row's box ``[B, 4]`` set to zero."""
    h, w = x.shape[-2:]
    ys = torch.arange(h, device=x.device)
    xs = torch.arange(w, device=x.device)
    b = boxes.to(x.device)
    inside_y = (ys >= b[:, :1]) & (ys < b[:, 2:3])
    inside_x = (xs >= b[:, 1:2]) & (xs < b[:, 3:4])
    keep = inside_y[:, None, :, None] & inside_x[:, None, None, :]
    return x * keep


def concept_patches(
    model: torch.nn.Module,
    inputs: Callable[[torch.Tensor], torch.Tensor],
    images: np.ndarray,
    neurons: Sequence[tuple[str, int]],
    top_images: Mapping[tuple[str, int], tuple[np.ndarray, np.ndarray]],
    device: torch.device,
    n_patches: int = 32,
    top: int = 10,
    seed: int = 0,
    batch_size: int = 256,
) -> dict[tuple[str, int], Concepts]:
    """Concept patches of ``neurons`` in one batched pass.

    ``inputs(idx)``: model inputs of dataset images ``idx``; ``images``: the dataset's uint8
    ``[N, 3, H, W]`` (patches are cut from it); ``top_images[(layer, ch)]``: that neuron's top
    image indices and their activations (descending). Returns one :class:`Concepts` per neuron.
    """
    h, w = images.shape[-2:]
    side, gap = patch_geometry(h, w)
    union = np.unique(np.concatenate([top_images[n][0] for n in neurons]))
    boxes = {int(i): sample_boxes(h, w, n_patches, side, gap, np.random.default_rng([seed, int(i)])) for i in union}
    flat_img = np.concatenate([np.full(len(boxes[int(i)]), i, np.int64) for i in union])
    flat_box = torch.from_numpy(np.concatenate([boxes[int(i)] for i in union]))

    def patch_inputs(rows: torch.Tensor) -> torch.Tensor:
        return masked(inputs(torch.from_numpy(flat_img[rows.numpy()])), flat_box[rows])

    layers = list(dict.fromkeys(layer for layer, _ in neurons))
    acts = channel_maxima(model, patch_inputs, np.arange(len(flat_img)), device, layers, batch_size)
    out = {}
    for layer, ch in neurons:
        idx, img_act = top_images[(layer, ch)]
        rows = np.flatnonzero(np.isin(flat_img, idx))
        a = acts[layer][rows, ch]
        best = rows[np.argsort(-a, kind="stable")[:top]]
        src, bx = flat_img[best], flat_box[best].numpy()
        patches = np.stack([images[s, :, y0:y1, x0:x1] for s, (y0, x0, y1, x1) in zip(src, bx, strict=True)])
        out[(layer, ch)] = Concepts(
            layer=layer, neuron=ch, images=np.asarray(idx, np.int64), image_activations=np.asarray(img_act, np.float32),
            patches=patches.astype(np.uint8), activations=acts[layer][best, ch].astype(np.float32),
            sources=src.astype(np.int64), boxes=bx.astype(np.int64),
        )
    return out


def top_activating(maxima: np.ndarray, index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` rows of one channel's maxima ``[M]`` with the largest values, as dataset indices
    (``index [M]``) and values, descending (ties keep dataset order)."""
    order = np.argsort(-maxima, kind="stable")[:n]
    return index[order].astype(np.int64), maxima[order].astype(np.float32)
