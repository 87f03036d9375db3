"""Widgets never compute: what a view shows comes from one Engine call, and the form defaults of
the ClassifierBoard are TrainConfig's (defined once)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import dashwidgets as dw
from dashwidgets.train.loop import TrainConfig


def test_projection_density_is_the_engines(trained):
    eng, v = trained
    view = dw.ProjectionView(eng, v, density_size=24)
    grids, box = eng.density(v, size=24)
    assert view.density.shape == (3, 24, 24)
    np.testing.assert_array_equal(view.density, grids)
    assert view.density_box == pytest.approx(list(box))


def test_projection_density_follows_the_engine_when_it_is_replaced(trained, monkeypatch):
    """The view calls Engine.density (not a copy of its own): a patched engine shows through."""
    eng, v = trained
    marker = np.full((3, 8, 8), 0.5, np.float32)
    monkeypatch.setattr(eng, "density", lambda version, size=64, mode="transform": (marker, (0.0, 1.0, 0.0, 1.0)))
    view = dw.ProjectionView(eng, v, density_size=8)
    np.testing.assert_array_equal(view.density, marker)
    assert view.density_box == [0.0, 1.0, 0.0, 1.0]


def test_board_form_defaults_are_train_configs(trained):
    eng, _ = trained
    board = dw.ClassifierBoard(eng)
    for field in dataclasses.fields(TrainConfig):
        assert getattr(board, field.name) == field.default, field.name
    assert board.config() == TrainConfig()


def test_board_config_is_validated_by_the_engine(trained, monkeypatch):
    eng, _ = trained
    board = dw.ClassifierBoard(eng)
    calls = []
    real = eng.train_config
    monkeypatch.setattr(eng, "train_config", lambda **hp: calls.append(hp) or real(**hp))
    board.epochs, board.lr = 2, 1e-3
    cfg = board.config()
    assert cfg.epochs == 2 and cfg.lr == 1e-3 and len(calls) == 1 and calls[0]["epochs"] == 2
    board.lr = -1.0
    with pytest.raises(ValueError, match="lr must be a positive number"):
        board.config()
