"""ProjectionView's "lasso selects" splits: a trait notebooks can set, validated."""

from __future__ import annotations

import pytest
import traitlets

import dashwidgets as dw


def test_select_splits_defaults_to_all_is_validated_and_set_by_the_constructor(trained):
    eng, v = trained
    view = dw.ProjectionView(eng, v)
    assert view.select_splits == ["train", "val", "test"]
    view.select_splits = ["test", "train", "train"]
    assert view.select_splits == ["train", "test"]  # canonical order, no duplicates
    with pytest.raises(traitlets.TraitError, match=r"select_splits: unknown splits \['holdout'\]"):
        view.select_splits = ["train", "holdout"]
    assert "holdout" in view.error and view.select_splits == ["train", "test"]
    with pytest.raises(traitlets.TraitError, match="visible_splits: unknown splits"):
        view.visible_splits = ["validation"]
    only_train = dw.ProjectionView(eng, v, select_splits=["train"])
    assert only_train.select_splits == ["train"]
    with pytest.raises(traitlets.TraitError, match="unknown splits"):
        dw.ProjectionView(eng, v, select_splits=["tets"])
