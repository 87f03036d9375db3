"""Attribution maps, batched on the model's device.

One core (:func:`attribute`) owns batching, hooks (released also on error), targets and the
resize to input resolution; each method is one small function on a batch (pytorch-grad-cam's
single-override shape, Captum's single verb):

``gradcam``  Selvaraju et al. 2017: ReLU of the gradient-weighted sum of a conv layer's maps.
``scorecam`` Wang et al. 2020: each map of a conv layer weighted by the target's probability
             when the input keeps only that map's (upsampled, min-max scaled) region.
``ig``       Sundararajan et al. 2017: path integral of gradients from a baseline (midpoint
             Riemann sum, steps and images batched together in memory-bounded chunks).
``lrp``      Bach et al. 2015, epsilon rule (epsilon=10 as in Schaaf et al.), the way DeepExplain
             computes it: modified gradient x input, where each activation's derivative is
             replaced by ``y / (x + eps * sign(x))``. Batch-norm folds into the following
             activation's pre-activation, so it needs no canonizer; max-pool passes relevance to
             the winner; sums (residual connections) split it in proportion.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..models.layers import capture


def _default_chunk(x: torch.Tensor) -> int:
    """Images per forward pass for methods that multiply the batch (IG steps, Score-CAM maps).

    Measured (benchmarks/attribution.py): on a CPU throughput peaks near 64 images per pass and
    falls by a quarter at 512 (activations outgrow the caches); a GPU wants large passes.
    """
    return 64 if x.device.type == "cpu" else 1024


def _gradcam(model: nn.Module, x: torch.Tensor, target: torch.Tensor, layer: str | None) -> torch.Tensor:
    if layer is None:
        raise ValueError("gradcam needs a conv layer")
    with capture(model, layer) as store:
        x = x.detach().requires_grad_(True)
        logits = model(x)
        if not store:
            raise ValueError(f"layer {layer!r} did not run in the forward pass")
        act = store[-1]
        score = logits.gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(score, act)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return cam[:, 0].detach()


def _integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    layer: str | None = None,
    steps: int = 64,
    baseline: torch.Tensor | None = None,
    max_batch: int | None = None,
) -> torch.Tensor:
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    max_batch = max_batch or _default_chunk(x)
    base = torch.zeros_like(x) if baseline is None else baseline.to(x).expand_as(x)
    alphas = (torch.arange(steps, device=x.device, dtype=x.dtype) + 0.5) / steps  # midpoint rule
    total = torch.zeros_like(x)
    per = max(1, max_batch // len(x))  # steps per chunk, so a chunk holds <= max_batch images
    for s0 in range(0, steps, per):
        a = alphas[s0 : s0 + per]
        path = base[None] + a[:, None, None, None, None] * (x - base)[None]  # [S, B, C, H, W]
        path = path.reshape(-1, *x.shape[1:]).detach().requires_grad_(True)
        logits = model(path)
        score = logits.gather(1, target.repeat(len(a))[:, None]).sum()
        (grad,) = torch.autograd.grad(score, path)
        total += grad.reshape(len(a), *x.shape).sum(dim=0)
    return ((x - base) * total / steps).sum(dim=1).detach()


def _scorecam(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    layer: str | None,
    baseline: torch.Tensor | None = None,
    max_batch: int | None = None,
) -> torch.Tensor:
    if layer is None:
        raise ValueError("scorecam needs a conv layer")
    max_batch = max_batch or _default_chunk(x)
    base = torch.zeros_like(x) if baseline is None else baseline.to(x).expand_as(x)
    with torch.no_grad():
        with capture(model, layer) as store:
            model(x)
            if not store:
                raise ValueError(f"layer {layer!r} did not run in the forward pass")
            act = store[-1]
        b, k = act.shape[:2]
        maps = F.interpolate(
            act, size=x.shape[-2:], mode="bilinear", align_corners=False
        )  # [B, K, H, W]
        lo = maps.amin(dim=(2, 3), keepdim=True)
        hi = maps.amax(dim=(2, 3), keepdim=True)
        masks = (maps - lo) / (hi - lo).clamp_min(1e-12)
        # weight of map k: the target's probability when only that map's region is kept
        weights = torch.empty(b, k, device=x.device)
        flat_masks = masks.reshape(b * k, 1, *x.shape[-2:])
        img = torch.arange(b, device=x.device).repeat_interleave(k)
        for i in range(0, b * k, max_batch):
            j = img[i : i + max_batch]
            masked = base[j] + (x[j] - base[j]) * flat_masks[i : i + max_batch]
            probs = torch.softmax(model(masked).float(), dim=1)
            weights.view(-1)[i : i + max_batch] = probs.gather(1, target[j][:, None])[:, 0]
        cam = F.relu((weights[:, :, None, None] * act).sum(dim=1, keepdim=True))
        return F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]


# activations whose derivative the epsilon rule replaces (DeepExplain's list, as torch modules)
_ACTIVATIONS = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
)


def _epsilon_hook(eps: float):
    def hook(_module, inputs, output):
        x = inputs[0]
        # An in-place activation hands us its output as its input; for ReLU the ratio below is
        # the same either way (y / (y + eps) where y > 0, else 0).
        sign = torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
        ratio = (output / (x + eps * sign)).detach()
        # forward value unchanged; backward: d out / d x := ratio
        return output.detach() + (x - x.detach()) * ratio

    return hook


def _lrp(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    layer: str | None = None,
    epsilon: float = 10.0,
) -> torch.Tensor:
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    acts = [m for m in model.modules() if isinstance(m, _ACTIVATIONS)]
    if not acts:
        raise ValueError(
            "lrp needs the model's activations as modules (nn.ReLU, ...); this model applies them as "
            "functions, so their relevance cannot be redistributed"
        )
    handles = [m.register_forward_hook(_epsilon_hook(float(epsilon))) for m in acts]
    try:
        x = x.detach().requires_grad_(True)
        score = model(x).gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(score, x)
    finally:
        for h in handles:
            h.remove()
    return (grad * x).sum(dim=1).detach()


METHODS: dict[str, Callable[..., torch.Tensor]] = {
    "gradcam": _gradcam,
    "scorecam": _scorecam,
    "ig": _integrated_gradients,
    "lrp": _lrp,
}


def check_params(method: str, params: dict) -> None:
    """Refuse a parameter ``method`` does not take (a typo must not be dropped silently)."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {sorted(METHODS)}")
    known = [p for p in inspect.signature(METHODS[method]).parameters if p not in ("model", "x", "target", "layer")]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise TypeError(f"{method} takes no parameter(s) {unknown}; its parameters are {known or 'none'}")


def attribute(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    method: str = "gradcam",
    layer: str | None = None,
    batch_size: int = 64,
    **params,
) -> torch.Tensor:
    """Attribution maps ``[N, H, W] float32`` of ``model`` for inputs ``x [N, C, H, W]`` and
    classes ``target [N]``, computed ``batch_size`` images at a time on ``x``'s device."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {sorted(METHODS)}")
    if x.dim() != 4:
        raise ValueError(f"inputs must be [N, C, H, W], got shape {tuple(x.shape)}")
    target = torch.as_tensor(target, dtype=torch.int64, device=x.device).reshape(-1)
    if len(target) != len(x):
        raise ValueError(f"got {len(target)} targets for {len(x)} images")
    fn = METHODS[method]
    check_params(method, params)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    batch_size = int(batch_size)
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.enable_grad():
            for i in range(0, len(x), batch_size):
                out.append(
                    fn(
                        model,
                        x[i : i + batch_size],
                        target[i : i + batch_size],
                        layer=layer,
                        **params,
                    ).float()
                )
    finally:
        model.train(was_training)
    if not out:
        return torch.zeros((0, *x.shape[-2:]), device=x.device)
    return torch.cat(out)
