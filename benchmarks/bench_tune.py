"""What a fair race's tuning costs: the arena's 8 optimizers × 25 learning rates × 500 steps on Rosenbrock
(target: under 2 s), with noise averaged over 3 seeds, and the newer optimizers; side by side with the
obvious way (one trajectory.run per learning rate).

    python benchmarks/bench_tune.py [--repeats 5]

Figures are medians over repeats (and the best run beside them: on a shared machine the median grows
with the load, the best is close to the uncontended cost).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable from a checkout without installing

from adamlab.core.surfaces import SURFACES  # noqa: E402
from adamlab.core.trajectory import run  # noqa: E402
from adamlab.core.tune import lr_grid, tune  # noqa: E402

ARENA = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "amsgrad", "adamw"]
NEWER = ["nadam", "radam", "adamax", "adadelta", "lion", "ademamix", "schedulefree_adamw", "adopt", "adafactor"]


def timed(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per figure (default 5)")
    args = ap.parse_args(argv)
    s = SURFACES["rosenbrock"]
    arena = [(k, {}) for k in ARENA]
    print(f"tuning on Rosenbrock from {s.start}, 500 steps, 25 learning rates 1e-5..10 "
          f"(os.cpu_count() = {os.cpu_count()}, load {os.getloadavg()[0]:.1f})")
    rows = [
        ("8 arena optimizers × 25 lrs × 500 steps (target < 2 s)", lambda: tune(s, arena, s.start, 500)),
        ("  the same, noise σ = 1 averaged over 3 seeds", lambda: tune(s, arena, s.start, 500, noise=1.0, seeds=3)),
        ("  the same, + β1 of Adam/AdamW/AMSGrad on 3 values",
         lambda: tune(s, arena, s.start, 500, second={k: ("beta1", [0.5, 0.9, 0.99]) for k in
                                                      ("adam", "amsgrad", "adamw")})),
        (f"{len(NEWER)} newer optimizers × 25 lrs × 500 steps",
         lambda: tune(s, [(k, {}) for k in NEWER], s.start, 500)),
    ]
    print(f"  {'case':62s} {'median':>8s} {'best':>8s}")
    for label, fn in rows:
        med, best = timed(fn, args.repeats)
        print(f"  {label:62s} {med:7.3f}s {best:7.3f}s")
    grid = lr_grid()

    def one_run_per_lr():
        for kind in ARENA:
            for lr in grid:
                run(s, (kind, {"lr": float(lr)}), s.start, 500)
    med, best = timed(one_run_per_lr, max(1, args.repeats // 2))
    print(f"  {'reference: 200 separate trajectory.run calls (same work)':62s} {med:7.3f}s {best:7.3f}s")
    res = tune(s, arena, s.start, 500)
    print("best learning rates:", ", ".join(f"{c.kind} {c.best_lr:.3g} (f−f* {c.best_loss:.2g})" for c in res.curves))


if __name__ == "__main__":
    main()
