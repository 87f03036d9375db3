"""The workspace's disk cache: a reopened engine's first evaluate + project + attribute of one
version, cold (nothing cached) against warm (read back from the workspace).

Run ``python benchmarks/workspace_cache.py [--quick] [--store N] [--size PX] [--device auto]
[--attr-n 1000] [--json OUT]``.

Data: ``colored-digits`` (seed 0: 6,000 / 1,000 / 2,000 images, 32 px; ``--quick``: 1,200 /
200 / 400 at 16 px), or with ``--store N`` a ``scene-digits`` set of N images at ``--size`` px
written to a memory-mapped image store (min(5,000, N/5) train and val images, the rest test).
v1 is the default model trained one epoch (not timed).

Both sides are a fresh ``dw.Engine.open(workspace)`` (nothing in memory) and time the same calls:
``evaluate(v1)`` on all images, ``project(v1)`` (the t-SNE map; above 20,000 points a subsample
fit plus transform), and ``attribute(v1, first --attr-n test images, "gradcam")``.

- cold: the workspace's ``cache/`` and ``projection/`` folders deleted first, so everything is
  computed (and written: the cost of writing is in the cold figure);
- warm: a second fresh engine on the same workspace, which reads them back.

Each stage prints cold s, warm s and the ratio cold / warm (higher is better; goal >= 5x for
the total), and the warm results are checked equal to the cold ones (bitwise). The opening
itself (reading the versions and the map) is timed on both sides and counted in the total.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import timed  # noqa: E402

GOAL = 5.0


def out(line: str = "") -> None:
    print(line, flush=True)


def run_side(dw, path: Path, vid: str, idx: np.ndarray, device: str, project: bool) -> tuple[dict, dict]:
    dev = torch.device("cuda" if device == "cuda" else "cpu")
    t_open, eng = timed(lambda: dw.Engine.open(path, device=device), dev)
    times, values = {"open": t_open}, {}
    times["evaluate"], r = timed(lambda: eng.evaluate(vid), dev)
    values["probs"], values["embedding"] = r.probs, r.embedding
    if project:
        times["project"], values["coords"] = timed(lambda: eng.project(vid, progress=False), dev)
    times["attribute"], values["maps"] = timed(lambda: eng.attribute(vid, idx, "gradcam", numpy=True), dev)
    return times, values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small colored-digits set (smoke run)")
    ap.add_argument("--store", type=int, default=0, help="scene-digits images in a memory-mapped store (0: colored-digits)")
    ap.add_argument("--size", type=int, default=64, help="image size of --store")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--attr-n", type=int, default=1000, help="test images attributed")
    ap.add_argument("--no-project", action="store_true", help="leave t-SNE out (its on-disk map predates the cache)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import dashwidgets as dw
    from dashwidgets.runtime.device import resolve_device

    device = resolve_device(args.device).type
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        if args.store:
            from dashwidgets.datasets import SceneDigits, to_store

            n = args.store
            nt = min(5000, n // 5)
            ds = to_store(SceneDigits(bias=0.95, seed=0, size=args.size, n_train=nt, n_val=nt, n_test=n - 2 * nt),
                          tmp / "store")
        elif args.quick:
            ds = dw.datasets.load("colored-digits", seed=0, size=16, n_train=1200, n_val=200, n_test=400)
        else:
            ds = dw.datasets.load("colored-digits", seed=0)
        gen_s = time.perf_counter() - t
        path = tmp / "ws"
        eng = dw.Engine(ds, device=device, workspace=path, seed=0)
        t = time.perf_counter()
        v1 = eng.train(epochs=1, progress=False).id
        train_s = time.perf_counter() - t
        del eng
        idx = ds.indices("test")[: args.attr_n]
        h, w = ds.image_size
        out(f"workspace cache: {ds.name} {len(ds):,} images {h} px ({'store' if args.store else 'in memory'}), "
            f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; data {gen_s:.1f} s, "
            f"train 1 epoch {train_s:.1f} s; gradcam on {len(idx):,} test images")
        for sub in ("cache", "projection"):
            shutil.rmtree(path / sub, ignore_errors=True)
        project = not args.no_project
        cold, a = run_side(dw, path, v1, idx, device, project)
        warm, b = run_side(dw, path, v1, idx, device, project)
        equal = {k: bool(np.array_equal(a[k], b[k])) for k in a}
        disk = dw.Engine.open(path, device=device).cache_info()["disk"]
        cache_mib = disk["bytes"] / 2**20
        proj_mib = sum(f.stat().st_size for f in (path / "projection").glob("*")) / 2**20 if project else 0.0

    stages = ["open", "evaluate", *(["project"] if project else []), "attribute"]
    out(f"{'stage':<10} {'cold s':>9} {'warm s':>9} {'ratio':>8}")
    for s in stages:
        r = f"{cold[s] / warm[s]:7.1f}x" if warm[s] >= 1e-3 else f">{cold[s] / 1e-3:.0f}x"  # under 1 ms: in memory
        out(f"{s:<10} {cold[s]:9.2f} {warm[s]:9.3f} {r:>8}")
    total_c, total_w = sum(cold.values()), sum(warm.values())
    ratio = total_c / total_w
    mark = "" if ratio >= GOAL else "  <- below goal"
    out(f"{'total':<10} {total_c:9.2f} {total_w:9.3f} {ratio:7.1f}x   (goal >= {GOAL:.0f}x){mark}")
    out(f"warm equals cold: {equal}; on disk: cache/ {cache_mib:.1f} MiB, projection/ {proj_mib:.1f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "dataset": ds.name, "images": len(ds), "size": h, "device": device, "attr_n": int(len(idx)),
            "cold_s": cold, "warm_s": warm, "ratio": ratio, "equal": equal, "cache_mib": cache_mib,
            "projection_mib": proj_mib}, indent=1))


if __name__ == "__main__":
    main()
