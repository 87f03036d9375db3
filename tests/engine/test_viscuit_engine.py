"""VisCUIT on the engine: UDIS subgroups of a shortcut model on the unbiased test split, and
Summit neuron scores from one hooked pass, checked against a per-image computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import dashwidgets as dw


def test_under_performing_subgroups_expose_the_shortcut(converged):
    eng, v = converged
    ds = eng.dataset
    ev = eng.evaluate(v, "test")
    # k=25 (10 images each): on this fixture k-means finds 9 under-performing subgroups, 6 of them
    # at accuracy 0 (the threshold is half of the test accuracy ~0.16); 97 % of their errors
    # predict the class whose patch the image carries (100 % with the default k=11)
    sg = eng.subgroups(v, k=25, split="test", seed=0)
    t = sg.table
    assert sg.split == "test" and sg.version == v.id and len(t) == 25
    assert t["accuracy"].is_monotonic_increasing
    assert t["size"].sum() == len(ev.indices)
    assert sorted(np.concatenate([sg.members(i) for i in t.index]).tolist()) == ev.indices.tolist()
    under = sg.under
    assert len(under) >= 3
    assert (t.loc[under, "accuracy"] < 0.5 * ev.accuracy).all()
    assert (t.loc[~t["under"], "accuracy"] >= 0.5 * ev.accuracy).all()
    for i in under:
        p = sg.pair(i)
        assert p is not None and not t.loc[p, "under"]
        # the pair is the closest well-performing subgroup by mean embedding
        feats = {j: ev.embedding[np.searchsorted(ev.indices, sg.members(j))].mean(0) for j in t.index}
        d = {j: np.linalg.norm(feats[j] - feats[i]) for j in t.index if not t.loc[j, "under"]}
        assert p == min(d, key=d.get)
        assert sg.confusion(i).sum() == t.loc[i, "size"]
    idx = np.concatenate([sg.members(i) for i in under])
    pos = np.searchsorted(ev.indices, idx)
    wrong = ~ev.correct[pos]
    bias_class = ds.attributes["bias_class"][idx]
    assert wrong.sum() >= 10
    assert (ev.pred[pos][wrong] == bias_class[wrong]).mean() >= 0.7  # measured 0.97
    # bias-aligned images (patch of their own class) are the ones the shortcut gets right: the
    # under-performing subgroups hold fewer of them than the split (measured 0.02 vs 0.10)
    aligned = ds.attributes["aligned"]
    share_under = (t.loc[under, "aligned_share"] * t.loc[under, "size"]).sum() / t.loc[under, "size"].sum()
    assert share_under == pytest.approx(aligned[idx].mean())
    assert share_under < aligned[ev.indices].mean()
    assert set(t["label"]) <= set(ds.classes)
    # cached: the same object for the same arguments
    assert eng.subgroups(v, k=25, split="test", seed=0) is sg
    # the default k (11 for 250 images) and the hierarchical method
    assert eng.subgroups(v).k == 11
    hier = eng.subgroups(v, k=25, method="hierarchical")
    assert hier.method == "hierarchical" and len(hier.under) >= 3  # measured 10, 5 of them at accuracy 0


def _reference_scores(model, eng, layer_modules, idx):
    """Per-image loop, plain Python: what the batched service must equal. The hook copies the
    output: the in-place ReLU (and a ResNet's in-place residual add) would change it afterwards."""
    high = {name: [] for name in layer_modules}
    for i in idx:
        seen = {}
        hs = [m.register_forward_hook(lambda _m, _i, o, n=name, seen=seen: seen.__setitem__(n, o.clone())) for name, m in layer_modules.items()]
        with torch.no_grad():
            model(eng.inputs([i]))
        for h in hs:
            h.remove()
        for name in layer_modules:
            vals = [max(float(seen[name][0, c].max()), 0.0) for c in range(seen[name].shape[1])]
            total, taken, chosen = sum(vals), 0.0, set()
            for c in sorted(range(len(vals)), key=lambda c: -vals[c]):
                if taken > 0.03 * total or vals[c] <= 0:
                    break
                chosen.add(c)
                taken += vals[c]
            high[name].append([c in chosen for c in range(len(vals))])
    return {name: np.mean(np.array(rows), axis=0) for name, rows in high.items()}


def test_neuron_scores_match_a_per_image_computation(converged):
    eng, v = converged
    ds = eng.dataset
    model = eng.model(v)
    convs = dw.models.layers.conv_layers(model)
    # a group across two splits, and one repeated image
    g1 = np.r_[ds.indices("test")[:4], ds.indices("train")[:3]]
    g2 = np.r_[ds.indices("test")[10:14], ds.indices("test")[10]]
    df = eng.neuron_scores(v, {"under": g1, "well": g2})
    assert list(df.columns) == ["layer", "neuron", "under", "well"]
    widths = [dict(model.named_modules())[c].out_channels for c in convs]
    assert len(df) == sum(widths) == 168
    assert df["layer"].drop_duplicates().tolist() == convs
    assert df.groupby("layer", sort=False).size().tolist() == widths
    assert df["under"].between(0, 1).all() and df["well"].between(0, 1).all()
    assert df["under"].sum() > 0 and df["well"].sum() > 0
    from dashwidgets.models.activations import activation_modules

    mods = activation_modules(model, convs)
    for name, group in (("under", g1), ("well", g2)):
        ref = _reference_scores(model, eng, mods, group)
        for layer in convs:
            got = df.loc[df["layer"] == layer, name].to_numpy()
            np.testing.assert_allclose(got, ref[layer], atol=1e-9, err_msg=f"{name} {layer}")
    # a subset of layers; the maxima are cached per split
    sub = eng.neuron_scores(v, {"g": g2}, layers=[convs[-1]])
    assert sub["layer"].unique().tolist() == [convs[-1]] and len(sub) == widths[-1]
    assert {k for k in eng.caches["neuron_maxima"].keys(v.id)} == {"test", "train"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 251}, "more than the 250 images"),
        ({"k": 1}, "at least 2"),
        ({"split": "holdout"}, "unknown split 'holdout'"),
        ({"method": "spectral"}, "unknown clustering method"),
        ({"ratio": 2}, "ratio"),
    ],
)
def test_subgroups_bad_input(converged, kwargs, match):
    eng, v = converged
    with pytest.raises((ValueError, TypeError), match=match):
        eng.subgroups(v, **kwargs)


