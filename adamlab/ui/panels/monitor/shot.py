"""Screenshot of the GPT monitor mid-training (``adamlab --screenshot`` shows a panel as it opens).

    python -m adamlab.ui.panels.monitor.shot resources/screenshots/monitor.png [--steps 600] [--compare]
        [--folder RUN_FOLDER [--filter TEXT] [--sort u_desc]] [--tab tensors|heatmaps|adam|landscape|samples]
        [--tensor NAME] [--theme light|dark] [--size 1280x800]

Opens the real main window offscreen, starts a run (or "compare optimizers", or follows a run folder written by
``adamlab.watch``), waits until the selected run has taken ``--steps`` steps (a folder: until it has been read
to its end or to that step), pauses every run so the picture is still, and saves a PNG.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

TABS = {"tensors": 0, "heatmaps": 1, "adam": 2, "landscape": 3, "samples": 4}  # the panel's tab order


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--total", type=int, default=2000, help="the run's total steps (the schedule spans these)")
    ap.add_argument("--compare", action="store_true", help="start SGD, Adam and AdamW together")
    ap.add_argument("--kinds", default="", help="with --compare: the optimizers, comma-separated (e.g. lion,muon_adamw)")
    ap.add_argument("--folder", help="follow this run folder (written by adamlab.watch) instead of training")
    ap.add_argument("--filter", default="", help="the tensor filter's text")
    ap.add_argument("--sort", default="model", help="the tensor order (model, u_desc, u_asc, g_desc, w_desc, name)")
    ap.add_argument("--tensor", help="the Adam tab's tensor")
    ap.add_argument("--tab", choices=list(TABS), default="tensors")
    ap.add_argument("--theme", choices=["light", "dark"], default="light")
    ap.add_argument("--size", default="1280x800")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from adamlab.ui.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(panel="monitor", theme_name=args.theme, restore=False)
    w, h = (int(v) for v in args.size.lower().split("x"))
    window.resize(w, h)
    window.show()
    panel = window.panel("monitor")
    panel.tabs.setCurrentIndex(TABS[args.tab])
    panel.setup.steps.setValue(args.total)
    panel.tensor_filter.setText(args.filter)
    panel.tensor_sort.setCurrentIndex(max(panel.tensor_sort.findData(args.sort), 0))
    if args.folder:
        runs = [panel.open_run_folder(args.folder)]
    else:
        if args.kinds:
            panel.set_compare_kinds(args.kinds.split(","))
        runs = panel.compare_optimizers() if args.compare else [panel.start_run()]
    if not runs or runs[0] is None:
        print("could not start a run", file=sys.stderr)
        return 1
    active = panel.active_run()
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and (active.snap is None or active.snap.step < args.steps) and active.live:
        app.processEvents()
        time.sleep(0.01)
    for run in panel.runs:
        if run.live:
            run.handle.worker.pause()
    settle = time.monotonic() + 1.0
    while time.monotonic() < settle:
        app.processEvents()
        time.sleep(0.01)
    if args.tab == "adam":
        if args.tensor:
            panel.adam.tensor.setCurrentText(args.tensor)
        panel._request_adam(force=True)
        for _ in range(100):
            app.processEvents()
            time.sleep(0.01)
    panel._inspected = None  # draw the paused state, labels included
    panel._redraw()
    app.processEvents()
    from adamlab.core.files import write_bytes
    from adamlab.ui.widgets.plots import image_bytes

    path = Path(args.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = image_bytes(window.grab().toImage())
    window.close()
    app.processEvents()
    write_bytes(path, data, "screenshot")
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
