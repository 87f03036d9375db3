"""ClusterGallery and AugmentedView: pick a style cluster, augment the selection toward it, and
review the results before retraining (DASH's Cluster GAN View and Augmented Image View)."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..audit.cluster import K_RANGE
from ..augment.record import METHODS
from ..augment.translate import STEPS
from ..engine.engine import Engine
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView, Paged, View


class ClusterGallery(EngineView):
    """Style clusters of one version: k-means on its embeddings (K from 2 to 20), each cluster a
    column of its ``n`` images closest to the centroid, with size and accuracy.

    Pick one or more clusters (``style_clusters``) as the target style; the linked ``selection`` gives the
    source images; :meth:`augment` (the Augment button) calls ``Engine.augment`` once per picked
    cluster with ``method``. With ``method="translate"`` the cluster-conditioned translator of
    ``(version, k)`` is trained first in a background job (``state``, ``progress``, Cancel), unless
    it is already cached; the augmentations follow when it is done.
    """

    _bundle = "clusters"

    k = traitlets.Int(8).tag(sync=True)
    n = traitlets.Int(6).tag(sync=True)
    """int: representatives shown per cluster."""
    split = traitlets.Unicode("train").tag(sync=True)
    clusters = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: per cluster: cluster, size, accuracy, top_class, top_class_share (aligned_share)."""
    reps = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    """list of list of int: per cluster, the representatives' dataset indices."""
    atlas = traitlets.Bytes(b"").tag(sync=True)
    atlas_cols = traitlets.Int(1).tag(sync=True)
    cell = traitlets.Int(48).tag(sync=True)
    style_clusters = traitlets.List(traitlets.Int()).tag(sync=True)
    """list of int: the clusters picked as target styles (``style`` is taken: ipywidgets
    reserves it for a widget's Style model)."""
    method = traitlets.Unicode("color").tag(sync=True)
    methods = traitlets.List(traitlets.Unicode(), default_value=["color", "background", "translate", "mask", "noise"]).tag(sync=True)
    steps = traitlets.Int(STEPS).tag(sync=True)
    """int: training steps of the translator (``method="translate"``)."""
    state = traitlets.Unicode("idle").tag(sync=True)
    """str: the translator job: "idle", "running", "done", "failed" or "cancelled"."""
    progress = traitlets.Float(0.0).tag(sync=True)
    made = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: ids of the augmentations the last Augment made."""
    message = traitlets.Unicode("").tag(sync=True)

    def __init__(self, engine: Engine, version: ModelVersion | str | Job | None = None, k: int = 8, **kwargs: Any):
        super().__init__(engine, version, **kwargs)
        self.clustering = None
        self.job: Job | None = None
        self.on_msg(self._on_msg)
        self.k = k
        self.version = self.initial_version.id

    @traitlets.validate("k")
    def _check_k(self, proposal):
        lo, hi = K_RANGE
        if not lo <= proposal["value"] <= hi:
            self._reject(f"k must be from {lo} to {hi}, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("n")
    def _check_n(self, proposal):
        if not 1 <= proposal["value"] <= 50:
            self._reject(f"n must be from 1 to 50, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("method")
    def _check_method(self, proposal):
        if proposal["value"] not in METHODS:
            self._reject(f"unknown augmentation method {proposal['value']!r}; choose one of {list(METHODS)}")
        return proposal["value"]

    @traitlets.validate("style_clusters")
    def _check_style(self, proposal):
        bad = [c for c in proposal["value"] if not 0 <= c < self.k]
        if bad:
            self._reject(f"style clusters out of range [0, {self.k}): {bad}")
        return sorted(set(proposal["value"]))

    @traitlets.observe("k", "n", "split", "version")
    def _recluster(self, change) -> None:
        if not self.version:
            return
        try:
            cl = self._engine.cluster(self.version, self.k, self.split or None, n=self.n)
            reps = [r.tolist() for r in cl.representatives]
            flat = np.concatenate([np.asarray(r, dtype=np.int64) for r in reps])
            png, cols = atlas_png(self._engine.dataset.images[flat], self.cell)
            rows = [{"cluster": int(c), **{k: _plain(v) for k, v in r.items()}} for c, r in cl.table.iterrows()]
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
            return
        self.clustering = cl
        with self.hold_sync():
            self.clusters = rows
            self.reps = reps
            self.atlas = png
            self.atlas_cols = cols
            self.style_clusters = [c for c in self.style_clusters if c < self.k]
            self.error = ""

    def augment(self, **params: Any) -> list | Job:
        """Augment the selected images toward each picked style cluster; returns the
        Augmentations (none, with the reason shown, on bad input). With ``method="translate"``
        it returns the background :class:`Job` (its result: the Augmentations)."""
        try:
            if not self.selection:
                raise ValueError("no source images: select images (e.g. a lasso in a linked projection) first")
            if not self.style_clusters and self.method in ("color", "background", "translate"):
                raise ValueError("pick at least one style cluster (click a column header)")
            if self.clustering is None:
                raise ValueError("no clustering yet")
            if self.job is not None and not self.job.done:
                raise ValueError("the translator is still training; cancel it or wait")
            styles = [self.clustering[c] for c in self.style_clusters] or [None]
            selection = self._engine.check_sources(self.selection).tolist()  # before a minute of training
            if self.method == "translate":
                job = self._engine.translator_async(self.version, self.k, steps=self.steps)
                self.job = job
                with self.hold_sync():
                    self.state, self.progress, self.error = "running", 0.0, ""
                    self.message = f"training the translator for k={self.k} ({self.steps} steps)…"
                job.on_event(lambda ev: self._on_job_event(job, ev, selection, styles, params))
                return job
            made = self._make(selection, styles, self.method, params)
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
            return []
        return made

    def _make(self, selection: list[int], styles: list, method: str, params: dict) -> list:
        made = [
            self._engine.augment(selection, style=st, method=method, version=self.version,
                                 **({"steps": self.steps, "progress": False} if method == "translate" else {}), **params)
            for st in styles
        ]
        with self.hold_sync():
            self.made = [a.id for a in made]
            self.error = ""
            hits = [a.params["style_hit"] for a in made if "style_hit" in a.params]
            landed = f" · {100 * np.mean(hits):.0f}% land in their style cluster" if hits else ""
            self.message = f"made {sum(len(a) for a in made)} images: " + ", ".join(a.id for a in made) + landed
        return made

    def cancel(self) -> None:
        """Stop the translator's training; nothing is made."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
            self.message = "cancelling…"

    def _on_job_event(self, job: Job, ev: dict, selection: list[int], styles: list, params: dict) -> None:
        kind = ev.get("type")
        if kind == "step":
            self._throttled_progress(ev["progress"])
        elif kind == "done":
            with self.hold_sync():
                self.state, self.progress = "done", 1.0
            try:
                self._make(selection, styles, "translate", params)
            except Exception as e:  # noqa: BLE001 - shown in the view
                self._report(e)
        elif kind == "cancelled":
            with self.hold_sync():
                self.state = "cancelled"
                self.message = "translator training cancelled: nothing was made"
        elif kind == "failed":
            with self.hold_sync():
                self.state = "failed"
                self.error = f"translator training failed: {ev.get('error', 'unknown error')}"

    def _on_msg(self, _widget, content, _buffers) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "augment":
            if self._apply(content, ("method", "style_clusters")):
                self.augment()
        elif action == "cancel":
            self.cancel()


