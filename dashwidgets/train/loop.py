"""The training loop shared by blocking and background training."""

from __future__ import annotations

import math
import numbers
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..runtime.device import autocast, compiled_forward, needs_grad_scaler, optimizer_step
from ..runtime.jobs import Cancelled

OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (recorded in the version's ``hparams``)."""

    epochs: int = 6
    lr: float = 3e-3
    batch_size: int = 128
    optimizer: str = "adam"
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        # numpy scalars (np.float32(1e-3), np.int64(3)) are accepted and stored as Python numbers
        for name in ("epochs", "batch_size", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be a{' positive' if name != 'seed' else 'n'} integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name, what in (("lr", "a positive number"), ("weight_decay", "a non-negative number")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
                raise ValueError(f"{name} must be {what}, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}")
        if not -(2**63) <= self.seed < 2**64:  # torch.manual_seed's range; outside it fails mid-run
            raise ValueError(f"seed must be an integer in [-2**63, 2**64), got {self.seed!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.lr > 1e6:  # Adam's step lr / (1 - beta1) then overflows float32 inside torch (RuntimeError)
            raise ValueError(f"lr must be a positive number up to 1e6, got {self.lr!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be a non-negative number, got {self.weight_decay!r}")

    @classmethod
    def from_kwargs(cls, **hparams) -> TrainConfig:
        """A config from keyword arguments; an unknown name is refused with the known ones."""
        unknown = sorted(set(hparams) - set(cls.__dataclass_fields__))
        if unknown:
            raise TypeError(f"unknown training hyper-parameter(s) {unknown}; known: {list(cls.__dataclass_fields__)}")
        return cls(**hparams)

    def to_dict(self) -> dict:
        return asdict(self)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def fit(
    model: nn.Module,
    inputs: Callable[[torch.Tensor], torch.Tensor],
    targets: torch.Tensor,
    train_idx: np.ndarray,
    cfg: TrainConfig,
    device: torch.device,
    validate: Callable[[nn.Module], tuple[float, float]] | None = None,
    emit: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
) -> list[dict]:
    """Train ``model`` in place on ``train_idx``; return the per-epoch history.

    Parameters
    ----------
    inputs : callable
        ``inputs(idx) -> [B, 3, H, W] float`` on ``device`` for an index tensor ``idx``.
    targets : torch.Tensor
        ``[N] int64`` labels of every image, on ``device``.
    validate : callable, optional
        ``validate(model) -> (val_loss, val_accuracy)``, called after every epoch.
    emit : callable, optional
        Receives progress events: ``start``, ``batch`` (with ``loss`` and ``progress``) and
        ``epoch`` (with ``train_loss``, ``val_loss``, ``val_accuracy``, ``seconds``).
    stop : threading.Event, optional
        Checked before every batch; when set, raises :class:`Cancelled`.
    """
    if len(train_idx) == 0:
        raise ValueError("no training images: the dataset's 'train' split is empty")
    # Seed dropout and other stochastic layers without touching the caller's global RNG state.
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(cfg.seed))
        return _fit(model, inputs, targets, train_idx, cfg, device, validate, emit or (lambda ev: None), stop)


def _fit(model, inputs, targets, train_idx, cfg, device, validate, emit, stop) -> list[dict]:
    gen = torch.Generator().manual_seed(int(cfg.seed))
    opt = make_optimizer(model, cfg)
    # Engine(compile=True): torch.compile of the same module, so the Parameters trained are the
    # model's own; the epoch's last, shorter batch compiles once more
    forward = compiled_forward(model)
    scaler = torch.amp.GradScaler("cuda") if needs_grad_scaler(device) else None
    idx_all = torch.as_tensor(train_idx, dtype=torch.int64)
    n = len(idx_all)
    per_epoch = math.ceil(n / cfg.batch_size)
    total = per_epoch * cfg.epochs
    # Reading a loss value on an accelerator waits for every queued step: there the loss of every
    # 10th batch is copied without waiting and read 10 batches later (see _LossReader).
    loss_every = 1 if device.type == "cpu" else 10
    reader = _LossReader(device)
    emit({"type": "start", "epochs": cfg.epochs, "batches_per_epoch": per_epoch, "progress": 0.0})
    history: list[dict] = []
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = idx_all[torch.randperm(n, generator=gen)]
        if device.type == "cuda":
            order = order.pin_memory()  # its batches copy to the device without waiting
        # the epoch's labels in batch order, gathered once (not one index copy per batch)
        y_order = targets[order.to(targets.device, non_blocking=True)]
        running = torch.zeros((), device=device)
        for b in range(per_epoch):
            if stop is not None and stop.is_set():
                raise Cancelled()
            sl = slice(b * cfg.batch_size, (b + 1) * cfg.batch_size)
            idx = order[sl]
            x = inputs(idx)
            with autocast(device):
                loss = F.cross_entropy(forward(x), y_order[sl])
            optimizer_step(loss, opt, scaler)
            running += loss.detach().float() * len(idx)
            step += 1
            ev = {"type": "batch", "epoch": epoch, "batch": b + 1, "progress": step / total}
            if step % loss_every == 0:
                read = reader.swap(loss, (epoch, b + 1))
                if read is not None:
                    loss_val, (at_epoch, at_batch) = read
                    if not math.isfinite(loss_val):
                        raise FloatingPointError(
                            f"training diverged: loss is {loss_val} at epoch {at_epoch}, batch {at_batch}; "
                            f"lower lr (now {cfg.lr})"
                        )
                    ev["loss"] = loss_val
            emit(ev)
        train_loss = float(running.item()) / n
        val_loss, val_acc = validate(model) if validate is not None else (None, None)
        rec = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "seconds": time.perf_counter() - t0,
        }
        history.append(rec)
        emit({"type": "epoch", **rec, "progress": step / total})
    model.eval()
    return history


class _LossReader:
    """Reads a training loss without stalling the device: on CPU, at once; on CUDA, the loss is
    copied into pinned memory without waiting and the value read at the next ``swap``, by which
    time the device has long finished that step (waiting on its event only, not on the queue)."""

    def __init__(self, device: torch.device):
        self.lazy = device.type == "cuda"
        self.pending = None

    def swap(self, loss: torch.Tensor, tag) -> tuple[float, object] | None:
        """Hand over this step's ``loss``; get back (value, tag) of an earlier one (or of this one,
        on CPU), or None when there is none yet."""
        if not self.lazy:
            return float(loss.item()), tag
        buf = torch.empty((), dtype=torch.float32, pin_memory=True)
        buf.copy_(loss.detach(), non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        previous, self.pending = self.pending, (buf, done, tag)
        if previous is None:
            return None
        buf, done, tag = previous
        done.synchronize()
        return float(buf), tag
