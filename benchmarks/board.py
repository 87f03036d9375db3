"""What the ClassifierBoard's live progress costs training: a board-started job vs a bare job.

Run ``python benchmarks/board.py [--epochs 3] [--reps 3] [--device auto|cpu|cuda] [--json OUT]``.

Project rule: a ratio against a baseline measured in the same run. Both sides run inside a real
IPython kernel (started here with jupyter_client), because that is where the board's cost lives:
every trait change becomes a comm message serialised onto the kernel's iopub socket.

``bare``   ``eng.train_async(**cfg).result()``: the same background job with no listener.
``board``  ``board.train()`` with the form set to the same config, then ``job.result()``: the
           board listens to every batch event (forwarding progress at most every 0.25 s) and to
           every epoch event (two loss lists), and refreshes its version table at the end.

Same engine, data (patch-digits, 3,000 / 500 / 500 images), seed and hyper-parameters; runs
interleave (the order flips each repetition); ratio = bare s / board s (1.00x: free). Goal:
>= 0.95x (the board costs at most 5 %).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

KERNEL_CODE = """
import json, statistics, time, torch
import dashwidgets as dw
torch.manual_seed(0)
ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=3000, n_val=500, n_test=500)
eng = dw.Engine(ds, device={device!r})
eng.train(epochs=1, progress=False)  # warm-up: kernels, allocator, caches
board = dw.ClassifierBoard(eng)
board.epochs = {epochs}
cfg = board.config().to_dict()

def bare():
    t = time.perf_counter(); v = eng.train_async(**cfg).result(); dt = time.perf_counter() - t
    eng.discard(v); return dt

def with_board():
    t = time.perf_counter(); v = board.train().result(); dt = time.perf_counter() - t
    while board.state == "running": time.sleep(0.001)
    eng.discard(v); return dt

samples = {{"bare": [], "board": []}}
for r in range({reps}):
    pair = [("bare", bare), ("board", with_board)]
    for name, fn in (pair if r % 2 == 0 else pair[::-1]):
        samples[name].append(fn())
print("RESULT" + json.dumps({{"samples": samples, "device": str(eng.device), "epochs": {epochs},
      "batches_per_epoch": -(-len(ds.indices("train")) // cfg["batch_size"])}}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(Path(__file__).resolve().parent.parent))
    out: list[str] = []
    try:
        code = textwrap.dedent(KERNEL_CODE.format(device=args.device, epochs=args.epochs, reps=args.reps))

        def collect(msg):
            if msg["header"]["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["header"]["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = kc.execute_interactive(code, timeout=3600, output_hook=collect)
        if reply["content"]["status"] != "ok":
            print("".join(out), file=sys.stderr)
            return 1
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    line = next(x for x in "".join(out).splitlines() if x.startswith("RESULT"))
    res = json.loads(line[len("RESULT") :])
    import statistics

    bare = statistics.median(res["samples"]["bare"])
    board = statistics.median(res["samples"]["board"])
    ratio = bare / board
    flag = "" if ratio >= 0.95 else "  <- below goal"
    print(
        f"board vs bare training job in a live kernel ({res['device']}, {res['epochs']} epochs x "
        f"{res['batches_per_epoch']} batches): bare {bare:.2f} s  board {board:.2f} s  "
        f"ratio {ratio:.3f}x (goal >= 0.95x){flag} [bare s / board s, median of {args.reps}]"
    )
    if args.json:
        args.json.write_text(json.dumps({**res, "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
