"""VisCUIT neuron clustering: the greedy grouping on hand-made vectors, and the trained patch
embedding on a small trained classifier (one shared training run, checked several ways)."""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pytest
import torch

from dashwidgets.audit.neuron_clusters import (
    NeuronClusters,
    cluster_neurons,
    group_neurons,
    pair_loss,
)
from dashwidgets.models.cnn import default_model
from dashwidgets.runtime import Cancelled


def _at(*degrees: float) -> torch.Tensor:
    """Unit vectors in the plane at the given angles, ``[n, 2]``."""
    r = torch.tensor([math.radians(d) for d in degrees], dtype=torch.float64)
    return torch.stack([torch.cos(r), torch.sin(r)], 1)


# ------------------------------------------------------------------ grouping


def test_two_clear_groups_in_input_order():
    g = torch.Generator().manual_seed(0)
    a = torch.tensor([1.0, 0, 0, 0])
    b = torch.tensor([0, 0, 1.0, 0])

    def near(v):
        return torch.nn.functional.normalize(v + 0.03 * torch.randn(3, 4, generator=g), dim=1)

    vectors = [near(a), near(b), near(a), near(b), near(a)]
    assert group_neurons(vectors, 0.9).tolist() == [0, 1, 0, 1, 0]


def test_threshold_one_keeps_even_identical_neurons_apart():
    v = torch.nn.functional.normalize(torch.ones(2, 8), dim=1)  # float rounding may give 1 + 1e-7
    assert group_neurons([v, v.clone(), v.clone()], 1.0).tolist() == [0, 1, 2]
    assert group_neurons([v, v.clone(), v.clone()], 0.999).tolist() == [0, 0, 0]


def test_a_neuron_joins_the_most_similar_cluster_not_the_first_above_threshold():
    # 0 deg and 30 deg are apart (cos 30 = 0.866); 20 deg is 0.940 to the first, 0.985 to the second
    assert group_neurons([_at(0), _at(30), _at(20)], 0.9).tolist() == [0, 1, 1]


def test_similarity_is_the_mean_over_all_patches_of_the_cluster():
    # A: three patches at 0 deg; B at 25 deg joins A (cos 25 = 0.906). C at -15 deg: against the
    # cluster's four patches the mean is (3 cos 15 + cos 40) / 4 = 0.916 -> joins; a mean over
    # neurons (0.866) or the last member alone (0.766) would start a new cluster
    assert group_neurons([_at(0, 0, 0), _at(25), _at(-15)], 0.9).tolist() == [0, 0, 0]
    # with one patch for A the mean is (cos 15 + cos 40) / 2 = 0.866 -> new cluster, although the
    # first member alone (cos 15 = 0.966) would have taken it
    assert group_neurons([_at(0), _at(25), _at(-15)], 0.9).tolist() == [0, 0, 1]


def test_grouping_errors():
    with pytest.raises(ValueError, match="threshold"):
        group_neurons([_at(0)], 0.0)
    with pytest.raises(ValueError, match=r"vectors\[1\]"):
        group_neurons([_at(0), torch.zeros(0, 2)], 0.9)
    with pytest.raises(ValueError, match="same length"):
        group_neurons([_at(0), torch.ones(1, 3)], 0.9)
    assert group_neurons([], 0.9).tolist() == []


def test_pair_loss_is_eq_1_averaged_over_pairs():
    dots = torch.tensor([0.5, 0.9, 0.2, 2.0, -1.0])
    same = torch.tensor([True, True, False, True, False])
    expected = -(math.log(0.5) + math.log(0.9) + math.log(0.8) + math.log(1 - 1e-4) + math.log(1 - 1e-4)) / 5
    assert float(pair_loss(dots, same)) == pytest.approx(expected, rel=1e-5)
    assert math.isfinite(float(pair_loss(torch.tensor([0.0, 1.0]), torch.tensor([True, False]))))


# ------------------------------------------------------------------ result object


