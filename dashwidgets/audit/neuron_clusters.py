"""Neuron clustering (VisCUIT §3.3 "Neuron Clustering", after NeuroCartography's neuron embedding).

The paper: train a copy of the audited classifier so that it "takes concept patches as inputs and
outputs a vector for each concept patch to maximize the inner products between the vectors of the
concept patches for the same neurons", on 10,000 random same-neuron patch pairs and 10,000 random
different-neuron pairs, minimising (Eq. 1)

    - sum_{same} log(Vi . Vj) - sum_{different} log(1 - V'i . V'j)

over normalised vectors, with SGD (lr 1e-4, 10 epochs). Then iterate the neurons: a neuron joins
the cluster whose patches have the maximum mean inner product with its own patches if that is
above a threshold (0.9), else it starts a new cluster.

Choices this module makes where the paper is silent:

- The embedding of an input is the output of ``embedding_layer`` of the copy, reduced to a vector
  by :func:`dashwidgets.models.layers.pool_features` (global average pool of a ``[N, C, H, W]``
  map, flatten of anything else), then L2-normalised. Pooling, not flattening the map: a concept
  patch is shown at its place in an otherwise blank image, and a flattened map would make two
  patches of one concept at different places nearly orthogonal whatever the training does.
- The copy runs in eval mode throughout (batch-norm keeps the classifier's running statistics,
  dropout is off), so its embedding at epoch 0 is what the classifier itself computes; the forward
  pass stops at ``embedding_layer`` (layers after it get no gradient and are not computed).
- Each pair's dot product is clamped into ``[EPS, 1 - EPS]`` before the log. A same-neuron pair
  whose vectors point apart (dot product <= EPS) therefore adds a constant and no gradient.
- Same-neuron pairs: a neuron drawn uniformly, then two different patches of it. Different-neuron
  pairs: two different neurons drawn uniformly, then one patch of each. All seeded.
- One minibatch is ``batch_size`` pairs (same and different shuffled together each epoch); the loss
  is the batch mean. Each distinct patch of a batch is embedded once (pairs share patches), which
  gives the same gradient as embedding every pair's two patches separately.
- Grouping uses *all* patches of a cluster's members, exactly and with no sampling: the mean inner
  product between the neuron's patch vectors and the cluster's patch vectors equals the dot
  product of their two mean vectors, so each neuron costs one ``[clusters, D] @ [D]`` product.
  Similarities are computed in float64 and clipped to [-1, 1]; as a mean inner product of unit
  vectors never exceeds 1, ``threshold=1.0`` leaves every neuron in a cluster of its own.

Cost: ``epochs * 2 * pairs / batch_size`` SGD steps, each a forward and backward pass over the
batch's distinct patches (~200 for 128 pairs over 500 patches; larger batches share more). 50
neurons x 10 patches at 32 px, SmallCNN, 2 busy CPU cores: 4 min per epoch (1 min at batch_size=1024).
"""

from __future__ import annotations

import copy
import math
import numbers
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..models.layers import get_layer, pool_features
from ..runtime import Cancelled, autocast, needs_grad_scaler, resolve_device
from ..runtime.device import optimizer_step

EPS = 1e-4  # dot products are clamped into [EPS, 1 - EPS] before the log of Eq. 1


@dataclass(frozen=True, eq=False)
class NeuronClusters:
    """Neurons grouped by the concepts that activate them.

    ``table``: one row per input neuron, in input order, with ``layer`` (str), ``neuron`` (int)
    and ``cluster`` (int; clusters are numbered 0, 1, ... in the order they were started, so the
    first neuron is in cluster 0). ``threshold``: the similarity a neuron had to exceed to join a
    cluster. ``losses``: the mean Eq. 1 loss per pair of each training epoch (empty for
    ``epochs=0`` or a single neuron, which needs no training).
    """

    table: pd.DataFrame
    threshold: float
    losses: list[float] = field(default_factory=list)

    def _rows(self, table: pd.DataFrame | None = None) -> list[tuple[str, int, int]]:
        t = self.table if table is None else table
        rows = t[["layer", "neuron", "cluster"]].itertuples(index=False, name=None)
        return [(str(ly), int(n), int(c)) for ly, n, c in rows]

    def mates(self, layer: str, neuron: int) -> list[tuple[str, int]]:
        """The other neurons in ``(layer, neuron)``'s cluster, in table order (itself excluded).

        ValueError naming the neuron when it was not clustered."""
        hit = self.table[(self.table["layer"] == layer) & (self.table["neuron"] == neuron)]
        if hit.empty:
            raise ValueError(
                f"neuron ({layer!r}, {neuron!r}) was not clustered; the {len(self.table)} clustered "
                f"neurons are e.g. {[r[:2] for r in self._rows()[:5]]}"
            )
        rows = self._rows(self.table[self.table["cluster"] == hit["cluster"].iloc[0]])
        return [(ly, n) for ly, n, _ in rows if not (ly == layer and n == neuron)]

    def clusters(self) -> dict[int, list[tuple[str, int]]]:
        """Cluster id → its member neurons ``(layer, neuron)``, ids ascending, members in table order."""
        out: dict[int, list[tuple[str, int]]] = {}
        for ly, n, c in self._rows():
            out.setdefault(c, []).append((ly, n))
        return dict(sorted(out.items()))