def _plain(v):
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else round(float(v), 4)
    if isinstance(v, np.integer):
        return int(v)
    return v


class AugmentedView(Paged, View):
    """Originals beside their augmented images, for one augmentation at a time; click a pair to
    reject (or accept again) it before retraining; counts per class and per target cluster, and
    the augmentation history. Atlas cell ``2k`` is pair k's source image, ``2k + 1`` its result.

    Parameters
    ----------
    engine : Engine
    augmentation : Augmentation or id, optional
        Default: the latest one, following new ones.
    """

    _bundle = "augmented"

    augmentation = traitlets.Unicode("").tag(sync=True)
    history = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: every augmentation (id, method, style, params, images, accepted, created)."""
    pairs = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the page's pairs: row, source, label, accepted."""
    summary = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: accepted images per class."""

    def __init__(self, engine: Engine, augmentation=None, **kwargs: Any):
        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a dashwidgets Engine, got {type(engine).__name__}")
        self._engine = engine
        self._follow = augmentation is None
        super().__init__(**kwargs)
        self.on_msg(self._on_msg)
        engine.on("augment", self._on_engine)
        self._refresh_history()
        if augmentation is not None:
            self.augmentation = getattr(augmentation, "id", augmentation)
        elif engine.augmentations:
            self.augmentation = engine.augmentations[-1].id

    @property
    def engine(self) -> Engine:
        return self._engine

    @traitlets.validate("augmentation")
    def _check_aug(self, proposal):
        value = proposal["value"]
        if value:
            try:
                self._engine.augmentation(value)
            except ValueError as e:
                self._reject(str(e))
        return value

    def _refresh_history(self) -> None:
        self.history = [a.meta() for a in self._engine.augmentations]

    def _on_engine(self, event: dict) -> None:
        self._refresh_history()
        aid = event.get("augmentation")
        if self._follow and aid and aid != self.augmentation:
            self.augmentation = aid
        elif aid == self.augmentation:
            self._render()

    @traitlets.observe("augmentation", "page", "page_size")
    def _on_change(self, change) -> None:
        self._render()

    def _render(self) -> None:
        if not self.augmentation:
            return
        try:
            aug = self._engine.augmentation(self.augmentation)
            n = len(aug)
            rows = np.arange(self.page * self.page_size, min(n, (self.page + 1) * self.page_size))
            ds = self._engine.dataset
            pairs_img = np.empty((2 * len(rows), *aug.images.shape[1:]), np.uint8)
            pairs_img[0::2] = ds.images[aug.sources[rows]]
            pairs_img[1::2] = aug.images[rows]
            png, cols = atlas_png(pairs_img, self.cell) if len(rows) else (b"", 1)
            classes = ds.classes
            pairs = [
                {"row": int(r), "source": int(aug.sources[r]), "label": classes[int(aug.labels[r])], "accepted": bool(aug.accepted[r])}
                for r in rows
            ]
            summary = [{"class": c, "images": int(k)} for c, k in aug.summary(classes)["images"].items()]
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
            return
        with self.hold_sync():
            self.total = n
            self.pairs = pairs
            self.atlas = png
            self.atlas_cols = cols
            self.summary = summary
            self.error = ""

    def toggle(self, row: int) -> None:
        """Flip accepted/rejected for one pair."""
        aug = self._engine.augmentation(self.augmentation)
        self._engine.review(aug, [row], not bool(aug.accepted[row]))

    def _on_msg(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("action") == "toggle":
            try:
                self.toggle(int(content["row"]))
            except Exception as e:  # noqa: BLE001 - shown in the view
                self._report(e)
