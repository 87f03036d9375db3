"""ClusterGallery and AugmentedView from Python, and augmentation sets in the board."""

from __future__ import annotations

import time

import numpy as np
import pytest
import traitlets

import dashwidgets as dw


@pytest.fixture
def eng(small_ds):
    e = dw.Engine(small_ds, device="cpu")
    e.train(epochs=1, progress=False)
    return e


def test_cluster_gallery_shows_representatives_and_augments_the_selection(eng):
    g = dw.ClusterGallery(eng, k=4)
    cl = g.clustering
    assert len(g.clusters) == 4 and [len(r) for r in g.reps] == [6] * 4
    assert g.reps[2] == cl.representatives[2].tolist()
    assert [c["size"] for c in g.clusters] == cl.table["size"].tolist()
    g.k = 6
    assert len(g.clusters) == 6 and g.clustering.k == 6
    # bad input: shown in the view
    assert g.augment() == [] and "no source images" in g.error
    g.selection = [0, 1, 2, 3]
    assert g.augment() == [] and "pick at least one style cluster" in g.error
    for name, value, msg in [("k", 21, "k must be from 2 to 20"), ("k", 1, "k must be from 2 to 20"),
                             ("style_clusters", [9], "out of range"), ("method", "gan", "unknown augmentation method")]:
        with pytest.raises(traitlets.TraitError, match=msg):
            setattr(g, name, value)
    g.style_clusters = [1, 3]
    made = g.augment()
    assert [a.style["cluster"] for a in made] == [1, 3] and all(len(a) == 4 for a in made)
    assert g.made == [a.id for a in made] and "made 8 images" in g.message
    # the browser's request carries its picks
    g._on_msg(g, {"action": "augment", "method": "noise", "style_clusters": []}, [])
    assert eng.augmentations[-1].method == "noise"
    n = len(eng.augmentations)
    g._on_msg(g, {"action": "augment", "method": "gan", "style_clusters": [1]}, [])
    assert "unknown augmentation method 'gan'" in g.error and len(eng.augmentations) == n


def test_augmented_view_pairs_review_and_history(eng):
    view = dw.AugmentedView(eng)
    assert view.history == [] and view.pairs == []
    cl = eng.cluster(eng.versions[-1], k=3)
    aug = eng.augment(np.arange(30), style=cl[0], method="color")
    assert view.augmentation == aug.id and view.total == 30  # follows new augmentations
    assert len(view.pairs) == 24 and view.pairs[0] == {"row": 0, "source": 0, "label": eng.classes[eng.dataset.labels[0]], "accepted": True}
    view.toggle(0)
    assert aug.accepted[0] == False and view.pairs[0]["accepted"] is False  # noqa: E712
    assert view.history[-1]["accepted"] == 29
    assert sum(s["images"] for s in view.summary) == 29
    view._on_msg(view, {"action": "toggle", "row": 0}, [])
    assert aug.accepted[0]
    view.page = 1
    assert [p["row"] for p in view.pairs] == list(range(24, 30))
    with pytest.raises(traitlets.TraitError, match="unknown augmentation 'a7'"):
        view.augmentation = "a7"


def test_board_trains_with_chosen_augmentations(eng):
    cl = eng.cluster(eng.versions[-1], k=3)
    aug = eng.augment(np.arange(40), style=cl[1], method="background")
    board = dw.ClassifierBoard(eng)
    assert [a["id"] for a in board.augmentation_options] == [aug.id]
    board.use_augmentations = [aug.id]
    board.epochs, board.parent = 1, "v1"
    v = board.train().result(timeout=120)
    assert v.lineage["augmentations"] == [aug.id]
    assert board.versions[-1]["augmentations"] == [aug.id]


