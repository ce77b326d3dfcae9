"""Responsiveness of the loss-surface arena during a scripted drag of the start handle.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_surface.py [--seconds 5] [--runs 3]

What it measures, on the default scene (5 optimizers × 500 steps on Rosenbrock):
* drag frame rate: new races drawn per second while the handle moves at 120 Hz (latest-wins: the worker
  computes only the newest position, so this is bounded by one race's compute time);
* GUI-thread busy time: a 1 ms probe timer records the gaps between its ticks; a gap of g ms means the GUI
  thread was busy ~g ms (the event-loop latency); reported as p50 / p99 / max;
* the GUI-thread cost of drawing one result (``_on_result``), and the worker's compute time of one race;
* the surface image + contours (computed off the GUI thread, once per surface / zoom change).
The machine may be shared: figures are the median of --runs runs.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def run_once(seconds: float) -> dict:
    from adamlab.core.surfaces import SURFACES
    from adamlab.ui.panels.surface import SurfacePanel
    from adamlab.ui.panels.surface_run import run_scene

    panel = SurfacePanel()
    panel.resize(1100, 740)
    panel.show()
    loop = QEventLoop()

    def wait_idle(limit=20.0):
        t0 = time.perf_counter()
        while not panel.is_idle() and time.perf_counter() - t0 < limit:
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)

    wait_idle()
    # worker compute time of one race, measured directly (same function the worker runs)
    scene = panel.scene(record=False)
    compute = []
    for _ in range(5):
        t0 = time.perf_counter()
        run_scene(scene)
        compute.append((time.perf_counter() - t0) * 1e3)

    # the probe: a 1 ms precise timer; gaps between ticks = how long the GUI thread was busy
    gaps, last = [], [time.perf_counter()]
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(1)

    def tick():
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1e3)
        last[0] = now

    probe.timeout.connect(tick)

    # the scripted drag: the handle moves along an ellipse at 120 Hz, as a mouse drag would move it
    s = SURFACES["rosenbrock"]
    moves = [0]
    frames0 = panel.frames_drawn
    panel.draw_ms.clear()
    computed0 = panel._traj.worker.computed
    t_start = time.perf_counter()
    mover = QTimer()
    mover.setTimerType(Qt.TimerType.PreciseTimer)
    mover.setInterval(8)

    def move():
        a = 2 * math.pi * (time.perf_counter() - t_start) / 3.0
        panel.handle.setPos((-0.6 + 0.9 * math.cos(a), 1.2 + 0.9 * math.sin(a)))
        moves[0] += 1

    mover.timeout.connect(move)
    stop = QTimer()
    stop.setSingleShot(True)
    stop.timeout.connect(loop.quit)
    probe.start()
    mover.start()
    stop.start(int(seconds * 1000))
    loop.exec()
    elapsed = time.perf_counter() - t_start
    mover.stop()
    probe.stop()
    frames = panel.frames_drawn - frames0
    computed = panel._traj.worker.computed - computed0
    wait_idle()
    # the surface image (worker side), for the record
    from adamlab.ui.panels.surface_image import surface_image

    t0 = time.perf_counter()
    surface_image(s)
    image_ms = (time.perf_counter() - t0) * 1e3
    panel.close()
    g = np.array(gaps[5:])
    draw_ms = panel.draw_ms
    return {
        "moves/s": moves[0] / elapsed,
        "frames/s": frames / elapsed,
        "computed/s": computed / elapsed,
        "compute ms": statistics.median(compute),
        "draw ms p50": float(np.median(draw_ms)) if draw_ms else math.nan,
        "draw ms max": float(np.max(draw_ms)) if draw_ms else math.nan,
        "gap ms p50": float(np.percentile(g, 50)),
        "gap ms p99": float(np.percentile(g, 99)),
        "gap ms max": float(g.max()),
        "image ms": image_ms,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])  # noqa: F841
    results = [run_once(args.seconds) for _ in range(args.runs)]
    print(f"loss-surface arena, default scene (5 optimizers × 500 steps), {args.seconds:g} s scripted drag, "
          f"median of {args.runs} runs (shared 2-core machine: noisy)")
    for key in results[0]:
        vals = [r[key] for r in results]
        print(f"  {key:12s} {statistics.median(vals):8.1f}   (runs: {', '.join(f'{v:.1f}' for v in vals)})")
    from adamlab.ui import workers

    workers.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