# ------------------------------------------------------------------ grouping


def group_neurons(vectors: list[torch.Tensor] | list[np.ndarray], threshold: float = 0.9) -> np.ndarray:
    """Greedy grouping of neurons by their patch vectors (the paper's rule, see module docstring).

    ``vectors[i]``: ``[n_i, D]`` unit vectors of neuron ``i``'s concept patches. Neurons are taken
    in list order; neuron ``i`` joins the existing cluster with the largest mean inner product
    between its vectors and all vectors of the cluster's members if that exceeds ``threshold``,
    else it starts a new cluster. Returns ``int64 [len(vectors)]`` cluster ids (0, 1, ... in order
    of creation).
    """
    threshold = check_settings(threshold, 0, 1, 1.0, 1, 0)[0]
    if len(vectors) == 0:
        return np.zeros(0, np.int64)
    means, counts = [], []
    for i, v in enumerate(vectors):
        t = torch.as_tensor(v).detach().to("cpu", torch.float64)
        if t.dim() != 2 or t.shape[0] == 0:
            raise ValueError(f"vectors[{i}] must be [patches >= 1, D], got shape {tuple(t.shape)}")
        means.append(t.mean(0))
        counts.append(t.shape[0])
    dims = {m.shape[0] for m in means}
    if len(dims) != 1:
        raise ValueError(f"every neuron's vectors must have the same length, got {sorted(dims)}")
    m = torch.stack(means)  # [N, D] mean patch vector per neuron
    w = torch.tensor(counts, dtype=torch.float64)
    sums = torch.zeros_like(m)  # per cluster: sum of its patch vectors (= sum of count * mean)
    sizes = torch.zeros(len(m), dtype=torch.float64)  # per cluster: number of patches
    assign = np.zeros(len(m), np.int64)
    k = 0
    for i in range(len(m)):
        if k:
            sims = (sums[:k] @ m[i] / sizes[:k]).clamp(-1.0, 1.0)
            best = int(torch.argmax(sims))
            if float(sims[best]) > threshold:
                assign[i] = best
                sums[best] += w[i] * m[i]
                sizes[best] += w[i]
                continue
        assign[i] = k
        sums[k] = w[i] * m[i]
        sizes[k] = w[i]
        k += 1
    return assign


# ------------------------------------------------------------------ embedding


class _Reached(Exception):
    """Raised by the embedding hook to end the forward pass at the embedding layer."""


class _Embedder:
    """Unit vectors from the output of one layer of ``model``; the forward stops at that layer."""

    def __init__(self, model: nn.Module, layer: str, device: torch.device):
        self.model = model
        self.layer_name = layer
        self.device = device
        self._out: torch.Tensor | None = None
        get_layer(model, layer).register_forward_hook(self._hook)

    def _hook(self, _module, _inputs, output):
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"layer {self.layer_name!r} returns {type(output).__name__}, not a tensor")
        self._out = output
        raise _Reached

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → ``[B, D]`` float32 unit vectors (differentiable unless in inference mode)."""
        self._out = None
        with autocast(self.device):
            try:
                self.model(x)
            except _Reached:
                pass
        if self._out is None:
            raise ValueError(f"embedding layer {self.layer_name!r} is not used in the model's forward pass")
        v, self._out = pool_features(self._out.float()), None
        return torch.nn.functional.normalize(v, dim=1)


# ------------------------------------------------------------------ pairs


def _sample_pairs(counts: np.ndarray, pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``pairs`` same-neuron and ``pairs`` different-neuron patch pairs as global patch indices
    ``int64 [2 * pairs, 2]`` (same pairs first) and ``bool [2 * pairs]`` (True = same neuron)."""
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = len(counts)
    # same neuron: two different patches of one neuron
    who = rng.integers(n, size=pairs)
    a = rng.integers(counts[who])
    b = rng.integers(counts[who] - 1)
    b = b + (b >= a)
    same = np.stack([offsets[who] + a, offsets[who] + b], 1)
    # different neurons: two different neurons, one patch of each
    u = rng.integers(n, size=pairs)
    v = rng.integers(n - 1, size=pairs)
    v = v + (v >= u)
    diff = np.stack([offsets[u] + rng.integers(counts[u]), offsets[v] + rng.integers(counts[v])], 1)
    return np.concatenate([same, diff]).astype(np.int64), np.r_[np.ones(pairs, bool), np.zeros(pairs, bool)]


