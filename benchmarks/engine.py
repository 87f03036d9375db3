"""Engine vs bare PyTorch: evaluate, training, t-SNE projection and workspace overhead.

Run ``python benchmarks/engine.py [--quick] [--device auto|cpu|cuda] [--json OUT]``.

Project rule: a benchmark prints a *ratio* against a baseline measured in the same run, on the
same machine, data and weights; never an absolute pass/fail. Absolute numbers depend on the
machine (and on whoever else uses it); ratios do much less. Every ratio below is "higher is
better" (1.00x: the engine is as fast as the baseline); the goal is printed beside it, and a
ratio below its goal is flagged but does not change the exit status.

What is measured, and why the baseline is fair
----------------------------------------------
``train``
    ``eng.train(epochs=E)`` against the training loop a user would write: a fresh copy of the
    same initial weights (``eng._ctx.template`` + ``eng._store.init_state``), Adam with the same lr (3e-3)
    and batch size (128), a seeded random permutation of the train indices every epoch, batches
    indexed from inputs *pre-normalised once* (outside the timer) into a float tensor on the
    device, cross-entropy, backward, step, and after every epoch one inference pass over the val
    split, which is what the engine does after every epoch too. The bare loop gets every
    advantage: no uint8 -> float normalisation per batch, no progress events, no loss read-back,
    no final val/test metrics, no copy of the weights into a version. Seconds per epoch are the
    wall time of the whole call divided by E (so the engine's final metrics pass counts against
    it); ratio = bare s / engine s, median of interleaved repetitions (engine and bare alternate,
    the order flips every repetition, so a noisy neighbour hits both alike).
``evaluate``
    ``eng.evaluate(v)`` over every image (cache cleared before each repetition) against
    ``model(x[i:i+bs]).argmax(1)`` under ``torch.inference_mode`` with the same module
    (``eng.model(v)``), the same batch size, and inputs pre-normalised outside the timer. The
    engine does strictly more (normalises per batch; returns softmax probabilities, per-image
    losses and pooled embeddings as numpy arrays), so the ratio is the price of that extra
    output; ratio = engine img/s / bare img/s, median of 5 interleaved repetitions after one
    warm-up of each.
``compile`` (opt-in: ``--compile``)
    ``dw.Engine(ds, compile=True)`` against the same engine without it and the bare loops above:
    evaluate (img/s) and train (s/epoch), each with its own freshly trained version, median of
    interleaved repetitions after one warm-up call of each; prints compiled/bare and eager/bare
    ratios side by side, and the first call's extra seconds (compilation) for each.
``workspace``
    ``eng.train(epochs=1)`` on an Engine with ``workspace=tmpdir`` against the same call on one
    without: the price of writing every version to disk. Ratio = s without / s with.
``tsne``
    Per size N, an Engine on ``load("colored-digits", n_train=N-3000, n_val=1000, n_test=2000)``
    (smaller N: 70/10/20 % splits), default model trained 1 epoch (v1). ``eng.project(v1)`` (fit
    of the map on all N) is timed after a separately timed ``eng.evaluate(v1)`` (the inference
    that produces the embeddings), so the t-SNE part can be compared with a plain
    ``openTSNE.TSNE(n_jobs=-1, random_state=0).fit(features)`` on the very same features, which
    is what a user would call directly; ratio = openTSNE s / engine s (fit only, inference
    excluded on both sides). Then v2 = ``eng.retrain(v1, epochs=1)`` is placed into the same map
    (``transform``, openTSNE's transform) and, for the smallest N, also re-fitted from the
    reference layout (``mode="aligned"``); these print seconds and points per second (no
    baseline: a plain openTSNE has no equivalent of keeping one frame across versions).

On CUDA the engine runs its forward passes under bfloat16/float16 autocast while the bare loops
are plain float32, as a user would write them; timers are read after ``torch.cuda.synchronize``.
Thread settings are left as torch found them (and are printed).

Sizes and running time
----------------------
Full run: 9,000 images (6,000 / 1,000 / 2,000), train 2 epochs x 3 repetitions, evaluate median
of 5, t-SNE at N = 10,000. The 50,000-point t-SNE is opt-in (``--tsne-sizes 10000,50000``): it
trains twice on 47,000 images and runs two 50k fits, which alone takes longer than the rest of the
run on a 2-core CPU. ``--quick`` is a smoke run: 2,400 images, 1 epoch x 1 repetition, evaluate
median of 3, t-SNE at 2,000 and 5,000. ``--measures`` runs a subset.

On a CPU shared with other busy processes every multi-threaded op can stall waiting for a
descheduled thread. That costs each small op (softmax, normalisation, pooling) several
milliseconds, so the engine, which does more small ops per batch than the bare loop, looks slower
than it is. The "best of" ratios are less affected; for numbers to quote, use a quiet machine.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import dashwidgets as dw
from dashwidgets.runtime.device import resolve_device

MEASURES = ("train", "evaluate", "workspace", "tsne")
OPTIONAL = ("compile",)  # run only when asked for (--compile, or named in --measures)
GOALS = {"evaluate": 0.9, "train": 0.9, "workspace": 0.95, "tsne_fit": 0.9}
LR, BATCH = 3e-3, 128  # the engine's defaults, used explicitly on both sides


# ---------------------------------------------------------------------------- helpers
def sync(device: torch.device) -> None:
    """Wait for queued device work, so a timer read covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn, device: torch.device) -> tuple[float, object]:
    """Seconds one call of ``fn`` takes (device work included), and its result."""
    gc.collect()
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def interleave(runs: dict, reps: int, device: torch.device) -> dict[str, list[float]]:
    """``reps`` timings of each callable in ``runs``, alternating them, order flipped every rep."""
    names = list(runs)
    samples: dict[str, list[float]] = {k: [] for k in names}
    for r in range(reps):
        for name in names if r % 2 == 0 else names[::-1]:
            samples[name].append(timed(runs[name], device)[0])
    return samples


