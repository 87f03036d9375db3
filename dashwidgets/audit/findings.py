"""The one-call audit's result (issue 16 §3): suspected biases as :class:`Finding` objects, their
significance tests, their ranking, and an :class:`Report` that prints, plots and writes a
static page.

Every finding is a hypothesis test at a stated level. The effect is measured in accuracy points
and tested one-sided against a *minimum effect of interest*, ``MARGIN`` = 10 points (the bias
audit's own line between "a shortcut" and "no large shift", chosen before any run), so a
significant finding means "more than 10 points, with confidence", not "different from zero",
which any large sample shows for any edit of the images. The level is ``ALPHA`` = 0.01 over the
whole report, Bonferroni-divided among the report's tests.

Ranking: significant findings first; among them those that name a *cause* (a cue the model
reads: colour, background, patch, measured by editing the cue away) before *symptoms* (val−test
gap, an under-performing subgroup, criticism enrichment), which say that something is wrong but
not what; causes by effect, symptoms by p-value.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ALPHA = 0.01
MARGIN = 0.10
CAUSES = ("colour", "background", "patch")
SYMPTOMS = ("gap", "subgroup", "criticism")
KINDS = CAUSES + SYMPTOMS


# --------------------------------------------------------------------------- tests
def paired_drop_test(before: np.ndarray, after: np.ndarray, margin: float = MARGIN) -> tuple[float, float]:
    """Accuracy drop from ``before`` to ``after`` (``bool [N]``, the same images) and the p-value
    of a one-sided one-sample t-test of the per-image differences (1, 0 or -1) against
    ``margin``: H0 "the drop is at most ``margin``"."""
    from scipy import stats

    b, a = np.asarray(before, bool), np.asarray(after, bool)
    if b.shape != a.shape or b.ndim != 1 or len(b) < 2:
        raise ValueError(f"before and after must be two bool [N] arrays of one shape, N >= 2; got {b.shape}, {a.shape}")
    d = b.astype(np.float64) - a.astype(np.float64)
    drop = float(d.mean())
    if d.std() == 0:  # every image changed alike: the drop is exact
        return drop, 0.0 if drop > margin else 1.0
    return drop, float(stats.ttest_1samp(d, margin, alternative="greater").pvalue)


def gap_test(correct_a: np.ndarray, correct_b: np.ndarray, margin: float = MARGIN) -> tuple[float, float]:
    """Accuracy of ``a`` minus that of ``b`` (independent samples, ``bool`` arrays) and the
    p-value of a one-sided z-test of H0 "the gap is at most ``margin``" (unpooled variance)."""
    from scipy import stats

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"a gap test needs two samples of at least 2 images, got {len(a)} and {len(b)}")
    pa, pb = a.mean(), b.mean()
    gap = float(pa - pb)
    se = math.sqrt(pa * (1 - pa) / len(a) + pb * (1 - pb) / len(b))
    if se == 0:
        return gap, 0.0 if gap > margin else 1.0
    return gap, float(stats.norm.sf((gap - margin) / se))


def below_test(correct: np.ndarray, p0: float) -> float:
    """p-value of a one-sided exact binomial test of H0 "accuracy >= ``p0``" on ``correct``."""
    from scipy import stats

    c = np.asarray(correct, bool)
    if len(c) == 0:
        raise ValueError("a binomial test needs at least one image")
    return float(stats.binomtest(int(c.sum()), len(c), min(max(float(p0), 0.0), 1.0), alternative="less").pvalue)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Finding:
    """One suspected bias.

    Attributes
    ----------
    kind : str
        ``"colour"``, ``"background"``, ``"patch"`` (causes) or ``"gap"``, ``"subgroup"``,
        ``"criticism"`` (symptoms).
    title : str
        Plain-language statement.
    effect : float
        The measured effect in accuracy (or share) points, as a fraction (0.42 = 42 points).
    p_value : float
        Of ``test`` (one-sided unless it says otherwise).
    alpha : float
        The level this finding is held to (the report's ``ALPHA`` / number of tests).
    test : str
        Which test, and its null hypothesis.
    numbers : dict
        The figures behind ``effect`` (accuracies, counts).
    evidence : np.ndarray
        ``int64 [K]`` dataset indices of the images that show it.
    images : np.ndarray
        ``uint8 [K, 3, H, W]``: those images (kept, so the report is self-contained).
    probed : np.ndarray or None
        ``uint8 [K, 3, H, W]``: the edited copies the model got wrong (probes only).
    fix : dict or None
        Keyword arguments ``Engine.augment(**fix)`` accepts as they are.
    """

    kind: str
    title: str
    effect: float
    p_value: float
    alpha: float
    test: str
    numbers: dict
    evidence: np.ndarray
    images: np.ndarray
    probed: np.ndarray | None = None
    fix: dict | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}; choose one of {KINDS}")

    @property
    def significant(self) -> bool:
        return bool(self.p_value < self.alpha)

    @property
    def cause(self) -> bool:
        return self.kind in CAUSES

    def fix_text(self) -> str:
        return describe_fix(self.fix)


def describe_fix(fix: dict | None) -> str:
    """A one-line description of a fix dict (arrays by their size, a style cluster by its id)."""
    if not fix:
        return "—"
    parts = []
    for k, v in fix.items():
        if k == "source_idx":
            parts.append(f"{len(v)} train images")
        elif k == "style" and v is not None:
            parts.append(f"toward style cluster {v.id} of k={v.k} ({len(v.members)} images)")
        else:
            parts.append(f"{k}={v!r}")
    return "eng.augment(" + ", ".join(parts) + ")"


def rank(findings: list[Finding]) -> list[Finding]:
    """Significant first; then causes before symptoms; causes by effect, symptoms by p-value."""
    return sorted(findings, key=lambda f: (not f.significant, not f.cause, -f.effect if f.cause else f.p_value))


@dataclass(frozen=True)
class Report:
    """Ranked suspected biases of one version (see :func:`dashwidgets.audit.findings` module).

    ``findings`` are ranked; ``top`` is the first significant one (None when none is);
    ``table`` one row per finding; ``notes`` what was skipped and why.
    """

    version: str
    findings: tuple[Finding, ...]
    alpha: float = ALPHA
    margin: float = MARGIN
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def significant(self) -> list[Finding]:
        return [f for f in self.findings if f.significant]

    @property
    def top(self) -> Finding | None:
        return self.significant[0] if self.significant else None

    @property
    def table(self) -> pd.DataFrame:
        rows = [{"rank": i + 1, "kind": f.kind, "title": f.title, "effect": f.effect, "p_value": f.p_value,
                 "alpha": f.alpha, "significant": f.significant, "test": f.test, "fix": f.fix_text()}
                for i, f in enumerate(self.findings)]
        return pd.DataFrame(rows, columns=["rank", "kind", "title", "effect", "p_value", "alpha", "significant",
                                           "test", "fix"])

    def __len__(self) -> int:
        return len(self.findings)

    def __getitem__(self, i: int) -> Finding:
        return self.findings[i]

    def to_text(self) -> str:
        lines = [f"Suspected biases of version {self.version} (ranked; significant at alpha {self.alpha:g} "
                 f"over the report, effects tested against {100 * self.margin:.0f} points)", ""]
        if not self.findings:
            lines.append("no finding could be tested")
        for i, f in enumerate(self.findings, 1):
            mark = "SIGNIFICANT" if f.significant else "not significant"
            lines.append(f"{i}. [{f.kind}] {f.title}")
            lines.append(f"   effect {100 * f.effect:+.1f} points, p = {f.p_value:.2g} (threshold {f.alpha:.2g}): {mark}")
            lines.append(f"   test: {f.test}")
            lines.append(f"   evidence: images {', '.join(map(str, f.evidence[:8].tolist())) or '—'}")
            lines.append(f"   fix: {f.fix_text()}")
        if self.top is None and self.findings:
            lines += ["", "no finding passes its significance threshold"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def plot(self):
        """A plotly figure: each finding's effect (points) beside the margin it is tested against,
        significant and not significant findings as two legend entries."""
        import plotly.graph_objects as go

        fig = go.Figure()
        names = [f"{i + 1}. {html.escape(f.kind, quote=False)}" for i, f in enumerate(self.findings)]
        for sig, colour, label in ((True, "#d62728", "significant"), (False, "#7f7f7f", "not significant")):
            rows = [i for i, f in enumerate(self.findings) if f.significant == sig]
            fig.add_bar(x=[names[i] for i in rows], y=[100 * self.findings[i].effect for i in rows],
                        name=label, marker_color=colour,
                        customdata=[[self.findings[i].p_value] for i in rows],
                        hovertemplate="%{x}: %{y:.1f} points, p = %{customdata[0]:.2g}<extra></extra>")
        fig.add_scatter(x=names, y=[100 * self.margin] * len(names), mode="lines", name="margin tested against",
                        line={"dash": "dash", "color": "#1f77b4"})
        fig.update_layout(title=f"Suspected biases of {html.escape(self.version, quote=False)}", showlegend=True,
                          xaxis_title="finding (rank. kind)", yaxis_title="effect (accuracy points)")
        return fig

    def to_html(self, path: str | Path | None = None) -> str:
        """A static, self-contained page (images inline as PNG data URIs, every string escaped);
        written to ``path`` when given. Returns the HTML."""
        e = lambda s: html.escape(str(s), quote=True)  # noqa: E731
        parts = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'>",
            f"<title>Audit report of {e(self.version)}</title>",
            "<style>body{font-family:sans-serif;max-width:960px;margin:auto;color:#222;background:#fff}"
            "@media (prefers-color-scheme: dark){body{color:#ddd;background:#111}}"
            ".f{border:1px solid #8884;border-radius:6px;padding:8px 12px;margin:12px 0}"
            ".sig{border-left:6px solid #d62728}.ns{border-left:6px solid #7f7f7f}"
            "img{image-rendering:pixelated;width:64px;height:64px;margin:2px}</style></head><body>",
            f"<h1>Suspected biases of version {e(self.version)}</h1>",
            f"<p>Ranked; significant at alpha {self.alpha:g} over the report (Bonferroni), effects tested "
            f"one-sided against {100 * self.margin:.0f} points.</p>",
        ]
        if self.top is None:
            parts.append("<p><b>No finding passes its significance threshold.</b></p>")
        for i, f in enumerate(self.findings, 1):
            parts.append(f"<div class='f {'sig' if f.significant else 'ns'}'><h2>{i}. [{e(f.kind)}] {e(f.title)}</h2>")
            parts.append(f"<p>effect {100 * f.effect:+.1f} points, p = {f.p_value:.2g} (threshold {f.alpha:.2g}): "
                         f"{'significant' if f.significant else 'not significant'}<br>test: {e(f.test)}</p>")
            nums = ", ".join(f"{e(k)} = {e(_fmt(v))}" for k, v in f.numbers.items())
            parts.append(f"<p>{nums}</p><p>fix: <code>{e(f.fix_text())}</code></p>")
            if len(f.images):
                parts.append("<div>evidence: " + "".join(
                    f"<img alt='image {int(j)}' src='{png_uri(im)}'>" for j, im in zip(f.evidence, f.images, strict=True)) + "</div>")
            if f.probed is not None and len(f.probed):
                parts.append("<div>probed copies: " + "".join(f"<img alt='probed' src='{png_uri(im)}'>" for im in f.probed) + "</div>")
            parts.append("</div>")
        parts += [f"<p>note: {e(n)}</p>" for n in self.notes]
        parts.append("</body></html>")
        page = "\n".join(parts)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def png_uri(image: np.ndarray) -> str:
    """``data:image/png;base64,...`` of one ``uint8 [3, H, W]`` image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.asarray(image, np.uint8).transpose(1, 2, 0))).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
