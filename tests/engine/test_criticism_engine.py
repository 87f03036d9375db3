"""Model criticism on the engine: a shortcut model's adversarial criticisms are its bias-conflicting
images and its prototypes the aligned ones (Stock & Cisse §3.4), the step counts are cached and
kept in the workspace, and bad arguments are refused by name."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

import dashwidgets as dw
from dashwidgets.engine import criticism as criticism_service


def test_adversarial_criticisms_are_enriched_in_bias_conflicting_images(converged):
    eng, v = converged
    ds = eng.dataset
    cr = eng.criticize(v, split="test")  # the paper's IFGSM: step 1e-3 in pixel units, M = 10
    ev = eng.evaluate(v, "test")
    assert cr.indices.tolist() == ev.indices.tolist() and cr.version == v.id
    assert cr.steps.min() >= 0 and cr.steps.max() <= 11
    # 0 exactly for the images the model gets wrong (both passes run float32 on the CPU)
    np.testing.assert_array_equal(cr.steps == 0, ~ev.correct)
    aligned = ds.attributes["aligned"][cr.indices]
    # the mechanism: among correct images, the patch's own class (aligned) holds against the attack
    # longer than the digit alone (conflicting). Measured: 22 of 24 aligned survive all 10 steps,
    # 2 of 16 conflicting do
    correct = ev.correct
    assert mannwhitneyu(cr.steps[correct & aligned], cr.steps[correct & ~aligned], alternative="greater").pvalue < 0.01
    e = cr.enrichment("aligned", method="adv").set_index(["value", "class"])
    row = e.loc[(False, "all")]
    # measured: 4 criticisms, all conflicting; 24 prototypes, 2 conflicting: odds ratio inf, p 0.0007
    assert row.n_criticisms >= 2 and row.n_prototypes >= 10
    assert row.share_criticisms > row.share_prototypes and row.odds_ratio > 1
    assert row.p_value < 0.05
    # the adversarial selection beats MMD-critic on that enrichment (MMD-critic measured 0.94, p 1.0)
    mmd = cr.enrichment("aligned", method="mmd").set_index(["value", "class"]).loc[(False, "all")]
    assert row.odds_ratio > mmd.odds_ratio
    # per-class lists: dataset indices of the class, prototypes never misclassified
    for c in range(ds.num_classes):
        try:
            protos, crits = cr.prototypes(c), cr.criticisms(c)
        except ValueError as err:  # a class the shortcut model never gets right
            assert f"class {ds.classes[c]!r} has no correctly classified images" in str(err)
            assert not ev.correct[ev.labels == c].any()
            continue
        pos = np.searchsorted(ev.indices, protos)
        assert (ev.labels[pos] == c).all() and ev.correct[pos].all()
        assert (cr.steps[pos] == 11).all()
        assert (cr.steps[np.searchsorted(ev.indices, crits)] == 1).all()
        assert np.all(np.diff(ev.probs[pos, c]) <= 0)  # most confident first
    # cached per arguments; another method list reuses the attack's step counts
    assert eng.criticize(v, split="test") is cr
    only = eng.criticize(v, split="test", methods="adv")
    assert only is not cr and only.steps is not None and np.array_equal(only.steps, cr.steps)


@pytest.fixture(scope="module")
def ws_engine(tmp_path_factory, small_ds):
    root = tmp_path_factory.mktemp("crit_ws")
    eng = dw.Engine(small_ds, device="cpu", workspace=root)
    v = eng.train(epochs=1, progress=False)
    return eng, v, root


def test_step_counts_survive_a_reopen_and_go_with_the_version(ws_engine, monkeypatch):
    eng, v, root = ws_engine
    cr = eng.criticize(v, split="test", sample=40, seed=3, methods=("adv", "prob"))
    test_idx = eng.dataset.indices("test")
    assert len(cr.indices) == 40 and set(cr.indices) <= set(test_idx.tolist())
    assert np.all(np.diff(cr.indices) > 0)
    files = list((root / "criticism").glob(f"steps_{v.id}_*.npy"))
    assert len(files) == 1

    def no_attack(*args, **kwargs):
        raise AssertionError("the step counts should come from the workspace")

    monkeypatch.setattr("dashwidgets.engine.criticism.ifgsm_steps", no_attack)
    again = dw.Engine.open(root, device="cpu").criticize(v.id, split="test", sample=40, seed=3, methods=("adv", "prob"))
    np.testing.assert_array_equal(again.steps, cr.steps)
    np.testing.assert_array_equal(again.indices, cr.indices)
    with pytest.raises(AssertionError, match="workspace"):  # other arguments attack again
        eng.criticize(v, split="test", sample=40, seed=4, methods="adv")
    monkeypatch.undo()
    v2 = eng.train(epochs=1, progress=False)
    eng.criticize(v2, split="test", sample=10, methods="adv")
    eng.discard(v)
    assert not list((root / "criticism").glob(f"steps_{v.id}_*.npy"))
    assert len(list((root / "criticism").glob(f"steps_{v2.id}_*.npy"))) == 1


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"split": "holdout"}, ValueError, "unknown split 'holdout'"),
        ({"steps": 0}, ValueError, "steps must be a positive integer"),
        ({"steps": 2.5}, TypeError, "steps must be an integer"),
        ({"step_size": 0.0}, ValueError, "step_size must be a positive number"),
        ({"step_size": float("nan")}, ValueError, "step_size must be a positive number"),
        ({"methods": ("adv", "lime")}, ValueError, "unknown criticism methods"),
        ({"n": 0}, ValueError, "n must be a positive integer"),
        ({"sample": 0}, ValueError, "sample must be a positive integer"),
        ({"seed": "a"}, TypeError, "seed must be an integer"),
    ],
)
def test_bad_arguments_are_refused_by_name(ws_engine, kwargs, error, match):
    eng, _, _ = ws_engine
    with pytest.raises(error, match=match):
        eng.criticize(eng.versions[-1], **kwargs)


def test_an_empty_split_is_refused_and_the_async_call_reports_progress_and_cancels(monkeypatch):
    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=60, n_val=0, n_test=40)
    eng = dw.Engine(ds, device="cpu", eval_batch_size=8)  # the attack runs 4 images per batch
    v = eng.train(epochs=1, progress=False)
    with pytest.raises(ValueError, match="split 'val' has no images"):
        eng.criticize(v, split="val")
    with pytest.raises(ValueError, match="step_size"):  # bad arguments raise before the job starts
        eng.criticize_async(v, step_size=-1.0)
    job = eng.criticize_async(v, methods="adv")
    cr = job.result(timeout=300)
    steps = [e for e in job.events if e["type"] == "step"]
    assert [e["done"] for e in steps] == list(range(4, 41, 4)) and steps[-1]["progress"] == 1.0
    assert cr is eng.criticize(v, methods="adv")  # the job's result is what the cache holds

    gate, attack = threading.Event(), criticism_service.ifgsm_steps

    def gated(*args, progress, **kwargs):  # the first batch waits until the listener is in place
        return attack(*args, progress=lambda k: (gate.wait(60), progress(k)), **kwargs)

    monkeypatch.setattr(criticism_service, "ifgsm_steps", gated)
    job = eng.criticize_async(v, methods="adv", sample=30)
    job.on_event(lambda e: job.cancel() if e["type"] == "step" else None)
    gate.set()
    with pytest.raises(dw.JobCancelled):
        job.result(timeout=300)
    assert len([e for e in job.events if e["type"] == "step"]) == 1
    assert not [k for k in eng.caches["criticism_steps"].keys(v.id) if k[3] == 30]  # nothing kept


# Issue 15 evidence (c): on each benchmark at bias 0.99 (2,000 train images, 8 epochs, 600 unbiased
# test images), the adversarial selection shows the shortcut and MMD-critic does not.
_TEXTURE_SHORTCUT = (
    "texture-digits at bias 0.99 is a pure shortcut: every conflicting test image is misclassified "
    "(measured on a 2-core CPU: 0 of 528 correct, all at step 0), so no correctly classified conflicting "
    "image is left to flip after one step: 72 prototypes (all aligned), 0 criticisms, odds ratio undefined. "
    "The same for data and train seeds 1 and 2, for 2, 4 and 8 epochs, and for 6,000 train images (2 epochs). "
    "Only an under-trained 1-epoch model (val 0.62-0.72) keeps 19-26 conflicting images correct; it gives "
    "3-5 criticisms, mostly conflicting (odds ratio inf / 2.9 / 16.7, Fisher p 0.0009 / 0.42 / 0.015 for "
    "seeds 0 / 1 / 2): too few and too unstable for the 10 criticisms and p < 0.01 asked"
)


@pytest.fixture(scope="module")
def replication(request):
    """(dataset, Criticism) of a version trained 8 epochs on ``request.param`` at bias 0.99."""
    ds = dw.datasets.load(request.param, bias=0.99, seed=0, n_train=2000, n_val=300, n_test=600)
    eng = dw.Engine(ds, device="cpu")
    v = eng.train(epochs=8, progress=False)
    return ds, eng.criticize(v, split="test")


@pytest.mark.slow
@pytest.mark.parametrize("replication", ["patch-digits", "texture-digits"], indirect=True)
def test_replication_adversarial_prototypes_are_the_aligned_images(replication):
    """The bias holds against the attack: aligned images take more IFGSM steps than conflicting ones
    (misclassified at 0 included), and the adversarial prototypes are enriched in aligned images
    against the images examined (the paper's basketball prototypes: 78 % vs 53 %), more than
    MMD-critic's. Measured on a 2-core CPU (1 or 2 threads): patch-digits 54-56 of 55-56 prototypes
    aligned (MMD-critic's 10 of 100; 59 of the 600 test images are aligned), texture-digits 72 of 72
    (MMD-critic's 11-12 of 100; 72 of 600)."""
    from scipy.stats import fisher_exact

    ds, cr = replication
    aligned = cr.attributes["aligned"]
    assert np.array_equal(aligned, ds.attributes["aligned"][cr.indices])
    assert mannwhitneyu(cr.steps[aligned], cr.steps[~aligned], alternative="greater").pvalue < 0.01
    shares = {}
    for m in ("adv", "mmd"):
        proto = (cr.table[f"role_{m}"] == "prototype").to_numpy()
        assert proto.sum() >= 10
        shares[m] = aligned[proto].mean()
        if m == "adv":
            table = [[(aligned & proto).sum(), (~aligned & proto).sum()], [(aligned & ~proto).sum(), (~aligned & ~proto).sum()]]
            assert fisher_exact(table, alternative="greater")[1] < 0.01
    assert shares["adv"] > aligned.mean() and shares["adv"] > shares["mmd"]


@pytest.mark.slow
@pytest.mark.parametrize("replication", [
    "patch-digits",
    pytest.param("texture-digits", marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=_TEXTURE_SHORTCUT)),
], indirect=True)
def test_replication_criticisms_are_conflicting_prototypes_aligned(replication):
    """Criticisms (flip after one step) are enriched in bias-conflicting images against prototypes
    (survive all 10). Measured on patch-digits, 2-core CPU: 55 prototypes (1 conflicting), 34
    criticisms (all conflicting): odds ratio inf, Fisher p 8e-24 (one thread: 56 and 39, all as
    expected, p 1e-27); MMD-critic's odds ratio 1.0 (p 1)."""
    _, cr = replication
    adv = cr.enrichment("aligned", "adv").set_index(["value", "class"]).loc[(False, "all")]
    mmd = cr.enrichment("aligned", "mmd").set_index(["value", "class"]).loc[(False, "all")]
    assert adv.n_criticisms >= 10 and adv.n_prototypes >= 10
    assert adv.odds_ratio >= 2 and adv.p_value < 0.01
    assert adv.odds_ratio > mmd.odds_ratio
