"""Engine: the public facade over one version store and one service per concern.

Every method here delegates in a line or two. The work lives in the services (``training``,
``inference``, ``projection``, ``attribution``, ``augmentation``, ``translation``, ``viscuit``,
``regions``); versions,
weights, caches, events, history and the workspace live in :class:`~.versions.VersionStore`.

This file is over 400 lines for one reason: each public method carries its user-facing
docstring (shapes, defaults, what is cached); the bodies are one or two lines each.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..audit.cluster import Cluster, Clustering
from ..audit.compare import Comparison, Trace, compare, trace
from ..audit.concepts import Concepts
from ..audit.criticism import Criticism
from ..audit.findings import Report
from ..audit.report import BiasAudit
from ..audit.subgroups import Subgroups
from ..augment.record import Augmentation
from ..augment.translate import STEPS as TRANSLATE_STEPS
from ..augment.translate import Translator
from ..datasets.imageset import ImageSet
from ..explain.bias import BiasReport
from ..explain.perturbation import AOPCResult
from ..models.cnn import build_model, default_model
from ..models.version import ModelVersion
from ..runtime.device import resolve_device
from ..runtime.executor import resolve_executor
from ..runtime.jobs import Job
from ..runtime.results import EvalResult
from ..train.loop import TrainConfig
from .attribution import AttributionService
from .augmentation import AugmentationService
from .context import DataContext
from .criticism import CriticismService
from .inference import InferenceService
from .mitigation import KINDS as _MITIGATION_KINDS
from .mitigation import mitigation_table as _mitigation_table
from .projection import ProjectionService
from .regions import RegionClassifier, RegionService
from .report import ReportService
from .selections import SelectionService
from .tags import TagService
from .training import TrainingService
from .translation import TranslationService
from .versions import VersionStore, now
from .viscuit import ViscuitService
from .workspace import Workspace, WorkspaceError, WorkspaceWarning

_DEFAULTS = TrainConfig()  # the one place training defaults are defined (signatures read them)
Version = ModelVersion | str


def _hparams(arguments: dict) -> dict:
    """The TrainConfig fields among a training method's arguments."""
    return {k: arguments[k] for k in TrainConfig.__dataclass_fields__}


