"""Attribution methods against hand-computed values, their axioms, and the engine wrapper."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dashwidgets as dw
from dashwidgets.explain import attribute


class _Tiny(nn.Module):
    """conv (2 maps) -> ReLU -> global average pool -> linear, with set weights."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)
        self.head = nn.Linear(2, 3)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g))
            self.conv.bias.copy_(torch.tensor([0.1, -0.2]))
            self.head.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 3.0], [-1.0, 1.0]]))
            self.head.bias.zero_()

    def forward(self, x):
        return self.head(F.relu(self.conv(x)).mean(dim=(2, 3)))


def test_gradcam_equals_the_hand_computed_map():
    m = _Tiny().eval()
    x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([1, 2])
    cam = attribute(m, x, t, "gradcam", layer="conv")
    # by hand: d score / d A_k = w[t, k] / (H W) where A_k > 0 (ReLU after the hooked conv)
    a = m.conv(x)
    grad = m.head.weight[t][:, :, None, None] * (a > 0).float() / 36
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    expected = F.relu((alpha * a).sum(dim=1))
    torch.testing.assert_close(cam, expected.detach(), atol=1e-6, rtol=1e-5)


def test_integrated_gradients_is_complete(trained):
    eng, v = trained
    m = eng.model(v)
    idx = np.arange(4)
    x = eng.inputs(idx)
    base = eng._shift.expand(1, 3, 32, 32)
    t = torch.from_numpy(eng.evaluate(v).pred[idx])
    a = attribute(m, x, t, "ig", steps=256, baseline=base)
    with torch.no_grad():
        diff = m(x).gather(1, t[:, None])[:, 0] - m(base.expand_as(x)).gather(1, t[:, None])[:, 0]
    sums = a.sum(dim=(1, 2))
    assert torch.all((sums - diff).abs() <= 0.01 * diff.abs() + 1e-3), (sums, diff)


def test_batched_equals_per_image(trained):
    eng, v = trained
    m = eng.model(v)
    x = eng.inputs(np.arange(6))
    t = torch.arange(6) % 10
    for method, kw in (("gradcam", {"layer": eng.embedding_layer}), ("ig", {"steps": 8})):
        whole = attribute(m, x, t, method, batch_size=64, **kw)
        single = torch.cat([attribute(m, x[i : i + 1], t[i : i + 1], method, batch_size=1, **kw) for i in range(6)])
        torch.testing.assert_close(whole, single, atol=1e-5, rtol=1e-4)


class _Explodes(_Tiny):
    def forward(self, x):
        F.relu(self.conv(x))
        raise RuntimeError("after the hooked layer")


def test_hooks_are_removed_after_an_error():
    m = _Explodes()
    with pytest.raises(RuntimeError, match="after the hooked layer"):
        attribute(m, torch.zeros(1, 3, 4, 4), torch.tensor([0]), "gradcam", layer="conv")
    assert len(m.conv._forward_hooks) == 0


def test_engine_attribute_targets_cache_and_errors(trained):
    eng, v = trained
    idx = [0, 3, 9]
    a = eng.attribute(v, idx)
    assert a.shape == (3, 32, 32) and a.dtype == torch.float32 and (a >= 0).all()
    assert eng.attribute(v, idx) is a  # cached
    by_label = eng.attribute(v, idx, target="label", numpy=True)
    assert isinstance(by_label, np.ndarray) and by_label.shape == (3, 32, 32)
    eng.attribute(v, idx, target=2)
    eng.attribute(v, idx, target=[1, 2, 3], method="ig", steps=4)
    with pytest.raises(ValueError, match="empty selection"):
        eng.attribute(v, [])
    with pytest.raises(ValueError, match="unknown attribution method 'lime'"):
        eng.attribute(v, idx, method="lime")
    with pytest.raises(ValueError, match=r"out of range \[0, 10\): \[12\]"):
        eng.attribute(v, idx, target=[1, 2, 12])
    with pytest.raises(ValueError, match="no layer 'nope'"):
        eng.attribute(v, idx, layer="nope")
    with pytest.raises(ValueError, match="unknown class 'cat'"):
        eng.attribute(v, idx, target="cat")
    # the metrics take the maps as they are
    scores = dw.metrics.rma(a, eng.dataset.masks["bias"][idx])
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()


def test_scorecam_equals_the_hand_computed_map():
    m = _Tiny().eval()
    x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([0, 1])
    cam = attribute(m, x, t, "scorecam", layer="conv")
    with torch.no_grad():
        a = m.conv(x)
        expected = []
        for i in range(2):
            w = []
            for k in range(2):
                mk = a[i, k]
                mk = (mk - mk.min()) / (mk.max() - mk.min())
                p = torch.softmax(m(x[i : i + 1] * mk), dim=1)[0, t[i]]
                w.append(p)
            expected.append(F.relu(w[0] * a[i, 0] + w[1] * a[i, 1]))
    torch.testing.assert_close(cam, torch.stack(expected), atol=1e-5, rtol=1e-4)


def test_scorecam_through_the_engine(trained):
    eng, v = trained
    a = eng.attribute(v, [0, 1, 2, 3], method="scorecam")
    b = torch.cat([eng.attribute(v, [i], method="scorecam") for i in range(4)])
    assert a.shape == (4, 32, 32) and (a >= 0).all()
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