def test_neuron_scores_bad_input(converged):
    eng, v = converged
    n = len(eng.dataset)
    with pytest.raises(ValueError, match="group 'u' is empty"):
        eng.neuron_scores(v, {"u": []})
    with pytest.raises(ValueError, match=rf"group 'u' has image indices out of range \[0, {n}\)"):
        eng.neuron_scores(v, {"u": [0, n]})
    with pytest.raises(ValueError, match="no layer 'conv9'"):
        eng.neuron_scores(v, {"u": [0]}, layers=["conv9"])
    with pytest.raises(ValueError, match="'features.2' is not a Conv2d layer"):
        eng.neuron_scores(v, {"u": [0]}, layers=["features.2"])
    with pytest.raises(ValueError, match="unknown version|no version"):
        eng.neuron_scores("nope", {"u": [0]})


def test_a_model_without_conv_layers_is_refused(small_ds):
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, small_ds.num_classes))
    torch.manual_seed(0)
    eng = dw.Engine(small_ds, model=model, device="cpu", embedding_layer="0")
    v = eng.train(epochs=1, progress=False)
    with pytest.raises(ValueError, match="Sequential has no Conv2d layer"):
        eng.neuron_scores(v, {"u": [0, 1]})
    assert eng.subgroups(v, k=4).k == 4  # subgroups need no conv layer


def test_resnet18_every_conv_layer_is_scored_after_its_batch_norm(small_ds):
    from torchvision.models import resnet18

    from dashwidgets.models.activations import activation_modules

    sub = small_ds.subset(np.r_[0:120, 600:640, 750:790])
    torch.manual_seed(0)
    eng = dw.Engine(sub, model=resnet18(num_classes=10), device="cpu")
    v = eng.train(epochs=1, batch_size=32, progress=False)
    model = eng.model(v)
    convs = dw.models.layers.conv_layers(model)
    mods = activation_modules(model, convs)
    named = dict(model.named_modules())
    # each conv is read at the BatchNorm registered right after it (downsample.0 -> downsample.1)
    assert mods["conv1"] is named["bn1"] and mods["layer1.0.conv2"] is named["layer1.0.bn2"]
    assert mods["layer2.0.downsample.0"] is named["layer2.0.downsample.1"]
    test = sub.indices("test")
    df = eng.neuron_scores(v, {"a": test[:20], "b": test[20:]})
    assert len(convs) == 20 and len(df) == sum(named[c].out_channels for c in convs) == 4800
    assert df["layer"].drop_duplicates().tolist() == convs
    ref = _reference_scores(model, eng, {c: mods[c] for c in ("conv1", "layer4.1.conv2")}, test[:20])
    for layer, expected in ref.items():
        np.testing.assert_allclose(df.loc[df["layer"] == layer, "a"].to_numpy(), expected, atol=1e-9)


# ---------------------------------------------------------------- concepts
def test_concepts_top_images_are_the_dataset_maxima_and_patches_are_their_squares(converged):
    from dashwidgets.models.activations import activation_modules

    eng, v = converged
    model = eng.model(v)
    layer = dw.models.layers.conv_layers(model)[-1]
    got = {}
    hook = activation_modules(model, [layer])[layer].register_forward_hook(lambda m, a, o: got.setdefault("o", o))
    with torch.no_grad():
        model(eng.inputs(np.arange(len(eng.dataset))))
    hook.remove()
    maxima = got["o"].amax((2, 3))[:, 5].numpy()  # channel 5 of every image, one plain pass
    cc = eng.concepts(v, layer, 5)
    assert cc.layer == layer and cc.neuron == 5
    np.testing.assert_array_equal(cc.images, np.argsort(-maxima, kind="stable")[:10])
    np.testing.assert_allclose(cc.image_activations, maxima[cc.images], rtol=1e-4, atol=1e-5)
    assert cc.patches.shape == (10, 3, 4, 4) and cc.patches.dtype == np.uint8
    assert set(cc.sources.tolist()) <= set(cc.images.tolist())
    for p, s, (y0, x0, y1, x1) in zip(cc.patches, cc.sources, cc.boxes, strict=True):
        assert np.array_equal(p, eng.dataset.images[s, :, y0:y1, x0:x1])
    assert eng.concepts(v, layer, 5) is cc  # cached
    assert eng.concepts_many(v, [(layer, 5), (layer, 6)])[(layer, 5)] is cc
    test = eng.concepts(v, layer, 5, split="test", n_images=3, top=2)
    assert set(test.images.tolist()) <= set(eng.dataset.indices("test").tolist()) and len(test.patches) == 2


