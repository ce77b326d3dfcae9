"""The watcher's maths on torch tensors, computed where the tensors live: norms, Adam's per-parameter step and
learning rate for each Adam-family optimizer, fixed-bin histograms, and one device→host copy per step.

torch is imported by the caller (``adamlab.runs.hook``) and passed in: importing this module needs only NumPy.

What the histograms show, exactly (t = ``state["step"]`` after the step, the group's current β1, β2, ε, lr):

* Adam, AdamW (and Adam with ``decoupled_weight_decay``): m̂ = m / (1 − β1ᵗ), v̂ = v / (1 − β2ᵗ) with
  v = ``exp_avg_sq``, or ``max_exp_avg_sq`` under AMSGrad (torch keeps the max of the raw v). The
  histograms are of m̂/(√v̂+ε) and log10 lr/(√v̂+ε); torch's update is θ ← θ − lr·m̂/(√v̂+ε) (after AdamW's
  decay θ ← θ(1 − lr·λ)), so ``snr`` is −Δθ/lr of the Adam part of the step.
* NAdam: the same v̂; its step uses a Nesterov mix of the gradient g (as the step saw it: negated under
  ``maximize``, plus λθ for L2 weight decay) and m: m̂ = (1−μₜ)/(1−Πₜ)·g + μₜ₊₁/(1−Πₜμₜ₊₁)·m with
  μₜ = β1(1 − ½·0.96^(tψ)) and Πₜ = ``mu_product``; ``snr`` = m̂/(√v̂+ε), again −Δθ/lr.
* RAdam: m̂ = m / (1 − β1ᵗ) and the rectification r_t once ρ_t > 5: the step is lr·r_t·m̂·√(1−β2ᵗ)/(√v+ε)
  (torch adds ε to √v, not to √v̂), so ``snr`` = r_t·m̂·√(1−β2ᵗ)/(√v+ε) and the effective lr is
  lr·r_t·√(1−β2ᵗ)/(√v+ε). While ρ_t ≤ 5 (the first steps) RAdam takes plain momentum steps lr·m̂: ``snr``
  = m̂ and every parameter's effective lr is lr.

Complex parameters get g, w and u but no histograms.
"""

from __future__ import annotations

import math

import numpy as np

ADAM_KINDS = ("adam", "nadam", "radam")


def adam_kind(torch, optimizer) -> tuple[str | None, str]:
    """Which Adam-family update ``optimizer`` runs (its class or a subclass), and a note saying what is recorded."""
    name = type(optimizer).__name__
    for cls, kind in ((torch.optim.Adam, "adam"), (torch.optim.NAdam, "nadam"), (torch.optim.RAdam, "radam")):
        if isinstance(optimizer, cls):  # AdamW is a subclass of Adam
            return kind, (f"{name}: g, w, u per tensor and histograms of Adam's state "
                          f"(m̂/(√v̂+ε) and lr/(√v̂+ε), bias-corrected as {cls.__name__} does)")
    return None, (f"{name} keeps no Adam state (exp_avg, exp_avg_sq) that AdamLab reads: the run records the "
                  f"update-based g, w and u per tensor, no histograms")


def norms(torch, tensors: list) -> list:
    """‖x‖₂ of each tensor (0-d tensors, on its device). 16-bit tensors accumulate in float32; a sparse
    gradient counts its stored values."""
    out = [None] * len(tensors)
    low = (torch.float16, torch.bfloat16)
    groups: dict[bool, list[int]] = {True: [], False: []}
    for k, t in enumerate(tensors):
        if t.is_sparse:
            out[k] = torch.linalg.vector_norm(t.coalesce().values(), dtype=torch.float32 if t.dtype in low else None)
        else:
            groups[t.dtype in low].append(k)
    for is_low, ks in groups.items():
        if ks:
            dense = [tensors[k] for k in ks]
            dtype = torch.float32 if is_low else None
            found = torch._foreach_norm(dense, 2, dtype=dtype) if hasattr(torch, "_foreach_norm") else \
                [torch.linalg.vector_norm(t, dtype=dtype) for t in dense]
            for k, n in zip(ks, found):
                out[k] = n
    return out


def differences(torch, befores: list, afters: list) -> list:
    """θ_before − θ_after per tensor: in the copies' own memory for float32/64; 16-bit tensors are subtracted
    in float32 (in bfloat16, weights that cross zero or change by more than 2× would round the difference)."""
    low = (torch.float16, torch.bfloat16)
    same = [k for k, b in enumerate(befores) if b.dtype not in low]
    if same:
        torch._foreach_sub_([befores[k] for k in same], [afters[k] for k in same])
    return [b if b.dtype not in low else b.float().sub_(a.float()) for b, a in zip(befores, afters)]


