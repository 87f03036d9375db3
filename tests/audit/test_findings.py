"""The report's pure parts: significance tests, ranking, probes, text and the static page."""

from __future__ import annotations

import numpy as np
import pytest

from dashwidgets.audit import probes
from dashwidgets.audit.findings import (
    MARGIN,
    Finding,
    Report,
    below_test,
    gap_test,
    paired_drop_test,
    rank,
)


def _finding(kind="colour", effect=0.5, p=1e-6, alpha=1e-3, title="t", n=2, fix=None):
    imgs = np.zeros((n, 3, 4, 4), np.uint8)
    return Finding(kind=kind, title=title, effect=effect, p_value=p, alpha=alpha, test="x", numbers={"n": n},
                   evidence=np.arange(n), images=imgs, fix=fix)


def test_paired_drop_test_tests_the_drop_against_the_margin():
    n = 400
    before = np.ones(n, bool)
    assert paired_drop_test(before, np.zeros(n, bool)) == (1.0, 0.0)  # every image flips: exact
    assert paired_drop_test(before, before) == (0.0, 1.0)  # nothing changes
    after = before.copy()
    after[: n // 2] = False  # a 50-point drop: far above 10 points
    drop, p = paired_drop_test(before, after)
    assert drop == pytest.approx(0.5) and p < 1e-10
    after = before.copy()
    after[: int(n * MARGIN)] = False  # exactly the margin: H0 holds at its boundary
    drop, p = paired_drop_test(before, after)
    assert drop == pytest.approx(MARGIN) and 0.4 < p < 0.6
    with pytest.raises(ValueError, match="one shape"):
        paired_drop_test(before, before[:3])


def test_gap_test_and_binomial_test():
    a = np.r_[np.ones(95, bool), np.zeros(5, bool)]
    b = np.r_[np.ones(30, bool), np.zeros(70, bool)]
    gap, p = gap_test(a, b)
    assert gap == pytest.approx(0.65) and p < 1e-10
    gap, p = gap_test(a, a)
    assert gap == 0 and p > 0.99
    assert below_test(np.zeros(30, bool), 0.5) < 1e-8  # 0 of 30 when at least half were expected
    assert below_test(np.ones(30, bool), 0.5) == 1.0
    with pytest.raises(ValueError):
        gap_test(a[:1], b)


def test_ranking_puts_significant_causes_first_then_symptoms_then_the_rest():
    weak_cause = _finding("patch", effect=0.2)
    strong_cause = _finding("colour", effect=0.8)
    gap = _finding("gap", effect=0.9, p=1e-9)
    insignificant = _finding("background", effect=0.95, p=0.5)
    ranked = rank([insignificant, gap, weak_cause, strong_cause])
    assert [f.kind for f in ranked] == ["colour", "patch", "gap", "background"]
    rep = Report("v1", tuple(ranked))
    assert rep.top is strong_cause and len(rep.significant) == 3
    assert list(rep.table["kind"]) == ["colour", "patch", "gap", "background"]
    assert Report("v1", (insignificant,)).top is None
    with pytest.raises(ValueError, match="unknown finding kind"):
        _finding("shape")


def test_text_and_page_escape_data_strings_and_inline_images(tmp_path):
    evil = "<script>alert('x')</script>"
    rep = Report("v<1>", (_finding(title=evil), _finding("gap", p=0.9, title="ok")), notes=("a & b",))
    text = rep.to_text()
    assert "1. [colour] " + evil in text and "SIGNIFICANT" in text and "not significant" in text
    page = rep.to_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == page
    assert "<script>" not in page and "&lt;script&gt;" in page and "v&lt;1&gt;" in page and "a &amp; b" in page
    assert page.count("data:image/png;base64,") == 4  # two evidence images per finding
    assert "http" not in page  # nothing to fetch


def test_plot_carries_the_effects_and_titles():
    rep = Report("v1", (_finding(effect=0.4), _finding("gap", effect=0.3, p=0.5)))
    fig = rep.plot()
    bars = {t.name: list(t.y) for t in fig.data if t.type == "bar"}
    assert bars == {"significant": [40.0], "not significant": [30.0]}
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text and fig.layout.showlegend


def test_probes_change_only_their_cue():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (2, 3, 16, 16), dtype=np.uint8)
    objects = np.zeros((2, 16, 16), bool)
    objects[:, 4:12, 4:12] = True
    grey = probes.grey_object(images, objects)
    assert (grey[:, :, ~objects[0]] == images[:, :, ~objects[0]]).all()  # background untouched
    assert (grey[:, 0][objects] == grey[:, 1][objects]).all() and (grey[:, 1][objects] == grey[:, 2][objects]).all()
    maps = np.zeros((2, 16, 16), np.float32)
    maps[:, 4:12, 4:12] = 10.0  # mass on the object must be ignored
    maps[0, 1, 14] = 5.0
    maps[1, 14, 1] = 5.0
    sq = probes.cue_squares(maps, objects, 4)
    assert not (sq & objects).any()
    assert sq[0, 1, 14] and sq[1, 14, 1] and sq.sum() == 2 * 16  # 4x4 squares, clipped inside the image
    neutral = probes.neutral_colour(images, objects)
    out = probes.probe_images(images, objects, maps, 4, neutral)
    assert set(out) == set(probes.PROBES)
    assert (out["region"][:, :, objects[0]] == images[:, :, objects[0]]).all()  # the object is never touched
    assert (out["background"][sq[:, None].repeat(3, 1)] == images[sq[:, None].repeat(3, 1)]).all()  # square kept
    filled = ~objects & ~sq
    assert (out["background"].transpose(0, 2, 3, 1)[filled] == np.round(neutral).astype(np.uint8)).all()
