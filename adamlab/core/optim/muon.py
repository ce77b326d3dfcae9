"""Muon (torch.optim.Muon, torch 2.13) and MuonAdamW, the usual split for a transformer.

Muon keeps Nesterov momentum per matrix and replaces the step by the nearest semi-orthogonal matrix:
the Newton–Schulz iteration below pushes every singular value of the momentum towards 1, so a step
moves the weights by the same amount in every direction the gradient spans, however lopsided the
gradient's spectrum is. Only 2-D parameters make sense (torch refuses others, so does this); embeddings,
the output head and vectors go to AdamW. ``MuonAdamW`` does that routing for a model's dict of tensors
and reports which tensor uses which (``routes``).

One deliberate difference from torch: torch runs Newton–Schulz in bfloat16 (fast on GPUs); here it runs
in the parameters' dtype. In float64 the update then equals torch's float64 arithmetic to round-off
(the tests patch torch's bfloat16 cast away to check it); against torch as shipped it agrees to bfloat16
precision (~1e-2 relative).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adamlab.core.optim.adaptive import _flag_of
from adamlab.core.optim.base import (
    _FLAT, _RESERVED, SINGLE, Optimizer, _betas, _decode_hyper, _encode_hyper, _grad, _hyper, _integer,
    _Layout, _learning_rate, _lerp_, _nonneg, _numbers, _one_of, _optional, _real, _tiling,
)
from adamlab.core.optim.base import AdamW

__all__ = ["Muon", "MuonAdamW", "newton_schulz", "NS_COEFFICIENTS", "adjusted_lr"]

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)   # Keller Jordan's quintic, torch's DEFAULT_A, _B, _C
ADJUST_LR_FNS = ("original", "match_rms_adamw")


def newton_schulz(G: np.ndarray, coefficients=NS_COEFFICIENTS, steps: int = 5, eps: float = 1e-7) -> np.ndarray:
    """≈ U·S'·Vᵀ for G = U·S·Vᵀ, with S' close to 1 (torch's _zeropower_via_newtonschulz, in G's dtype).

    X = G/‖G‖_F (so every singular value is <= 1), then ``steps`` times X ← a·X + (b·A + c·A²)·X with
    A = X·Xᵀ: each singular value σ follows p(σ) = aσ + bσ³ + cσ⁵. The default coefficients make p steep at
    0 and map [~0.1, 1] into ~[0.7, 1.2] after 5 steps, not exactly to 1: fast, and as good in practice.
    A tall G is transposed first so that the Gram matrix X·Xᵀ is the small one.
    """
    if G.ndim != 2:
        raise ValueError(f"Newton–Schulz needs a 2-D matrix, got shape {G.shape}")
    tall = G.shape[0] > G.shape[1]
    X = _newton_schulz_wide(np.array((G.T if tall else G)[None]), coefficients, steps, eps)[0]
    return X.T if tall else X


def _newton_schulz_wide(X: np.ndarray, coefficients, steps: int, eps: float) -> np.ndarray:
    """Newton–Schulz on a stack of wide matrices X (n, r, c), r <= c, in place: one NumPy call per
    operation for the whole stack (Muon orthogonalises a model's same-shaped matrices together).

    Per step, torch computes A = X·Xᵀ, B = b·A + c·A·A, X = a·X + B·X; here the same polynomial is
    regrouped as B = A·(b·I + c·A) + a·I and X = B·X (three matmuls, no full-size scalings of X).
    """
    a, b, c = coefficients
    n, r, _ = X.shape
    norms = np.sqrt(np.square(X).reshape(n, -1).sum(axis=1))   # torch: ortho_grad.norm().clamp(min=eps)
    X /= np.maximum(norms, eps)[:, None, None]
    if n == 1:                                      # one matrix: 2-D matmuls are the cheaper NumPy path
        X = X[0]

    def diagonal(M):                                # a strided view of the diagonal(s) of (…, r, r)
        return M.reshape(*M.shape[:-2], r * r)[..., ::r + 1]

    for _ in range(steps):
        A = X @ np.swapaxes(X, -1, -2)              # (…, r, r): the small Gram matrices
        C = A * c
        diagonal(C)[...] += b
        B = A @ C                                   # b·A + c·A²
        diagonal(B)[...] += a
        X = B @ X                                   # a·X + (b·A + c·A²)·X
    return X.reshape(n, r, -1)


def adjusted_lr(lr, adjust_lr_fn: str | None, shape: tuple[int, ...]):
    """torch's _adjust_lr: "original" (None) lr·√max(1, A/B), Keller Jordan's, for an (A, B) matrix;
    "match_rms_adamw" 0.2·lr·√max(A, B), Moonshot's, which gives the update AdamW's typical RMS so AdamW's
    lr and weight decay can be reused."""
    A, B = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, A / B))
    return lr * (0.2 * math.sqrt(max(A, B)))


_ns_coefficients = _numbers("ns_coefficients", ("a", "b", "c"))


def _momentum(name):
    return lambda v: _real(name, v, 0.0, 1.0)


_MUON_SHAPE = ("Muon only supports 2-D parameters (matrices), as torch.optim.Muon; optimise vectors, embeddings "
               "and the output head with AdamW (MuonAdamW does this split)")


class Muon(Optimizer):
    """Muon (torch.optim.Muon): orthogonalised Nesterov momentum for 2-D parameters.

        G ← −G (maximize; torch's Muon has no such option)
        B ← lerp(B, G, 1 − μ)                          (= μB + (1 − μ)G, state "momentum_buffer")
        M = lerp(G, B, μ) if nesterov else B
        O = NewtonSchulz(M; (a, b, c), ns_steps, eps)   (≈ the orthogonal factor U·Vᵀ of M)
        θ ← θ(1 − lr·wd)                                 (decoupled weight decay)
        θ ← θ − adjusted_lr·O,   adjusted_lr = lr·√max(1, A/B) ("original", Keller Jordan) or
                                               0.2·lr·√max(A, B) ("match_rms_adamw", Moonshot)

    momentum must be in [0, 1): torch accepts any μ >= 0, but at μ = 1 the buffer never moves from 0 and
    above 1 new gradients enter it with a negative weight. ns_steps in [0, 99] (torch refuses >= 100).
    The update is computed in the parameters' dtype, not bfloat16 as torch does (see the module note).
    In a flat buffer the momentum update is one vectorised step over all the matrices; Newton–Schulz then
    runs once per shape, on the stack of the matrices of that shape. ``inspect`` gives the last
    orthogonalised update and its singular values.
    """
    ROWS_INDEPENDENT = False
    _VALIDATORS = {"lr": _learning_rate, "weight_decay": _nonneg("weight_decay"), "momentum": _momentum("momentum"),
                   "nesterov": _flag_of("nesterov"), "ns_coefficients": _ns_coefficients, "eps": _nonneg("eps"),
                   "ns_steps": _integer("ns_steps", 0, 99),
                   "adjust_lr_fn": _optional(_one_of("adjust_lr_fn", ADJUST_LR_FNS)),
                   "maximize": _flag_of("maximize")}
    weight_decay = _hyper("weight_decay", "Decoupled weight decay >= 0: θ ← θ(1 − lr·wd) (torch default 0.1).")
    momentum = _hyper("momentum", "μ in [0, 1): B ← μB + (1 − μ)G (torch default 0.95).")
    nesterov = _hyper("nesterov", "Orthogonalise lerp(G, B, μ) (look ahead) instead of B.")
    ns_coefficients = _hyper("ns_coefficients", "(a, b, c) of the quintic a·σ + b·σ³ + c·σ⁵.")
    eps = _hyper("eps", "Floor of ‖M‖_F in the normalisation, >= 0.")
    ns_steps = _hyper("ns_steps", "Newton–Schulz iterations, 0..99 (0: just M/‖M‖_F).")
    adjust_lr_fn = _hyper("adjust_lr_fn", "None/'original' (Keller Jordan) or 'match_rms_adamw' (Moonshot).")
    maximize = _hyper("maximize", "Ascend: step along +G instead of −G.")

    def __init__(self, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True, ns_coefficients=NS_COEFFICIENTS,
                 eps=1e-7, ns_steps=5, adjust_lr_fn=None, *, maximize=False):
        self._updated: dict[int, Any] = {}          # id -> slot, for slots whose scratch holds their last update
        super().__init__(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                         ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
                         maximize=maximize)

    def _apply(self):
        super()._apply()
        self._mu, self._nesterov = self._h["momentum"], self._h["nesterov"]

    def _init_state(self, shape, dtype):
        return {"momentum_buffer": np.zeros(shape, dtype)}

    # -- 2-D only, as torch --------------------------------------------------------------------------------
    def _slot_for(self, name, p, g):
        if isinstance(p, np.ndarray) and p.ndim != 2:
            raise ValueError(f"params[{name!r}] has shape {p.shape}: {_MUON_SHAPE}")
        return super()._slot_for(name, p, g)

    def _flat_slot(self, layout, pflat):
        for name, shape in zip(layout.names, layout.shapes):
            if len(shape) != 2:
                raise ValueError(f"params[{name!r}] has shape {shape}: {_MUON_SHAPE}")
        return super()._flat_slot(layout, pflat)

    def _matrices(self, slot, *arrays):
        """(name, shape, views of each array) for every matrix of the slot (one, or a flat buffer's)."""
        if slot.layout is None:
            yield None, slot.shape, arrays
            return
        lay = slot.layout
        for name, shape in zip(lay.names, lay.shapes):
            yield name, shape, tuple(lay.view(a, name) for a in arrays)

    def _update(self, slot, p, g):
        g = _grad(slot, p, g, self._maximize)
        buf, tmp = slot.state["momentum_buffer"], slot.tmp
        _lerp_(buf, g, 1.0 - self._mu, tmp)         # torch: buf.lerp_(grad, 1 − momentum)
        if self._nesterov:                          # torch: grad.lerp(buf, momentum), out of place
            upd = slot.denom
            np.copyto(upd, g)
            _lerp_(upd, buf, self._mu, tmp)
        else:
            upd = buf
        h = self._h
        if self._wd != 0:                           # torch: param.mul_(1 − lr·wd), per matrix: same numbers
            np.multiply(p, 1 - self._lr * self._wd, out=p)
        mats = list(self._matrices(slot, p, upd, tmp))
        groups: dict[tuple[int, int], list] = {}    # matrices of one (wide) shape are orthogonalised together
        for m in mats:
            r, c = m[1]
            groups.setdefault((min(r, c), max(r, c)), []).append(m)
        for members in groups.values():
            stack = np.stack([um.T if um.shape[0] > um.shape[1] else um for _, _, (_, um, _) in members])
            stack = _newton_schulz_wide(stack, h["ns_coefficients"], h["ns_steps"], h["eps"])
            for (_, shape, (pm, um, om)), O in zip(members, stack):
                om[...] = O.T if um.shape[0] > um.shape[1] else O
                np.add(pm, om * -adjusted_lr(self._lr, h["adjust_lr_fn"], shape), out=pm)
        if len(self._updated) >= len(self._state):  # forget slots that were merged or split since
            live = {id(s) for s in self._state.values()}
            self._updated = {k: s for k, s in self._updated.items() if k in live}
        self._updated[id(slot)] = slot              # tmp now holds O for every matrix, until the next step

    def reset(self):
        super().reset()
        self._updated.clear()

    def load_state_dict(self, d):
        super().load_state_dict(d)
        self._updated.clear()

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """momentum_buffer, the last orthogonalised update O (θ moved by −adjusted_lr·O), its singular
        values (descending; near 1, in [~0.7, ~1.2] with the default coefficients) and adjusted_lr. O and
        its singular values are NaN when the state was loaded rather than stepped since."""
        slot, view = self._find(name)
        buf = view(slot.state["momentum_buffer"]).copy()
        shape = buf.shape
        if self._updated.get(id(slot)) is slot:
            O = view(slot.tmp).copy()
            sv = np.linalg.svd(O, compute_uv=False)
        else:
            O, sv = np.full(shape, np.nan), np.full(min(shape), np.nan)
        return {"t": slot.step, "momentum_buffer": buf, "update": O, "singular_values": sv,
                "adjusted_lr": adjusted_lr(self._lr, self._h["adjust_lr_fn"], shape)}


# ----------------------------------------------------------------------------------------------------------
# Muon for the hidden matrices, AdamW for the rest

ADAMW_NAMES = ("wte", "wpe", "lm_head")        # the GPT's embeddings and output head


def _names(value) -> tuple[str, ...]:
    if not isinstance(value, (tuple, list)) or not all(isinstance(x, str) for x in value):
        raise ValueError(f"adamw_names must be a tuple of tensor names (strings), got {value!r}")
    return tuple(value)


class MuonAdamW(Optimizer):
    """Muon on the hidden matrices, AdamW on the embeddings, the output head and every non-2-D tensor.

    This is the usual split (Keller Jordan's Muon, torch's Muon docs): Muon's orthogonalised step suits
    the square-ish hidden layers, while an embedding's rows are looked up one token at a time and the head
    maps to a vocabulary, where per-coordinate Adam steps work better. A tensor goes to AdamW when it is
    not 2-D or its name is in ``adamw_names`` (the GPT's "wte", "wpe", "lm_head"); ``routes(params)``
    says which tensor uses which.

    Hyperparameters (one set, one ``lr`` knob for schedules):
        lr, momentum, nesterov, ns_coefficients, ns_steps, ns_eps, adjust_lr_fn, weight_decay  -> Muon
            (ns_eps is Muon's ``eps``)
        lr·adamw_lr_ratio, betas, eps, weight_decay                                           -> AdamW
    The default adjust_lr_fn is "match_rms_adamw" (Moonshot's "Muon is scalable"): Muon's update then has
    AdamW's typical RMS, so one lr and one weight decay serve both halves (adamw_lr_ratio = 1).
    When the model's tensors are views of one flat buffer (the GPT) and each half's tensors are contiguous
    in it, each half is stepped as one flat buffer of its own.
    """
    ROWS_INDEPENDENT = False
    _VALIDATORS = {"lr": _learning_rate, "momentum": _momentum("momentum"), "nesterov": _flag_of("nesterov"),
                   "ns_coefficients": _ns_coefficients, "ns_steps": _integer("ns_steps", 0, 99),
                   "ns_eps": _nonneg("ns_eps"),
                   "adjust_lr_fn": _optional(_one_of("adjust_lr_fn", ADJUST_LR_FNS)),
                   "weight_decay": _nonneg("weight_decay"), "betas": _betas, "eps": _nonneg("eps"),
                   "adamw_lr_ratio": _nonneg("adamw_lr_ratio"), "adamw_names": _names,
                   "maximize": _flag_of("maximize")}
    momentum = _hyper("momentum", "Muon's μ in [0, 1).")
    nesterov = _hyper("nesterov", "Muon's Nesterov look-ahead.")
    ns_coefficients = _hyper("ns_coefficients", "Muon's Newton–Schulz (a, b, c).")
    ns_steps = _hyper("ns_steps", "Muon's Newton–Schulz iterations, 0..99.")
    ns_eps = _hyper("ns_eps", "Muon's eps (floor of ‖M‖_F).")
    adjust_lr_fn = _hyper("adjust_lr_fn", "Muon's lr adjustment: 'original' or 'match_rms_adamw'.")
    weight_decay = _hyper("weight_decay", "Decoupled weight decay >= 0 of both halves.")
    betas = _hyper("betas", "AdamW's (β1, β2).")
    eps = _hyper("eps", "AdamW's ε.")
    adamw_lr_ratio = _hyper("adamw_lr_ratio", "AdamW's lr = adamw_lr_ratio·lr.")
    adamw_names = _hyper("adamw_names", "Names of 2-D tensors that go to AdamW anyway (embeddings, head).")
    maximize = _hyper("maximize", "Ascend instead of descend.")

    def __init__(self, lr=1e-2, momentum=0.95, nesterov=True, ns_coefficients=NS_COEFFICIENTS, ns_steps=5,
                 ns_eps=1e-7, adjust_lr_fn="match_rms_adamw", weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8,
                 adamw_lr_ratio=1.0, adamw_names=ADAMW_NAMES, *, maximize=False):
        self.muon, self.adamw = Muon(), AdamW()
        self._plan_cache = None
        super().__init__(lr=lr, momentum=momentum, nesterov=nesterov, ns_coefficients=ns_coefficients,
                         ns_steps=ns_steps, ns_eps=ns_eps, adjust_lr_fn=adjust_lr_fn, weight_decay=weight_decay,
                         betas=betas, eps=eps, adamw_lr_ratio=adamw_lr_ratio, adamw_names=adamw_names,
                         maximize=maximize)

    @property
    def lr(self):
        """Muon's learning rate; AdamW's is adamw_lr_ratio times it (a schedule moves both)."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = self._h["lr"] = self._VALIDATORS["lr"](value)
        self._batched = isinstance(self._lr, np.ndarray)
        self.muon.lr = self._lr
        self.adamw.lr = self._lr * self._h["adamw_lr_ratio"]

    def _apply(self):
        h = self._h
        self._lr = h["lr"]
        self.muon.set_hyperparameters(lr=h["lr"], weight_decay=h["weight_decay"], momentum=h["momentum"],
                                      nesterov=h["nesterov"], ns_coefficients=h["ns_coefficients"],
                                      eps=h["ns_eps"], ns_steps=h["ns_steps"], adjust_lr_fn=h["adjust_lr_fn"],
                                      maximize=h["maximize"])
        self.adamw.set_hyperparameters(lr=h["lr"] * h["adamw_lr_ratio"], betas=h["betas"], eps=h["eps"],
                                       weight_decay=h["weight_decay"], maximize=h["maximize"])
        self._plan_cache = None                     # adamw_names may have changed the routes

    # -- routing ------------------------------------------------------------------------------------------
    def route(self, name: str, shape: tuple[int, ...]) -> str:
        """"muon" or "adamw": where a tensor of this name and shape goes."""
        return "muon" if len(shape) == 2 and name not in self._h["adamw_names"] else "adamw"

    def routes(self, params: dict | None = None) -> dict[str, str]:
        """Tensor name -> "muon" or "adamw", for ``params`` (name -> array or shape) or, by default, for
        every tensor stepped so far."""
        if params is None:
            return {**{n: "muon" for n in self.muon.names()}, **{n: "adamw" for n in self.adamw.names()}}
        return {n: self.route(n, np.shape(p) if isinstance(p, np.ndarray) else tuple(p)) for n, p in params.items()}

    def _part(self, which: str) -> Optimizer:
        return self.muon if which == "muon" else self.adamw

    def _plan(self, params: dict, grads: dict) -> list:
        """[(part, names, flat params or None, flat grads or None, layout or None)] for this dict of arrays,
        cached against the arrays' identity (the cache holds them, so their ids stay theirs)."""
        key = (tuple(params), tuple(map(id, params.values())), tuple(map(id, grads.values())))
        if self._plan_cache is not None and self._plan_cache[0] == key:
            return self._plan_cache[1]
        if params.keys() != grads.keys():
            raise ValueError(f"params and grads must have the same names; params only: "
                             f"{sorted(params.keys() - grads.keys())}, grads only: "
                             f"{sorted(grads.keys() - params.keys())}")
        groups: dict[str, list[str]] = {"muon": [], "adamw": []}
        for name, p in params.items():
            groups[self.route(name, np.shape(p))].append(name)
        tiled = _tiling(params) if params else None
        gtiled = _tiling(grads) if tiled is not None else None
        plan = []
        for which, names in groups.items():
            if not names:
                continue
            share = _share(tiled[1], names) if tiled is not None else None
            if share is None:
                plan.append((self._part(which), names, None, None, None, False))
                continue
            start, stop, layout = share
            direct = gtiled is not None and gtiled[1] == tiled[1] and gtiled[0].dtype == tiled[0].dtype
            gflat = gtiled[0][start:stop] if direct else np.empty(stop - start, tiled[0].dtype)
            plan.append((self._part(which), names, tiled[0][start:stop], gflat, layout, direct))
        self._plan_cache = (key, plan, tuple(params.values()), tuple(grads.values()))
        return plan

    def step(self, params, grads) -> None:
        """One update of every tensor: the matrices by Muon, the rest by AdamW (see ``routes``)."""
        if isinstance(params, np.ndarray):
            self._part("muon" if params.ndim == 2 else "adamw").step(params, grads)
            self._t += 1
            return
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise ValueError("params and grads must both be ndarrays or both be dicts name -> ndarray, "
                             f"got {type(params).__name__} and {type(grads).__name__}")
        if _FLAT in params:
            raise ValueError(_RESERVED)
        for part, names, pflat, gflat, layout, direct in self._plan(params, grads):
            if pflat is not None:
                if not direct:                      # gather this half's grads into its own flat buffer
                    for name in layout.names:
                        np.copyto(layout.view(gflat, name), grads[name])
                if part._step_layout(pflat, gflat, layout):
                    continue
            part.step({n: params[n] for n in names}, {n: grads[n] for n in names})
        self._t += 1

    # -- state --------------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return self.muon.names() + self.adamw.names()

    def _owner(self, name):
        key = SINGLE if name is None else name
        for part in (self.muon, self.adamw):
            if key in part.names():
                return part
        raise KeyError(f"no optimizer state for {key!r} (not stepped yet); known: {self.names()}")

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """The owning half's ``inspect`` (Muon's or AdamW's), plus "optimizer": "muon" or "adamw"."""
        part = self._owner(name)
        return {**part.inspect(name), "optimizer": "muon" if part is self.muon else "adamw"}

    def state_of(self, name: str | None = None) -> dict[str, Any]:
        return self._owner(name).state_of(name)

    def nonfinite_state(self):
        return self.muon.nonfinite_state() or self.adamw.nonfinite_state()

    def reset(self) -> None:
        self.muon.reset()
        self.adamw.reset()
        self._plan_cache = None
        self._t = 0

    def state_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"optimizer": type(self).__name__, "t": self._t,
                             "slots": np.array(self.names(), dtype=str)}
        for name, value in self._h.items():
            d[f"hyper.{name}"] = _encode_hyper(value)
        for prefix, part in (("muon.", self.muon), ("adamw.", self.adamw)):
            d.update({prefix + k: v for k, v in part.state_dict().items()})
        return d

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Atomic like ``Optimizer.load_state_dict``: both halves load, or neither changes."""
        kind = str(d["optimizer"])
        if kind != type(self).__name__:
            raise ValueError(f"state_dict is for {kind}, not {type(self).__name__}")
        hyper = {name: _decode_hyper(d[f"hyper.{name}"], cur) for name, cur in self._h.items()}
        checked = {name: self._VALIDATORS[name](value) for name, value in hyper.items()}
        self._check_combination(checked)
        t = int(d["t"])
        if t < 0:
            raise ValueError(f"state_dict t must be >= 0, got {t}")
        parts = {prefix: {k[len(prefix):]: v for k, v in d.items() if k.startswith(prefix)}
                 for prefix in ("muon.", "adamw.")}
        before = self.muon.state_dict()
        self.muon.load_state_dict(parts["muon."])
        try:
            self.adamw.load_state_dict(parts["adamw."])
        except BaseException:
            self.muon.load_state_dict(before)
            raise
        self.set_hyperparameters(**checked)
        self._t = t
        self._plan_cache = None


def _share(layout: _Layout, names: list[str]) -> tuple[int, int, _Layout] | None:
    """(start, stop, layout relative to start) when ``names``' tensors are one contiguous range of a
    buffer laid out by ``layout``, else None."""
    where = {n: (o, math.prod(s), s) for n, o, s in zip(layout.names, layout.offsets, layout.shapes)}
    pieces = sorted((where[n][0], where[n][1]) for n in names if where[n][1])
    if not pieces:
        return None
    start = cursor = pieces[0][0]
    for off, size in pieces:
        if off != cursor:
            return None
        cursor += size
    return start, cursor, _Layout(tuple(names), tuple(where[n][0] - start for n in names),
                                  tuple(where[n][2] for n in names))
