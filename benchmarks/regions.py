"""Region-classifier maps, all patches batched vs a per-patch loop; IFGSM criticism for 10k images.

Run ``python benchmarks/regions.py [--quick] [--device auto|cpu|cuda] [--n 1000] [--loop-n 50]
[--criticism-n 10000] [--threads T] [--json OUT]``.

Project rule: a benchmark prints a *ratio* against a baseline measured in the same run (same
machine, network, weights, images); never an absolute pass/fail. Ratios are "higher is better".

What is measured
----------------
``maps``
    A region classifier (``eng.region_classifier("bias_class", epochs=1)``: 8-px patches on the
    default 9 x 9 grid, 81 patches per image) on ``patch-digits`` (32 px). ``rc.region_maps(idx)``
    for N val images (default 1,000): every grid patch of a batch of images in one forward pass
    (about 8,192 patches a pass), against the same network called once per patch (81 calls per
    image, the paper's "iteratively collecting regions in a sliding window" taken literally) on
    the first ``--loop-n`` images. Both sides under ``inference_mode`` and the same autocast;
    img/s each, ratio = batched / per-patch img/s, medians of interleaved repetitions. Goal >=
    10x. The loop's maps are compared with the batched ones (max absolute difference).
``attack``
    The criticism benchmark's line (``benchmarks/criticism.py``, imported, not copied): batched
    IFGSM on ``--criticism-n`` test images (default 10,000) against a per-image loop on up to
    1,000 of them, plus the seconds for all of them.

On CUDA, timers are read after ``torch.cuda.synchronize``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _timing import timed  # noqa: E402  (benchmarks/, the script's folder)
from criticism import attack_line, ifgsm_benchmark  # noqa: E402

import dashwidgets as dw  # noqa: E402
from dashwidgets.explain.regions import confidence  # noqa: E402
from dashwidgets.models.region import crop  # noqa: E402
from dashwidgets.runtime.device import autocast  # noqa: E402

GOAL = 10.0
QUICK = {"n": 64, "loop_n": 2, "reps": 1, "criticism_n": 64}


def maps_benchmark(n: int = 1000, loop_n: int = 50, reps: int = 3, device: str = "auto", log=print) -> dict:
    """Time ``rc.region_maps`` on ``n`` val images against a per-patch loop on the first
    ``loop_n``; returns ``device``, ``n``, ``loop_n``, ``patches`` (per image), ``max_abs_diff``
    and ``maps``: ``batched_img_s``, ``per_patch_img_s``, ``ratio``, ``batched_s``, ``samples``."""
    for name, value in (("n", n), ("loop_n", loop_n), ("reps", reps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    loop_n = min(loop_n, n)
    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=600, n_val=n, n_test=10)
    eng = dw.Engine(ds, device=device)
    rc = eng.region_classifier("bias_class", epochs=1, progress=False)
    net, dev, off, k, g = rc.net, eng.device, rc.offsets, rc.patch, len(rc.offsets)
    idx = ds.indices("val")
    x = eng.inputs(idx[:loop_n])

    def batched():
        return rc.region_maps(idx)

    def per_patch():
        out = np.empty((loop_n, g, g), np.float32)
        with torch.inference_mode():
            for i in range(loop_n):
                for p in range(g * g):
                    patch = crop(x[i : i + 1], off[p // g : p // g + 1], off[p % g : p % g + 1], k)
                    with autocast(dev):
                        logits = net(patch, torch.tensor([p], device=dev))
                    out[i, p // g, p % g] = float(confidence(logits.float(), rc.confidence)[0])
        return out

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    if log is not None:
        log(f"torch {torch.__version__} | device {dev} ({name}) | threads {torch.get_num_threads()} | "
            f"N={n} images 32 px, {g * g} patches of {k} px each (per-patch loop: {loop_n} images)")
    rc.region_maps(idx[:8])  # warm-up
    tb, tl, out = [], [], {}
    for r in range(reps):
        pair = [(tb, batched), (tl, per_patch)]
        for store, fn in pair if r % 2 == 0 else pair[::-1]:
            dt, out[fn] = timed(fn, dev)
            store.append(dt)
    b, s = n / statistics.median(tb), loop_n / statistics.median(tl)
    return {
        "device": str(dev), "device_name": name, "n": n, "loop_n": loop_n, "patches": g * g,
        "max_abs_diff": float(np.abs(out[batched][:loop_n] - out[per_patch]).max()),
        "maps": {"batched_img_s": b, "per_patch_img_s": s, "ratio": b / s, "batched_s": statistics.median(tb),
                 "samples": {"batched_s": tb, "per_patch_s": tl}},
    }


def maps_line(res: dict) -> str:
    m = res["maps"]
    flag = f">= {GOAL:.0f}x" + ("" if m["ratio"] >= GOAL else "  <- below goal")
    return f"{'maps':8s} {m['batched_img_s']:14.1f} {m['per_patch_img_s']:16.1f} {m['ratio']:7.1f}x  {flag}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--n", type=int, default=1000, help="images mapped in the batched run")
    ap.add_argument("--loop-n", type=int, default=50, help="images mapped by the per-patch loop")
    ap.add_argument("--criticism-n", type=int, default=10000, help="images attacked (IFGSM) in the batched run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--quick", action="store_true", help="64 images (loop: 2), 64 attacked, 1 repetition")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    kw = dict(QUICK) if args.quick else {"n": args.n, "loop_n": args.loop_n, "reps": args.reps,
                                          "criticism_n": args.criticism_n}
    crit_n = kw.pop("criticism_n")
    res = maps_benchmark(device=args.device, **kw)
    crit = ifgsm_benchmark(n=crit_n, loop_n=min(crit_n, 16) if args.quick else None, reps=kw["reps"],
                           device=args.device, log=None)
    print(f"{'measure':8s} {'batched img/s':>14s} {'per-unit img/s':>16s} {'ratio':>8s}  goal")
    print(maps_line(res))
    print(attack_line(crit))
    print(f"maps: all {res['n']} images in {res['maps']['batched_s']:.2f} s batched; the per-patch loop would take "
          f"{res['n'] / res['maps']['per_patch_img_s']:.1f} s; max |batched - per-patch| = {res['max_abs_diff']:.2g}")
    print(f"attack: all {crit['n']} images attacked (batched) in {crit['attack']['batched_s']:.1f} s; "
          f"same step count as the per-image loop on {crit['agree']} of {crit['loop_n']}")
    if args.json:
        args.json.write_text(json.dumps({"maps": res, "criticism": crit}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