def test_cluster_gallery_translate_runs_a_job_refuses_a_second_and_reports_failures(eng, monkeypatch):
    gal = dw.ClusterGallery(eng, k=3)
    gal.selection = eng.dataset.indices("test")[:8].tolist()
    gal.style_clusters = [0]
    gal.method = "translate"
    gal.steps = 100_000
    # test images never become training images: refused before any translator training
    assert gal.augment() == [] and "come from the test split" in gal.error and gal.job is None
    gal.selection = eng.dataset.indices("train")[:8].tolist()
    job = gal.augment()
    assert gal.state == "running" and isinstance(job, dw.runtime.jobs.Job)
    assert gal.augment() == [] and "still training" in gal.error  # one translator job at a time
    gal.cancel()
    assert job.wait(30) and gal.state == "cancelled" and not eng.augmentations
    gal.steps = 20
    job = gal.augment()
    job.wait(120)
    for _ in range(600):  # the augmentation is made by the job's final listener
        if gal.made:
            break
        time.sleep(0.05)
    assert gal.error == "" and gal.state == "done" and gal.made == [eng.augmentations[-1].id]
    assert eng.augmentations[-1].method == "translate" and len(eng.augmentations[-1]) == 8

    def broken(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("dashwidgets.engine.translation.train_translator", broken)
    gal.k = 4  # a translator that is not cached yet
    gal.style_clusters = [1]
    gal.augment().wait(30)
    for _ in range(100):
        if gal.state == "failed":
            break
        time.sleep(0.05)
    assert gal.state == "failed" and "out of memory" in gal.error


def test_cluster_gallery_sources_selection_or_clusters_train_only_with_a_hint(eng):
    ds = eng.dataset
    g = dw.ClusterGallery(eng, k=4)
    # nothing chosen: the hint says how to choose, the count is 0 (the browser disables Augment)
    assert g.source_count == 0 and g.source_hint.startswith("Sources: none yet. To choose them, lasso")
    assert "click a cluster's header" in g.source_hint  # color needs a target style
    # a mixed selection: val/test images are counted and left out, never used
    train, val, test = (ds.indices(s) for s in ("train", "val", "test"))
    g.selection = [*train[:10].tolist(), *val[:3].tolist(), *test[:4].tolist()]
    assert g.source_count == 10
    assert "17 image(s) from the linked selection; 10 train image(s) used, 3 val and 4 test left out" in g.source_hint
    assert g.source_indices().tolist() == sorted(train[:10].tolist())
    g.style_clusters = [1]
    assert "Target style: cluster(s) #1." in g.source_hint
    made = g.augment()
    assert len(made) == 1 and sorted(made[0].sources.tolist()) == sorted(train[:10].tolist())
    assert set(ds.split[made[0].sources]) == {"train"}
    assert "7 val/test image(s) left out" in g.message
    # only evaluation images chosen: refused with the reason, nothing made
    n = len(eng.augmentations)
    g.selection = test[:5].tolist()
    assert g.source_count == 0 and g.augment() == [] and "come from the test split" in g.error
    assert len(eng.augmentations) == n
    g.selection = train[:3].tolist()  # usable sources again: the refusal is cleared
    assert g.error == "" and g.source_count == 3
    # clusters as sources: every member of the ticked clusters (the clustering is on train images)
    g.source, g.source_clusters = "clusters", [0, 2]
    members = np.union1d(g.clustering[0].members, g.clustering[2].members)
    assert g.source_count == len(members) and "cluster(s) #0, #2" in g.source_hint
    made = g.augment()
    assert sorted(made[0].sources.tolist()) == members.tolist()
    # the browser's request carries its source choice
    g._on_msg(g, {"action": "augment", "method": "noise", "style_clusters": [], "source": "clusters", "source_clusters": [3]}, [])
    assert sorted(eng.augmentations[-1].sources.tolist()) == sorted(g.clustering[3].members.tolist())
    for name, value, msg in [("source", "lasso", "unknown source 'lasso'"), ("source_clusters", [4], "source clusters out of range")]:
        with pytest.raises(traitlets.TraitError, match=msg):
            setattr(g, name, value)
    g.k = 3  # picks beyond the new k are dropped, the hint follows
    assert g.source_clusters == [] and g.source_count == 0 and "none yet" in g.source_hint
