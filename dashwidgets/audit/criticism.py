"""Model criticism (Stock & Cisse, "ConvNets and ImageNet Beyond Accuracy", ECCV 2018, §3.3-3.4):
per class, prototypes that show what the model learned and criticisms that do not fit it, and
which dataset attributes each set is enriched in (the paper found basketball prototypes mostly
showed black players, criticisms white ones: a bias).

Three selections, as in the paper's Table 3:

``adv``
    IFGSM on the model input (:func:`ifgsm_steps`): prototypes are correctly classified images
    whose decision survives all M steps, criticisms those whose decision flips after one step.
``mmd``
    MMD-critic (Kim et al. 2016) on the model's embeddings of each class (:mod:`.mmd_critic`).
``prob``
    The probability of the true class: prototypes above 0.9, criticisms below 0.1.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .mmd_critic import mmd_critic

METHODS = ("adv", "mmd", "prob")
ROLES = ("prototype", "criticism")
_MAX_CATEGORIES = 50  # an integer/string attribute with more values is not treated as categorical


def _check_steps(step, max_steps) -> tuple[torch.Tensor, int]:
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    t = torch.as_tensor(step).detach()
    t = t if t.is_floating_point() else t.float()
    if t.dim() > 1 or not torch.isfinite(t).all() or (t <= 0).any() or t.numel() == 0:
        raise ValueError(f"step must be a positive number or one per channel, got {step!r}")
    return (t.view(1, -1, 1, 1) if t.dim() == 1 else t), int(max_steps)


def ifgsm_steps(
    model: nn.Module,
    inputs: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    step: float | Sequence[float] | torch.Tensor,
    max_steps: int = 10,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    clip: tuple[torch.Tensor | float, torch.Tensor | float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """How many IFGSM steps each image takes to change the model's decision.

    Each step adds ``step * sign(grad_x CE(model(x), label))`` to the input (untargeted, the true
    label's loss ascended), then clamps to ``clip = (low, high)`` when given (scalars or per-channel
    ``[1, C, 1, 1]`` tensors: the model-input values of pixel 0 and 1).

    Parameters
    ----------
    inputs : ``[N, C, H, W]`` float tensor in model-input units, or ``inputs(positions)`` giving
        the rows at a ``LongTensor`` of positions ``0..N-1`` (so large sets are loaded per batch).
    labels : ``[N]`` true classes.
    step : step size in model-input units: a number, or one per channel ``[C]`` (for inputs
        normalised by ``(x - mean) / std``, a step of ``eps`` in [0, 1] pixel units is
        ``eps / std``).
    max_steps : M, the paper's 10.

    Returns
    -------
    ``[N] int64``: 0 for images the model misclassifies to begin with, ``t`` in 1..M for the
    first step after which its decision differs from the true label, ``M + 1`` when it survives
    all M steps. All images of a batch are attacked together (one forward and one backward pass
    per step); images drop out of the batch once flipped.
    """
    step_t, max_steps = _check_steps(step, max_steps)
    labels = labels.detach().cpu() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    y_all = torch.as_tensor(labels, dtype=torch.int64).view(-1)
    n = len(y_all)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(inputs, torch.Tensor) and len(inputs) != n:
        raise ValueError(f"inputs has {len(inputs)} rows but labels has {n}")
    if device is None:
        device = next(iter(model.parameters()), torch.zeros(0)).device
    device = torch.device(device)
    low, high = (None, None) if clip is None else (torch.as_tensor(clip[0]).to(device), torch.as_tensor(clip[1]).to(device))
    step_t = step_t.to(device)
    model.eval()
    out = torch.empty(n, dtype=torch.int64)
    for start in range(0, n, batch_size):
        pos = torch.arange(start, min(n, start + batch_size))
        x = inputs[pos] if isinstance(inputs, torch.Tensor) else inputs(pos)
        out[pos] = _attack(model, x.to(device), y_all[pos].to(device), step_t, max_steps, low, high).cpu()
        if progress is not None:
            progress(len(pos))
    return out.numpy()


def _attack(model, x, y, step, max_steps, low, high) -> torch.Tensor:
    """Steps for one batch (see :func:`ifgsm_steps`)."""
    steps = torch.full((len(x),), max_steps + 1, dtype=torch.int64, device=x.device)
    alive = torch.arange(len(x), device=x.device)
    x = x.detach().clone()
    step = step.to(x.dtype)
    if step.dim() == 4 and step.shape[1] != x.shape[1]:
        raise ValueError(f"step has {step.shape[1]} values but the inputs have {x.shape[1]} channels")
    with torch.enable_grad():
        for t in range(max_steps + 1):
            x.requires_grad_(True)
            logits = model(x)
            flipped = logits.argmax(1) != y
            if t == max_steps or flipped.all():
                steps[alive[flipped]] = t
                break
            grad = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x)[0]
            if flipped.any():  # flipped images leave the batch: later steps attack only the rest
                steps[alive[flipped]] = t
                keep = ~flipped
                alive, x, y, grad = alive[keep], x[keep], y[keep], grad[keep]
            x = x.detach() + step * grad.sign()
            if low is not None:
                x = torch.maximum(torch.minimum(x, high), low)
    return steps


# ---------------------------------------------------------------- selections
def adversarial_selection(steps: np.ndarray, labels: np.ndarray, pred: np.ndarray, max_steps: int) -> np.ndarray:
    """``[N]`` role per image (the paper's §3.3): ``"prototype"`` for a correctly classified image
    whose decision survives all ``max_steps`` (``steps == M + 1``), ``"criticism"`` for one whose
    decision flips after one step (``steps == 1``), else ``""``. Misclassified images
    (``steps == 0``) are neither."""
    steps, correct = np.asarray(steps), np.asarray(labels) == np.asarray(pred)
    roles = np.full(len(steps), "", dtype=object)
    roles[(steps == max_steps + 1) & correct] = "prototype"
    roles[(steps == 1) & correct] = "criticism"
    return roles


def probability_selection(prob_true: np.ndarray, high: float = 0.9, low: float = 0.1) -> np.ndarray:
    """``[N]`` role per image: ``"prototype"`` when the probability of the true class is above
    ``high``, ``"criticism"`` when below ``low``, else ``""`` (the paper's probability baseline)."""
    p = np.asarray(prob_true)
    roles = np.full(len(p), "", dtype=object)
    roles[p > high] = "prototype"
    roles[p < low] = "criticism"
    return roles


@dataclass(frozen=True)
class Criticism:
    """Prototypes and criticisms of one version on a set of images, by each selection method.

    ``table``: one row per image examined, in ``indices`` order: ``index`` (dataset index),
    ``label``, ``pred``, ``prob`` (probability of the true class), ``steps`` (IFGSM steps to
    flip, see :func:`ifgsm_steps`; -1 when ``adv`` was not run), and per method ``role_<m>``
    (``"prototype"``, ``"criticism"`` or ``""``) and ``rank_<m>`` (position in its class's
    list, -1 if none). Lists: ``adv`` prototypes by ``prob`` descending, criticisms by ``prob``
    ascending; ``prob`` the same; ``mmd`` in greedy order.
    ``attributes``: name -> per-row values, for :meth:`enrichment`.
    """

    version: str
    split: str | None
    max_steps: int
    step_size: float
    methods: tuple[str, ...]
    classes: list[str]
    table: pd.DataFrame
    attributes: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def indices(self) -> np.ndarray:
        """``[N] int64`` dataset indices examined."""
        return self.table["index"].to_numpy()

    @property
    def steps(self) -> np.ndarray:
        """``[N] int64`` IFGSM steps per image, aligned with :attr:`indices`."""
        return self.table["steps"].to_numpy()

    def _class(self, c) -> int:
        if isinstance(c, str):
            if c not in self.classes:
                raise ValueError(f"unknown class {c!r}; classes are {self.classes!r}")
            return self.classes.index(c)
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or not 0 <= c < len(self.classes):
            raise ValueError(f"class must be a name or an index in [0, {len(self.classes)}), got {c!r}")
        return int(c)

    def _method(self, method: str) -> str:
        if method not in self.methods:
            raise ValueError(f"method {method!r} was not computed; this criticism has {list(self.methods)}")
        return method

    def _members(self, c, method: str, role: str) -> np.ndarray:
        k, method = self._class(c), self._method(method)
        t = self.table
        in_class = t["label"].to_numpy() == k
        name = self.classes[k]
        if not in_class.any():
            raise ValueError(f"class {name!r} has no images among the {len(t)} examined (split {self.split!r})")
        if method == "adv" and not (t["pred"].to_numpy()[in_class] == k).any():
            raise ValueError(
                f"class {name!r} has no correctly classified images among its {int(in_class.sum())} in split "
                f"{self.split!r}: adversarial prototypes and criticisms are drawn from correct ones"
            )
        rows = t[in_class & (t[f"role_{method}"] == role).to_numpy()]
        return rows.sort_values(f"rank_{method}", kind="stable")["index"].to_numpy(dtype=np.int64)

    def prototypes(self, c: int | str, method: str = "adv") -> np.ndarray:
        """``[K] int64`` dataset indices of class ``c``'s prototypes under ``method``, best first."""
        return self._members(c, method, "prototype")

    def criticisms(self, c: int | str, method: str = "adv") -> np.ndarray:
        """``[K] int64`` dataset indices of class ``c``'s criticisms under ``method``, strongest first."""
        return self._members(c, method, "criticism")

    def summary(self, method: str = "adv") -> pd.DataFrame:
        """Per class (index: class name): ``n`` images, ``correct``, and ``method``'s
        ``prototypes`` and ``criticisms`` counts."""
        t, method = self.table, self._method(method)
        role = t[f"role_{method}"]
        out = pd.DataFrame({
            "n": t.groupby("label").size(), "correct": (t["label"] == t["pred"]).groupby(t["label"]).sum(),
            "prototypes": (role == "prototype").groupby(t["label"]).sum(),
            "criticisms": (role == "criticism").groupby(t["label"]).sum(),
        }).reindex(range(len(self.classes)), fill_value=0).astype(np.int64)
        return out.set_axis(pd.Index(self.classes, name="class"))

    def plot(self, method: str = "adv", attribute: str | None = None):
        """A plotly figure: ``method``'s prototypes and criticisms per class, and each attribute
        value's share among images, prototypes, criticisms (:func:`~dashwidgets.runtime.figures.criticism`)."""
        from ..runtime import figures

        return figures.criticism(self, method, attribute)

    def enrichment(self, attribute: str | None = None, method: str = "adv") -> pd.DataFrame:
        """How often each value of a boolean or categorical ``attribute`` (None: every such
        attribute with two or more values) occurs among ``method``'s criticisms vs prototypes vs
        all images, per class and over all classes (``class == "all"``, counts pooled).

        Columns: ``attribute``, ``value``, ``class``, ``n_class``, ``n_prototypes``,
        ``n_criticisms``, ``share_class``, ``share_prototypes``, ``share_criticisms``,
        ``odds_ratio`` (odds of the value among criticisms over its odds among prototypes: > 1
        means criticisms are enriched in it; inf/0 when a cell is empty, NaN when a set is) and
        ``p_value`` (two-sided Fisher exact test of that 2x2 table, NaN when a set is empty)."""
        method = self._method(method)
        if attribute is None:
            names = [a for a in sorted(self.attributes) if _categorical(self.attributes[a]) and len(np.unique(self.attributes[a])) > 1]
        else:
            names = [attribute]
            _check_attribute(attribute, self.attributes)
        frames = [_enrichment(a, self.attributes[a], self.table, method, self.classes) for a in names]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=_ENRICH_COLUMNS)


_ENRICH_COLUMNS = [
    "attribute", "value", "class", "n_class", "n_prototypes", "n_criticisms",
    "share_class", "share_prototypes", "share_criticisms", "odds_ratio", "p_value",
]


def _categorical(values: np.ndarray) -> bool:
    v = np.asarray(values)
    return v.dtype == bool or (v.dtype.kind in "iuOUS" and len(np.unique(v)) <= _MAX_CATEGORIES)


def _check_attribute(name, attributes: Mapping[str, np.ndarray]) -> None:
    if name not in attributes:
        raise ValueError(f"unknown attribute {name!r}; the dataset has {sorted(attributes) or 'no attributes'}")
    values = np.asarray(attributes[name])
    if not _categorical(values):
        raise ValueError(
            f"attribute {name!r} is not boolean or categorical ({values.dtype}, {len(np.unique(values))} values); "
            "enrichment compares the share of each value"
        )
    if len(np.unique(values)) < 2:
        raise ValueError(f"attribute {name!r} has one value ({values[0]!r}) in the images examined: nothing to compare")


def _fisher(a: int, b: int, c: int, d: int) -> tuple[float, float]:
    """Odds ratio ``(a/b) / (c/d)`` and two-sided Fisher p of ``[[a, b], [c, d]]``."""
    if a + b == 0 or c + d == 0:
        return float("nan"), float("nan")
    from scipy.stats import fisher_exact

    res = fisher_exact([[a, b], [c, d]], alternative="two-sided")
    return float(res[0]), float(res[1])


def _enrichment(name: str, values: np.ndarray, table: pd.DataFrame, method: str, classes: list[str]) -> pd.DataFrame:
    values = np.asarray(values)
    labels = table["label"].to_numpy()
    role = table[f"role_{method}"].to_numpy()
    rows = []
    groups = [(classes[k], labels == k) for k in range(len(classes)) if (labels == k).any()]
    groups.append(("all", np.ones(len(labels), bool)))
    for value in np.unique(values):
        has = values == value
        for cname, in_class in groups:
            proto, crit = in_class & (role == "prototype"), in_class & (role == "criticism")
            np_, nc = int(proto.sum()), int(crit.sum())
            hp, hc = int((has & proto).sum()), int((has & crit).sum())
            odds, p = _fisher(hc, nc - hc, hp, np_ - hp)
            rows.append({
                "attribute": name, "value": value.item() if hasattr(value, "item") else value, "class": cname,
                "n_class": int(in_class.sum()), "n_prototypes": np_, "n_criticisms": nc,
                "share_class": float((has & in_class).sum() / in_class.sum()),
                "share_prototypes": hp / np_ if np_ else float("nan"),
                "share_criticisms": hc / nc if nc else float("nan"),
                "odds_ratio": odds, "p_value": p,
            })
    return pd.DataFrame(rows, columns=_ENRICH_COLUMNS)


# ---------------------------------------------------------------- assembly
def _ranks(roles: np.ndarray, labels: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Position of each selected image within its (class, role) list ordered by ``key`` ascending."""
    rank = np.full(len(roles), -1, dtype=np.int64)
    for role in ROLES:
        for k in np.unique(labels):
            rows = np.flatnonzero((labels == k) & (roles == role))
            rank[rows[np.argsort(key[rows], kind="stable")]] = np.arange(len(rows))
    return rank


def criticize(
    indices: np.ndarray,
    labels: np.ndarray,
    pred: np.ndarray,
    probs: np.ndarray,
    classes: list[str],
    steps: np.ndarray | None = None,
    max_steps: int = 10,
    embedding: np.ndarray | None = None,
    methods: Sequence[str] = METHODS,
    n: int = 10,
    gamma: float | None = None,
    lam: float = 1e-5,
    attributes: Mapping[str, np.ndarray] | None = None,
    version: str = "",
    split: str | None = None,
    step_size: float = float("nan"),
) -> Criticism:
    """A :class:`Criticism` from one evaluation: ``indices, labels, pred [N]``, ``probs [N, C]``,
    ``steps [N]`` from :func:`ifgsm_steps` (needed for ``"adv"``), ``embedding [N, D]`` (for
    ``"mmd"``: ``n`` prototypes and ``n`` criticisms per class, ``gamma``, ``lam``: see
    :func:`~.mmd_critic.mmd_critic`), ``attributes``: name -> ``[N]`` values."""
    methods = tuple(methods)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"unknown criticism methods {bad or methods!r}; choose from {list(METHODS)}")
    labels, pred = np.asarray(labels, np.int64), np.asarray(pred, np.int64)
    if not len(labels):
        raise ValueError(f"no images to criticise (split {split!r} is empty)")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n (MMD-critic prototypes and criticisms per class) must be a positive integer, got {n!r}")
    prob = np.asarray(probs)[np.arange(len(labels)), labels].astype(np.float64)
    table = pd.DataFrame({
        "index": np.asarray(indices, np.int64), "label": labels, "pred": pred, "prob": prob,
        "steps": np.full(len(labels), -1, np.int64) if steps is None else np.asarray(steps, np.int64),
    })
    for m in methods:
        if m == "adv":
            if steps is None:
                raise ValueError("method 'adv' needs the IFGSM steps of every image")
            roles = adversarial_selection(steps, labels, pred, max_steps)
            # prototypes most confident first, criticisms least confident first
            rank = _ranks(roles, labels, np.where(roles == "prototype", -prob, prob))
        elif m == "prob":
            roles = probability_selection(prob)
            rank = _ranks(roles, labels, np.where(roles == "prototype", -prob, prob))
        else:
            if embedding is None:
                raise ValueError("method 'mmd' needs the embedding of every image")
            roles, rank = _mmd_roles(np.asarray(embedding), labels, n, gamma, lam)
        table[f"role_{m}"] = roles
        table[f"rank_{m}"] = rank
    attrs = {str(k): np.asarray(v) for k, v in (attributes or {}).items()}
    for k, v in attrs.items():
        if v.shape != (len(labels),):
            raise ValueError(f"attribute {k!r} must have one value per image ({len(labels)}), got shape {v.shape}")
    return Criticism(version, split, int(max_steps), float(step_size), methods, list(classes), table, attrs)


def _mmd_roles(embedding: np.ndarray, labels: np.ndarray, n: int, gamma, lam) -> tuple[np.ndarray, np.ndarray]:
    roles = np.full(len(labels), "", dtype=object)
    rank = np.full(len(labels), -1, dtype=np.int64)
    for k in np.unique(labels):
        rows = np.flatnonzero(labels == k)
        protos, crits = mmd_critic(embedding[rows], n, n, gamma=gamma, lam=lam)
        roles[rows[protos]], rank[rows[protos]] = "prototype", np.arange(len(protos))
        roles[rows[crits]], rank[rows[crits]] = "criticism", np.arange(len(crits))
    return roles, rank
