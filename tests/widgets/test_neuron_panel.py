"""NeuronPanel from Python: its columns come from the engine's scores, the threshold filters them,
clustering runs as a cancellable job, and bad input is refused in the view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import traitlets

import dashwidgets as dw
from dashwidgets.widgets.neurons import NeuronPanel, split_columns


@pytest.fixture(scope="module")
def eng(small_ds):
    e = dw.Engine(small_ds, device="cpu")
    e.train(epochs=2, progress=False)
    return e


def test_split_columns_sorts_neurons_by_which_group_reaches_the_threshold():
    scores = pd.DataFrame({"layer": ["a"] * 5, "neuron": range(5),
                           "under": [0.9, 0.6, 0.1, 0.5, 0.3], "well": [0.2, 0.8, 0.75, 0.5, 0.4]})
    cols = split_columns(scores, 0.5)
    assert cols["under"]["neuron"].tolist() == [0]
    assert cols["both"]["neuron"].tolist() == [1, 3]  # >= counts
    assert cols["well"]["neuron"].tolist() == [2]
    cols = split_columns(scores, 0.7)
    assert cols["under"]["neuron"].tolist() == [0] and cols["both"].empty and cols["well"]["neuron"].tolist() == [1, 2]


def test_panel_scores_the_subgroup_and_its_pair(eng):
    panel = NeuronPanel(eng)
    sg = eng.subgroups(eng.active)
    assert [o["id"] for o in panel.options] == sg.under and sg.under
    assert panel.subgroup == -1 and panel.neurons == {} and panel.scores is None
    u = sg.under[0]
    w = sg.pair(u)
    panel.subgroup = u
    assert panel.error == ""
    expected = eng.neuron_scores(eng.active, {"under": sg.members(u), "well": sg.members(w)})
    pd.testing.assert_frame_equal(panel.scores, expected)
    assert panel.groups["under"] == u and panel.groups["well"] == w
    assert panel.groups["under_size"] == len(sg.members(u)) and panel.groups["neurons"] == len(expected)
    # only neurons with a score >= 0.5 for either group travel, with their layer as a band index
    sent = expected[(expected["under"] >= 0.5) | (expected["well"] >= 0.5)]
    data = panel.neurons
    assert data["bands"] == list(dict.fromkeys(expected["layer"]))
    assert len(data["neuron"]) == len(sent) == panel.groups["sent"] > 0
    assert [data["bands"][b] for b in data["band"]] == sent["layer"].tolist()
    assert data["neuron"] == sent["neuron"].tolist()
    np.testing.assert_allclose(data["under"], sent["under"], atol=5e-4)
    np.testing.assert_allclose(data["well"], sent["well"], atol=5e-4)
    # columns at the panel's threshold and at a stricter one
    for t in (0.5, 0.75, 1.0):
        cols = panel.columns(t)
        u_ok, w_ok = expected["under"] >= t, expected["well"] >= t
        assert len(cols["under"]) == int((u_ok & ~w_ok).sum())
        assert len(cols["both"]) == int((u_ok & w_ok).sum())
        assert len(cols["well"]) == int((w_ok & ~u_ok).sum())
    panel.threshold = 0.75
    assert {k: len(v) for k, v in panel.columns().items()} == {k: len(v) for k, v in panel.columns(0.75).items()}
    assert len(panel.shown()) == sum(len(v) for v in panel.columns(0.75).values())
    # a click in the browser sets the neuron
    layer, n = data["bands"][data["band"][0]], data["neuron"][0]
    panel.neuron = {"layer": layer, "neuron": n}
    assert panel.neuron == {"layer": layer, "neuron": n}
    panel.subgroup = -1
    assert panel.neurons == {} and panel.scores is None


def test_panel_refuses_bad_input_in_the_view(eng):
    panel = NeuronPanel(eng)
    sg = eng.subgroups(eng.active)
    well = next(i for i in range(len(sg)) if i not in sg.under)
    for name, value, msg in [
        ("threshold", 0.45, "threshold must be from 0.5 to 1.0"),
        ("threshold", 1.2, "threshold must be from 0.5 to 1.0"),
        ("subgroup", len(sg), "out of range"),
        ("subgroup", well, "is not under-performing"),
        ("layers", ["nope"], "nope"),
        ("version", "v9", "v9"),
        ("neuron", {"layer": 3}, "neuron must be"),
    ]:
        with pytest.raises(traitlets.TraitError, match=msg):
            setattr(panel, name, value)
        assert msg in panel.error
    panel.subgroup = sg.under[0]
    with pytest.raises(traitlets.TraitError, match="unknown layer 'nope'"):
        panel.neuron = {"layer": "nope", "neuron": 0}
    first = panel.neurons["bands"][0]
    with pytest.raises(traitlets.TraitError, match="has .* neurons; got neuron 9999"):
        panel.neuron = {"layer": first, "neuron": 9999}
    with pytest.raises(ValueError, match="threshold must be"):
        panel.columns(0.2)
    assert panel.threshold == 0.5 and panel.subgroup == sg.under[0]  # refused values left no trace
    # one layer only; a linked view may still pick a neuron of another conv layer
    panel.layers = [first]
    assert panel.neurons["bands"] == [first] and set(panel.scores["layer"]) == {first}
    last = dw.models.layers.conv_layers(eng.model(eng.active))[-1]
    panel.neuron = {"layer": last, "neuron": 1}
    assert panel.neuron == {"layer": last, "neuron": 1}
    with pytest.raises(TypeError, match="unexpected keyword"):
        NeuronPanel(eng, treshold=0.6)


def test_no_subgroup_no_columns(eng):
    panel = NeuronPanel(eng)
    with pytest.raises(ValueError, match="no subgroup picked"):
        panel.columns()
    assert panel.cluster() is None and "no subgroup picked" in panel.error


def test_cluster_neurons_job_sends_cluster_ids_and_cancels(eng):
    panel = NeuronPanel(eng)
    sg = eng.subgroups(eng.active)
    counts = {}
    for u in sg.under:
        panel.subgroup = u
        counts[u] = len(panel.shown())
    panel.subgroup = max(counts, key=counts.get)
    shown = panel.shown()
    assert len(shown) >= 2
    panel.cluster_params = {"epochs": 1, "pairs": 200}
    panel._on_msg(panel, {"action": "cluster", "threshold": 0.5}, [])  # the button
    job = panel.job
    assert job is not None and panel.cluster_state in ("running", "done")
    job.result(timeout=300)
    _wait(lambda: panel.cluster_state == "done")
    nc = eng.neuron_clusters(eng.active)
    assert sorted(zip(nc.table["layer"], nc.table["neuron"], strict=True)) == sorted(shown)
    ids = dict(zip(zip(nc.table["layer"], nc.table["neuron"], strict=True), nc.table["cluster"], strict=True))
    data = panel.neurons
    sent = [(data["bands"][b], n) for b, n in zip(data["band"], data["neuron"], strict=True)]
    assert panel.clusters == [int(ids.get(key, -1)) for key in sent]
    assert "cluster(s)" in panel.message
    # a new panel on the same version finds the clustering
    other = NeuronPanel(eng)
    other.subgroup = panel.subgroup
    assert other.clusters == panel.clusters
    # cancel: the ids stay
    before = list(panel.clusters)
    job = panel.cluster(epochs=50, pairs=5000)
    assert panel.cluster() is None and "already running" in panel.error
    panel._on_msg(panel, {"action": "cancel"}, [])
    job.wait(120)
    _wait(lambda: panel.cluster_state == "cancelled")
    assert panel.clusters == before and "cancelled" in panel.message
    # a refused threshold in the button's request stops the job before it starts
    panel._on_msg(panel, {"action": "cluster", "threshold": 0.2}, [])
    assert "threshold must be" in panel.error and panel.job is job


def _wait(cond, timeout=10.0):
    import time

    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_a_new_version_keeps_the_pick_only_where_it_is_still_under_performing(small_ds):
    e = dw.Engine(small_ds, device="cpu")
    v1 = e.train(epochs=1, progress=False)
    v2 = e.train(epochs=1, progress=False, seed=1)
    sg1, sg2 = e.subgroups(v1), e.subgroups(v2)
    panel = NeuronPanel(e, v1)
    for u in sg1.under:
        panel.version = v1.id
        panel.subgroup = u
        panel.version = v2.id
        assert [o["id"] for o in panel.options] == sg2.under
        if u in sg2.under:  # the id names an under-performing subgroup of v2 too: rescored for v2
            assert panel.subgroup == u and panel.groups["well"] == sg2.pair(u)
        else:
            assert panel.subgroup == -1 and panel.neurons == {}
