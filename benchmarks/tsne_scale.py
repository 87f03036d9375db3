"""Large-N t-SNE: seconds and neighbourhood recall of each large-set strategy against a full fit.

Run ``python benchmarks/tsne_scale.py --features FEATS.npy [--sizes 10000,20000] [--fit-share 0.2]
[--n-jobs 1,2] [--options full,transform,refine] [--json OUT]``. Without ``--features`` (or when the
file does not exist yet) the features are made first and saved there: a ``scene-digits`` set of the
largest size at 64 px, the default model trained one epoch on its min(5,000, N/5) train images, and
the pooled embedding of every image (``eng.evaluate(v1).embedding``), as ``benchmarks/scale.py`` does.

Per size N (a seeded random subset of the feature rows) and per ``n_jobs``, each option is timed
(wall-clock and process CPU seconds, all threads) and scored with
:func:`dashwidgets.audit.projection.neighbourhood_recall` (k = 10, 2,000 query points):

``full``
    ``TSNEMap(max_fit=N)``: one openTSNE fit of all N points (the reference).
``transform``
    ``TSNEMap(subsample=M, large="transform")``: fit M = ``--fit-share`` x N points, place the rest
    with openTSNE's ``transform`` (the strategy before issue 17).
``refine``
    ``TSNEMap(subsample=M)``, the default: fit M points, start every point at the median of its
    nearest subsample points, then optimise all N together for ``refine_iter`` (100) iterations
    (Kobak & Berens 2019, "The art of using t-SNE", their recipe for large sets).

Recall is reported over all N (against the full fit's recall of the same N) and, when N > 20,000,
also on a fixed 20,000-point random subset: each layout's coordinates of those points against a
full fit of those points alone (as ``benchmarks/scale.py`` does). The machine's load average is
printed with every row: on a shared machine the wall seconds say more about the neighbours than
about the method, and the CPU seconds are the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def out(line: str = "") -> None:
    print(line, flush=True)


def make_features(n: int, path: Path, size: int = 64) -> np.ndarray:
    import dashwidgets as dw
    from dashwidgets.datasets import SceneDigits, to_store

    n_train = n_val = min(5000, n // 5)
    src = SceneDigits(bias=0.95, seed=0, size=size, n_train=n_train, n_val=n_val, n_test=n - n_train - n_val)
    with tempfile.TemporaryDirectory() as tmp:
        eng = dw.Engine(to_store(src, Path(tmp) / "store"), device="auto", seed=0)
        v1 = eng.train(epochs=1, progress=False)
        feats = np.asarray(eng.evaluate(v1).embedding, np.float32)
    np.save(path, feats)
    return feats


def run(option: str, feats: np.ndarray, m: int, n_jobs: int, refine_iter: int | None = None
        ) -> tuple[np.ndarray, float, float]:
    from dashwidgets.audit.projection import TSNEMap

    sub = {"max_fit": min(m, 20_000), "subsample": m}  # a subsample of m points, as TSNEMap's defaults do above 20k
    kw = {"full": {"max_fit": len(feats)}, "transform": {**sub, "large": "transform"},
          "refine": {**sub, **({"refine_iter": refine_iter} if refine_iter else {})}}[option]
    w, c = time.perf_counter(), time.process_time()
    xy = TSNEMap(seed=0, n_jobs=n_jobs, **kw).fit(feats)
    return xy, time.perf_counter() - w, time.process_time() - c


def main() -> int:
    from dashwidgets.audit.projection import TSNEMap, neighbourhood_recall

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", default=None, help="[N, D] float32 .npy (made and saved here when missing)")
    p.add_argument("--sizes", default="10000,20000", help="comma-separated point counts")
    p.add_argument("--fit-share", type=float, default=0.2, help="subsample size M as a share of N")
    p.add_argument("--max-fit", type=int, default=None, help="subsample size M (overrides --fit-share)")
    p.add_argument("--refine-iter", type=int, default=None, help="refine iterations (TSNEMap's default)")
    p.add_argument("--sub-full", type=float, default=None,
                   help="recall of a full fit of the fixed 20k subset, when known (skips that fit; < 0: no subset scores)")
    p.add_argument("--n-jobs", default="1,2", help="comma-separated openTSNE thread counts")
    p.add_argument("--options", default="full,transform,refine")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    path = Path(args.features or tempfile.gettempdir() + f"/tsne_scale_feats_{max(sizes)}.npy")
    feats_all = np.load(path) if path.exists() else make_features(max(sizes), path)
    if max(sizes) > len(feats_all):
        p.error(f"{path} has {len(feats_all):,} rows, fewer than the largest size {max(sizes):,}")
    out(f"t-SNE at scale: {path.name} {feats_all.shape}, {os.cpu_count()} cores")
    rows = []
    for n in sizes:
        feats = feats_all[np.sort(np.random.default_rng(7).choice(len(feats_all), n, replace=False))]
        m = args.max_fit or int(args.fit_share * n)
        sub = np.sort(np.random.default_rng(1).choice(n, 20_000, replace=False)) if n > 20_000 and (args.sub_full or 0) >= 0 else None
        sub_full = None
        if sub is not None:
            sub_full = args.sub_full or neighbourhood_recall(feats[sub], TSNEMap(seed=0, n_jobs=-1, max_fit=20_000).fit(feats[sub]))
        full_recall = {}
        for nj in [int(j) for j in args.n_jobs.split(",")]:
            for option in args.options.split(","):
                xy, wall, cpu = run(option, feats, m, nj, args.refine_iter)
                row = {"n": n, "m": m if option != "full" else n, "option": option, "n_jobs": nj,
                       "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "recall": round(neighbourhood_recall(feats, xy), 4),
                       "load": round(os.getloadavg()[0], 1)}
                if option == "full":
                    full_recall[nj] = row["recall"]
                if full_recall:
                    row["full_recall"] = full_recall[min(full_recall, key=lambda j: abs(j - nj))]
                if sub is not None:
                    row["sub20k_recall"] = round(neighbourhood_recall(feats[sub], xy[sub]), 4)
                    row["sub20k_full_fit_recall"] = round(sub_full, 4)
                rows.append(row)
                out("  " + json.dumps(row))
    if args.json:
        Path(args.json).write_text(json.dumps({"features": str(path), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
