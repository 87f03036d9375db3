"""Report service: gathers the evidence the engine has into one ranked :class:`Report`
(``Engine.report``; issue 16 §3).

Where the evidence comes from (the model's behaviour; never the dataset's bias labels or bias
masks as the answer):

* probes (:mod:`dashwidgets.audit.probes`): a seeded sample of validation images (the split that
  is biased like training, where a shortcut pays) edited three ways (object in grey, a compact
  square beside the object where Grad-CAM peaks filled, the rest of the background filled); the
  paired accuracy drop names the cue. The ``object`` masks only locate the object; without them
  the colour probe greys the whole image and the background probe is skipped (a note says so).
* the val−test gap (the unbiased test split) of the same predictions the audit uses;
* UDIS subgroups of the test split (``Engine.subgroups``) that under-perform;
* criticism enrichment (``Engine.criticize``, IFGSM): the one place a dataset attribute is read,
  as the Criticism view already reads it: are the criticisms enriched in an attribute's value?

Fixes are ``Engine.augment`` keyword arguments, ready to pass as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..audit import probes
from ..audit.findings import (
    ALPHA,
    MARGIN,
    Finding,
    Report,
    below_test,
    gap_test,
    paired_drop_test,
    rank,
)
from ..runtime.jobs import Cancelled, Job
from .context import DataContext
from .versions import VersionStore

_EVIDENCE = 8
_FIX_SOURCES = 256
_PROBE_TITLES = {
    "colour": "the model reads the object's colour: turned grey, {n} of {m} correctly classified images flip",
    "patch": "the model reads a small region beside the object: filled, {n} of {m} correctly classified images flip",
    "background": "the model reads the background (texture or scene): filled, {n} of {m} correctly classified images flip",
}
_PROBE_OF = {"colour": "colour", "patch": "region", "background": "background"}


class ReportService:
    def __init__(self, ctx: DataContext, store: VersionStore, inference, attribution, augmentation, viscuit,
                 criticism):
        self.ctx, self.store = ctx, store
        self.inference, self.attribution, self.augmentation = inference, attribution, augmentation
        self.viscuit, self.criticism = viscuit, criticism
        self.cache = store.cache("report", max_items=16)

    @staticmethod
    def check(sample: int, criticize: bool, seed: int) -> None:
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or sample < 20:
            raise ValueError(f"sample must be an integer >= 20 (validation images probed), got {sample!r}")
        if not isinstance(criticize, bool):
            raise TypeError(f"criticize must be True or False, got {criticize!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {seed!r}")

    def report(self, version, sample: int = 500, criticize: bool = True, seed: int = 0,
               progress: Callable[[str, float], None] | None = None) -> Report:
        self.check(sample, criticize, seed)
        v = self.store.version(version)
        key = (int(sample), criticize, int(seed))
        hit = self.cache.get(v.id, key)
        if hit is not None:
            return hit
        step = progress or (lambda stage, frac: None)
        ds = self.ctx.dataset
        rng = np.random.default_rng(int(seed))
        notes: list[str] = []
        pending: list[dict] = []  # finding fields, alpha added once the number of tests is known
        clusters = self.augmentation.cluster(v, 8, "train", None, 8, seed) if len(ds.indices("train")) >= 8 else None
        ev = self.inference.evaluate(v)

        step("probes", 0.0)
        split = "val" if len(ds.indices("val")) >= 20 else "test"
        pool = ds.indices(split)
        if len(pool) < 20:
            notes.append("no split has 20 images to probe: the probes were skipped")
        else:
            if split != "val":
                notes.append("no validation split: the probes ran on the test split")
            pending += self._probes(v, np.sort(rng.choice(pool, min(int(sample), len(pool)), replace=False)),
                                    ev, clusters, notes, rng)
        step("gap", 0.5)
        val, test = ds.indices("val"), ds.indices("test")
        if len(val) >= 2 and len(test) >= 2:
            gap, p = gap_test(ev.correct[val], ev.correct[test])
            wrong = test[~ev.correct[test]]
            pending.append(dict(
                kind="gap", title=f"validation accuracy exceeds the test split's by {100 * gap:.1f} points",
                effect=gap, p_value=p, numbers={"val_accuracy": float(ev.correct[val].mean()),
                                                "test_accuracy": float(ev.correct[test].mean()),
                                                "n_val": len(val), "n_test": len(test)},
                test=f"one-sided z-test of two proportions, H0: val - test <= {MARGIN:g}",
                evidence=wrong[:_EVIDENCE], fix=self._style_fix(v, wrong, ev, clusters, rng)))
        else:
            notes.append("the val-test gap needs both splits")
        step("subgroups", 0.6)
        if len(test) >= 20:
            pending += self._subgroups(v, ev, clusters, seed, rng)
        if criticize and len(test) >= 20 and ds.attributes:
            step("criticism", 0.7)
            pending += self._criticism(v, ev, clusters, seed, rng)
        alpha = ALPHA / max(1, len(pending))
        findings = [Finding(alpha=alpha, images=ds.images[np.asarray(f["evidence"], np.int64)],
                            **{**f, "evidence": np.asarray(f["evidence"], np.int64)}) for f in pending]
        step("done", 1.0)
        rep = Report(v.id, tuple(rank(findings)), notes=tuple(notes))
        return self.cache.put(v.id, key, rep)

    def report_console(self, version, sample: int, criticize: bool, seed: int, progress: bool) -> Report:
        """:meth:`report` with a console progress bar when ``progress``."""
        from .progress import progress_bar

        bar = progress_bar(1.0, "report", bool(progress))
        if bar is None:
            return self.report(version, sample, criticize, seed)

        def step(stage: str, frac: float) -> None:
            bar.set_description(f"report: {stage}")
            bar.n = frac
            bar.refresh()

        try:
            return self.report(version, sample, criticize, seed, step)
        finally:
            bar.close()

    def report_job(self, version, sample: int, criticize: bool, seed: int) -> Job:
        self.check(sample, criticize, seed)
        v = self.store.version(version)

        def work(emit, stop):
            def progress(stage: str, frac: float) -> None:
                if stop.is_set():
                    raise Cancelled()
                emit({"type": "step", "stage": stage, "progress": frac})

            return self.report(v, sample, criticize, seed, progress)

        return Job(work, name="report")

    # ---------------------------------------------------------------- evidence
    def _probes(self, v, idx, ev, clusters, notes, rng) -> list[dict]:
        ds = self.ctx.dataset
        images, labels = ds.images[idx], ds.labels[idx]
        has_objects = "object" in ds.masks
        objects = ds.masks["object"][idx] if has_objects else np.ones((len(idx), *images.shape[2:]), bool)
        if not has_objects:
            notes.append("the dataset has no object masks: the colour probe greys whole images, the region probe "
                         "may cover the object and the background probe is skipped")
        maps = self.attribution.attribute(v, idx, "gradcam", "pred", None, True, None, {})
        side = max(3, int(round(0.375 * min(images.shape[2:]))))
        neutral = probes.neutral_colour(images, objects) if has_objects else images.mean(axis=(0, 2, 3))
        edited = probes.probe_images(images, objects if has_objects else np.zeros_like(objects), maps, side, neutral)
        if not has_objects:
            edited["colour"] = probes.grey_object(images, objects)
        before = ev.correct[idx]
        out = []
        for kind, probe in _PROBE_OF.items():
            if kind == "background" and not has_objects:
                continue
            after = self.inference.predict(v, edited[probe])["pred"] == labels
            drop, p = paired_drop_test(before, after)
            flipped = np.flatnonzero(before & ~after)
            hurt = np.bincount(labels[flipped], minlength=ds.num_classes).argmax() if len(flipped) else 0
            out.append(dict(
                kind=kind, title=_PROBE_TITLES[kind].format(n=len(flipped), m=int(before.sum())),
                effect=drop, p_value=p, probed=edited[probe][flipped[:_EVIDENCE]],
                numbers={"accuracy": float(before.mean()), "probed_accuracy": float(after.mean()),
                         "n": len(idx), "flipped": len(flipped), "probe": probe, "square_px": side},
                test=f"one-sided one-sample t-test of paired per-image accuracy differences, H0: drop <= {MARGIN:g}",
                evidence=idx[flipped[:_EVIDENCE]], fix=self._probe_fix(v, kind, int(hurt), clusters, rng)))
        return out

    def _subgroups(self, v, ev, clusters, seed, rng) -> list[dict]:
        sg = self.viscuit.subgroups(v, None, "test", "kmeans", 0.5, int(seed))
        test = self.ctx.dataset.indices("test")
        overall = float(ev.correct[test].mean())
        out = []
        for i in sg.under[:3]:
            members = sg.members(i)
            c = ev.correct[members]
            p = below_test(c, 0.5 * overall)
            out.append(dict(
                kind="subgroup", title=f"test subgroup {i} ({len(members)} images) is right on {100 * c.mean():.0f} % "
                                       f"against {100 * overall:.0f} % overall",
                effect=overall - float(c.mean()), p_value=p,
                numbers={"subgroup": int(i), "size": len(members), "accuracy": float(c.mean()), "overall": overall},
                test="one-sided exact binomial test, H0: subgroup accuracy >= 0.5 x overall (UDIS's own line)",
                evidence=members[~c][:_EVIDENCE], fix=self._style_fix(v, members[~c], ev, clusters, rng)))
        return out

    def _criticism(self, v, ev, clusters, seed, rng) -> list[dict]:
        test = self.ctx.dataset.indices("test")
        cr = self.criticism.criticize(v, "test", 10, 1e-3, ("adv",), 10, min(500, len(test)), int(seed), None, 1e-5)
        table = cr.enrichment(None, "adv")
        tested = table[(table["class"] == "all") & table["p_value"].notna()]
        rows = tested[tested["share_criticisms"] > tested["share_prototypes"]]
        if rows.empty:
            return []
        r = rows.sort_values("p_value").iloc[0]
        # the smallest of len(tested) p-values: Bonferroni within the finding before the report's own
        p_value = min(1.0, float(r["p_value"]) * len(tested))
        t = cr.table
        crit = t.loc[t["role_adv"] == "criticism", "index"].to_numpy(np.int64)
        attr = self.ctx.dataset.attributes[r["attribute"]]
        shown = crit[np.asarray(attr)[crit] == r["value"]]
        return [dict(
            kind="criticism",
            title=f"criticisms (images that flip after one IFGSM step) are enriched in {r['attribute']} = {r['value']}: "
                  f"{100 * r['share_criticisms']:.0f} % against {100 * r['share_prototypes']:.0f} % of prototypes",
            effect=float(r["share_criticisms"] - r["share_prototypes"]), p_value=p_value,
            numbers={"attribute": str(r["attribute"]), "value": str(r["value"]), "odds_ratio": float(r["odds_ratio"]),
                     "n_criticisms": int(r["n_criticisms"]), "n_prototypes": int(r["n_prototypes"]),
                     "fisher_p": float(r["p_value"])},
            test=f"two-sided Fisher exact test of criticisms vs prototypes (Engine.criticize's enrichment), "
                 f"x {len(tested)} attribute values tested (Bonferroni)",
            evidence=shown[:_EVIDENCE], fix=self._style_fix(v, shown, ev, clusters, rng))]

    # ---------------------------------------------------------------- fixes
    def _train_sample(self, label: int | None, exclude=None, rng=None) -> np.ndarray:
        ds = self.ctx.dataset
        train = ds.indices("train")
        if label is not None and (ds.labels[train] == label).any():
            train = train[ds.labels[train] == label]
        if exclude is not None and (~np.isin(train, exclude)).any():
            train = train[~np.isin(train, exclude)]
        return np.sort(rng.choice(train, min(_FIX_SOURCES, len(train)), replace=False))

    def _probe_fix(self, v, kind: str, hurt: int, clusters, rng) -> dict | None:
        if not len(self.ctx.dataset.indices("train")):
            return None
        if kind == "patch":  # the region paper's mitigation: grey out the top-attributed 30 %
            return {"source_idx": self._train_sample(None, rng=rng), "method": "mask", "region": "attribution",
                    "version": v.id, "quantile": 0.7}
        if clusters is None:
            return None
        # the largest style cluster dominated by another class: its colour / background goes to the hurt class
        table = clusters.table
        other = table[table["top_class"] != self.ctx.dataset.classes[hurt]]
        c = int((other if len(other) else table)["size"].idxmax())
        return {"source_idx": self._train_sample(hurt, rng=rng), "style": clusters[c],
                "method": "color" if kind == "colour" else "background"}

    def _style_fix(self, v, failing: np.ndarray, ev, clusters, rng) -> dict | None:
        """Toward the train style cluster the failing images resemble most (nearest centroid of
        their embeddings), from train images of their most common class outside that cluster."""
        if clusters is None or not len(failing):
            return None
        ds = self.ctx.dataset
        c = int(np.bincount(clusters.assign(ev.embedding[failing]), minlength=clusters.k).argmax())
        label = int(np.bincount(ds.labels[failing], minlength=ds.num_classes).argmax())
        return {"source_idx": self._train_sample(label, exclude=clusters.members(c), rng=rng), "style": clusters[c],
                "method": "color"}
