"""The cluster-conditioned translator: what one training step costs, and batched translation vs a
per-image loop.

Run ``python benchmarks/translate.py [--quick] [--device auto|cpu|cuda] [--size 32] [--json OUT]``.

Project rule: a benchmark prints a *ratio* against a baseline measured in the same run; never an
absolute pass/fail. Absolute figures are printed beside it for the README.

What is measured
----------------
Images: ``colored-digits`` train images (bias 0.99), resized to ``--size`` (bilinear; masks
nearest) so the GPU's scaling to larger images can be seen; cluster pseudo-labels from k-means
(k=10) of a 1-epoch model's embeddings.

``train``
    ``train_translator`` for ``--steps`` steps (batch 32) against the same number of training
    steps of the default classifier (SmallCNN, Adam, batch 32) on the same images. Ratio =
    classifier seconds per step / translator seconds per step (higher is better, as for every
    ratio here: 0.33x means one translator step costs three classifier steps; it does two critic
    and three generator passes). No goal: it sizes the training against something users know.
    The translator's steps/s and the time of the default 1500 steps are printed too.
``translate``
    ``Translator.__call__`` on N images in one batched call against one call per image. Ratio =
    batched img/s / per-image img/s (higher is better).

On CUDA, timers are read after ``torch.cuda.synchronize``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dashwidgets as dw  # noqa: E402
from dashwidgets.augment.translate import Translator, train_translator  # noqa: E402
from dashwidgets.runtime.device import resolve_device  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _resize(images: np.ndarray, masks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    if images.shape[-1] == size:
        return images, masks
    x = F.interpolate(torch.from_numpy(images).float(), size=(size, size), mode="bilinear", align_corners=False)
    m = F.interpolate(torch.from_numpy(masks).float()[:, None], size=(size, size), mode="nearest")[:, 0]
    return x.round().clamp(0, 255).to(torch.uint8).numpy(), m.bool().numpy()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--n", type=int, default=256, help="images translated")
    ap.add_argument("--quick", action="store_true", help="few steps and images (smoke run)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.n = 20, 32
    device = resolve_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(min(torch.get_num_threads(), 16))

    ds = dw.datasets.load("colored-digits", bias=0.99, seed=0, n_train=1000 if args.quick else 6000)
    eng = dw.Engine(ds, device="cpu")
    v = eng.train(epochs=1, progress=False)
    cl = eng.cluster(v, k=10)
    images, fg = _resize(ds.images[cl.indices], ds.masks["object"][cl.indices], args.size)

    # ---- training: translator steps vs classifier steps on the same images
    _sync(device)
    t0 = time.perf_counter()
    G, _ = train_translator(images, fg, cl.assignment, cl.k, steps=args.steps, device=device, seed=0)
    _sync(device)
    t_gan = (time.perf_counter() - t0) / args.steps

    model = dw.models.default_model(ds.num_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x_all = torch.from_numpy(images).to(device)
    y_all = torch.from_numpy(ds.labels[cl.indices]).to(device)
    gen = torch.Generator().manual_seed(0)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        idx = torch.randint(0, len(images), (32,), generator=gen).to(device)
        loss = F.cross_entropy(model(x_all[idx].float() / 255.0), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    t_cls = (time.perf_counter() - t0) / args.steps

    # ---- translation: one batched call vs one call per image
    t = Translator(v.id, cl.k, args.steps, 0, "object", G)
    n = min(args.n, len(images))
    target = np.arange(n) % cl.k
    t(images[:2], fg[:2], target[:2])  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    t(images[:n], fg[:n], target)
    _sync(device)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(n):
        t(images[i : i + 1], fg[i : i + 1], target[i : i + 1])
    _sync(device)
    t_loop = time.perf_counter() - t0

    res = {
        "device": str(device),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads"
        + (f", {torch.cuda.get_device_name()}" if device.type == "cuda" else ""),
        "size": args.size,
        "steps": args.steps,
        "train": {
            "translator_s_per_step": t_gan,
            "classifier_s_per_step": t_cls,
            "translator_steps_s": 1.0 / t_gan,
            "ratio": t_cls / t_gan,
        },
        "translate": {"batched_img_s": n / t_batched, "per_image_img_s": n / t_loop, "ratio": t_loop / t_batched},
    }
    print(f"device {res['device']} ({res['machine']}), {args.size} px, {args.steps} steps")
    tr = res["train"]
    print(
        f"train      translator {tr['translator_steps_s']:.1f} steps/s "
        f"(1500 steps: {1500 * t_gan:.0f} s); vs a classifier step: ratio {tr['ratio']:.2f}x"
    )
    tl = res["translate"]
    print(f"translate  {tl['batched_img_s']:.0f} vs {tl['per_image_img_s']:.0f} img/s: ratio {tl['ratio']:.1f}x (goal >= 5x)"
          + ("" if tl["ratio"] >= 5 else "  <- below goal"))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
