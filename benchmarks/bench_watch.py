"""What does watching cost? A PyTorch GPT trained unwatched, with adamlab.watch every=10 and every=1, side by
side in turns; and how fast a big run folder opens.

    python benchmarks/bench_watch.py                 # both parts (needs torch for the first)
    python benchmarks/bench_watch.py --reader-only   # only the run-folder part (NumPy only)

Training: examples/watch_gpt.py's GPT at n_embd 128, 4 layers, 4 heads, batch 32 × 64 tokens, AdamW, on the
CPU. Each round times a window of --window optimizer steps (forward, backward, step, log(loss)) of each of
the three set-ups, in a rotating order; a window of 100 steps holds 10 (every=10) or 100 (every=1) logging
steps and one histogram step (the default hist_every is 100 for both), so the figures include everything
the watcher does. Reported per watched set-up, as medians over rounds and against the unwatched window of
the same round: the time spent inside the watcher's hooks and log() (a stopwatch around them: the steadiest
figure on a shared machine), and the wall-clock and CPU-time differences of the whole windows (targets:
every=10 ≤ 5 %, every=1 ≤ 30 %).

Reader: a synthetic run of --reader-steps logged steps × 100 tensors (two scalars a step, histograms of 64
bins every 100 steps, samples every 1,000), written by the real RunWriter, then opened (median of 5, warm
page cache; as the first open of a fresh Python, and again in one process) and polled.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adamlab.runs import Watcher, open_run  # noqa: E402
from adamlab.runs.writer import RunWriter, make_meta  # noqa: E402

TARGETS = {"every=10": 5.0, "every=1": 30.0}


def load_example():
    """examples/watch_gpt.py as a module, by its path in this checkout."""
    spec = importlib.util.spec_from_file_location("watch_gpt", REPO / "examples" / "watch_gpt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------------------------------------
# training overhead


class TimedWatcher(Watcher):
    """The real watcher, with a stopwatch around its hooks and log(): its own share of each step, measured
    directly (steadier than the difference of two noisy step times)."""

    spent = 0.0
    longest = 0.0  # the most one hook call took: a histogram step's post-hook

    def _timed(self, method, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            dt = time.perf_counter() - t0
            self.spent += dt
            self.longest = max(self.longest, dt)

    def _pre_step(self, *args):
        return self._timed(super()._pre_step, *args)

    def _post_step(self, *args):
        return self._timed(super()._post_step, *args)

    def log(self, *args, **kwargs):
        return self._timed(super().log, *args, **kwargs)


class Setup:
    """One model + AdamW (+ a watcher) that trains window after window on the same stream of batches."""

    def __init__(self, name, model, every, folder, torch, example):
        self.name, self.torch = name, torch
        self.model = model
        self.opt = example.make_optimizer(model, "adamw", 1e-3, 0.1, (0.9, 0.95))
        self.watcher = None
        if every is not None:  # what adamlab.watch(model, opt, folder, every=every) returns, timed
            self.watcher = TimedWatcher(model, self.opt, folder / name, every, hist_every=None, bins=64,
                                        snr_range=(-2.0, 2.0), log_lr_range=(-10.0, 6.0), start_step=0,
                                        resume=False, config=None)
        self.gen = torch.Generator().manual_seed(0)
        self.step = 0
        self.times, self.cpu, self.hooks = [], [], []

    def train(self, steps):
        """Wall seconds per step over ``steps`` steps (CPU seconds and hook seconds are kept aside)."""
        torch = self.torch
        spent0 = self.watcher.spent if self.watcher else 0.0
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(steps):
            x = torch.randint(27, (32, 65), generator=self.gen)
            _, loss = self.model(x[:, :-1], x[:, 1:])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            if self.watcher is not None:
                self.watcher.log(self.step, loss=loss.item())
            else:
                loss.item()  # the same host sync as the watched runs' log(loss=...)
            self.step += 1
        self.cpu.append((time.process_time() - c0) / steps)
        self.hooks.append(((self.watcher.spent if self.watcher else 0.0) - spent0) / steps)
        return (time.perf_counter() - t0) / steps


def bench_training(args):
    import torch

    torch.set_num_threads(args.threads)
    example = load_example()
    torch.manual_seed(0)
    base = example.GPT(27, block_size=64, n_layer=4, n_head=4, n_embd=128)
    n_params = sum(p.numel() for p in base.parameters())
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        setups = [Setup(name, copy.deepcopy(base), every, Path(tmp), torch, example)
                  for name, every in (("unwatched", None), ("every=10", 10), ("every=1", 1))]
        print(f"PyTorch {torch.__version__} GPT: {n_params:,} parameters in "
              f"{len(setups[1].watcher.names)} tensors, batch 32 × 64, AdamW, {torch.get_num_threads()} thread(s), "
              f"{os.cpu_count()} cores; {args.rounds} rounds × {args.window} steps per set-up, in turns")
        for s in setups:  # warm up: allocator, first Adam state, the first (histogram) step of the watchers
            s.train(5)
        for s in setups:
            s.times, s.cpu, s.hooks = [], [], []
        for r in range(args.rounds):
            order = setups[r % 3:] + setups[:r % 3]
            times = {s.name: s.train(args.window) for s in order}
            print(f"  round {r + 1}: " + ", ".join(f"{n} {t * 1000:.1f} ms/step" for n, t in times.items()),
                  flush=True)
            for s in setups:
                s.times.append(times[s.name])
        for s in setups:
            if s.watcher is not None:
                s.watcher.close()
        base = setups[0]
        print(f"unwatched  {statistics.median(base.times) * 1000:7.1f} ms/step wall, "
              f"{statistics.median(base.cpu) * 1000:.1f} ms CPU (medians of {args.rounds} rounds)")
        for s in setups[1:]:
            wall = [(a / b - 1) * 100 for a, b in zip(s.times, base.times)]  # paired: the same round
            cpu = [(a / b - 1) * 100 for a, b in zip(s.cpu, base.cpu)]
            own = [h / b * 100 for h, b in zip(s.hooks, base.times)]
            verdict = "ok" if statistics.median(own) <= TARGETS[s.name] else "OVER TARGET"
            print(f"{s.name:<10} {statistics.median(s.times) * 1000:7.1f} ms/step wall; overhead: in the watcher's "
                  f"hooks and log() {statistics.median(s.hooks) * 1000:.2f} ms/step = {statistics.median(own):.1f} % "
                  f"(rounds {_spread(own)}), wall {statistics.median(wall):+.1f} % ({_spread(wall)}), "
                  f"CPU {statistics.median(cpu):+.1f} % ({_spread(cpu)}); target ≤ {TARGETS[s.name]:.0f} %: "
                  f"{verdict}")
        print(f"one histogram step ({len(setups[1].watcher.names)} tensors × 2 histograms) spends at most "
              f"{max(s.watcher.longest for s in setups[1:]) * 1000:.0f} ms in the post-step hook")


def _spread(values):
    return " … ".join(f"{v:+.1f}" for v in (min(values), max(values)))


# ----------------------------------------------------------------------------------------------------------
# opening a big run


def write_synthetic(folder: Path, steps: int, tensors: int, bins: int = 64, hist_every: int = 100):
    rng = np.random.default_rng(0)
    shapes = [(768, 768) if i % 4 else (768,) for i in range(tensors)]
    meta = make_meta([{"name": f"h.{i // 4}.t{i % 4}.weight", "shape": s, "group": 0} for i, s in enumerate(shapes)],
                     [{"lr": 1e-3}], every=1, hist_every=hist_every, bins=bins, adam="adam", note="synthetic")
    w = RunWriter(folder, meta)
    row = np.zeros(1, w.layout.stats)
    hrow = np.zeros(1, w.layout.hist)
    hrow[0]["present"] = 1
    hrow[0]["snr"] = rng.integers(0, 1000, (tensors, bins + 2))
    hrow[0]["log_lr"] = rng.integers(0, 1000, (tensors, bins + 2))
    g, u = rng.random((2, tensors)).astype(np.float32)
    for step in range(steps):
        row[0]["step"], row[0]["time"], row[0]["lr"] = step, 1.7e9 + step, 1e-3
        row[0]["g"], row[0]["w"], row[0]["u"] = g * (1 + step % 7), 1.0, u
        w.stats(row)
        w.scalars(step, {"loss": 3.0 - step * 1e-5, "lr": 1e-3})
        if step % hist_every == 0:
            hrow[0]["step"] = step
            w.hist(hrow)
        if step % 1000 == 0:
            w.samples(step, ["emma", "olivia", "ava"])
    return w


def _open_in_fresh_python(folder, steps) -> tuple[float, float]:
    """(wall, CPU) seconds of open_run in a new interpreter (as an app opening a run once: all its memory is
    new). CPU time leaves out the waits for a core that other processes on a shared machine cause."""
    code = ("import sys, time; from adamlab.runs import open_run; t0, c0 = time.perf_counter(), time.process_time(); "
            "run = open_run(sys.argv[1]); dt, dc = time.perf_counter() - t0, time.process_time() - c0; "
            "assert len(run.steps) == int(sys.argv[2]); print(dt, dc)")
    out = subprocess.run([sys.executable, "-c", code, str(folder), str(steps)], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def bench_reader(args):
    with tempfile.TemporaryDirectory(prefix="bench-reader-") as tmp:
        folder = Path(tmp) / "run"
        t0 = time.perf_counter()
        w = write_synthetic(folder, args.reader_steps, 100)
        written = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"synthetic run: {args.reader_steps:,} steps × 100 tensors, {size / 2**20:.0f} MB "
              f"(written in {written:.1f} s by RunWriter)")
        fresh, fresh_cpu = zip(*(_open_in_fresh_python(folder, args.reader_steps) for _ in range(5)))
        again = []
        for _ in range(5):
            t0 = time.perf_counter()
            run = open_run(folder)
            again.append(time.perf_counter() - t0)
            assert len(run.steps) == args.reader_steps and run.u.shape == (args.reader_steps, 100)
            run.close()
        print(f"open_run: median {statistics.median(fresh) * 1000:.0f} ms as the first open in a fresh Python "
              f"({', '.join(f'{t * 1000:.0f}' for t in fresh)} ms; CPU time "
              f"{statistics.median(fresh_cpu) * 1000:.0f} ms), {statistics.median(again) * 1000:.0f} ms "
              f"opened again in one process ({', '.join(f'{t * 1000:.0f}' for t in again)}); target < 1000 ms "
              f"(warm page cache)")
        run = open_run(folder)
        t0 = time.perf_counter()
        for _ in range(100):
            run.poll()
        idle = (time.perf_counter() - t0) / 100
        row = np.zeros(1, w.layout.stats)
        row[0]["step"] = args.reader_steps
        w.stats(row)
        w.scalars(args.reader_steps, {"loss": 1.0, "lr": 1e-3})
        t0 = time.perf_counter()
        update = run.poll()
        one = time.perf_counter() - t0
        assert update.stats == slice(args.reader_steps, args.reader_steps + 1)
        t0 = time.perf_counter()
        steps, series = run.histogram_series(5, "snr")
        hist = time.perf_counter() - t0
        print(f"poll(): {idle * 1e6:.0f} µs with nothing new, {one * 1e6:.0f} µs for one new step; "
              f"one tensor's {len(steps):,} histograms over time: {hist * 1000:.0f} ms")
        run.close()
        w.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--window", type=int, default=100, help="optimizer steps per timed window")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared 2-core VM)")
    p.add_argument("--reader-steps", type=int, default=100_000)
    p.add_argument("--reader-only", action="store_true")
    p.add_argument("--training-only", action="store_true")
    args = p.parse_args()
    if not args.reader_only:
        bench_training(args)
    if not args.training_only:
        bench_reader(args)


if __name__ == "__main__":
    main()
