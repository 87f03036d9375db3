"""Summit neuron activation scores on hand-checkable activation arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dashwidgets.audit.neurons import highly_activated, neuron_scores


def _on(row) -> list[int]:
    return np.flatnonzero(row.numpy()).tolist()


def test_three_percent_rule_on_known_vectors():
    m = np.zeros((4, 100), np.float32)
    m[0] = 1.0  # total 100, 3 % = 3: channels are taken while the sum so far is <= 3 -> 4 of them
    m[1, [5, 9, 20]] = [2.0, 1.0, 97.0]  # channel 20 alone is 97 % of the total
    m[2, :10] = np.arange(10, 0, -1)  # 10..1, total 55, 3 % = 1.65: 10 alone exceeds it
    m[3] = -1.0  # never positive: nothing fires
    high = highly_activated(m)
    assert high.dtype == torch.bool and high.shape == (4, 100)
    assert _on(high[0]) == [0, 1, 2, 3]  # ties keep channel order; the 4th makes the sum exceed 3
    assert _on(high[1]) == [20]
    assert _on(high[2]) == [0]
    assert _on(high[3]) == []


def test_the_channel_that_crosses_the_threshold_is_included():
    m = np.full((1, 200), 0.5, np.float32)
    m[0, 7] = 2.0
    m[0, 3] = 0.9  # total 198 * 0.5 + 2.9 = 101.9, threshold 3.057
    # taken: 2.0 (sum before 0), 0.9 (before 2.0), 0.5 of channel 0 (before 2.9 <= 3.057); the
    # next 0.5 would start from 3.4 > 3.057: stop
    assert _on(highly_activated(m)[0]) == [0, 3, 7]


def test_fraction_parameter():
    m = np.ones((1, 10), np.float32)
    assert _on(highly_activated(m, 0.25)[0]) == [0, 1, 2]  # sums 0,1,2 <= 2.5 are taken, 3 is not
    assert highly_activated(m, 1.0)[0].all()
    with pytest.raises(ValueError, match="fraction"):
        highly_activated(m, 0)


def test_scores_are_shares_of_the_group():
    layer1 = np.zeros((4, 3), np.float32)
    layer1[[0, 1, 2], 0] = 10.0  # channel 0 dominates images 0-2
    layer1[3, 2] = 10.0  # channel 2 dominates image 3
    layer2 = np.array([[1, 9], [9, 1], [9, 1], [9, 1]], np.float32)
    df = neuron_scores({"conv1": layer1, "conv2": torch.from_numpy(layer2)}, {"a": [0, 1], "b": np.array([1, 2, 3])})
    assert list(df.columns) == ["layer", "neuron", "a", "b"]
    assert df[["layer", "neuron"]].values.tolist() == [["conv1", 0], ["conv1", 1], ["conv1", 2], ["conv2", 0], ["conv2", 1]]
    assert df["a"].tolist() == [1.0, 0.0, 0.0, 0.5, 0.5]
    assert df["b"].tolist() == pytest.approx([2 / 3, 0.0, 1 / 3, 1.0, 0.0])


def test_a_repeated_image_counts_twice():
    m = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    assert neuron_scores({"l": m}, {"g": [0, 0, 1]})["g"].tolist() == pytest.approx([2 / 3, 1 / 3])


@pytest.mark.parametrize(
    "groups, match",
    [
        ({"g": []}, "group 'g' is empty"),
        ({"g": [0, 4]}, r"group 'g' has rows out of range \[0, 4\): \[4\]"),
        ({"g": [-1]}, "out of range"),
        ({"g": [0.5]}, "integer"),
        ({"g": np.array([True, False])}, "integer"),
        ({}, "non-empty dict"),
        ({"layer": [0]}, "clashes"),
        ({3: [0]}, "strings"),
    ],
)
def test_bad_groups_are_named(groups, match):
    with pytest.raises((ValueError, TypeError), match=match):
        neuron_scores({"l": np.ones((4, 2), np.float32)}, groups)


def test_layers_must_cover_the_same_images():
    with pytest.raises(ValueError, match="same images"):
        neuron_scores({"a": np.ones((4, 2)), "b": np.ones((3, 2))}, {"g": [0]})
    with pytest.raises(ValueError, match=r"\[images, channels\]"):
        highly_activated(np.ones(5))
