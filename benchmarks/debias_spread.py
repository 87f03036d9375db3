"""How much the debias loop's headline figure moves: the colored-digits loop of
``notebooks/dash-debias-loop.ipynb`` (v1: 6 epochs, seed 0; k-means k=10; 300 colour-transferred
images toward every cluster; v2: retrain 3 epochs) run for every combination of

* the torch thread count (``--threads``, default ``1,2``): a fixed seed gives bit-identical
  weights for a fixed thread count, but the CPU kernels sum in a different order with another
  thread count, so the weights (and everything after them) differ in the last bits and then more;
* the source draw (``--draws``, default ``0,1,2,3``): ``np.random.default_rng(draw)`` picks the
  300 source images per cluster (the notebook uses draw 0).

Prints one line per run and the spread (min / median / max) of the unbiased test accuracy before
and after. Not a speed benchmark: it states the spread the README quotes.

    python benchmarks/debias_spread.py                       # 8 runs, ~25 min on 2 busy CPU cores
    python benchmarks/debias_spread.py --threads 2 --draws 0  # the notebook's own run
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

import dashwidgets as dw


def run(threads: int, draws: list[int], n_images: int) -> list[dict]:
    torch.set_num_threads(threads)
    ds = dw.datasets.load("colored-digits", bias=0.99, seed=0)
    eng = dw.Engine(ds, device="cpu")
    v1 = eng.train(epochs=6, seed=0, progress=False)
    cl = eng.cluster(v1, k=10, n=6)
    train = ds.indices("train")
    rows = []
    for draw in draws:
        t0 = time.perf_counter()
        rng = np.random.default_rng(draw)
        augs = []
        for c in range(cl.k):
            others = np.setdiff1d(train, cl.members(c))
            augs.append(eng.augment(rng.choice(others, n_images, replace=False), style=cl[c], method="color", seed=c))
        v2 = eng.retrain(v1, epochs=3, augmentations=augs, progress=False)
        row = {
            "threads": threads, "draw": draw,
            "v1_val": v1.metrics["val_accuracy"], "v1_test": v1.metrics["test_accuracy"],
            "v2_val": v2.metrics["val_accuracy"], "v2_test": v2.metrics["test_accuracy"],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(
            f"threads {threads}  draw {draw}:  v1 test {100 * row['v1_test']:5.1f} %  ->  v2 test "
            f"{100 * row['v2_test']:5.1f} %   (v2 val {100 * row['v2_val']:5.1f} %, {row['seconds']} s)",
            flush=True,
        )
        rows.append(row)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    ap.add_argument("--draws", default="0,1,2,3", help="comma-separated source-draw seeds")
    ap.add_argument("--images", type=int, default=300, help="source images per cluster")
    ap.add_argument("--json", help="write every run to this file")
    args = ap.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",")]
    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        rows += run(threads, draws, args.images)
    for key, name in (("v1_test", "v1 unbiased test"), ("v2_test", "v2 unbiased test")):
        vals = [100 * r[key] for r in rows]
        print(f"{name}: min {min(vals):.1f} %  median {statistics.median(vals):.1f} %  max {max(vals):.1f} %  (n={len(vals)})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
