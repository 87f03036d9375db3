"""Plotly figures of the results users read as tables (issue 16 §4): one function per result,
which the result's ``.plot()`` calls, and which takes the plain table where the result is one
(:func:`mitigation` for ``Engine.mitigation_table``'s DataFrame, :func:`reliability` for
``dw.metrics.reliability``'s).

Every figure has a title, axis titles with units, a legend (a colour bar for heatmaps) and
plotly's default template, so it reads in JupyterLab's light and dark themes; ``fig.to_html(
include_plotlyjs=True)`` is an offline page. Accuracies and shares stay fractions in the traces
(the bar heights are the table's numbers) and show as percentages through the axis tick format.
Data strings (class names, version ids) are HTML-escaped: plotly renders a subset of HTML in
text, and a name must show as typed. plotly is imported only when a figure is made.

This module sits in ``runtime`` (the bottom layer) so results of every layer may call it; it
reads the results by duck typing and imports no other dashwidgets package.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

_PCT = ".0%"
# DASH's Classifier Board: train loss red, validation loss blue
_TRAIN, _VAL = "#d62728", "#1f77b4"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=False)


def _finish(fig, title: str):
    fig.update_layout(title=title, showlegend=True, legend={"title": {"text": ""}})
    return fig


def _go():
    import plotly.graph_objects as go

    return go


def _subplots(**kw):
    from plotly.subplots import make_subplots

    return make_subplots(**kw)


def _checked_frame(table: Any, needed: tuple[str, ...], what: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{what} needs a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"{what} needs the columns {list(needed)}; this table lacks {missing}")
    return table


# --------------------------------------------------------------------------- audit
def audit(result) -> Any:
    """:class:`~dashwidgets.audit.report.BiasAudit`: accuracy per split (overall, bias-aligned,
    bias-conflicting) above accuracy per class and split."""
    splits, per_class = result.splits, result.per_class
    fig = _subplots(rows=2, cols=1, vertical_spacing=0.28,
                    subplot_titles=("per split", "per true class"))
    names = [_esc(s) for s in splits.index]
    for col, label in (("accuracy", "all images"), ("aligned_accuracy", "bias-aligned"),
                       ("conflicting_accuracy", "bias-conflicting")):
        if col in splits:
            fig.add_bar(x=names, y=splits[col].to_numpy(float), name=label, legendgroup="split", row=1, col=1)
    classes = [_esc(c) for c in per_class.index]
    for split in per_class.columns:
        fig.add_bar(x=classes, y=per_class[split].to_numpy(float), name=f"{_esc(split)} (per class)",
                    legendgroup="class", row=2, col=1)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="split", row=1, col=1)
    fig.update_xaxes(title_text="true class", type="category", row=2, col=1)
    fig.update_yaxes(title_text="accuracy (% of images)", tickformat=_PCT, range=[0, 1])
    gap = "" if np.isnan(result.gap) else f", val − test {result.gap:+.1f} points"
    return _finish(fig, f"Audit of {_esc(result.version)}{gap}")


# --------------------------------------------------------------------------- compare, trace
def comparison(result) -> Any:
    """:class:`~dashwidgets.audit.compare.Comparison`: per-class accuracy of both versions beside
    the confusion difference ``b - a`` (a heatmap with its colour bar, images)."""
    a, b = _esc(result.a), _esc(result.b)
    pc = result.per_class
    classes = [_esc(c) for c in result.classes]
    fig = _subplots(rows=1, cols=2, horizontal_spacing=0.15,
                    subplot_titles=("accuracy per true class", f"confusion {b} − {a} (images)"))
    fig.add_bar(x=classes, y=pc[f"accuracy_{result.a}"].to_numpy(float), name=a, row=1, col=1)
    fig.add_bar(x=classes, y=pc[f"accuracy_{result.b}"].to_numpy(float), name=b, row=1, col=1)
    diff = np.asarray(result.diff)
    lim = max(1, int(np.abs(diff).max()) if diff.size else 1)
    fig.add_heatmap(z=diff, x=classes, y=classes, zmid=0, zmin=-lim, zmax=lim, colorscale="RdBu",
                    reversescale=True, name=f"{b} − {a}", showscale=True,
                    colorbar={"title": {"text": "Δ images"}, "x": 1.02},
                    hovertemplate="true %{y}, predicted %{x}: %{z:+d}<extra></extra>", row=1, col=2)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="true class", type="category", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (% of images)", tickformat=_PCT, range=[0, 1], row=1, col=1)
    fig.update_xaxes(title_text="predicted class", type="category", row=1, col=2)
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed", row=1, col=2)
    # the legend below the plots: at the right it would sit on the colour bar
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    split = _esc(result.split or "all images")
    return _finish(fig, f"{a} → {b} on {split}: accuracy {result.accuracy_a:.1%} → {result.accuracy_b:.1%}")


def trace(result, changes: tuple[str, ...] = ("became right", "became wrong", "always wrong", "always right",
                                               "mixed")) -> Any:
    """:class:`~dashwidgets.audit.compare.Trace`: accuracy of each version in order beside the
    number of images on each path (became right / wrong, always wrong / right, mixed)."""
    versions = [_esc(v) for v in result.versions]
    acc = np.asarray(result.correct, dtype=float).mean(axis=0) if len(result.indices) else np.full(len(versions), np.nan)
    change = pd.Series(result.change)
    counts = [int((change == c).sum()) for c in changes]
    fig = _subplots(rows=1, cols=2, horizontal_spacing=0.15,
                    subplot_titles=("accuracy per version", "images per path"))
    fig.add_scatter(x=versions, y=acc, mode="lines+markers", name="accuracy", row=1, col=1)
    colours = {"became right": "#d62728", "became wrong": "#1f77b4"}  # DASH's Trace View colours
    for c, n in zip(changes, counts, strict=True):
        fig.add_bar(x=[c], y=[n], name=c, marker_color=colours.get(c), row=1, col=2)
    fig.update_xaxes(title_text="version (training order)", type="category", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (% of images)", tickformat=_PCT, range=[0, 1], row=1, col=1)
    fig.update_xaxes(title_text="path across versions", row=1, col=2)
    fig.update_yaxes(title_text="images", row=1, col=2)
    split = _esc(result.split or "all images")
    return _finish(fig, f"Trace {' → '.join(versions)} on {split} ({len(result.indices)} images)")


# --------------------------------------------------------------------------- clusters, subgroups
def clustering(result) -> Any:
    """:class:`~dashwidgets.audit.cluster.Clustering`: size and accuracy per style cluster (and
    its bias-aligned share when the dataset has that attribute)."""
    t = result.table
    ids = [str(i) for i in range(len(t))]
    fig = _subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_bar(x=ids, y=t["size"].to_numpy(), name="size", row=1, col=1)
    fig.add_scatter(x=ids, y=t["accuracy"].to_numpy(float), mode="markers", marker={"size": 10},
                    name="accuracy", row=2, col=1)
    share = next((c for c in t.columns if c.startswith("aligned") and "share" in c), None)
    if share is not None:
        fig.add_scatter(x=ids, y=t[share].to_numpy(float), mode="markers", marker={"symbol": "x", "size": 10},
                        name="bias-aligned share", row=2, col=1)
    fig.update_xaxes(title_text="cluster", type="category", row=2, col=1)
    fig.update_xaxes(type="category", row=1, col=1)
    fig.update_yaxes(title_text="images", row=1, col=1)
    fig.update_yaxes(title_text="% of the cluster", tickformat=_PCT, range=[0, 1.05], row=2, col=1)
    split = _esc(result.split or "selection")
    return _finish(fig, f"{result.k} style clusters of {_esc(result.version)} on {split}")


def subgroups(result) -> Any:
    """:class:`~dashwidgets.audit.subgroups.Subgroups`: accuracy per subgroup (worst first),
    under-performing ones apart, with the threshold ``ratio × overall accuracy``."""
    t = result.table
    ids = [str(i) for i in t.index]
    under = t["under"].to_numpy(bool)
    fig = _go().Figure()
    for mask, name, colour in ((under, "under-performing", "#d62728"), (~under, "well-performing", "#1f77b4")):
        if mask.any():
            fig.add_bar(x=[i for i, m in zip(ids, mask, strict=True) if m], y=t["accuracy"].to_numpy(float)[mask],
                        customdata=t["size"].to_numpy()[mask], name=name, marker_color=colour,
                        hovertemplate="subgroup %{x}: %{y:.1%} of %{customdata} images<extra></extra>")
    cut = result.ratio * result.overall_accuracy
    fig.add_scatter(x=[ids[0], ids[-1]], y=[cut, cut], mode="lines", line={"dash": "dash", "color": "gray"},
                    name=f"{result.ratio:g} × overall accuracy")
    fig.update_xaxes(title_text="subgroup (worst first)", type="category", categoryorder="array", categoryarray=ids)
    fig.update_yaxes(title_text="accuracy (% of the subgroup)", tickformat=_PCT, range=[0, 1])
    split = _esc(result.split or "all images")
    return _finish(fig, f"{result.k} subgroups of {_esc(result.version)} on {split} "
                        f"({len(result.under)} under-performing, overall {result.overall_accuracy:.1%})")


# --------------------------------------------------------------------------- attribution, calibration
def bias_report(result, alpha: float = 0.05) -> Any:
    """:class:`~dashwidgets.explain.bias.BiasReport`: each (method, metric, mask)'s mean score of
    the biased and the reference model; a star marks Welch p <= ``alpha``."""
    t = result.table
    rows = [f"{_esc(m)} · {_esc(k).upper()} · {_esc(s)}{' *' if p <= alpha else ''}"
            for m, k, s, p in zip(t["method"], t["metric"], t["mask"], t["p"], strict=True)]
    fig = _go().Figure()
    fig.add_bar(x=rows, y=t["biased_mean"].to_numpy(float), name=f"{_esc(result.biased)} (biased)",
                customdata=np.stack([t["p"], t["cohens_d"]], axis=1),
                hovertemplate="%{x}: %{y:.3f}, p %{customdata[0]:.2g}, d %{customdata[1]:.2f}<extra></extra>")
    fig.add_bar(x=rows, y=t["reference_mean"].to_numpy(float), name=f"{_esc(result.reference)} (reference)")
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="method · metric · mask (* Welch p ≤ " + f"{alpha:g})", type="category")
    fig.update_yaxes(title_text="mean score (share of attribution, 0–1)", range=[0, 1])
    split = _esc(result.split or "all images")
    return _finish(fig, f"Attribution on the masks: {_esc(result.biased)} vs {_esc(result.reference)} on {split}")


def reliability(table: pd.DataFrame, ece: float | None = None, title: str = "Reliability diagram") -> Any:
    """A reliability diagram from ``dw.metrics.reliability``'s table (``lo``, ``hi``, ``share``,
    ``accuracy``): accuracy per confidence bin beside the diagonal, share of samples below."""
    r = _checked_frame(table, ("lo", "hi", "share", "accuracy"), "a reliability diagram")
    width = (r["hi"] - r["lo"]).to_numpy(float)
    mid = ((r["lo"] + r["hi"]) / 2).to_numpy(float)
    fig = _subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.05)
    fig.add_bar(x=mid, y=r["accuracy"].to_numpy(float), width=width, name="accuracy per bin", row=1, col=1)
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration", line={"dash": "dash"}, row=1, col=1)
    fig.add_bar(x=mid, y=r["share"].to_numpy(float), width=width, name="share of samples", row=2, col=1)
    fig.update_xaxes(title_text="confidence (top softmax probability)", range=[0, 1], tickformat=_PCT, row=2, col=1)
    fig.update_yaxes(title_text="accuracy (% correct)", tickformat=_PCT, range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="% of samples", tickformat=_PCT, row=2, col=1)
    suffix = "" if ece is None else f" (ECE {ece:.3f}, {len(r)} bins)"
    return _finish(fig, _esc(title) + suffix)


# --------------------------------------------------------------------------- mitigation, history
def mitigation(table: pd.DataFrame) -> Any:
    """``Engine.mitigation_table``'s DataFrame (the paper's Table 1): accuracy overall, on
    bias-aligned and on bias-conflicting test images per model, and the gap between the two."""
    cols = ("model", "accuracy", "aligned_accuracy", "conflicting_accuracy", "gap")
    t = _checked_frame(table, cols, "a mitigation figure")
    labels = []
    for _, row in t.iterrows():
        parts = [_esc(row["model"])]
        if "kind" in t and isinstance(row.get("kind"), str):
            parts.append(_esc(row["kind"]) + (f"+{_esc(row['noise'])}" if isinstance(row.get("noise"), str) else ""))
        q = row.get("quantile")
        if q is not None and not pd.isna(q):
            parts.append(f"q {float(q):g}")
        labels.append(" · ".join(parts))
    fig = _go().Figure()
    for col, name in (("accuracy", "all test images"), ("aligned_accuracy", "bias-aligned"),
                      ("conflicting_accuracy", "bias-conflicting")):
        fig.add_bar(x=labels, y=t[col].to_numpy(float), name=name)
    fig.add_bar(x=labels, y=t["gap"].to_numpy(float), name="gap |aligned − conflicting|", marker_color="gray")
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="model · map+noise · quantile", type="category")
    fig.update_yaxes(title_text="test accuracy, gap (% of images)", tickformat=_PCT, range=[0, 1])
    return _finish(fig, "Region mitigation: accuracy on bias-aligned vs bias-conflicting test images")


def history(version) -> Any:
    """A :class:`~dashwidgets.models.ModelVersion`'s training history: train (red) and
    validation (blue) loss per epoch above validation accuracy."""
    h = pd.DataFrame(list(version.history))
    if h.empty or "epoch" not in h:
        raise ValueError(f"version {version.id!r} has no per-epoch training history to plot")
    fig = _subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1, row_heights=[0.55, 0.45])
    for col, name, colour in (("train_loss", "train loss", _TRAIN), ("val_loss", "validation loss", _VAL)):
        if col in h:
            fig.add_scatter(x=h["epoch"], y=h[col].to_numpy(float), mode="lines+markers", name=name,
                            line={"color": colour}, row=1, col=1)
    if "val_accuracy" in h:
        fig.add_scatter(x=h["epoch"], y=h["val_accuracy"].to_numpy(float), mode="lines+markers",
                        name="validation accuracy", line={"color": _VAL, "dash": "dot"}, row=2, col=1)
    fig.update_xaxes(title_text="epoch", dtick=1, row=2, col=1)
    fig.update_yaxes(title_text="cross-entropy (nats)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="val. accuracy (%)", tickformat=_PCT, range=[0, 1], row=2, col=1)
    fig.update_layout(height=520)
    return _finish(fig, f"Training history of {_esc(version.name)}")


# --------------------------------------------------------------------------- criticism
def criticism(result, method: str = "adv", attribute: str | None = None) -> Any:
    """:class:`~dashwidgets.audit.criticism.Criticism`: ``method``'s prototypes and criticisms per
    class (``result.summary(method)``) beside, over all classes, each attribute value's share
    among the images, the prototypes and the criticisms (``result.enrichment``'s ``"all"`` rows)."""
    summary = result.summary(method)
    enrich = result.enrichment(attribute, method)
    enrich = enrich[enrich["class"] == "all"]
    names = {"adv": "adversarial (IFGSM)", "mmd": "MMD-critic", "prob": "probability"}
    fig = _subplots(rows=1, cols=2, horizontal_spacing=0.15, column_widths=[0.6, 0.4],
                    subplot_titles=("per true class", "attribute shares, all classes"))
    classes = [_esc(c) for c in summary.index]
    for col, name in (("prototypes", "prototypes"), ("criticisms", "criticisms")):
        fig.add_bar(x=classes, y=summary[col].to_numpy(), name=name, legendgroup="count", row=1, col=1)
    values = [f"{_esc(a)} = {_esc(v)}" for a, v in zip(enrich["attribute"], enrich["value"], strict=True)]
    for col, name in (("share_class", "share of all images"), ("share_prototypes", "share of prototypes"),
                      ("share_criticisms", "share of criticisms")):
        fig.add_bar(x=values, y=enrich[col].to_numpy(float), name=name, legendgroup="share",
                    customdata=enrich["p_value"].to_numpy(float),
                    hovertemplate="%{x}: %{y:.1%} (Fisher p %{customdata:.2g})<extra></extra>", row=1, col=2)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="true class", type="category", row=1, col=1)
    fig.update_yaxes(title_text="images", row=1, col=1)
    fig.update_xaxes(title_text="attribute = value", type="category", row=1, col=2)
    fig.update_yaxes(title_text="% of the set", tickformat=_PCT, range=[0, 1], row=1, col=2)
    split = _esc(result.split or "all images")
    return _finish(fig, f"Prototypes and criticisms of {_esc(result.version)} on {split}: "
                        f"{names.get(method, _esc(method))}")
