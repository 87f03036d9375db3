"""The attribution-shift report: Welch's test and effect size against scipy and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import dashwidgets as dw
from dashwidgets.explain import bias_report


def test_welch_and_cohens_d_by_hand(rng):
    a = rng.normal(1.0, 1.0, 40)
    b = rng.normal(0.2, 3.0, 70)
    t, p = dw.metrics.welch(a, b)
    # Welch: t = (ma - mb) / sqrt(va/na + vb/nb), Welch-Satterthwaite degrees of freedom
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t_hand = (a.mean() - b.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert t == pytest.approx(t_hand)
    assert p == pytest.approx(2 * stats.t.sf(abs(t_hand), df))
    d = dw.metrics.cohens_d(a, b)
    assert d == pytest.approx((a.mean() - b.mean()) / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))
    assert np.isnan(dw.metrics.welch([1.0], [2.0, 3.0])[1])


def test_report_finds_a_planted_shift(rng):
    n, h = 30, 8
    masks = {"object": np.zeros((n, h, h), bool), "bias": np.zeros((n, h, h), bool)}
    masks["object"][:, :4] = True
    masks["bias"][:, 4:] = True
    ref = rng.random((n, h, h)) * 0.1
    ref[:, :4] += 1.0  # the reference looks at the object
    biased = rng.random((n, h, h)) * 0.1
    biased[:, 4:] += 1.0  # the biased model looks at the bias region
    rep = bias_report({"m": biased}, {"m": ref}, masks, np.arange(n), "v2", "v1", "test")
    assert isinstance(rep.table, pd.DataFrame) and len(rep.table) == 4  # 2 metrics x 2 masks
    row = rep.table.set_index(["metric", "mask"]).loc[("rma", "bias")]
    assert row["biased_mean"] > 0.9 and row["reference_mean"] < 0.1
    assert row["p"] < 1e-10 and row["cohens_d"] > 5 and row["n"] == n
    assert set(rep.significant()["mask"]) == {"object", "bias"}
    assert len(rep.scores) == 2 * 2 * 2 * n  # metric x mask x model x images
    assert "v2" in repr(rep) and "<table" in rep._repr_html_()
    with pytest.raises(ValueError, match="same methods"):
        bias_report({"m": biased}, {"x": ref}, masks, np.arange(n))
    with pytest.raises(ValueError, match="no ground-truth masks"):
        bias_report({"m": biased}, {"m": ref}, {}, np.arange(n))


def test_engine_bias_report(trained):
    eng, v = trained
    v2 = eng.train(epochs=1, seed=3, progress=False)
    rep = eng.bias_report(v, v2, method=["gradcam", "lrp"], idx=eng.dataset.indices("test")[:30])
    assert list(rep.table["method"].unique()) == ["gradcam", "lrp"]
    assert rep.biased == v.id and rep.reference == v2.id and rep.split == "selection"
    assert rep.table["p"].between(0, 1).all()
    # the table's means are the metrics of the engine's (cached) maps
    idx = eng.dataset.indices("test")[:30]
    a = eng.attribute(v, idx, "gradcam", numpy=True)
    expected = np.nanmean(dw.metrics.rma(a, eng.dataset.masks["bias"][idx]))
    got = rep.table.set_index(["method", "metric", "mask"]).loc[("gradcam", "rma", "bias"), "biased_mean"]
    assert got == pytest.approx(expected)
    with pytest.raises(ValueError, match="at least 2 images"):
        eng.bias_report(v, v2, idx=[3])
    eng.discard(v2)


def test_bias_report_against_a_model_of_another_engine(trained, small_ds):
    eng, v = trained
    other = dw.Engine(small_ds, device="cpu")  # same images, e.g. the unbiased twin's test split
    ref = other.train(epochs=1, seed=5, progress=False)
    idx = small_ds.indices("test")[:20]
    rep = eng.bias_report(v, ref, idx=idx, reference_engine=other)
    assert rep.reference == "v1 (reference)" and rep.biased == "v1"  # same id, told apart
    got = rep.table.set_index(["method", "metric", "mask"]).loc[("gradcam", "rra", "object"), "reference_mean"]
    expected = np.nanmean(dw.metrics.rra(other.attribute(ref, idx, numpy=True), small_ds.masks["object"][idx]))
    assert got == pytest.approx(expected)
    shifted = dw.Engine(small_ds.subset(np.arange(1, len(small_ds))), device="cpu")
    shifted_v = shifted.train(epochs=1, progress=False)
    with pytest.raises(ValueError, match="images differ"):
        eng.bias_report(v, shifted_v, idx=idx, reference_engine=shifted)
    with pytest.raises(TypeError, match="reference_engine must be an Engine"):
        eng.bias_report(v, ref, idx=idx, reference_engine="other")
