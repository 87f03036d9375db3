"""Shared fixtures: small benchmark sets and a trained engine, built once per session."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dashwidgets as dw

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


def pytest_collection_modifyitems(config, items):
    """The notebooks (nbval cells) train models for minutes each: they count as slow, so the
    default `pytest` leaves them to the full run (`pytest -m "slow or not slow"`)."""
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def small_ds() -> dw.datasets.ImageSet:
    """600 / 150 / 250 images of patch-digits at 32 px (object bias, masks)."""
    return dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=600, n_val=150, n_test=250)


@pytest.fixture(scope="session")
def trained(small_ds):
    """An in-memory engine with one version trained for 2 epochs: (engine, version)."""
    eng = dw.Engine(small_ds, device="cpu")
    v = eng.train(epochs=2, progress=False)
    return eng, v


@pytest.fixture(scope="session")
def converged(small_ds):
    """An in-memory engine with one version trained until it has learned the biased train split
    (8 epochs: val ~0.97 on a 2-core CPU, the patch shortcut): (engine, version). For properties
    a 2-epoch model (val ~0.4) shows only faintly: maps, neighbourhoods, perturbation curves."""
    eng = dw.Engine(small_ds, device="cpu")
    v = eng.train(epochs=8, progress=False)
    assert v.metrics["val_accuracy"] >= 0.8, v.metrics  # the precondition, checked
    return eng, v


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
