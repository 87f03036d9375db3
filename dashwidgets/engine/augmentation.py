"""The augmentation service: style clusters (k-means on embeddings), augmented images with
their provenance, review, and its part of the workspace::

    augmentations/a1.npz    images, sources, labels, style sources, accepted flags
    augmentations/a1.json   method, style, params (written after the arrays)
"""

from __future__ import annotations

import io
import json
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ..audit.cluster import Cluster, Clustering, check_k, kmeans
from ..augment import classical
from ..augment.record import METHODS as AUG_METHODS
from ..augment.record import Augmentation
from ..augment.translate import STEPS as TRANSLATE_STEPS
from ..models.version import ModelVersion
from .context import DataContext, check_positive_int
from .regions import RegionClassifier
from .versions import VersionStore, now
from .workspace import atomic_write_bytes, atomic_write_json, describe_load_error, id_numbers

_FOREGROUNDS = ("object", "attribution", None)
MAP_KINDS = ("specific", "general")
"""How a region classifier's pixel maps pick what ``mask``/``noise`` change: each image's own map,
or the one mean map of the train split (the paper's "general" attribution) for every image."""
SOURCE_SPLITS = ("train",)
"""The splits augmentation sources and style images may come from: augmentations join training,
so no evaluation image may feed one."""


class AugmentationService:
    def __init__(self, ctx: DataContext, store: VersionStore, inference, attribution):
        self.ctx = ctx
        self.store = store
        self.inference = inference
        self.attribution = attribution
        self.translation = None  # set by the Engine (the translator needs clusters, and augment it)
        self.clusters = store.cache("clusters", max_items=64)
        self._augmentations: OrderedDict[str, Augmentation] = OrderedDict()
        if store.workspace is not None:
            self._load()

    # ---------------------------------------------------------------- clusters
    def cluster(self, version, k: int, split: str | None, selection, n: int, seed: int) -> Clustering:
        ds = self.ctx.dataset
        k = check_k(k)
        v = self.store.version(version)
        if selection is not None:
            idx = ds.check_indices(selection)
            split = None
        else:
            idx = ds.indices(self.ctx.check_split(split))
        if len(idx) < k:
            raise ValueError(f"need at least k={k} images to make {k} clusters, got {len(idx)}")
        n = check_positive_int("n (representatives per cluster)", n)
        key = (k, split, idx.tobytes(), n, int(seed))
        hit = self.clusters.get(v.id, key)
        if hit is not None:
            return hit
        ev = self.inference.evaluate(v)
        assign, centroids, reps, mean, std = kmeans(ev.embedding[idx], k, seed, n)
        rows = []
        labels = ds.labels[idx]
        aligned = ds.attributes.get("aligned")
        for c in range(k):
            m = assign == c
            counts = np.bincount(labels[m], minlength=ds.num_classes)
            row = {
                "cluster": c,
                "size": int(m.sum()),
                "accuracy": float(ev.correct[idx][m].mean()) if m.any() else float("nan"),
                "top_class": ds.classes[int(counts.argmax())],
                "top_class_share": float(counts.max() / max(1, m.sum())),
            }
            if aligned is not None:
                row["aligned_share"] = float(np.asarray(aligned)[idx][m].mean()) if m.any() else float("nan")
            rows.append(row)
        table = pd.DataFrame(rows).set_index("cluster")
        result = Clustering(v.id, k, split, idx, assign, centroids, [idx[r] for r in reps], table, mean=mean, std=std)
        return self.clusters.put(v.id, key, result)

    # ---------------------------------------------------------------- records
    @property
    def augmentations(self) -> list[Augmentation]:
        with self.store.lock:
            return list(self._augmentations.values())

    def get(self, a: Augmentation | str) -> Augmentation:
        aid = a.id if isinstance(a, Augmentation) else a
        with self.store.lock:
            if aid not in self._augmentations:
                raise ValueError(f"unknown augmentation {aid!r}; known: {list(self._augmentations)}")
            return self._augmentations[aid]

    def resolve(self, augs) -> list[Augmentation]:
        if isinstance(augs, (str, Augmentation)):
            augs = [augs]
        out = [self.get(a) for a in (augs or [])]
        empty = [a.id for a in out if a.n_accepted == 0]
        if empty:
            raise ValueError(f"augmentation(s) {empty} have no accepted images")
        return out

    def _dir(self):
        return self.store.workspace.path("augmentations")

    def _save(self, aug: Augmentation) -> None:
        buf = io.BytesIO()
        np.savez(buf, images=aug.images, sources=aug.sources, labels=aug.labels,
                 style_sources=aug.style_sources, accepted=aug.accepted)
        atomic_write_bytes(self._dir() / f"{aug.id}.npz", buf.getvalue())
        atomic_write_json(self._dir() / f"{aug.id}.json", aug.meta())

    def _load(self) -> None:
        d = self._dir()
        if not d.is_dir():
            return
        paths = [p for p in d.glob("a*.json") if p.stem[1:].isdigit()]
        for meta_path in sorted(paths, key=lambda p: int(p.stem[1:])):
            try:
                meta = json.loads(meta_path.read_text())
                if not isinstance(meta, dict) or meta.get("id") != meta_path.stem:
                    raise ValueError(f"its id {meta.get('id') if isinstance(meta, dict) else meta!r} is not its file name")
                with np.load(meta_path.with_suffix(".npz"), allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
                aug = Augmentation(
                    id=meta["id"], method=meta["method"], style=meta.get("style"), params=meta.get("params", {}),
                    sources=arrays["sources"], labels=arrays["labels"], images=arrays["images"],
                    style_sources=arrays["style_sources"], created=meta.get("created", ""),
                    accepted=arrays["accepted"].astype(bool),
                )
                self.ctx.dataset.check_indices(aug.sources)
                self._augmentations[aug.id] = aug
            except (OSError, ValueError, KeyError, TypeError) as e:
                self.store.workspace_errors.append(
                    f"corrupted augmentation {meta_path.stem} in {d}: {describe_load_error(e)}; skipped"
                )

    def _add(self, build) -> Augmentation:
        """Allocate the next id (from the disk too, under the workspace lock) and keep the record."""
        ws = self.store.workspace
        with self.store.lock:
            used = id_numbers(self._augmentations, "a") | id_numbers((h.get("augmentation") for h in self.store.history), "a")
            if ws is None:
                aug = build(f"a{max(used, default=0) + 1}")
            else:
                with ws.locked():
                    if self._dir().is_dir():
                        used |= id_numbers((p.name.split(".")[0] for p in self._dir().iterdir()), "a")
                    aug = build(f"a{max(used, default=0) + 1}")
                    self._save(aug)
            self._augmentations[aug.id] = aug
        self.store.record({"event": "augment", "augmentation": aug.id, "method": aug.method, "style": aug.style,
                           "images": len(aug)})
        self.store.emit("augment", augmentation=aug.id)
        return aug

    def review(self, augmentation, rows, accept: bool) -> Augmentation:
        aug = self.get(augmentation)
        rows = np.asarray(rows).reshape(-1)
        if rows.size and not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(f"rows must be integer positions in the augmentation, got dtype {rows.dtype}")
        rows = rows.astype(np.int64)
        bad = rows[(rows < 0) | (rows >= len(aug))]
        if bad.size:
            raise ValueError(f"rows out of range [0, {len(aug)}): {bad[:5].tolist()}")
        with self.store.lock:
            aug.accepted[rows] = bool(accept)
            if self.store.workspace is not None:
                self._save(aug)
        self.store.record({"event": "review", "augmentation": aug.id, "rows": len(rows), "accept": bool(accept)})
        self.store.emit("augment", augmentation=aug.id)
        return aug

    # ---------------------------------------------------------------- making images
    def foreground_kind(self, how: str | None) -> str | None:
        """``how`` with ``"auto"`` resolved for this dataset; an unknown value is refused."""
        if how == "auto":
            how = "object" if "object" in self.ctx.dataset.masks else "attribution"
        if how not in _FOREGROUNDS:
            raise ValueError(f"foreground must be 'object', 'attribution', 'auto' or None, got {how!r}")
        return how

    def foreground(self, rows: np.ndarray, how: str | None, v: ModelVersion | None,
                   attribution: str = "gradcam", quantile: float = classical.QUANTILE) -> np.ndarray:
        """Foreground masks of ``rows``: ground-truth object, the pixels above the ``quantile`` of
        ``v``'s maps, or the whole image (None)."""
        ds = self.ctx.dataset
        how = self.foreground_kind(how)
        if how == "object":
            if "object" not in ds.masks:
                raise ValueError("this dataset has no object masks; use foreground='attribution' or None")
            return ds.masks["object"][rows]
        if how == "attribution":
            if v is None:
                raise ValueError("foreground='attribution' needs a trained version")
            maps = self.attribution.attribute(v, rows, attribution, "pred", None, True, None, {})
            return classical.top_regions(maps, quantile)
        return np.ones((len(rows), *ds.image_size), dtype=bool)

    def check_sources(self, source_idx, allow_splits: Sequence[str] = SOURCE_SPLITS) -> np.ndarray:
        """``source_idx`` checked as augmentation sources: a non-empty selection of images of
        ``allow_splits`` (augmentations join training, so no evaluation image may be a source)."""
        ds = self.ctx.dataset
        idx = ds.check_indices(source_idx)
        if len(idx) == 0:
            raise ValueError("empty source selection: pick the images to augment (e.g. a lasso)")
        outside = sorted(set(ds.split[idx].tolist()) - set(allow_splits))
        if outside:
            n = int(np.isin(ds.split[idx], outside).sum())
            raise ValueError(
                f"{n} source image(s) come from the {'/'.join(outside)} split; augmentations join training, so "
                f"they are made from {'/'.join(allow_splits)} images only (an evaluation image must not reach "
                "training). Select within the train split, e.g. np.intersect1d(idx, ds.indices('train'))"
            )
        return idx

    def check_for_training(self, augs: Sequence[Augmentation], allow_splits: Sequence[str] = SOURCE_SPLITS) -> None:
        """Refuse augmentations whose accepted images were made from (or styled by) images outside
        ``allow_splits``: the last gate before training, for records made by older code or edited
        on disk (``augment`` itself never makes one)."""
        split = self.ctx.dataset.split
        for a in augs:
            used = np.concatenate([a.sources[a.accepted], a.style_sources[a.accepted]])
            used = used[used >= 0]
            bad = sorted(set(split[used].tolist()) - set(allow_splits))
            if bad:
                n = int(np.isin(split[used], bad).sum())
                raise ValueError(
                    f"augmentation {a.id} holds {n} image(s) made from (or styled by) {'/'.join(bad)} images; it cannot "
                    "join training (an evaluation image must not reach training). Make it again from train images"
                )

    def classifier_regions(self, rc: RegionClassifier, idx: np.ndarray, kind: str, quantile: float) -> np.ndarray:
        """bool ``[N, H, W]``: the pixels above the ``quantile`` of ``rc``'s pixel map of each image
        of ``idx`` (``kind="specific"``) or of its mean train map for all (``"general"``); the
        paper's "quantile 0.70" changes the top 30 % (:func:`classical.top_regions`)."""
        if rc._service.ctx is not self.ctx or rc.spec.get("dataset") != self.ctx.dataset.fingerprint():
            raise ValueError(f"region classifier {rc.key} was trained on another engine's dataset; train one on this "
                             "engine: eng.region_classifier(...)")
        if kind not in MAP_KINDS:
            raise ValueError(f"unknown map kind {kind!r}; use one of {list(MAP_KINDS)}")
        quantile = classical.check_quantile(quantile)  # before the maps are computed
        if kind == "general":
            general = rc.general_map("train")  # computed once per classifier, kept by it
            return np.broadcast_to(classical.top_regions(general[None], quantile), (len(idx), *general.shape))
        return classical.top_regions(rc.maps(idx), quantile)

    def augment(
        self, source_idx, style: Cluster | None, method: str, version, seed: int, params: dict,
        allow_splits: Sequence[str] = SOURCE_SPLITS,
    ) -> Augmentation:
        ds = self.ctx.dataset
        if method not in AUG_METHODS:
            raise ValueError(f"unknown augmentation method {method!r}; choose one of {list(AUG_METHODS)}")
        unknown = sorted(set(params) - _PARAMS[method])
        if unknown:
            raise TypeError(f"augment(method={method!r}) takes no parameter(s) {unknown}; "
                            f"its parameters are {sorted(_PARAMS[method])}")
        idx = self.check_sources(source_idx, allow_splits)
        if style is not None and not isinstance(style, Cluster):
            raise TypeError(f"style must be a Cluster (eng.cluster(v, k)[c]), got {type(style).__name__}")
        if style is not None and len(style.members) == 0:
            raise ValueError(f"style cluster {style.id} has no images")
        if method in ("color", "background", "translate") and style is None:
            raise ValueError(f"{method!r} needs a style cluster: style=eng.cluster(v, k)[c]")
        params = dict(params)
        rng = np.random.default_rng(seed)
        src = ds.images[idx]
        style_src = np.full(len(idx), -1, np.int64)
        v = self.store.version(version) if version is not None else self.store.active
        # The clusters a translator learns (and style_hit measures against): cluster(v, k) on
        # the train split. A style cluster from another split or selection has other members.
        learned = self.cluster(style.version, style.k, "train", None, 8, 0) if style is not None else None
        from_learned = learned is not None and np.array_equal(np.sort(learned.members(style.id)), np.sort(style.members))
        default_fg = "auto" if method == "translate" else ("object" if "object" in ds.masks else None)

        def foreground(rows: np.ndarray) -> np.ndarray:
            how = params.get("foreground", default_fg)
            return self.foreground(rows, how, v, params.get("attribution", "gradcam"),
                                   params.get("quantile", classical.QUANTILE))

        if method in ("color", "background"):
            # a style image's pixels (colour statistics, background) join training too: train only
            pool = style.members[np.isin(ds.split[style.members], list(allow_splits))]
            if len(pool) == 0:
                raise ValueError(
                    f"style cluster {style.id} has no {'/'.join(allow_splits)} images to take the style from: a "
                    "style image's pixels join training, so an evaluation image cannot be one. Cluster the train "
                    "split: eng.cluster(version, k)"
                )
            if method == "color":
                images, pick = classical.color_transfer(
                    src, foreground(idx), ds.images[pool], foreground(pool), rng, float(params.get("strength", 1.0))
                )
            else:
                if params.get("foreground", "auto") is None:
                    raise ValueError("a background swap needs a foreground: foreground='object' or 'attribution'")
                images, pick = classical.background_swap(src, foreground(idx), ds.images[pool], foreground(pool), rng)
            style_src = pool[pick]
        elif method == "translate":
            if not from_learned:  # refused before a minute of training, not after
                raise ValueError(
                    "method='translate' needs a style cluster of eng.cluster(version, k) on the train split "
                    "(the clusters the translator learned); this one was made from another split or selection"
                )
            t = self.translation.translator(
                style.version, style.k, int(params.get("steps", TRANSLATE_STEPS)),
                int(params.get("translator_seed", 0)), params.get("foreground", default_fg),
                bool(params.pop("progress", True)),
            )
            images = t(src, foreground(idx), style.id, seed=seed)
            params["translator"] = {"version": t.version, "k": t.k, "steps": t.steps, "seed": t.seed, "foreground": t.foreground}
        elif method in ("mask", "noise"):
            region = params.get("region", "attribution")
            if "map" in params and not isinstance(region, RegionClassifier):
                raise ValueError("map='specific'/'general' goes with region=<a region classifier> "
                                 f"(eng.region_classifier(...)), not with region={region!r}")
            if isinstance(region, RegionClassifier):
                regions = self.classifier_regions(region, idx, params.setdefault("map", "specific"),
                                                  params.setdefault("quantile", classical.QUANTILE))
                params.update(region="classifier", region_classifier=region.key, attribute=region.attribute,
                              quantile=float(params["quantile"]))
            elif region == "bias":
                if "bias" not in ds.masks:
                    raise ValueError("this dataset has no bias masks; use region='attribution'")
                regions = ds.masks["bias"][idx]
            elif region == "attribution":
                if v is None:
                    raise ValueError("region='attribution' needs a trained version")
                quantile = classical.check_quantile(params.get("quantile", classical.QUANTILE))  # before the maps
                maps = self.attribution.attribute(v, idx, params.get("attribution", "gradcam"), "pred", None, True, None, {})
                regions = classical.top_regions(maps, quantile)
            else:
                raise ValueError(f"region must be 'attribution', 'bias' or a region classifier (eng.region_classifier(...)), "
                                 f"got {region!r}")
            images = classical.targeted(src, regions, method, rng, float(params.get("sigma", 0.5)))
        else:  # torchvision
            transform = params.get("transform")
            if not callable(transform):
                raise ValueError("method='torchvision' needs transform=<a callable on a uint8 [3, H, W] tensor>")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                out = [transform(torch.from_numpy(im.copy())) for im in src]
            images = np.stack([np.asarray(o, dtype=np.uint8) for o in out])
            if images.shape != src.shape:
                raise ValueError(f"the transform must keep the image shape {src.shape[1:]}, got {images.shape[1:]}")
        if from_learned:  # how many results the style's clustering puts in the style cluster
            hit = learned.assign(self.inference.predict(style.version, images)["embedding"]) == style.id
            params["style_hit"] = round(float(hit.mean()), 4)
        meta_params = {k: (repr(p) if k == "transform" else p) for k, p in params.items()}
        if v is not None and method in ("mask", "noise") and params.get("region") != "classifier":
            meta_params.setdefault("version", v.id)

        def build(aid: str) -> Augmentation:
            return Augmentation(
                id=aid, method=method,
                style=None if style is None else {"version": style.version, "k": style.k, "cluster": style.id},
                params={**meta_params, "seed": seed}, sources=idx, labels=ds.labels[idx].astype(np.int64),
                images=images, style_sources=style_src, created=now(),
            )

        return self._add(build)


# What each method reads from augment(**params): anything else is a typo, refused.
_COMMON = {"foreground", "attribution", "quantile"}
_PARAMS = {
    "color": _COMMON | {"strength"},
    "background": _COMMON,
    "translate": _COMMON | {"steps", "translator_seed", "progress"},
    "mask": _COMMON | {"region", "sigma", "map"},
    "noise": _COMMON | {"region", "sigma", "map"},
    "torchvision": {"transform"},
}
