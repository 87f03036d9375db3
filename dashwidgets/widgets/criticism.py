"""CriticismView: per class, the model's prototypes and criticisms (Stock & Cisse 2018) and how a
boolean attribute is enriched among them."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import traitlets

from ..audit.criticism import METHODS
from ..engine.engine import Engine
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView, RunsJob, cell_size

_EMPTY_NOTE = {
    ("adv", "prototype"): "no prototype: no correctly classified image survives all {m} steps",
    ("adv", "criticism"): "no criticism: no image flips after one step (misclassified images are neither)",
    ("prob", "prototype"): "no prototype: no image has p(true class) > 0.9",
    ("prob", "criticism"): "no criticism: no image has p(true class) < 0.1",
    ("mmd", "prototype"): "no prototype: MMD-critic selected none",
    ("mmd", "criticism"): "no criticism: MMD-critic selected none",
}


def _num(x: float) -> float | None:
    """A float for JSON: None for NaN, ±1e308 for ±inf (odds ratios with an empty cell)."""
    x = float(x)
    if math.isnan(x):
        return None
    return max(-1e308, min(1e308, round(x, 6)))


def boolean_attributes(attributes: dict) -> list[str]:
    """Names of the boolean attributes with both values (what the enrichment bars can show)."""
    return sorted(k for k, v in attributes.items() if np.asarray(v).dtype == bool and len(np.unique(v)) > 1)


def _problems(problems: list[tuple[str, str]], method: str, n: int, split: str | None) -> str:
    """One message for the classes a method cannot select from ("" when none)."""
    if len(problems) <= 1:
        return problems[0][1] if problems else ""
    names = ", ".join(repr(name) for name, _ in problems)
    why = ("no correctly classified images: adversarial prototypes and criticisms are drawn from correct ones"
           if method == "adv" else "no images")
    return (f"{len(problems)} classes ({names}) have {why}, among the {n} images examined of split {split!r} "
            "(switch the method, criticise more images with sample=, or train longer)")


class CriticismView(RunsJob, EngineView):
    """Per class a row of prototypes and a row of criticisms of one version (``Engine.criticize``),
    each image with its IFGSM step count, a method switch (``"adv"``, ``"mmd"``, ``"prob"``) and
    enrichment bars: the share of a boolean ``attribute`` (default ``aligned``) among prototypes,
    criticisms and the whole class, per class and over all, with the odds ratio and Fisher p.
    Criticising runs in a background job (``progress``, cancel); clicking an image sets ``focus``.

    Parameters
    ----------
    engine : Engine
    version : ModelVersion, str or Job, optional
        Default: the latest version (followed when it changes).
    split : str
        Split whose images are criticised.
    method : {"adv", "mmd", "prob"}
    sample, steps, step_size, n, seed
        Passed to ``Engine.criticize`` (``sample``: a seeded subset of the split).
    per_row : int
        Images shown per row.
    """

    _bundle = "criticism"

    method = traitlets.Unicode("adv").tag(sync=True)
    """str: selection shown: "adv", "mmd" or "prob"."""
    attribute = traitlets.Unicode("").tag(sync=True)
    """str: boolean attribute of the enrichment bars ("" when the dataset has none)."""
    attributes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: boolean attributes to choose from (read-only)."""
    state = traitlets.Unicode("idle").tag(sync=True)
    """str: the criticism job: "idle", "running", "done", "failed" or "cancelled"."""
    progress = traitlets.Float(0.0).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    """str: status line."""
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict, one per class: ``class`` (name), ``label`` (index), ``prototypes`` and
    ``criticisms`` (lists of ``{index, steps, prob, cell}``; ``cell`` indexes ``atlas``),
    ``n_prototypes``, ``n_criticisms`` (counts before the ``per_row`` cut) and
    ``prototype_note``, ``criticism_note`` (why a row is empty)."""
    atlas = traitlets.Bytes(b"").tag(sync=True)
    """bytes: PNG sprite atlas of every image shown, cell k at (k % atlas_cols, k // atlas_cols)."""
    atlas_cols = traitlets.Int(1).tag(sync=True)
    cell = traitlets.Int(32).tag(sync=True)
    enrichment = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict, one per class and ``"all"``: ``class``, ``n_class``, ``n_prototypes``,
    ``n_criticisms``, ``share_class``, ``share_prototypes``, ``share_criticisms`` (None when the
    set is empty), ``odds_ratio``, ``p_value`` (None when undefined) for ``attribute == True``."""
    enrichment_note = traitlets.Unicode("").tag(sync=True)
    """str: why there are no enrichment bars."""
    max_steps = traitlets.Int(10).tag(sync=True)
    rendered = traitlets.Unicode("").tag(sync=True)
    """str: "version|method|attribute" of what the view shows (for tests and linked code)."""

    def __init__(self, engine: Engine, version: ModelVersion | str | Job | None = None, split: str = "test",
                 method: str = "adv", sample: int | None = None, steps: int = 10, step_size: float = 1e-3,
                 n: int = 10, seed: int = 0, per_row: int = 8, attribute: str | None = None, **kwargs: Any):
        if method not in METHODS:
            raise ValueError(f"unknown criticism method {method!r}; choose one of {list(METHODS)}")
        if isinstance(engine, Engine):
            engine.dataset.indices(split)  # an unknown split is refused here, naming the splits
        if isinstance(per_row, bool) or not isinstance(per_row, int) or per_row < 1:
            raise ValueError(f"per_row must be a positive integer, got {per_row!r}")
        self.split, self.per_row = split, per_row
        self.params = {"split": split, "steps": steps, "step_size": step_size, "n": n, "sample": sample, "seed": seed}
        """Keyword arguments of ``Engine.criticize_async``."""
        self.criticism = None
        """The last :class:`~dashwidgets.audit.criticism.Criticism` (None before the job ends)."""
        self.job: Job | None = None
        self._settled = threading.Event()
        super().__init__(engine, version, cell=cell_size(engine, 32, 64), method=method, max_steps=steps, **kwargs)
        self.attributes = boolean_attributes(engine.dataset.attributes)
        if attribute is not None:
            self.attribute = attribute
        elif self.attributes:
            self.attribute = "aligned" if "aligned" in self.attributes else self.attributes[0]
        self.on_msg(self._on_msg)
        self.version = self.initial_version.id

    # -------------------------------------------------------------- validation
    @traitlets.validate("method")
    def _check_method(self, proposal):
        return self._one_of(proposal, METHODS, "criticism method")

    @traitlets.validate("attribute")
    def _check_attribute(self, proposal):
        value = proposal["value"]
        if value and value not in self.attributes:
            self._reject(f"unknown boolean attribute {value!r}; choose one of {self.attributes}")
        return value

    # -------------------------------------------------------------- the job
    @traitlets.observe("version")
    def _on_version(self, change) -> None:
        if self.version:
            self.run()

    def run(self) -> Job | None:
        """Criticise the version shown in the background (cancelling a running job first)."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self._settled.clear()
        try:
            job = self._engine.criticize_async(self.version, **self.params)
        except Exception as e:  # noqa: BLE001 - shown in the view
            with self.hold_sync():
                self.criticism, self.state = None, "failed"
                self._clear()
                self._report(e)
            self._settled.set()
            return None
        return self._follow(job, f"criticising {self.version} on {self.split!r}…")

    _job_cancelled = "criticism cancelled: press Criticize to run it again"
    _job_failed = "criticism failed"

    def _job_done(self, criticism) -> None:
        self.criticism = criticism
        with self.hold_sync():
            self.state, self.progress = "done", 1.0
            self._show()

    # -------------------------------------------------------------- payload
    @traitlets.observe("method", "attribute")
    def _on_choice(self, change) -> None:
        if self.criticism is not None:
            with self.hold_sync():
                self._show()

    def _clear(self) -> None:
        self.rows, self.atlas, self.atlas_cols, self.enrichment = [], b"", 1, []
        self.rendered = ""

    def _show(self) -> None:
        """Rows, atlas and enrichment of :attr:`criticism` under ``method`` (call inside hold_sync)."""
        cr, m = self.criticism, self.method
        ds = self._engine.dataset
        steps = dict(zip(cr.indices.tolist(), cr.steps.tolist(), strict=True))
        prob = dict(zip(cr.indices.tolist(), cr.table["prob"].tolist(), strict=True))
        shown: list[int] = []
        rows, problems = [], []
        for k, name in enumerate(cr.classes):
            row: dict[str, Any] = {"class": name, "label": k}
            for role, fn in (("prototype", cr.prototypes), ("criticism", cr.criticisms)):
                try:
                    idx = fn(k, m)
                    note = "" if len(idx) else _EMPTY_NOTE[(m, role)].format(m=cr.max_steps)
                except ValueError as e:  # a class with no (correct) images
                    idx, note = np.zeros(0, np.int64), str(e) if role == "prototype" else "none: see above"
                    if role == "prototype":
                        problems.append((name, str(e)))
                items = []
                for i in idx[: self.per_row].tolist():
                    items.append({"index": int(i), "steps": int(steps[i]), "prob": round(float(prob[i]), 4), "cell": len(shown)})
                    shown.append(int(i))
                row[f"{role}s"], row[f"n_{role}s"], row[f"{role}_note"] = items, int(len(idx)), note
            rows.append(row)
        png, cols = atlas_png(ds.images[np.asarray(shown, np.int64)], self.cell) if shown else (b"", 1)
        self.rows, self.atlas, self.atlas_cols = rows, png, cols
        self._show_enrichment()
        self.error = _problems(problems, m, len(cr.indices), cr.split)
        counts = cr.summary(m)
        self.message = (
            f"{cr.version} on {cr.split!r}: {len(cr.indices)} images, {int(counts['prototypes'].sum())} prototypes, "
            f"{int(counts['criticisms'].sum())} criticisms ({m})"
        )
        self.rendered = f"{cr.version}|{m}|{self.attribute}"

    def _show_enrichment(self) -> None:
        if not self.attribute:
            self.enrichment, self.enrichment_note = [], "the dataset has no boolean attribute to compare"
            return
        try:
            table = self.criticism.enrichment(self.attribute, self.method)
        except ValueError as e:  # e.g. one value only among the images examined
            self.enrichment, self.enrichment_note = [], str(e)
            return
        table = table[table["value"] == True]  # noqa: E712 - numpy bools
        self.enrichment = [
            {
                "class": str(r["class"]), "n_class": int(r["n_class"]), "n_prototypes": int(r["n_prototypes"]),
                "n_criticisms": int(r["n_criticisms"]), "share_class": _num(r["share_class"]),
                "share_prototypes": _num(r["share_prototypes"]), "share_criticisms": _num(r["share_criticisms"]),
                "odds_ratio": _num(r["odds_ratio"]), "p_value": _num(r["p_value"]),
            }
            for r in table.to_dict("records")
        ]
        self.enrichment_note = ""

    def _on_msg(self, _widget, content, _buffers) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "cancel":
            self.cancel()
        elif action == "run":
            self.run()
