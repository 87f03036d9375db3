"""ClusterGallery and AugmentedView: pick a style cluster, augment the selection toward it, and
review the results before retraining (DASH's Cluster GAN View and Augmented Image View)."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..audit.cluster import K_RANGE
from ..augment.record import METHODS
from ..augment.translate import STEPS
from ..datasets.imageset import SPLITS
from ..engine.augmentation import SOURCE_SPLITS
from ..engine.engine import Engine
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView, Paged, RunsJob, View


class ClusterGallery(RunsJob, EngineView):
    """Style clusters of one version: k-means on its embeddings (K from 2 to 20), each cluster a
    column of its ``n`` images closest to the centroid, with size and accuracy.

    Pick one or more clusters (``style_clusters``, a click on a column header) as the target
    style. The source images come from ``source``: ``"selection"`` (the linked ``selection``,
    e.g. a lasso in a linked ProjectionView) or ``"clusters"`` (every member of the clusters in
    ``source_clusters``, the "source" boxes under the headers). Augmentations join training, so
    only train images are used: val/test images among the chosen ones are left out, with their
    count in ``source_hint`` (``Engine.check_sources`` refuses them). :meth:`augment` (the Augment
    button, disabled until there is a source) calls ``Engine.augment`` once per picked cluster
    with ``method``. With ``method="translate"`` the cluster-conditioned translator of
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
    source = traitlets.Unicode("selection").tag(sync=True)
    """str: where the source images come from: "selection" (the linked selection) or "clusters"
    (the members of ``source_clusters``)."""
    source_clusters = traitlets.List(traitlets.Int()).tag(sync=True)
    """list of int: clusters whose images are the sources when ``source == "clusters"``."""
    source_count = traitlets.Int(0).tag(sync=True)
    """int: train images the Augment button would use (read-only, kept up to date)."""
    source_hint = traitlets.Unicode("").tag(sync=True)
    """str: how to choose sources and what is chosen, per split (read-only, shown under the toolbar)."""
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
        return self._one_of(proposal, METHODS, "augmentation method")

    @traitlets.validate("style_clusters", "source_clusters")
    def _check_style(self, proposal):
        bad = [c for c in proposal["value"] if not 0 <= c < self.k]
        if bad:
            kind = "style" if proposal["trait"].name == "style_clusters" else "source"
            self._reject(f"{kind} clusters out of range [0, {self.k}): {bad}")
        return sorted(set(proposal["value"]))

    @traitlets.validate("source")
    def _check_source(self, proposal):
        return self._one_of(proposal, _SOURCES)

    # -------------------------------------------------------------- sources
    def chosen_sources(self) -> np.ndarray:
        """``[M] int64`` dataset indices chosen as sources, of any split (see ``source``)."""
        if self.source == "clusters":
            if getattr(self, "clustering", None) is None or not self.source_clusters:
                return np.zeros(0, np.int64)
            return np.unique(np.concatenate([self.clustering[c].members for c in self.source_clusters])).astype(np.int64)
        return np.asarray(self.selection, dtype=np.int64)

    def source_indices(self) -> np.ndarray:
        """``[M] int64``: the chosen sources that are train images (the ones Augment uses)."""
        idx = self.chosen_sources()
        return idx[np.isin(self._engine.dataset.split[idx], SOURCE_SPLITS)]

    @traitlets.observe("selection", "source", "source_clusters", "style_clusters", "method")
    def _on_sources(self, change=None) -> None:
        idx = self.chosen_sources()
        split = self._engine.dataset.split[idx]
        counts = {s: int((split == s).sum()) for s in SPLITS}
        used = sum(counts[s] for s in SOURCE_SPLITS)
        if self.source == "clusters":
            where = (f"the images of cluster(s) {', '.join('#' + str(c) for c in self.source_clusters)}"
                     if self.source_clusters else None)
            how = "tick 'source' under a cluster's header (or switch to the linked selection)"
        else:
            where = "the linked selection" if len(idx) else None
            how = "lasso images in a linked ProjectionView (or set .selection), or use source clusters"
        if where is None:
            text = f"Sources: none yet. To choose them, {how}."
        else:
            text = f"Sources: {len(idx)} image(s) from {where}"
            left = {s: n for s, n in counts.items() if s not in SOURCE_SPLITS and n}
            if left:
                text += (f"; {used} train image(s) used, {' and '.join(f'{n} {s}' for s, n in left.items())} left out"
                         " (augmentations join training: only train images are sources)")
            else:
                text += f", all {used} train"
            text += "."
        needs_style = self.method in _STYLED
        if needs_style and not self.style_clusters:
            text += " Target style: click a cluster's header to pick it."
        elif self.style_clusters:
            text += f" Target style: cluster(s) {', '.join('#' + str(c) for c in self.style_clusters)}."
        with self.hold_sync():
            self.source_count = used
            self.source_hint = text
            if used and self.error and self.error == getattr(self, "_source_error", None):
                self.error = ""  # the refusal no longer applies

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
            self.source_clusters = [c for c in self.source_clusters if c < self.k]
            self.error = ""
        self._on_sources()

    def augment(self, **params: Any) -> list | Job:
        """Augment the train images among the chosen sources (``source``) toward each picked
        style cluster; returns the Augmentations (none, with the reason shown, on bad input). With
        ``method="translate"`` it returns the background :class:`Job` (its result: the
        Augmentations)."""
        try:
            chosen = self.chosen_sources()
            used = self.source_indices()
            if not len(used):
                splits = sorted(set(self._engine.dataset.split[chosen].tolist()))
                self._source_error = (
                    "no source images: select images (e.g. a lasso in a linked projection) or tick 'source' "
                    "under clusters first" if not len(chosen) else
                    f"all {len(chosen)} chosen source image(s) come from the {'/'.join(splits)} split; augmentations "
                    "join training, so they are made from train images only (an evaluation image must not reach "
                    "training). Select train images (e.g. tick only 'train' under 'lasso selects' in the projection)"
                )
                raise ValueError(self._source_error)
            if not self.style_clusters and self.method in _STYLED:
                raise ValueError("pick at least one style cluster (click a column header)")
            if self.clustering is None:
                raise ValueError("no clustering yet")
            if self.job is not None and not self.job.done:
                raise ValueError("the translator is still training; cancel it or wait")
            styles = [self.clustering[c] for c in self.style_clusters] or [None]
            selection = self._engine.check_sources(used).tolist()  # before a minute of training
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
            left = len(self.chosen_sources()) - len(selection)
            dropped = f" · {left} val/test image(s) left out" if left > 0 else ""
            self.message = f"made {sum(len(a) for a in made)} images: " + ", ".join(a.id for a in made) + landed + dropped
        return made

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
            if self._apply(content, ("method", "style_clusters", "source", "source_clusters")):
                self.augment()
        elif action == "cancel":
            self.cancel()


_SOURCES = ("selection", "clusters")
_STYLED = ("color", "background", "translate")  # methods that need a target style


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
