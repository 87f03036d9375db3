"""Default model, layer discovery and version records."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dashwidgets.models import (
    ModelVersion,
    SmallCNN,
    build_model,
    capture,
    conv_layers,
    default_model,
    get_layer,
    last_conv,
)


def test_small_cnn_shapes_and_spec_round_trip():
    m = SmallCNN(7)
    out = m(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 7)
    assert m(torch.zeros(1, 3, 48, 40)).shape == (1, 7)  # any size: global pooling
    rebuilt = build_model(m.spec())
    assert [n for n, _ in rebuilt.named_parameters()] == [n for n, _ in m.named_parameters()]
    with pytest.raises(ValueError, match="at least 2"):
        SmallCNN(1)
    with pytest.raises(ValueError, match="cannot rebuild"):
        build_model({"kind": "ResNet"})


def test_default_model_is_seeded():
    a, b, c = default_model(10, seed=0), default_model(10, seed=0), default_model(10, seed=1)
    torch.testing.assert_close(a.head.weight, b.head.weight)
    assert not torch.equal(a.head.weight, c.head.weight)


def test_conv_layer_discovery_on_resnet18():
    from torchvision.models import resnet18

    m = resnet18(num_classes=10)
    names = conv_layers(m)
    assert names[0] == "conv1" and last_conv(m) == "layer4.1.conv2"
    assert len(names) == 20  # 17 3x3/7x7 convs + 3 downsample 1x1 convs
    assert isinstance(get_layer(m, "layer3"), nn.Sequential)


def test_no_conv_and_unknown_layer_errors():
    with pytest.raises(ValueError, match="no Conv2d layer"):
        last_conv(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="no layer 'x'.*conv layers are \\['features.0'"):
        get_layer(SmallCNN(3), "x")
    with pytest.raises(ValueError, match="no layer ''"):
        get_layer(SmallCNN(3), "")


def test_capture_records_output_and_removes_the_hook_on_error():
    m = SmallCNN(3)
    layer = get_layer(m, last_conv(m))
    with capture(m, last_conv(m)) as store:
        m(torch.zeros(2, 3, 16, 16))
    assert store[0].shape == (2, 96, 4, 4)
    assert len(layer._forward_hooks) == 0
    with pytest.raises(RuntimeError), capture(m, last_conv(m)):
        raise RuntimeError("inside")
    assert len(layer._forward_hooks) == 0


def test_model_version_json_round_trip():
    v = ModelVersion(
        id="v3",
        parent="v1",
        hparams={"epochs": 2, "lr": 0.1},
        history=({"epoch": 1, "train_loss": 0.5},),
        lineage={"dataset": "abc", "augmentations": ["a1"]},
        metrics={"val_accuracy": 0.9},
        created="2026-01-01T00:00:00+00:00",
    )
    again = ModelVersion.from_json(v.to_json())
    assert again == v and again.history == v.history and again.name == "v3"
    with pytest.raises(ValueError, match="not a ModelVersion"):
        ModelVersion.from_json("[1, 2]")
