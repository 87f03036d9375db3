"""An Augmentation: new images with their provenance, kept by the engine and its workspace."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

METHODS = ("color", "background", "translate", "mask", "noise", "torchvision")


@dataclass
class Augmentation:
    """New training images made from ``sources`` (dataset indices) by ``method`` toward
    ``style`` (a cluster: ``{"version", "k", "cluster"}``, or None), with ``params``.

    ``images [n, 3, H, W] uint8`` keep their source's class (``labels``). ``style_sources``: the
    style image each was made toward (-1 when none). ``accepted [n] bool``: what a retrain uses;
    reject bad results with :meth:`Engine.review` (or the AugmentedView) before retraining.
    """

    id: str
    method: str
    style: dict | None
    params: dict
    sources: np.ndarray
    labels: np.ndarray
    images: np.ndarray
    style_sources: np.ndarray
    created: str
    accepted: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.accepted is None:
            self.accepted = np.ones(len(self.sources), dtype=bool)

    def __len__(self) -> int:
        return len(self.sources)

    @property
    def n_accepted(self) -> int:
        return int(self.accepted.sum())

    def source_splits(self, split: np.ndarray) -> list[str]:
        """The splits (of the dataset's ``split`` array) the accepted images were made from."""
        return sorted(set(np.asarray(split)[self.sources[self.accepted]].tolist()))

    def meta(self) -> dict:
        """JSON-able description (what the history and the workspace record)."""
        return {
            "id": self.id,
            "method": self.method,
            "style": self.style,
            "params": self.params,
            "images": len(self),
            "accepted": self.n_accepted,
            "created": self.created,
        }

    def summary(self, classes: list[str]) -> pd.DataFrame:
        """Accepted images per class (and per target cluster when there is a style)."""
        names = np.asarray(classes, dtype=object)[self.labels[self.accepted]]
        df = pd.DataFrame({"class": names})
        return df.value_counts("class").rename("images").to_frame().sort_index()

    def __repr__(self) -> str:
        style = f", style=cluster {self.style['cluster']} of k={self.style['k']}" if self.style else ""
        return f"Augmentation({self.id!r}, method={self.method!r}{style}, {self.n_accepted}/{len(self)} accepted)"