@pytest.mark.parametrize(
    "args, match",
    [
        (("features.99", 0), "'features.99' is not a conv layer"),
        (("features.8", 10_000), "out of range for layer 'features.8'"),
        (("features.8", 0, 0), "n_images must be a positive integer"),
    ],
)
def test_concepts_bad_input(converged, args, match):
    eng, v = converged
    with pytest.raises(ValueError, match=match):
        eng.concepts(v, *args)


def test_concepts_of_a_model_without_conv_layers_are_refused(small_ds):
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, small_ds.num_classes))
    eng = dw.Engine(small_ds.subset(np.r_[0:40, 600:610, 750:760]), model=model, device="cpu", embedding_layer="0")
    v = eng.train(epochs=1, progress=False)
    with pytest.raises(ValueError, match="Sequential has no Conv2d layer"):
        eng.concepts(v, "0", 0)


def test_neuron_maxima_persist_in_the_workspace(small_ds, tmp_path, monkeypatch):
    from dashwidgets.engine import viscuit

    sub = small_ds.subset(np.r_[0:60, 600:620, 750:790])
    eng = dw.Engine(sub, device="cpu", workspace=tmp_path / "ws")
    v = eng.train(epochs=1, progress=False)
    test = sub.indices("test")
    scores = eng.neuron_scores(v, {"a": test[:20], "b": test[20:]})
    files = sorted(p.name for p in (tmp_path / "ws" / "viscuit").iterdir())
    assert files == [f"maxima_{v.id}_test.npz"]

    def no_pass(*a, **k):
        raise AssertionError("the hooked pass ran again")

    monkeypatch.setattr(viscuit, "channel_maxima", no_pass)
    again = dw.Engine.open(tmp_path / "ws", device="cpu")
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(again.neuron_scores(v.id, {"a": test[:20], "b": test[20:]}), scores)
    monkeypatch.undo()

    (tmp_path / "ws" / "viscuit" / f"maxima_{v.id}_test.npz").write_bytes(b"not an npz")
    third = dw.Engine.open(tmp_path / "ws", device="cpu")
    pd_testing.assert_frame_equal(third.neuron_scores(v.id, {"a": test[:20], "b": test[20:]}), scores)
    assert any("corrupted neuron maxima" in e for e in third.workspace_errors)

    w = third.train(epochs=1, progress=False)
    third.active = w
    third.discard(v.id)
    assert not (tmp_path / "ws" / "viscuit" / f"maxima_{v.id}_test.npz").exists()


# ---------------------------------------------------------------- neuron clustering
def test_neuron_clustering_job_is_kept_per_version_and_in_the_workspace(small_ds, tmp_path):
    sub = small_ds.subset(np.r_[0:80, 600:620, 750:770])
    eng = dw.Engine(sub, device="cpu", workspace=tmp_path / "ws")
    v = eng.train(epochs=1, progress=False)
    layer = dw.models.layers.conv_layers(eng.model(v))[-1]
    neurons = [(layer, 0), (layer, 1), (layer, 2)]
    with pytest.raises(ValueError, match="threshold must be in"):
        eng.cluster_neurons_async(v, neurons, threshold=1.5)  # refused before a job starts
    with pytest.raises(ValueError, match="out of range"):
        eng.cluster_neurons_async(v, [(layer, 999)])
    assert eng.neuron_clusters(v) is None
    job = eng.cluster_neurons_async(v, neurons, epochs=1, pairs=20, batch_size=16)
    result = job.result(timeout=300)
    assert [(r.layer, r.neuron) for r in result.table.itertuples()] == neurons
    assert job.events[-1]["type"] == "done" and any(e.get("progress") == 1.0 for e in job.events)
    assert eng.neuron_clusters(v) is result
    again = dw.Engine.open(tmp_path / "ws", device="cpu")
    kept = again.neuron_clusters(v.id)
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(kept.table, result.table)
    assert kept.threshold == result.threshold and kept.losses == pytest.approx(result.losses)
    (tmp_path / "ws" / "viscuit" / f"clusters_{v.id}.json").write_text("{broken")
    with pytest.warns(dw.WorkspaceWarning, match="corrupted neuron clusters"):
        third = dw.Engine.open(tmp_path / "ws", device="cpu")
    assert third.neuron_clusters(v.id) is None
    assert any("corrupted neuron clusters" in e for e in third.workspace_errors)
