"""What one optimizer step costs: microgpt's nine tensors as views of one flat buffer vs one by one, and the
tiny arrays of the loss-surface arena ((2,) for one path, (256, 2) for 256 starts at once); then every
optimizer kind on the same flat microgpt buffer and on one (2,) point.

    python benchmarks/bench_optim.py [--repeats 7] [--kinds]

Each figure is the median over repeats of the mean time per step in a timed batch (after a warm-up), in
microseconds, with the best batch beside it: on a shared or busy machine the median grows with the load,
while the best batch is close to the uncontended cost. Compare figures from the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable from a checkout without installing

from adamlab.core.optim import OPTIMIZERS, Adam, flatten, make_optimizer  # noqa: E402

# microgpt (n_embd 16, block_size 16, vocab 27, one layer): 4,192 parameters in nine tensors
MICROGPT = {
    "wte": (27, 16), "wpe": (16, 16), "lm_head": (27, 16),
    "layer0.attn_wq": (16, 16), "layer0.attn_wk": (16, 16), "layer0.attn_wv": (16, 16), "layer0.attn_wo": (16, 16),
    "layer0.mlp_fc1": (64, 16), "layer0.mlp_fc2": (16, 64),
}


def per_step_us(step, n: int, repeats: int) -> tuple[float, float]:
    """(median, best) over `repeats` batches of n calls of the mean µs per call."""
    for _ in range(max(10, n // 10)):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        times.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(times), min(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed batches per figure (default 7)")
    ap.add_argument("--no-kinds", action="store_true", help="only Adam (skip the table of every optimizer kind)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    n_params = sum(int(np.prod(s)) for s in MICROGPT.values())
    print(f"Adam step cost, median of {args.repeats} repeats (os.cpu_count() = {os.cpu_count()}, "
          f"numpy {np.__version__})")

    # microgpt's tensors as views of one flat params buffer and one flat grads buffer
    params = flatten({k: rng.standard_normal(s) * 0.08 for k, s in MICROGPT.items()})
    grads = flatten({k: rng.standard_normal(s) for k, s in MICROGPT.items()})
    opt = Adam(lr=1e-2, betas=(0.85, 0.99))
    flat = per_step_us(lambda: opt.step(params.views, grads.views), 2000, args.repeats)

    # the same nine tensors as separate arrays: one set of ufunc calls per tensor
    sep_p = {k: v.copy() for k, v in params.views.items()}
    sep_g = {k: v.copy() for k, v in grads.views.items()}
    opt2 = Adam(lr=1e-2, betas=(0.85, 0.99))
    separate = per_step_us(lambda: opt2.step(sep_p, sep_g), 1000, args.repeats)

    print(f"  {'case':58s} {'median':>9s} {'best':>9s}")
    print(f"  {f'microgpt: {len(MICROGPT)} tensors, {n_params:,} float64 params, one flat buffer':58s} "
          f"{flat[0]:6.1f} µs {flat[1]:6.1f} µs")
    print(f"  {f'microgpt: the {len(MICROGPT)} tensors stepped one by one':58s} "
          f"{separate[0]:6.1f} µs {separate[1]:6.1f} µs   ({separate[0] / flat[0]:.1f}x the flat step)")

    for shape in [(2,), (256, 2)]:
        x, g = rng.standard_normal(shape), rng.standard_normal(shape)
        o = Adam(lr=1e-3)
        us = per_step_us(lambda: o.step(x, g), 20000 if shape == (2,) else 5000, args.repeats)
        print(f"  {f'one array of shape {shape}':58s} {us[0]:6.2f} µs {us[1]:6.2f} µs")
    if not args.no_kinds:
        every_kind(params, grads, rng, args.repeats)


def every_kind(params, grads, rng, repeats: int) -> None:
    """Each kind's step on microgpt's flat buffer (Muon, Muon + AdamW and Adafactor work matrix by matrix)
    and on one (2,) point (— where the kind is not defined on a point)."""
    print(f"\nevery kind, median of {repeats} repeats: microgpt's flat buffer (float64) | one (2,) point")
    print(f"  {'kind':20s} {'flat':>10s} {'(2,)':>10s}  state")
    for kind, spec in OPTIMIZERS.items():
        p = flatten({k: v.copy() for k, v in params.views.items()}).views
        o = make_optimizer(kind, lr=1e-3)
        flat = per_step_us(lambda: o.step(p, grads.views), 300, repeats)[0]
        layout = "one flat slot" if list(getattr(o, "_state", {})) == ["__flat__"] else "per tensor"
        if kind == "muon_adamw":
            layout = "two flat slots (Muon's, AdamW's)"
        point = "—"
        if kind not in ("muon", "muon_adamw"):
            x, g = rng.standard_normal(2), rng.standard_normal(2)
            q = make_optimizer(kind, lr=1e-3)
            point = f"{per_step_us(lambda: q.step(x, g), 5000, repeats)[0]:7.2f} µs"
        print(f"  {kind:20s} {flat:7.1f} µs {point:>10s}  {layout}")


if __name__ == "__main__":
    main()
