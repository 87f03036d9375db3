"""Engine: the one hub that holds the data, every model version and every cached result."""

from __future__ import annotations

import copy
import datetime as _dt
import inspect
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..audit.cluster import Cluster, Clustering, check_k, kmeans
from ..audit.compare import Comparison, Trace, compare, trace
from ..audit.projection import TSNEMap
from ..audit.report import BiasAudit, bias_audit
from ..augment.record import METHODS as AUG_METHODS
from ..augment.record import Augmentation
from ..augment.translate import STEPS as TRANSLATE_STEPS
from ..augment.translate import Translator, generator_state, load_translator, train_translator
from ..datasets.imageset import ImageSet
from ..explain.bias import BiasReport, bias_report
from ..explain.metrics import rma, rra
from ..explain.perturbation import AOPCResult, aopc
from ..models.cnn import build_model, default_model
from ..models.layers import capture, get_layer, last_conv
from ..models.version import ModelVersion
from ..train.loop import TrainConfig, fit
from .device import resolve_device
from .evaluation import EvalResult, run_inference
from .jobs import Cancelled, Job
from .workspace import Workspace, WorkspaceError, WorkspaceWarning, atomic_write_json

_MODEL_CACHE = 4
_GPU_RESIDENT_BYTES = 2 << 30  # datasets smaller than this live on the GPU as uint8


EVENTS = ("active", "version", "discard", "augment")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _coords_key(vid: str, mode: str) -> str:
    return vid if mode == "transform" else f"{vid}__{mode}"


