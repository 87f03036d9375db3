"""Region classifiers on the engine: training on the train split, maps, calibration, the
workspace copy, and bad input named."""

from __future__ import annotations

import numpy as np
import pytest

import dashwidgets as dw


@pytest.fixture(scope="module")
def colored():
    ds = dw.datasets.load("colored-digits", bias=0.99, seed=0, n_train=400, n_val=60, n_test=60)
    return ds


def test_region_classifier_maps_and_calibration(colored, tmp_path, monkeypatch):
    eng = dw.Engine(colored, device="cpu", workspace=tmp_path / "ws")
    rc = eng.region_classifier("bias_class", epochs=3, progress=False)
    assert rc.patch == 8 and rc.positions == 81 and rc.classes == list(range(10))
    assert [h["epoch"] for h in rc.history] == [1, 2, 3]
    idx = colored.indices("val")[:5]
    regions = rc.region_maps(idx)
    assert regions.shape == (5, 9, 9) and (regions >= 0).all() and (regions <= 1).all()
    maps = rc.maps(idx)
    assert maps.shape == (5, 32, 32) and maps.dtype == np.float32
    assert np.allclose(maps.min((1, 2)), 0) and np.allclose(maps.max((1, 2)), 1)
    e = rc.ece("val", bins=100)
    r = rc.reliability("val", bins=100)
    assert 0 <= e <= 1 and r["count"].sum() == 60 * 81
    fig = rc.plot("val", bins=10)
    assert fig.layout.xaxis2.title.text and fig.layout.yaxis.title.text and len(fig.data) == 3
    assert rc.general_map("train").shape == (32, 32)
    # kept in the workspace: a reopened engine loads it instead of training
    from dashwidgets.engine import regions as service

    monkeypatch.setattr(service, "fit_region", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained again")))
    again = dw.Engine.open(tmp_path / "ws", device="cpu")
    rc2 = again.region_classifier("bias_class", epochs=3, progress=False)
    np.testing.assert_allclose(rc2.region_maps(idx), regions, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"attribute": "hair"}, "unknown attribute 'hair'"),
        ({"patch": 40}, "larger than the image"),
        ({"positions": 50}, "square number"),
        ({"confidence": "max"}, "unknown confidence"),
        ({"epochs": 0}, "epochs"),
        ({"label_smoothing": 1.0}, "label_smoothing must be a number in \\[0, 1\\)"),
        ({"label_smoothing": "0.1"}, "label_smoothing"),
    ],
)
def test_region_classifier_bad_input(colored, kwargs, match):
    eng = dw.Engine(colored, device="cpu")
    with pytest.raises(ValueError, match=match):
        eng.region_classifier_async(**kwargs)


def test_an_attribute_with_one_value_is_refused(colored):
    ds = dw.datasets.from_tensors(colored.images[:50], colored.labels[:50], split=colored.split[:50],
                                  classes=colored.classes, attributes={"same": np.zeros(50, bool)})
    eng = dw.Engine(ds, device="cpu")
    with pytest.raises(ValueError, match="'same' has 1 value"):
        eng.region_classifier("same", progress=False)


def test_region_classifier_job_can_be_cancelled(colored):
    eng = dw.Engine(colored, device="cpu")
    job = eng.region_classifier_async("label", epochs=50)
    job.cancel()
    with pytest.raises(dw.JobCancelled):
        job.result(timeout=120)


def test_label_smoothing_reaches_the_loss_and_the_key(colored):
    """Same seed, other smoothing: other weights (were it ignored, the maps would be equal) and
    another classifier in the cache (it is part of the key, so neither is served for the other)."""
    eng = dw.Engine(colored, device="cpu")
    plain = eng.region_classifier("bias_class", epochs=1, progress=False)
    smooth = eng.region_classifier("bias_class", epochs=1, label_smoothing=0.1, progress=False)
    assert plain.spec["label_smoothing"] == 0.0 and smooth.spec["label_smoothing"] == 0.1
    assert plain.key != smooth.key
    idx = colored.indices("val")[:4]
    assert not np.allclose(plain.region_maps(idx), smooth.region_maps(idx))
    assert 0 <= plain.history[0]["val_accuracy"] <= 1


def test_calibration_reads_the_patches_once_per_split(colored, monkeypatch):
    """ece, reliability and plot share one pass over a split's grid patches (a view asks all three)."""
    from dashwidgets.engine import regions as service

    eng = dw.Engine(colored, device="cpu")
    rc = eng.region_classifier("bias_class", epochs=1, progress=False)
    calls = []
    real = service.grid_logits
    monkeypatch.setattr(service, "grid_logits", lambda *a, **k: calls.append(1) or real(*a, **k))
    e = rc.ece("val", bins=100)
    r = rc.reliability("val", bins=100)
    rc.plot("val", bins=10)
    assert len(calls) == 1
    assert e == pytest.approx(float((r["share"] * (r["accuracy"] - r["confidence"]).abs()).sum()))
    rc.ece("test")
    assert len(calls) == 2  # another split is its own pass
