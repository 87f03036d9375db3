"""AuditReport: the ranked findings of ``Engine.report`` with their numbers, tests, evidence
images (and the probed copies the model got wrong) and suggested fixes; "Apply fix" runs
``Engine.augment(**finding.fix)``."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import traitlets

from ..engine.engine import Engine
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView, RunsJob, cell_size


def _num(x: Any) -> Any:
    """JSON-safe numbers (None for NaN, clipped infinities); strings and ints as they are."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return None if math.isnan(x) else max(-1e308, min(1e308, x))
    return str(x)


class AuditReport(RunsJob, EngineView):
    """The suspected biases of one version (``Engine.report``), ranked: per finding its kind,
    plain-language title, effect against the 10-point margin, p-value against its threshold and
    the test, the numbers behind it, evidence thumbnails (originals, and the probed copies that
    flipped) and the fix; the report runs in a background job (``progress``, cancel). Clicking a
    thumbnail sets ``focus``; "Apply fix" makes the augmentation (``applied`` lists their ids).

    Parameters
    ----------
    engine : Engine
    version : ModelVersion, str or Job, optional
        Default: the active version (followed when it changes).
    sample, criticize, seed
        Passed to ``Engine.report_async``.
    """

    _bundle = "report"

    state = traitlets.Unicode("idle").tag(sync=True)
    """str: the report job: "idle", "running", "done", "failed" or "cancelled"."""
    progress = traitlets.Float(0.0).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    """str: status line."""
    findings = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict, ranked: ``rank``, ``kind``, ``title``, ``effect``, ``p_value``, ``alpha``,
    ``significant``, ``cause``, ``test``, ``numbers`` (name -> value), ``fix`` (text, "" when
    none), ``evidence`` (``[{index, cell}]``), ``probed`` (``[{index, cell}]``)."""
    verdict = traitlets.Unicode("").tag(sync=True)
    """str: one line: the top finding, or that none is significant."""
    notes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    atlas = traitlets.Bytes(b"").tag(sync=True)
    """bytes: PNG sprite atlas of every thumbnail, cell k at (k % atlas_cols, k // atlas_cols)."""
    atlas_cols = traitlets.Int(1).tag(sync=True)
    cell = traitlets.Int(32).tag(sync=True)
    applied = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: ids of the augmentations made with "Apply fix" (read-only)."""
    rendered = traitlets.Unicode("").tag(sync=True)
    """str: id of the version whose report is shown (for tests and linked code)."""

    def __init__(self, engine: Engine, version: ModelVersion | str | Job | None = None, sample: int = 500,
                 criticize: bool = True, seed: int = 0, **kwargs: Any):
        if isinstance(engine, Engine):
            from ..engine.report import ReportService

            ReportService.check(sample, criticize, seed)  # bad arguments refused here, as the engine would
        self.params = {"sample": sample, "criticize": criticize, "seed": seed}
        """Keyword arguments of ``Engine.report_async``."""
        self.report = None
        """The last :class:`~dashwidgets.audit.findings.Report` (None before the job ends)."""
        self.job: Job | None = None
        self._settled = threading.Event()
        super().__init__(engine, version, cell=cell_size(engine, 32, 64), **kwargs)
        self.on_msg(self._on_msg)
        self.version = self.initial_version.id

    @traitlets.observe("version")
    def _on_version(self, change) -> None:
        if self.version:
            self.run()

    def run(self) -> Job | None:
        """Report on the version shown in the background (cancelling a running job first)."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self._settled.clear()
        try:
            job = self._engine.report_async(self.version, **self.params)
        except Exception as e:  # noqa: BLE001 - shown in the view
            with self.hold_sync():
                self.report, self.state, self.findings, self.rendered = None, "failed", [], ""
                self._report(e)
            self._settled.set()
            return None
        return self._follow(job, f"auditing {self.version}…")

    _job_cancelled = "report cancelled: press Report to run it again"
    _job_failed = "report failed"

    def _job_progress(self, ev: dict) -> None:
        self.message = f"auditing {self.version}: {ev.get('stage', '')}…"
        self._throttled_progress(ev["progress"])

    def _job_done(self, report) -> None:
        self.report = report
        with self.hold_sync():
            self.state, self.progress = "done", 1.0
            self._show()

    def _show(self) -> None:
        rep = self.report
        thumbs: list[np.ndarray] = []
        rows = []
        for i, f in enumerate(rep.findings, 1):
            ev = []
            for j, im in zip(f.evidence.tolist(), f.images, strict=True):
                ev.append({"index": int(j), "cell": len(thumbs)})
                thumbs.append(im)
            pr = []
            if f.probed is not None:
                for j, im in zip(f.evidence.tolist(), f.probed, strict=True):
                    pr.append({"index": int(j), "cell": len(thumbs)})
                    thumbs.append(im)
            rows.append({
                "rank": i, "kind": f.kind, "title": f.title, "effect": _num(f.effect), "p_value": _num(f.p_value),
                "alpha": _num(f.alpha), "significant": f.significant, "cause": f.cause, "test": f.test,
                "numbers": {str(k): _num(v) for k, v in f.numbers.items()},
                "fix": f.fix_text() if f.fix else "", "evidence": ev, "probed": pr,
            })
        png, cols = atlas_png(np.stack(thumbs), self.cell) if thumbs else (b"", 1)
        self.findings, self.atlas, self.atlas_cols = rows, png, cols
        self.notes = list(rep.notes)
        top = rep.top
        self.verdict = (f"top finding: {top.kind} — {top.title}" if top is not None
                        else "no finding passes its significance threshold")
        self.message = f"{rep.version}: {len(rep.findings)} findings tested, {len(rep.significant)} significant"
        self.rendered = rep.version

    def apply_fix(self, rank: int):
        """Make the augmentation finding ``rank`` (1-based) suggests: ``Engine.augment(**fix)``."""
        if self.report is None:
            raise ValueError("no report yet: wait for the view's job (view.wait())")
        if not isinstance(rank, int) or not 1 <= rank <= len(self.report.findings):
            raise ValueError(f"rank must be 1 to {len(self.report.findings)}, got {rank!r}")
        fix = self.report.findings[rank - 1].fix
        if fix is None:
            raise ValueError(f"finding {rank} has no fix to apply")
        aug = self._engine.augment(**fix)
        self.applied = [*self.applied, aug.id]
        self.message = f"made augmentation {aug.id} ({len(aug.sources)} images) from finding {rank}'s fix"
        return aug

    def _on_msg(self, _widget, content, _buffers) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        try:
            if action == "cancel":
                self.cancel()
            elif action == "run":
                self.run()
            elif action == "apply":
                self.error = ""
                self.apply_fix(int(content.get("rank", 0)))
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
