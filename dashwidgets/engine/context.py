"""What every engine service shares: the images on the device, exactly as the model sees them,
the model template and its embedding layer, and the checks of common arguments."""

from __future__ import annotations

import copy
import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..datasets.imageset import SPLITS, ImageSet
from ..models.layers import capture, get_layer, last_conv
from ..runtime.device import channels_last_format, check_compile, mark_compile

_GPU_RESIDENT_BYTES = 2 << 30  # datasets smaller than this live on the GPU as uint8

# eval_batch_size="auto": as many images as fit this many bytes of float32 input, at most 512.
# 512 (the old fixed default) is exactly 6 MiB at 32 px, so 32-px results stay bit-identical.
# CPU: 6 MiB. Measured (benchmarks/README.md "Eval batch size"), SmallCNN inference on the CPU
# is fastest with small batches -- 512 images was the slowest batch size at 32, 64 and 128 px
# (activations fall out of cache) -- so the budget is the smallest that keeps 512 at 32 px:
# 128 images at 64 px, 32 at 128 px, 10 at 224 px (where 512 would be 308 MB of input).
# CUDA: 256 MiB (512 images up to 128 px, 445 at 224 px): a GPU needs large batches to fill its
# cores and has the memory for them (not yet measured on a GPU: benchmarks/gpu.sh).
AUTO_BATCH_MAX = 512
AUTO_BATCH_BYTES = {"cpu": 6 << 20, "cuda": 256 << 20}


