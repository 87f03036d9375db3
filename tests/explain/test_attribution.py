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
    base = eng._ctx.black  # a black image in model input space
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


def _bias_free_relu_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 4, bias=False),
    ).eval()


def test_lrp_conserves_relevance_on_a_relu_net_with_small_epsilon():
    net = _bias_free_relu_net()
    x = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([0, 1, 2, 3, 0, 1])
    r = attribute(net, x, t, "lrp", epsilon=1e-9)
    with torch.no_grad():
        logit = net(x).gather(1, t[:, None])[:, 0]
    # no biases, ReLU and pooling only: all of the target's logit reaches the input pixels
    torch.testing.assert_close(r.sum(dim=(1, 2)), logit, atol=1e-5, rtol=1e-4)
    # a large epsilon absorbs relevance (it is the rule's stabiliser), so less arrives
    r10 = attribute(net, x, t, "lrp", epsilon=10.0)
    assert (r10.sum(dim=(1, 2)).abs() < logit.abs()).all()
    assert all(len(m._forward_hooks) == 0 for m in net.modules())


def test_lrp_on_resnet18_with_batch_norm_and_the_default_cnn(trained):
    import torchvision

    net = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        before = net(x)
    r = attribute(net, x, torch.tensor([1, 7]), "lrp")
    assert r.shape == (2, 32, 32) and torch.isfinite(r).all() and (r != 0).any()
    with torch.no_grad():
        torch.testing.assert_close(net(x), before)  # hooks gone, weights untouched
    # batch-norm's shift absorbs some relevance, but with a small epsilon most of the logit arrives
    r0 = attribute(net, x, torch.tensor([1, 7]), "lrp", epsilon=1e-6)
    assert torch.isfinite(r0).all()

    eng, v = trained
    a = eng.attribute(v, [0, 1, 2], method="lrp")
    b = torch.cat([eng.attribute(v, [i], method="lrp") for i in range(3)])
    assert a.shape == (3, 32, 32) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_lrp_refuses_functional_activations_and_bad_epsilon():
    with pytest.raises(ValueError, match="activations as modules"):
        attribute(_Tiny(), torch.zeros(1, 3, 4, 4), torch.tensor([0]), "lrp")
    with pytest.raises(ValueError, match="epsilon must be positive"):
        attribute(_bias_free_relu_net(), torch.zeros(1, 3, 8, 8), torch.tensor([0]), "lrp", epsilon=0)
