"""Replication of VisCUIT's evidence (issue 14, §3) on the three embedded benchmarks at bias 0.9
and 0.99: a shortcut model's under-performing subgroups (UDIS on the unbiased test split)

(a) expose the shortcut: at least 70 % of their errors predict the class whose spurious feature
    the image carries (``attributes["bias_class"]``);
(b) hold bias-conflicting images (``aligned == False``) at higher odds than the rest of the test
    split. The test split is unbiased, so ~90 % of it conflicts anyway and a share cannot double:
    the figure is the odds ratio, and the assertion a one-sided Fisher exact test (p < 1e-3),
    which, unlike a fixed ratio, does not hinge on one image more or less on another CPU;
(c) have neurons of their own whose concept patches lie on the bias more than those of the
    neurons of their paired well-performing subgroups.

Neurons for (c): for every under-performing subgroup ``i`` and its pair ``p = sg.pair(i)``, a
neuron (of any conv layer) is *exclusive to under-performing subgroups* when its activation score
is >= 0.5 on ``i`` and < 0.5 on ``p``, and *exclusive to well-performing ones* the other way round
(VisCUIT's neuron panel at its default threshold). Both sets pool all pairs (a neuron counts once
per set). A neuron's bias share is the mean, over its concept patches (``eng.concepts``), of the
fraction of the patch's pixels inside its source image's ``masks["bias"]``; a set's share is the
mean over its neurons. A set that comes out empty fails the test with that message: the claim is
then not checked, and the case is marked below with the measured counts.

Training settings: the session fixture ``converged``'s (600 train / 150 val images, 8 epochs,
which learns the shortcut: unbiased test accuracy 0.10-0.29) with a 2,000-image test split (the
benchmarks' default; evaluating it costs a second or two, and it gives the statistics their
counts). Each (benchmark, bias) is trained once per session and shared by its three tests.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import dashwidgets as dw

BIASES = (0.9, 0.99)
N_TEST = 2000
K = None  # the documented default: round(sqrt(n / 2)) = 32 subgroups of ~62 images
THRESHOLD = 0.5


@functools.cache
def _audit(name: str, bias: float) -> dict:
    """Train once, then everything (a), (b) and (c) read, as plain figures."""
    from scipy.stats import contingency, fisher_exact

    ds = dw.datasets.load(name, bias=bias, seed=0, n_train=600, n_val=150, n_test=N_TEST)
    eng = dw.Engine(ds, device="cpu")
    v = eng.train(epochs=8, seed=0, progress=False)
    ev = eng.evaluate(v, "test")
    sg = eng.subgroups(v, k=K, split="test", seed=0)
    under = sg.under
    out = {"eng": eng, "v": v, "sg": sg, "test_accuracy": ev.accuracy, "under": under}

    # (a) the errors of the under-performing subgroups
    members = np.concatenate([sg.members(i) for i in under]) if under else np.empty(0, np.int64)
    pos = np.searchsorted(ev.indices, members)
    wrong = ~ev.correct[pos]
    bias_class = ds.attributes["bias_class"][members]
    out["errors"] = int(wrong.sum())
    out["shortcut_share"] = float(np.mean(ev.pred[pos][wrong] == bias_class[wrong])) if wrong.any() else float("nan")

    # (b) bias-conflicting images in the under-performing subgroups vs the rest of the split
    conflicting = ~ds.attributes["aligned"][ev.indices]
    inside = np.isin(ev.indices, members)
    table = np.array([[np.sum(conflicting & inside), np.sum(~conflicting & inside)],
                      [np.sum(conflicting & ~inside), np.sum(~conflicting & ~inside)]])
    res = contingency.odds_ratio(table)  # conditional maximum likelihood estimate
    out["table"] = table
    out["odds_ratio"] = float(res.statistic)
    out["odds_ratio_low"] = float(res.confidence_interval(0.95, alternative="greater").low)
    out["fisher_p"] = float(fisher_exact(table, alternative="greater").pvalue)

    # (c) neurons exclusive to one side of each (under-performing, pair) and their concept patches
    sets: dict[str, set] = {"under": set(), "well": set()}
    for i in under:
        p = sg.pair(i)
        if p is None:  # no well-performing subgroup at all: nothing to compare with
            continue
        scores = eng.neuron_scores(v, {"under": sg.members(i), "well": sg.members(p)})
        for side, other in (("under", "well"), ("well", "under")):
            hit = scores[(scores[side] >= THRESHOLD) & (scores[other] < THRESHOLD)]
            sets[side] |= set(zip(hit["layer"], hit["neuron"].astype(int), strict=True))
    neurons = sorted(sets["under"] | sets["well"])
    concepts = eng.concepts_many(v, neurons) if neurons else {}
    mask = ds.masks["bias"]

    def bias_share(cc) -> float:
        return float(np.mean([mask[s, y0:y1, x0:x1].mean() for s, (y0, x0, y1, x1) in zip(cc.sources, cc.boxes, strict=True)]))

    for side in ("under", "well"):
        shares = [bias_share(concepts[n]) for n in sorted(sets[side])]
        out[f"neurons_{side}"] = len(shares)
        out[f"share_{side}"] = float(np.mean(shares)) if shares else float("nan")
    return out


def _cases(marks: dict | None = None):
    marks = marks or {}
    return [pytest.param(n, b, marks=marks.get((n, b), ()), id=f"{n}-{b}") for n in dw.datasets.BENCHMARKS for b in BIASES]


@pytest.mark.slow
@pytest.mark.parametrize("name, bias", _cases())
def test_errors_of_under_performing_subgroups_predict_the_bias_class(name, bias):
    r = _audit(name, bias)
    print(f"{name} {bias}: test accuracy {r['test_accuracy']:.3f}, {len(r['under'])} of {r['sg'].k} subgroups "
          f"under-perform, {r['shortcut_share']:.3f} of their {r['errors']} errors predict the bias class")
    assert len(r["under"]) >= 1 and r["errors"] >= 20, "the shortcut model must have under-performing subgroups"
    assert r["shortcut_share"] >= 0.7, f"{name} {bias}: only {r['shortcut_share']:.3f} of the errors predict the bias class"


@pytest.mark.slow
@pytest.mark.parametrize("name, bias", _cases())
def test_under_performing_subgroups_hold_bias_conflicting_images_at_higher_odds(name, bias):
    r = _audit(name, bias)
    (a, b), (c, d) = r["table"]
    print(f"{name} {bias}: conflicting {a}/{a + b} in under-performing subgroups vs {c}/{c + d} in the rest; "
          f"odds ratio {r['odds_ratio']:.2f} (95 % lower bound {r['odds_ratio_low']:.2f}), Fisher p {r['fisher_p']:.2g}")
    assert r["odds_ratio"] > 1 and r["odds_ratio_low"] > 1
    assert r["fisher_p"] < 1e-3, f"{name} {bias}: odds ratio {r['odds_ratio']:.2f} not significant (p {r['fisher_p']:.2g})"


# (c) measured on a 2-core CPU (fixed seeds; k = 32; shares of concept-patch pixels on the bias
# mask, under vs well). Holds: texture-digits 0.9 0.875 (5 neurons) vs 0.640 (3), patch-digits
# 0.9 0.816 (7) vs 0.530 (6), patch-digits 0.99 0.769 (3) vs 0.529 (3). Does not: below. Also
# tried at 600 train images x 8 epochs with k = 8, 12, 22 and 30 (1,000 test images): colored-
# digits never separates (its bias mask is the digit: the colour lives on the strokes, so any
# stroke-reading neuron's patches lie on it, ~0.93-1.0 on both sides), and texture-digits 0.99
# flips with k (0.24 vs 0.85 at k = 22, 0.71 vs none at k = 30) on 0-3 neurons a side. Training
# longer (16 epochs) or on more images (2,000 x 8 epochs; 3.3x the training time, over this file's
# CI budget) moves these cases either way: 16 epochs: texture 0.99 no neurons, colored 0.9 0.803
# (10) vs 0.901 (5), colored 0.99 0.973 (3) vs 0.947 (2); 2,000 images: texture 0.99 0.867 (3)
# vs 0.728 (2), colored 0.9 0.877 (4) vs 0.769 (2), colored 0.99 0.972 (4) vs 0.994 (2). With
# 2-10 exclusive neurons a side, (c) rests on small counts wherever it is checked. The marks are
# not strict: two are near ties that another CPU's float rounding may tip (an XPASS then shows).
# Re-measured on 2026-12-07 in a fresh environment (torch 2.14.1, numpy 2.4.6, scikit-learn 1.9.1)
# with the same code and seeds, every case moved: texture 0.9 0.878 (5) vs 0.669 (3) and patch
# 0.99 0.559 (5) vs 0.444 (2) still hold; texture 0.99 now holds, 0.878 (4) vs 0.787 (2); patch
# 0.9 lost its under-side neurons (0 vs 4 at 0.525) and is now an expected failure too. So (c) is
# asserted where it held in both environments, and the rest are recorded, not claimed.
CONCEPT_MARKS: dict = {
    ("patch-digits", 0.9): pytest.mark.xfail(
        strict=False, reason="environment-dependent: 0.816 (7 neurons) vs 0.530 (6) in one environment, "
                             "no neuron exclusive to under-performing subgroups (vs 4 at 0.525) in another"),
    ("colored-digits", 0.9): pytest.mark.xfail(
        strict=False, reason="measured: 0.981 (1 neuron) vs 0.991 (2); colored-digits' bias mask is the digit itself"),
    ("colored-digits", 0.99): pytest.mark.xfail(
        strict=False, reason="measured: no neuron exclusive to either side at k = 32 (4 under-performing subgroups)"),
    ("texture-digits", 0.99): pytest.mark.xfail(
        strict=False, reason="environment-dependent: 0.885 (3 neurons) vs 0.910 (3) in one environment, 0.878 (4) vs 0.787 (2) in another"),
    # Held in the last two CI runs; the 2026-12-07 full dry run (same versions) measured 0.791 vs
    # 0.894, while the test alone passed there, on that commit and on the session's start: the
    # figure moves between full runs (a few neurons a side), so it is recorded, not claimed.
    ("texture-digits", 0.9): pytest.mark.xfail(
        strict=False, reason="run-dependent: held in two environments; 0.791 vs 0.894 in one full run (passes alone)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name, bias", _cases(CONCEPT_MARKS))
def test_concepts_of_neurons_exclusive_to_under_performing_subgroups_lie_on_the_bias(name, bias):
    r = _audit(name, bias)
    print(f"{name} {bias}: concept patches inside the bias mask: {r['share_under']:.3f} for the "
          f"{r['neurons_under']} neurons exclusive to under-performing subgroups, {r['share_well']:.3f} for the "
          f"{r['neurons_well']} exclusive to their well-performing pairs")
    for side in ("under", "well"):
        assert r[f"neurons_{side}"] > 0, f"{name} {bias}: no neuron is exclusive to {side}-performing subgroups: not checked"
    assert r["share_under"] > r["share_well"], (r["share_under"], r["share_well"])
