"""ModelVersion: the immutable record of one trained model."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

_VID = re.compile(r"^v\d+$")


@dataclass(frozen=True)
class ModelVersion:
    """One trained model. Immutable: training again makes a new version.

    Attributes
    ----------
    id : str
        ``"v1"``, ``"v2"``, ... unique within an Engine and its workspace.
    parent : str or None
        The version whose weights training started from (``None``: the initial weights).
    hparams : dict
        Hyper-parameters: epochs, lr, batch_size, optimizer, weight_decay, seed.
    history : tuple of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy``, ``seconds``.
    lineage : dict
        What the weights were trained on: ``dataset`` fingerprint, ``augmentations`` ids,
        ``split`` used for training.
    metrics : dict
        ``val_accuracy`` and ``test_accuracy`` (test is the unbiased split on the benchmarks).
    created : str
        ISO timestamp.
    name : str
        Free-form label; defaults to the id.
    """

    id: str
    parent: str | None
    hparams: dict[str, Any] = field(default_factory=dict)
    history: tuple[dict[str, Any], ...] = ()
    lineage: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "history", tuple(dict(h) for h in self.history))
        if not self.name:
            object.__setattr__(self, "name", self.id)

    def plot(self):
        """A plotly figure: the training history: train and validation loss per epoch, validation accuracy (see :func:`dashwidgets.runtime.figures.history`)."""
        from ..runtime import figures

        return figures.history(self)

    def to_json(self) -> str:
        d = asdict(self)
        d["history"] = list(d["history"])
        return json.dumps(d, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelVersion:
        d = json.loads(text)
        if not isinstance(d, dict) or "id" not in d:
            raise ValueError("not a ModelVersion record (no 'id')")
        if not isinstance(d["id"], str) or not _VID.match(d["id"]):
            raise ValueError(f"'id' must look like 'v1', got {d['id']!r}")
        parent = d.get("parent")
        if parent is not None and (not isinstance(parent, str) or not _VID.match(parent)):
            raise ValueError(f"'parent' must be None or a version id, got {parent!r}")
        for name in ("hparams", "lineage", "metrics"):
            if not isinstance(d.get(name, {}), dict):
                raise ValueError(f"{name!r} must be a mapping, got {type(d[name]).__name__}")
        hist = d.get("history", [])
        if not isinstance(hist, list) or not all(isinstance(h, dict) for h in hist):
            raise ValueError("'history' must be a list of per-epoch mappings")
        for name in ("created", "name"):
            if not isinstance(d.get(name, ""), str):
                raise ValueError(f"{name!r} must be a string, got {d[name]!r}")
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    def __repr__(self) -> str:
        m = ", ".join(f"{k}={v:.3f}" for k, v in self.metrics.items() if isinstance(v, float))
        return f"ModelVersion({self.id!r}, parent={self.parent!r}, {m})"

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelVersion) and other.id == self.id and other.created == self.created
