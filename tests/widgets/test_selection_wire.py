"""The selection trait on the wire (issue 17 §2): one binary buffer (uint32 indices, or a bitmask
when that is smaller) in both directions, while ``view.selection`` stays a sorted list of int.
The byte cases are the same as js/tests/selection-wire.test.js: both sides must agree byte for
byte, or the kernel would send every browser selection back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import traitlets

from dashwidgets.widgets._base import EngineView
from dashwidgets.widgets._codec import (
    SortedIndices,
    decode_selection,
    encode_selection,
    selection_encoding,
    selection_from_json,
    selection_to_json,
    sorted_unique,
)


class _Probe(EngineView):
    """The smallest engine view: the shared selection trait and nothing to load."""

    _esm = "export default { render() {} }"


@pytest.fixture
def probe(trained):
    eng, v = trained
    view = _Probe(eng, v)
    seen = []
    view.observe(lambda c: seen.append(c["new"]), "selection")
    return view, seen, len(eng.dataset)


def _from_browser(indices, encoding=None) -> dict:
    """What ipywidgets hands set_state for a selection JS wrote: the header and the bytes."""
    value = encode_selection(np.asarray(indices, dtype=np.int64))
    if encoding == "indices" and value["encoding"] != "indices":  # force the other encoding
        data = np.asarray(indices, dtype="<u4")
        value = {"encoding": "indices", "dtype": "uint32", "shape": [data.size], "count": int(data.size), "buffer": data.tobytes()}
    return {**value, "buffer": memoryview(bytes(value["buffer"]))}


def test_bytes_match_the_browser_encoder():
    sparse = encode_selection(np.array([5, 1000]))
    assert {k: v for k, v in sparse.items() if k != "buffer"} == {"encoding": "indices", "dtype": "uint32", "shape": [2], "count": 2}
    assert bytes(sparse["buffer"]) == bytes([5, 0, 0, 0, 0xE8, 3, 0, 0])
    dense = encode_selection(np.array([0, 3, 9]))
    assert dense["encoding"] == "bitmask" and dense["shape"] == [2] and dense["count"] == 3
    assert bytes(dense["buffer"]) == bytes([0b1001, 0b10])
    empty = encode_selection(np.array([], dtype=np.int64))
    assert empty["encoding"] == "indices" and empty["count"] == 0 and bytes(empty["buffer"]) == b""


def test_the_smaller_encoding_wins_by_the_browsers_rule():
    assert selection_encoding(0, 0) == "indices"
    assert selection_encoding(1, 0) == "bitmask"
    assert selection_encoding(1, 31) == "indices"
    assert selection_encoding(1000, 31999) == "indices"  # a tie stays indices
    assert selection_encoding(1000, 31990) == "bitmask"
    everything = encode_selection(np.arange(1_000_000))
    assert everything["encoding"] == "bitmask" and memoryview(everything["buffer"]).nbytes == 125_000


@pytest.mark.parametrize("indices", [[], [0], [2**32 - 1], [2, 3, 5, 7, 11], list(range(0, 200_000, 37)), list(range(70_000))])
def test_round_trip_of_every_density(indices):
    value = selection_to_json(indices)
    back = selection_from_json({**value, "buffer": memoryview(bytes(value["buffer"]))})
    assert isinstance(back, SortedIndices) and back == indices and type(back.indices) is list
    assert all(type(i) is int for i in back.indices[:3])
    json.dumps({k: v for k, v in value.items() if k != "buffer"})  # the header is plain JSON


def test_decoder_sorts_what_arrives_unsorted_and_names_malformed_values():
    data = np.array([9, 2, 2, 5], dtype="<u4").tobytes()
    assert decode_selection({"encoding": "indices", "dtype": "uint32", "shape": [4], "buffer": data}).tolist() == [2, 5, 9]
    with pytest.raises(ValueError, match="multiple of 4 bytes, got 3"):
        decode_selection({"encoding": "indices", "dtype": "uint32", "shape": [1], "buffer": b"abc"})
    with pytest.raises(ValueError, match="unknown selection encoding 'rle'"):
        decode_selection({"encoding": "rle", "dtype": "uint8", "shape": [1], "buffer": b"a"})
    with pytest.raises(ValueError, match="must be"):
        decode_selection(7)
    assert selection_from_json([4, 1]) == [4, 1]  # an older saved state: left to the validator
    assert sorted_unique(np.array([3, 1, 3, 2])).tolist() == [1, 2, 3]


@pytest.mark.parametrize("encoding", ["bitmask", "indices"])
def test_a_browser_selection_reaches_python_as_a_sorted_list(probe, encoding):
    view, seen, n = probe
    picked = list(range(0, n, 3)) if encoding == "bitmask" else [1, 7, n - 1]
    view.set_state({"selection": _from_browser(picked, encoding)})
    assert view.selection == picked and type(view.selection) is list and type(view.selection[0]) is int
    assert seen == [picked]  # the observer fired once
    assert view.error == ""


def test_the_kernel_sends_nothing_back_for_a_browser_selection(probe, monkeypatch):
    """The value Python would send equals what the browser sent: no second message, no redraw."""
    view, _, n = probe
    sent = []
    monkeypatch.setattr(view, "send_state", lambda key=None: sent.append(key))
    for picked in ([2, 5, 9], list(range(n))):
        view.set_state({"selection": _from_browser(picked)})
    assert view.selection == list(range(n)) and sent == []
    # an unsorted selection from an older front end is corrected, and the correction sent
    data = np.array([9, 2], dtype="<u4").tobytes()
    view.set_state({"selection": {"encoding": "indices", "dtype": "uint32", "shape": [2], "count": 2, "buffer": memoryview(data)}})
    assert view.selection == [2, 9] and len(sent) == 1


def test_out_of_range_from_the_browser_is_refused_and_shown(probe):
    view, seen, n = probe
    view.selection = [1, 2]
    seen.clear()
    with pytest.raises(traitlets.TraitError, match=rf"selection indices out of range \[0, {n}\): \[{n}, {n + 4}\]"):
        view.set_state({"selection": _from_browser([3, n, n + 4])})
    assert view.selection == [1, 2] and seen == []  # refused whole (set_state rolls back its
    # held changes, the error banner's too: a browser front end only writes in-range indices)


def test_python_values_keep_their_rules(probe):
    view, _, n = probe
    view.selection = np.arange(30, 0, -1)
    assert view.selection[:3] == [1, 2, 3] and type(view.selection[0]) is int
    view.selection = (4, 4, 0)
    assert view.selection == [0, 4]
    view.selection = range(3)
    assert view.selection == [0, 1, 2]
    with pytest.raises(traitlets.TraitError, match=r"out of range \[0, \d+\): \[-1\]"):
        view.selection = [-1, 2]
    with pytest.raises(traitlets.TraitError, match="must be image indices"):
        view.selection = [0.5]
    wire = view.trait_metadata("selection", "to_json")(view.selection, view)
    assert decode_selection(wire).tolist() == [0, 1, 2]


def test_linked_views_share_one_decoded_list_and_new_bytes_decode_afresh(trained):
    """jslink makes every linked view send the same bytes: they decode once and share the list;
    a payload of the same size but other bytes is never mistaken for it."""
    eng, v = trained
    a, b, c = (_Probe(eng, v) for _ in range(3))
    first = _from_browser(list(range(0, 600, 2)))
    a.set_state({"selection": first})
    b.set_state({"selection": {**first, "buffer": memoryview(bytes(first["buffer"]))}})
    assert a.selection == list(range(0, 600, 2)) and a.selection is b.selection
    other = _from_browser(list(range(1, 601, 2)))  # the same length and encoding, other bits
    assert memoryview(other["buffer"]).nbytes == memoryview(first["buffer"]).nbytes
    c.set_state({"selection": other})
    assert c.selection == list(range(1, 601, 2)) and a.selection == list(range(0, 600, 2))
    # an unsorted payload is sorted, and not remembered as the wire form of its list
    data = np.array([9, 2], dtype="<u4").tobytes()
    a.set_state({"selection": {"encoding": "indices", "dtype": "uint32", "shape": [2], "count": 2, "buffer": memoryview(data)}})
    assert a.selection == [2, 9]
    wire = selection_to_json(a.selection)
    assert bytes(wire["buffer"]) == bytes(encode_selection(np.array([2, 9]))["buffer"]) != data
