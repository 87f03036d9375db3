"""UDIS subgroups on synthetic features whose clusters and errors are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashwidgets.audit.subgroups import default_k, discover_subgroups


def _blobs(seed=0):
    """Four well separated blobs of 30 images in 3-D (centres 0, 10, 20, 100 on every axis).
    Blob 0 is all wrong (true 0, predicted 1), blob 1 is right except 3, blobs 2, 3 all right."""
    rng = np.random.default_rng(seed)
    centres = np.array([0.0, 10.0, 20.0, 100.0])
    x = np.concatenate([rng.normal(c, 0.5, (30, 3)) for c in centres])
    labels = np.repeat([0, 1, 0, 1], 30)
    pred = labels.copy()
    pred[:30] = 1
    pred[30:33] = 0
    aligned = np.zeros(120, bool)
    aligned[60:] = True
    return x, labels, pred, aligned


@pytest.mark.parametrize("method", ["kmeans", "hierarchical"])
def test_blobs_become_subgroups_sorted_by_accuracy_with_pairs(method):
    x, labels, pred, aligned = _blobs()
    idx = np.arange(1000, 1120)
    sg = discover_subgroups(x, labels, pred, idx, k=4, method=method, num_classes=2, classes=["zero", "one"],
                            attributes={"aligned": aligned, "colour": np.arange(120)})
    t = sg.table
    assert list(t.index) == [0, 1, 2, 3] and t.index.name == "subgroup"
    assert t["accuracy"].is_monotonic_increasing
    assert t["size"].tolist() == [30, 30, 30, 30]
    assert t.loc[0, "accuracy"] == 0.0 and t.loc[1, "accuracy"] == pytest.approx(0.9)
    # overall accuracy 87/120 = 0.725; only the all-wrong blob is below half of it
    assert sg.overall_accuracy == pytest.approx(87 / 120)
    assert t["under"].tolist() == [True, False, False, False]
    assert sorted(sg.members(0).tolist()) == list(range(1000, 1030))
    # its closest well-performing blob is the one centred at 10 (accuracy 0.9, id 1), not 20 or 100
    assert sg.pair(0) == 1 and sorted(sg.members(1).tolist()) == list(range(1030, 1060))
    assert t.loc[0, "pair_distance"] == pytest.approx(10 * np.sqrt(3), rel=0.05)
    assert t["pair"].isna().tolist() == [False, True, True, True] and sg.pair(1) is None
    assert t.loc[0, "label"] == "zero" and t.loc[0, "prediction"] == "one"
    assert t.loc[0, "label_share"] == 1.0 and t.loc[1, "prediction_share"] == pytest.approx(0.9)
    # boolean attributes get a share column, others none
    assert t.loc[0, "aligned_share"] == 0.0 and t.loc[3, "aligned_share"] == 1.0
    assert "colour_share" not in t
    np.testing.assert_array_equal(sg.confusion(0), [[0, 30], [0, 0]])
    np.testing.assert_array_equal(sg.confusion(1), [[0, 0], [3, 27]])
    assert sg.under == [0]


def test_ratio_is_configurable():
    x, labels, pred, _ = _blobs()
    # with ratio 1 a subgroup under-performs below the overall 0.725: still only blob 0 (0.9 > 0.725)
    assert discover_subgroups(x, labels, pred, k=4, ratio=1.0).under == [0]
    # ratio 0.01: nothing is below 0.00725 except accuracy 0.0
    assert discover_subgroups(x, labels, pred, k=4, ratio=0.01).under == [0]
    pred2 = pred.copy()
    pred2[30:45] = 0  # blob at 10 now at 0.5 accuracy; overall 0.625
    sg = discover_subgroups(x, labels, pred2, k=4, ratio=0.9)  # threshold 0.5625
    assert sg.table["under"].tolist() == [True, True, False, False]
    assert sg.pair(0) == sg.pair(1) == 2  # the centre-20 blob is the nearest well-performing one


def test_no_well_performing_subgroup_leaves_pairs_missing():
    x, labels, _, _ = _blobs()
    sg = discover_subgroups(x, labels, 1 - labels, k=4)  # everything wrong: overall 0, nothing under 0
    assert not sg.table["under"].any()
    assert sg.table["pair"].isna().all()


def test_kmeans_is_reproducible_with_a_seed():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 5))
    labels = rng.integers(0, 3, 200)
    pred = rng.integers(0, 3, 200)
    a = discover_subgroups(x, labels, pred, k=7, seed=5)
    b = discover_subgroups(x, labels, pred, k=7, seed=5)
    np.testing.assert_array_equal(a.assignment, b.assignment)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_default_k_rule():
    assert default_k(250) == 11  # round(sqrt(125))
    assert default_k(20) == 2  # n // 10
    assert default_k(5) == 2
    assert default_k(10**6) == 50
    x, labels, pred, _ = _blobs()
    assert discover_subgroups(x, labels, pred).k == default_k(120) == 8


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_duplicate_points_leave_no_empty_subgroup():
    x = np.repeat(np.array([[0.0], [1.0]]), 10, axis=0)  # only two distinct points
    sg = discover_subgroups(x, np.zeros(20, int), np.zeros(20, int), k=5)
    assert (sg.table["size"] > 0).all() and sg.table["size"].sum() == 20
    assert sg.k == len(sg.table) <= 5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 1}, "at least 2"),
        ({"k": 121}, "more than the 120 images"),
        ({"k": 2.5}, "integer"),
        ({"method": "dbscan"}, "unknown clustering method 'dbscan'"),
        ({"ratio": 0}, "ratio"),
        ({"ratio": 1.5}, "ratio"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    x, labels, pred, _ = _blobs()
    with pytest.raises((ValueError, TypeError), match=match):
        discover_subgroups(x, labels, pred, **kwargs)


def test_bad_shapes_and_ids():
    x, labels, pred, _ = _blobs()
    with pytest.raises(ValueError, match="labels and pred"):
        discover_subgroups(x, labels[:5], pred)
    with pytest.raises(ValueError, match="at least 2 images"):
        discover_subgroups(x[:1], labels[:1], pred[:1])
    with pytest.raises(ValueError, match="attribute 'aligned'"):
        discover_subgroups(x, labels, pred, attributes={"aligned": np.zeros(3, bool)})
    sg = discover_subgroups(x, labels, pred, k=4)
    with pytest.raises(ValueError, match=r"subgroup 4 out of range \[0, 4\)"):
        sg.members(4)
    with pytest.raises(ValueError, match="subgroup -1"):
        sg.confusion(-1)


def test_subgroups_of_one_image_are_valid_and_scored_zero_or_one():
    # k = n: every subgroup holds one image; its accuracy is 0 or 1, its confusion one count,
    # and one-image groups get neuron scores of 0 or 1 (a share of one image), not an error
    from dashwidgets.audit.neurons import neuron_scores

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3))
    labels, pred = np.array([0, 1, 0, 1, 0, 1]), np.array([0, 0, 0, 1, 1, 1])
    sg = discover_subgroups(x, labels, pred, k=6, num_classes=2)
    assert sg.table["size"].tolist() == [1] * 6
    assert set(sg.table["accuracy"]) == {0.0, 1.0} and all(sg.confusion(i).sum() == 1 for i in range(6))
    assert sg.under == [0, 1] and all(sg.pair(i) is not None for i in sg.under)
    scores = neuron_scores({"conv": rng.random((6, 4))}, {"one": [0], "all": np.arange(6)})
    assert set(scores["one"]) <= {0.0, 1.0}