def goal_text(ratio: float, goal: float) -> str:
    flag = "" if ratio >= goal else "  <- below goal"
    return f"ratio {ratio:.2f}x (goal >= {goal:.2g}x){flag}"


def out(line: str = "") -> None:
    print(line, flush=True)


def split_sizes(n: int) -> dict[str, int]:
    """The t-SNE datasets: 1,000 val and 2,000 test images from 10k on, 70/10/20 % below."""
    if n >= 10_000:
        n_val, n_test = 1000, 2000
    else:
        n_val, n_test = n // 10, n // 5
    return {"n_train": n - n_val - n_test, "n_val": n_val, "n_test": n_test}


# ---------------------------------------------------------------------------- bare loops
def bare_evaluate(model, x: torch.Tensor, bs: int) -> torch.Tensor:
    """Predictions of ``model`` on pre-normalised ``x``, batch by batch."""
    with torch.inference_mode():
        preds = [model(x[i : i + bs]).argmax(1) for i in range(0, len(x), bs)]
    return torch.cat(preds).cpu()


def bare_train(eng, xtr, ytr, xval, yval, epochs: int, seed: int = 0) -> float:
    """The plain training loop of the module docstring; returns the last val accuracy."""
    device = xtr.device
    model = copy.deepcopy(eng._ctx.template)
    model.load_state_dict(eng._store.init_state)
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    n, bs = len(xtr), eng.eval_batch_size
    acc = float("nan")
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).to(device)
        for b in range(0, n, BATCH):
            i = perm[b : b + BATCH]
            loss = F.cross_entropy(model(xtr[i]), ytr[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.inference_mode():
            correct = sum(
                (model(xval[b : b + bs]).argmax(1) == yval[b : b + bs]).sum()
                for b in range(0, len(xval), bs)
            )
        acc = float(correct) / max(1, len(xval))
    return acc


def warm_up(eng, xtr, ytr) -> None:
    """A few training steps and one inference batch on a throwaway copy: one-time kernel setup
    (oneDNN primitives, cuDNN autotuning, allocator growth) should not land in the first timing."""
    model = copy.deepcopy(eng._ctx.template)
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for b in range(0, min(len(xtr), 3 * BATCH), BATCH):
        loss = F.cross_entropy(model(xtr[b : b + BATCH]), ytr[b : b + BATCH])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.inference_mode():
        model(xtr[: eng.eval_batch_size]).argmax(1)


# ---------------------------------------------------------------------------- measures
def measure_train(eng, epochs: int, reps: int, results: dict):
    device = eng.device
    tr, va = eng.dataset.indices("train"), eng.dataset.indices("val")
    xtr, ytr = eng.inputs(tr), eng._ctx.targets[torch.from_numpy(tr).to(eng._ctx.targets.device)]
    xval, yval = eng.inputs(va), eng._ctx.targets[torch.from_numpy(va).to(eng._ctx.targets.device)]
    warm_up(eng, xtr, ytr)
    versions, bare_acc = [], []

    def engine_run():
        v = eng.train(epochs=epochs, lr=LR, batch_size=BATCH, progress=False)
        versions.append(v)
        return v

    def bare_run():
        bare_acc.append(bare_train(eng, xtr, ytr, xval, yval, epochs))

    samples = interleave({"engine": engine_run, "bare": bare_run}, reps, device)
    eng_s = statistics.median(samples["engine"]) / epochs
    bare_s = statistics.median(samples["bare"]) / epochs
    # Where the engine's time goes: its own per-epoch record (train + val pass) vs the rest.
    in_loop = [sum(h["seconds"] for h in v.history) / epochs for v in versions]
    after = [
        t - sum(h["seconds"] for h in v.history)
        for t, v in zip(samples["engine"], versions, strict=True)
    ]
    ratio = bare_s / eng_s
    best = min(samples["bare"]) / min(samples["engine"])
    results["train"] = {
        "epochs": epochs,
        "reps": reps,
        "engine_s_per_epoch": eng_s,
        "bare_s_per_epoch": bare_s,
        "engine_samples_s": samples["engine"],
        "bare_samples_s": samples["bare"],
        "engine_in_loop_s_per_epoch": statistics.median(in_loop),
        "engine_after_training_s": statistics.median(after),
        "engine_val_accuracy": [v.metrics.get("val_accuracy") for v in versions],
        "bare_val_accuracy": bare_acc,
        "ratio": ratio,
        "best_of_ratio": best,
        "goal": GOALS["train"],
    }
    out(
        f"train     engine {eng_s:.2f} s/epoch  bare {bare_s:.2f} s/epoch  {goal_text(ratio, GOALS['train'])}"
    )
    out(
        f"          engine breakdown: {statistics.median(in_loop):.2f} s/epoch in the loop (train + val), "
        f"{statistics.median(after):.2f} s per call after it (val+test metrics, version); "
        f"val accuracy engine {versions[0].metrics.get('val_accuracy', float('nan')):.3f} bare {bare_acc[0]:.3f}"
    )
    if reps > 1:
        out(
            f"          best of {reps}: ratio {best:.2f}x (fastest run of each; less sensitive to a busy machine)"
        )
    return versions[0]


def measure_evaluate(eng, v, reps: int, results: dict) -> None:
    device = eng.device
    n = len(eng.dataset)
    model = eng.model(v)
    x = eng.inputs(np.arange(n))  # pre-normalised once, outside the timer
    bs = eng.eval_batch_size

    def engine_run():
        eng.caches["evaluate"].drop(v.id)
        return eng.evaluate(v)

    def bare_run():
        return bare_evaluate(model, x, bs)

    ref = engine_run()  # warm-up of both; also checks that they agree
    pred = bare_run()
    agree = float((pred.numpy() == ref.pred).mean())
    samples = interleave({"engine": engine_run, "bare": bare_run}, reps, device)
    eng_ips = n / statistics.median(samples["engine"])
    bare_ips = n / statistics.median(samples["bare"])
    ratio = eng_ips / bare_ips
    best = min(samples["bare"]) / min(samples["engine"])
    results["evaluate"] = {
        "images": n,
        "batch_size": bs,
        "reps": reps,
        "engine_img_per_s": eng_ips,
        "bare_img_per_s": bare_ips,
        "engine_samples_s": samples["engine"],
        "bare_samples_s": samples["bare"],
        "prediction_agreement": agree,
        "ratio": ratio,
        "best_of_ratio": best,
        "goal": GOALS["evaluate"],
    }
    out(
        f"evaluate  engine {eng_ips:.0f} img/s  bare {bare_ips:.0f} img/s  {goal_text(ratio, GOALS['evaluate'])}"
    )
    out(
        f"          best of {reps}: engine {n / min(samples['engine']):.0f} img/s  "
        f"bare {n / min(samples['bare']):.0f} img/s  ratio {best:.2f}x"
    )
    if agree < 0.999:
        out(f"          note: engine and bare predictions agree on only {agree:.1%} of images")


def measure_compile(ds, device: torch.device, epochs: int, reps: int, results: dict) -> None:
    """Engine(compile=True) vs Engine() vs the bare loops, evaluate and train (see the docstring)."""
    engines = {"compiled": dw.Engine(ds, device=device, compile=True), "eager": dw.Engine(ds, device=device)}
    plain = engines["eager"]
    tr, va = ds.indices("train"), ds.indices("val")
    tgt = plain._ctx.targets
    xtr, ytr = plain.inputs(tr), tgt[torch.from_numpy(tr).to(tgt.device)]
    xval, yval = plain.inputs(va), tgt[torch.from_numpy(va).to(tgt.device)]
    warm_up(plain, xtr, ytr)
    first_train = {}
    for name, e in engines.items():  # the first call of each compiles (or sets up kernels)
        first_train[name] = timed(lambda e=e: e.train(epochs=1, lr=LR, batch_size=BATCH, progress=False), device)[0]
    train_runs = {name: (lambda e=e: e.train(epochs=epochs, lr=LR, batch_size=BATCH, progress=False))
                  for name, e in engines.items()}
    train_runs["bare"] = lambda: bare_train(plain, xtr, ytr, xval, yval, epochs)
    tsamples = interleave(train_runs, reps, device)
    t = {k: statistics.median(v) / epochs for k, v in tsamples.items()}
    versions = {name: e.versions[-1] for name, e in engines.items()}
    n = len(ds)
    x = plain.inputs(np.arange(n))
    model, bs = plain.model(versions["eager"]), plain.eval_batch_size

    def ev(name):
        def run():
            engines[name].caches["evaluate"].drop(versions[name].id)
            return engines[name].evaluate(versions[name])
        return run

    first_eval = {name: timed(ev(name), device)[0] for name in engines}
    eval_runs = {name: ev(name) for name in engines}
    eval_runs["bare"] = lambda: bare_evaluate(model, x, bs)
    esamples = interleave(eval_runs, reps, device)
    ips = {k: n / statistics.median(v) for k, v in esamples.items()}
    results["compile"] = {
        "reps": reps,
        "epochs": epochs,
        "eval_batch_size": bs,
        "evaluate_img_per_s": ips,
        "evaluate_samples_s": esamples,
        "evaluate_first_call_s": first_eval,
        "train_s_per_epoch": t,
        "train_samples_s": tsamples,
        "train_first_call_s": first_train,
        "evaluate_ratio_compiled": ips["compiled"] / ips["bare"],
        "evaluate_ratio_eager": ips["eager"] / ips["bare"],
        "train_ratio_compiled": t["bare"] / t["compiled"],
        "train_ratio_eager": t["bare"] / t["eager"],
        "goal": GOALS["evaluate"],
    }
    r = results["compile"]
    out(
        f"compile   evaluate compiled {ips['compiled']:.0f} img/s  eager {ips['eager']:.0f}  bare {ips['bare']:.0f}: "
        f"ratio compiled {r['evaluate_ratio_compiled']:.2f}x  eager {r['evaluate_ratio_eager']:.2f}x vs bare; "
        f"first call {first_eval['compiled']:.1f} s compiled, {first_eval['eager']:.1f} s eager"
    )
    out(
        f"          train compiled {t['compiled']:.2f} s/epoch  eager {t['eager']:.2f}  bare {t['bare']:.2f}: "
        f"ratio compiled {r['train_ratio_compiled']:.2f}x  eager {r['train_ratio_eager']:.2f}x vs bare; "
        f"first 1-epoch call {first_train['compiled']:.1f} s compiled, {first_train['eager']:.1f} s eager"
    )


def measure_workspace(ds, eng, device_arg: str, reps: int, results: dict) -> None:
    made: dict[str, list] = {"with": [], "without": []}
    with tempfile.TemporaryDirectory(prefix="dw-bench-") as tmp:
        eng_ws = dw.Engine(
            ds, device=device_arg, workspace=Path(tmp) / "ws"
        )  # writes the dataset: untimed
        samples = interleave(
            {
                "with": lambda: made["with"].append(eng_ws.train(epochs=1, progress=False)),
                "without": lambda: made["without"].append(eng.train(epochs=1, progress=False)),
            },
            reps,
            eng.device,
        )
    # The part after the training loop (final metrics, and the writes when there is a workspace):
    # where the workspace's cost lands, without the noise of the loop itself.
    after = {
        k: statistics.median(
            t - sum(h["seconds"] for h in v.history)
            for t, v in zip(samples[k], made[k], strict=True)
        )
        for k in made
    }
    t_with, t_without = statistics.median(samples["with"]), statistics.median(samples["without"])
    ratio = t_without / t_with
    results["workspace"] = {
        "reps": reps,
        "with_s": t_with,
        "without_s": t_without,
        "with_samples_s": samples["with"],
        "without_samples_s": samples["without"],
        "with_after_loop_s": after["with"],
        "without_after_loop_s": after["without"],
        "ratio": ratio,
        "goal": GOALS["workspace"],
    }
    out(
        f"workspace train(epochs=1) with {t_with:.2f} s  without {t_without:.2f} s  "
        f"{goal_text(ratio, GOALS['workspace'])} [s without / s with]"
    )
    out(
        f"          after the training loop (metrics, saving): with {after['with']:.2f} s  "
        f"without {after['without']:.2f} s"
    )


def measure_tsne(n: int, device_arg: str, aligned: bool, results: dict) -> None:
    from openTSNE import TSNE

    sizes = split_sizes(n)
    ds = dw.datasets.load("colored-digits", seed=0, **sizes)
    eng = dw.Engine(ds, device=device_arg)
    device = eng.device
    v1 = eng.train(epochs=1, progress=False)
    t_inf1, _ = timed(lambda: eng.evaluate(v1), device)
    t_fit, _ = timed(lambda: eng.project(v1, progress=False), device)
    features = eng.evaluate(v1).embedding
    t_base, _ = timed(lambda: TSNE(n_jobs=-1, random_state=0).fit(features), device)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    t_inf2, _ = timed(lambda: eng.evaluate(v2), device)
    t_tr, _ = timed(lambda: eng.project(v2, progress=False), device)
    t_al = None
    if aligned:
        t_al, _ = timed(lambda: eng.project(v2, progress=False, mode="aligned"), device)
    ratio = t_base / t_fit
    rec = {
        "n": n,
        **sizes,
        "features_dim": int(features.shape[1]),
        "inference_v1_s": t_inf1,
        "fit_s": t_fit,
        "fit_pts_per_s": n / t_fit,
        "project_v1_s": t_inf1 + t_fit,
        "opentsne_fit_s": t_base,
        "opentsne_pts_per_s": n / t_base,
        "inference_v2_s": t_inf2,
        "transform_s": t_tr,
        "transform_pts_per_s": n / t_tr,
        "aligned_s": t_al,
        "aligned_pts_per_s": n / t_al if t_al else None,
        "ratio": ratio,
        "goal": GOALS["tsne_fit"],
    }
    results.setdefault("tsne", []).append(rec)
    pad = " " * 10
    out(
        f"tsne      N={n}  fit: engine {t_fit:.1f} s ({n / t_fit:.0f} pts/s)  "
        f"openTSNE {t_base:.1f} s ({n / t_base:.0f} pts/s)  "
        f"{goal_text(ratio, GOALS['tsne_fit'])} [openTSNE s / engine s]"
    )
    out(
        f"{pad}project(v1) {t_inf1 + t_fit:.1f} s = inference {t_inf1:.1f} s + t-SNE fit {t_fit:.1f} s"
    )
    line = f"{pad}transform v2 {t_tr:.1f} s ({n / t_tr:.0f} pts/s; + inference {t_inf2:.1f} s)"
    if t_al is not None:
        line += f"  aligned v2 {t_al:.1f} s ({n / t_al:.0f} pts/s)"
    out(line)


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, 1 repetition: a smoke run (~1.5 min on an idle 2-core CPU)",
    )
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--json", metavar="OUT", help="write every number to this JSON file")
    ap.add_argument(
        "--tsne-sizes",
        metavar="N,N",
        help="comma-separated t-SNE sizes (default 10000; --quick 2000,5000). 50000 adds "
        "10 to 25 minutes on a 2-core CPU (two 1-epoch trainings on 47k images, two 50k fits)",
    )
    ap.add_argument(
        "--measures",
        default=",".join(MEASURES),
        metavar="M,M",
        help=f"comma-separated subset of {','.join(MEASURES + OPTIONAL)} (default: {','.join(MEASURES)})",
    )
    ap.add_argument("--compile", action="store_true", help="also measure Engine(compile=True) (the compile measure)")
    ap.add_argument("--size", type=int, default=32, help="image size in px (default 32)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning, module="openTSNE")

    quick = args.quick
    if quick:  # a smoke run: same measures, smaller data, fewer repetitions
        data_sizes = {"n_train": 1500, "n_val": 300, "n_test": 600}
        epochs, train_reps, eval_reps, ws_reps = 1, 1, 3, 1
        tsne_sizes = [2000, 5000]
    else:
        data_sizes = {"n_train": 6000, "n_val": 1000, "n_test": 2000}
        epochs, train_reps, eval_reps, ws_reps = 2, 3, 5, 1
        tsne_sizes = [10_000]
    if args.tsne_sizes:
        tsne_sizes = [int(s) for s in args.tsne_sizes.split(",") if s.strip()]
    measures = [m.strip() for m in args.measures.split(",") if m.strip()]
    if args.compile and "compile" not in measures:
        measures.append("compile")
    unknown = set(measures) - set(MEASURES + OPTIONAL)
    if unknown:
        ap.error(f"unknown measures {sorted(unknown)}; choose from {MEASURES + OPTIONAL}")

    device = resolve_device(args.device)  # a clear error when cuda is asked for but absent
    t_start = time.perf_counter()
    ds = dw.datasets.load("colored-digits", seed=0, size=args.size, **data_sizes)
    eng = dw.Engine(ds, device=device)

    try:
        import openTSNE

        tsne_version = openTSNE.__version__
    except ImportError:  # only the tsne measure needs it
        if "tsne" in measures:
            raise
        tsne_version = "not installed"

    dev_name = str(device)
    if device.type == "cuda":
        dev_name += f" ({torch.cuda.get_device_name(device)})"
    h, w = ds.image_size
    counts = {s: len(ds.indices(s)) for s in ("train", "val", "test")}
    meta = {
        "torch": torch.__version__,
        "opentsne": tsne_version,
        "dashwidgets": dw.__version__,
        "python": platform.python_version(),
        "device": dev_name,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "quick": quick,
        "dataset": {"name": ds.name, "images": len(ds), "size": [h, w], **counts},
        "measures": measures,
        "tsne_sizes": tsne_sizes,
        "train_epochs": epochs,
        "train_reps": train_reps,
        "eval_reps": eval_reps,
    }
    out(
        f"dashwidgets engine benchmark{' (--quick)' if quick else ''}: ratios vs bare PyTorch / openTSNE, same run"
    )
    out(
        f"torch {torch.__version__}  openTSNE {tsne_version}  python {platform.python_version()}  "
        f"device {dev_name}  threads {torch.get_num_threads()} (cpus {os.cpu_count()})"
    )
    out(
        f"data      {ds.name}: {len(ds)} images {h}x{w} (train {counts['train']} / val {counts['val']} / "
        f"test {counts['test']}); train {epochs} epoch(s) x {train_reps} rep(s), evaluate median of {eval_reps}; "
        f"t-SNE N = {', '.join(map(str, tsne_sizes))}"
    )
    if set(measures) != set(MEASURES):
        out(f"measures  {', '.join(measures)} only")
    out()

    results: dict = {"meta": meta}
    if "train" in measures:
        v = measure_train(eng, epochs, train_reps, results)
    elif "evaluate" in measures:
        v = eng.train(epochs=1, progress=False)  # evaluate needs a trained version
    if "evaluate" in measures:
        measure_evaluate(eng, v, eval_reps, results)
    if "workspace" in measures:
        measure_workspace(ds, eng, device, ws_reps, results)
    if "compile" in measures:
        measure_compile(ds, device, epochs, max(2, train_reps), results)
    del eng
    gc.collect()
    if "tsne" in measures:
        for n in tsne_sizes:
            measure_tsne(n, device, aligned=(n == min(tsne_sizes)), results=results)
            gc.collect()

    total = time.perf_counter() - t_start
    results["meta"]["total_s"] = total
    out()
    out(f"total {total:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        out(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
