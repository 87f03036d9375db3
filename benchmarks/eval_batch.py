"""Inference throughput against batch size on the CPU: what eval_batch_size="auto" is based on.

Run ``python benchmarks/eval_batch.py [--sizes 32,64,128] [--batches 16,32,64,128,256,512]``.
``run_inference`` of the default SmallCNN (with the embedding layer hooked, as ``evaluate``
does) over scene-digits (2,048 images at 32 px, 1,024 at 64, 512 at 128; fewer with --quick),
best of 3 per batch size, one thread (a 2-core machine shared with others). Prints img/s and the
ratio against batch 512 (the old fixed default) per size, and the batch "auto" resolves to.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import dashwidgets as dw
from dashwidgets.engine.context import resolve_eval_batch_size
from dashwidgets.models.inference import run_inference


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="32,64,128")
    ap.add_argument("--batches", default="16,32,64,128,256,512")
    ap.add_argument("--quick", action="store_true", help="a quarter of the images, best of 1")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    reps = 1 if args.quick else 3
    for size in [int(s) for s in args.sizes.split(",")]:
        n = max(64, (2048 * 32 // size) // (4 if args.quick else 1))
        ds = dw.datasets.load("scene-digits", size=size, n_train=n, n_val=0, n_test=0, seed=0)
        eng = dw.Engine(ds, device="cpu", eval_batch_size=64)
        ctx, idx = eng._ctx, np.arange(len(ds))
        ips = {}
        for bs in [int(b) for b in args.batches.split(",")]:
            best = min(_timed(ctx, idx, bs, eng.embedding_layer) for _ in range(reps))
            ips[bs] = len(ds) / best
        auto = resolve_eval_batch_size("auto", (size, size), torch.device("cpu"))
        ref = ips.get(512)
        row = "  ".join(f"{bs}: {v:.0f}" + (f" ({v / ref:.2f}x)" if ref else "") for bs, v in ips.items())
        print(f"{size} px, {len(ds)} images, img/s by batch (ratio vs 512): {row}; auto -> {auto}", flush=True)
    return 0


def _timed(ctx, idx, bs, layer) -> float:
    t = time.perf_counter()
    run_inference(ctx.template, ctx.inputs_t, ctx.targets, idx, ctx.device, bs, layer)
    return time.perf_counter() - t


if __name__ == "__main__":
    raise SystemExit(main())
