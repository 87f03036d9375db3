"""Batched IFGSM criticism (Stock & Cisse's adversarial selection) vs a per-image loop.

Run ``python benchmarks/criticism.py [--quick] [--device auto|cpu|cuda] [--n 10000] [--loop-n 1000] [--json OUT]``.

Project rule: a benchmark prints a *ratio* against a baseline measured in the same run (same
machine, model, weights, images); never an absolute pass/fail. Ratios are "higher is better".

What is measured
----------------
Model: the default SmallCNN trained 1 epoch on ``patch-digits`` (32 px). Images: N test images
(default 10,000). Labels: the model's own predictions, so every image starts correctly classified
and is attacked until it flips or survives all M = 10 steps (with the true labels a 1-epoch model
gets most images wrong, and those cost nothing on either side).

``attack``
    :func:`dashwidgets.audit.criticism.ifgsm_steps` on all N images (batches of 256: one forward
    and one backward pass per step for the batch; flipped images leave it) against the same
    function called once per image, as a per-image loop does. The step is the paper's 1e-3 in
    pixel units, per channel through the engine's normalisation, clipped to valid pixels, as in
    ``eng.criticize``. The loop runs on the first ``--loop-n`` images only (default
    min(N, 1,000)); both sides are reported in images per second. Ratio = batched img/s /
    per-image img/s, median of interleaved repetitions. Goal >= 5x. The script also prints the
    seconds for all N images (the issue's figure: 10,000) and how many of the loop's images got
    the same step count from the batched run.

Importable: :func:`ifgsm_benchmark` returns the figures, :func:`attack_line` the table row.

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

import dashwidgets as dw  # noqa: E402
from dashwidgets.audit.criticism import ifgsm_steps  # noqa: E402

GOAL = 5.0
BATCH = 256
QUICK = {"n": 64, "loop_n": 16, "reps": 1}


def ifgsm_benchmark(n: int = 10000, loop_n: int | None = None, reps: int = 3, device: str = "auto",
                    log=print) -> dict:
    """Time IFGSM criticism of ``n`` test images (batched) against a per-image loop on the first
    ``loop_n`` (default min(n, 1,000)), in one run on one model; what :func:`main` prints.

    Importable (``sys.path`` holding ``benchmarks/``: ``from criticism import ifgsm_benchmark``)
    so another script can print the same line. ``log``: where the header line goes (None: nowhere).

    Returns a dict: ``device``, ``device_name``, ``n``, ``loop_n``, ``agree`` (loop images with the
    same step count from the batched run), ``step_counts`` (``[12]``: 0 = wrong .. 11 = survived),
    ``attack``: ``batched_img_s``, ``per_image_img_s``, ``ratio`` (batched / per-image img/s,
    medians of interleaved repetitions), ``batched_s`` (median seconds for all ``n``),
    ``samples`` (every repetition's seconds).
    """
    for name, value in (("n", n), ("reps", reps)) + ((("loop_n", loop_n),) if loop_n is not None else ()):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    loop_n = min(n, 1000) if loop_n is None else min(loop_n, n)
    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=600, n_val=100, n_test=n)
    eng = dw.Engine(ds, device=device)
    v = eng.train(epochs=1, progress=False)
    model, dev = eng.model(v), eng.device
    idx = ds.indices("test")
    x = eng.inputs(idx)
    labels = torch.from_numpy(eng.evaluate(v, "test").pred)
    ctx = eng._ctx  # the engine's normalisation, exactly as eng.criticize uses it
    step = (1e-3 * 255.0 * ctx.scale).flatten()
    clip = (ctx.shift, ctx.shift + 255.0 * ctx.scale)

    def batched():
        return ifgsm_steps(model, x, labels, step, 10, batch_size=BATCH, device=dev, clip=clip)

    def single():
        return np.concatenate([
            ifgsm_steps(model, x[i : i + 1], labels[i : i + 1], step, 10, batch_size=1, device=dev, clip=clip)
            for i in range(loop_n)
        ])

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    if log is not None:
        log(f"torch {torch.__version__} | device {dev} ({name}) | threads {torch.get_num_threads()} | "
            f"N={n} images 32 px (per-image loop: {loop_n}) | M=10 steps of 1e-3 | batch {BATCH}")
    ifgsm_steps(model, x[:8], labels[:8], step, 10, batch_size=8, device=dev, clip=clip)  # warm-up
    tb, ts, out = [], [], {}
    for r in range(reps):
        pair = [(tb, batched), (ts, single)]
        for store, fn in pair if r % 2 == 0 else pair[::-1]:
            dt, out[fn] = timed(fn, dev)
            store.append(dt)
    steps_b = out[batched]
    b, s = n / statistics.median(tb), loop_n / statistics.median(ts)
    return {
        "device": str(dev), "device_name": name, "n": n, "loop_n": loop_n,
        "agree": int((steps_b[:loop_n] == out[single]).sum()),
        "step_counts": np.bincount(steps_b, minlength=12).tolist(),
        "attack": {"batched_img_s": b, "per_image_img_s": s, "ratio": b / s, "batched_s": statistics.median(tb),
                   "samples": {"batched_s": tb, "per_image_s": ts}},
    }


def attack_line(res: dict) -> str:
    """The table row ``attack  <batched img/s>  <per-image img/s>  <ratio>x  goal``."""
    a = res["attack"]
    flag = f">= {GOAL:.0f}x" + ("" if a["ratio"] >= GOAL else "  <- below goal")
    return f"{'attack':8s} {a['batched_img_s']:14.1f} {a['per_image_img_s']:16.1f} {a['ratio']:7.1f}x  {flag}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--n", type=int, default=10000, help="images attacked in the batched run")
    ap.add_argument("--loop-n", type=int, default=None, help="images attacked by the per-image loop")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="64 images (loop: 16), 1 repetition")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    kw = QUICK if args.quick else {"n": args.n, "loop_n": args.loop_n, "reps": args.reps}
    res = ifgsm_benchmark(device=args.device, **kw)
    print(f"{'measure':8s} {'batched img/s':>14s} {'per-image img/s':>16s} {'ratio':>8s}  goal")
    print(attack_line(res))
    print(f"all {res['n']} images attacked (batched) in {res['attack']['batched_s']:.1f} s; "
          f"the per-image loop would take {res['n'] / res['attack']['per_image_img_s']:.1f} s")
    print(f"step counts (0 = wrong, 11 = survived): {res['step_counts']}")
    print(f"same step count batched vs per-image: {res['agree']} of {res['loop_n']}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
