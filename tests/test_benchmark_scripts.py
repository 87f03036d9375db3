"""The benchmark scripts run and print ratios (smoke runs; timings are never asserted)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(args, tmp_path):
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, *args, "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, json.loads(out.read_text())


def test_attribution_benchmark_prints_a_ratio_per_method(tmp_path):
    stdout, res = _run(["benchmarks/attribution.py", "--quick", "--methods", "gradcam,lrp,aopc", "--device", "cpu"], tmp_path)
    for method in ("gradcam", "lrp", "aopc"):
        assert re.search(rf"^{method}\s+[\d.]+\s+[\d.]+\s+[\d.]+x", stdout, flags=re.M), stdout
        r = res["results"][method]
        assert r["ratio"] == r["batched_img_s"] / r["per_image_img_s"] > 0


def test_board_benchmark_runs_in_a_live_kernel(tmp_path):
    stdout, res = _run(["benchmarks/board.py", "--epochs", "1", "--reps", "1", "--device", "cpu"], tmp_path)
    assert "ratio" in stdout and res["ratio"] > 0
    assert len(res["samples"]["bare"]) == len(res["samples"]["board"]) == 1


def test_translate_benchmark_prints_train_and_translate_ratios(tmp_path):
    stdout, res = _run(["benchmarks/translate.py", "--quick", "--device", "cpu"], tmp_path)
    assert re.search(r"vs a classifier step: ratio [\d.]+x", stdout), stdout
    assert re.search(r"^translate\s+\d+ vs \d+ img/s: ratio [\d.]+x", stdout, flags=re.M), stdout
    assert res["train"]["ratio"] == res["train"]["classifier_s_per_step"] / res["train"]["translator_s_per_step"] > 0
    assert res["translate"]["ratio"] > 0


def test_neurons_benchmark_prints_the_scores_ratio_and_agrees_with_the_loop(tmp_path):
    stdout, res = _run(["benchmarks/neurons.py", "--quick", "--device", "cpu"], tmp_path)
    assert re.search(r"^scores\s+[\d.]+\s+[\d.]+\s+[\d.]+x", stdout, flags=re.M), stdout
    r = res["scores"]
    assert r["ratio"] == r["per_image_s"] / r["batched_s"] > 0
    assert res["max_abs_diff"] == 0  # on a CPU both sides compute the same float32 maxima
    assert re.search(r"^concepts \S+\[\d+\] on cpu: [\d.]+ s with the maxima cached, [\d.]+ s cold", stdout, flags=re.M), stdout
    c = res["concepts"]
    assert c["dataset_images"] == 600 + 100 + 400 and c["warm_s"] > 0 and c["cold_s"] > 0


def test_criticism_benchmark_prints_the_attack_ratio_and_agrees_with_the_loop(tmp_path):
    stdout, res = _run(["benchmarks/criticism.py", "--quick", "--device", "cpu"], tmp_path)
    assert re.search(r"^attack\s+[\d.]+\s+[\d.]+\s+[\d.]+x", stdout, flags=re.M), stdout
    r = res["attack"]
    assert r["ratio"] == r["batched_img_s"] / r["per_image_img_s"] > 0
    assert re.search(r"^all 64 images attacked \(batched\) in [\d.]+ s", stdout, flags=re.M), stdout
    assert sum(res["step_counts"]) == res["n"] == 64 and res["loop_n"] == 16
    assert res["agree"] == res["loop_n"]  # on a CPU both sides compute the same float32 steps


def test_criticism_benchmark_is_importable_for_other_scripts(monkeypatch):
    """benchmarks/regions.py may print the IFGSM line: the function and the row format import."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import criticism

    with pytest.raises(ValueError, match="n must be a positive integer"):
        criticism.ifgsm_benchmark(n=0)
    res = {"attack": {"batched_img_s": 500.0, "per_image_img_s": 50.0, "ratio": 10.0}}
    assert re.match(r"^attack\s+500\.0\s+50\.0\s+10\.0x  >= 5x$", criticism.attack_line(res))


def test_regions_benchmark_prints_the_maps_and_attack_ratios(tmp_path):
    stdout, res = _run(["benchmarks/regions.py", "--quick", "--device", "cpu", "--threads", "1"], tmp_path)
    assert re.search(r"^maps\s+[\d.]+\s+[\d.]+\s+[\d.]+x", stdout, flags=re.M), stdout
    assert re.search(r"^attack\s+[\d.]+\s+[\d.]+\s+[\d.]+x", stdout, flags=re.M), stdout
    m = res["maps"]
    assert m["maps"]["ratio"] == m["maps"]["batched_img_s"] / m["maps"]["per_patch_img_s"] > 0
    assert m["n"] == 64 and m["loop_n"] == 2 and m["patches"] == 81
    assert m["max_abs_diff"] < 1e-4  # the loop computes the same maps, patch by patch
    assert res["criticism"]["n"] == 64 and res["criticism"]["attack"]["ratio"] > 0


@pytest.mark.slow
def test_scale_benchmark_prints_a_row_per_size_with_its_baselines(tmp_path):
    stdout, res = _run(["benchmarks/scale.py", "--sizes", "1000", "--size", "32", "--device", "cpu"], tmp_path)
    (row,) = res["results"]
    assert row["n"] == 1000
    assert re.search(r"^  generate\s+1,000 images .* ratio [\d.]+x", stdout, flags=re.M), stdout
    assert re.search(r"^  evaluate .* ratio [\d.]+x \(predictions agree on 100.00%\)", stdout, flags=re.M), stdout
    assert row["evaluate"]["agreement"] == 1.0  # the engine and the bare loop read the same store
    assert row["tsne"]["ratio"] > 0 and 0 < row["tsne"]["recall"] <= 1 and 0 < row["tsne"]["plain_recall"] <= 1
    assert row["rss"]["image_bytes"] == 1000 * 3 * 32 * 32 and row["rss"]["peak_bytes"] > 0
    assert 0 < row["rss"]["anon_peak_bytes"] <= row["rss"]["peak_bytes"]  # anonymous memory is part of RSS
    assert re.search(r"^  memory    peak anonymous RSS [\d.]+ GiB", stdout, flags=re.M), stdout