def test_mates_and_clusters():
    table = pd.DataFrame({"layer": ["a", "a", "b", "b"], "neuron": [0, 1, 0, 5], "cluster": [0, 1, 0, 0]})
    nc = NeuronClusters(table=table, threshold=0.9, losses=[1.0])
    assert nc.mates("a", 0) == [("b", 0), ("b", 5)]
    assert nc.mates("a", 1) == []
    assert nc.clusters() == {0: [("a", 0), ("b", 0), ("b", 5)], 1: [("a", 1)]}
    with pytest.raises(ValueError, match=r"\('b', 1\) was not clustered"):
        nc.mates("b", 1)


# ------------------------------------------------------------------ training on a classifier

SIDE = 4  # the concept-patch side for 32 px images: max(3, round(30 * 32 / 224))


def _patches(kind: str, n: int, seed: int) -> torch.Tensor:
    """``n`` model inputs ``[n, 3, 32, 32]``, zero (the mean) except one SIDE x SIDE patch of
    ``kind`` at a random place: a red or blue square, or a black/white checkerboard."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 3, 32, 32)
    if kind == "checker":
        p = ((torch.arange(SIDE)[:, None] + torch.arange(SIDE)[None]) % 2 * 4.0 - 2.0).expand(3, SIDE, SIDE)
    else:
        p = torch.tensor({"red": [3.0, -1.0, -1.0], "blue": [-1.0, -1.0, 3.0]}[kind]).view(3, 1, 1).expand(3, SIDE, SIDE)
    for j in range(n):
        y0, x0 = torch.randint(2, 32 - SIDE - 2, (2,), generator=g).tolist()
        x[j, :, y0 : y0 + SIDE, x0 : x0 + SIDE] = p
    return x


RED = _patches("red", 6, 0)
INPUTS = {
    ("features.0", 3): RED,
    ("features.4", 1): _patches("checker", 6, 1),
    ("features.4", 7): _patches("blue", 6, 2),
    ("features.8", 2): RED.clone(),  # the same concept patches as ('features.0', 3)
}


@pytest.fixture(scope="module")
def run(trained):
    """One training run on the 2-epoch classifier: (model, its state before, result, events)."""
    eng, v = trained
    model = eng.model(v)
    before = {k: t.detach().clone() for k, t in model.state_dict().items()}
    was_training = model.training
    events: list[dict] = []
    result = cluster_neurons(
        model, INPUTS, eng.embedding_layer, "cpu", epochs=4, pairs=150, lr=1e-3, batch_size=32, emit=events.append
    )
    return model, before, was_training, result, events


def test_table_lists_every_neuron_in_input_order(run):
    *_, result, _ = run
    assert list(result.table.columns) == ["layer", "neuron", "cluster"]
    assert list(result.table[["layer", "neuron"]].itertuples(index=False, name=None)) == list(INPUTS)
    assert result.table["neuron"].dtype == np.int64 and result.table["cluster"].dtype == np.int64
    assert result.threshold == 0.9 and len(result.losses) == 4


def test_identical_inputs_share_a_cluster_and_different_ones_do_not(run):
    *_, result, _ = run
    assert result.table["cluster"].tolist() == [0, 1, 2, 0]
    assert result.mates("features.0", 3) == [("features.8", 2)]
    assert result.mates("features.4", 1) == []


def test_training_lowers_the_loss(run):
    *_, result, _ = run
    first, last = result.losses[0], result.losses[-1]
    assert all(math.isfinite(x) for x in result.losses)
    assert last < 0.9 * first, result.losses  # this run falls by about 20 % (0.82 -> 0.66)


def test_the_audited_model_is_not_modified(run, trained):
    model, before, was_training, *_ = run
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert model.training == was_training
    assert all(not m._forward_hooks for m in model.modules())  # no hook left behind


def test_progress_events(run):
    *_, events = run
    assert events and all(e["type"] == "step" for e in events)
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and 0 < progress[0] and progress[-1] == 1.0
    assert [e["epoch"] for e in events if e["loss"] is not None][-1] == 4


def test_same_seed_same_result_and_epochs_zero(trained):
    eng, v = trained
    kw = dict(epochs=1, pairs=20, lr=1e-3, batch_size=16, seed=3)
    a = cluster_neurons(eng.model(v), INPUTS, eng.embedding_layer, "cpu", **kw)
    b = cluster_neurons(eng.model(v), INPUTS, eng.embedding_layer, "cpu", **kw)
    assert a.losses == b.losses and a.table.equals(b.table)
    zero = cluster_neurons(eng.model(v), INPUTS, eng.embedding_layer, "cpu", epochs=0)
    assert zero.losses == [] and zero.table["cluster"].tolist()[0] == zero.table["cluster"].tolist()[3]
    one = cluster_neurons(eng.model(v), {("x", 0): RED[:1]}, eng.embedding_layer, "cpu", epochs=0)
    assert one.table["cluster"].tolist() == [0] and one.mates("x", 0) == []


# ------------------------------------------------------------------ cancel and errors


def _tiny():
    return default_model(2, seed=0)


def test_a_set_stop_cancels_before_work():
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        cluster_neurons(_tiny(), INPUTS, "features.8", "cpu", epochs=1, pairs=20, stop=stop)
    with pytest.raises(Cancelled):
        cluster_neurons(_tiny(), INPUTS, "features.8", "cpu", epochs=0, stop=stop)


def test_stop_during_training_cancels():
    stop = threading.Event()
    events: list[dict] = []

    def emit(ev):
        events.append(ev)
        stop.set()  # ask to stop after the first progress report

    with pytest.raises(Cancelled):
        cluster_neurons(_tiny(), INPUTS, "features.8", "cpu", epochs=3, pairs=64, batch_size=8, emit=emit, stop=stop)
    assert len(events) == 1 and events[0]["progress"] < 0.1


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(inputs={}), "non-empty dict"),
        (dict(inputs={("l", 0): RED, ("l", 1): RED[:1]}), r"\('l', 1\) has 1 concept patch.*at least 2.*same-neuron pair"),
        (dict(inputs={("l", 0): RED, ("l", 1): RED[:0]}, epochs=0), r"\('l', 1\) has no concept patch"),
        (dict(inputs={("l", 0): RED, ("l", 1): torch.zeros(3, 3, 16, 16)}), r"shape \(3, 16, 16\).*\(3, 32, 32\)"),
        (dict(inputs={("l", 0): RED[0]}), r"\[patches, channels, H, W\]"),
        (dict(inputs={("l", 0): RED.to(torch.uint8)}), "float"),
        (dict(inputs={"l": RED}), r"\(layer name, neuron index\)"),
        (dict(inputs={("l", 0): RED * float("nan")}), "NaN"),
        (dict(threshold=0.0), "threshold must be in"),
        (dict(threshold=1.5), "threshold must be in"),
        (dict(epochs=-1), "epochs must be an integer >= 0"),
        (dict(epochs=1.5), "epochs"),
        (dict(pairs=0), "pairs must be an integer >= 1"),
        (dict(batch_size=0), "batch_size"),
        (dict(lr=0.0), "lr must be a positive"),
        (dict(lr=float("inf")), "lr"),
        (dict(embedding_layer="nope"), "no layer 'nope'"),
    ],
)
def test_bad_arguments_are_named(change, match):
    kw = dict(inputs=INPUTS, embedding_layer="features.8", device="cpu", epochs=1, pairs=10)
    kw.update(change)
    with pytest.raises(ValueError, match=match):
        cluster_neurons(_tiny(), **kw)


def test_model_must_be_a_module():
    with pytest.raises(TypeError, match="nn.Module"):
        cluster_neurons(object(), INPUTS, "features.8", "cpu")
