"""Scale: generation, evaluation and t-SNE of 10^4 .. 10^6 images, with RAM kept bounded.

Run ``python benchmarks/scale.py [--sizes 10000,100000[,1000000]] [--size 64] [--device auto]
[--json OUT]``. Each N runs in a fresh subprocess, so its peak RSS is its own.

Per N (a ``scene-digits`` set at ``--size`` px: min(5,000, N/5) train and val images each, the rest
test, so training stays cheap and the large split is the one audited):

``generate``
    ``to_store(SceneDigits(...), folder)``: rendered batch by batch into a memory-mapped store.
    Baseline: rendering the first min(N, 20,000) images into RAM without writing (the
    generator's own speed); ratio = store img/s / render-only img/s (the price of writing).
``evaluate``
    ``eng.evaluate(v1)`` over all N images of the mapped store (v1: the default model trained one
    epoch on the 5,000 train images) against a bare loop a user would write over the same
    memmap: contiguous slices, ``torch.from_numpy``, normalise, ``model(x).argmax(1)`` under
    ``inference_mode``. The engine does more (probabilities, losses and pooled embeddings for
    every image, index-ordered reads); ratio = engine img/s / bare img/s.
``tsne``
    ``eng.project(v1)``: above 20,000 points, a fit on a 10,000 subsample, the rest started from
    it and all points then optimised together (``TSNEMap``'s default ``large="refine"``;
    ``benchmarks/tsne_scale.py`` compares it with the older subsample + ``transform``). Baseline where feasible (N <= ``--full-fit-max``, default 20,000):
    a plain ``openTSNE.TSNE(n_jobs=-1).fit`` of all N features; ratio = plain s / engine s.
    The layout's kNN recall (k = 10, 2,000 query points, :func:`neighbourhood_recall`) is
    printed for both; for N above 20k, on the same 20k random points, for our layout of them and
    for a full fit of those 20k alone (a point's 10 nearest among N = 10^5 are far finer
    neighbourhoods than among 20k, so only the same points compare).
``memory``
    Peak *anonymous* resident memory per stage (``RssAnon``, sampled every 20 ms: what the
    process allocated itself) against the bytes of the images: below 1x means the images were
    never all in RAM. The plain peak RSS (``ru_maxrss``) is printed too; it also counts the page
    cache of the memory-mapped store the process touched, which the kernel drops under pressure.
    At 10^4 images the libraries' own footprint (torch, openTSNE) dominates; the ratio speaks from
    10^5 on.

Timings are wall-clock on whatever machine runs it; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def out(line: str = "") -> None:
    print(line, flush=True)


def peak_gib() -> float:
    """Peak resident memory of this process so far (GiB), memory-mapped file pages included."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class AnonPeak:
    """Peak anonymous resident memory (``RssAnon``: what the process itself allocated, without
    the page cache of memory-mapped files, which the kernel can drop), sampled every 20 ms."""

    def __init__(self):
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def now() -> float:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 2**20  # kB -> GiB
        except OSError:
            pass
        return float("nan")  # not Linux

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.now())

    def take(self) -> float:
        """The peak since the last take (GiB), and start a new stage."""
        peak, self.peak = max(self.peak, self.now()), self.now()
        return peak


