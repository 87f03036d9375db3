"""Batched neuron activation scores (VisCUIT / Summit) vs a per-image loop.

Run ``python benchmarks/neurons.py [--quick] [--device auto|cpu|cuda] [--n 10000] [--json OUT]``.

Project rule: a benchmark prints a *ratio* against a baseline measured in the same run (same
machine, model, weights, images); never an absolute pass/fail. Ratios are "higher is better".

What is measured
----------------
Model: the default SmallCNN (3 conv layers, 168 channels) trained 1 epoch on ``patch-digits``
(32 px); the speed does not depend on what the weights learned. Images: N test images (default
10,000), split into two groups of N/2 ("a", "b").

``scores``
    ``eng.neuron_scores(v, groups)`` with its per-split cache of spatial maxima cleared before each
    run: one hooked batched pass over the split for all conv layers, then the 3 % rule vectorised
    over images and channels. Against the loop a user would write: per image, one forward pass
    with the same hooks, each layer's spatial maxima, the 3 % rule on that image's vector, and a
    running count per group. Both give the same scores (checked, printed). Ratio = loop s /
    batched s, median of interleaved repetitions (the order alternates). Goal >= 10x.

``concepts``
    ``eng.concepts(v, layer, neuron)`` for one neuron (the last conv layer's channel with the
    highest score in group "a"), VisCUIT's defaults: its 10 top images over the whole dataset
    (train + val + test, N + 700 images), 32 random square masks in each (4 px at 32 px), all 320
    masked images through the model in one hooked pass, the 10 best patches kept. Timed on the
    engine's device (``--device cpu`` for the CPU figure) with the concept cache cleared:
    ``warm`` with the dataset's spatial maxima already cached (what a click in the neuron panel
    costs once the scores are shown), ``cold`` with them cleared too (adds the one hooked pass
    over every split). A time, printed as a line: there is no loop a user would write instead
    that is worth timing here, the patches are one batched pass already.

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
from dashwidgets.audit.neurons import highly_activated  # noqa: E402
from dashwidgets.models.activations import activation_modules  # noqa: E402
from dashwidgets.models.layers import conv_layers  # noqa: E402

GOAL = 10.0


def per_image_scores(eng, model, groups: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """The baseline: one forward pass and one 3 % rule per image, counts summed per group."""
    layers = conv_layers(model)
    mods = activation_modules(model, layers)
    seen: dict[str, torch.Tensor] = {}  # read in the hook: in-place ReLUs change the output later
    hooks = [m.register_forward_hook(lambda _m, _i, o, n=name: seen.__setitem__(n, o.amax(dim=(2, 3)))) for name, m in mods.items()]
    out = {}
    try:
        with torch.inference_mode():
            for gname, idx in groups.items():
                counts = {name: 0 for name in layers}
                for i in idx:
                    model(eng.inputs([int(i)]))
                    for name in layers:
                        counts[name] = counts[name] + highly_activated(seen[name])[0].float()
                out[gname] = {name: (c / len(idx)).cpu().numpy() for name, c in counts.items()}
    finally:
        for h in hooks:
            h.remove()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--n", type=int, default=10000, help="images scored")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="400 images, 1 repetition")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    n, reps = (400, 1) if args.quick else (args.n, args.reps)

    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=600, n_val=100, n_test=n)
    eng = dw.Engine(ds, device=args.device)
    v = eng.train(epochs=1, progress=False)
    model = eng.model(v)
    idx = ds.indices("test")
    groups = {"a": idx[: n // 2], "b": idx[n // 2 :]}
    dev = eng.device
    cache = eng.caches["neuron_maxima"]

    def batched():
        cache.drop(v.id)
        return eng.neuron_scores(v, groups)

    def single():
        return per_image_scores(eng, model, groups)

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    channels = sum(dict(model.named_modules())[c].out_channels for c in conv_layers(model))
    print(f"torch {torch.__version__} | device {dev} ({name}) | threads {torch.get_num_threads()} | "
          f"N={n} images 32 px | {len(conv_layers(model))} conv layers, {channels} channels")
    _, df = timed(batched, dev)  # warm-up, and the agreement check
    _, ref = timed(single, dev)
    worst = max(
        float(np.abs(df.loc[df["layer"] == layer, g].to_numpy() - ref[g][layer]).max())
        for g in groups for layer in ref[g]
    )
    tb, ts = [], []
    for r in range(reps):
        pair = [(tb, batched), (ts, single)]
        for store, fn in pair if r % 2 == 0 else pair[::-1]:
            store.append(timed(fn, dev)[0])
    b, s = statistics.median(tb), statistics.median(ts)
    ratio = s / b
    flag = f">= {GOAL:.0f}x" + ("" if ratio >= GOAL else "  <- below goal")
    print(f"{'measure':8s} {'batched s':>10s} {'per-image s':>12s} {'ratio':>8s}  goal")
    print(f"{'scores':8s} {b:10.3f} {s:12.3f} {ratio:7.1f}x  {flag}")
    print(f"largest score difference batched vs per-image: {worst:.2g}")

    # concept patches of one neuron: the last conv layer's top-scoring channel in group "a"
    last = df[df["layer"] == conv_layers(model)[-1]]
    layer, neuron = last["layer"].iloc[0], int(last["neuron"].to_numpy()[last["a"].to_numpy().argmax()])
    concept_cache, maxima_cache = eng.caches["concepts"], eng.caches["neuron_maxima"]

    def concepts(cold: bool):
        concept_cache.drop(v.id)
        if cold:
            maxima_cache.drop(v.id)
        return eng.concepts(v, layer, neuron)

    concepts(False)  # warm-up: the maxima of every split are cached from here on
    warm, cold = [], []
    for r in range(reps):
        pair = [(warm, lambda: concepts(False)), (cold, lambda: concepts(True))]
        for store, fn in pair if r % 2 == 0 else pair[::-1]:
            store.append(timed(fn, dev)[0])
    cc = concepts(False)
    cw, ck = statistics.median(warm), statistics.median(cold)
    print(f"concepts {layer}[{neuron}] on {dev}: {cw:.3f} s with the maxima cached, {ck:.3f} s cold "
          f"({len(cc.images)} images x 32 masks, {len(cc)} patches of {cc.patches.shape[-1]} px; dataset {len(ds)} images)")
    if args.json:
        args.json.write_text(json.dumps({
            "device": str(dev), "device_name": name, "n": n, "max_abs_diff": worst,
            "scores": {"batched_s": b, "per_image_s": s, "ratio": ratio, "samples": {"batched": tb, "per_image": ts}},
            "concepts": {"layer": layer, "neuron": neuron, "dataset_images": len(ds), "warm_s": cw, "cold_s": ck,
                         "samples": {"warm": warm, "cold": cold}},
        }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
