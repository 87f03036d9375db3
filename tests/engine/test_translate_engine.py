"""The cluster-conditioned translator: the generator keeps the object, the engine trains it in a
job (progress, cancel), caches it per (version, k) in memory and in the workspace, and
augment(method="translate") records its provenance. Quality is measured in test_replication."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
import torch

import dashwidgets as dw
from dashwidgets.augment.translate import Generator, _roll, train_translator
from dashwidgets.engine.workspace import WorkspaceWarning
from dashwidgets.runtime.jobs import JobCancelled


@pytest.fixture(scope="module")
def eng_v(small_ds, tmp_path_factory):
    eng = dw.Engine(small_ds, device="cpu", workspace=tmp_path_factory.mktemp("ws"))
    return eng, eng.train(epochs=2, progress=False)


def test_batched_roll_equals_torch_roll_per_image():
    t = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    shifts = torch.tensor([[1, 5], [7, 2]])
    want = torch.stack([torch.roll(t[i], (int(s[0]), int(s[1])), (1, 2)) for i, s in enumerate(shifts)])
    assert torch.equal(_roll(t, shifts), want)


def test_the_generator_keeps_the_object_shape_whatever_its_weights():
    torch.manual_seed(0)
    G = Generator(3, (16, 16))
    for p in G.parameters():  # any weights, not just the identity start
        torch.nn.init.normal_(p, std=0.5)
    x = torch.full((4, 3, 16, 16), -1.0)  # black image ...
    fg = torch.zeros(4, 1, 16, 16)
    fg[:, :, 4:12, 6:10] = 1
    x[:, :, 4:12, 6:10] = 0.6  # ... with a bright object
    x[:, :, 8, 7] = -1.0  # and a black hole inside it
    out = G(x, fg, torch.eye(3)[[0, 1, 2, 0]], torch.zeros(4, 2, dtype=torch.int64))
    # the colour transform is linear in intensity: black inside the object stays black
    assert torch.allclose(out[:, :, 8, 7], torch.full((4, 3), -1.0))
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1


def test_train_translator_checks_its_input_and_stops_when_asked():
    imgs = np.zeros((20, 3, 16, 16), np.uint8)
    fg = np.zeros((20, 16, 16), bool)
    cl = np.arange(20) % 2
    with pytest.raises(ValueError, match="divisible by 8"):
        train_translator(np.zeros((20, 3, 12, 12), np.uint8), np.zeros((20, 12, 12), bool), cl, 2)
    with pytest.raises(ValueError, match="uint8"):
        train_translator(imgs.astype(np.float32), fg, cl, 2)
    with pytest.raises(ValueError, match=r"cluster\(s\) \[2\] have no images"):
        train_translator(imgs, fg, cl, 3)
    stop = threading.Event()
    events = []

    def emit(ev):
        events.append(ev)
        if ev.get("step") == 20:
            stop.set()

    from dashwidgets.runtime.jobs import Cancelled

    with pytest.raises(Cancelled):
        train_translator(imgs, fg, cl, 2, steps=1000, emit=emit, stop=stop)
    assert events[0]["type"] == "start" and events[-1]["step"] == 20


def test_augment_translate_records_provenance_and_reuses_the_translator(eng_v):
    eng, v = eng_v
    cl = eng.cluster(v, k=3)
    src = eng.dataset.indices("train")[:12]  # augmentations are made from training images
    a = eng.augment(src, style=cl[1], method="translate", steps=30, progress=False)
    assert a.images.shape == (12, *eng.dataset.images.shape[1:]) and a.images.dtype == np.uint8
    assert a.method == "translate" and a.style == {"version": v.id, "k": 3, "cluster": 1}
    assert a.params["translator"] == {"version": v.id, "k": 3, "steps": 30, "seed": 0, "foreground": "object"}
    # style_hit: the share of results the style's clustering puts in the style cluster (its
    # quality, with a fully trained translator, is measured in test_replication)
    landed = cl.assign(eng.predict(v, a.images)["embedding"])
    assert a.params["style_hit"] == pytest.approx(np.mean(landed == 1), abs=1e-4)
    assert (a.labels == eng.dataset.labels[src]).all()
    # the object's black holes and the background's black stay black: content by construction
    obj = eng.dataset.masks["object"][src]
    dark = (eng.dataset.images[src].max(axis=1) == 0) & obj
    assert (a.images.transpose(1, 0, 2, 3)[:, dark] == 0).all()
    t = eng.translator(v, k=3, steps=30, progress=False)
    assert eng.translator(v, k=3, steps=30, progress=False) is t  # cached, not retrained
    b = eng.augment(src, style=cl[1], method="translate", steps=30, progress=False)
    assert np.array_equal(a.images, b.images)  # same seed, same translator: same images
    assert any(h.get("event") == "translator" for h in eng.history)


def test_translate_bad_input_gives_clear_errors(eng_v):
    eng, v = eng_v
    src = eng.dataset.indices("train")[:5]
    with pytest.raises(ValueError, match="'translate' needs a style cluster"):
        eng.augment(src, style=None, method="translate")
    with pytest.raises(ValueError, match="empty source selection"):
        eng.augment([], style=eng.cluster(v, k=3)[0], method="translate")
    with pytest.raises(ValueError, match="k must be an integer from 2 to 20"):
        eng.translator(v, k=21)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        eng.translator_async(v, k=3, steps=0)
    other = eng.cluster(v, k=3, selection=eng.dataset.indices("train")[:40])
    with pytest.raises(ValueError, match="train split"):
        eng.augment(src, style=other[0], method="translate", steps=30, progress=False)
    t = eng.translator(v, k=3, steps=30, progress=False)
    with pytest.raises(ValueError, match="target cluster 3 out of range"):
        t(eng.dataset.images[src], eng.dataset.masks["object"][src], 3)
    with pytest.raises(ValueError, match="works on"):
        t(eng.dataset.images[src][:, :, :16], eng.dataset.masks["object"][src][:, :16], 0)


def test_cancelling_the_translator_job_keeps_nothing(eng_v, tmp_path):
    eng, v = eng_v
    job = eng.translator_async(v, k=4, steps=100_000)
    while not any(e["type"] == "step" for e in list(job.events)):
        job.wait(0.05)
    job.cancel()
    assert job.wait(30)
    assert job.status == "cancelled"
    with pytest.raises(JobCancelled):
        job.result()
    assert not any(k.startswith(f"{v.id}-k4-") for k in eng.caches["translators"].keys(v.id))
    assert not list((eng.workspace / "translators").glob(f"{v.id}-k4-*"))
    # a finished job reports progress up to 1 and its result is the cached translator
    job = eng.translator_async(v, k=4, steps=20)
    t = job.result(timeout=120)
    assert job.progress == 1.0 and t is eng.translator(v, k=4, steps=20, progress=False)


def test_translators_survive_a_restart_and_a_corrupted_one_is_retrained(eng_v):
    eng, v = eng_v
    src = eng.dataset.indices("test")[:6]
    t = eng.translator(v, k=3, steps=30, progress=False)
    before = t(eng.dataset.images[src], eng.dataset.masks["object"][src], 2)
    root = eng.workspace
    again = dw.Engine.open(root, device="cpu")
    t2 = again.translator(v.id, k=3, steps=30, progress=False)
    assert t2 is not t and np.array_equal(t2(again.dataset.images[src], again.dataset.masks["object"][src], 2), before)
    pt = root / "translators" / f"{v.id}-k3-s30-r0-object.pt"
    pt.write_bytes(b"not a state dict")
    third = dw.Engine.open(root, device="cpu")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        t3 = third.translator(v.id, k=3, steps=30, progress=False)
    assert any(issubclass(x.category, WorkspaceWarning) and "corrupted translator" in str(x.message) for x in w)
    assert t3.steps == 30  # trained again, and saved again
    assert torch.load(pt, weights_only=True)


def test_discarding_a_version_drops_its_translators(small_ds, tmp_path):
    eng = dw.Engine(small_ds, device="cpu", workspace=tmp_path / "ws")
    v1 = eng.train(epochs=1, progress=False)
    eng.train(epochs=1, progress=False)
    eng.translator(v1, k=2, steps=10, progress=False)
    assert list((tmp_path / "ws" / "translators").glob("v1-*"))
    eng.discard(v1)
    assert not len(eng.caches["translators"]) and not list((tmp_path / "ws" / "translators").glob("v1-*"))


def test_predict_and_assign_match_evaluate_and_the_clustering(eng_v):
    eng, v = eng_v
    cl = eng.cluster(v, k=3)
    ev = eng.evaluate(v)
    idx = cl.indices[:50]
    out = eng.predict(v, eng.dataset.images[idx])
    assert np.array_equal(out["pred"], ev.pred[idx])
    assert np.allclose(out["embedding"], ev.embedding[idx], atol=1e-4)
    assert np.array_equal(cl.assign(out["embedding"]), cl.assignment[:50])
    with pytest.raises(ValueError, match="images must be uint8"):
        eng.predict(v, eng.dataset.images[idx].astype(np.float32))
