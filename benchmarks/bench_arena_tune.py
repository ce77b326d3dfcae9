"""A fair race in the arena, timed as a person meets it: Tune pressed → the editors hold the best learning rates
and the lr-sensitivity plot is drawn, for the default 8 optimizers × 25 learning rates × 500 steps on
Rosenbrock (target: under 2 s), side by side with the core's own tune() for the same work; and how late the
window's event loop runs meanwhile (the search runs in the race child, so the window keeps answering).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_arena_tune.py [--repeats 5]

Figures are medians over repeats (best beside them: on a shared machine the median grows with the load).
Event-loop lateness: a 5 ms timer's overshoot during each tune, the worst and the 99th percentile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # runnable from a checkout without installing
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ADAMLAB_SETTINGS", "/tmp/adamlab-bench-settings.ini")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from adamlab.core.surfaces import SURFACES  # noqa: E402
from adamlab.core.tune import tune  # noqa: E402
from adamlab.ui import theme  # noqa: E402
from adamlab.ui.panels.surface import SurfacePanel  # noqa: E402
from adamlab.ui.panels.surface.race import lr_grid  # noqa: E402

CLASSIC = ["SGD", "SGD + momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "AMSGrad", "AdamW"]


def wait(app, cond, timeout=60.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        app.processEvents()
        time.sleep(0.001)
        if time.monotonic() > end:
            raise TimeoutError("the panel did not settle")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per figure (default 5)")
    args = ap.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    theme.apply_theme("light")
    p = SurfacePanel()
    p.resize(1100, 740)
    p.show()
    wait(app, p.is_idle)
    for name in CLASSIC:
        p.racers.set_enabled(name, True)
    wait(app, p.is_idle)
    wait(app, lambda: p._race._remote_ready())  # the child is up (its start is not part of a tune)
    specs = [(o["kind"], o["hyper"]) for o in p.scene()["optimizers"] if o["enabled"]]
    s = SURFACES["rosenbrock"]
    print(f"8 optimizers × 25 lrs × 500 steps on Rosenbrock (os.cpu_count() = {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.1f})")

    core = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        tune(s, specs, s.start, 500, lrs=lr_grid(1e-5, 10.0, 25))
        core.append(time.perf_counter() - t0)

    gui, late = [], []
    timer = QTimer()
    timer.setInterval(5)
    last = [0.0]

    def tick():
        now = time.perf_counter()
        if last[0]:
            late.append((now - last[0]) * 1e3 - 5.0)
        last[0] = now

    timer.timeout.connect(tick)
    for _ in range(args.repeats):
        p.tune_report = None
        last[0] = 0.0
        timer.start()
        t0 = time.perf_counter()
        p.start_tune()
        wait(app, lambda: p.tune_report is not None)  # editors set, plot drawn (apply_tune ran)
        gui.append(time.perf_counter() - t0)
        timer.stop()
        wait(app, p.is_idle)  # the tuned race, before the next round
    p.close()
    app.processEvents()
    late.sort()
    print(f"  {'case':58s} {'median':>8s} {'best':>8s}")
    print(f"  {'core tune() in this process':58s} {statistics.median(core):7.3f}s {min(core):7.3f}s")
    print(f"  {'panel: Tune pressed → editors set, sensitivity drawn':58s} {statistics.median(gui):7.3f}s "
          f"{min(gui):7.3f}s   (target < 2 s)")
    print(f"  event loop during the tunes: worst {late[-1]:.0f} ms late, p99 "
          f"{late[int(0.99 * (len(late) - 1))]:.0f} ms, {len(late)} ticks")


if __name__ == "__main__":
    main()