def fetch(torch, tensors: list) -> list[np.ndarray]:
    """float64 NumPy copies of many small tensors with one transfer per device: tensors of the same device,
    dtype and shape are stacked, cast and concatenated on the device first."""
    out = [None] * len(tensors)
    by_device: dict = {}
    for k, t in enumerate(tensors):
        by_device.setdefault(t.device, {}).setdefault((t.dtype, tuple(t.shape)), []).append(k)
    for device, groups in by_device.items():
        order, flat = [], []
        for ks in groups.values():
            stacked = torch.stack([tensors[k] for k in ks])
            if device.type == "mps":  # (Apple GPUs have no float64: cast on the host, one copy per group)
                stacked = stacked.cpu()
            flat.append(stacked.to(torch.float64).reshape(-1))
            order.extend(ks)
        host = torch.cat(flat).cpu().numpy()
        at = 0
        for k in order:
            size = tensors[k].numel()
            out[k] = host[at:at + size].reshape(tuple(tensors[k].shape))
            at += size
    return out


def binned(torch, x, lo: float, hi: float, bins: int):
    """Counts (bins + 2,) int64 of x: below lo, ``bins`` equal bins over [lo, hi), at or above hi; NaNs in
    none. Each value's bin index is computed in place in x (x is the caller's temporary), then one bincount
    (≈1.5× faster on the CPU than clamp + histc, and the counts are exact integers however big the tensor)."""
    width = (hi - lo) / bins
    index = x.reshape(-1).sub_(lo).div_(width).floor_().clamp_(-1, bins).add_(1).nan_to_num_(bins + 2)
    return torch.bincount(index.to(torch.int32), minlength=bins + 3)[:bins + 2]  # (NaNs were put in bin bins+2)


def _moments(torch, state, amsgrad: bool):
    m = state["exp_avg"]
    v = state["max_exp_avg_sq"] if amsgrad else state["exp_avg_sq"]
    if m.dtype in (torch.float16, torch.bfloat16):  # the statistics in float32, like the norms
        m, v = m.float(), v.float()
    return m, v


def adam_step_and_lr(torch, kind: str, group: dict, state: dict, t: float, mu_product: float, grad, before):
    """(snr, lr_eff): the normalised step −Δθ_adam/lr and the effective per-parameter lr of one tensor, as the
    optimizer ``kind`` computed them at step t (module docstring). New tensors; the state is not touched."""
    b1, b2 = (float(b) for b in group["betas"])
    eps, lr = float(group["eps"]), float(group["lr"])
    m, v = _moments(torch, state, bool(group.get("amsgrad", False)))
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    if kind == "adam":
        denom = v.sqrt().div_(math.sqrt(bc2)).add_(eps)  # √v̂ + ε, in torch's order: √v / √(1 − β2ᵗ) + ε
        snr = m.div(denom).div_(bc1)
        return snr, denom.reciprocal_().mul_(lr)
    if kind == "nadam":
        psi = float(group["momentum_decay"])
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        g = _grad_as_stepped(torch, group, grad, before, m.dtype)
        denom = v.div(bc2).sqrt_().add_(eps)
        snr = g.mul_((1 - mu) / (1 - mu_product)).add_(m, alpha=mu_next / (1 - mu_product * mu_next)).div_(denom)
        return snr, denom.reciprocal_().mul_(lr)
    if kind == "radam":
        m_hat = m.div(bc1)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2 ** t / bc2
        if rho_t <= 5:  # not rectifiable yet: SGD with momentum on m̂
            return m_hat, torch.full_like(m_hat, lr)
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        adaptive = v.sqrt().add_(eps).reciprocal_().mul_(math.sqrt(bc2) * rect)  # r_t √(1−β2ᵗ) / (√v + ε)
        return m_hat.mul_(adaptive), adaptive.mul_(lr)
    raise ValueError(f"unknown Adam kind {kind!r}")


def _grad_as_stepped(torch, group, grad, before, dtype):
    """NAdam's g: p.grad negated under ``maximize``, plus λθ_before for (non-decoupled) L2 weight decay."""
    g = grad.to(dtype).neg() if group.get("maximize", False) else grad.to(dtype, copy=True)
    wd = float(group.get("weight_decay", 0.0))
    if wd and not group.get("decoupled_weight_decay", False):
        g.add_(before.to(dtype), alpha=wd)
    return g
