"""The CUDA path: the same engine calls on a GPU give what they give on the CPU.

Runs only where a CUDA device exists (reported as skipped elsewhere, never as passed). Each test
trains on the GPU (autocast, GPU-resident images), then compares with the CPU on the *same
weights*.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dashwidgets as dw

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def gpu_cpu(small_ds, tmp_path_factory):
    ws = tmp_path_factory.mktemp("cuda-ws")
    # no disk cache (its cap is read when an engine opens): the device is recorded in an entry,
    # not keyed, so the CPU engine would read the GPU's evaluations instead of computing its own
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DASHWIDGETS_CACHE_MB", "0")
        gpu = dw.Engine(small_ds, device="auto", workspace=ws)
        assert gpu.device.type == "cuda"
        v = gpu.train(epochs=2, progress=False)
        cpu = dw.Engine.open(ws, device="cpu")  # the same weights, read back on the CPU
    return gpu, cpu, v, ws


def test_training_on_the_gpu_learns_like_the_cpu_and_round_trips(gpu_cpu, small_ds):
    gpu, cpu, v, _ = gpu_cpu
    # the same seed trained on the CPU (float32) reaches about the same accuracy as bf16 autocast
    on_cpu = dw.Engine(small_ds, device="cpu").train(epochs=2, progress=False)
    assert abs(v.metrics["val_accuracy"] - on_cpu.metrics["val_accuracy"]) < 0.08
    assert v.metrics["val_accuracy"] > 0.2  # well above chance (0.1)
    assert cpu.versions[-1].id == v.id
    g, c = gpu.evaluate(v), cpu.evaluate(v)
    # autocast (bf16) on the GPU vs float32 on the CPU: predictions agree almost everywhere
    assert (g.pred == c.pred).mean() > 0.97
    np.testing.assert_allclose(g.probs, c.probs, atol=0.05)


@pytest.mark.parametrize("method", ["gradcam", "scorecam", "ig", "lrp"])
def test_attribution_on_the_gpu_matches_the_cpu(gpu_cpu, method):
    gpu, cpu, v, _ = gpu_cpu
    idx = gpu.dataset.indices("test")[:32]
    labels = gpu.dataset.labels[idx]
    a = gpu.attribute(v, idx, method, target=labels)
    assert a.device.type == "cuda" and a.dtype == torch.float32
    b = cpu.attribute(v, idx, method, target=labels, numpy=True)
    a = a.cpu().numpy()
    # compare maps scaled to their own range (tf32 / reduced-precision kernels differ slightly)
    scale = np.abs(b).reshape(len(b), -1).max(axis=1)[:, None, None] + 1e-12
    assert np.abs(a / scale - b / scale).max() < 0.05, method
    np.testing.assert_allclose(dw.metrics.rma(a, gpu.dataset.masks["bias"][idx]),
                               dw.metrics.rma(b, cpu.dataset.masks["bias"][idx]), atol=0.02)


def test_aopc_and_bias_report_on_the_gpu(gpu_cpu):
    gpu, cpu, v, _ = gpu_cpu
    idx = gpu.dataset.indices("test")[:40]
    g = gpu.aopc(v, idx, "gradcam", steps=20)
    c = cpu.aopc(v, idx, "gradcam", steps=20)
    assert np.isfinite(g.scores).all() and abs(g.mean - c.mean) < 0.05
    rep = gpu.bias_report(v, v, idx=idx, method=["gradcam", "lrp"])
    assert (rep.table["biased_mean"] == rep.table["reference_mean"]).all()  # same model both sides


def test_cluster_augment_and_retrain_on_the_gpu(gpu_cpu):
    gpu, _, v, _ = gpu_cpu
    cl = gpu.cluster(v, k=4)
    src = gpu.dataset.indices("train")[:64]
    augs = [
        gpu.augment(src, style=cl[1], method="color"),
        gpu.augment(src, style=cl[2], method="background"),
        gpu.augment(src, method="noise", version=v),  # attribution regions computed on the GPU
    ]
    v2 = gpu.retrain(v, epochs=1, augmentations=augs, progress=False)
    assert v2.lineage["augmented_images"] == 3 * 64
    cmp = gpu.compare(v, v2)
    assert cmp.confusion_b.sum() == len(gpu.dataset.indices("test"))
    assert gpu.trace([v, v2]).correct.shape[1] == 2


def test_translator_trains_on_the_gpu_and_keeps_the_object(gpu_cpu):
    gpu, cpu, v, _ = gpu_cpu
    cl = gpu.cluster(v, k=4)
    t = gpu.translator(v, k=4, steps=200, progress=False)
    assert next(t.generator.parameters()).device.type == "cuda"
    idx = gpu.dataset.indices("test")[:64]
    out = t(gpu.dataset.images[idx], gpu.dataset.masks["object"][idx], 2)
    assert out.shape == gpu.dataset.images[idx].shape and out.dtype == np.uint8
    dark = (gpu.dataset.images[idx].max(axis=1) == 0) & gpu.dataset.masks["object"][idx]
    assert (out.transpose(1, 0, 2, 3)[:, dark] == 0).all()
    # the same generator read back on the CPU translates the same way (float32 both sides)
    t_cpu = cpu.translator(v.id, k=4, steps=200, progress=False)
    assert t_cpu is not t and len(cpu.caches["translators"])  # loaded from the workspace, not retrained
    diff = np.abs(t_cpu(cpu.dataset.images[idx], cpu.dataset.masks["object"][idx], 2).astype(int) - out.astype(int))
    assert np.mean(diff <= 2) > 0.999, diff.max()
    aug = gpu.augment(idx, style=cl[2], method="translate", steps=200, progress=False)
    assert aug.method == "translate"
    # style_hit is the share of results the style's clustering puts in the style cluster
    landed = cl.assign(gpu.predict(v, aug.images)["embedding"])
    assert aug.params["style_hit"] == pytest.approx(np.mean(landed == 2), abs=1e-4)


def test_conv_models_run_channels_last_on_the_gpu(gpu_cpu):
    gpu, _, v, _ = gpu_cpu
    assert gpu._ctx.memory_format is torch.channels_last
    conv = next(m for m in gpu.model(v).modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = gpu.inputs(gpu.dataset.indices("test")[:8])
    assert x.device.type == "cuda" and x.is_contiguous(memory_format=torch.channels_last)


def test_host_resident_and_memory_mapped_images_evaluate_like_gpu_resident_ones(gpu_cpu, tmp_path, monkeypatch):
    """The paths a set too large for the GPU takes: batches gathered on the host, pinned, copied
    non_blocking (in RAM, or read from an image store), with the indices in pinned memory."""
    import dashwidgets.engine.context as context

    gpu, _, v, ws = gpu_cpu
    ref = gpu.evaluate(v)
    monkeypatch.setattr(context, "_GPU_RESIDENT_BYTES", 0)
    host = dw.Engine.open(ws, device="cuda")
    assert host._ctx.images.device.type == "cpu"
    mapped = dw.Engine(dw.datasets.to_store(gpu.dataset, tmp_path / "store"), device="cuda")
    r = host.evaluate(v.id)
    np.testing.assert_allclose(r.probs, ref.probs, atol=1e-5)
    np.testing.assert_allclose(r.embedding, ref.embedding, rtol=1e-4, atol=1e-5)
    # training and evaluating from the store on the GPU (batches read from disk, pinned, async)
    w = mapped.train(epochs=2, progress=False)
    assert mapped.evaluate(w, split="test").accuracy == pytest.approx(w.metrics["test_accuracy"])
    assert w.metrics["val_accuracy"] == pytest.approx(v.metrics["val_accuracy"], abs=0.08)


def test_training_reads_losses_without_waiting_on_the_gpu(small_ds):
    eng = dw.Engine(small_ds, device="cuda")
    job = eng.train_async(epochs=6)  # 5 batches per epoch: 3 reads of a loss
    job.result()
    events = [e for e in job.events if e["type"] == "batch"]
    with_loss = [e["loss"] for e in events if "loss" in e]
    # every 10th batch's loss, each read one read later: all but the first read give a value
    assert len(with_loss) == len(events) // 10 - 1
    assert len(with_loss) == 2 and all(np.isfinite(with_loss)) and min(with_loss) > 0


def test_compiled_engine_on_the_gpu_matches_eager_and_saves_plain_weights(small_ds, tmp_path, monkeypatch):
    """Engine(compile=True) on CUDA (inductor/Triton): a compiled training run saves plain weights
    (no ``_orig_mod.`` keys) that an engine without compile loads, and compiled evaluation
    (padded last batch) gives what eager evaluation gives on the same weights."""
    monkeypatch.setenv("DASHWIDGETS_CACHE_MB", "0")  # each engine computes; none reads the other's cache
    ws = tmp_path / "ws"
    comp = dw.Engine(small_ds, device="cuda", compile=True, eval_batch_size=128, workspace=ws)
    assert comp.compile is True
    v = comp.train(epochs=1, progress=False)
    assert v.metrics["val_accuracy"] > 0.2  # it learned (chance is 0.1)
    assert not any("_orig_mod" in k for k in comp.model(v).state_dict())
    plain = dw.Engine.open(ws, device="cuda", eval_batch_size=128)
    assert plain.compile is False
    for split in ("val", None):  # 150 val images: a short second batch, padded inside
        a, b = comp.evaluate(v, split=split), plain.evaluate(v, split=split)
        assert plain.cache_info()["disk"]["files"] == 0
        assert len(a.pred) == len(small_ds.indices(split))
        # both run under the same autocast; compiled kernels may fuse differently (bf16 rounding)
        assert (a.pred == b.pred).mean() > 0.98
        np.testing.assert_allclose(a.probs, b.probs, atol=0.03)
