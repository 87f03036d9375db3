"""Model criticism: IFGSM steps against a per-image loop, MMD-critic against brute force, the
probability baseline, attribute enrichment on hand-made counts, and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from dashwidgets.audit.criticism import (
    adversarial_selection,
    criticize,
    ifgsm_steps,
    probability_selection,
)
from dashwidgets.audit.mmd_critic import (
    greedy_criticisms,
    greedy_prototypes,
    mmd_critic,
    rbf_kernel,
    witness,
)


def _tiny_cnn(seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3)
    ).double().eval()


def _reference_steps(model, x, y, step, m, low=None, high=None) -> np.ndarray:
    """The loop a reader would write: one image at a time, one step at a time."""
    out = []
    for xi, yi in zip(x, y, strict=True):
        xi = xi[None].clone()
        if model(xi).argmax(1).item() != yi:
            out.append(0)
            continue
        for t in range(1, m + 1):
            xi.requires_grad_(True)
            loss = nn.functional.cross_entropy(model(xi), torch.tensor([yi]))
            (g,) = torch.autograd.grad(loss, xi)
            xi = (xi + step * g.sign()).detach()
            if low is not None:
                xi = torch.maximum(torch.minimum(xi, high), low)
            if model(xi).argmax(1).item() != yi:
                out.append(t)
                break
        else:
            out.append(m + 1)
    return np.array(out)


def test_batched_ifgsm_matches_a_per_image_loop():
    model = _tiny_cnn()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(64, 3, 6, 6, generator=g, dtype=torch.float64)
    with torch.no_grad():
        y = model(x).argmax(1)
    y[:8] = (y[:8] + 1) % 3  # some misclassified to begin with
    step = torch.tensor([0.02, 0.01, 0.03], dtype=torch.float64)
    low, high = torch.zeros(1, 3, 1, 1, dtype=torch.float64), torch.ones(1, 3, 1, 1, dtype=torch.float64)
    got = ifgsm_steps(model, x, y, step, max_steps=10, batch_size=16, clip=(low, high))
    ref = _reference_steps(model, x, y.tolist(), step.view(1, 3, 1, 1), 10, low, high)
    np.testing.assert_array_equal(got, ref)
    assert (got[:8] == 0).all()
    assert len(np.unique(got)) >= 4, np.unique(got)  # the check sees early, late and no flips
    # inputs given as a loader of positions give the same answer
    loaded = ifgsm_steps(model, lambda pos: x[pos], y.numpy(), step, max_steps=10, batch_size=7, clip=(low, high))
    np.testing.assert_array_equal(loaded, got)


class _Margin(nn.Module):
    """Two classes; logit of class 0 minus class 1 is ``2 * x[:, 1].sum()`` (channel 1 only)."""

    def forward(self, x):
        s = x[:, 1].flatten(1).sum(1)
        return torch.stack([s, -s], 1)


def test_far_from_the_boundary_survives_and_on_it_flips_at_step_one():
    x = torch.zeros(3, 3, 2, 2)
    x[0, 1] = 4.75  # margin 38: far
    x[1, 1] = 1e-4  # margin 8e-4: on the boundary
    x[2, 1] = -1.0  # predicted class 1, label 0: misclassified
    y = torch.zeros(3, dtype=torch.int64)
    steps = ifgsm_steps(_Margin(), x, y, 0.01, max_steps=10)
    assert steps.tolist() == [11, 1, 0]
    # each step moves channel 1's pixels by `step`: 4.75 crosses 0 at the 10th step of 0.5
    assert ifgsm_steps(_Margin(), x[:1], y[:1], 0.5, max_steps=10).tolist() == [10]
    # the step is per channel: a large step on channels 0 and 2 only does not move the decision
    assert ifgsm_steps(_Margin(), x[1:2], y[:1], [1.0, 1e-6, 1.0], max_steps=10).tolist() == [11]
    # clipped to the valid range the boundary image cannot move either
    assert ifgsm_steps(_Margin(), x[1:2], y[:1], 0.01, max_steps=10, clip=(0.0, 1e-4)).tolist() == [11]


@pytest.mark.parametrize(
    "step, max_steps, match",
    [(0.0, 10, "step"), (-1e-3, 10, "step"), (float("nan"), 10, "step"), (1e-3, 0, "max_steps"),
     (1e-3, 2.5, "max_steps"), (1e-3, True, "max_steps"), ([1e-3, 1e-3], 10, "channels")],
)
def test_bad_step_or_max_steps_is_refused(step, max_steps, match):
    x, y = torch.zeros(2, 3, 2, 2), torch.zeros(2, dtype=torch.int64)
    with pytest.raises(ValueError, match=match):
        ifgsm_steps(_Margin(), x, y, step, max_steps=max_steps)


def test_adversarial_and_probability_selections():
    steps = np.array([11, 11, 1, 0, 5, 1])
    labels = np.array([0, 0, 0, 0, 1, 1])
    pred = np.array([0, 1, 0, 1, 1, 1])  # row 1: never flips but wrong (e.g. autocast disagreed)
    assert adversarial_selection(steps, labels, pred, 10).tolist() == ["prototype", "", "criticism", "", "", "criticism"]
    assert probability_selection(np.array([0.95, 0.9, 0.5, 0.1, 0.05])).tolist() == ["prototype", "", "", "", "criticism"]


# ---------------------------------------------------------------- MMD-critic
def _j(kernel, s):
    s = list(s)
    n = len(kernel)
    return 2.0 / (n * len(s)) * kernel[:, s].sum() - kernel[np.ix_(s, s)].sum() / len(s) ** 2


def _naive_greedy(objective, n, m, exclude=()):
    chosen = []
    for _ in range(m):
        cands = [c for c in range(n) if c not in chosen and c not in exclude]
        vals = [objective(chosen + [c]) for c in cands]
        chosen.append(cands[int(np.argmax(vals))])
    return chosen


def test_greedy_prototypes_evaluate_the_objective_and_get_near_the_brute_force_optimum(rng):
    x = np.concatenate([rng.normal(0, 1, (6, 2)), rng.normal(6, 1, (5, 2))])
    kernel, gamma = rbf_kernel(x)
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    assert gamma == pytest.approx(1 / np.median(d2[np.triu_indices(len(x), 1)]))
    for m in (1, 2, 3, 4):
        got = greedy_prototypes(kernel, m)
        assert got.tolist() == _naive_greedy(lambda s: _j(kernel, s), len(x), m)
        best = max(_j(kernel, s) for s in itertools.combinations(range(len(x)), m))
        assert _j(kernel, got) >= (1 - 1 / math.e) * best
    assert {int(i) < 6 for i in greedy_prototypes(kernel, 2)} == {True, False}  # one per cluster


@pytest.mark.parametrize("lam", [1e-5, 1.0])
def test_greedy_criticisms_match_a_naive_greedy_with_slogdet(rng, lam):
    x = np.concatenate([rng.normal(0, 1, (12, 3)), rng.normal(4, 0.5, (3, 3))])
    kernel, _ = rbf_kernel(x)
    protos = greedy_prototypes(kernel, 3)
    w = np.abs(witness(kernel, protos))

    def objective(c):
        return w[c].sum() + lam * np.linalg.slogdet(kernel[np.ix_(c, c)])[1]

    got = greedy_criticisms(kernel, protos, 4, lam)
    assert got.tolist() == _naive_greedy(objective, len(x), 4, exclude=set(protos.tolist()))
    assert not set(got.tolist()) & set(protos.tolist())


def test_mmd_critic_clips_to_the_set_size_and_refuses_bad_input(rng):
    x = rng.normal(0, 1, (21, 2))
    protos, crits = mmd_critic(x, 3, 4)
    assert len(protos) == 3 and len(crits) == 4 and not set(protos) & set(crits)
    protos, crits = mmd_critic(x[:3], 2, 5)
    assert len(protos) == 2 and len(crits) == 1
    with pytest.raises(ValueError, match="gamma"):
        mmd_critic(x, 2, 2, gamma=-1.0)
    with pytest.raises(ValueError, match="features"):
        mmd_critic(np.zeros((0, 2)), 2, 2)


# ---------------------------------------------------------------- the result and enrichment
def _hand_case():
    """Class 0: 4 confident (3 aligned), 4 unsure (1 aligned), 2 in between; class 1: all wrong."""
    labels = np.array([0] * 10 + [1] * 4)
    p0 = np.array([0.99, 0.98, 0.97, 0.96, 0.01, 0.02, 0.03, 0.04, 0.5, 0.6])
    probs = np.zeros((14, 2))
    probs[:10, 0], probs[:10, 1] = p0, 1 - p0
    probs[10:, 0] = 0.8  # class 1 images predicted as 0
    probs[10:, 1] = 0.2
    aligned = np.array([1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0], bool)
    pred = probs.argmax(1)
    steps = np.where(pred == labels, 11, 0)  # rows 4-7 and class 1 misclassified: 0
    steps[8:10] = 1  # the two unsure correct ones flip after one step
    return criticize(
        np.arange(100, 114), labels, pred, probs, ["zero", "one"], steps=steps, max_steps=10,
        embedding=np.random.default_rng(0).normal(size=(14, 4)), n=2, attributes={"aligned": aligned, "size": np.ones(14, np.int64), "area": np.linspace(0, 1, 14)},
    )


def test_probability_baseline_and_its_enrichment_on_hand_counts():
    cr = _hand_case()
    assert cr.prototypes("zero", "prob").tolist() == [100, 101, 102, 103]  # most confident first
    assert cr.criticisms(0, "prob").tolist() == [104, 105, 106, 107]
    assert cr.criticisms("one", "prob").tolist() == []  # p(true) = 0.2 for class 1
    e = cr.enrichment("aligned", method="prob").set_index(["value", "class"])
    row = e.loc[(False, "zero")]
    assert (row.n_class, row.n_prototypes, row.n_criticisms) == (10, 4, 4)
    assert row.share_prototypes == 0.25 and row.share_criticisms == 0.75 and row.share_class == 0.5
    assert row.odds_ratio == pytest.approx(9.0)  # (3/1) / (1/3)
    assert row.p_value == pytest.approx(0.4857, abs=1e-4)  # Fisher, [[3, 1], [1, 3]]
    assert e.loc[(True, "zero")].odds_ratio == pytest.approx(1 / 9)
    assert e.loc[(False, "all")].share_class == pytest.approx(7 / 14)
    assert set(cr.enrichment(method="prob")["attribute"]) == {"aligned"}  # one-valued, float: skipped


def test_adversarial_result_lists_steps_and_roles():
    cr = _hand_case()
    assert cr.indices.tolist() == list(range(100, 114)) and cr.steps[:4].tolist() == [11] * 4
    assert cr.prototypes(0).tolist() == [100, 101, 102, 103]  # by p(true) descending
    assert cr.criticisms(0).tolist() == [108, 109]  # by p(true) ascending; 104-107 are wrong
    assert set(cr.table.columns) >= {"role_adv", "role_mmd", "role_prob", "rank_mmd"}
    assert (cr.table.role_mmd == "prototype").sum() == 4  # 2 per class
    s = cr.summary()
    assert s.loc["zero"].tolist() == [10, 6, 4, 2] and s.loc["one"].tolist() == [4, 0, 0, 0]
    assert cr.summary("prob").loc["zero", "criticisms"] == 4


def test_bad_input_names_the_problem():
    cr = _hand_case()
    with pytest.raises(ValueError, match="class 'one' has no correctly classified images"):
        cr.prototypes("one")
    with pytest.raises(ValueError, match="unknown class 'two'"):
        cr.criticisms("two")
    with pytest.raises(ValueError, match="unknown attribute 'colour'"):
        cr.enrichment("colour")
    with pytest.raises(ValueError, match="'size' has one value"):
        cr.enrichment("size")
    with pytest.raises(ValueError, match="'area' is not boolean or categorical"):
        cr.enrichment("area")
    with pytest.raises(ValueError, match="method 'mmd' was not computed"):
        criticize(np.arange(2), np.zeros(2), np.zeros(2), np.ones((2, 1)), ["a"], methods=("prob",)).prototypes(0, "mmd")
    with pytest.raises(ValueError, match="unknown criticism methods"):
        criticize(np.arange(2), np.zeros(2), np.zeros(2), np.ones((2, 1)), ["a"], methods=("lime",))
    with pytest.raises(ValueError, match="split 'val' is empty"):
        criticize(np.arange(0), np.zeros(0), np.zeros(0), np.ones((0, 1)), ["a"], split="val", steps=np.zeros(0))
    with pytest.raises(ValueError, match="needs the IFGSM steps"):
        criticize(np.arange(2), np.zeros(2), np.zeros(2), np.ones((2, 1)), ["a"], methods=("adv",))
