"""What an EMA of a long sequence costs: the playground redraws the EMA of up to 10,000 points on every
slider move, so it should take well under 2 ms (a 60 Hz frame is 16 ms).

    python benchmarks/bench_ema.py [--repeats 7]

Each figure is the median over repeats of the mean time per call in a timed batch (after a warm-up), in
milliseconds, with the best batch beside it: on a shared or busy machine the median grows with the load,
while the best batch is close to the uncontended cost.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable from a checkout without installing

from adamlab.core import ema as E  # noqa: E402
from bench_optim import per_step_us  # noqa: E402  (the benchmarks' one timer; this folder is on sys.path)



def per_call_ms(fn, n: int, repeats: int) -> tuple[float, float]:
    """(median, best) mean ms per call: bench_optim's timer, scaled."""
    med, best = per_step_us(fn, n, repeats)
    return med / 1e3, best / 1e3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="timed batches per figure (default 7)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"EMA cost, median of {args.repeats} repeats (os.cpu_count() = {os.cpu_count()}, numpy {np.__version__})")
    print(f"  {'case':46s} {'median':>9s} {'best':>9s}")
    for n_points in (1_000, 10_000, 100_000):
        x = rng.standard_normal(n_points)
        for beta, debias in ((0.9, False), (0.999, True)):
            label = f"{n_points:,} points, beta {beta}" + (", debiased" if debias else "")
            med, best = per_call_ms(lambda: E.ema(x, beta, debias=debias), 200 if n_points <= 10_000 else 20,
                                    args.repeats)
            flag = "   (target: < 2 ms)" if n_points == 10_000 else ""
            print(f"  {label:46s} {med:6.3f} ms {best:6.3f} ms{flag}")
    x = rng.standard_normal(2_000)
    med, best = per_call_ms(lambda: E.adam_moments(x, 0.9, 0.999), 100, args.repeats)
    print(f"  {'Adam moment traces, 2,000 steps':46s} {med:6.3f} ms {best:6.3f} ms")


if __name__ == "__main__":
    main()
