"""Fixed costs and bounded memory of the engine's hot paths (issue 17 §2, §3).

- run_inference copies its outputs to the host once per call, not once per batch (on CUDA each
  such copy is a sync that stalls the pipeline); counted here on the CPU with a torch function mode.
- evaluate over a memory-mapped image store grows RAM with N only by its small per-image outputs,
  never by the images (measured in a fresh process: peak anonymous RSS at two sizes).
- channels_last (what the engine uses on CUDA) gives the same results through train, evaluate
  and attribution: forced on here on the CPU, since the CUDA tests skip without a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

import dashwidgets as dw
from dashwidgets.models.inference import run_inference

_HOST_READS = {torch.Tensor.cpu, torch.Tensor.numpy, torch.Tensor.item, torch.Tensor.tolist}


class _CountHostReads(TorchFunctionMode):
    """Counts reads of floating-point tensor values on the host (what forces a device sync)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        t = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if t is not None and t.is_floating_point():
            to_cpu = func is torch.Tensor.to and any(
                (isinstance(a, (str, torch.device)) and torch.device(a).type == "cpu")
                for a in (*args[1:], kwargs.get("device")) if a is not None
            )
            if func in _HOST_READS or to_cpu:
                self.count += 1
        return func(*args, **kwargs)


def _tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))


def test_run_inference_reads_outputs_back_once_per_call_not_per_batch():
    model = _tiny_model()
    images = torch.rand(64, 3, 8, 8)
    targets = torch.randint(0, 10, (64,))

    def host_reads(batch_size: int) -> tuple[int, dict]:
        with _CountHostReads() as mode:
            out = run_inference(model, lambda i: images[i], targets, np.arange(64), torch.device("cpu"),
                                batch_size, layer="0")
        return mode.count, out

    few, a = host_reads(32)  # 2 batches
    many, b = host_reads(4)  # 16 batches
    assert few == many, f"{many} host reads for 16 batches vs {few} for 2: a per-batch copy or sync"
    assert few <= 6  # probs, loss, embedding: .to("cpu") and .numpy() once each
    for k in ("probs", "loss", "embedding"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


_RSS_SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    from pathlib import Path
    import numpy as np, torch
    torch.set_num_threads(1)
    import dashwidgets as dw
    from dashwidgets.datasets.store import write_store
    from torch import nn

    def anon():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024

    folder, sizes = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
    size, growth = 64, {}
    for n in sizes:
        rng = np.random.default_rng(n)
        split = np.array(["train"] * 100 + ["val"] * 100 + ["test"] * (n - 200))
        ds = write_store(f"{folder}/{n}", ((rng.integers(0, 256, (min(1000, n - i), 3, size, size), dtype=np.uint8), {})
                                           for i in range(0, n, 1000)), n, (3, size, size),
                         rng.integers(0, 10, n), split, [str(c) for c in range(10)])
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                              nn.Linear(4, 10))
        eng = dw.Engine(ds, model=model, device="cpu", eval_batch_size=64)
        v = eng.train(epochs=1, batch_size=50, progress=False)
        eng.evaluate(v, split="val")  # warm: first-call allocations are not the per-image cost
        peak, stop = [anon()], threading.Event()
        before = peak[0]

        def sample():
            while not stop.wait(0.002):
                peak[0] = max(peak[0], anon())

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        r = eng.evaluate(v)
        stop.set(); th.join()
        assert len(r.pred) == n and ds.mapped
        growth[n] = max(peak[0], anon()) - before
        del eng, ds, r
    print(json.dumps(growth))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RssAnon from /proc")
def test_evaluate_over_a_memory_mapped_store_does_not_hold_the_images(tmp_path):
    small, large = 1_000, 6_000  # 64 px: 12 KiB per image, 60 MiB more images in the larger store
    # each size in a fresh process; glibc's mmap threshold fixed, so every large block is
    # returned to the system when freed and the resident memory follows what is alive
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    growth = {}
    for n in (small, large):
        proc = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(tmp_path), str(n)],
                              capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        growth.update({int(k): v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()})
    more_images = (large - small) * 3 * 64 * 64
    # evaluate keeps O(N) outputs (probs, loss, embedding, pred: < 100 B per image here), a few
    # percent of the images' bytes; holding the images (a copy of the split) would add all of them
    extra = growth[large] - growth[small]
    assert extra < 0.25 * more_images, (growth, more_images)


def test_channels_last_models_give_the_same_results(small_ds, tmp_path, monkeypatch):
    import dashwidgets.engine.context as context

    monkeypatch.setenv("DASHWIDGETS_CACHE_MB", "0")  # the NHWC engine computes, not reads ref's cached results
    ds = small_ds.subset(np.concatenate([small_ds.indices(s)[:k] for s, k in (("train", 256), ("val", 64), ("test", 64))]))
    ref = dw.Engine(ds, device="cpu", workspace=tmp_path / "ws")
    v = ref.train(epochs=1, progress=False)
    monkeypatch.setattr(context, "channels_last_format", lambda model, device: torch.channels_last)
    eng = dw.Engine.open(tmp_path / "ws", device="cpu")  # the same weights, in NHWC
    assert eng._ctx.memory_format is torch.channels_last
    conv = next(m for m in eng.model(v.id).modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    idx = ds.indices("test")[:16]
    assert eng.inputs(idx).is_contiguous(memory_format=torch.channels_last)
    a, b = ref.evaluate(v), eng.evaluate(v.id)
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)
    np.testing.assert_allclose(a.embedding, b.embedding, rtol=1e-3, atol=1e-4)
    labels = ds.labels[idx]
    ga = ref.attribute(v, idx, "gradcam", target=labels, numpy=True)
    gb = eng.attribute(v.id, idx, "gradcam", target=labels, numpy=True)
    np.testing.assert_allclose(ga, gb, atol=1e-3 * (np.abs(ga).max() + 1e-12))
    assert eng.cache_info()["disk"]["files"] == 0
    w = eng.retrain(v.id, epochs=1, progress=False)  # training runs in NHWC too
    assert all(np.isfinite(h["train_loss"]) for h in w.history)


def test_normalisation_stats_read_in_chunks_match_the_one_array_path(monkeypatch):
    """Above the byte limit the normalisation sample is summed chunk by chunk (bounded memory);
    the statistics agree with the one-array path to float32 precision, and below the limit the
    one-array path is taken exactly as before (the embedded benchmarks' figures rest on it)."""
    from dashwidgets.engine import context

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 3, 16, 16), dtype=np.uint8)
    idx = np.arange(0, 300, 2)
    one = context._channel_stats(images, idx)
    sample = images[idx].astype(np.float32) / 255.0
    assert one[0] == sample.mean(axis=(0, 2, 3)).tolist()  # below the limit: bit for bit the old path
    monkeypatch.setattr(context, "_STATS_BYTES", 7 * 4 * 3 * 16 * 16)  # 7 images per chunk
    chunked = context._channel_stats(images, idx)
    np.testing.assert_allclose(chunked[0], one[0], rtol=1e-5)
    np.testing.assert_allclose(chunked[1], one[1], rtol=1e-4)
