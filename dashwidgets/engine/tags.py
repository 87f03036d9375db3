"""The tag service: named, saved selections of images ("tags"), and its part of the workspace::

    tags.json       {"format": "dashwidgets-tags", "tags": {name: [sorted image indices]}}

A tag is a name and a set of image indices; tagging adds to the set, untagging removes from it
(all of it when no indices are given). Every change emits the store's ``"tags"`` event and, with a
workspace, reads ``tags.json`` again and rewrites it atomically, both under the workspace lock, so
two kernels tagging in one workspace merge their tags. A ``tags.json`` that cannot
be read is kept aside as ``tags.json.corrupt`` (never overwritten), named in the engine's
workspace errors, and the tags start empty; the versions and everything else still load.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np

from .context import DataContext
from .versions import VersionStore
from .workspace import atomic_write_json

FORMAT = "dashwidgets-tags"
MAX_NAME = 64
"""Longest tag name (characters, after stripping spaces)."""


def check_tag_name(name) -> str:
    """``name`` stripped of surrounding spaces; TypeError/ValueError say what is wrong with it."""
    if not isinstance(name, str):
        raise TypeError(f"a tag name must be a string, got {type(name).__name__} {name!r:.40}")
    clean = name.strip()
    if not clean:
        raise ValueError("a tag name must not be empty")
    if len(clean) > MAX_NAME:
        raise ValueError(f"tag name {clean[:20]!r}... is {len(clean)} characters long; at most {MAX_NAME}")
    if any(ord(c) < 32 or ord(c) == 127 for c in clean):
        raise ValueError(f"tag name {clean!r} holds control characters (newline, tab, ...)")
    return clean


class TagService:
    """``tag``, ``untag`` and ``tags`` of the Engine (see the module docstring)."""

    def __init__(self, ctx: DataContext, store: VersionStore):
        self.ctx = ctx
        self.store = store
        self._tags: dict[str, np.ndarray] = {}
        self._readonly = False
        if store.workspace is not None:
            self._restore()

    # ---------------------------------------------------------------- files
    def _path(self):
        return self.store.workspace.path("tags.json")

    def _read(self) -> dict[str, np.ndarray] | None:
        """The tags in ``tags.json`` (None when there is none); raises when it cannot be read."""
        path = self._path()
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tags"), dict):
            raise ValueError(f"not a {FORMAT} file")
        tags = {}
        for name, idx in data["tags"].items():
            clean = check_tag_name(name)
            if not isinstance(idx, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in idx):
                raise ValueError(f"tag {clean!r} does not hold a list of image indices")
            tags[clean] = np.unique(self.ctx.dataset.check_indices(np.asarray(idx, dtype=np.int64)))
        return {k: tags[k] for k in sorted(tags)}

    def _read_or_set_aside(self) -> dict[str, np.ndarray] | None:
        """:meth:`_read`, or None after keeping an unreadable file aside (named in the workspace
        errors; the file is never overwritten). Call it under the workspace lock."""
        path = self._path()
        try:
            return self._read()
        except (ValueError, TypeError, UnicodeDecodeError, OSError) as e:
            try:
                aside = next(
                    p for k in range(1, 1000)
                    if not (p := path.with_name(path.name + (".corrupt" if k == 1 else f".corrupt{k}"))).exists()
                )
                os.replace(path, aside)  # kept for the user; the next tag writes a fresh file
                kept = f"kept as {aside.name}"
            except (OSError, StopIteration):
                self._readonly = True  # never overwrite a file we could not keep aside
                kept = "left in place (tags will not be saved)"
            self.store.workspace_errors.append(f"corrupted tags file {path}: {str(e)[:200]}; {kept}, tags start empty")
            return None

    def _restore(self) -> None:
        with self.store.workspace.locked():
            self._tags = self._read_or_set_aside() or {}

    def _change(self, apply) -> list[int]:
        """Run ``apply()`` on the tags and save them. With a workspace the file is read again
        under its lock first, so that two kernels tagging in one workspace merge their tags
        instead of the last writer dropping the other's."""
        ws = self.store.workspace
        with self.store.lock:
            if ws is None or self._readonly:
                return apply()
            with ws.locked():
                disk = self._read_or_set_aside()
                if disk is not None:
                    self._tags = disk
                out = apply()
                if not self._readonly:
                    atomic_write_json(self._path(), {"format": FORMAT, "tags": {k: v.tolist() for k, v in self._tags.items()}})
                return out

    # ---------------------------------------------------------------- API
    def _indices(self, indices) -> np.ndarray:
        if isinstance(indices, (str, bytes)):
            raise TypeError(f"indices must be image indices (integers), got the string {indices!r:.40}")
        return np.unique(self.ctx.dataset.check_indices(indices))

    def tag(self, name: str, indices: Sequence[int] | np.ndarray) -> list[int]:
        name = check_tag_name(name)
        idx = self._indices(indices)
        if not len(idx):
            raise ValueError(f"no images to tag {name!r}: the indices are empty (select some images first)")
        before = {}

        def apply() -> list[int]:
            before["n"] = len(self._tags.get(name, ()))
            self._tags[name] = np.union1d(self._tags.get(name, np.zeros(0, np.int64)), idx)
            self._tags = {k: self._tags[k] for k in sorted(self._tags)}
            return self._tags[name].tolist()

        out = self._change(apply)
        self.store.emit("tags", tag=name, added=len(out) - before["n"])
        return out

    def untag(self, name: str, indices: Sequence[int] | np.ndarray | None) -> list[int]:
        name = check_tag_name(name)
        drop = None if indices is None else self._indices(indices)
        before = {}

        def apply() -> list[int]:
            if name not in self._tags:
                raise ValueError(f"unknown tag {name!r}; tags are {list(self._tags) or 'none yet'}")
            before["n"] = len(self._tags[name])
            rest = np.zeros(0, np.int64) if drop is None else np.setdiff1d(self._tags[name], drop)
            if len(rest):
                self._tags[name] = rest
            else:
                del self._tags[name]  # a tag with no images is no tag
            return rest.tolist()

        out = self._change(apply)
        self.store.emit("tags", tag=name, removed=before["n"] - len(out))
        return out

    @property
    def tags(self) -> dict[str, list[int]]:
        with self.store.lock:
            return {k: v.tolist() for k, v in self._tags.items()}

    def members(self, name: str) -> np.ndarray:
        """``[M] int64`` sorted indices of tag ``name``; ValueError names unknown tags."""
        name = check_tag_name(name)
        with self.store.lock:
            if name not in self._tags:
                raise ValueError(f"unknown tag {name!r}; tags are {list(self._tags) or 'none yet'}")
            return self._tags[name].copy()

    def tags_of(self, indices: np.ndarray) -> list[list[str]]:
        """For each image in ``indices``, the sorted names of the tags holding it."""
        with self.store.lock:
            items = list(self._tags.items())
        out: list[list[str]] = [[] for _ in range(len(indices))]
        for name, members in items:
            for k in np.flatnonzero(np.isin(indices, members)):
                out[k].append(name)
        return out
