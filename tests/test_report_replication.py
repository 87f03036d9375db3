"""Issue 16 §3's claim for ``Engine.report``: on each embedded benchmark at bias 0.99 the top
finding names the planted bias (colour / background texture / patch), and at bias 0 no finding
passes its significance threshold.

Seeds 7 (data, initial weights, training, report) are not used by the unit tests (which use 0).
3,000 / 500 / 1,000 images, the default model, one thread. Each model is trained until it has
learned its training split: the biased ones with the engine's defaults (6 epochs, lr 3e-3; val
>= 0.99), the unbiased ones 12 epochs at lr 1e-3. With the defaults an unbiased model may not
learn every digit (measured, seed 7: texture-digits at 6 epochs never predicted a 9; colored-digits
at 12 epochs got 2s right 11 % of the time): a UDIS subgroup of such a class is then a real,
significant finding, of an under-trained model rather than of a bias. The precondition says so.
The report's own seed, sample and thresholds are the same for every model.
"""

from __future__ import annotations

import functools

import pytest
import torch

import dashwidgets as dw

SEED = 7
PLANTED = {"colored-digits": "colour", "texture-digits": "background", "patch-digits": "patch"}


@functools.cache
def _report(name: str, bias: float):
    torch.set_num_threads(1)
    ds = dw.datasets.load(name, bias=bias, seed=SEED, n_train=3000, n_val=500, n_test=1000)
    eng = dw.Engine(ds, device="cpu", seed=SEED)
    hp = {"epochs": 6} if bias > 0 else {"epochs": 12, "lr": 1e-3}
    v = eng.train(seed=SEED, progress=False, **hp)
    return v, eng.report(v, sample=400, seed=SEED, progress=False), eng.evaluate(v, "test")


def _figures(rep) -> str:
    return "; ".join(f"{f.kind} {100 * f.effect:+.1f} pts p={f.p_value:.2g}" for f in rep.findings)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PLANTED))
def test_top_finding_names_the_planted_bias(name):
    v, rep, _ = _report(name, 0.99)
    print(name, 0.99, v.metrics, _figures(rep))
    assert v.metrics["val_accuracy"] >= 0.9, "precondition: the model fits the biased split"
    assert rep.top is not None, _figures(rep)
    assert rep.top.kind == PLANTED[name], _figures(rep)
    # the other two cues are not what this model reads
    for f in rep.findings:
        if f.kind in PLANTED.values() and f.kind != PLANTED[name]:
            assert not f.significant, _figures(rep)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PLANTED))
def test_no_finding_is_significant_without_bias(name):
    v, rep, ev = _report(name, 0.0)
    print(name, 0.0, v.metrics, _figures(rep))
    per_class = ev.per_class_accuracy([str(i) for i in range(10)])
    assert (per_class >= 0.3).all(), (  # three times chance: the model learned every digit
        f"precondition: every digit learned: {per_class.round(2).tolist()}")
    assert rep.top is None, _figures(rep)
    assert not rep.significant
