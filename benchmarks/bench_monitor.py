"""GPT monitor responsiveness: GUI event-loop latency while microgpt trains, and throughput vs headless.

    python benchmarks/bench_monitor.py [--steps 3000] [--repeats 3] [--seconds 8] [--thread] [--runs 1]

Headless: ``adamlab train`` (the CLI, in a subprocess) with microgpt's defaults, its own "N steps/s" figure;
and, interleaved with the window runs (the machine is shared, so load drifts), the same Trainer config
stepped in a plain loop without Qt — the ratio window/headless is taken against those neighbours.
Window: the monitor panel shown (offscreen), training the same model in its child process (``--thread``:
on a worker thread in this process, the old way, via ADAMLAB_PROCESSES=0), while a 5 ms QTimer probe records
how late the GUI event loop runs it (latency = actual − expected interval). The window throughput is the
step count carried by the run's snapshots, between the first and the last snapshot of the timed interval
(after the child has started and a 1 s warm-up). Also printed: the GUI process's CPU use (this process,
all threads) and the load average. ``--runs 3`` starts "compare optimizers" (three runs) and reports the
selected run's throughput and the sum.
Prints the median over the repeats (the machine may be shared: figures are noisy).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def headless(steps: int) -> float:
    """steps/s reported by `adamlab train` (batch 1, microgpt, float64, linear schedule, val every 100)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "adamlab", "train", "--steps", str(steps), "--quiet",
                          "--samples", "0"], capture_output=True, text=True, env=env, check=True).stdout
    m = re.search(r"\(([\d.,]+) steps/s\)", out)
    if not m:
        raise RuntimeError(f"could not read the steps/s figure from:\n{out}")
    return float(m.group(1).replace(",", ""))


def headless_inprocess(seconds: float) -> float:
    """steps/s of the same Trainer config stepped in a plain loop on this thread (no Qt at all)."""
    from adamlab.core import train

    tr = train.Trainer(train.TrainConfig(steps=1_000_000, batch_size=1, seed=0, val_every=100))
    for _ in range(50):  # warm-up
        tr.step()
    n0, t0 = tr.step_count, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        tr.step()
    return (tr.step_count - n0) / (time.perf_counter() - t0)


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def windowed(app, seconds: float, runs: int = 1) -> tuple[float, float, float, float, float]:
    """(p99 latency ms, median latency ms, steps/s of the selected run, steps/s of all runs, GUI process CPU
    %) with the monitor open and training."""
    from PySide6.QtCore import QEventLoop, QTimer

    from adamlab.ui.panels.monitor.panel import MonitorPanel

    panel = MonitorPanel()
    panel.resize(1110, 770)
    panel.show()
    s = panel.setup
    s.batch.setValue(1)  # the CLI's defaults: microgpt, batch 1, float64, validation every 100 steps
    s.val_every.setValue(100)
    s.seed.setValue(0)
    s.steps.setValue(1_000_000)
    started = panel.compare_optimizers() if runs == 3 else [panel.start_run()]
    run = panel.active_run()
    interval = 0.005
    lat: list[float] = []
    last = [time.perf_counter()]
    marks: dict[int, list[tuple[float, int]]] = {r.id: [] for r in started}  # (arrival time, step) per run
    timing = [False]

    def probe():
        now = time.perf_counter()
        lat.append(max(0.0, now - last[0] - interval))
        last[0] = now
        if timing[0]:
            for r in started:
                m = marks[r.id]
                if r.snap is not None and (not m or m[-1][1] != r.snap.step):
                    m.append((now, r.snap.step))

    timer = QTimer()
    timer.setInterval(int(interval * 1000))
    timer.timeout.connect(probe)
    # a real event loop (app.exec), as when a person uses the window: Qt sleeps without the GIL between events
    loop = QEventLoop()  # not app.exec/app.quit: Qt 6's quit() would close the panel's window
    deadline = time.perf_counter() + 30
    while any(r.snap is None for r in started) and time.perf_counter() < deadline:  # the children start
        QTimer.singleShot(50, loop.quit)
        loop.exec()
    QTimer.singleShot(1000, loop.quit)  # warm-up
    loop.exec()
    timing[0] = True
    timer.start()
    last[0] = time.perf_counter()
    cpu0, t0 = time.process_time(), time.perf_counter()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    cpu1, t1 = time.process_time(), time.perf_counter()
    timer.stop()
    panel.close()
    app.processEvents()
    lat_ms = sorted(x * 1000 for x in lat)
    p99 = lat_ms[int(0.99 * (len(lat_ms) - 1))]

    def rate(r) -> float:
        m = marks[r.id]
        return (m[-1][1] - m[0][1]) / (m[-1][0] - m[0][0]) if len(m) >= 2 and m[-1][0] > m[0][0] else 0.0

    total = sum(rate(r) for r in started)
    return p99, statistics.median(lat_ms), rate(run), total, 100 * (cpu1 - cpu0) / (t1 - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000, help="steps of each headless run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0, help="timed seconds of each window run")
    ap.add_argument("--thread", action="store_true", help="train on a worker thread in the GUI process "
                    "(ADAMLAB_PROCESSES=0), the way it was before child processes")
    ap.add_argument("--runs", type=int, choices=(1, 3), default=1, help="3: compare optimizers")
    args = ap.parse_args()
    if args.thread:
        os.environ["ADAMLAB_PROCESSES"] = "0"
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    mode = "worker thread (ADAMLAB_PROCESSES=0)" if args.thread else "child process"
    print(f"training in: {mode}; runs: {args.runs}; {load()}", flush=True)
    cli = headless(args.steps)
    print(f"headless `adamlab train --steps {args.steps}`: {cli:.0f} steps/s (its own figure)", flush=True)
    heads, p99s, meds, rates, ratios, cpus, totals = [], [], [], [], [], [], []
    before = headless_inprocess(args.seconds / 2)
    for i in range(args.repeats):
        p99, med, rate, total, cpu = windowed(app, args.seconds, args.runs)
        after = headless_inprocess(args.seconds / 2)
        # the machine is shared: compare each window run with the headless runs just before and after it
        ref = (before + after) / 2
        heads.append(ref)
        p99s.append(p99)
        meds.append(med)
        rates.append(rate)
        ratios.append(rate / ref)
        cpus.append(cpu)
        totals.append(total)
        extra = f", all {args.runs} runs {total:.0f} steps/s" if args.runs > 1 else ""
        print(f"repeat {i + 1}: headless {before:.0f}/{after:.0f} steps/s | window {rate:.0f} steps/s "
              f"({100 * rate / ref:.0f}%){extra}, GUI latency p99 {p99:.1f} ms (median {med:.2f} ms), "
              f"GUI process CPU {cpu:.0f}% | {load()}", flush=True)
        before = after
    print(f"GUI event-loop latency while training, p99: {statistics.median(p99s):.1f} ms (target < 50 ms)")
    print(f"throughput: window {statistics.median(rates):.0f} steps/s vs headless {statistics.median(heads):.0f} "
          f"steps/s (same Trainer stepped without Qt, interleaved); window/headless = "
          f"{100 * statistics.median(ratios):.0f}% (target >= 80%)  [medians of {args.repeats}; shared machine]")
    if args.runs > 1:
        print(f"all {args.runs} runs together: {statistics.median(totals):.0f} steps/s")
    print(f"GUI process CPU (all its threads): {statistics.median(cpus):.0f}% of a core; {load()}")

if __name__ == "__main__":
    main()
