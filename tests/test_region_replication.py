"""Replication of the region classifier's claims (issue 15 §1 (a); De Coninck et al., §3.1-3.4)
on patch-digits (object bias: a coloured shape in a corner) and texture-digits (background bias)
at bias 0.99: a region classifier trained on the bias attribute (``"bias_class"``)

- is calibrated: ECE <= 0.05 over every grid patch of the val split, 100 bins (the paper's
  Figure 2 protocol);
- has pixel maps (Algorithm 1, negative-entropy confidence) that lie on the bias: their relevance
  mass accuracy against ``masks["bias"]`` is above what a map spread evenly would get, the mask's
  share of the image's pixels. The assertion is a one-sided paired Wilcoxon test over the val
  images (p < 1e-3), not a fitted margin.

Settings: 2,000 train / 300 val images, the engine's defaults (8-px patches on a 9 x 9 grid,
batch 256, AdamW 1e-3 with the paper's two learning-rate drops) with ``label_smoothing=0`` (its
default; the paper's 0.1 caps a patch's top probability near 0.91 while the texture patches are
right ~100 % of the time: ECE 0.10 on texture-digits, see ``Engine.region_classifier``), 30
epochs, seed 0, one CPU thread. Each dataset trains once per session.

Measured (2026-12-07, 2-core CPU shared with other work, load 6-9):

| dataset | ECE | RMA vs mask share | val patch accuracy | train + maps + ECE |
|---|---|---|---|---|
| patch-digits | 0.017 | 0.220 vs 0.048 | 0.20 | 146 s |
| texture-digits | 0.032 | 0.804 vs 0.709 | 0.88 | 98 s |

patch-digits' low patch accuracy is its data, not a failure to fit: 3.9 % of the grid's patches
hold at least half of the 7-px shape (0.45 per image hold all of it); the rest see strokes (which
predict the class only through the 99 % aligned digit) or black. Those patches reach 0.50-0.56
accuracy after 30 epochs (the net, trained on them alone, gets 0.999 in 50 steps): with one random
patch per image, ~10 of a batch of 256 carry the shape. 60 epochs reach 0.26 overall.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from scipy.stats import wilcoxon

import dashwidgets as dw

pytestmark = pytest.mark.slow

DATASETS = ("patch-digits", "texture-digits")


@functools.cache
def _region(name: str) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same figures on any CPU count; tiny patches gain nothing from more
    try:
        ds = dw.datasets.load(name, bias=0.99, seed=0, n_train=2000, n_val=300, n_test=10)
        eng = dw.Engine(ds, device="cpu")
        rc = eng.region_classifier("bias_class", epochs=30, batch_size=256, label_smoothing=0.0, seed=0,
                                   progress=False)
        val = ds.indices("val")
        maps = rc.maps(val)
        mask = ds.masks["bias"][val]
        return {"ece": rc.ece("val", bins=100), "rma": dw.metrics.rma(maps, mask),
                "share": mask.reshape(len(val), -1).mean(1), "history": rc.history}
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", DATASETS)
def test_region_classifier_is_calibrated(name):
    r = _region(name)
    assert r["ece"] <= 0.05, f"{name}: ECE {r['ece']:.3f} over all val patches (100 bins)"


@pytest.mark.parametrize("name", DATASETS)
def test_region_maps_lie_on_the_bias(name):
    r = _region(name)
    rma, share = r["rma"], r["share"]
    assert np.isfinite(rma).all()
    p = wilcoxon(rma, share, alternative="greater").pvalue
    assert rma.mean() > share.mean() and p < 1e-3, (
        f"{name}: RMA {rma.mean():.3f} vs the mask's pixel share {share.mean():.3f} (Wilcoxon p {p:.2g})")


# ---------------------------------------------------------------------------------------------
# (b) Mitigation halves the gap (the paper's Table 1). On patch-digits this is asserted by
# notebooks/region-mitigation.ipynb (run by nbval in CI; measured: gap 0.92 -> 0.39, accuracy
# 0.16 -> 0.60, general map with noise at quantile 0.7). On texture-digits it does not hold, and
# this test records that as a strict expected failure: the bias is the background (71 % of the
# pixels), an 8-px patch on the digit still holds texture, so even the top 70-80 % of each map
# greyed out or noised leaves the texture readable. Measured (1,000 train images, 8 epochs, seed 0,
# quantiles 0.2/0.3, busy 2-core CPU): gap 1.00 -> 0.94-0.99 with masks (accuracy 0.10-0.11), 0.31-0.73
# with noise at chance-level accuracy (0.11-0.13); a model trained on unbiased data reaches 0.40.

def _best_mitigation(name: str, quantiles, kinds) -> tuple[dict, dict, int]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds = dw.datasets.load(name, bias=0.99, seed=0, n_train=1000, n_val=200, n_test=600)
        eng = dw.Engine(ds, device="cpu")
        v = eng.train(epochs=8, seed=0, progress=False)
        rc = eng.region_classifier("bias_class", epochs=10, seed=0, progress=False)
        t = eng.mitigation_table(v, rc, quantiles=quantiles, kinds=kinds, epochs=8, progress=False)
    finally:
        torch.set_num_threads(threads)
    mitigated = t.iloc[1:]
    n_conflicting = int((~ds.attributes["aligned"][ds.indices("test")]).sum())
    return t.iloc[0].to_dict(), mitigated.loc[mitigated["accuracy"].idxmax()].to_dict(), n_conflicting


def halves_the_gap_and_learns(biased: dict, best: dict, n_conflicting: int, classes: int = 10) -> tuple[bool, float]:
    """Claim (b) as the notebook checks it: the best mitigation (highest unbiased test accuracy) at
    least halves the biased model's gap AND classifies bias-conflicting images better than chance
    (one-sided binomial test, p < 0.01) — a model that answers at random has no gap either."""
    from scipy.stats import binomtest

    hits = round(best["conflicting_accuracy"] * n_conflicting)
    p = binomtest(hits, n_conflicting, 1 / classes, alternative="greater").pvalue
    return best["gap"] <= biased["gap"] / 2 and p < 0.01, p


@pytest.mark.xfail(strict=True, reason=(
    "texture-digits: masking by region maps cannot remove a background bias that covers 71 % of the image "
    "(measured best: gap 1.00 -> 0.38 only at conflicting accuracy 0.09, chance 0.10); see the comment above"))
def test_best_mitigation_halves_the_gap_on_texture_digits():
    biased, best, n = _best_mitigation("texture-digits", (0.3,), (("general", "mask"), ("specific", "noise")))
    ok, p = halves_the_gap_and_learns(biased, best, n)
    assert ok, (biased, best, p)
