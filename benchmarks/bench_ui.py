"""How long one β slider change takes to redraw the EMA playground, for 1,000 and 10,000 steps.

    python benchmarks/bench_ui.py [--repeats 15]

For each length: move the β1 slider by one tick, then measure
  * gui:     time the GUI thread spends inside the slider change (the submit; the target is "no heavy work"),
  * compute: the worker's job alone (signal + core.ema.adam_moments + bias corrections), run directly,
  * data:    from the slider change until every curve holds the new data (worker + setData),
  * painted: the same plus a synchronous repaint of the plots.
Prints the median (and min) of ``--repeats`` changes. Target: data under 16 ms for 1,000 steps.
Runs offscreen (no display needed); numbers on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtWidgets import QApplication  # noqa: E402


def wait_until(app, predicate, timeout=10.0):
    deadline = time.perf_counter() + timeout
    while not predicate():
        app.processEvents()
        if time.perf_counter() > deadline:
            raise TimeoutError("the playground did not redraw in time")
        time.sleep(0.0001)


def bench_length(app, panel, n: int, repeats: int) -> dict[str, list[float]]:
    from adamlab.ui.panels.ema.panel import compute_playground

    panel.kind.setCurrentIndex(panel.kind.findData("noisy"))
    panel.length.setValue(n)
    wait_until(app, panel.is_idle)
    out = {"gui": [], "compute": [], "data": [], "painted": []}
    base = panel.beta1.slider.value()
    for i in range(repeats):
        tick = base + (1 if i % 2 == 0 else 0)  # alternate between two neighbouring ticks: always a change
        t0 = time.perf_counter()
        panel.beta1.slider.setValue(tick)
        t1 = time.perf_counter()
        wait_until(app, panel.is_idle)
        t2 = time.perf_counter()
        panel.view.viewport().repaint()
        t3 = time.perf_counter()
        assert panel._result.request.beta1 == panel.beta1.value() and len(panel._result.g) == n
        for _ in range(3):  # flush paints still queued, so the next change doesn't pay for this one's
            app.processEvents()
        c0 = time.perf_counter()
        compute_playground(panel.request())
        c1 = time.perf_counter()
        out["gui"].append(t1 - t0)
        out["data"].append(t2 - t0)
        out["painted"].append(t3 - t0)
        out["compute"].append(c1 - c0)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    from adamlab.ui import theme
    from adamlab.ui.panels.ema.panel import EmaPanel

    theme.apply_theme("light")
    panel = EmaPanel()
    panel.resize(1100, 760)
    panel.show()
    wait_until(app, panel.is_idle)
    print(f"EMA playground redraw per β1 slider change, median (min) of {args.repeats}; "
          f"os.cpu_count() = {os.cpu_count()}")
    print(f"{'steps':>7} {'gui ms':>14} {'compute ms':>14} {'data ms':>14} {'painted ms':>14}")
    try:
        for n in (1_000, 10_000):
            r = bench_length(app, panel, n, args.repeats)
            cells = [f"{statistics.median(v) * 1e3:7.2f} ({min(v) * 1e3:5.2f})" for v in
                     (r["gui"], r["compute"], r["data"], r["painted"])]
            print(f"{n:>7} " + " ".join(f"{c:>14}" for c in cells))
    finally:
        panel.shutdown()
        panel.close()
    print("target: data < 16 ms for 1,000 steps (one frame at 60 Hz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
