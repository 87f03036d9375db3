"""The selection wire format across the two implementations (issue 17 review): Python's
encode_selection → js/lib/selection.js decodeSelection → encodeSelection → Python's
decode_selection, run in Node on the real modules, so the kernel and the browser agree byte for
byte on every case (not only on the fixed cases both test files spell out), including what a
saved state may hold (unsorted, repeated indices) and what neither side may send (out of range)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dashwidgets.widgets._codec import decode_selection, encode_selection

SELECTION_JS = Path(__file__).resolve().parents[2] / "js" / "lib" / "selection.js"

CASES = [[], [0], [7], [8], [2**32 - 1], [5, 1000], [0, 3, 9], list(range(64)), list(range(0, 4000, 3)),
         list(range(0, 200_000, 37)), [31, 32, 33, 2**20], list(range(1, 70_000, 2))]



def _node(payload: dict) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required for the front end's tests (Node.js 20+)")
    script = (
        f"import {{ decodeSelection, encodeSelection }} from {json.dumps(SELECTION_JS.as_uri())};\n"
        "let text = ''; for await (const chunk of process.stdin) text += chunk;\n"
        "const out = {};\n"
        "for (const [name, v] of Object.entries(JSON.parse(text))) {\n"
        "  const bytes = Uint8Array.from(Buffer.from(v.hex, 'hex'));\n"
        "  const wire = { ...v, buffer: new DataView(bytes.buffer) };\n"
        "  try {\n"
        "    const idx = decodeSelection(wire);\n"
        "    const back = encodeSelection(idx);\n"
        "    out[name] = { decoded: Array.from(idx), encoding: back.encoding, count: back.count, shape: back.shape,\n"
        "      hex: Buffer.from(back.buffer.buffer, back.buffer.byteOffset, back.buffer.byteLength).toString('hex') };\n"
        "  } catch (e) { out[name] = { error: String(e.message) }; }\n"
        "}\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    res = subprocess.run([node, "--input-type=module", "-e", script], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _wire(value: dict) -> dict:
    return {**{k: v for k, v in value.items() if k != "buffer"}, "hex": bytes(value["buffer"]).hex()}


def test_python_and_javascript_encode_and_decode_every_case_alike():
    sent = {str(i): _wire(encode_selection(np.asarray(c, dtype=np.int64))) for i, c in enumerate(CASES)}
    got = _node(sent)
    for i, case in enumerate(CASES):
        js = got[str(i)]
        assert js["decoded"] == case, i  # the browser reads what the kernel sent
        assert {k: js[k] for k in ("encoding", "count", "shape", "hex")} == \
            {k: sent[str(i)][k] for k in ("encoding", "count", "shape", "hex")}, i  # and writes the same bytes
        back = decode_selection({**js, "buffer": bytes.fromhex(js["hex"])})
        assert back.tolist() == case, i


def test_unsorted_and_repeated_indices_read_the_same_on_both_sides():
    raw = np.array([9, 2, 2, 5], dtype="<u4").tobytes()
    header = {"encoding": "indices", "dtype": "uint32", "shape": [4], "count": 4}
    js = _node({"saved": {**header, "hex": raw.hex()}})["saved"]
    assert js["decoded"] == decode_selection({**header, "buffer": raw}).tolist() == [2, 5, 9]
    trailing = {"encoding": "bitmask", "dtype": "uint8", "shape": [3], "count": 1, "hex": "010000"}  # zero bytes after the top
    js = _node({"t": trailing})["t"]
    assert js["decoded"] == decode_selection({**trailing, "buffer": bytes.fromhex("010000")}).tolist() == [0]
    assert js["hex"] == "01" and js["encoding"] == "bitmask"  # re-encoded canonically


@pytest.mark.parametrize("bad", [[5, 2], [3, 3], [-1], [2**32], [0, 2**32 + 5]])
def test_encoding_refuses_what_is_not_sorted_unique_uint32(bad):
    with pytest.raises(ValueError, match="selection"):
        encode_selection(np.asarray(bad, dtype=np.int64))
