"""Batched attribution vs a per-image loop of the same method, and batched vs per-image AOPC.

Run ``python benchmarks/attribution.py [--quick] [--device auto|cpu|cuda] [--n 256] [--json OUT]``.

Project rule: a benchmark prints a *ratio* against a baseline measured in the same run (same
machine, model, weights, images, targets); never an absolute pass/fail. Ratios are "higher is
better".

What is measured
----------------
Model: the default SmallCNN trained 1 epoch on ``patch-digits`` (32 px); the speed of an
attribution does not depend on what the weights learned, only that they are the same on both
sides. Inputs ``eng.inputs(idx)`` for N test images (default 256) and their predicted classes
are prepared outside the timers.

``<method>``
    ``dashwidgets.explain.attribute(model, x, t, method, batch_size=N)`` (the engine's core: one
    batched pass over all N images) against ``attribute(model, x[i:i+1], t[i:i+1], method)``
    called once per image: the per-image loop that Quantus-style code and most tutorials run.
    Both sides use the same core, so the ratio is the price of looping, not of a different
    implementation. Ratio = batched img/s / per-image img/s, median of interleaved repetitions
    (the order alternates). Goal for gradcam on CPU: >= 5x.
``aopc``
    ``explain.aopc`` over all N images in batches of 64 against the same call per image
    (batch_size=1), 100 steps of 9x9 patches, Grad-CAM maps computed outside the timer.

On CUDA, timers are read after ``torch.cuda.synchronize``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _timing import timed  # noqa: E402  (benchmarks/, the script's folder)

import dashwidgets as dw  # noqa: E402
from dashwidgets.explain import aopc, attribute  # noqa: E402

GOALS = {"gradcam": 5.0}


def _pair(method, eng, model, x, t, n):
    """(batched, per-image loop) callables for one measure, sharing model, inputs and targets."""
    if method == "aopc":
        maps = attribute(model, x, t, "gradcam", layer=eng.embedding_layer)
        lo, hi = eng._ctx.shift, eng._ctx.shift + 255.0 * eng._ctx.scale  # pixel values 0 and 1

        def batched():
            aopc(model, x, t, maps, 100, 9, lo, hi, batch_size=64)

        def single():
            for i in range(n):
                aopc(model, x[i : i + 1], t[i : i + 1], maps[i : i + 1], 100, 9, lo, hi, batch_size=1)

        return batched, single
    kw = {"layer": eng.embedding_layer} if method in ("gradcam", "scorecam") else {}
    if method in ("ig", "scorecam"):
        kw["baseline"] = eng._ctx.shift.expand(1, *x.shape[1:])  # a black image

    def batched():
        attribute(model, x, t, method, batch_size=n, **kw)

    def single():
        for i in range(n):
            attribute(model, x[i : i + 1], t[i : i + 1], method, batch_size=1, **kw)

    return batched, single


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--n", type=int, default=256, help="images per batch")
    ap.add_argument("--methods", default="gradcam,scorecam,ig,lrp,aopc")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="64 images, 1 repetition")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    n, reps = (64, 1) if args.quick else (args.n, args.reps)

    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=1200, n_val=200, n_test=max(n, 200))
    eng = dw.Engine(ds, device=args.device)
    v = eng.train(epochs=1, progress=False)
    model = eng.model(v)
    idx = ds.indices("test")[:n]
    x = eng.inputs(idx)
    t = torch.from_numpy(eng.evaluate(v).pred[idx]).to(eng.device)
    dev = eng.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    print(f"torch {torch.__version__} | device {dev} ({name}) | threads {torch.get_num_threads()} | N={n} images 32 px")
    print(f"{'measure':10s} {'batched img/s':>14s} {'per-image img/s':>16s} {'ratio':>8s}  goal")
    results = {}
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        batched, single = _pair(method, eng, model, x, t, n)
        batched(), single()  # warm-up (kernels, allocator)
        tb, ts = [], []
        for r in range(reps):
            pair = [(tb, batched), (ts, single)]
            for store, fn in pair if r % 2 == 0 else pair[::-1]:
                store.append(timed(fn, dev)[0])
        b, s = n / statistics.median(tb), n / statistics.median(ts)
        ratio = b / s
        goal = GOALS.get(method) if dev.type == "cpu" else None
        flag = f">= {goal:.0f}x" + ("" if ratio >= goal else "  <- below goal") if goal else ""
        print(f"{method:10s} {b:14.1f} {s:16.1f} {ratio:7.1f}x  {flag}", flush=True)
        results[method] = {"batched_img_s": b, "per_image_img_s": s, "ratio": ratio, "samples": {"batched": tb, "per_image": ts}}
    if args.json:
        args.json.write_text(json.dumps({"device": str(dev), "device_name": name, "n": n, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