def _progress_bar(total: float, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


class Engine:
    """Holds one ImageSet, one model architecture and every trained version of it.

    Parameters
    ----------
    dataset : ImageSet
        The images to audit (see :mod:`dashwidgets.datasets`).
    model : nn.Module, optional
        Any classifier mapping ``[N, 3, H, W]`` float inputs to ``[N, C]`` logits, with
        ``C == dataset.num_classes``. Default: :class:`~dashwidgets.models.SmallCNN`. Its current
        weights are the starting point of every training run without a parent.
    device : str
        ``"auto"`` (cuda, then mps, then cpu), or any torch device string.
    workspace : path, optional
        Folder that keeps every finished version; an existing workspace made for the same
        dataset is resumed. See :meth:`open` to restore one after a kernel restart.
    embedding_layer : str, optional
        Layer whose globally average-pooled output is the embedding (default: the last conv).
    normalize : "dataset", None or (mean, std)
        Input normalisation after scaling to [0, 1]: per-channel statistics of the train split,
        none, or given values (e.g. ImageNet's).
    seed : int
        Seed of the default model's initial weights.
    """

    def __init__(
        self,
        dataset: ImageSet,
        model: nn.Module | None = None,
        device: str | torch.device = "auto",
        workspace: str | Path | None = None,
        embedding_layer: str | None = None,
        normalize: str | tuple | None = "dataset",
        eval_batch_size: int = 512,
        seed: int = 0,
    ):
        if not isinstance(dataset, ImageSet):
            raise TypeError(
                f"dataset must be a dashwidgets ImageSet, got {type(dataset).__name__}; "
                "use dw.datasets.load, from_tensors, from_folder or from_torchvision"
            )
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.dataset = dataset
        self.device = resolve_device(device)
        self.eval_batch_size = int(eval_batch_size)
        self.seed = int(seed)
        self._lock = threading.RLock()
        self._versions: OrderedDict[str, ModelVersion] = OrderedDict()
        self._weights: dict[str, dict[str, torch.Tensor]] = {}
        self._modules: OrderedDict[str, nn.Module] = OrderedDict()
        self._eval_cache: dict[tuple, EvalResult] = {}
        self._attr_cache: dict[tuple, torch.Tensor] = {}
        self._coords: dict[str, np.ndarray] = {}
        self._map: TSNEMap | None = None
        self._map_version: str | None = None
        self._history: list[dict] = []
        self._next_id = 1
        self._active: str | None = None  # pinned active version; None: the latest
        self._augmentations: OrderedDict[str, Augmentation] = OrderedDict()
        self._next_aug = 1
        self._cluster_cache: dict[tuple, Clustering] = {}
        self._translators: dict[str, Translator] = {}
        self._listeners: dict[str, list[Callable[[], Callable | None]]] = {e: [] for e in EVENTS}
        self.workspace_errors: list[str] = []

        if model is None:
            model = default_model(dataset.num_classes, seed=self.seed)
            self._model_spec = model.spec()
        else:
            spec = getattr(model, "spec", None)
            self._model_spec = spec() if callable(spec) else {
                "kind": "custom",
                "class": f"{type(model).__module__}.{type(model).__qualname__}",
            }
        self._template = model.to(self.device).eval()
        self.embedding_layer = embedding_layer or last_conv(self._template)
        get_layer(self._template, self.embedding_layer)  # unknown names fail here, clearly

        self._mean, self._std = self._normalisation(normalize)
        self._setup_tensors()
        self._check_model()  # also materialises lazy parameters before the snapshot below
        self._init_state = {k: v.detach().cpu().clone() for k, v in self._template.state_dict().items()}

        self._workspace = Workspace(workspace) if workspace is not None else None
        if self._workspace is not None:
            self._attach_workspace()

    # ================================================================== construction
    @classmethod
    def open(
        cls,
        workspace: str | Path,
        model: nn.Module | None = None,
        device: str | torch.device = "auto",
        **kwargs: Any,
    ) -> Engine:
        """Restore an Engine (dataset, every finished version, the projection map) from a folder.

        A version whose files are corrupted is reported by name (a :class:`WorkspaceWarning` and
        ``engine.workspace_errors``); the other versions still load. ``model`` is needed only
        when the workspace was made with a custom architecture.
        """
        ws = Workspace(workspace)
        header = ws.read_header()
        dataset = ws.read_dataset(meta=header.get("dataset", {}).get("meta", {}))
        spec = header.get("model", {})
        if model is None:
            if spec.get("kind") != "SmallCNN":
                raise WorkspaceError(
                    f"workspace {ws.root} was made with a custom model ({spec.get('class', '?')}); "
                    "pass model=... with the same architecture to Engine.open"
                )
            model = build_model(spec)
        norm = header.get("normalize")
        return cls(
            dataset,
            model=model,
            device=device,
            workspace=workspace,
            embedding_layer=kwargs.pop("embedding_layer", header.get("embedding_layer")),
            normalize=(tuple(norm[0]), tuple(norm[1])) if norm else None,
            seed=kwargs.pop("seed", header.get("seed", 0)),
            **kwargs,
        )

    def _normalisation(self, normalize) -> tuple[torch.Tensor, torch.Tensor]:
        if normalize is None:
            mean, std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
        elif isinstance(normalize, str):
            if normalize != "dataset":
                raise ValueError(f"normalize must be 'dataset', None or (mean, std), got {normalize!r}")
            idx = self.dataset.indices("train")
            idx = idx if len(idx) else self.dataset.indices()
            sample = self.dataset.images[idx[:: max(1, len(idx) // 5000)]].astype(np.float32) / 255.0
            mean = sample.mean(axis=(0, 2, 3)).tolist()
            std = np.maximum(sample.std(axis=(0, 2, 3)), 1e-3).tolist()
        else:
            try:
                mean, std = (list(map(float, normalize[0])), list(map(float, normalize[1])))
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"normalize must be 'dataset', None or (mean, std), got {normalize!r}") from None
            if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
                raise ValueError(f"normalize needs 3 means and 3 positive stds, got {normalize!r}")
        self._normalize_json = [list(mean), list(std)]
        m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        return m, s

    def _setup_tensors(self) -> None:
        images = torch.from_numpy(self.dataset.images)
        if self.device.type != "cpu" and images.numel() <= _GPU_RESIDENT_BYTES:
            images = images.to(self.device)
        elif self.device.type == "cuda":
            images = images.pin_memory()
        self._images = images
        self._targets = torch.from_numpy(self.dataset.labels).to(self.device)
        # x_normalised = uint8 * scale + shift, one fused multiply-add per batch
        self._scale = (1.0 / (255.0 * self._std)).to(self.device)
        self._shift = (-self._mean / self._std).to(self.device)

    def _check_model(self) -> None:
        idx = torch.arange(min(2, len(self.dataset)))
        try:
            with torch.inference_mode(), capture(self._template, self.embedding_layer) as store:
                out = self._template(self._inputs(idx))
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

    # ================================================================== workspace
    def _header(self) -> dict:
        return {
            "dataset": {
                "name": self.dataset.name,
                "fingerprint": self.dataset.fingerprint(),
                "meta": self.dataset.meta,
                "size": len(self.dataset),
            },
            "model": self._model_spec,
            "embedding_layer": self.embedding_layer,
            "normalize": self._normalize_json,
            "seed": self.seed,
            "created": _now(),
        }

    def _attach_workspace(self) -> None:
        ws = self._workspace
        if not ws.exists():
            ws.create(self._header(), self.dataset)
            ws.save_state(ws.root / "init.pt", self._init_state)
            return
        header = ws.read_header()
        fp = header.get("dataset", {}).get("fingerprint")
        if fp != self.dataset.fingerprint():
            raise WorkspaceError(
                f"workspace {ws.root} was made for another dataset ({header['dataset'].get('name')!r}, "
                f"fingerprint {fp}); this one is {self.dataset.name!r} ({self.dataset.fingerprint()}). "
                "Choose another folder or open it with dw.Engine.open"
            )
        made_with = header.get("model", {})
        if made_with != self._model_spec:
            raise WorkspaceError(
                f"workspace {ws.root} was made with model {made_with}, not {self._model_spec}; "
                "choose another folder or pass the same architecture"
            )
        init = ws.root / "init.pt"
        if init.exists():
            try:
                state = torch.load(init, map_location="cpu", weights_only=True)
                self._template.load_state_dict(state)
                self._init_state = {k: v.clone() for k, v in state.items()}
            except Exception as e:  # noqa: BLE001
                self.workspace_errors.append(f"corrupted initial weights {init}: {e}")
        loaded, errors = ws.load_versions()
        for version, state in loaded:
            try:
                scratch = copy.deepcopy(self._template)
                scratch.load_state_dict(state)
            except Exception as e:  # noqa: BLE001 - architecture mismatch, bad tensors
                errors.append(f"weights of {version.id} do not fit this model: {type(e).__name__}: {e}")
                continue
            self._versions[version.id] = version
            self._weights[version.id] = state
        self._history = ws.read_history()
        used = ws.used_ids() | {int(v[1:]) for v in self._versions}
        used |= {int(h["version"][1:]) for h in self._history if str(h.get("version", "")).startswith("v")
                 and str(h["version"])[1:].isdigit()}
        self._next_id = max(used, default=0) + 1
        augs, aug_errors = ws.load_augmentations()
        for aug in augs:
            self._augmentations[aug.id] = aug
        errors += aug_errors
        aug_ids = [int(h["augmentation"][1:]) for h in self._history if str(h.get("augmentation", ""))[1:].isdigit()]
        self._next_aug = max([*aug_ids, *(int(a[1:]) for a in self._augmentations)], default=0) + 1
        pinned = [h.get("version") for h in self._history if h.get("event") == "activate"]
        if pinned and pinned[-1] in self._versions:
            self._active = pinned[-1]
        self._restore_projection()
        self.workspace_errors += errors
        for msg in self.workspace_errors:
            warnings.warn(msg, WorkspaceWarning, stacklevel=3)

    def _restore_projection(self) -> None:
        ws = self._workspace
        path = ws.root / "projection" / "map.json"
        if not path.exists():
            return
        try:
            import json

            info = json.loads(path.read_text())
            feats, coords = ws.load_array("reference_features"), ws.load_array("reference_coords")
            if feats is None or coords is None:
                raise ValueError("reference arrays missing")
            self._map = TSNEMap.restore(feats, coords, perplexity=info.get("perplexity", 30.0), seed=info.get("seed", 0))
            self._map_version = info.get("reference")
            for vid in self._versions:
                for mode in ("transform", "aligned"):
                    key = _coords_key(vid, mode)
                    arr = ws.load_array(f"coords_{key}")
                    if arr is not None and arr.shape == (len(self.dataset), 2):
                        self._coords[key] = arr
        except Exception as e:  # noqa: BLE001 - a broken map is recomputed, not fatal
            self.workspace_errors.append(f"corrupted projection in {path.parent}: {e}; it will be recomputed")
            self._map, self._map_version, self._coords = None, None, {}

    def _record(self, event: dict) -> None:
        with self._lock:
            self._history.append({"time": _now(), **event})
            if self._workspace is not None:
                self._workspace.write_history(self._history)

    @property
    def workspace(self) -> Path | None:
        """The workspace folder, or None when versions live in memory only."""
        return self._workspace.root if self._workspace is not None else None

    # ================================================================== data
    @property
    def classes(self) -> list[str]:
        return self.dataset.classes

    def _inputs(self, idx: torch.Tensor) -> torch.Tensor:
        x = self._images[idx.to(self._images.device)]
        x = x.to(self.device, non_blocking=True)
        return x.float().mul_(self._scale).add_(self._shift)

    def inputs(self, idx: Sequence[int] | np.ndarray) -> torch.Tensor:
        """``[N, 3, H, W] float32`` on the engine's device: exactly what the model sees."""
        idx = self.dataset.check_indices(idx)
        return self._inputs(torch.from_numpy(idx))

    # ================================================================== versions
    @property
    def versions(self) -> list[ModelVersion]:
        """Every finished version, oldest first."""
        with self._lock:
            return list(self._versions.values())

    # ================================================================== active version, events
    @property
    def active(self) -> ModelVersion | None:
        """The version linked views show: the one made active last (``eng.active = v``), or the
        latest version while none was (None before any training). Setting it emits ``"active"``
        and is kept in the workspace's history."""
        with self._lock:
            if self._active is not None and self._active in self._versions:
                return self._versions[self._active]
            return next(reversed(self._versions.values()), None)

    @active.setter
    def active(self, v: ModelVersion | str) -> None:
        vid = self.version(v).id
        before = self.active
        with self._lock:
            self._active = vid
        self._record({"event": "activate", "version": vid})
        self._emit_active_change(before)

    def on(self, event: str, callback: Callable[[dict], None]) -> None:
        """Call ``callback(payload)`` on ``event``: ``"active"`` (``old``, ``new`` ids),
        ``"version"`` (a new ``version``), ``"discard"`` (``version``). Callbacks run in the thread
        that made the change (a training job's thread for ``"version"``); bound methods are held
        weakly, so a closed view does not leak. An exception in a callback becomes a warning."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; choose one of {list(EVENTS)}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        ref = weakref.WeakMethod(callback) if inspect.ismethod(callback) else (lambda cb=callback: cb)
        with self._lock:
            self._listeners[event].append(ref)

    def off(self, event: str, callback: Callable[[dict], None]) -> None:
        """Stop calling ``callback`` on ``event``."""
        with self._lock:
            self._listeners[event] = [r for r in self._listeners.get(event, []) if r() not in (None, callback)]

    def _emit(self, event: str, **payload: Any) -> None:
        with self._lock:
            refs = list(self._listeners[event])
        for ref in refs:
            cb = ref()
            if cb is None:
                continue
            try:
                cb({"event": event, **payload})
            except Exception as e:  # noqa: BLE001 - a broken listener must not break the engine
                warnings.warn(f"{event} listener {cb!r} failed: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
        with self._lock:  # drop listeners whose owner is gone
            self._listeners[event] = [r for r in self._listeners[event] if r() is not None]

    def _emit_active_change(self, before: ModelVersion | None) -> None:
        after = self.active
        old, new = (before.id if before else None), (after.id if after else None)
        if old != new:
            self._emit("active", old=old, new=new)

    # ================================================================== compare versions
    def compare(self, a: ModelVersion | str, b: ModelVersion | str, split: str | None = "test") -> Comparison:
        """Version ``a`` against ``b`` on ``split``: both confusion matrices and their difference
        (``b - a``), per-image flips, and per-class accuracy (pandas). The Mosaic View's data."""
        va, vb = self.version(a), self.version(b)
        return compare(self.evaluate(va, split), self.evaluate(vb, split), self.dataset.classes)

    def trace(self, versions: Sequence[ModelVersion | str] | None = None, split: str | None = "test") -> Trace:
        """Correct/incorrect per image across ``versions`` in order (default: all, oldest first),
        with filters "became right", "became wrong", "always wrong". The Trace View's data."""
        vs = self.versions if versions is None else [self.version(v) for v in versions]
        if len(vs) < 2:
            raise ValueError(f"a trace needs at least 2 versions, got {len(vs)}")
        return trace([self.evaluate(v, split) for v in vs])

    @property
    def history(self) -> list[dict]:
        """Training, discard and augmentation events, oldest first."""
        with self._lock:
            return [dict(h) for h in self._history]

    def version(self, v: ModelVersion | str) -> ModelVersion:
        """Look up a version by record or id; ValueError names unknown ones."""
        vid = v.id if isinstance(v, ModelVersion) else v
        if not isinstance(vid, str):
            raise TypeError(f"expected a ModelVersion or a version id string, got {type(v).__name__}")
        with self._lock:
            if vid not in self._versions:
                known = list(self._versions) or "none yet; call train() first"
                raise ValueError(f"unknown version {vid!r}; versions are {known}")
            return self._versions[vid]

    def trained_from_scratch(self, **hparams: Any) -> ModelVersion | None:
        """The latest version trained from the initial weights (no parent) whose
        hyper-parameters include ``hparams`` (e.g. ``epochs=6, seed=0``), or None."""
        with self._lock:
            for v in reversed(self._versions.values()):
                if v.parent is None and all(v.hparams.get(k) == x for k, x in hparams.items()):
                    return v
        return None

    def model(self, v: ModelVersion | str) -> nn.Module:
        """The version's ``nn.Module`` in eval mode on the engine's device (cached; do not train it)."""
        vid = self.version(v).id
        with self._lock:
            if vid in self._modules:
                self._modules.move_to_end(vid)
                return self._modules[vid]
            m = copy.deepcopy(self._template)
            m.load_state_dict(self._weights[vid])
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
            self._modules[vid] = m
            while len(self._modules) > _MODEL_CACHE:
                self._modules.popitem(last=False)
            return m

    def discard(self, v: ModelVersion | str) -> None:
        """Forget a version: its weights, cached results and workspace files.

        The pinned active version (see :attr:`active`) cannot be discarded: make another one
        active first.
        """
        vid = self.version(v).id
        if vid == self._active:
            raise ValueError(
                f"{vid} is the active version (the one linked views show); make another version "
                "active before discarding it"
            )
        before = self.active
        with self._lock:
            del self._versions[vid]
            self._weights.pop(vid, None)
            self._modules.pop(vid, None)
            for mode in ("transform", "aligned"):
                self._coords.pop(_coords_key(vid, mode), None)
            for key in [k for k in self._eval_cache if k[0] == vid]:
                del self._eval_cache[key]
            for key in [k for k in self._attr_cache if k[1] == vid]:
                del self._attr_cache[key]
            for key in [k for k in self._translators if k.startswith(f"{vid}-")]:
                del self._translators[key]
            if self._workspace is not None:
                self._workspace.delete_version(vid)
                self._workspace.delete_arrays(f"coords_{vid}")
                self._workspace.delete_translators(vid)
        self._record({"event": "discard", "version": vid})
        self._emit("discard", version=vid)
        self._emit_active_change(before)

    # ================================================================== training
    def train(
        self,
        epochs: int = 6,
        lr: float = 3e-3,
        batch_size: int = 128,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        seed: int = 0,
        parent: ModelVersion | str | None = None,
        name: str | None = None,
        progress: bool = True,
        augmentations: Sequence[Augmentation | str] | None = None,
    ) -> ModelVersion:
        """Train a new version (blocking, with a progress bar) and return it.

        Starts from ``parent``'s weights, or from the engine's initial weights. Training runs on
        the ``train`` split; after each epoch the ``val`` split is evaluated. Interrupting
        (Ctrl-C) leaves no partial version. ``augmentations``: Augmentations (or ids) whose
        accepted images join the train split; the version's lineage names them.
        """
        cfg = TrainConfig(epochs, lr, batch_size, optimizer, weight_decay, seed)
        parent_id = self.version(parent).id if parent is not None else None
        augs = self._resolve_augmentations(augmentations)
        bar = _progress_bar(cfg.epochs, f"train {self.dataset.name}", progress)

        def emit(ev: dict) -> None:
            if bar is None:
                return
            kind = ev["type"]
            if kind == "start":
                bar.reset(total=ev["epochs"] * ev["batches_per_epoch"])
                bar.unit = "batch"
            elif kind == "batch":
                if "loss" in ev:
                    bar.set_postfix(epoch=ev["epoch"], loss=f"{ev['loss']:.3f}", refresh=False)
                bar.update(1)
            elif kind == "epoch" and ev.get("val_accuracy") is not None:
                bar.set_postfix(epoch=ev["epoch"], val_acc=f"{ev['val_accuracy']:.3f}")

        try:
            return self._train(cfg, parent_id, name, emit, None, augs)
        finally:
            if bar is not None:
                bar.close()

    def train_async(
        self,
        epochs: int = 6,
        lr: float = 3e-3,
        batch_size: int = 128,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        seed: int = 0,
        parent: ModelVersion | str | None = None,
        name: str | None = None,
        augmentations: Sequence[Augmentation | str] | None = None,
    ) -> Job:
        """Train in a background thread; returns a :class:`Job` at once.

        The job emits ``start``, ``batch`` (``epoch``, ``batch``, ``loss``, ``progress``) and
        ``epoch`` (``train_loss``, ``val_loss``, ``val_accuracy``) events; ``job.result()`` gives
        the new ModelVersion or re-raises the training error; ``job.cancel()`` stops it and no
        version is created.
        """
        cfg = TrainConfig(epochs, lr, batch_size, optimizer, weight_decay, seed)  # errors raise here
        parent_id = self.version(parent).id if parent is not None else None
        augs = self._resolve_augmentations(augmentations)
        return Job(lambda emit, stop: self._train(cfg, parent_id, name, emit, stop, augs), name="train")

    def train_config(self, **hparams: Any) -> TrainConfig:
        """Validated training hyper-parameters: ``hparams`` over the defaults of
        :class:`~dashwidgets.train.TrainConfig` (the one place they are defined). An unknown
        name or a bad value raises with the field named."""
        return TrainConfig.from_kwargs(**hparams)

    def retrain(self, version: ModelVersion | str, epochs: int = 3, **kwargs: Any) -> ModelVersion:
        """Continue training from ``version``'s weights into a new version (see :meth:`train`)."""
        return self.train(epochs=epochs, parent=version, **kwargs)

    def _train(
        self,
        cfg: TrainConfig,
        parent_id: str | None,
        name: str | None,
        emit: Callable[[dict], None],
        stop: threading.Event | None,
        augs: Sequence[Augmentation] = (),
    ) -> ModelVersion:
        model = copy.deepcopy(self._template)
        with self._lock:
            state = self._weights[parent_id] if parent_id else self._init_state
        model.load_state_dict(state)
        for p in model.parameters():
            p.requires_grad_(True)
        train_idx = self.dataset.indices("train")
        val_idx = self.dataset.indices("val")

        def validate(m: nn.Module) -> tuple[float | None, float | None]:
            if len(val_idx) == 0:
                return None, None
            out = run_inference(m, self._inputs, self._targets, val_idx, self.device, self.eval_batch_size)
            return float(out["loss"].mean()), float((out["pred"] == self.dataset.labels[val_idx]).mean())

        started = _dt.datetime.now(_dt.timezone.utc)
        inputs, targets = self._inputs, self._targets
        if augs:  # accepted augmented images join the train split, indexed after the dataset
            extra = np.concatenate([a.images[a.accepted] for a in augs])
            extra_y = np.concatenate([a.labels[a.accepted] for a in augs]).astype(np.int64)
            images = torch.cat([self._images, torch.from_numpy(extra).to(self._images.device)])
            targets = torch.cat([self._targets, torch.from_numpy(extra_y).to(self._targets.device)])
            train_idx = np.concatenate([train_idx, len(self.dataset) + np.arange(len(extra))])

            def inputs(idx: torch.Tensor) -> torch.Tensor:
                x = images[idx.to(images.device)].to(self.device, non_blocking=True)
                return x.float().mul_(self._scale).add_(self._shift)

        history = fit(model, inputs, targets, train_idx, cfg, self.device, validate, emit, stop)
        if stop is not None and stop.is_set():
            raise Cancelled()
        # The last epoch already validated these exact weights; only the test split is new.
        metrics = {}
        if history and history[-1].get("val_accuracy") is not None:
            metrics["val_accuracy"] = history[-1]["val_accuracy"]
        for split in ("val", "test"):
            idx = self.dataset.indices(split)
            if len(idx) and f"{split}_accuracy" not in metrics:
                out = run_inference(model, self._inputs, self._targets, idx, self.device, self.eval_batch_size)
                metrics[f"{split}_accuracy"] = float((out["pred"] == self.dataset.labels[idx]).mean())
        weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        with self._lock:
            prev_active = self.active
            vid = f"v{self._next_id}"
            self._next_id += 1
            version = ModelVersion(
                id=vid,
                parent=parent_id,
                hparams=cfg.to_dict(),
                history=tuple(history),
                lineage={
                    "dataset": self.dataset.fingerprint(),
                    "dataset_name": self.dataset.name,
                    "split": "train",
                    "augmentations": [a.id for a in augs],
                    "augmented_images": int(sum(a.n_accepted for a in augs)),
                    "parent": parent_id,
                },
                metrics=metrics,
                created=started.isoformat(timespec="seconds"),
                name=name or vid,
            )
            if self._workspace is not None:
                self._workspace.save_version(version, weights)
            self._versions[vid] = version
            self._weights[vid] = weights
        self._record(
            {"event": "train", "version": vid, "parent": parent_id, "hparams": cfg.to_dict(),
             "augmentations": [a.id for a in augs]}
        )
        self._emit("version", version=vid)
        self._emit_active_change(prev_active)
        return version

    # ================================================================== clusters, augmentation
    def predict(self, version: ModelVersion | str, images: np.ndarray, layer: str | None = None) -> dict[str, np.ndarray]:
        """What ``version`` says about images outside the dataset (uint8 ``[N, 3, H, W]``, e.g. an
        augmentation's results): ``pred [N]``, ``probs [N, C]`` and ``embedding [N, D]`` (pooled
        ``layer``, default the embedding layer)."""
        v = self.version(version)
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != self.dataset.images.shape[1:]:
            raise ValueError(
                f"images must be uint8 [N, {', '.join(map(str, self.dataset.images.shape[1:]))}] like the dataset's, "
                f"got {images.dtype} {tuple(images.shape)}"
            )
        x_all = torch.from_numpy(images)

        def inputs(bi: torch.Tensor) -> torch.Tensor:
            return x_all[bi.cpu()].to(self.device).float().mul_(self._scale).add_(self._shift)

        out = run_inference(
            self.model(v), inputs, torch.zeros(len(images), dtype=torch.int64, device=self.device), np.arange(len(images)),
            self.device, self.eval_batch_size, layer or self.embedding_layer,
        )
        return {"pred": out["pred"], "probs": out["probs"], "embedding": out["embedding"]}

    def cluster(
        self,
        version: ModelVersion | str,
        k: int = 8,
        split: str | None = "train",
        selection: Sequence[int] | np.ndarray | None = None,
        n: int = 8,
        seed: int = 0,
    ) -> Clustering:
        """k-means (k from 2 to 20) on ``version``'s embeddings of ``split`` (or of
        ``selection``): the clusters are style classes (XploreGAN's pseudo-labels). Each has its
        ``n`` representatives closest to the centroid, its size and accuracy. ``cl[c]`` is a
        :class:`Cluster` to pass as ``style=`` to :meth:`augment`."""
        k = check_k(k)
        v = self.version(version)
        if selection is not None:
            idx = self.dataset.check_indices(selection)
            split = None
        else:
            idx = self.dataset.indices(split)
        if len(idx) < k:
            raise ValueError(f"need at least k={k} images to make {k} clusters, got {len(idx)}")
        if n < 1:
            raise ValueError(f"n (representatives per cluster) must be positive, got {n}")
        key = (v.id, k, split, idx.tobytes(), n, seed)
        with self._lock:
            hit = self._cluster_cache.get(key)
        if hit is not None:
            return hit
        ev = self.evaluate(v)
        assign, centroids, reps, mean, std = kmeans(ev.embedding[idx], k, seed, n)
        rows = []
        labels = self.dataset.labels[idx]
        aligned = self.dataset.attributes.get("aligned")
        for c in range(k):
            m = assign == c
            counts = np.bincount(labels[m], minlength=self.dataset.num_classes)
            row = {
                "cluster": c,
                "size": int(m.sum()),
                "accuracy": float(ev.correct[idx][m].mean()) if m.any() else float("nan"),
                "top_class": self.dataset.classes[int(counts.argmax())],
                "top_class_share": float(counts.max() / max(1, m.sum())),
            }
            if aligned is not None:
                row["aligned_share"] = float(np.asarray(aligned)[idx][m].mean()) if m.any() else float("nan")
            rows.append(row)
        table = pd.DataFrame(rows).set_index("cluster")
        result = Clustering(v.id, k, split, idx, assign, centroids, [idx[r] for r in reps], table, mean=mean, std=std)
        with self._lock:
            self._cluster_cache[key] = result
        return result

    @property
    def augmentations(self) -> list[Augmentation]:
        """Every augmentation made (and kept in the workspace), oldest first."""
        with self._lock:
            return list(self._augmentations.values())

    def augmentation(self, a: Augmentation | str) -> Augmentation:
        aid = a.id if isinstance(a, Augmentation) else a
        with self._lock:
            if aid not in self._augmentations:
                raise ValueError(f"unknown augmentation {aid!r}; known: {list(self._augmentations)}")
            return self._augmentations[aid]

    def _resolve_augmentations(self, augs) -> list[Augmentation]:
        out = [self.augmentation(a) for a in (augs or [])]
        empty = [a.id for a in out if a.n_accepted == 0]
        if empty:
            raise ValueError(f"augmentation(s) {empty} have no accepted images")
        return out

    def augment(
        self,
        source_idx: Sequence[int] | np.ndarray,
        style: Cluster | None = None,
        method: str = "color",
        version: ModelVersion | str | None = None,
        seed: int = 0,
        **params: Any,
    ) -> Augmentation:
        """New images from ``source_idx`` toward ``style`` (a :class:`Cluster` from
        :meth:`cluster`), kept with their provenance (and in the workspace).

        ``method``: ``"color"`` (foreground colour statistics of a style image; ``strength=1``),
        ``"background"`` (foreground pasted on a style image's background), ``"translate"`` (the
        cluster-conditioned GAN of :meth:`translator`, trained on first use: ``steps``,
        ``translator_seed``, ``progress``), ``"mask"`` /
        ``"noise"`` (grey out or add Gaussian noise, ``sigma=0.5``, on the top ``quantile=0.3``
        of each image's ``region``: ``"attribution"`` of ``version`` with ``attribution=
        "gradcam"``, or the ground-truth ``"bias"`` mask), or ``"torchvision"`` (``transform``: a
        callable on a ``uint8 [3, H, W]`` tensor). ``foreground``: ``"object"`` (ground-truth
        masks, the default when the dataset has them), ``"attribution"`` or ``None`` (whole
        image). Each result keeps its source's label.
        """
        from ..augment import classical

        if method not in AUG_METHODS:
            raise ValueError(f"unknown augmentation method {method!r}; choose one of {list(AUG_METHODS)}")
        idx = self.dataset.check_indices(source_idx)
        if len(idx) == 0:
            raise ValueError("empty source selection: pick the images to augment (e.g. a lasso)")
        if style is not None and len(style.members) == 0:
            raise ValueError(f"style cluster {style.id} has no images")
        if method in ("color", "background", "translate") and style is None:
            raise ValueError(f"{method!r} needs a style cluster: style=eng.cluster(v, k)[c]")
        rng = np.random.default_rng(seed)
        ds = self.dataset
        src = ds.images[idx]
        style_src = np.full(len(idx), -1, np.int64)
        v = self.version(version) if version is not None else self.active
        # The clusters a translator learns (and style_hit measures against): eng.cluster(v, k) on
        # the train split. A style cluster from another split or selection has other members.
        learned = self.cluster(style.version, style.k) if style is not None else None
        from_learned = learned is not None and np.array_equal(np.sort(learned.members(style.id)), np.sort(style.members))

        default_fg = "auto" if method == "translate" else ("object" if "object" in ds.masks else None)

        def foreground(rows: np.ndarray) -> np.ndarray:
            how = params.get("foreground", default_fg)
            return self._foreground(rows, how, v, params.get("attribution", "gradcam"), params.get("quantile", 0.3))

        if method in ("color", "background"):
            pool = style.members
            if method == "color":
                images, pick = classical.color_transfer(
                    src, foreground(idx), ds.images[pool], foreground(pool), rng, float(params.get("strength", 1.0))
                )
            else:
                if params.get("foreground", "auto") is None:
                    raise ValueError("a background swap needs a foreground: foreground='object' or 'attribution'")
                images, pick = classical.background_swap(src, foreground(idx), ds.images[pool], foreground(pool), rng)
            style_src = pool[pick]
        elif method == "translate":
            if not from_learned:  # refused before a minute of training, not after
                raise ValueError(
                    "method='translate' needs a style cluster of eng.cluster(version, k) on the train split "
                    "(the clusters the translator learned); this one was made from another split or selection"
                )
            t = self.translator(
                style.version, style.k, steps=int(params.get("steps", TRANSLATE_STEPS)),
                seed=int(params.get("translator_seed", 0)), foreground=params.get("foreground", default_fg),
                progress=bool(params.pop("progress", True)),
            )
            images = t(src, foreground(idx), style.id, seed=seed)
            params["translator"] = {"version": t.version, "k": t.k, "steps": t.steps, "seed": t.seed, "foreground": t.foreground}
        elif method in ("mask", "noise"):
            region = params.get("region", "attribution")
            if region == "bias":
                if "bias" not in ds.masks:
                    raise ValueError("this dataset has no bias masks; use region='attribution'")
                regions = ds.masks["bias"][idx]
            elif region == "attribution":
                if v is None:
                    raise ValueError("region='attribution' needs a trained version")
                maps = self.attribute(v, idx, params.get("attribution", "gradcam"), numpy=True)
                regions = classical.top_regions(maps, params.get("quantile", 0.3))
            else:
                raise ValueError(f"region must be 'attribution' or 'bias', got {region!r}")
            images = classical.targeted(src, regions, method, rng, float(params.get("sigma", 0.5)))
        else:  # torchvision
            transform = params.get("transform")
            if not callable(transform):
                raise ValueError("method='torchvision' needs transform=<a callable on a uint8 [3, H, W] tensor>")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                out = [transform(torch.from_numpy(im.copy())) for im in src]
            images = np.stack([np.asarray(o, dtype=np.uint8) for o in out])
            if images.shape != src.shape:
                raise ValueError(f"the transform must keep the image shape {src.shape[1:]}, got {images.shape[1:]}")
        if from_learned:  # how many results the style's clustering puts in the style cluster
            hit = learned.assign(self.predict(style.version, images)["embedding"]) == style.id
            params["style_hit"] = round(float(hit.mean()), 4)
        meta_params = {k: (repr(p) if k == "transform" else p) for k, p in params.items()}
        if v is not None and method in ("mask", "noise"):
            meta_params.setdefault("version", v.id)
        with self._lock:
            aid = f"a{self._next_aug}"
            self._next_aug += 1
        aug = Augmentation(
            id=aid,
            method=method,
            style=None if style is None else {"version": style.version, "k": style.k, "cluster": style.id},
            params={**meta_params, "seed": seed},
            sources=idx,
            labels=ds.labels[idx].astype(np.int64),
            images=images,
            style_sources=style_src,
            created=_now(),
        )
        with self._lock:
            self._augmentations[aid] = aug
            if self._workspace is not None:
                self._workspace.save_augmentation(aug)
        self._record({"event": "augment", "augmentation": aid, "method": method, "style": aug.style, "images": len(aug)})
        self._emit("augment", augmentation=aid)
        return aug

    def _foreground(
        self, rows: np.ndarray, how: str | None, v: ModelVersion | None, attribution: str = "gradcam", quantile: float = 0.3
    ) -> np.ndarray:
        """Foreground masks of ``rows``: ``"object"`` (ground truth), ``"attribution"`` (top
        ``quantile`` of ``v``'s maps), ``None`` (whole image) or ``"auto"`` (object when the
        dataset has object masks, else attribution)."""
        ds = self.dataset
        how = self._foreground_kind(how)
        if how == "object":
            if "object" not in ds.masks:
                raise ValueError("this dataset has no object masks; use foreground='attribution' or None")
            return ds.masks["object"][rows]
        if how == "attribution":
            if v is None:
                raise ValueError("foreground='attribution' needs a trained version")
            from ..augment.classical import top_regions

            return top_regions(self.attribute(v, rows, attribution, numpy=True), quantile)
        return np.ones((len(rows), *ds.image_size), dtype=bool)

    def _foreground_kind(self, how: str | None) -> str | None:
        """``how`` with ``"auto"`` resolved for this dataset; an unknown value is refused."""
        if how == "auto":
            how = "object" if "object" in self.dataset.masks else "attribution"
        if how not in ("object", "attribution", None):
            raise ValueError(f"foreground must be 'object', 'attribution', 'auto' or None, got {how!r}")
        return how

    # ================================================================== translation
    def _translator_spec(self, version, k: int, steps: int, seed: int, foreground: str | None) -> dict:
        v = self.version(version) if version is not None else self.active
        if v is None:
            raise ValueError("no trained version: train one before making a translator")
        k = check_k(k)
        if int(steps) < 1:
            raise ValueError(f"steps must be positive, got {steps}")
        foreground = self._foreground_kind(foreground)
        key = f"{v.id}-k{k}-s{int(steps)}-r{int(seed)}-{foreground or 'none'}"
        return {"version": v, "k": k, "steps": int(steps), "seed": int(seed), "foreground": foreground, "key": key}

    def _cached_translator(self, spec: dict) -> Translator | None:
        with self._lock:
            hit = self._translators.get(spec["key"])
        if hit is None and self._workspace is not None:
            saved = self._workspace.load_translator(spec["key"])
            if saved is not None:
                try:
                    hit = load_translator(saved[0], saved[1], self.device)
                except (RuntimeError, KeyError, ValueError) as e:
                    warnings.warn(f"corrupted translator {spec['key']}: {e}; it will be trained again", WorkspaceWarning, stacklevel=3)
                    hit = None
                if hit is not None:
                    with self._lock:
                        self._translators[spec["key"]] = hit
        return hit

    def _fit_translator(self, spec: dict, emit: Callable[[dict], None], stop: threading.Event | None) -> Translator:
        hit = self._cached_translator(spec)
        if hit is not None:
            emit({"type": "cached", "progress": 1.0, "key": spec["key"]})
            return hit
        v = spec["version"]
        cl = self.cluster(v, spec["k"])
        fg = self._foreground(cl.indices, spec["foreground"], v)
        G, log = train_translator(
            self.dataset.images[cl.indices], fg, cl.assignment, spec["k"], steps=spec["steps"],
            device=self.device, seed=spec["seed"], emit=emit, stop=stop,
        )
        t = Translator(v.id, spec["k"], spec["steps"], spec["seed"], spec["foreground"], G,
                       log[-1]["seconds"] if log else 0.0, log)
        with self._lock:
            if v.id not in self._versions:
                raise ValueError(f"{v.id} was discarded while its translator trained")
            self._translators[spec["key"]] = t
            if self._workspace is not None:
                self._workspace.save_translator(spec["key"], t.meta(), generator_state(t))
        self._record({"event": "translator", "key": spec["key"], **t.meta()})
        return t

    def translator(
        self,
        version: ModelVersion | str | None = None,
        k: int = 8,
        steps: int = TRANSLATE_STEPS,
        seed: int = 0,
        foreground: str | None = "auto",
        progress: bool = True,
    ) -> Translator:
        """The cluster-conditioned translator toward the ``k`` style clusters of ``version``
        (``eng.cluster(version, k)`` on the train split): trained here (blocking, with a progress
        bar) or taken from the cache or workspace (one per version, k, steps, seed, foreground).
        ``augment(..., method="translate")`` uses it; :meth:`translator_async` trains it in the
        background. See :mod:`dashwidgets.augment.translate`.
        """
        spec = self._translator_spec(version, k, steps, seed, foreground)
        bar = None

        def emit(ev: dict) -> None:  # a bar only when it trains (not for a cached translator)
            nonlocal bar
            if ev["type"] == "start":
                bar = _progress_bar(spec["steps"], f"translator {spec['version'].id} k={spec['k']}", progress)
            elif bar is not None and ev["type"] == "step":
                bar.update(ev["step"] - bar.n)
                bar.set_postfix(g_cls=f"{ev['g_cls']:.2f}", rec=f"{ev['g_rec']:.3f}", refresh=False)

        try:
            return self._fit_translator(spec, emit, None)
        finally:
            if bar is not None:
                bar.close()

    def translator_async(
        self,
        version: ModelVersion | str | None = None,
        k: int = 8,
        steps: int = TRANSLATE_STEPS,
        seed: int = 0,
        foreground: str | None = "auto",
    ) -> Job:
        """Train the translator (see :meth:`translator`) in a background thread; returns a
        :class:`Job` at once. Events: ``start``, ``step`` (every 10 steps: ``step``, ``progress``,
        losses) or ``cached``; ``job.cancel()`` stops it and nothing is kept."""
        spec = self._translator_spec(version, k, steps, seed, foreground)  # errors raise here
        return Job(lambda emit, stop: self._fit_translator(spec, emit, stop), name="translator")

    def review(self, augmentation: Augmentation | str, rows: Sequence[int] | np.ndarray, accept: bool) -> Augmentation:
        """Accept or reject the images at ``rows`` (positions in the augmentation) before a retrain."""
        aug = self.augmentation(augmentation)
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        bad = rows[(rows < 0) | (rows >= len(aug))]
        if bad.size:
            raise ValueError(f"rows out of range [0, {len(aug)}): {bad[:5].tolist()}")
        with self._lock:
            aug.accepted[rows] = bool(accept)
            if self._workspace is not None:
                self._workspace.save_augmentation(aug)
        self._record({"event": "review", "augmentation": aug.id, "rows": len(rows), "accept": bool(accept)})
        self._emit("augment", augmentation=aug.id)
        return aug

    # ================================================================== inference
    def evaluate(
        self, version: ModelVersion | str, split: str | None = None, layer: str | None = None
    ) -> EvalResult:
        """One batched pass of ``version`` over ``split`` (all images when None).

        Returns an :class:`EvalResult` with ``pred``, ``probs``, ``loss``, ``correct``,
        ``embedding`` (pooled output of ``layer``, default the engine's embedding layer) and
        ``accuracy``. Cached per (version, split, layer); a split is sliced from a cached
        all-images pass when there is one.
        """
        vid = self.version(version).id
        layer = layer or self.embedding_layer
        idx = self.dataset.indices(split)
        key = (vid, split, layer)
        with self._lock:
            hit = self._eval_cache.get(key)
            full = self._eval_cache.get((vid, None, layer))
        if hit is not None:
            return hit
        if full is not None:
            result = full.take(idx, split)
        else:
            model = self.model(vid)
            get_layer(model, layer)
            out = run_inference(model, self._inputs, self._targets, idx, self.device, self.eval_batch_size, layer)
            labels = self.dataset.labels[idx]
            result = EvalResult(
                version=vid,
                split=split,
                layer=layer,
                indices=idx,
                labels=labels,
                pred=out["pred"],
                probs=out["probs"],
                loss=out["loss"],
                correct=out["pred"] == labels,
                embedding=out["embedding"],
            )
        with self._lock:
            if vid in self._versions:  # not discarded meanwhile
                self._eval_cache[key] = result
        return result

    def audit(self, version: ModelVersion | str) -> BiasAudit:
        """Validation vs unbiased-test accuracy, per class, and bias-aligned vs -conflicting."""
        v = self.version(version)
        results = {s: self.evaluate(v, s) for s in ("val", "test") if len(self.dataset.indices(s))}
        return bias_audit(v.id, results, self.dataset)

    # ================================================================== attribution
    def attribute(
        self,
        version: ModelVersion | str,
        idx: Sequence[int] | np.ndarray,
        method: str = "gradcam",
        target: str | int | Sequence[int] | np.ndarray = "pred",
        layer: str | None = None,
        numpy: bool = False,
        batch_size: int | None = None,
        **params: Any,
    ) -> torch.Tensor | np.ndarray:
        """Attribution maps ``[N, H, W] float32`` at input resolution for images ``idx``.

        ``method``: ``"gradcam"`` or ``"scorecam"`` (``layer``: any conv layer, default the last),
        ``"ig"`` (``steps=64``) or ``"lrp"`` (epsilon rule, ``epsilon=10``). ``baseline`` (ig, scorecam): a black image unless given, in
        model input space.
        ``target``: ``"pred"``, ``"label"``, one class index, or one per image. Returned on the
        engine's device (numpy with ``numpy=True``); cached per (version, method, layer,
        target, images, params). ``batch_size``: images per pass (default 64 on a CPU, 512 on a
        GPU).
        """
        from ..explain.attribution import METHODS, attribute

        v = self.version(version)
        idx = self.dataset.check_indices(idx)
        if len(idx) == 0:
            raise ValueError("empty selection: no images to attribute")
        if method not in METHODS:
            raise ValueError(f"unknown attribution method {method!r}; choose one of {sorted(METHODS)}")
        model = self.model(v)
        if method in ("gradcam", "scorecam"):
            layer = layer or last_conv(model)
            get_layer(model, layer)
        targets = self._targets_for(v, idx, target)
        key = ("attr", v.id, method, layer, targets.tobytes(), idx.tobytes(), repr(sorted(params.items())))
        with self._lock:
            cached = self._attr_cache.get(key)
        if cached is None:
            if method in ("ig", "scorecam") and params.get("baseline") is None:
                params["baseline"] = self._shift.expand(1, 3, *self.dataset.image_size)  # black image
            batch_size = batch_size or (64 if self.device.type == "cpu" else 512)
            cached = attribute(model, self.inputs(idx), torch.from_numpy(targets), method, layer, batch_size, **params)
            with self._lock:
                if v.id in self._versions:
                    self._attr_cache[key] = cached
        return cached.cpu().numpy() if numpy else cached

    def attribution_scores(
        self,
        version: ModelVersion | str,
        idx: Sequence[int] | np.ndarray,
        method: str = "gradcam",
        target: str | int | Sequence[int] | np.ndarray = "pred",
        **params: Any,
    ) -> pd.DataFrame:
        """Per-image RMA and RRA of ``method``'s maps on each ground-truth mask: a DataFrame indexed
        by image with columns ``rma_<mask>``, ``rra_<mask>`` (none when the dataset has no masks)."""
        idx = self.dataset.check_indices(idx)
        maps = self.attribute(version, idx, method, target, numpy=True, **params)
        cols = {}
        for name, mask in self.dataset.masks.items():
            cols[f"rma_{name}"] = rma(maps, mask[idx])
            cols[f"rra_{name}"] = rra(maps, mask[idx])
        return pd.DataFrame(cols, index=pd.Index(idx, name="index"))

    def aopc(
        self,
        version: ModelVersion | str,
        idx: Sequence[int] | np.ndarray,
        method: str = "gradcam",
        target: str | int | Sequence[int] | np.ndarray = "pred",
        steps: int = 100,
        patch: int = 9,
        seed: int = 0,
        layer: str | None = None,
        **params: Any,
    ) -> AOPCResult:
        """Area over the most-relevant-first perturbation curve (Samek et al.) of ``method``'s maps:
        ``steps`` steps, each replacing the ``patch x patch`` region around the next most relevant
        location with uniform noise over the pixel range. ``method="random"`` orders the regions at
        random: the baseline a useful map must beat. Returns per-image scores and curves."""
        v = self.version(version)
        idx = self.dataset.check_indices(idx)
        if len(idx) == 0:
            raise ValueError("empty selection: no images to perturb")
        targets = self._targets_for(v, idx, target)
        if method == "random":
            g = torch.Generator().manual_seed(seed + 1)
            maps = torch.rand((len(idx), *self.dataset.image_size), generator=g)
        else:
            maps = self.attribute(v, idx, method, targets, layer=layer, **params)
        low, high = self._shift, self._shift + 255.0 * self._scale  # pixel values 0 and 1
        scores, curves = aopc(
            self.model(v),
            self.inputs(idx),
            torch.from_numpy(targets),
            maps,
            steps,
            patch,
            low,
            high,
            seed,
            batch_size=self.eval_batch_size // 4 or 1,
        )
        return AOPCResult(method, idx, scores, curves)

    def bias_report(
        self,
        biased: ModelVersion | str,
        reference: ModelVersion | str,
        method: str | Sequence[str] = "gradcam",
        split: str | None = "test",
        idx: Sequence[int] | np.ndarray | None = None,
        target: str = "pred",
        reference_engine: Engine | None = None,
        **params: Any,
    ) -> BiasReport:
        """Does ``biased`` look at the bias more than ``reference``? RMA and RRA of each method's
        maps (one method or a list) on every ground-truth mask, for both versions on the same
        images (``split``'s, or ``idx``), with Welch's t-test and Cohen's d per row.

        ``reference_engine``: the Engine that holds ``reference`` when it was trained on other data
        (as in the paper: a model trained on unbiased data), provided it holds the same images at
        these indices (the embedded benchmarks share their test split across bias levels)."""
        if not self.dataset.masks:
            raise ValueError(
                "this dataset has no ground-truth masks (object/bias), so attribution mass cannot be scored"
            )
        other = self if reference_engine is None else reference_engine
        if not isinstance(other, Engine):
            raise TypeError(f"reference_engine must be an Engine, got {type(other).__name__}")
        a, b = self.version(biased), other.version(reference)
        label = split if idx is None else "selection"
        idx = self.dataset.indices(split) if idx is None else self.dataset.check_indices(idx)
        if len(idx) < 2:
            raise ValueError(f"need at least 2 images to compare two models, got {len(idx)}")
        methods = [method] if isinstance(method, str) else list(method)
        maps_a = {m: self.attribute(a, idx, m, target, numpy=True, **params) for m in methods}
        if other is not self:
            other.dataset.check_indices(idx)
            if not np.array_equal(other.dataset.images[idx], self.dataset.images[idx]):
                raise ValueError(
                    "the reference engine's images differ from this engine's at these indices; "
                    "compare on images both hold (the embedded benchmarks share their test split)"
                )
        maps_b = {m: other.attribute(b, idx, m, target, numpy=True, **params) for m in methods}
        masks = {name: mask[idx] for name, mask in self.dataset.masks.items()}
        ref_name = b.id if b.id != a.id else f"{b.id} (reference)"
        return bias_report(maps_a, maps_b, masks, idx, a.id, ref_name, label)

    def _targets_for(self, v: ModelVersion, idx: np.ndarray, target) -> np.ndarray:
        if isinstance(target, str):
            if target == "pred":
                return self.evaluate(v).pred[idx]
            if target == "label":
                return self.dataset.labels[idx]
            return np.full(len(idx), self.dataset.class_index(target), np.int64)  # a class name
        arr = np.asarray(target)
        if arr.ndim == 0:
            arr = np.full(len(idx), int(arr), np.int64)
        if arr.shape != (len(idx),):
            raise ValueError(f"target must be 'pred', 'label', a class, or one class per image; got shape {arr.shape}")
        bad = arr[(arr < 0) | (arr >= self.dataset.num_classes)]
        if bad.size:
            raise ValueError(f"target classes out of range [0, {self.dataset.num_classes}): {bad[:5].tolist()}")
        return arr.astype(np.int64)

    # ================================================================== projection
    def project(
        self,
        version: ModelVersion | str,
        split: str | None = None,
        progress: bool = True,
        mode: str = "transform",
    ) -> np.ndarray:
        """t-SNE coordinates ``[M, 2] float32`` of ``version``'s embeddings, rows in dataset order
        of ``split`` (all images when None).

        The first version projected fits the map on all images. Later versions join the same
        frame: ``mode="transform"`` places them with openTSNE's ``transform`` (fast);
        ``mode="aligned"`` runs a full t-SNE of their own features started from the reference
        layout (slower, faithful also for versions trained from scratch). See
        :mod:`dashwidgets.audit.projection`. Cached per (version, mode) and kept in the workspace.
        """
        if mode not in ("transform", "aligned"):
            raise ValueError(f"unknown projection mode {mode!r}; use 'transform' or 'aligned'")
        vid = self.version(version).id
        idx = self.dataset.indices(split)
        with self._lock:
            if vid == self._map_version:
                mode = "transform"  # the reference map itself
            coords = self._coords.get(_coords_key(vid, mode))
        if coords is None:
            coords = self._compute_projection(vid, mode, progress)
        return coords[idx]

    def _compute_projection(self, vid: str, mode: str, progress: bool) -> np.ndarray:
        features = self.evaluate(vid).embedding
        bar = _progress_bar(100, f"t-SNE {vid}", progress)

        def report(stage: str, frac: float) -> None:
            if bar is not None:
                bar.set_description(f"t-SNE {vid} ({stage})", refresh=False)
                bar.update(round(100 * frac) - bar.n)

        try:
            with self._lock:
                tsne = self._map
            if tsne is None:
                tsne = TSNEMap(seed=self.seed)
                coords = tsne.fit(features, report)
                mode = "transform"
                with self._lock:
                    self._map, self._map_version = tsne, vid
                if self._workspace is not None:
                    self._workspace.delete_arrays("")
                    self._workspace.save_array("reference_features", tsne.reference_features)
                    self._workspace.save_array("reference_coords", tsne.reference_coords)
                    atomic_write_json(
                        self._workspace.root / "projection" / "map.json",
                        {"reference": vid, "perplexity": tsne.perplexity, "seed": tsne.seed},
                    )
            elif mode == "aligned":
                coords = tsne.align(features, report)
            else:
                coords = tsne.transform(features, report)
        finally:
            if bar is not None:
                bar.close()
        coords = coords.astype(np.float32)
        key = _coords_key(vid, mode)
        with self._lock:
            if vid in self._versions:
                self._coords[key] = coords
                if self._workspace is not None:
                    self._workspace.save_array(f"coords_{key}", coords)
        return coords

    def density(
        self, version: ModelVersion | str, size: int = 64, mode: str = "transform"
    ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """Smoothed density of ``version``'s t-SNE map per split (the projection's contours):
        ``float32 [len(SPLITS), size, size]`` grids, each scaled to max 1, and the area
        ``(x0, x1, y0, y1)`` they cover."""
        from ..audit.density import density_grids
        from ..datasets.imageset import SPLITS

        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
            raise ValueError(f"size must be an integer >= 2, got {size!r}")
        xy = self.project(version, progress=False, mode=mode)
        codes = np.zeros(len(self.dataset), np.uint8)
        for k, name in enumerate(SPLITS):
            codes[self.dataset.split == name] = k
        grids, box = density_grids(xy, codes, len(SPLITS), size=int(size))
        return grids.astype(np.float32), tuple(float(b) for b in box)

    @property
    def projection_reference(self) -> str | None:
        """Id of the version whose embeddings defined the t-SNE map (None before the first)."""
        return self._map_version

    # ================================================================== misc
    def __repr__(self) -> str:
        ws = f", workspace={str(self.workspace)!r}" if self._workspace is not None else ""
        return (
            f"Engine({self.dataset.name!r}, {len(self.dataset)} images, device={str(self.device)!r}, "
            f"versions={list(self._versions)}{ws})"
        )
