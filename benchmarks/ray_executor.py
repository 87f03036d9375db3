"""The Ray executor against the local path: per-call latency and images/s (issue 17 §4).

Run ``python benchmarks/ray_executor.py [--n 6000] [--workers 2] [--nice 10] [--json OUT]``.

``--nice K``: start Ray at this process's priority, then lower the priority of this process and
of the Ray processes it started by K (their actors inherit it): on a shared machine a niced Ray
misses its own start-up window (the node's agent must start within 30 s), while the
measurement itself should yield to other work.

Project rule: a benchmark prints a *ratio* against a baseline measured in the same run (same
machine, model, weights, images); never an absolute pass/fail.

What is measured (CPU, one process, a local Ray started here with ``--workers`` CPUs)
----------------------------------------------------------------------------------
Model: the default SmallCNN trained 1 epoch on ``patch-digits`` (32 px), and a second version
(``v2``, 2 epochs) standing for "the next version the user trains". Images: N (default 6,000),
every split, batches of 512. The local path runs with torch at one thread per Ray worker's CPU
count in total (``torch.set_num_threads(workers)``); each Ray actor gets one CPU (Ray sets one
thread).

``evaluate``: ``eng.evaluate(v)`` with its cache cleared, timed per call:
  * ``local``: the engine's own pass (median of 2),
  * ``actors`` (default ``RayExecutor``): call 1 (v1: starts the actors, puts the images into the
    object store), call 2 (v2: a new version on the same actors: the per-call latency a user
    sees after training), call 3 (v2 again),
  * ``data`` (``pool="data"``: Ray Data ``map_batches``, a new actor pool per call): calls 1 and 2
    the same way.
``neurons``: the hooked spatial-maxima pass behind ``eng.neuron_scores`` over every split,
local vs the warm actor pool (v2, maxima cache cleared).

Every Ray result is checked bitwise against the local one (printed). Ratios printed are local
seconds / Ray seconds (higher is better for Ray), and the second-call speed-up of the actor pool
over Ray Data.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

import dashwidgets as dw
from dashwidgets.runtime.executor import RayExecutor

FIELDS = ("pred", "probs", "loss", "embedding")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.workers)
    import ray

    os.environ.setdefault("RAY_agent_register_timeout_ms", "180000")
    t = time.perf_counter()
    for attempt in range(6):  # on a loaded machine the node's agent can miss Ray's 30 s start window
        try:
            ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
            break
        except Exception:
            ray.shutdown()
            if attempt == 5:
                raise
    ray_init_s = time.perf_counter() - t
    if args.nice:
        import psutil

        for p in [psutil.Process(), *psutil.Process().children(recursive=True)]:  # ours only, by id
            try:
                p.nice(p.nice() + args.nice)
            except psutil.Error:
                pass

    n = args.n
    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=n * 2 // 3, n_val=n // 6, n_test=n - n * 2 // 3 - n // 6)
    eng = dw.Engine(ds, device="cpu", eval_batch_size=512)
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.train(epochs=2, progress=False)
    n = len(ds)

    def evaluate(v):
        eng._inference.cache.drop(v.id)
        t = time.perf_counter()
        r = eng.evaluate(v)
        return time.perf_counter() - t, r

    def maxima(v):
        eng._viscuit.maxima_cache.drop(v.id)
        t = time.perf_counter()
        m = {s: eng._viscuit.maxima(v, s) for s in ("train", "val", "test")}
        return time.perf_counter() - t, m

    local_t, local = {}, {}
    for v in (v1, v2):
        ts = [evaluate(v) for _ in range(2)]
        local_t[v.id], local[v.id] = float(np.median([x[0] for x in ts])), ts[-1][1]
    neuron_local_s, neuron_local = maxima(v2)

    def same(v, r):
        return all(np.array_equal(getattr(local[v.id], f), getattr(r, f)) for f in FIELDS)

    out = {"n": n, "workers": args.workers, "ray_init_s": ray_init_s, "local_s": local_t,
           "load": os.getloadavg()}
    equal = True
    with RayExecutor(num_workers=args.workers) as ex, eng.executing(ex):
        calls = []
        for v in (v1, v2, v2):
            s, r = evaluate(v)
            calls.append(s)
            equal &= same(v, r)
        out["actors_s"] = calls
        neuron_ray_s, neuron_ray = maxima(v2)
        equal &= all(np.array_equal(neuron_local[s][k], neuron_ray[s][k]) for s in neuron_local for k in neuron_local[s])
    with RayExecutor(num_workers=args.workers, pool="data") as ex, eng.executing(ex):
        calls = []
        for v in (v1, v2):
            s, r = evaluate(v)
            calls.append(s)
            equal &= same(v, r)
        out["data_s"] = calls
    out.update(neuron_local_s=neuron_local_s, neuron_ray_s=neuron_ray_s, bitwise_equal=bool(equal))
    ray.shutdown()

    loc = local_t[v2.id]
    a, d = out["actors_s"], out["data_s"]
    print(f"N={n} images, {args.workers} Ray workers (local Ray start {ray_init_s:.1f} s), load {out['load'][0]:.1f}")
    print(f"evaluate local        {loc:6.2f} s  {n / loc:7.0f} img/s")
    print(f"evaluate Ray actors   call 1 {a[0]:6.2f} s (start-up), call 2 new version {a[1]:6.2f} s "
          f"({n / a[1]:.0f} img/s), call 3 {a[2]:6.2f} s ({n / a[2]:.0f} img/s)")
    print(f"evaluate Ray Data     call 1 {d[0]:6.2f} s, call 2 new version {d[1]:6.2f} s ({n / d[1]:.0f} img/s)")
    print(f"neuron maxima         local {neuron_local_s:.2f} s, Ray actors {neuron_ray_s:.2f} s")
    print(f"ratio local/Ray (2nd call, actors): {loc / a[1]:.2f}x; Ray Data 2nd call / actors 2nd call: "
          f"{d[1] / a[1]:.1f}x; bitwise equal to local: {equal}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
