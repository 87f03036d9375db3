"""A selection from the browser to Python: one binary buffer against the JSON list it replaced.

    python benchmarks/selection.py [--n 1000000] [--sizes 10000 100000 1000000] [--reps 5]
                                   [--views 1 8] [--json OUT]

Project rule: a ratio against a baseline measured in the same run. Both sides take the path a
lasso's update takes through the kernel, from the comm message's frames to the view's selection
observer, on the same N-image view:

``binary``  the frames a front end sends with js/lib/selection.js's writeSelection (a small JSON
            header, the indices as one uint32 buffer or a bitmask, whichever is smaller), parsed by
            jupyter_client's Session, then ipywidgets' ``_handle_msg``: ``selection_from_json``,
            the view's validator, the observer, and ipywidgets' check whether the value must be
            sent back (``to_json`` of the new value compared with what arrived).
``json``    the same path with the trait as it was before issue 17: ``traitlets.List`` synced as a
            JSON list of int, the old validator (``np.unique``), the same observer and echo check.

Ratio = json ms / binary ms (higher is better), median of ``--reps`` runs; goal >= 2x at every
size. The k selected images are a random subset of the N (a lasso's indices are scattered over the
dataset order), and k = N is "select all". ``--views V`` repeats the message on V views, as jslink
does in a Dashboard (every linked view sends the selection it was given to the kernel); the time is
then to the last view's observer. It also prints the bytes on the wire (JSON text vs buffer),
and, when ``node`` is on the PATH, the browser's share: JSON.stringify of the indices vs
writeSelection's encoding (encodeSelection), and JSON.parse vs decodeSelection for the way back.
Not measured here: the websocket itself and JupyterLab's handling (benchmarks/projection.py times
a real lasso in Chromium).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import traitlets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jupyter_client.session import Session  # noqa: E402

from dashwidgets.widgets._base import EngineView, View  # noqa: E402
from dashwidgets.widgets._codec import encode_selection  # noqa: E402

ESM = "export default { render() {} }"


class BinaryView(EngineView):
    """An engine view's selection trait (today's) on an N-image stand-in engine."""

    _esm = ESM

    def __init__(self, n: int):
        self._engine = SimpleNamespace(dataset=range(n))  # the validator reads len(dataset) only
        View.__init__(self)


class _OldIndices(traitlets.List):
    def validate(self, obj, value):
        if isinstance(value, (np.ndarray, tuple, range)):
            value = np.asarray(value).tolist()
        return super().validate(obj, value)


class JsonView(View):
    """The selection trait before issue 17: a JSON list, validated with np.unique."""

    _esm = ESM
    selection = _OldIndices().tag(sync=True)

    def __init__(self, n: int):
        self._n = n
        super().__init__()

    @traitlets.validate("selection")
    def _check_selection(self, proposal):
        arr = np.asarray(list(proposal["value"]))
        if arr.size == 0:
            return []
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            self._reject(f"selection must be image indices (integers), got {arr.dtype} values")
        bad = arr[(arr < 0) | (arr >= self._n)]
        if bad.size:
            self._reject(f"selection indices out of range [0, {self._n}): {bad[:5].tolist()}")
        return np.unique(arr).tolist()


def frames(session: Session, comm_id: str, picked: np.ndarray, binary: bool) -> list[bytes]:
    """The comm_msg a front end sends for the new selection, serialised to its zmq frames."""
    if binary:
        value = encode_selection(picked)
        buf = bytes(value.pop("buffer"))
        data = {"method": "update", "state": {"selection": value}, "buffer_paths": [["selection", "buffer"]]}
        buffers = [buf]
    else:
        data = {"method": "update", "state": {"selection": picked.tolist()}}
        buffers = []
    msg = session.msg("comm_msg", {"comm_id": comm_id, "data": data})
    msg["buffers"] = buffers
    out = session.serialize(msg)
    return [*out, *buffers]


def one_run(session: Session, views: list, msgs: list[list[bytes]], stamps: list) -> float:
    """Seconds from the first message's frames to the last view's observer."""
    for v in views:  # start from a different selection, as a new lasso does
        with v.hold_sync():
            v.selection = [0]
    stamps.clear()
    t0 = time.perf_counter()
    for v, raw in zip(views, msgs, strict=True):
        idents, rest = session.feed_identities(raw)
        msg = session.deserialize(rest)
        v._handle_msg(msg)
    if len(stamps) != len(views):
        raise RuntimeError(f"{len(views) - len(stamps)} view(s) did not receive the selection")
    return stamps[-1] - t0


def kernel_side(n: int, k: int, n_views: int, reps: int, rng: np.random.Generator) -> dict:
    picked = np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)
    session = Session(key=b"")
    out = {"k": k, "views": n_views}
    stamps: list[float] = []
    sides = {}
    for name, cls, binary in (("binary", BinaryView, True), ("json", JsonView, False)):
        views = [cls(n) for _ in range(n_views)]
        for v in views:
            v.observe(lambda c: stamps.append(time.perf_counter()), "selection")
        msgs = [frames(session, v.comm.comm_id if v.comm else "x", picked, binary) for v in views]
        sides[name] = (views, msgs)
    out["json_bytes"] = len(json.dumps(picked.tolist()))
    samples = {"binary": [], "json": []}
    for name in samples:  # one untimed run each: first-call costs (imports, caches) out of the way
        one_run(session, *sides[name], stamps)
    for r in range(reps):  # interleaved, the order flipping each repetition
        order = ["binary", "json"] if r % 2 == 0 else ["json", "binary"]
        for name in order:
            views, msgs = sides[name]
            samples[name].append(one_run(session, views, msgs, stamps))
            assert views[-1].selection[:3] == picked[:3].tolist() and len(views[-1].selection) == k
    out["binary_bytes"] = memoryview(encode_selection(picked)["buffer"]).nbytes
    out["encoding"] = encode_selection(picked)["encoding"]
    out["samples"] = samples
    out["binary_ms"] = 1000 * statistics.median(samples["binary"])
    out["json_ms"] = 1000 * statistics.median(samples["json"])
    out["ratio"] = out["json_ms"] / out["binary_ms"]
    for views, _ in sides.values():
        for v in views:
            v.close()
    return out


NODE = """
import { encodeSelection, decodeSelection } from %s;
const n = %d, sizes = %s, reps = %d;
const out = [];
for (const k of sizes) {
  const picked = [];
  for (let i = 0, step = n / k; picked.length < k; i += step) picked.push(Math.floor(i));
  const med = (f) => { const t = []; for (let r = 0; r < reps; r++) { const s = performance.now(); f(); t.push(performance.now() - s); } return t.sort((a, b) => a - b)[reps >> 1]; };
  const text = JSON.stringify(picked), wire = encodeSelection(picked);
  out.push({ k, stringify_ms: med(() => JSON.stringify(picked)), encode_ms: med(() => encodeSelection(picked)),
             parse_ms: med(() => JSON.parse(text)), decode_ms: med(() => decodeSelection({ ...wire })) });
}
console.log(JSON.stringify(out));
"""


def browser_side(n: int, sizes: list[int], reps: int) -> list[dict] | None:
    """The browser's encode/decode cost in node (V8, as Chromium), or None without node."""
    lib = json.dumps((REPO / "js" / "lib" / "selection.js").as_uri())
    try:
        res = subprocess.run(["node", "--input-type=module", "-e", NODE % (lib, n, json.dumps(sizes), reps)],
                             capture_output=True, text=True, timeout=300, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        print(f"(browser side skipped: {e})")
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="images in the view's dataset")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--views", type=int, nargs="+", default=[1, 8], help="linked views receiving the selection")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"selection transfer, N = {args.n:,} images, median of {args.reps} (numpy {np.__version__}, traitlets {traitlets.__version__})")
    results = {"kernel": [], "browser": None}
    for n_views in args.views:
        for k in args.sizes:
            r = kernel_side(args.n, k, n_views, args.reps, rng)
            results["kernel"].append(r)
            mark = "" if r["ratio"] >= 2 else "  <- below goal"
            print(f"kernel  k={k:>9,} views={n_views}: binary {r['binary_ms']:7.1f} ms ({r['encoding']}, {r['binary_bytes']:,} B)"
                  f" | json {r['json_ms']:7.1f} ms ({r['json_bytes']:,} B) | ratio {r['ratio']:5.1f}x (goal >= 2x){mark}")
    results["browser"] = browser_side(args.n, args.sizes, args.reps)
    for b in results["browser"] or []:
        enc = b["stringify_ms"] / max(b["encode_ms"], 1e-3)
        dec = b["parse_ms"] / max(b["decode_ms"], 1e-3)
        print(f"browser k={b['k']:>9,}: encode {b['encode_ms']:6.1f} ms vs JSON.stringify {b['stringify_ms']:6.1f} ms ({enc:5.1f}x)"
              f" | decode {b['decode_ms']:6.1f} ms vs JSON.parse {b['parse_ms']:6.1f} ms ({dec:5.1f}x) (goal >= 1x)"
              + ("" if min(enc, dec) >= 1 else "  <- below goal"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
