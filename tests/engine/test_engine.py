"""Engine: construction, inputs, training, versions, evaluation and its cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dashwidgets as dw
from dashwidgets.runtime.device import resolve_device


# ---------------------------------------------------------------- device
def test_auto_device_prefers_cuda_then_mps_then_cpu():
    dev = resolve_device("auto")
    if torch.cuda.is_available():
        assert dev.type == "cuda"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        assert dev.type == "mps"
    else:
        assert dev.type == "cpu"


def test_unavailable_or_unknown_device_is_a_clear_error():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu-please")


# ---------------------------------------------------------------- construction errors
def test_dataset_must_be_an_imageset():
    with pytest.raises(TypeError, match="ImageSet"):
        dw.Engine(np.zeros((4, 3, 8, 8), np.uint8))


class _NoConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_model_without_conv_layer_is_rejected(small_ds):
    with pytest.raises(ValueError, match="no Conv2d layer"):
        dw.Engine(small_ds, model=_NoConv())


def test_model_without_conv_works_when_embedding_layer_is_named(small_ds):
    eng = dw.Engine(small_ds, model=_NoConv(), embedding_layer="fc")
    assert eng.embedding_layer == "fc"


def test_model_with_wrong_class_count_is_rejected(small_ds):
    model = dw.models.SmallCNN(num_classes=5)
    with pytest.raises(ValueError, match="outputs 5 classes but the dataset has 10"):
        dw.Engine(small_ds, model=model)


def test_model_that_fails_on_the_images_is_a_clear_error(small_ds):
    bad = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(10))  # expects 1 channel
    with pytest.raises(ValueError, match=r"failed on a \[2, 3, 32, 32\] input batch"):
        dw.Engine(small_ds, model=bad)


def test_unknown_embedding_layer_lists_conv_layers(small_ds):
    with pytest.raises(ValueError, match="no layer 'nope'.*conv layers are"):
        dw.Engine(small_ds, embedding_layer="nope")


def test_bad_normalize_argument(small_ds):
    with pytest.raises(ValueError, match="normalize"):
        dw.Engine(small_ds, normalize="imagenet")
    with pytest.raises(ValueError, match="positive stds"):
        dw.Engine(small_ds, normalize=((0, 0, 0), (1, 0, 1)))


# ---------------------------------------------------------------- inputs
def test_inputs_are_normalised_images(small_ds):
    eng = dw.Engine(small_ds, device="cpu")
    x = eng.inputs([0, 5, 7])
    assert x.dtype == torch.float32 and x.shape == (3, 3, 32, 32)
    train = small_ds.images[small_ds.indices("train")].astype(np.float64) / 255
    mean = train.mean(axis=(0, 2, 3))
    std = train.std(axis=(0, 2, 3))
    expected = (small_ds.images[[0, 5, 7]] / 255.0 - mean[None, :, None, None]) / std[None, :, None, None]
    np.testing.assert_allclose(x.numpy(), expected, atol=1e-4)


def test_inputs_without_normalisation_are_in_unit_range(small_ds):
    eng = dw.Engine(small_ds, normalize=None)
    np.testing.assert_allclose(eng.inputs([3]).numpy()[0], small_ds.images[3] / 255.0, atol=1e-6)


def test_inputs_reject_out_of_range_indices(small_ds):
    eng = dw.Engine(small_ds)
    with pytest.raises(ValueError, match="out of range"):
        eng.inputs([0, len(small_ds)])


# ---------------------------------------------------------------- training
def test_train_returns_an_immutable_version_with_history(trained):
    eng, v = trained
    assert v.id == "v1" and v.parent is None
    assert v.hparams == {"epochs": 2, "lr": 3e-3, "batch_size": 128, "optimizer": "adam", "weight_decay": 0.0, "seed": 0}
    assert [h["epoch"] for h in v.history] == [1, 2]
    for h in v.history:
        assert h["train_loss"] > 0 and h["val_loss"] > 0 and 0 <= h["val_accuracy"] <= 1
    assert v.history[1]["train_loss"] < v.history[0]["train_loss"]
    assert set(v.metrics) == {"val_accuracy", "test_accuracy"}
    assert v.lineage["dataset"] == eng.dataset.fingerprint() and v.lineage["augmentations"] == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.parent = "v0"
    assert eng.versions == [v]


def test_recorded_metrics_match_evaluate(trained):
    eng, v = trained
    assert v.metrics["val_accuracy"] == pytest.approx(eng.evaluate(v, "val").accuracy)
    assert v.metrics["test_accuracy"] == pytest.approx(eng.evaluate(v, "test").accuracy)
    assert v.history[-1]["val_accuracy"] == pytest.approx(v.metrics["val_accuracy"])


def test_training_is_reproducible_with_a_seed(small_ds):
    a = dw.Engine(small_ds).train(epochs=1, seed=3, progress=False)
    eng_b = dw.Engine(small_ds)
    b = eng_b.train(epochs=1, seed=3, progress=False)
    c = eng_b.train(epochs=1, seed=4, progress=False)
    assert a.history[0]["train_loss"] == pytest.approx(b.history[0]["train_loss"], rel=1e-5)
    assert c.history[0]["train_loss"] != pytest.approx(b.history[0]["train_loss"], rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"lr": -1.0}, "lr must be a positive number"),
        ({"lr": float("nan")}, "lr must be a positive number"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"weight_decay": -0.1}, "weight_decay must be a non-negative"),
        ({"parent": "v99"}, "unknown version 'v99'"),
    ],
)
def test_bad_hyperparameters_are_rejected_before_training(trained, kwargs, match):
    eng, _ = trained
    before = list(eng.versions)
    with pytest.raises(ValueError, match=match):
        eng.train(progress=False, **kwargs)
    with pytest.raises(ValueError, match=match):
        eng.train_async(**kwargs)
    assert eng.versions == before


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_other_optimizers_train(small_ds, optimizer):
    eng = dw.Engine(small_ds)
    v = eng.train(epochs=1, optimizer=optimizer, lr=0.01, weight_decay=1e-4, progress=False)
    assert v.hparams["optimizer"] == optimizer and np.isfinite(v.history[0]["train_loss"])


def test_retrain_starts_from_the_parent_weights(small_ds):
    eng = dw.Engine(small_ds)
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, lr=1e-9, progress=False)  # a no-op step keeps the weights
    assert v2.parent == v1.id and v2.lineage["parent"] == v1.id
    w1, w2 = eng.model(v1).state_dict(), eng.model(v2).state_dict()
    for k in w1:
        if w1[k].is_floating_point() and "running" not in k:
            torch.testing.assert_close(w1[k], w2[k], atol=1e-6, rtol=0)
    fresh = eng.train(epochs=1, progress=False)  # from the initial weights: differs from v1's continuation
    assert fresh.parent is None


def test_model_returns_the_versions_module_in_eval_mode(trained):
    eng, v = trained
    m = eng.model(v)
    assert not m.training
    assert next(m.parameters()).device.type == eng.device.type
    assert m is eng.model(v.id)  # cached
    with torch.inference_mode():
        logits = m(eng.inputs([0, 1, 2]))
    np.testing.assert_array_equal(logits.argmax(1).numpy(), eng.evaluate(v).pred[:3])


def test_unknown_version_names_the_known_ones(trained):
    eng, _ = trained
    with pytest.raises(ValueError, match=r"unknown version 'v42'; versions are \['v1'"):
        eng.evaluate("v42")
    with pytest.raises(TypeError):
        eng.version(3)


# ---------------------------------------------------------------- evaluation
def test_evaluate_matches_a_hand_written_forward_pass(trained):
    eng, v = trained
    r = eng.evaluate(v, split="test")
    idx = eng.dataset.indices("test")
    np.testing.assert_array_equal(r.indices, idx)
    m = eng.model(v)
    feats = []
    handle = dict(m.named_modules())[eng.embedding_layer].register_forward_hook(
        lambda mod, i, o: feats.append(o.mean(dim=(2, 3)))
    )
    try:
        with torch.inference_mode():
            logits = m(eng.inputs(idx))
    finally:
        handle.remove()
    labels = torch.from_numpy(eng.dataset.labels[idx])
    np.testing.assert_array_equal(r.pred, logits.argmax(1).numpy())
    np.testing.assert_allclose(r.probs, torch.softmax(logits, 1).numpy(), atol=1e-5)
    np.testing.assert_allclose(r.loss, F.cross_entropy(logits, labels, reduction="none").numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(r.embedding, feats[0].numpy(), rtol=1e-4, atol=1e-5)
    assert r.accuracy == pytest.approx((r.pred == eng.dataset.labels[idx]).mean())
    np.testing.assert_array_equal(r.correct, r.pred == eng.dataset.labels[idx])
    assert r.embedding.shape == (len(idx), 96) and r.probs.shape == (len(idx), 10)


def test_evaluate_is_cached_and_splits_slice_the_full_pass(trained):
    eng, v = trained
    r_test = eng.evaluate(v, "test")
    assert eng.evaluate(v, "test") is r_test
    full = eng.evaluate(v)
    assert len(full) == len(eng.dataset)
    val = eng.evaluate(v, "val")
    rows = eng.dataset.indices("val")
    np.testing.assert_allclose(val.probs, full.probs[rows], atol=1e-6)
    np.testing.assert_array_equal(val.indices, rows)


def test_evaluate_other_layer_and_bad_arguments(trained):
    eng, v = trained
    r = eng.evaluate(v, "val", layer="features.0")
    assert r.embedding.shape[1] == 24 and r.layer == "features.0"
    with pytest.raises(ValueError, match="unknown split"):
        eng.evaluate(v, "holdout")
    with pytest.raises(ValueError, match="no layer 'fc9'"):
        eng.evaluate(v, layer="fc9")


def test_eval_result_tables(trained):
    eng, v = trained
    r = eng.evaluate(v, "test")
    df = r.to_frame(eng.classes)
    assert list(df.index[:3]) == list(r.indices[:3])
    assert {"label", "pred", "confidence", "loss", "correct", "label_name", "pred_name"} <= set(df.columns)
    np.testing.assert_allclose(df["confidence"].to_numpy(), r.probs.max(1), atol=1e-6)
    pc = r.per_class_accuracy(eng.classes)
    c3 = r.labels == 3
    assert pc["3"] == pytest.approx(r.correct[c3].mean())


def test_audit_tables_match_the_evaluation(trained):
    eng, v = trained
    a = eng.audit(v)
    t = eng.evaluate(v, "test")
    aligned = eng.dataset.attributes["aligned"][t.indices]
    assert a.splits.loc["test", "accuracy"] == pytest.approx(t.accuracy)
    assert a.splits.loc["test", "aligned_accuracy"] == pytest.approx(t.correct[aligned].mean())
    assert a.splits.loc["test", "conflicting_accuracy"] == pytest.approx(t.correct[~aligned].mean())
    assert a.splits.loc["test", "n_aligned"] == aligned.sum()
    assert a.gap == pytest.approx(100 * (eng.evaluate(v, "val").accuracy - t.accuracy))
    text = a.to_text()
    assert "Audit of version v1" in text and "Per-class accuracy" in text and "val − test" in text


# ---------------------------------------------------------------- discard and history
def test_discard_forgets_the_version_and_records_it(small_ds):
    eng = dw.Engine(small_ds)
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.train(epochs=1, progress=False)
    eng.evaluate(v1)
    eng.discard(v1)
    assert eng.versions == [v2]
    with pytest.raises(ValueError, match="unknown version 'v1'"):
        eng.evaluate(v1)
    v3 = eng.train(epochs=1, progress=False)
    assert v3.id == "v3"  # ids are never reused
    assert [h["event"] for h in eng.history] == ["train", "train", "discard", "train"]
    assert eng.history[2]["version"] == "v1"


# ---------------------------------------------------------------- any nn.Module
def test_torchvision_resnet18_is_accepted(small_ds):
    from torchvision.models import resnet18

    sub = small_ds.subset(np.r_[0:120, 600:640, 750:790])
    eng = dw.Engine(sub, model=resnet18(num_classes=10))
    assert eng.embedding_layer == "layer4.1.conv2"
    v = eng.train(epochs=1, batch_size=32, progress=False)
    r = eng.evaluate(v, "test")
    assert r.embedding.shape == (40, 512)
    assert np.isfinite(r.loss).all()
    eng_named = dw.Engine(sub, model=resnet18(num_classes=10), embedding_layer="layer3")
    v2 = eng_named.train(epochs=1, batch_size=32, progress=False)
    assert eng_named.evaluate(v2, "val").embedding.shape == (40, 256)


def test_training_leaves_the_callers_random_state_alone(small_ds):
    eng = dw.Engine(small_ds)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    eng.train(epochs=1, seed=5, progress=False)
    torch.testing.assert_close(torch.rand(3), expected)


def test_trained_from_scratch_finds_the_latest_matching_root_version(small_ds):
    eng = dw.Engine(small_ds)
    assert eng.trained_from_scratch(epochs=1) is None
    v1 = eng.train(epochs=1, progress=False)
    eng.retrain(v1, epochs=1, progress=False)  # has a parent: never returned
    v3 = eng.train(epochs=1, progress=False)
    assert eng.trained_from_scratch(epochs=1, seed=0) == v3
    assert eng.trained_from_scratch(epochs=2) is None
