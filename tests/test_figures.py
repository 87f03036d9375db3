"""Every table-like result's ``.plot()`` (issue 16 §4): the figure's traces carry the result's own
numbers, its axes are titled, it has a legend or colour bar, and its HTML page is offline."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import dashwidgets as dw
from dashwidgets.audit.mitigation import mitigation_frame, subgroup_accuracy

pytest.importorskip("plotly")


@pytest.fixture(scope="module")
def two(small_ds):
    """An engine of its own with two 1-epoch versions (v2 trained from v1)."""
    eng = dw.Engine(small_ds, device="cpu")
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    return eng, v1, v2


def _traces(fig, name=None):
    return [t for t in fig.data if name is None or t.name == name]


def _one(fig, name):
    found = _traces(fig, name)
    assert len(found) == 1, f"no single trace named {name!r}: {[t.name for t in fig.data]}"
    return found[0]


def _check_common(fig, axes: int):
    """A title, ``axes`` titled axes, a legend or colour bar, and a page that loads no script."""
    layout = fig.layout
    assert layout.title.text
    titled = [k for k in layout if re.fullmatch(r"[xy]axis\d*", k) and layout[k].title.text]
    assert len(titled) >= axes, titled
    assert layout.showlegend is True or any(getattr(t, "showscale", False) for t in fig.data)
    page = fig.to_html(include_plotlyjs=True, full_html=True)
    assert not re.search(r"<script[^>]*src=[\"']?https?:", page)
    assert "Plotly.newPlot" in page


def test_audit_plot_bars_are_the_accuracy_table(trained):
    eng, v = trained
    a = eng.audit(v)
    fig = a.plot()
    _check_common(fig, 4)
    assert list(_one(fig, "all images").y) == pytest.approx(a.splits["accuracy"].tolist())
    assert list(_one(fig, "bias-conflicting").y) == pytest.approx(a.splits["conflicting_accuracy"].tolist(), nan_ok=True)
    assert list(_one(fig, "test (per class)").y) == pytest.approx(a.per_class["test"].tolist(), nan_ok=True)
    assert list(_one(fig, "test (per class)").x) == [str(c) for c in a.per_class.index]


def test_compare_plot_shows_per_class_accuracy_and_the_confusion_difference(two):
    eng, v1, v2 = two
    c = eng.compare(v1, v2)
    fig = c.plot()
    _check_common(fig, 4)
    pc = c.per_class
    assert list(_one(fig, v1.id).y) == pytest.approx(pc[f"accuracy_{v1.id}"].tolist(), nan_ok=True)
    assert list(_one(fig, v2.id).y) == pytest.approx(pc[f"accuracy_{v2.id}"].tolist(), nan_ok=True)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 1 and heat[0].showscale and heat[0].colorbar.title.text
    np.testing.assert_array_equal(np.asarray(heat[0].z), c.diff)


def test_trace_plot_counts_each_path(two):
    eng, v1, v2 = two
    t = eng.trace([v1, v2])
    fig = t.plot()
    _check_common(fig, 4)
    assert list(_one(fig, "accuracy").y) == pytest.approx(t.correct.mean(axis=0).tolist())
    for change in ("became right", "became wrong", "always wrong", "always right"):
        assert list(_one(fig, change).y) == [len(t.filter(change))]


def test_cluster_plot_sizes_and_accuracy(trained):
    eng, v = trained
    cl = eng.cluster(v, k=4)
    fig = cl.plot()
    _check_common(fig, 2)
    assert list(_one(fig, "size").y) == cl.table["size"].tolist()
    assert sum(_one(fig, "size").y) == len(cl.indices)
    assert list(_one(fig, "accuracy").y) == pytest.approx(cl.table["accuracy"].tolist())
    assert list(_one(fig, "bias-aligned share").y) == pytest.approx(cl.table["aligned_share"].tolist(), nan_ok=True)


def test_subgroups_plot_splits_under_and_well_performing(trained):
    eng, v = trained
    sg = eng.subgroups(v, k=6)
    fig = sg.plot()
    _check_common(fig, 2)
    t = sg.table
    heights = {}
    for name in ("under-performing", "well-performing"):
        for tr in _traces(fig, name):
            heights.update(dict(zip(tr.x, tr.y, strict=True)))
    assert heights == pytest.approx({str(i): a for i, a in t["accuracy"].items()})
    under = _traces(fig, "under-performing")
    assert sorted(under[0].x if under else []) == sorted(str(i) for i in sg.under)
    line = _one(fig, f"{sg.ratio:g} × overall accuracy")
    assert line.y[0] == pytest.approx(sg.ratio * sg.overall_accuracy)


def test_bias_report_plot_means_of_both_models(two):
    eng, v1, v2 = two
    r = eng.bias_report(v2, v1, idx=np.arange(len(eng.dataset))[-20:])
    fig = r.plot()
    _check_common(fig, 2)
    assert list(_one(fig, f"{v2.id} (biased)").y) == pytest.approx(r.table["biased_mean"].tolist(), nan_ok=True)
    assert list(_one(fig, f"{v1.id} (reference)").y) == pytest.approx(r.table["reference_mean"].tolist(), nan_ok=True)
    assert len(fig.data[0].x) == len(r.table)


def test_reliability_plot_from_the_metrics_table(trained):
    eng, v = trained
    res = eng.evaluate(v, "val")
    table = dw.metrics.reliability(res.probs, res.labels, bins=10)
    e = dw.metrics.ece(res.probs, res.labels, bins=10)
    fig = dw.figures.reliability(table, ece=e)
    _check_common(fig, 3)
    assert list(_one(fig, "accuracy per bin").y) == pytest.approx(table["accuracy"].tolist(), nan_ok=True)
    assert list(_one(fig, "share of samples").y) == pytest.approx(table["share"].tolist())
    assert f"{e:.3f}" in fig.layout.title.text
    with pytest.raises(ValueError, match="accuracy"):
        dw.figures.reliability(table.drop(columns="accuracy"))


def test_mitigation_figure_from_the_table(rng):
    aligned = rng.random(200) < 0.5
    rows = [
        {"model": "v1", **subgroup_accuracy(rng.random(200) < np.where(aligned, 0.95, 0.3), aligned)},
        {"model": "v2", "kind": "region", "noise": "mask", "quantile": 0.7,
         **subgroup_accuracy(rng.random(200) < 0.8, aligned)},
    ]
    table = mitigation_frame(rows)
    fig = dw.figures.mitigation(table)
    _check_common(fig, 2)
    for col, name in (("accuracy", "all test images"), ("aligned_accuracy", "bias-aligned"),
                      ("conflicting_accuracy", "bias-conflicting")):
        assert list(_one(fig, name).y) == pytest.approx(table[col].tolist())
    assert list(_one(fig, "gap |aligned − conflicting|").y) == pytest.approx(table["gap"].tolist())
    assert list(_one(fig, "all test images").x) == ["v1", "v2 · region+mask · q 0.7"]
    with pytest.raises(TypeError, match="DataFrame"):
        dw.figures.mitigation(rows)


def test_version_plot_is_its_training_history(trained):
    _, v = trained
    fig = v.plot()
    _check_common(fig, 3)
    h = pd.DataFrame(list(v.history))
    assert list(_one(fig, "train loss").y) == pytest.approx(h["train_loss"].tolist())
    assert list(_one(fig, "validation loss").y) == pytest.approx(h["val_loss"].tolist())
    assert list(_one(fig, "validation accuracy").y) == pytest.approx(h["val_accuracy"].tolist())
    assert list(_one(fig, "train loss").x) == h["epoch"].tolist()
    with pytest.raises(ValueError, match="no per-epoch"):
        dw.ModelVersion("v9", None).plot()


def test_names_show_as_text_not_markup(two):
    eng, v1, v2 = two
    c = eng.compare(v1, v2)
    marked = type(c)(**{**c.__dict__, "classes": ["<b>zero</b>"] + c.classes[1:]})
    fig = marked.plot()
    assert fig.data[0].x[0] == "&lt;b&gt;zero&lt;/b&gt;"


def test_criticism_plot_counts_and_attribute_shares(trained):
    eng, v = trained
    cr = eng.criticize(v, steps=3, methods=("adv", "prob"), n=3)
    fig = cr.plot()
    _check_common(fig, 4)
    s = cr.summary("adv")
    assert list(_one(fig, "prototypes").y) == s["prototypes"].tolist()
    assert list(_one(fig, "criticisms").y) == s["criticisms"].tolist()
    e = cr.enrichment(None, "adv")
    e = e[e["class"] == "all"]
    assert list(_one(fig, "share of criticisms").y) == pytest.approx(e["share_criticisms"].tolist(), nan_ok=True)
    assert list(_one(fig, "share of all images").y) == pytest.approx(e["share_class"].tolist())
    other = cr.plot(method="prob")
    assert list(_one(other, "prototypes").y) == cr.summary("prob")["prototypes"].tolist()
    assert "probability" in other.layout.title.text
