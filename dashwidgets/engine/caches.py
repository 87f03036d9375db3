"""Per-version caches: values keyed per version and bounded in memory (entries or bytes),
registered with the :class:`~.versions.VersionStore` so discarding a version frees them all."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import torch


def _nbytes(value: Any) -> int:
    """Rough memory held by a cached value (tensors, arrays and objects holding them)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    fields = getattr(value, "__dict__", None) or {}
    if not fields and hasattr(value, "__dataclass_fields__"):
        fields = {k: getattr(value, k) for k in value.__dataclass_fields__}
    return sum(_nbytes(v) for v in fields.values() if isinstance(v, (torch.Tensor, np.ndarray, list, tuple, dict)))


class VersionCache:
    """One service's cache: values keyed per version, least recently used dropped first once
    ``max_items`` entries or ``max_bytes`` are exceeded. Values of a version that is gone (or
    goes while they are computed) are never kept."""

    def __init__(self, name: str, alive: Callable[[str], bool], max_items: int | None, max_bytes: int | None):
        self.name = name
        self._alive = alive
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._data: OrderedDict[tuple[str, Hashable], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.RLock()

    def get(self, vid: str, key: Hashable = None) -> Any:
        with self._lock:
            hit = self._data.get((vid, key))
            if hit is None:
                return None
            self._data.move_to_end((vid, key))
            return hit[0]

    def put(self, vid: str, key: Hashable, value: Any) -> Any:
        """Keep ``value`` (unless ``vid`` was discarded meanwhile) and return it."""
        size = _nbytes(value)
        with self._lock:
            if not self._alive(vid):
                return value
            old = self._data.pop((vid, key), None)
            if old is not None:
                self._bytes -= old[1]
            self._data[(vid, key)] = (value, size)
            self._bytes += size
            while len(self._data) > 1 and (
                (self.max_items is not None and len(self._data) > self.max_items)
                or (self.max_bytes is not None and self._bytes > self.max_bytes)
            ):
                _, (_, s) = self._data.popitem(last=False)
                self._bytes -= s
        return value

    def keys(self, vid: str) -> list[Hashable]:
        with self._lock:
            return [k for v, k in self._data if v == vid]

    def drop(self, vid: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k[0] == vid]:
                self._bytes -= self._data.pop(key)[1]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"VersionCache({self.name!r}, {len(self)} entries, {self._bytes / 2**20:.1f} MiB)"
