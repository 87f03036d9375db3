"""MMD-critic (Kim, Khanna & Koyejo, "Examples are not enough, learn to criticize!", NeurIPS 2016):
prototypes that summarise a set of feature vectors and criticisms it leaves unexplained, both by
greedy selection over an RBF kernel matrix. The baseline of Stock & Cisse's Table 3.
"""

from __future__ import annotations

import numbers

import numpy as np


def rbf_kernel(features: np.ndarray, gamma: float | None = None) -> tuple[np.ndarray, float]:
    """``exp(-gamma * |x_i - x_j|^2)`` of ``features [n, D]`` as ``float64 [n, n]``, and gamma.

    ``gamma`` defaults to 1 / the median squared distance between distinct rows (the median
    heuristic; 1 when every row is the same)."""
    x = np.asarray(features, dtype=np.float64)
    sq = (x * x).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    np.fill_diagonal(d2, 0.0)
    if gamma is None:
        off = d2[np.triu_indices(len(x), 1)]
        med = float(np.median(off)) if off.size else 0.0
        gamma = 1.0 / med if med > 0 else 1.0
    elif isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not np.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma must be a positive number or None (median heuristic), got {gamma!r}")
    return np.exp(-float(gamma) * d2), float(gamma)


def greedy_prototypes(kernel: np.ndarray, m: int) -> np.ndarray:
    """``[min(m, n)] int64`` rows chosen greedily to maximise Kim et al.'s equation (the paper's
    eq. 3: ``J(S) = 2/(n|S|) sum_{i, j in S} k(x_i, x_j) - 1/|S|^2 sum_{i, j in S} k(x_i, x_j)``,
    i.e. minus MMD^2 up to a constant), in the order picked. Each step scores every candidate at
    once from running sums (O(n) per step); ties go to the lowest row."""
    n = len(kernel)
    m = min(int(m), n)
    colsum = kernel.sum(0)
    diag = np.diagonal(kernel)
    chosen: list[int] = []
    free = np.ones(n, bool)
    row_s = np.zeros(n)  # sum_{j in S} k(c, j) for every candidate c
    a = b = 0.0  # sum_{j in S} colsum[j]; sum_{i, j in S} k(i, j)
    for size in range(1, m + 1):
        gain = 2.0 * (a + colsum) / (n * size) - (b + 2.0 * row_s + diag) / size**2
        gain[~free] = -np.inf
        c = int(np.argmax(gain))
        chosen.append(c)
        free[c] = False
        a += colsum[c]
        b += 2.0 * row_s[c] + diag[c]
        row_s += kernel[c]
    return np.asarray(chosen, dtype=np.int64)


def witness(kernel: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """``[n]``: the MMD witness function at every row, ``mean_i k(x, x_i) - mean_{j in S} k(x, x_j)``:
    positive where the data are denser than the prototypes say, negative where sparser."""
    return kernel.mean(0) - kernel[np.asarray(prototypes, dtype=np.int64)].mean(0)


def greedy_criticisms(kernel: np.ndarray, prototypes: np.ndarray, m: int, lam: float = 1e-5) -> np.ndarray:
    """``[<= m] int64`` non-prototype rows chosen greedily to maximise
    ``sum_{c in C} |witness(c)| + lam * log det K[C, C]`` (Kim et al.'s criticism objective with
    the log-determinant diversity regulariser weighted by ``lam``; Stock & Cisse use 1e-5), in
    the order picked.

    The log-det gain of adding ``c`` is ``log`` of its Schur complement ``k(c, c) - k_Cc^T
    K_C^-1 k_Cc``, kept for every candidate by incremental Cholesky updates (O(n |C|) per step).
    At ``lam = 1e-5`` the regulariser only separates near-duplicates of equal witness; Kim et
    al.'s reference code adds it unweighted (``lam = 1``)."""
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a number >= 0, got {lam!r}")
    n = len(kernel)
    prototypes = np.asarray(prototypes, dtype=np.int64)
    free = np.ones(n, bool)
    free[prototypes] = False
    m = min(int(m), int(free.sum()))
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    score = np.abs(witness(kernel, prototypes)) if len(prototypes) else np.abs(kernel.mean(0))
    resid = np.diagonal(kernel).astype(np.float64).copy()  # Schur complements given C
    factors = np.zeros((m, n))  # rows of the incremental Cholesky factor of K over C
    chosen: list[int] = []
    for t in range(m):
        gain = score + float(lam) * np.log(np.maximum(resid, 1e-300))
        gain[~free] = -np.inf
        c = int(np.argmax(gain))
        chosen.append(c)
        free[c] = False
        e = (kernel[c] - factors[:t, c] @ factors[:t]) / np.sqrt(max(resid[c], 1e-300))
        factors[t] = e
        resid = resid - e * e
    return np.asarray(chosen, dtype=np.int64)


def mmd_critic(
    features: np.ndarray, n_prototypes: int, n_criticisms: int, gamma: float | None = None, lam: float = 1e-5
) -> tuple[np.ndarray, np.ndarray]:
    """MMD-critic on one set (one class) of ``features [n, D]``: ``(prototypes, criticisms)``,
    row positions in the order picked (at most ``n_prototypes`` and ``n_criticisms``, fewer when
    the set is smaller; criticisms are never prototypes). RBF kernel with ``gamma`` (default:
    the median heuristic, see :func:`rbf_kernel`); ``lam``: see :func:`greedy_criticisms`."""
    x = np.asarray(features)
    if x.ndim != 2 or not len(x):
        raise ValueError(f"features must be a non-empty [n, D] array, got shape {x.shape}")
    for name, v in (("n_prototypes", n_prototypes), ("n_criticisms", n_criticisms)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    kernel, _ = rbf_kernel(x, gamma)
    protos = greedy_prototypes(kernel, n_prototypes)
    return protos, greedy_criticisms(kernel, protos, n_criticisms, lam)
