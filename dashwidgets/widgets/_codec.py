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

    def __init__(self, dtype: str, shape: tuple[int | None, ...] = (None,), **kwargs: Any):
        if np.dtype(dtype).name not in WIRE_DTYPES:
            raise ValueError(f"dtype must be one of {WIRE_DTYPES}, got {dtype!r}")
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        empty = np.zeros(tuple(0 if s is None else s for s in self.shape), self.dtype)
        empty.flags.writeable = False
        super().__init__(default_value=empty, **kwargs)
        self.tag(to_json=array_to_json, from_json=array_from_json)

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
