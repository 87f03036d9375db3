"""Does a model's attention shift toward a known bias? Schaaf et al.'s statistical comparison.

For two models (one trained on biased data, one reference) and the same images, score each
attribution map with RMA and RRA against each ground-truth mask (object, bias), then test per
(method, metric, mask) whether the two models' scores differ: Welch's t-test (unequal variances)
and Cohen's d (difference of means over the root mean square of the two standard deviations).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics import cohens_d, rma, rra, welch

_METRICS = {"rma": rma, "rra": rra}


@dataclass(frozen=True)
class BiasReport:
    """``table``: one row per (method, metric, mask) with both models' means, Welch's t, p and
    Cohen's d (positive: the biased model scores higher). ``scores``: every image's score, long
    form (method, metric, mask, model, index, score)."""

    biased: str
    reference: str
    split: str | None
    table: pd.DataFrame
    scores: pd.DataFrame

    def plot(self):
        """A plotly figure: both models' mean RMA/RRA per (method, metric, mask), significant rows starred (see :func:`dashwidgets.runtime.figures.bias_report`)."""
        from ..runtime import figures

        return figures.bias_report(self)

    def significant(self, alpha: float = 0.05) -> pd.DataFrame:
        """Rows whose difference is significant at ``alpha``."""
        return self.table[self.table["p"] <= alpha]

    def _repr_html_(self) -> str:
        head = f"<p>Attribution shift: <b>{html.escape(self.biased)}</b> vs reference <b>{html.escape(self.reference)}</b>"
        head += f" on {html.escape(self.split or 'all images')}</p>"
        return head + self.table.to_html(float_format=lambda v: f"{v:.3g}", index=False)

    def __repr__(self) -> str:
        with pd.option_context("display.float_format", "{:.3g}".format, "display.width", 120):
            return (
                f"BiasReport({self.biased} vs reference {self.reference}, split={self.split!r})\n"
                f"{self.table.to_string(index=False)}"
            )


def bias_report(
    biased_maps: Mapping[str, np.ndarray],
    reference_maps: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray],
    indices: np.ndarray,
    biased: str = "biased",
    reference: str = "reference",
    split: str | None = None,
) -> BiasReport:
    """Compare two models' attribution maps ``{method: [N, H, W]}`` on the same images against
    ground-truth ``masks {name: [N, H, W] bool}``. Images whose score is undefined (an empty mask,
    a map with no relevance) are left out of that row's test."""
    if set(biased_maps) != set(reference_maps):
        raise ValueError("both models need maps for the same methods")
    if not masks:
        raise ValueError(
            "this dataset has no ground-truth masks, so attribution mass cannot be scored"
        )
    rows, long = [], []
    for method in biased_maps:
        for metric, fn in _METRICS.items():
            for mask_name, mask in masks.items():
                sb = fn(biased_maps[method], mask)
                sr = fn(reference_maps[method], mask)
                for model, s in ((biased, sb), (reference, sr)):
                    long.append(
                        pd.DataFrame(
                            {
                                "method": method,
                                "metric": metric,
                                "mask": mask_name,
                                "model": model,
                                "index": indices,
                                "score": s,
                            }
                        )
                    )
                sb, sr = sb[np.isfinite(sb)], sr[np.isfinite(sr)]
                t, p = welch(sb, sr)
                rows.append(
                    {
                        "method": method,
                        "metric": metric,
                        "mask": mask_name,
                        "biased_mean": float(sb.mean()) if len(sb) else float("nan"),
                        "reference_mean": float(sr.mean()) if len(sr) else float("nan"),
                        "t": t,
                        "p": p,
                        "cohens_d": cohens_d(sb, sr),
                        "n": int(min(len(sb), len(sr))),
                    }
                )
    return BiasReport(
        biased, reference, split, pd.DataFrame(rows), pd.concat(long, ignore_index=True)
    )
