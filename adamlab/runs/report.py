"""``adamlab report RUN [--step N]``: a run folder in the terminal — what was watched, the per-tensor table in
the seeds' style (``name  g=3.1e-05  w=1.0e+00  u=1.6e-06``) at the latest logged step (or the last one at or
before N), the latest scalars and the latest samples. Exit status 2 and one line for a bad folder or argument.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from adamlab.runs.format import RunFormatError
from adamlab.runs.reader import RunReader

MAX_SAMPLE_LINES = 20


def build_parser():
    from adamlab.cli import _nonneg_int, _Parser

    p = _Parser(prog="adamlab report", description="Print a watched PyTorch run (a folder written by "
                "adamlab.watch): per-tensor g = RMS(grad), w = RMS(θ), u = RMS(Δθ)/RMS(θ), the latest scalars "
                "and samples.")
    p.add_argument("run", metavar="RUN", help="the run folder (or a file in it)")
    p.add_argument("--step", type=_nonneg_int, help="show the last logged step at or before N (default: the latest)")
    return p


def main(argv, out=None, err=None) -> int:
    from adamlab.cli import _UsageError

    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        with RunReader(args.run) as run:
            report(run, args.step, out)
        return 0
    except _UsageError as e:
        print(f"adamlab report: error: {e} (see adamlab report --help)", file=err)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except (RunFormatError, ValueError) as e:
        print(f"adamlab report: error: {e}", file=err)
    except OSError as e:
        print(f"adamlab report: error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""), file=err)
    return 2


def report(run: RunReader, step: int | None, out) -> None:
    print(describe(run), file=out)
    steps = run.steps
    if not len(steps):
        print("no steps logged yet", file=out)
        return
    row = len(steps) - 1 if step is None else int(np.searchsorted(steps, step, side="right")) - 1
    if row < 0:
        raise ValueError(f"no step at or before {step} was logged (the first is {steps[0]})")
    at = int(steps[row])
    print(f"step {at:,} ({len(steps):,} logged: {steps[0]:,} … {steps[-1]:,}); {_lrs(run.lr[row])}", file=out)
    for line in table(run, row):
        print(line, file=out)
    upto = math.inf if step is None else step  # scalars and samples: the latest (at or before --step)
    latest = _latest_scalars(run, upto)
    if latest:
        print("scalars: " + " · ".join(f"{name} {value:.6g} (step {s:,})" for name, s, value in latest), file=out)
    sample = next((s for s in reversed(run.samples) if s.step <= upto), None)
    if sample is not None:
        print(f"samples at step {sample.step:,}:", file=out)
        for text in sample.texts[:MAX_SAMPLE_LINES]:
            print(f"  {text}", file=out)
        if len(sample.texts) > MAX_SAMPLE_LINES:
            print(f"  … and {len(sample.texts) - MAX_SAMPLE_LINES} more", file=out)


def describe(run: RunReader) -> str:
    m = run.meta
    model, opt = m.get("model", {}), m.get("optimizer", {})
    hyper = ", ".join(f"{k}={_short(v)}" for k, v in run.groups[0].items()
                      if k in ("lr", "betas", "eps", "weight_decay", "momentum", "amsgrad"))
    groups = f" ({len(run.groups)} param groups)" if len(run.groups) > 1 else ""
    dist = m.get("distributed", {}).get("world_size", 1)
    where = f"; {dist} processes (rank 0 wrote)" if dist and dist > 1 else ""
    hist = f", histograms every {run.hist_every}" if run.adam and run.hist_every else ""
    state = "closed" if run.closed else "open (still being written, or stopped without close())"
    return (f"run {run.folder}: {model.get('class') or 'model'} ({int(run.numel.sum()):,} parameters in "
            f"{len(run.tensors)} tensors watched), {opt.get('class', '?')} {hyper}{groups}\n"
            f"every {run.every} steps{hist}{where}; {state}\n{run.note}")


def table(run: RunReader, row: int) -> list[str]:
    width = max(len(n) for n in run.tensors)
    lines = []
    for i, name in enumerate(run.tensors):
        if run.skipped[row, i]:
            lines.append(f"{name:<{width}}  (no grad at this step)")
            continue
        line = f"{name:<{width}}  g={run.g[row, i]:.1e}  w={run.w[row, i]:.1e}  u={run.u[row, i]:.1e}"
        lines.append(line + ("  ← non-finite" if run.nonfinite[row, i] else ""))
    return lines


def _latest_scalars(run: RunReader, at: float) -> list[tuple[str, int, float]]:
    out = []
    for name in run.scalar_names:
        steps, values = run.scalar(name)
        k = np.flatnonzero(steps <= at)
        if k.size:
            out.append((name, int(steps[k[-1]]), float(values[k[-1]])))
    return out


def _lrs(lr: np.ndarray) -> str:
    if len(lr) == 1 or np.all(lr == lr[0]):
        return f"lr {lr[0]:.2e}"
    return "lr " + ", ".join(f"{x:.2e} (group {g})" for g, x in enumerate(lr))


def _short(v):
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:g}"
    if isinstance(v, list):
        return "(" + ", ".join(str(_short(x)) for x in v) + ")"
    return v
