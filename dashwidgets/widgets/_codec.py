"""One typed-array codec between the kernel and the browser: dtype and shape travel with the bytes.

A view declares a binary trait as ``Array("float32", (None, 2))``; the value is a C-contiguous
numpy array of that dtype, and the browser receives ``{"dtype", "shape", "buffer"}`` with the
buffer as a binary comm frame (no JSON list, no base64). ``js/lib/binary.js``'s ``decodeArray``
is the one reader on the other side and refuses a dtype or shape its view did not ask for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

WIRE_DTYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "float32", "float64")
"""dtypes a browser typed array can hold (no 64-bit integers: JS would need BigInt)."""

_NARROW = {"float64": "float32", "int64": "int32", "uint64": "uint32", "bool": "uint8"}


def _fits(arr: np.ndarray, dtype: np.dtype) -> bool:
    """True when every value of the integer/bool array ``arr`` is representable in ``dtype``."""
    if arr.size == 0 or arr.dtype.kind == "b":
        return True
    info = np.iinfo(dtype)
    return bool(arr.min() >= info.min and arr.max() <= info.max)


def wire_array(value: Any, name: str = "array") -> np.ndarray:
    """``value`` as the C-contiguous array that travels: float64 → float32, int64 → int32 and
    uint64 → uint32 where the values fit, bool → uint8. Object, string and complex arrays, and
    64-bit integers that do not fit 32 bits, raise a TypeError / ValueError naming ``name``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be a numpy array (dtype and shape travel with it), got raw {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric numpy array, got dtype {arr.dtype}")
    target = np.dtype(_NARROW.get(arr.dtype.name, arr.dtype.name))
    if target.name not in WIRE_DTYPES:
        raise TypeError(f"{name} has dtype {arr.dtype}, which has no browser typed array; use one of {WIRE_DTYPES}")
    if target.kind in "iu" and arr.dtype != target and not _fits(arr, target):
        raise ValueError(f"{name} has {arr.dtype} values outside the {target} range; they cannot travel as {target}")
    return np.ascontiguousarray(arr, dtype=target)


def array_to_json(value: np.ndarray, widget: Any = None) -> dict:
    """Serialize for the comm: ``{"dtype": "float32", "shape": [N, 2], "buffer": memoryview}``."""
    arr = wire_array(value)
    return {"dtype": arr.dtype.name, "shape": list(arr.shape), "buffer": memoryview(arr.reshape(-1).view(np.uint8))}


def narrow_to_json(dtype: str):
    """A ``to_json`` that sends an integer array as ``dtype`` when every value fits it (e.g. class
    codes as uint8 when there are <= 256 classes: half the bytes of uint16), else as
    :func:`array_to_json` would. The browser's decoder accepts both dtypes for such a trait."""
    narrow = np.dtype(dtype)

    def to_json(value: np.ndarray, widget: Any = None) -> dict:
        arr = wire_array(value)
        if arr.dtype.kind in "iu" and arr.dtype.itemsize > narrow.itemsize and _fits(arr, narrow):
            arr = arr.astype(narrow)
        return array_to_json(arr, widget)

    to_json.narrows_to = narrow.name
    return to_json


def array_from_json(value: dict | None, widget: Any = None) -> np.ndarray | None:
    """The inverse of :func:`array_to_json` (a browser or a saved widget state sending one back)."""
    if value is None:
        return None
    dtype = np.dtype(value["dtype"])
    if dtype.name not in WIRE_DTYPES:
        raise TypeError(f"unknown array dtype {value['dtype']!r}; expected one of {WIRE_DTYPES}")
    return np.frombuffer(bytes(value["buffer"]), dtype=dtype).reshape(value["shape"])


class Array(traitlets.TraitType):
    """A synced numpy array of one dtype and a declared shape (``None`` for any length).

    Assigned values are cast to ``dtype`` when that loses nothing (integers that fit, floats to
    float32, bools to uint8); anything else (objects, strings, out-of-range integers, floats for an
    integer trait, the wrong number of dimensions or a fixed axis of the wrong size) raises a
    TraitError that names the trait and the expected form.
    """

    info_text = "a numpy array"

    def __init__(self, dtype: str, shape: tuple[int | None, ...] = (None,), wire_narrow: str | None = None, **kwargs: Any):
        if np.dtype(dtype).name not in WIRE_DTYPES:
            raise ValueError(f"dtype must be one of {WIRE_DTYPES}, got {dtype!r}")
        if wire_narrow is not None and (np.dtype(wire_narrow).kind not in "iu" or np.dtype(dtype).kind not in "iu"):
            raise ValueError(f"wire_narrow narrows integer arrays only, got {dtype!r} -> {wire_narrow!r}")
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        empty = np.zeros(tuple(0 if s is None else s for s in self.shape), self.dtype)
        empty.flags.writeable = False
        super().__init__(default_value=empty, **kwargs)
        # wire_narrow: values that fit travel in that narrower dtype (the trait keeps `dtype`)
        self.tag(to_json=narrow_to_json(wire_narrow) if wire_narrow else array_to_json, from_json=array_from_json)

    def _form(self) -> str:
        dims = ", ".join("*" if s is None else str(s) for s in self.shape)
        return f"{self.dtype.name} [{dims}]"

    def validate(self, obj: Any, value: Any) -> np.ndarray:
        where = f"{type(obj).__name__}.{self.name}" if obj is not None else str(self.name)
        if isinstance(value, (bytes, bytearray, memoryview)):
            raise traitlets.TraitError(f"{where} expects a numpy array ({self._form()}), got raw {type(value).__name__}")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise traitlets.TraitError(f"{where} expects a numeric array ({self._form()}), got dtype {arr.dtype}")
        if arr.ndim != len(self.shape) or any(s is not None and s != d for s, d in zip(self.shape, arr.shape, strict=True)):
            if not (arr.size == 0 and arr.ndim == 1):  # an empty 1-D array stands for "nothing yet"
                raise traitlets.TraitError(f"{where} expects shape {self._form()}, got {arr.dtype} {list(arr.shape)}")
            arr = arr.reshape(tuple(0 if s is None else s for s in self.shape)) if None in self.shape else arr
        if self.dtype.kind in "iu":
            if arr.dtype.kind == "f" and arr.size:
                raise traitlets.TraitError(f"{where} expects integers ({self._form()}), got {arr.dtype}")
            if not _fits(arr, self.dtype):
                raise traitlets.TraitError(f"{where} values do not fit {self.dtype.name} (range {arr.min()}..{arr.max()})")
        out = np.ascontiguousarray(arr, dtype=self.dtype)
        if out.ndim != len(self.shape):
            raise traitlets.TraitError(f"{where} expects shape {self._form()}, got {list(arr.shape)}")
        return out

    def set(self, obj: Any, value: Any) -> None:
        # traitlets compares old == new to decide whether to notify; arrays need array_equal
        new = self._validate(obj, value)
        old = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new
        same = isinstance(old, np.ndarray) and old.shape == new.shape and old.dtype == new.dtype and np.array_equal(old, new)
        if not same:
            obj._notify_trait(self.name, old, new)


# ---------------------------------------------------------------------------- selections
# A selection (sorted unique image indices) travels as ONE binary buffer, whichever is smaller:
#   {"encoding": "indices", "dtype": "uint32", "shape": [k], "count": k, "buffer"}: the indices;
#   {"encoding": "bitmask", "dtype": "uint8", "shape": [m], "count": k, "buffer"}: bit i & 7 of
#   byte i >> 3 is set when image i is selected (m = max index // 8 + 1; the unused bits are 0).
# Both sides pick the encoding by the same rule (:func:`selection_encoding`), so the value the
# kernel would send back equals the one the browser sent and no echo travels; jslink copies the
# object as it is. ``js/lib/selection.js``'s readSelection / writeSelection are the JS twins.


class SortedIndices:
    """A selection decoded from the wire: ``indices``, a plain list of sorted, unique, non-negative
    Python ints (a validator checks only its largest against the dataset and returns ``indices``).

    jslink makes every linked view send the kernel the same bytes; the last payload's list is
    kept (:func:`selection_from_json`), so those views share one list object instead of decoding
    and holding a copy each (at 10^6 indices a list is ~36 MB and 35 ms of ``tolist``). Treat a
    trait's list as read-only, as traitlets does: assign a new one.
    """

    __slots__ = ("indices",)

    def __init__(self, indices: list):
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __eq__(self, other: object) -> bool:
        return self.indices == (other.indices if isinstance(other, SortedIndices) else other)

    __hash__ = None  # a mutable list inside


def selection_encoding(count: int, top: int) -> str:
    """The smaller encoding of ``count`` indices whose largest is ``top``: "bitmask" when its
    ``top // 8 + 1`` bytes are fewer than the ``4 * count`` bytes of uint32 indices."""
    return "bitmask" if count and top // 8 + 1 < 4 * count else "indices"


def encode_selection(indices: np.ndarray) -> dict:
    """``{"encoding", "dtype", "shape", "count", "buffer"}`` of sorted unique non-negative
    indices ``indices`` (any integer dtype, values below 2**32); anything else is a ValueError
    (it would wrap around in uint32, or set the wrong bits)."""
    idx = np.asarray(indices)
    count = int(idx.size)
    if count and (idx.ndim != 1 or idx.dtype.kind not in "iu"):
        raise ValueError(f"a selection must be a 1-D array of integer indices, got {idx.dtype} {list(idx.shape)}")
    if count and (int(idx[0]) < 0 or int(idx[-1]) > 0xFFFFFFFF or not _ascending(idx)):
        raise ValueError(f"a selection must be ascending unique indices in [0, 2**32) (see sorted_unique), "
                         f"got {idx[:5].tolist()}{' ...' if count > 5 else ''}")
    top = int(idx[-1]) if count else 0
    if selection_encoding(count, top) == "bitmask":
        mask = np.zeros(top + 1, dtype=bool)
        mask[idx] = True
        data = np.packbits(mask, bitorder="little")
        return {"encoding": "bitmask", "dtype": "uint8", "shape": [int(data.size)], "count": count, "buffer": memoryview(data)}
    data = np.ascontiguousarray(idx, dtype="<u4")
    return {"encoding": "indices", "dtype": "uint32", "shape": [count], "count": count, "buffer": memoryview(data.view(np.uint8))}


def decode_selection(value: dict) -> np.ndarray:
    """The sorted unique indices (int64) of a wire selection (either encoding); a ValueError
    names what is malformed. Indices that arrive unsorted or repeated are sorted and deduplicated."""
    if not isinstance(value, dict) or "buffer" not in value:
        raise ValueError(f"a selection must be {{encoding, dtype, shape, count, buffer}}, got {type(value).__name__}")
    encoding, buf = value.get("encoding", "indices"), value["buffer"]
    if encoding == "bitmask":
        bits = np.frombuffer(buf, dtype=np.uint8)
        return np.flatnonzero(np.unpackbits(bits, bitorder="little"))
    if encoding != "indices" or value.get("dtype", "uint32") != "uint32":
        raise ValueError(f"unknown selection encoding {encoding!r} / dtype {value.get('dtype')!r}; expected indices (uint32) or bitmask (uint8)")
    nbytes = memoryview(buf).nbytes
    if nbytes % 4:
        raise ValueError(f"a selection of uint32 indices needs a multiple of 4 bytes, got {nbytes}")
    idx = np.frombuffer(buf, dtype="<u4").astype(np.int64)
    if idx.size > 1 and not bool(np.all(idx[1:] > idx[:-1])):
        idx = sorted_unique(idx)
    return idx


def _ascending(arr: np.ndarray) -> bool:
    """Whether the 1-D ``arr`` ascends strictly (no repeats)."""
    return arr.size < 2 or bool(np.all(arr[1:] > arr[:-1]))


def sorted_unique(arr: np.ndarray) -> np.ndarray:
    """``np.unique(arr)`` by sort and neighbour comparison: numpy 2's hash-based ``unique`` takes
    ~0.5 s for 10^6 indices, this ~15 ms (and nothing when they already ascend)."""
    arr = np.asarray(arr).reshape(-1)
    if _ascending(arr):
        return arr
    s = np.sort(arr)
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


_last: tuple | None = None
"""(encoding, wire bytes, list, wire object) of the last selection decoded or encoded; replaced
whole (one assignment), so a reader on another thread sees one consistent entry."""


def _remember(indices: list, wire: dict) -> None:
    global _last
    _last = (wire["encoding"], bytes(wire["buffer"]), indices, wire)


def selection_to_json(value: Any, widget: Any = None) -> dict:
    """Serialize a selection trait (a sorted list of int, as validated) for the comm. The wire
    form of the last selection seen is reused while the value equals it (ipywidgets serializes
    the value again to compare it with what the browser sent, once per linked view)."""
    last = _last
    if last is not None and isinstance(value, list) and (value is last[2] or value == last[2]):
        return dict(last[3])
    wire = encode_selection(np.asarray(value, dtype=np.int64))
    _remember(value if isinstance(value, list) else list(value), wire)
    return dict(wire)


def selection_from_json(value: Any, widget: Any = None) -> Any:
    """A selection from the browser (or a saved widget state) as :class:`SortedIndices`; a plain
    JSON list (an older front end or saved state) is passed on for the trait's validator."""
    if value is None or isinstance(value, list):
        return value if value is not None else []
    if not isinstance(value, dict) or "buffer" not in value:
        raise ValueError(f"a selection must be {{encoding, dtype, shape, count, buffer}}, got {type(value).__name__}")
    encoding, buf = value.get("encoding", "indices"), memoryview(value["buffer"]).cast("B")
    last = _last
    if last is not None and last[0] == encoding and buf.nbytes == len(last[1]) and buf == last[1]:
        return SortedIndices(last[2])  # the same payload again: another jslinked view
    indices = decode_selection(value).tolist()
    if _canonical(value, indices):  # the bytes the kernel would send for this list
        _remember(indices, {**{k: v for k, v in value.items() if k != "buffer"}, "buffer": memoryview(buf.tobytes())})
    return SortedIndices(indices)


def _canonical(value: dict, indices: list) -> bool:
    count, top = len(indices), (indices[-1] if indices else 0)
    encoding = value.get("encoding", "indices")
    if encoding != selection_encoding(count, top) or value.get("count") != count:
        return False
    if encoding == "bitmask":
        return memoryview(value["buffer"]).nbytes == top // 8 + 1
    idx = np.frombuffer(value["buffer"], dtype="<u4")
    return idx.size < 2 or bool(np.all(idx[1:] > idx[:-1]))
