"""Console progress for blocking engine calls (jobs report events instead)."""

from __future__ import annotations


def progress_bar(total: float, desc: str, enabled: bool):
    """A tqdm bar (notebook-aware), or None when ``enabled`` is false."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)