def pair_loss(dots: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Eq. 1 averaged over pairs: ``-log(d)`` for same-neuron pairs, ``-log(1 - d)`` for the
    others, with ``d`` the dot product clamped into ``[EPS, 1 - EPS]``."""
    d = dots.clamp(EPS, 1 - EPS)
    return -torch.where(same, torch.log(d), torch.log1p(-d)).mean()


# ------------------------------------------------------------------ main


def cluster_neurons(
    model: nn.Module,
    inputs: Mapping[tuple[str, int], torch.Tensor],
    embedding_layer: str,
    device: str | torch.device = "auto",
    threshold: float = 0.9,
    epochs: int = 10,
    pairs: int = 10_000,
    lr: float = 1e-4,
    batch_size: int = 128,
    seed: int = 0,
    emit: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
) -> NeuronClusters:
    """Train a patch embedding from a copy of ``model`` and group neurons by their concept patches.

    Parameters
    ----------
    model : nn.Module
        The audited classifier. It is deep-copied; the original is never modified.
    inputs : mapping
        ``(layer, neuron)`` → ``[n_i, 3, H, W]`` float model inputs: the neuron's concept patches as
        the model sees them (only the patch visible, the rest zero = the dataset mean after
        normalisation). Every neuron needs ``n_i >= 2`` patches when training (``epochs > 0``: a
        same-neuron pair is two different patches) and at least one otherwise; all the same H, W.
    embedding_layer : str
        Layer of ``model`` whose (pooled, L2-normalised) output is a patch's vector.
    threshold : float in (0, 1]
        A neuron joins the most similar cluster only if the mean inner product exceeds this.
    epochs, pairs, lr, batch_size, seed
        Training: ``epochs`` passes (0 = group with the classifier's own embedding) over
        ``pairs`` same-neuron plus ``pairs`` different-neuron pairs, SGD with ``lr``, minibatches of
        ``batch_size`` pairs, everything seeded by ``seed``.
    emit : callable, optional
        Receives ``{"type": "step", "progress": p, "epoch": e, "loss": l}`` a few dozen times
        (``loss`` = mean loss so far in epoch ``e``; ``None`` before training); ``progress`` ends at 1.
    stop : threading.Event, optional
        Checked between batches; when set, raises :class:`dashwidgets.runtime.Cancelled`.

    Returns
    -------
    NeuronClusters
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    threshold, epochs, pairs, lr, batch_size, seed = check_settings(threshold, epochs, pairs, lr, batch_size, seed)
    if not isinstance(embedding_layer, str):
        raise TypeError(f"embedding_layer must be a layer name, got {embedding_layer!r}")
    get_layer(model, embedding_layer)  # unknown names fail here, listing the conv layers
    keys, patches, counts = _check_inputs(inputs, need_pairs=epochs > 0)
    device = resolve_device(device)
    emit = emit or (lambda ev: None)
    train = epochs > 0 and len(keys) > 1  # one neuron is one cluster whatever the embedding

    net = copy.deepcopy(model).to(device).eval()
    for p in net.parameters():
        p.requires_grad_(True)
    embed = _Embedder(net, embedding_layer, device)
    x_all = patches.to(device)
    rng = np.random.default_rng(seed)
    losses: list[float] = []
    if train:
        losses = _train(embed, x_all, counts, pairs, epochs, lr, batch_size, rng, device, emit, stop)
    if stop is not None and stop.is_set():
        raise Cancelled()
    with torch.inference_mode():
        vecs = torch.cat([embed(x_all[s : s + 2 * batch_size]) for s in range(0, len(x_all), 2 * batch_size)])
    vecs = vecs.detach().cpu()
    groups = group_neurons(list(torch.split(vecs, counts.tolist())), threshold)
    emit({"type": "step", "progress": 1.0, "epoch": epochs, "loss": losses[-1] if losses else None})
    layers, neurons = pd.Series([k[0] for k in keys], dtype=object), np.array([k[1] for k in keys], np.int64)
    table = pd.DataFrame({"layer": layers, "neuron": neurons, "cluster": groups})
    return NeuronClusters(table=table, threshold=threshold, losses=losses)


def _train(embed, x_all, counts, pairs, epochs, lr, batch_size, rng, device, emit, stop) -> list[float]:
    """SGD on Eq. 1; returns the mean loss per pair of every epoch."""
    idx, same = _sample_pairs(counts, pairs, rng)
    idx_t = torch.from_numpy(idx)
    same_t = torch.from_numpy(same)
    params = [p for p in embed.model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr)
    scaler = torch.amp.GradScaler("cuda") if needs_grad_scaler(device) else None
    n = len(idx)
    per_epoch = math.ceil(n / batch_size)
    total = per_epoch * epochs + 1  # the last step is embedding and grouping
    every = max(1, total // 50)
    losses: list[float] = []
    step = 0
    for epoch in range(1, epochs + 1):
        order = torch.from_numpy(rng.permutation(n))
        running = torch.zeros((), dtype=torch.float64, device=device)
        seen = 0
        for b in range(per_epoch):
            if stop is not None and stop.is_set():
                raise Cancelled()
            sel = order[b * batch_size : (b + 1) * batch_size]
            uniq, inv = torch.unique(idx_t[sel], return_inverse=True)
            v = embed(x_all[uniq.to(x_all.device)])
            inv = inv.to(device)
            dots = (v[inv[:, 0]] * v[inv[:, 1]]).sum(1)
            loss = pair_loss(dots, same_t[sel].to(device))
            optimizer_step(loss, opt, scaler)
            running += loss.detach().double() * len(sel)
            seen += len(sel)
            step += 1
            if step % every == 0 or b == per_epoch - 1:
                mean = float(running.item()) / seen
                if not math.isfinite(mean):
                    raise FloatingPointError(f"the patch embedding diverged in epoch {epoch}: lower lr ({lr})")
                emit({"type": "step", "progress": step / total, "epoch": epoch, "loss": mean})
        losses.append(float(running.item()) / n)
    return losses


# ------------------------------------------------------------------ validation


def check_settings(threshold, epochs, pairs, lr, batch_size, seed) -> tuple[float, int, int, float, int, int]:
    """:func:`cluster_neurons`' settings, checked (a caller can check them before a job starts)."""
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1] (a mean inner product of unit vectors), got {threshold!r}")
    return (float(threshold), _check_int("epochs", epochs, 0), _check_int("pairs", pairs, 1), float(lr),
            _check_int("batch_size", batch_size, 1), _check_int("seed", seed, 0))


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_inputs(inputs, need_pairs: bool) -> tuple[list[tuple[str, int]], torch.Tensor, np.ndarray]:
    """Keys, all patches stacked ``[sum n_i, 3, H, W] float32`` (neurons in input order) and counts."""
    if not isinstance(inputs, Mapping) or not inputs:
        raise ValueError(f"inputs must be a non-empty dict of (layer, neuron) -> patch images, got {inputs!r:.80}")
    keys, tensors, counts = [], [], []
    shape = None
    for key, x in inputs.items():
        if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)) or not (
            isinstance(key[1], numbers.Integral) and not isinstance(key[1], bool)
        ):
            raise ValueError(f"inputs keys must be (layer name, neuron index) tuples, got {key!r}")
        t = torch.as_tensor(x) if isinstance(x, np.ndarray) else x
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"inputs[{key!r}] must be a tensor [n, 3, H, W], got {type(x).__name__}")
        if not t.is_floating_point():
            raise ValueError(f"inputs[{key!r}] must be float model inputs (normalised), got dtype {t.dtype}")
        if t.dim() != 4:
            raise ValueError(f"inputs[{key!r}] must be [patches, channels, H, W], got shape {tuple(t.shape)}")
        if shape is None:
            shape = tuple(t.shape[1:])
        elif tuple(t.shape[1:]) != shape:
            raise ValueError(
                f"inputs[{key!r}] has images of shape {tuple(t.shape[1:])} but the first neuron's are {shape}: "
                "every patch image must have the same channels, H and W"
            )
        if t.shape[0] == 0 or (need_pairs and t.shape[0] < 2):
            raise ValueError(
                f"neuron {key!r} has {t.shape[0]} concept patch(es): training needs at least 2 per neuron "
                "(a same-neuron pair is two different patches); pass epochs=0 to group without training"
                if need_pairs
                else f"neuron {key!r} has no concept patch"
            )
        if not torch.isfinite(t).all():
            raise ValueError(f"inputs[{key!r}] contains NaN or infinite values")
        keys.append((key[0], int(key[1])))
        tensors.append(t.detach().to("cpu", torch.float32))
        counts.append(int(t.shape[0]))
    return keys, torch.cat(tensors), np.array(counts, np.int64)
