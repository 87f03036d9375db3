"""The selection service: which images match a filter (label, prediction, split, correctness,
tag) under one version, a selection as a table to keep (pandas), and everything about one image
(its pixels, bias mask, attribution map and its prediction under every version).

It computes nothing of its own: predictions come from the inference service's cached passes,
maps from the attribution service, tags from the tag service.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .context import DataContext
from .tags import TagService
from .versions import VersionStore

CORRECT = {None: None, True: True, False: False, "correct": True, "wrong": False}


class SelectionService:
    def __init__(self, ctx: DataContext, store: VersionStore, inference, attribution, tags: TagService):
        self.ctx = ctx
        self.store = store
        self.inference = inference
        self.attribution = attribution
        self.tags = tags

    def _class(self, what: str, value) -> int | None:
        if value is None:
            return None
        try:
            return self.ctx.dataset.class_index(value)
        except (ValueError, TypeError, IndexError, KeyError):
            raise ValueError(f"unknown {what} class {value!r}; classes are {self.ctx.dataset.classes}") from None

    def filter(self, version, indices, label, pred, split, correct, tag) -> np.ndarray:
        ds = self.ctx.dataset
        idx = np.arange(len(ds), dtype=np.int64) if indices is None else ds.check_indices(indices)
        label, pred = self._class("label", label), self._class("pred", pred)
        split = self.ctx.check_split(split)
        if isinstance(correct, np.bool_):
            correct = bool(correct)
        if not isinstance(correct, (bool, str, type(None))) or correct not in CORRECT:
            raise ValueError(f"correct must be None, True/False or 'correct'/'wrong', got {correct!r}")
        correct = CORRECT[correct]
        keep = np.ones(len(idx), dtype=bool)
        if label is not None:
            keep &= ds.labels[idx] == label
        if split is not None:
            keep &= ds.split[idx] == split
        if pred is not None or correct is not None:
            ev = self.inference.evaluate(version)  # all images, in dataset order (cached)
            if pred is not None:
                keep &= ev.pred[idx] == pred
            if correct is not None:
                keep &= ev.correct[idx] == correct
        if tag is not None:
            keep &= np.isin(idx, self.tags.members(tag))
        return idx[keep]

    def frame(self, indices: Sequence[int] | np.ndarray, version) -> pd.DataFrame:
        ds = self.ctx.dataset
        idx = ds.check_indices(indices)
        ev = self.inference.evaluate(version)
        classes = np.asarray(ds.classes, dtype=object)
        return pd.DataFrame(
            {
                "index": idx,
                "split": ds.split[idx].astype(str),
                "label": classes[ds.labels[idx]],
                "prediction": classes[ev.pred[idx]],
                "confidence": ev.confidence[idx].astype(np.float64),
                "correct": ev.correct[idx].astype(bool),
                "tags": ["; ".join(t) for t in self.tags.tags_of(idx)],
            }
        )

    def detail(self, index, version, method: str) -> dict:
        ds = self.ctx.dataset
        idx = ds.check_indices(index)
        if len(idx) != 1:
            raise ValueError(f"image_detail takes one image index, got {len(idx)}")
        i = int(idx[0])
        v = self.store.version(version)
        heat = self.attribution.attribute(v, idx, method, "pred", None, True, None, {})[0]
        history = []
        for w in self.store.versions:
            ev = self.inference.evaluate(w)
            history.append({
                "version": w.id,
                "prediction": ds.classes[int(ev.pred[i])],
                "confidence": float(ev.confidence[i]),
                "correct": bool(ev.correct[i]),
            })
        mask = ds.masks.get("bias")
        return {
            "index": i,
            "version": v.id,
            "label": ds.classes[int(ds.labels[i])],
            "split": str(ds.split[i]),
            "image": np.ascontiguousarray(ds.images[i].transpose(1, 2, 0)),
            "bias_mask": None if mask is None else np.asarray(mask[i], dtype=bool),
            "heat": np.asarray(heat, dtype=np.float32),
            "method": method,
            "history": history,
            "tags": self.tags.tags_of(idx)[0],
        }