class Engine:
    """Holds one ImageSet, one model architecture and every trained version of it.

    Parameters
    ----------
    dataset : ImageSet
        The images to audit (see :mod:`dashwidgets.datasets`).
    model : nn.Module, optional
        Any classifier mapping ``[N, 3, H, W]`` float inputs to ``[N, C]`` logits, with
        ``C == dataset.num_classes``. Default: :class:`~dashwidgets.models.SmallCNN`. Its current
        weights are the starting point of every training run without a parent; parameters with
        ``requires_grad=False`` stay frozen in training. The engine works on its own copy: the
        module passed in keeps its device, weights and mode.
    device : str
        ``"auto"`` (cuda, then mps, then cpu), or any torch device string.
    workspace : path, optional
        Folder that keeps every finished version; an existing workspace made for the same
        dataset and architecture is resumed, an empty or new folder becomes one, and a
        non-empty folder that is not a workspace is refused. See :meth:`open`.
    embedding_layer : str, optional
        Layer whose globally average-pooled output is the embedding (default: the last conv).
    normalize : "dataset", None or (mean, std)
        Input normalisation after scaling to [0, 1]: per-channel statistics of the train split,
        none, or given values (e.g. ImageNet's).
    eval_batch_size : int or "auto"
        Images per inference batch. ``"auto"``: as many as keep a batch's float32 inputs within
        6 MiB on the CPU (where small batches run fastest) or 256 MiB on CUDA, at most 512: on
        the CPU 512 at 32 px, 128 at 64 px, 32 at 128 px, 10 at 224 px; on CUDA 512 up to 128 px.
        The resolved number is ``eng.eval_batch_size``.
    seed : int
        Seed of the default model's initial weights and of the t-SNE map.
    executor : "local", "ray" or RayExecutor
        Where the batches of :meth:`evaluate`, :meth:`attribute`, :meth:`neuron_scores` (its
        hooked activation pass) and :meth:`predict` run: here, or on a Ray cluster
        (``dw.RayExecutor(num_workers, address)``: a pool of actors kept across calls;
        ``"ray"`` uses the initialised Ray or starts a local one, and the engine closes that
        executor when it is replaced). The batches are the local ones, so results equal the
        local path's (bitwise on CPU). Training and the widgets always run here. See also
        :meth:`executing`.
    compile : bool
        Run the model through ``torch.compile`` (inductor) in evaluation and training. Off by
        default: the first call of each batch shape pays seconds of compilation (see
        benchmarks/README.md "torch.compile"). The weights stay the model's own Parameters, so
        saved versions load in an engine without it. Needs a C++ compiler on the CPU and Triton
        on CUDA; without one the constructor says so.
    """

    def __init__(
        self,
        dataset: ImageSet,
        model: nn.Module | None = None,
        device: str | torch.device = "auto",
        workspace: str | Path | None = None,
        embedding_layer: str | None = None,
        normalize: str | tuple | None = "dataset",
        eval_batch_size: int | str = "auto",
        seed: int = 0,
        executor: str | Any = "local",
        compile: bool = False,  # noqa: A002 - the name torch uses (nn.Module.compile)
    ):
        if not isinstance(dataset, ImageSet):
            raise TypeError(
                f"dataset must be a dashwidgets ImageSet, got {type(dataset).__name__}; "
                "use dw.datasets.load, from_tensors, from_folder or from_torchvision"
            )
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        self.seed = int(seed)
        if model is None:
            model = default_model(dataset.num_classes, seed=self.seed)
            spec = model.spec()
        else:
            s = getattr(model, "spec", None)
            spec = s() if callable(s) else {"kind": "custom", "class": f"{type(model).__module__}.{type(model).__qualname__}"}
        self._ctx = ctx = DataContext(dataset, model, resolve_device(device), embedding_layer, normalize,
                                          eval_batch_size, compile)
        header = {
            "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint(), "meta": dataset.meta, "size": len(dataset)},
            "model": spec,
            "embedding_layer": ctx.embedding_layer,
            "normalize": ctx.normalize_json,
            "seed": self.seed,
            "created": now(),
        }
        ws = Workspace(workspace) if workspace is not None else None
        self._store = store = VersionStore(ctx.template, header, ws, dataset)
        self._inference = InferenceService(ctx, store, executor=executor)
        self._projection = ProjectionService(ctx, store, self._inference, self.seed)
        self._attribution = AttributionService(ctx, store, self._inference)
        self._augmentation = AugmentationService(ctx, store, self._inference, self._attribution)
        self._translation = self._augmentation.translation = TranslationService(ctx, store, self._augmentation)
        self._training = TrainingService(ctx, store, self._augmentation)
        self._tags = TagService(ctx, store)
        self._viscuit = ViscuitService(ctx, store, self._inference)
        self._regions = RegionService(ctx, store)
        self._criticism = CriticismService(ctx, store, self._inference)
        self._selections = SelectionService(ctx, store, self._inference, self._attribution, self._tags)
        self._report = ReportService(ctx, store, self._inference, self._attribution, self._augmentation,
                                     self._viscuit, self._criticism)
        for msg in store.workspace_errors:
            warnings.warn(msg, WorkspaceWarning, stacklevel=2)

    @classmethod
    def open(cls, workspace: str | Path, model: nn.Module | None = None, device: str | torch.device = "auto",
             **kwargs: Any) -> Engine:
        """Restore an Engine (dataset, every finished version, augmentations, the projection
        map) from a folder.

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
            dataset, model=model, device=device, workspace=workspace,
            embedding_layer=kwargs.pop("embedding_layer", header.get("embedding_layer")),
            normalize=(tuple(norm[0]), tuple(norm[1])) if norm else None,
            seed=kwargs.pop("seed", header.get("seed", 0)),
            **kwargs,
        )

    # ================================================================== data
    @property
    def dataset(self) -> ImageSet:
        return self._ctx.dataset

    @property
    def device(self) -> torch.device:
        return self._ctx.device

    @property
    def embedding_layer(self) -> str:
        return self._ctx.embedding_layer

    @property
    def eval_batch_size(self) -> int:
        """Images per inference batch (``"auto"`` resolved, see the constructor)."""
        return self._ctx.eval_batch_size

    @property
    def compile(self) -> bool:
        """Whether models run through ``torch.compile`` (the constructor's ``compile``)."""
        return self._ctx.compile

    @property
    def executor(self):
        """Where batch work runs (a LocalExecutor or RayExecutor; set with "local", "ray" or one)."""
        return self._inference.executor

    @executor.setter
    def executor(self, executor) -> None:
        previous, self._inference.executor = self._inference.executor, resolve_executor(executor)
        if previous is not self._inference.executor and getattr(previous, "from_name", False):
            previous.close()  # made here from "ray": nobody else holds it

    @contextlib.contextmanager
    def executing(self, executor):
        """``with engine.executing("ray"): engine.evaluate(v)``: the batch work runs on
        ``executor`` inside the block, then on the previous one again (an executor made here
        from ``"ray"`` is closed at the end of the block; one you pass stays yours to close)."""
        previous = self._inference.executor
        current = self._inference.executor = resolve_executor(executor)
        try:
            yield current
        finally:
            self._inference.executor = previous
            if current is not previous and getattr(current, "from_name", False):
                current.close()

    @property
    def classes(self) -> list[str]:
        return self._ctx.dataset.classes

    def inputs(self, idx: Sequence[int] | np.ndarray) -> torch.Tensor:
        """``[N, 3, H, W] float32`` on the engine's device: exactly what the model sees."""
        return self._ctx.inputs(idx)

    @property
    def workspace(self) -> Path | None:
        """The workspace folder, or None when versions live in memory only."""
        return self._store.workspace.root if self._store.workspace is not None else None

    @property
    def workspace_errors(self) -> list[str]:
        """One message per workspace file that could not be read when the Engine opened."""
        return self._store.workspace_errors

    @property
    def caches(self) -> dict:
        """Every service's cache (``name -> VersionCache``: entries and bytes held)."""
        return self._store.caches

    def cache_info(self) -> dict:
        """What the caches hold: ``{"memory": {cache: bytes}, "disk": {"path", "files", "bytes",
        "versions": {id: bytes}}}`` (``"disk"`` is None without a workspace). The disk cache keeps
        evaluations and attribution maps per version, so a reopened engine does not recompute them."""
        return self._store.cache_info()

    def clear_cache(self, version: Version | None = None, memory: bool = True, disk: bool = True) -> int:
        """Forget cached results of ``version`` (of all versions for None), in memory and/or in the
        workspace's disk cache; they are recomputed when asked for again. Versions, the t-SNE map
        and everything else the workspace keeps stay. Returns the bytes freed on disk."""
        return self._store.clear_caches(version, memory, disk)

    # ================================================================== versions, events
    @property
    def versions(self) -> list[ModelVersion]:
        """Every finished version, oldest first."""
        return self._store.versions

    def version(self, v: Version) -> ModelVersion:
        """Look up a version by record or id; ValueError names unknown ones."""
        return self._store.version(v)

    def model(self, v: Version) -> nn.Module:
        """The version's ``nn.Module`` in eval mode on the engine's device (cached; do not train it)."""
        return self._store.model(v)

    def discard(self, v: Version) -> None:
        """Forget a version: its weights, every cached result and its workspace files. The pinned
        active version, and the parent of a running training job, cannot be discarded."""
        self._store.discard(v)

    @property
    def active(self) -> ModelVersion | None:
        """The version linked views show: the one made active last (``eng.active = v``), or the
        latest version while none was (None before any training). Setting it emits ``"active"``
        and is kept in the workspace's history."""
        return self._store.active

    @active.setter
    def active(self, v: Version) -> None:
        self._store.set_active(v)

    def on(self, event: str, callback: Callable[[dict], None]) -> None:
        """Call ``callback(payload)`` on ``event``: ``"active"`` (``old``,
        ``new`` ids), ``"version"`` (a new ``version``), ``"discard"`` (``version``), ``"augment"``
        (``augmentation``), ``"tags"`` (``tag``, ``added`` or ``removed``). Callbacks run in
        the thread that made the change; bound methods are held weakly, so a closed view does not
        leak. An exception in a callback becomes a warning."""
        self._store.on(event, callback)

    def off(self, event: str, callback: Callable[[dict], None]) -> None:
        """Stop calling ``callback`` on ``event``."""
        self._store.off(event, callback)

    @property
    def history(self) -> list[dict]:
        """Training, discard, activation and augmentation events, oldest first."""
        return self._store.history

    # ================================================================== training
    def train_config(self, **hparams: Any) -> TrainConfig:
        """Validated training hyper-parameters: ``hparams`` over the defaults of
        :class:`~dashwidgets.train.TrainConfig` (the one place they are defined). An unknown
        name or a bad value raises with the field named."""
        return TrainConfig.from_kwargs(**hparams)

    def train(self, epochs: int = _DEFAULTS.epochs, lr: float = _DEFAULTS.lr, batch_size: int = _DEFAULTS.batch_size,
              optimizer: str = _DEFAULTS.optimizer, weight_decay: float = _DEFAULTS.weight_decay,
              seed: int = _DEFAULTS.seed, parent: Version | None = None, name: str | None = None,
              progress: bool = True, augmentations: Sequence[Augmentation | str] | None = None,
              replace: bool = False) -> ModelVersion:
        """Train a new version (blocking, with a progress bar) and return it.

        Starts from ``parent``'s weights, or from the engine's initial weights. Training runs on
        the ``train`` split; after each epoch the ``val`` split is evaluated. Interrupting
        (Ctrl-C) leaves no partial version. ``augmentations``: Augmentations (or ids) whose
        accepted images join the train split; the version's lineage names them and the splits
        their sources came from. ``replace=True``: they take their source images' places instead
        (those train images are left out; ``lineage["replaced_images"]`` counts them).
        """
        return self._training.train(_hparams(locals()), parent, name, progress, augmentations, replace)

    def train_async(self, epochs: int = _DEFAULTS.epochs, lr: float = _DEFAULTS.lr,
                    batch_size: int = _DEFAULTS.batch_size, optimizer: str = _DEFAULTS.optimizer,
                    weight_decay: float = _DEFAULTS.weight_decay, seed: int = _DEFAULTS.seed,
                    parent: Version | None = None, name: str | None = None,
                    augmentations: Sequence[Augmentation | str] | None = None, replace: bool = False) -> Job:
        """Train in a background thread; returns a :class:`Job` at once (bad arguments, an
        unwritable workspace, raise here).

        The job emits ``start``, ``batch`` (``epoch``, ``batch``, ``loss``, ``progress``) and
        ``epoch`` (``train_loss``, ``val_loss``, ``val_accuracy``) events; ``job.result()`` gives
        the new ModelVersion or re-raises the training error; ``job.cancel()`` stops it and no
        version is created.
        """
        return self._training.train_async(_hparams(locals()), parent, name, augmentations, replace)

    def retrain(self, version: Version, epochs: int = 3, **kwargs: Any) -> ModelVersion:
        """Continue training from ``version``'s weights into a new version (see :meth:`train`)."""
        return self.train(epochs=epochs, parent=version, **kwargs)

    def trained_from_scratch(self, **hparams: Any) -> ModelVersion | None:
        """The latest version trained from the initial weights (no parent) whose
        hyper-parameters include ``hparams`` (e.g. ``epochs=6, seed=0``), or None."""
        return self._training.trained_from_scratch(**hparams)

    # ================================================================== inference
    def evaluate(self, version: Version, split: str | None = None, layer: str | None = None) -> EvalResult:
        """One batched pass of ``version`` over ``split`` (all images when None).

        Returns an :class:`EvalResult` with ``pred``, ``probs``, ``loss``, ``correct``,
        ``embedding`` (pooled output of ``layer``, default the engine's embedding layer) and
        ``accuracy``. Cached per (version, split, layer); a split is sliced from a cached
        all-images pass when there is one.
        """
        return self._inference.evaluate(version, split, layer)

    def predict(self, version: Version, images: np.ndarray, layer: str | None = None) -> dict[str, np.ndarray]:
        """What ``version`` says about images outside the dataset (uint8 ``[N, 3, H, W]``, e.g. an
        augmentation's results): ``pred [N]``, ``probs [N, C]`` and ``embedding [N, D]`` (pooled
        ``layer``, default the embedding layer)."""
        return self._inference.predict(version, images, layer)

    def audit(self, version: Version) -> BiasAudit:
        """Validation vs unbiased-test accuracy, per class, and bias-aligned vs -conflicting."""
        return self._inference.audit(version)

    def report(self, version: Version, sample: int = 500, criticize: bool = True, seed: int = 0,
               progress: bool = True) -> Report:
        """Suspected biases of ``version``, ranked (issue 16 §3): what the model loses when a
        ``sample`` of validation images has its object greyed, the compact region beside it where
        Grad-CAM peaks filled, or its background filled (colour / patch / background); the val−test
        gap; under-performing UDIS subgroups of the test split; criticism enrichment (IFGSM, when
        ``criticize``). Each :class:`~dashwidgets.audit.findings.Finding` has a one-sided test at
        0.01 over the report (Bonferroni) against a 10-point effect, evidence images and a ``fix``
        that ``eng.augment(**fix)`` accepts. ``rep.to_text()``, ``rep.plot()``,
        ``rep.to_html(path)``; cached per (version, sample, criticize, seed)."""
        return self._report.report_console(version, sample, criticize, seed, progress)

    def report_async(self, version: Version, sample: int = 500, criticize: bool = True, seed: int = 0) -> Job:
        """:meth:`report` in a background :class:`Job` (``step`` events with ``stage`` and
        ``progress``; ``cancel()`` between stages); bad arguments raise here."""
        return self._report.report_job(version, sample, criticize, seed)

    def compare(self, a: Version, b: Version, split: str | None = "test") -> Comparison:
        """Version ``a`` against ``b`` on ``split``: both confusion matrices and their difference
        (``b - a``), per-image flips, and per-class accuracy (pandas). The Mosaic View's data."""
        return compare(self.evaluate(a, split), self.evaluate(b, split), self.classes)

    def trace(self, versions: Sequence[Version] | None = None, split: str | None = "test") -> Trace:
        """Correct/incorrect per image across ``versions`` in order (default: all, oldest first),
        with filters "became right", "became wrong", "always wrong". The Trace View's data."""
        vs = self.versions if versions is None else [self.version(v) for v in versions]
        if len(vs) < 2:
            raise ValueError(f"a trace needs at least 2 versions, got {len(vs)}")
        return trace([self.evaluate(v, split) for v in vs])

    # ================================================================== projection
    def project(self, version: Version, split: str | None = None, progress: bool = True,
                mode: str = "transform") -> np.ndarray:
        """t-SNE coordinates ``[M, 2] float32`` of ``version``'s embeddings, rows in dataset order
        of ``split`` (all images when None).

        The first version projected fits the map on all images. Later versions join the same
        frame: ``mode="transform"`` places them with openTSNE's ``transform`` (fast);
        ``mode="aligned"`` runs a full t-SNE of their own features started from the reference
        layout (slower, faithful also for versions trained from scratch). See
        :mod:`dashwidgets.audit.projection`. Cached per (version, mode) and kept in the workspace.
        """
        return self._projection.project(version, split, progress, mode)

    def density(self, version: Version, size: int = 64, mode: str = "transform") -> tuple[np.ndarray, tuple[float, ...]]:
        """Smoothed density of ``version``'s t-SNE map per split (the projection's contours):
        ``float32 [len(SPLITS), size, size]`` grids, each scaled to max 1, and the area
        ``(x0, x1, y0, y1)`` they cover."""
        return self._projection.density(version, size, mode)

    @property
    def projection_reference(self) -> str | None:
        """Id of the version whose embeddings defined the t-SNE map (None before the first)."""
        return self._projection.reference

    # ================================================================== attribution
    def attribute(self, version: Version, idx: Sequence[int] | np.ndarray, method: str = "gradcam",
                  target: str | int | Sequence[int] | np.ndarray = "pred", layer: str | None = None,
                  numpy: bool = False, batch_size: int | None = None, **params: Any) -> torch.Tensor | np.ndarray:
        """Attribution maps ``[N, H, W] float32`` at input resolution for images ``idx``.

        ``method``: ``"gradcam"`` or ``"scorecam"`` (``layer``: any conv layer, default the last),
        ``"ig"`` (``steps=64``) or ``"lrp"`` (epsilon rule, ``epsilon=10``). ``baseline`` (ig,
        scorecam): a black image unless given, in model input space; ``max_batch`` (ig,
        scorecam): perturbed inputs per pass. A parameter the method does not take is refused.
        ``target``: ``"pred"``, ``"label"``, one class index, or one per image. Returned on the
        engine's device (numpy with ``numpy=True``); cached on the CPU per (version, method,
        layer, target, images, params), at most 512 MiB. ``batch_size``: images per pass
        (default 64 on a CPU, 512 on a GPU).
        """
        return self._attribution.attribute(version, idx, method, target, layer, numpy, batch_size, params)

    def attribution_scores(self, version: Version, idx: Sequence[int] | np.ndarray, method: str = "gradcam",
                           target: str | int | Sequence[int] | np.ndarray = "pred", layer: str | None = None,
                           **params: Any) -> pd.DataFrame:
        """Per-image RMA and RRA of ``method``'s maps on each ground-truth mask: a DataFrame indexed
        by image with columns ``rma_<mask>``, ``rra_<mask>`` (none when the dataset has no masks).
        ``layer`` and ``params``: as for :meth:`attribute`."""
        return self._attribution.scores(version, idx, method, target, layer, params)

    def aopc(self, version: Version, idx: Sequence[int] | np.ndarray, method: str = "gradcam",
             target: str | int | Sequence[int] | np.ndarray = "pred", steps: int = 100, patch: int = 9,
             seed: int = 0, layer: str | None = None, **params: Any) -> AOPCResult:
        """Area over the most-relevant-first perturbation curve (Samek et al.) of ``method``'s maps:
        ``steps`` steps, each replacing the ``patch x patch`` region around the next most relevant
        location with uniform noise over the pixel range. ``method="random"`` orders the regions at
        random: the baseline a useful map must beat. Returns per-image scores and curves."""
        return self._attribution.aopc(version, idx, method, target, steps, patch, seed, layer, params)

    def bias_report(self, biased: Version, reference: Version, method: str | Sequence[str] = "gradcam",
                    split: str | None = "test", idx: Sequence[int] | np.ndarray | None = None, target: str = "pred",
                    reference_engine: Engine | None = None, **params: Any) -> BiasReport:
        """Does ``biased`` look at the bias more than ``reference``? RMA and RRA of each method's
        maps (one method or a list) on every ground-truth mask, for both versions on the same
        images (``split``'s, or ``idx``), with Welch's t-test and Cohen's d per row.

        ``reference_engine``: the Engine that holds ``reference`` when it was trained on other data
        (as in the paper: a model trained on unbiased data), provided it holds the same images at
        these indices (the embedded benchmarks share their test split across bias levels)."""
        other = self if reference_engine is None else reference_engine
        if not isinstance(other, Engine):
            raise TypeError(f"reference_engine must be an Engine, got {type(other).__name__}")
        return self._attribution.bias_report(biased, reference, method, split, idx, target, other._attribution, params)

    # ================================================================== clusters, augmentation
    def cluster(self, version: Version, k: int = 8, split: str | None = "train",
                selection: Sequence[int] | np.ndarray | None = None, n: int = 8, seed: int = 0) -> Clustering:
        """k-means (k from 2 to 20) on ``version``'s embeddings of ``split`` (or of
        ``selection``): the clusters are style classes (XploreGAN's pseudo-labels). Each has its
        ``n`` representatives closest to the centroid, its size and accuracy. ``cl[c]`` is a
        :class:`Cluster` to pass as ``style=`` to :meth:`augment`."""
        return self._augmentation.cluster(version, k, split, selection, n, seed)

    def augment(self, source_idx: Sequence[int] | np.ndarray, style: Cluster | None = None, method: str = "color",
                version: Version | None = None, seed: int = 0, **params: Any) -> Augmentation:
        """New images from ``source_idx`` (train-split images: augmentations join training, so
        a val or test source is refused) toward ``style`` (a :class:`Cluster` from
        :meth:`cluster`), kept with their provenance (and in the workspace).

        ``method``: ``"color"`` (foreground colour statistics of a style image; ``strength=1``),
        ``"background"`` (foreground pasted on a style image's background), ``"translate"`` (the
        cluster-conditioned GAN of :meth:`translator`, trained on first use: ``steps``,
        ``translator_seed``, ``progress``), ``"mask"`` /
        ``"noise"`` (grey out or add Gaussian noise, ``sigma=0.5``, on the pixels above the
        ``quantile=0.7`` of each image's ``region`` map, i.e. its top 30 % as in the paper:
        ``"attribution"`` of ``version`` with ``attribution="gradcam"``, the ground-truth
        ``"bias"`` mask, or a :meth:`region_classifier`'s pixel maps with ``map="specific"``
        (each image's own) or ``"general"`` (the train mean)), or ``"torchvision"`` (``transform``: a
        callable on a ``uint8 [3, H, W]`` tensor). ``foreground``: ``"object"`` (ground-truth
        masks, the default when the dataset has them), ``"attribution"`` or ``None`` (whole
        image). Each result keeps its source's label. A parameter the method does not read is
        refused.
        """
        return self._augmentation.augment(source_idx, style, method, version, seed, params)

    def check_sources(self, source_idx: Sequence[int] | np.ndarray) -> np.ndarray:
        """``source_idx`` as augmentation sources (``[M] int64``), or a ValueError when it is empty
        or holds val/test images (augmentations join training). Views call it before long work."""
        return self._augmentation.check_sources(source_idx)

    @property
    def augmentations(self) -> list[Augmentation]:
        """Every augmentation made (and kept in the workspace), oldest first."""
        return self._augmentation.augmentations

    def augmentation(self, a: Augmentation | str) -> Augmentation:
        """Look up an augmentation by record or id."""
        return self._augmentation.get(a)

    def review(self, augmentation: Augmentation | str, rows: Sequence[int] | np.ndarray, accept: bool) -> Augmentation:
        """Accept or reject the images at ``rows`` (positions in the augmentation) before a retrain."""
        return self._augmentation.review(augmentation, rows, accept)

    def translator(self, version: Version | None = None, k: int = 8, steps: int = TRANSLATE_STEPS, seed: int = 0,
                   foreground: str | None = "auto", progress: bool = True) -> Translator:
        """The cluster-conditioned translator toward the ``k`` style clusters of ``version``
        (``eng.cluster(version, k)`` on the train split): trained here (blocking, with a progress
        bar) or taken from the cache or workspace (one per version, k, steps, seed, foreground).
        ``augment(..., method="translate")`` uses it; :meth:`translator_async` trains it in the
        background. See :mod:`dashwidgets.augment.translate`.
        """
        return self._translation.translator(version, k, steps, seed, foreground, progress)

    def translator_async(self, version: Version | None = None, k: int = 8, steps: int = TRANSLATE_STEPS,
                         seed: int = 0, foreground: str | None = "auto") -> Job:
        """Train the translator (see :meth:`translator`) in a background thread; returns a
        :class:`Job` at once. Events: ``start``, ``step`` (every 10 steps: ``step``, ``progress``,
        losses) or ``cached``; ``job.cancel()`` stops it and nothing is kept."""
        return self._translation.translator_async(version, k, steps, seed, foreground)

    # ================================================================== region classifiers
    def region_classifier(self, attribute: str = "bias_class", patch: int | None = None, positions: int | None = None,
                          epochs: int = 30, lr: float = 1e-3, batch_size: int = 256, confidence: str = "entropy",
                          seed: int = 0, progress: bool = True, label_smoothing: float = 0.0) -> RegionClassifier:
        """A region classifier (De Coninck et al.): predicts ``attribute`` (a dataset attribute,
        or ``"label"``) from one ``patch``-px square and its position among ``positions`` on a
        √p × √p grid (defaults scale with the image: 8 px and 9 × 9 at 32 px), trained on the
        train split; kept in memory and in the workspace. ``rc.maps(idx)`` pixel maps in [0, 1],
        ``rc.region_maps(idx)``, ``rc.ece(split="val", bins=100)``, ``rc.plot()``.
        ``label_smoothing``: the paper's is 0.1; 0 by default because smoothing caps the top
        probability near ``0.9 + 0.1 / C`` while patches that hold the attribute are right nearly
        always, which alone costs about 0.09 ECE where such patches abound (our benchmarks)."""
        spec = self._regions.spec(attribute, patch, positions, epochs, lr, batch_size, confidence, seed,
                                  label_smoothing)
        return self._regions.train(spec, progress)

    def region_classifier_async(self, attribute: str = "bias_class", patch: int | None = None,
                                positions: int | None = None, epochs: int = 30, lr: float = 1e-3,
                                batch_size: int = 256, confidence: str = "entropy", seed: int = 0,
                                label_smoothing: float = 0.0) -> Job:
        """:meth:`region_classifier` in a background :class:`Job` (events ``epoch`` with
        ``progress``, ``loss``, ``val_accuracy``; ``cancel()``); bad arguments raise at once."""
        spec = self._regions.spec(attribute, patch, positions, epochs, lr, batch_size, confidence, seed,
                                  label_smoothing)
        return self._regions.train_async(spec)

    # ================================================================== subgroups, neurons (VisCUIT)
    def subgroups(self, version: Version, k: int | None = None, split: str | None = "test", method: str = "kmeans",
                  ratio: float = 0.5, seed: int = 0) -> Subgroups:
        """UDIS subgroups of ``version`` on ``split``: its embeddings clustered (``method``:
        ``"kmeans"`` with ``seed``, or ``"hierarchical"`` Ward; ``k`` from 2 to the split size,
        default ``round(sqrt(n / 2))`` within [2, n // 10] and at most 50). A subgroup
        under-performs when its accuracy is below ``ratio`` times the overall accuracy; each is
        paired with the closest well-performing one (Euclidean distance of mean embeddings).
        ``sg.table``: size, accuracy, under, pair, dominant label and prediction, boolean
        attribute shares, ids worst first; ``sg.members(i)``, ``sg.confusion(i)``. Cached."""
        return self._viscuit.subgroups(version, k, split, method, ratio, seed)

    def neuron_scores(self, version: Version, groups: dict[str, Sequence[int] | np.ndarray],
                      layers: Sequence[str] | None = None, fraction: float = 0.03) -> pd.DataFrame:
        """Summit activation score of every channel of every conv layer (or of ``layers``) for each
        group (``name -> dataset indices``): the share of the group's images for which the channel
        is highly activated, i.e. among the top channels by spatial maximum whose running sum
        first exceeds ``fraction`` of the layer's total. Columns ``layer``, ``neuron`` and one per
        group. The spatial maxima are cached per (version, split): one hooked pass per split."""
        return self._viscuit.neuron_scores(version, groups, layers, fraction)

    def concepts(self, version: Version, layer: str, neuron: int, n_images: int = 10, n_patches: int = 32,
                 top: int = 10, split: str | None = None, seed: int = 0) -> Concepts:
        """Concept patches of one neuron (VisCUIT): the ``n_images`` images of ``split`` (None:
        the whole dataset) that activate channel ``neuron`` of conv ``layer`` most, ``n_patches``
        random squares in each (30 px at 224 px, scaled), and the ``top`` squares that activate
        it most when shown alone. ``cc.images``, ``cc.patches`` (uint8), ``cc.activations``,
        ``cc.sources``, ``cc.boxes``; see :mod:`dashwidgets.audit.concepts`. Cached."""
        return self._viscuit.concepts(version, [(layer, neuron)], n_images, n_patches, top, split, seed)[(layer, neuron)]

    def concepts_many(self, version: Version, neurons: Sequence[tuple[str, int]], n_images: int = 10,
                      n_patches: int = 32, top: int = 10, split: str | None = None,
                      seed: int = 0) -> dict[tuple[str, int], Concepts]:
        """:meth:`concepts` of many ``(layer, neuron)`` pairs in one batched pass."""
        return self._viscuit.concepts(version, neurons, n_images, n_patches, top, split, seed)

    def cluster_neurons_async(self, version: Version, neurons: Sequence[tuple[str, int]], threshold: float = 0.9,
                              epochs: int = 10, pairs: int = 10_000, lr: float = 1e-4, batch_size: int = 128,
                              seed: int = 0) -> Job:
        """Group ``neurons`` whose concept patches look alike (VisCUIT's neuron clustering: an
        embedding of concept patches initialised from the model, trained ``epochs`` epochs on
        ``pairs`` same- and different-neuron pairs, then greedy grouping at ``threshold``), in a
        background :class:`Job` (events ``step`` with ``progress``; ``cancel()``). Its result,
        a ``NeuronClusters``, is also what :meth:`neuron_clusters` returns afterwards. The
        paper's settings cost ~1,600 SGD steps over ~200 patch images each: minutes on a CPU
        (a larger ``batch_size`` with a larger ``lr`` is cheaper), seconds on a GPU."""
        return self._viscuit.cluster_job(version, neurons, threshold, epochs, pairs, lr, batch_size, seed)

    def cluster_neurons(self, version: Version, neurons: Sequence[tuple[str, int]], **kwargs: Any):
        """:meth:`cluster_neurons_async`, waiting for the result."""
        return self.cluster_neurons_async(version, neurons, **kwargs).result()

    def neuron_clusters(self, version: Version):
        """The last finished neuron clustering of ``version`` (kept in the workspace), or None."""
        return self._viscuit.clusters(version)

    # ================================================================== tags, selections
    def tag(self, name: str, indices: Sequence[int] | np.ndarray) -> list[int]:
        """Add images ``indices`` to the tag ``name`` (a named, saved selection; made on first use)
        and return its sorted indices. Names are stripped, non-empty, at most 64 characters.
        Emits ``"tags"``; kept in the workspace's ``tags.json``."""
        return self._tags.tag(name, indices)

    def untag(self, name: str, indices: Sequence[int] | np.ndarray | None = None) -> list[int]:
        """Remove ``indices`` (all: the tag itself when None) from tag ``name``; returns what is
        left (a tag left empty is removed). Emits ``"tags"``."""
        return self._tags.untag(name, indices)

    @property
    def tags(self) -> dict[str, list[int]]:
        """Every tag: ``name -> sorted image indices`` (a copy), names in sorted order."""
        return self._tags.tags

    def filter(self, version: Version, indices: Sequence[int] | np.ndarray | None = None, label: str | int | None = None,
               pred: str | int | None = None, split: str | None = None, correct: bool | str | None = None,
               tag: str | None = None) -> np.ndarray:
        """``[M] int64``: the images of ``indices`` (all when None), in their order, whose true
        ``label`` / predicted class ``pred`` under ``version`` (name or index), ``split``,
        ``correct`` (True/False or ``"correct"``/``"wrong"``) and ``tag`` match; None matches all.
        Uses the cached all-images :meth:`evaluate` pass."""
        return self._selections.filter(version, indices, label, pred, split, correct, tag)

    def frame(self, indices: Sequence[int] | np.ndarray, version: Version | None = None) -> pd.DataFrame:
        """One row per image of ``indices``: ``index``, ``split``, ``label``, ``prediction``,
        ``confidence`` and ``correct`` under ``version`` (default: the active one), and ``tags``
        (names joined by ``"; "``). ``.to_csv(path, index=False)`` keeps it."""
        return self._selections.frame(indices, self._store.version(version) if version is not None else self._need_active())

    def image_detail(self, index: int, version: Version | None = None, method: str = "gradcam") -> dict:
        """Everything about one image: ``image`` ``[H, W, 3] uint8``, ``bias_mask`` ``[H, W]
        bool`` (None without one), ``heat`` ``[H, W] float32`` (``method``'s map of the predicted
        class under ``version``, default the active one), ``label``, ``split``, ``tags`` and
        ``history``: one dict per version (``version``, ``prediction``, ``confidence``,
        ``correct``), oldest first."""
        v = self._store.version(version) if version is not None else self._need_active()
        return self._selections.detail(index, v, method)

    # ================================================================== model criticism
    def criticize(self, version: Version, split: str | None = "test", steps: int = 10, step_size: float = 1e-3,
                  methods: Sequence[str] | str = ("adv", "mmd", "prob"), n: int = 10, sample: int | None = None,
                  seed: int = 0, gamma: float | None = None, lam: float = 1e-5) -> Criticism:
        """Prototypes and criticisms of each class (Stock & Cisse 2018) on ``split``'s images (or a
        seeded ``sample`` of them). ``"adv"``: IFGSM on the model input, ``step_size`` in [0, 1]
        pixel units (divided by the normalisation's std per channel, clipped to valid pixels),
        ``steps`` steps; prototypes survive all of them, criticisms flip after one. ``"mmd"``:
        MMD-critic on the embeddings, ``n`` of each per class (RBF ``gamma``, default the median
        heuristic; log-det weight ``lam``). ``"prob"``: p(true class) > 0.9 / < 0.1.
        ``cr.steps`` (0: misclassified, ``steps + 1``: never flipped) aligned with
        ``cr.indices``; ``cr.prototypes(c, method)``, ``cr.criticisms(c, method)``,
        ``cr.enrichment(attribute, method)``. Cached; the step counts are kept in the workspace."""
        return self._criticism.criticize(version, split, steps, step_size, methods, n, sample, seed, gamma, lam)

    def criticize_async(self, version: Version, split: str | None = "test", steps: int = 10, step_size: float = 1e-3,
                        methods: Sequence[str] | str = ("adv", "mmd", "prob"), n: int = 10, sample: int | None = None,
                        seed: int = 0, gamma: float | None = None, lam: float = 1e-5) -> Job:
        """:meth:`criticize` in a background :class:`Job` (bad arguments raise here): ``step``
        events (``progress``, ``done``, ``total`` images attacked); ``cancel()`` stops between
        batches and keeps nothing; ``job.result()`` is the :class:`Criticism`."""
        return self._criticism.criticize_job(version, split, steps, step_size, methods, n, sample, seed, gamma, lam)

    # ================================================================== region mitigation
    def mitigation_table(self, biased_version: Version, rc: RegionClassifier,
                         quantiles: Sequence[float] | float = (0.6, 0.7, 0.8),
                         kinds: Sequence[tuple[str, str]] = _MITIGATION_KINDS, epochs: int | None = None,
                         reference: Version | Engine | None = None, seed: int = 0,
                         progress: bool = True) -> pd.DataFrame:
        """The paper's Table 1 (De Coninck et al.): one row per model (``model``, ``kind``, ``noise``,
        ``quantile``, ``accuracy``, ``aligned_accuracy``, ``conflicting_accuracy``, ``gap``,
        ``augmentation``) on the test split: ``biased_version``; for each (map, noise) of ``kinds``
        and each ``quantile`` (the paper's: pixels above the map's quantile changed, 0.7 = top 30 %)
        a model trained like ``biased_version`` (same start, hyper-parameters; ``epochs`` default
        its own) on every train image's mitigated copy in place of the image, as the paper does
        (``eng.augment(train, method=noise, region=rc, map=map, quantile=q)``, then
        ``eng.train(..., augmentations=[aug], replace=True)``); and
        ``reference`` (a version trained on unbiased data, or an Engine's active one) when given."""
        return _mitigation_table(self, biased_version, rc, quantiles, kinds, epochs, reference, seed, progress)

    def _need_active(self) -> ModelVersion:
        if self.active is None:
            raise ValueError("the engine has no trained version yet; call train() first")
        return self.active

    # ================================================================== misc
    def __repr__(self) -> str:
        ws = f", workspace={str(self.workspace)!r}" if self.workspace is not None else ""
        return (
            f"Engine({self.dataset.name!r}, {len(self.dataset)} images, device={str(self.device)!r}, "
            f"versions={[v.id for v in self.versions]}{ws})"
        )
