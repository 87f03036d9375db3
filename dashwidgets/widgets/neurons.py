"""NeuronPanel: the conv neurons an under-performing subgroup activates, beside those its
well-performing pair activates (VisCUIT's Neuron Activations view, Figure 1B)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import traitlets

from ..engine.engine import Engine
from ..models.activations import check_conv_layers
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._base import EngineView, RunsJob

THRESHOLD_RANGE = (0.5, 1.0)
"""Activation-score thresholds the panel accepts; neurons scoring below the low end for both groups
are never sent to the browser (the payload stays small for a ResNet's thousands of channels)."""

COLUMNS = ("under", "both", "well")


def split_columns(scores: pd.DataFrame, threshold: float) -> dict[str, pd.DataFrame]:
    """The three columns of the panel from a scores table with ``under`` and ``well`` columns:
    ``"under"`` (under ≥ threshold > well), ``"both"`` (both ≥ threshold) and ``"well"``
    (well ≥ threshold > under); rows below the threshold for both groups are in none."""
    u = scores["under"].to_numpy() >= threshold
    w = scores["well"].to_numpy() >= threshold
    return {"under": scores[u & ~w], "both": scores[u & w], "well": scores[w & ~u]}


class NeuronPanel(RunsJob, EngineView):
    """Neuron activations of an under-performing subgroup and its well-performing pair.

    ``subgroup`` (linked with a SubgroupPanel, or picked in the panel's own dropdown) is an
    under-performing subgroup id of ``engine.subgroups(version, k, split, method)``; the panel
    scores every conv neuron for the subgroup's images and its pair's
    (``engine.neuron_scores``: the share of the group's images that highly activate the neuron)
    and shows three columns: neurons only the under-performing subgroup activates, both, and only
    the well-performing one; one band per conv layer, top to bottom in model order, node size =
    score (in "Both": the larger of the two). A neuron counts for a group when its score is at
    least ``threshold`` (0.5 to 1). Only neurons with a score ≥ 0.5 for either group are sent, once
    per subgroup; the threshold slider filters them in the browser. Hover a neuron for its scores
    and, once "Cluster neurons" (``cluster``, a background job over the neurons shown) has run,
    its cluster mates; click it to set ``neuron`` (link it to a ConceptWindow).

    SubgroupPanel, NeuronPanel and ConceptWindow take the same ``(engine, version, split, k,
    method)``: with the same arguments they see the same (cached) subgroups.

    Parameters
    ----------
    engine : Engine
    version : ModelVersion, id or finished Job, optional
        Default: the engine's active version (followed when it changes).
    split : str
        Images the subgroups are found in ("test").
    k, method : optional
        Number of subgroups (default: the engine's rule) and clustering ("kmeans" or
        "hierarchical"), as in :meth:`Engine.subgroups`.
    threshold : float
        Initial score threshold, 0.5 to 1.
    """

    _bundle = "neurons"

    subgroup = traitlets.Int(-1).tag(sync=True)
    """int: the under-performing subgroup shown (-1: none yet)."""
    threshold = traitlets.Float(0.5).tag(sync=True)
    """float: a neuron counts for a group when its score is ≥ this (0.5 to 1, slider step 0.05)."""
    neuron = traitlets.Dict().tag(sync=True)
    """dict: the neuron clicked last, ``{"layer": str, "neuron": int}`` ({} none); linked views follow it."""
    layers = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: conv layers shown, in model order ([]: every conv layer)."""
    options = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the under-performing subgroups (id, size, accuracy, pair, label) for the dropdown."""
    groups = traitlets.Dict().tag(sync=True)
    """dict: the pair shown: under, well (ids), under_size, well_size, under_accuracy,
    well_accuracy, neurons (every scored neuron) and sent (those sent, score ≥ 0.5 for either)."""
    neurons = traitlets.Dict().tag(sync=True)
    """dict of columns, one entry per neuron sent: ``bands`` (layer names, model order), ``band``
    (index into bands), ``neuron`` (channel), ``under`` and ``well`` (scores, 3 decimals)."""
    clusters = traitlets.List(traitlets.Int()).tag(sync=True)
    """list of int: cluster id of each neuron in ``neurons`` (-1: not clustered)."""
    cluster_state = traitlets.Unicode("idle").tag(sync=True)
    """str: the clustering job: "idle", "running", "done", "failed" or "cancelled"."""
    progress = traitlets.Float(0.0).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    """str: status line (what is shown, the clustering's outcome)."""

    def __init__(self, engine: Engine, version: ModelVersion | str | Job | None = None, split: str = "test",
                 k: int | None = None, method: str = "kmeans", threshold: float = 0.5, **kwargs: Any):
        super().__init__(engine, version, **kwargs)
        self.split, self.k, self.method = split, k, method
        self.scores: pd.DataFrame | None = None
        """The last scores table: ``layer``, ``neuron``, ``under``, ``well`` (every neuron)."""
        self.job: Job | None = None
        self.cluster_params: dict[str, Any] = {}
        """Keyword arguments of ``Engine.cluster_neurons_async`` for the Cluster neurons button
        (e.g. ``{"epochs": 2, "pairs": 2000}``; default: the engine's)."""
        self._sent: pd.DataFrame | None = None
        self.on_msg(self._on_msg)
        self.threshold = threshold
        self.version = self.initial_version.id

    # -------------------------------------------------------------- validation
    def _subgroups(self, version: str | None = None):
        return self._engine.subgroups(version or self.version, k=self.k, split=self.split, method=self.method)

    @traitlets.validate("threshold")
    def _check_threshold(self, proposal):
        lo, hi = THRESHOLD_RANGE
        value = proposal["value"]
        if not lo <= value <= hi:
            self._reject(f"threshold must be from {lo} to {hi} (a share of the group's images), got {value}")
        return value

    @traitlets.validate("subgroup")
    def _check_subgroup(self, proposal):
        value = proposal["value"]
        if value == -1 or not self.version:
            return value
        try:
            sg = self._subgroups()
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._reject(f"cannot find subgroups: {e}")
        if not 0 <= value < len(sg):
            self._reject(f"subgroup {value} out of range [0, {len(sg)}) (-1: none)")
        if value not in sg.under:
            self._reject(f"subgroup {value} is not under-performing (accuracy {sg.table.at[value, 'accuracy']:.2f} is "
                         f"not below {sg.ratio} x overall {sg.overall_accuracy:.2f}); pick one of {sg.under}")
        return value

    @traitlets.validate("layers")
    def _check_layers(self, proposal):
        value = list(proposal["value"])
        if not value or not self.version:
            return value
        try:
            return check_conv_layers(self._engine.model(self.version), value)
        except (ValueError, TypeError) as e:
            self._reject(str(e))

    @traitlets.validate("neuron")
    def _check_neuron(self, proposal):
        value = dict(proposal["value"])
        if not value:
            return {}
        if set(value) != {"layer", "neuron"} or not isinstance(value["layer"], str) \
                or isinstance(value["neuron"], bool) or not isinstance(value["neuron"], (int, np.integer)):
            self._reject(f'neuron must be {{"layer": str, "neuron": int}} or {{}}, got {value!r}')
        rows = self.scores[self.scores["layer"] == value["layer"]] if self.scores is not None else None
        if (rows is None or rows.empty) and self.version:  # a layer this panel does not show (a linked view's pick)
            try:
                check_conv_layers(self._engine.model(self.version), [value["layer"]])
            except (ValueError, TypeError) as e:
                self._reject(f"unknown layer {value['layer']!r}: {e}")
        if rows is not None and not rows.empty:
            if not 0 <= value["neuron"] < len(rows):
                self._reject(f"layer {value['layer']!r} has {len(rows)} neurons; got neuron {value['neuron']}")
        return {"layer": value["layer"], "neuron": int(value["neuron"])}

    # -------------------------------------------------------------- data
    @traitlets.observe("version")
    def _on_version(self, change) -> None:
        if not self.version:
            return
        try:
            sg = self._subgroups()
            options = [
                {"id": int(i), "size": int(sg.table.at[i, "size"]), "accuracy": round(float(sg.table.at[i, "accuracy"]), 4),
                 "pair": -1 if sg.pair(i) is None else sg.pair(i), "label": str(sg.table.at[i, "label"])}
                for i in sg.under
            ]
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
            return
        self.options = options
        if self.subgroup != -1 and self.subgroup not in sg.under:
            self.subgroup = -1  # that id names another subgroup (or none) of this version
        else:
            self._rescore()

    @traitlets.observe("subgroup", "layers")
    def _on_subgroup(self, change) -> None:
        self._rescore()

    def _rescore(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()  # its neurons belong to the old pair
        if self.subgroup == -1 or not self.version:
            self.scores, self._sent = None, None
            with self.hold_sync():
                self.groups, self.neurons, self.clusters = {}, {}, []
                self.message = "" if self.options else "this version has no under-performing subgroup"
            return
        try:
            sg = self._subgroups()
            u, w = self.subgroup, sg.pair(self.subgroup)
            if w is None:
                raise ValueError(f"subgroup {u} has no well-performing pair: no subgroup of this version performs well")
            scores = self._engine.neuron_scores(
                self.version, {"under": sg.members(u), "well": sg.members(w)}, layers=self.layers or None)
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
            return
        lo = THRESHOLD_RANGE[0]
        sent = scores[(scores["under"] >= lo) | (scores["well"] >= lo)].reset_index(drop=True)
        bands = list(dict.fromkeys(scores["layer"]))
        band_of = {name: i for i, name in enumerate(bands)}
        self.scores, self._sent = scores, sent
        with self.hold_sync():
            self.groups = {
                "under": int(u), "well": int(w),
                "under_size": int(sg.table.at[u, "size"]), "well_size": int(sg.table.at[w, "size"]),
                "under_accuracy": round(float(sg.table.at[u, "accuracy"]), 4),
                "well_accuracy": round(float(sg.table.at[w, "accuracy"]), 4),
                "neurons": len(scores), "sent": len(sent),
            }
            self.neurons = {
                "bands": bands,
                "band": [band_of[name] for name in sent["layer"]],
                "neuron": sent["neuron"].astype(int).tolist(),
                "under": np.round(sent["under"].to_numpy(np.float64), 3).tolist(),
                "well": np.round(sent["well"].to_numpy(np.float64), 3).tolist(),
            }
            self.clusters = self._cluster_ids()
            self.message = f"{len(sent)} of {len(scores)} neurons score ≥ {lo} for subgroup #{u} or #{w}"
            self.error = ""

    def columns(self, threshold: float | None = None) -> dict[str, pd.DataFrame]:
        """The neurons of each column at ``threshold`` (default: the panel's): ``"under"``,
        ``"both"`` and ``"well"`` -> rows of :attr:`scores` (layer, neuron, under, well)."""
        if self.scores is None:
            raise ValueError("no subgroup picked yet: set .subgroup to an under-performing subgroup")
        t = self.threshold if threshold is None else threshold
        lo, hi = THRESHOLD_RANGE
        if not lo <= t <= hi:
            raise ValueError(f"threshold must be from {lo} to {hi}, got {t}")
        return split_columns(self.scores, t)

    def shown(self) -> list[tuple[str, int]]:
        """(layer, neuron) of every neuron in a column at the current threshold, model order."""
        cols = self.columns()
        rows = pd.concat(list(cols.values())).sort_index()
        return [(str(la), int(n)) for la, n in zip(rows["layer"], rows["neuron"], strict=True)]

    # -------------------------------------------------------------- clustering
    def _cluster_ids(self) -> list[int]:
        """Cluster id per sent neuron from the version's last neuron clustering (-1: not in it)."""
        if self._sent is None or not len(self._sent):
            return []
        nc = self._engine.neuron_clusters(self.version)
        if nc is None:
            return [-1] * len(self._sent)
        ids = {(str(la), int(n)): int(c) for la, n, c in zip(nc.table["layer"], nc.table["neuron"], nc.table["cluster"], strict=True)}
        return [ids.get((str(la), int(n)), -1) for la, n in zip(self._sent["layer"], self._sent["neuron"], strict=True)]

    def cluster(self, **params: Any) -> Job | None:
        """Cluster the neurons shown (``Engine.cluster_neurons_async``) in the background; their
        cluster ids then arrive in ``clusters``. ``params`` go to the engine (threshold, epochs, ...;
        default :attr:`cluster_params`)."""
        try:
            if self.job is not None and not self.job.done:
                raise ValueError("neuron clustering is already running; cancel it or wait")
            neurons = self.shown()
            if len(neurons) < 2:
                raise ValueError(f"{len(neurons)} neuron(s) shown at threshold {self.threshold}: clustering needs at "
                                 "least 2 (lower the threshold)")
            job = self._engine.cluster_neurons_async(self.version, neurons, **(params or self.cluster_params))
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
            return None
        self.job = job
        with self.hold_sync():
            self.cluster_state, self.progress, self.error = "running", 0.0, ""
            self.message = f"clustering {len(neurons)} neurons…"
        job.on_event(lambda ev: self._on_job_event(job, ev))
        return job

    def _on_job_event(self, job: Job, ev: dict) -> None:
        if job is not self.job:
            return  # a job the panel has moved on from (a new subgroup cancelled it)
        kind = ev.get("type")
        if kind == "step" and "progress" in ev:
            self._throttled_progress(ev["progress"])
        elif kind == "done":
            try:
                ids = self._cluster_ids()
            except Exception as e:  # noqa: BLE001 - shown in the view
                self._report(e)
                ids = self.clusters
            n = len({c for c in ids if c >= 0})
            with self.hold_sync():
                self.cluster_state, self.progress = "done", 1.0
                self.clusters = ids
                self.message = f"{n} neuron cluster(s): hover a neuron to see its cluster mates"
        elif kind == "cancelled":
            with self.hold_sync():
                self.cluster_state = "cancelled"
                self.message = "neuron clustering cancelled"
        elif kind == "failed":
            with self.hold_sync():
                self.cluster_state = "failed"
                self.error = f"neuron clustering failed: {ev.get('error', 'unknown error')}"

    def _on_msg(self, _widget, content, _buffers) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "cluster":
            if self._apply(content, ("threshold",)):
                self.cluster()
        elif action == "cancel":
            self.cancel()
