"""Smoothed 2-D densities of projected points, for the projection's contour lines."""

from __future__ import annotations

import numpy as np


def density_grids(
    xy: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
    size: int = 64,
    box: tuple[float, float, float, float] | None = None,
    bandwidth: float = 1.5,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Gaussian-smoothed histograms of ``xy`` per group.

    Parameters
    ----------
    xy : np.ndarray
        ``[N, 2]`` coordinates.
    groups : np.ndarray
        ``[N]`` integer group of each point (e.g. 0 train, 1 val, 2 test).
    n_groups : int
    size : int
        Grid cells per side.
    box : (x0, x1, y0, y1), optional
        Area covered by the grid; default: the points' bounds plus 5 % margin.
    bandwidth : float
        Gaussian sigma in grid cells.

    Returns
    -------
    grids : np.ndarray
        ``[n_groups, size, size] float32``, row ``r`` at ``y0 + (r + 0.5) * dy``, column ``c`` at
        ``x0 + (c + 0.5) * dx``; each group scaled to a maximum of 1 (all zeros when empty).
    box : (x0, x1, y0, y1)
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must be [N, 2], got shape {xy.shape}")
    groups = np.asarray(groups)
    if len(groups) != len(xy):
        raise ValueError(f"got {len(groups)} groups for {len(xy)} points")
    if box is None:
        if len(xy):
            lo, hi = xy.min(axis=0), xy.max(axis=0)
        else:
            lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
        pad = np.maximum((hi - lo) * 0.05, 1e-6)
        box = (float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1]))
    x0, x1, y0, y1 = box
    kernel = _gaussian_kernel(bandwidth)
    out = np.zeros((n_groups, size, size), np.float32)
    for g in range(n_groups):
        pts = xy[groups == g]
        if not len(pts):
            continue
        hist, _, _ = np.histogram2d(pts[:, 1], pts[:, 0], bins=size, range=[[y0, y1], [x0, x1]])
        smooth = _convolve_separable(hist, kernel)
        peak = smooth.max()
        if peak > 0:
            out[g] = smooth / peak
    return out, (x0, x1, y0, y1)


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(round(3 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _convolve_separable(grid: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    rows = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, grid)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="same"), 0, rows)