def resolve_eval_batch_size(value, image_size: tuple[int, int], device: torch.device) -> int:
    """``value`` if it is a positive int; for ``"auto"``, the largest batch of at most
    :data:`AUTO_BATCH_MAX` images whose float32 inputs fit the device's byte budget."""
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"eval_batch_size must be a positive integer or 'auto', got {value!r}")
        per_image = 3 * 4 * int(image_size[0]) * int(image_size[1])
        budget = AUTO_BATCH_BYTES.get(device.type, AUTO_BATCH_BYTES["cpu"])
        return max(1, min(AUTO_BATCH_MAX, budget // per_image))
    return check_positive_int("eval_batch_size", value)


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int (numpy integers too); TypeError/ValueError name ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if int(value) < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


class MappedRows:
    """uint8 image rows read batch by batch from numpy arrays (a memory-mapped dataset, plus
    augmented images appended after it), indexable by an index tensor like the in-memory
    tensor it stands in for: only the rows a batch needs are read, in file order."""

    device = torch.device("cpu")

    def __init__(self, *parts: np.ndarray):
        self.parts = parts
        self.starts = np.cumsum([0, *(len(p) for p in parts)])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def numel(self) -> int:
        return len(self) * int(np.prod(self.parts[0].shape[1:]))

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        i = idx.cpu().numpy().reshape(-1)
        order = np.argsort(i, kind="stable")  # sequential reads: the page cache's best case
        rows = np.empty((len(i), *self.parts[0].shape[1:]), self.parts[0].dtype)
        si = i[order]
        for k, part in enumerate(self.parts):
            lo, hi = np.searchsorted(si, [self.starts[k], self.starts[k + 1]])
            if hi > lo:
                rows[order[lo:hi]] = part[si[lo:hi] - self.starts[k]]
        return torch.from_numpy(rows)

    def plus(self, extra: np.ndarray) -> MappedRows:
        """These rows followed by ``extra`` (indexed after them)."""
        return MappedRows(*self.parts, extra)


# A normalisation sample larger than this as float32 is read in chunks. 128 MB keeps the embedded
# 32-px benchmarks' sample (6,000 images, 70 MB) one array, as before chunking existed: the chunked
# float64 sums differ in the last bits, and that alone moved a replication figure (texture-digits
# translate debias gain 19.4 points against the asserted 20). 5,000 images of 64 px (245 MB) are chunked.
_STATS_BYTES = 128 << 20


def _channel_stats(images: np.ndarray, idx: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (>= 1e-3) of ``images[idx]`` in [0, 1]. Up to 128 MB of float32
    at once, as one array; a larger sample (5,000 images of 64 px are 245 MB) is read in chunks,
    with float64 sums, so building an Engine over a large set stays in bounded memory."""
    per_image = 4 * int(np.prod(images.shape[1:]))
    if len(idx) * per_image <= _STATS_BYTES:
        sample = images[idx].astype(np.float32) / 255.0
        return sample.mean(axis=(0, 2, 3)).tolist(), np.maximum(sample.std(axis=(0, 2, 3)), 1e-3).tolist()
    total, sq, count = np.zeros(3), np.zeros(3), 0
    step = max(1, _STATS_BYTES // (4 * per_image))
    for i in range(0, len(idx), step):
        chunk = images[idx[i : i + step]].astype(np.float64) / 255.0
        total += chunk.sum(axis=(0, 2, 3))
        sq += np.square(chunk).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(sq / count - mean**2, 0.0))
    return mean.tolist(), np.maximum(std, 1e-3).tolist()


class DataContext:
    """The dataset as tensors on ``device`` plus the model template (see :class:`Engine`)."""

    def __init__(
        self,
        dataset: ImageSet,
        template: nn.Module,
        device: torch.device,
        embedding_layer: str | None,
        normalize,
        eval_batch_size: int | str,
        compile: bool = False,
    ):
        self.dataset = dataset
        self.device = device
        self.eval_batch_size = resolve_eval_batch_size(eval_batch_size, dataset.image_size, device)
        self.compile = check_compile(compile, device)
        # the engine's own copy: moving it to the device, channels_last, a reopened workspace's
        # initial weights and the compile flag below never touch the caller's module, so two
        # engines on one model object (say compile=True and False) do not reach into each other
        self.template = copy.deepcopy(template).to(device).eval()
        # every model copied from the template (versions, training runs) runs through
        # torch.compile when this is set (see runtime.device.compiled_forward)
        mark_compile(self.template, self.compile)
        if embedding_layer is not None and not isinstance(embedding_layer, str):
            raise TypeError(f"embedding_layer must be a layer name, got {embedding_layer!r}")
        self.embedding_layer = embedding_layer or last_conv(self.template)
        get_layer(self.template, self.embedding_layer)  # unknown names fail here, clearly
        self.mean, self.std, self.normalize_json = self._normalisation(normalize)
        if dataset.mapped:  # a memory-mapped store: read batch by batch, never loaded whole
            images = MappedRows(dataset.images)
        else:
            images = torch.from_numpy(dataset.images)
            if device.type != "cpu" and images.numel() <= _GPU_RESIDENT_BYTES:
                images = images.to(device)
            # larger sets stay where they are (pinning them whole would copy them: 2x the RAM);
            # each batch is gathered into pinned memory instead (see inputs_t)
        self.images = images
        # channels_last on CUDA: cuDNN's NHWC kernels (tensor cores under autocast), and no
        # layout conversion before every convolution
        self.memory_format = channels_last_format(self.template, device)
        if self.memory_format is not None:
            self.template.to(memory_format=self.memory_format)
        self.targets = torch.from_numpy(dataset.labels).to(device)
        # x_normalised = uint8 * scale + shift, one fused multiply-add per batch
        self.scale = (1.0 / (255.0 * self.std)).to(device)
        self.shift = (-self.mean / self.std).to(device)
        self._check_model()  # also materialises lazy parameters before the store's snapshot

    def _normalisation(self, normalize) -> tuple[torch.Tensor, torch.Tensor, list]:
        if normalize is None:
            mean, std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
        elif isinstance(normalize, str):
            if normalize != "dataset":
                raise ValueError(f"normalize must be 'dataset', None or (mean, std), got {normalize!r}")
            idx = self.dataset.indices("train")
            idx = idx if len(idx) else self.dataset.indices()
            mean, std = _channel_stats(self.dataset.images, idx[:: max(1, len(idx) // 5000)])
        else:
            try:
                mean, std = (list(map(float, normalize[0])), list(map(float, normalize[1])))
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"normalize must be 'dataset', None or (mean, std), got {normalize!r}") from None
            if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
                raise ValueError(f"normalize needs 3 means and 3 positive stds, got {normalize!r}")
        m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        return m, s, [list(mean), list(std)]

    def _check_model(self) -> None:
        idx = torch.arange(min(2, len(self.dataset)))
        try:
            with torch.inference_mode(), capture(self.template, self.embedding_layer) as store:
                out = self.template(self.inputs_t(idx))
        except Exception as e:  # noqa: BLE001 - any failure here is a model/data mismatch
            h, w = self.dataset.image_size
            raise ValueError(
                f"the model failed on a [{len(idx)}, 3, {h}, {w}] input batch: {type(e).__name__}: {e}"
            ) from e
        if not isinstance(out, torch.Tensor) or out.dim() != 2:
            raise ValueError(f"the model must return [batch, classes] logits, got {getattr(out, 'shape', type(out))}")
        if out.shape[1] != self.dataset.num_classes:
            raise ValueError(
                f"the model outputs {out.shape[1]} classes but the dataset has {self.dataset.num_classes} "
                f"({self.dataset.classes[:5]}...); replace the model's last layer"
            )
        if not store:
            raise ValueError(f"embedding layer {self.embedding_layer!r} is not used in the model's forward pass")

    # ---------------------------------------------------------------- inputs
    def inputs_t(self, idx: torch.Tensor) -> torch.Tensor:
        """Normalised float inputs for an index tensor (the hot path: no checks)."""
        return self._normalised(self.images, idx)

    def _normalised(self, images: torch.Tensor | MappedRows, idx: torch.Tensor) -> torch.Tensor:
        # host → device index copies need not wait; device → host ones must (the values are read)
        idx = idx.to(images.device, non_blocking=idx.device.type == "cpu")
        # index_select, not images[idx]: on the CPU advanced indexing of a small batch costs ~14x
        # more (0.69 vs 0.05 ms for 32 images of 32 px), a fixed cost every batch pays
        x = images.index_select(0, idx.reshape(-1)) if isinstance(images, torch.Tensor) else images[idx]
        if x.device.type == "cpu" and self.device.type == "cuda":
            x = x.pin_memory()  # a batch gathered on the host: pinned, so the copy below overlaps
        x = x.to(self.device, non_blocking=True)
        if self.memory_format is not None:
            x = x.contiguous(memory_format=self.memory_format)  # on uint8: a quarter of the bytes
        return x.float().mul_(self.scale).add_(self.shift)

    def images_plus(self, extra: np.ndarray) -> torch.Tensor | MappedRows:
        """The dataset's images followed by ``extra [M, 3, H, W] uint8`` (indexed after them),
        where the dataset's images live (a memory-mapped dataset stays on disk)."""
        if isinstance(self.images, MappedRows):
            return self.images.plus(extra)
        return torch.cat([self.images, torch.from_numpy(extra).to(self.images.device)])

    def inputs(self, idx: Sequence[int] | np.ndarray) -> torch.Tensor:
        return self.inputs_t(torch.from_numpy(self.dataset.check_indices(idx)))

    def inputs_of(self, images: torch.Tensor):
        """``inputs(idx)`` over other uint8 images (e.g. the dataset plus augmentations)."""

        def inputs(idx: torch.Tensor) -> torch.Tensor:
            return self._normalised(images, idx)

        return inputs

    @property
    def black(self) -> torch.Tensor:
        """A black image in model input space ``[1, 3, H, W]``."""
        return self.shift.expand(1, 3, *self.dataset.image_size)

    # ---------------------------------------------------------------- argument checks
    def check_split(self, split) -> str | None:
        """``split`` if it is None or one of SPLITS; a clear error otherwise."""
        if split is not None and (not isinstance(split, str) or split not in SPLITS):
            raise ValueError(f"unknown split {split!r}; expected one of {list(SPLITS)} or None (all images)")
        return split

    def check_layer(self, model: nn.Module, layer) -> str:
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a layer name (str), got {layer!r}")
        get_layer(model, layer)
        return layer
