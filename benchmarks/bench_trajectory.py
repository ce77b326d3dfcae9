"""How fast the loss-surface arena can recompute its paths while the user drags the start point.

    python benchmarks/bench_trajectory.py [--repeats 21]

Prints the median (and min) wall time of
  * the default scene: SGD, SGD+momentum, RMSprop, Adam, AdamW, 500 steps each on Rosenbrock (one run_many),
    against the 33 ms budget of a 30 fps drag (aim: 16 ms);
  * 256 starts of Adam × 500 steps in one vectorised run, against 100 ms;
and, to show where the time goes, the cost per step of each piece: the surface gradient and one step of
each optimizer on a (2,) array.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))  # run from anywhere without installing

import numpy as np  # noqa: E402

from adamlab.core.optim import make_optimizer  # noqa: E402
from adamlab.core.surfaces import SURFACES  # noqa: E402
from adamlab.core.trajectory import run, run_many  # noqa: E402

# the arena's default race (surface.presets.DEFAULT_OPTIMIZERS, enabled ones): the lrs hardly change the cost
SCENE = [("sgd", {"lr": 1e-3}), ("momentum", {"lr": 1e-3}), ("rmsprop", {"lr": 1e-2}),
         ("adam", {"lr": 0.2}), ("adamw", {"lr": 0.2, "weight_decay": 0.005})]
STEPS = 500


def timings(fn, repeats):
    fn()  # warm up (imports, first allocations)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def report(label, times, budget_ms, aim_ms=None):
    med, best = 1e3 * statistics.median(times), 1e3 * min(times)
    verdict = "OK" if med <= budget_ms else "OVER BUDGET"
    aim = f", aim {aim_ms:g} ms" if aim_ms else ""
    print(f"{label:<44} median {med:7.2f} ms   min {best:7.2f} ms   (budget {budget_ms:g} ms{aim}) {verdict}")


def per_call_us(stmt, namespace, number=5000):
    return 1e6 * min(timeit.repeat(stmt, globals=namespace, number=number, repeat=7)) / number


def breakdown():
    s = SURFACES["rosenbrock"]
    P = np.random.default_rng(0).uniform(-1, 1, (len(SCENE), 2))
    print("\nper-step costs (min of 7 × 5000 calls, µs):")
    print(f"  {'rosenbrock df on 5 points':<30} {per_call_us('df(X, Y)', dict(df=s.df, X=P[:, 0], Y=P[:, 1])):6.2f}")
    total = 0.0
    for kind, hyper in SCENE:
        opt = make_optimizer(kind, **hyper)
        p, g = np.full(2, 0.5), np.full(2, 1e-3)
        opt.step(p, g)
        us = per_call_us("opt.step(p, g)", dict(opt=opt, p=p, g=g))
        total += us
        print(f"  {kind + ' step (2,)':<30} {us:6.2f}")
    print(f"  {'sum of the 5 optimizer steps':<30} {total:6.2f}  -> {total * STEPS / 1e3:.1f} ms per 500 steps")
    opt = make_optimizer("adam")
    print(f"  {'opt.lr = x (schedules)':<30} {per_call_us('opt.lr = 0.01', dict(opt=opt)):6.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=21)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the start")
    print(f"numpy {np.__version__}, python {platform.python_version()}, os.cpu_count() = {os.cpu_count()}, "
          f"{args.repeats} repeats (a shared machine makes these noisy: compare medians)")

    s = SURFACES["rosenbrock"]
    report("default scene (5 optimizers x 500 steps)",
           timings(lambda: run_many(s, SCENE, s.start, STEPS), args.repeats), 33, 16)
    report("default scene + noise 1.0",
           timings(lambda: run_many(s, SCENE, s.start, STEPS, noise=1.0), args.repeats), 33, 16)
    report("default scene + cosine schedule",
           timings(lambda: run_many(s, SCENE, s.start, STEPS, schedule="cosine"), args.repeats), 33, 16)
    report("default scene, record=True (arrows)",
           timings(lambda: run_many(s, SCENE, s.start, STEPS, record=True), args.repeats), 33, 16)
    starts = np.random.default_rng(0).uniform((-2, -1), (2, 3), (256, 2))
    report("256 starts x 500 steps (Adam)",
           timings(lambda: run(s, ("adam", {"lr": 0.05}), starts, STEPS), args.repeats), 100)
    report("256 starts x 500 steps (SGD)",
           timings(lambda: run(s, ("sgd", {"lr": 1e-3}), starts, STEPS), args.repeats), 100)
    breakdown()


if __name__ == "__main__":
    main()