def one(n: int, size: int, device: str, full_fit_max: int) -> dict:
    import dashwidgets as dw
    from dashwidgets.audit.projection import TSNEMap, neighbourhood_recall
    from dashwidgets.datasets import SceneDigits, to_store

    anon = AnonPeak()
    res: dict = {"n": n, "size": size, "peak_gib": {"imports": peak_gib()}, "anon_gib": {"imports": anon.take()}}
    n_train = n_val = min(5000, n // 5)
    src = SceneDigits(bias=0.95, seed=0, size=size, n_train=n_train, n_val=n_val, n_test=n - n_train - n_val)
    image_bytes = n * 3 * size * size
    with tempfile.TemporaryDirectory() as tmp:
        m = min(n, 20_000)
        t = time.perf_counter()
        for i in range(0, m, 4096):
            src.images(np.arange(i, min(m, i + 4096)))
        render_rate = m / (time.perf_counter() - t)
        t = time.perf_counter()
        ds = to_store(src, Path(tmp) / "store")
        gen_s = time.perf_counter() - t
        res["generate"] = {"s": gen_s, "img_s": n / gen_s, "render_only_img_s": render_rate,
                           "ratio": (n / gen_s) / render_rate}
        out(f"  generate  {n:>9,} images in {gen_s:7.1f} s ({n / gen_s:,.0f} img/s; render only "
            f"{render_rate:,.0f} img/s): ratio {res['generate']['ratio']:.2f}x")
        res["peak_gib"]["generate"] = peak_gib()
        res["anon_gib"]["generate"] = anon.take()

        eng = dw.Engine(ds, device=device, seed=0)
        v1 = eng.train(epochs=1, progress=False)
        model = eng.model(v1).eval()
        dev = eng.device
        scale, shift = eng._ctx.scale, eng._ctx.shift
        bs = eng.eval_batch_size

        def bare() -> np.ndarray:
            preds = []
            with torch.inference_mode():
                for i in range(0, n, bs):
                    x = torch.from_numpy(np.array(ds.images[i : i + bs])).to(dev)  # a writable copy of the slice
                    preds.append(model(x.float().mul_(scale).add_(shift)).argmax(1).cpu())
            return torch.cat(preds).numpy()

        t = time.perf_counter()
        ref = bare()
        bare_s = time.perf_counter() - t
        t = time.perf_counter()
        ev = eng.evaluate(v1)
        eng_s = time.perf_counter() - t
        agree = float((ev.pred == ref).mean())
        res["evaluate"] = {"engine_img_s": n / eng_s, "bare_img_s": n / bare_s, "ratio": bare_s / eng_s,
                           "agreement": agree}
        out(f"  evaluate  {n / eng_s:,.0f} vs bare {n / bare_s:,.0f} img/s: ratio {bare_s / eng_s:.2f}x "
            f"(predictions agree on {agree:.2%})")
        res["peak_gib"]["evaluate"] = peak_gib()
        res["anon_gib"]["evaluate"] = anon.take()

        feats = ev.embedding
        t = time.perf_counter()
        xy = eng.project(v1, progress=False)
        tsne_s = time.perf_counter() - t
        rec = neighbourhood_recall(feats, xy)
        res["tsne"] = {"engine_s": tsne_s, "recall": rec}
        line = f"  t-SNE     {tsne_s:7.1f} s ({n / tsne_s:,.0f} pts/s), kNN recall {rec:.3f}"
        if n <= full_fit_max:
            from openTSNE import TSNE

            t = time.perf_counter()
            plain = np.asarray(TSNE(n_jobs=-1, random_state=0, verbose=False).fit(feats))
            plain_s = time.perf_counter() - t
            res["tsne"].update(plain_s=plain_s, plain_recall=neighbourhood_recall(feats, plain), ratio=plain_s / tsne_s)
            line += f"; plain openTSNE {plain_s:.1f} s, recall {res['tsne']['plain_recall']:.3f}: ratio {plain_s / tsne_s:.2f}x"
        else:
            # the same 20k random points: our layout of them vs a full fit of them alone
            sub = np.sort(np.random.default_rng(1).choice(n, 20_000, replace=False))
            full_sub = TSNEMap(seed=0).fit(feats[sub])
            res["tsne"]["subset_recall"] = neighbourhood_recall(feats[sub], xy[sub])
            res["tsne"]["full_fit_20k_recall"] = neighbourhood_recall(feats[sub], full_sub)
            line += (f"; on 20k random points of it {res['tsne']['subset_recall']:.3f} vs a full fit of those "
                     f"20k alone {res['tsne']['full_fit_20k_recall']:.3f}")
        out(line)
        res["peak_gib"]["tsne"] = peak = peak_gib()
        res["anon_gib"]["tsne"] = anon.take()
        anon_peak = max(res["anon_gib"].values())
        res["rss"] = {"peak_bytes": peak * 2**30, "anon_peak_bytes": anon_peak * 2**30, "image_bytes": image_bytes,
                      "ratio": anon_peak * 2**30 / image_bytes}
        stages = ", ".join(f"{k} {v:.2f}" for k, v in res["anon_gib"].items())
        out(f"  memory    peak anonymous RSS {anon_peak:.2f} GiB for {image_bytes / 2**30:.2f} GiB of images: "
            f"{res['rss']['ratio']:.2f}x (per stage, GiB: {stages}); peak RSS with mapped file pages {peak:.2f} GiB")
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000", help="comma-separated image counts (each >= 1,000)")
    p.add_argument("--size", type=int, default=64, choices=(32, 64, 128, 224), help="image side (px)")
    p.add_argument("--device", default="auto")
    p.add_argument("--full-fit-max", type=int, default=20_000, help="largest N also fitted by plain openTSNE")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # the per-N subprocess
    args = p.parse_args()
    if args.one is not None:
        print("RESULT " + json.dumps(one(args.one, args.size, args.device, args.full_fit_max)), flush=True)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s < 1000 for s in sizes):
        p.error("every size must be at least 1,000")
    out(f"scale benchmark: scene-digits {args.size}px, torch {torch.__version__}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} threads")
    results = []
    for n in sizes:
        out(f"N = {n:,}")
        proc = subprocess.Popen([sys.executable, __file__, "--one", str(n), "--size", str(args.size), "--device",
                                 args.device, "--full-fit-max", str(args.full_fit_max)],
                                stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            if line.startswith("RESULT "):
                results.append(json.loads(line[len("RESULT "):]))
            else:
                print(line, end="", flush=True)
        if proc.wait() != 0:
            out(f"  N = {n:,} failed (exit {proc.returncode})")
            return 1
    if args.json:
        Path(args.json).write_text(json.dumps({"size": args.size, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
