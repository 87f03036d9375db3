"""The projection service: one t-SNE map for all versions, its coordinates per version, the
density contours, and its own part of the workspace::

    projection/map.json                 reference version, perplexity, seed, and what the features
                                        depend on (embedding layer, normalisation, dataset): a map
                                        written under other settings is not restored
    projection/reference_features.npy   what the map was fitted on
    projection/reference_coords.npy
    projection/coords_<v>[__aligned].npy
"""

from __future__ import annotations

import json
import threading

import numpy as np

from ..audit.density import density_grids
from ..audit.projection import TSNEMap
from ..datasets.imageset import SPLITS
from ..models.version import ModelVersion
from .context import DataContext, check_positive_int
from .progress import progress_bar
from .versions import VersionStore
from .workspace import atomic_write_json

MODES = ("transform", "aligned")


class ProjectionService:
    def __init__(self, ctx: DataContext, store: VersionStore, inference, seed: int):
        self.ctx = ctx
        self.store = store
        self.inference = inference
        self.seed = seed
        self._map: TSNEMap | None = None
        self.reference: str | None = None
        self._persist = True  # False: the map on disk is another process's, ours stays in memory
        self._lock = threading.Lock()  # one t-SNE fit at a time
        self.coords = store.cache("projection", on_discard=self._delete_files)
        if store.workspace is not None:
            self._restore()

    # ---------------------------------------------------------------- files
    def _dir(self):
        return self.store.workspace.path("projection")

    def _coords_path(self, vid: str, mode: str):
        return self._dir() / (f"coords_{vid}.npy" if mode == "transform" else f"coords_{vid}__{mode}.npy")

    def _restore(self) -> None:
        path = self._dir() / "map.json"
        if not path.exists():
            return
        ws = self.store.workspace
        try:
            info = json.loads(path.read_text())
            if info.get("engine", self._identity()) != self._identity():
                self._persist = False  # made with another embedding layer or normalisation: not ours
                return
            feats = ws.load_array(self._dir() / "reference_features.npy")
            coords = ws.load_array(self._dir() / "reference_coords.npy")
            if feats is None or coords is None:
                raise ValueError("reference arrays missing")
            self._map = TSNEMap.restore(feats, coords, perplexity=info.get("perplexity", 30.0), seed=info.get("seed", 0))
            self.reference = info.get("reference")
            for v in self.store.versions:
                for mode in MODES:
                    arr = ws.load_array(self._coords_path(v.id, mode))
                    if arr is not None and arr.shape == (len(self.ctx.dataset), 2):
                        self.coords.put(v.id, mode, arr)
        except Exception as e:  # noqa: BLE001 - a broken map is recomputed, not fatal
            self.store.workspace_errors.append(f"corrupted projection in {path.parent}: {e}; it will be recomputed")
            self._map, self.reference = None, None
            for v in self.store.versions:
                self.coords.drop(v.id)

    def _identity(self) -> dict:
        """What the map's features depend on besides the version (a map written under other
        settings is not restored)."""
        return {"embedding_layer": self.ctx.embedding_layer, "normalize": self.ctx.normalize_json,
                "dataset": self.ctx.dataset.fingerprint()}

    def _save_map(self, tsne: TSNEMap, vid: str) -> bool:
        """Write the map unless another process wrote one first (its coordinates are in that
        frame, so it is kept and this map stays in memory). True when written."""
        ws = self.store.workspace
        with ws.locked():
            if (self._dir() / "map.json").exists():
                return False
            for f in self._dir().glob("coords_*.npy") if self._dir().is_dir() else ():
                f.unlink(missing_ok=True)  # coordinates of an older, discarded map
            ws.save_array(self._dir() / "reference_features.npy", tsne.reference_features)
            ws.save_array(self._dir() / "reference_coords.npy", tsne.reference_coords)
            atomic_write_json(self._dir() / "map.json", {"reference": vid, "perplexity": tsne.perplexity,
                                                         "seed": tsne.seed, "engine": self._identity()})
        return True

    def _delete_files(self, vid: str) -> None:
        if self.store.workspace is not None:
            for mode in MODES:
                self._coords_path(vid, mode).unlink(missing_ok=True)

    # ---------------------------------------------------------------- API
    def project(self, version: ModelVersion | str, split: str | None, progress: bool, mode: str) -> np.ndarray:
        if mode not in MODES:
            raise ValueError(f"unknown projection mode {mode!r}; use 'transform' or 'aligned'")
        vid = self.store.version(version).id
        idx = self.ctx.dataset.indices(self.ctx.check_split(split))
        if vid == self.reference:
            mode = "transform"  # the reference map itself
        coords = self.coords.get(vid, mode)
        if coords is None:
            coords = self._read(vid, mode)
        if coords is None:
            coords = self._compute(vid, mode, progress)
        return coords[idx]

    def _read(self, vid: str, mode: str) -> np.ndarray | None:
        """Coordinates in the workspace that are not in memory (dropped from the cache, or
        written by another process in this map's frame)."""
        if self.store.workspace is None or not self._persist or self._map is None:
            return None
        arr = self.store.workspace.load_array(self._coords_path(vid, mode))
        if arr is None or arr.shape != (len(self.ctx.dataset), 2):
            return None
        return self.coords.put(vid, mode, arr)

    def _compute(self, vid: str, mode: str, progress: bool) -> np.ndarray:
        features = self.inference.evaluate(vid).embedding
        bar = progress_bar(100, f"t-SNE {vid}", progress)

        def report(stage: str, frac: float) -> None:
            if bar is not None:
                bar.set_description(f"t-SNE {vid} ({stage})", refresh=False)
                bar.update(round(100 * frac) - bar.n)

        fitted = False
        try:
            with self._lock:
                tsne = self._map
                if tsne is None:
                    tsne, fitted, mode = TSNEMap(seed=self.seed), True, "transform"
                    coords = tsne.fit(features, report)
                    self._map, self.reference = tsne, vid
                    if self.store.workspace is not None:
                        self._persist = self._save_map(tsne, vid)
            if not fitted:
                coords = tsne.align(features, report) if mode == "aligned" else tsne.transform(features, report)
        finally:
            if bar is not None:
                bar.close()
        coords = self.coords.put(vid, mode, coords.astype(np.float32))
        if self._persist and self.store.workspace is not None and self.store.alive(vid):
            self.store.workspace.save_array(self._coords_path(vid, mode), coords)
        return coords

    def density(self, version: ModelVersion | str, size: int, mode: str) -> tuple[np.ndarray, tuple[float, ...]]:
        size = check_positive_int("size", size, minimum=2)
        xy = self.project(version, None, False, mode)
        grids, box = density_grids(xy, self.ctx.dataset.split_codes(), len(SPLITS), size=size)
        return grids.astype(np.float32), tuple(float(b) for b in box)
