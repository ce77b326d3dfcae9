"""Responsiveness of the loss-surface arena during a scripted drag of the start handle.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_surface.py [--seconds 5] [--runs 3] [--thread] [--mouse]
                                                                 [--presentation]
    DISPLAY=:N QT_QPA_PLATFORM=xcb python benchmarks/bench_surface.py --view both   # the 3-D view (needs GL)

What it measures, on the default scene (5 optimizers × 500 steps on Rosenbrock), while the handle moves
along an ellipse at up to 120 Hz, as a mouse drag would move it (``--mouse``: by real mouse press / move /
release events on the map, through pyqtgraph's drag and hover machinery; default: ``handle.setPos``):
* drawn frames/s: new races drawn per second (latest-wins: only the newest position is computed, so this is
  bounded by one race's compute time plus the round trip);
* event-loop latency: a 1 ms precise QTimer records how late each tick is (the gap between ticks minus
  1 ms); a gap of g ms means the GUI thread was busy ~g ms in one go. Reported as p50 / p99 / max;
* the GUI thread's CPU time between two ticks (``time.thread_time``), p99 / max: the longest stretch it
  actually computed in one go. Wall-clock lateness above it is time the OS ran something else (the race
  child, other processes) while the GUI thread waited for a core;
* GUI-thread busy time per drawn frame: the sum of all lateness during the drag divided by the frames drawn
  (everything the GUI thread did: handle moves, result handling, painting), and the time of the slice that
  draws a result's paths (``SurfacePanel._present``; the loss curves and the table are later slices);
* after release: the longest lateness from the end of the drag until the panel is idle (the settled race
  with its arrows, effective-lr view, loss range and table is drawn then);
* the race compute time (``run_scene`` of the same scene, in this process) and the surface image's.
``--thread`` computes the races in the worker thread instead of the child process (the old way), to compare.
``--view 3d|both`` shows the 3-D relief (needs an OpenGL context: a desktop, or Xvfb with QT_QPA_PLATFORM=xcb)
and adds its figures: relief frames/s (bounded by view3d.MAX_FPS), the GUI thread's time per relief frame to
update the GL items' data, and the time Qt spends in paintGL (software GL paints on the GUI thread too).
``--view 2d-after-3d`` shows the relief once, then goes back to the map: what the map costs after a GL widget
has been in the window.
The machine may be shared: figures are the median of --runs runs; the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def run_once(seconds: float, use_process: bool, mouse: bool = False, view: str = "2d") -> dict:
    from adamlab.core.surfaces import SURFACES
    from adamlab.ui.panels.surface import panel as surface_panel
    from adamlab.ui.panels.surface.image import surface_image
    from adamlab.ui.panels.surface.race import run_scene

    surface_panel.USE_PROCESS = use_process
    panel = surface_panel.SurfacePanel()
    panel.resize(1096, 740)  # its room in a 1280×800 window
    panel.show()
    loop = QEventLoop()

    def wait_idle(limit=20.0):
        t0 = time.perf_counter()
        while not panel.is_idle() and time.perf_counter() - t0 < limit:
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)

    wait_idle()
    paint_ms: list[float] = []
    if view != "2d":
        panel.view3d.set_mode("2d" if view == "2d-after-3d" else view)
        if view == "2d-after-3d":
            panel.view3d.set_mode("both")
            wait_idle()
            panel.view3d.set_mode("2d")
        elif panel.view3d.mode() != view:
            raise SystemExit(f"--view {view}: {panel.view3d.reason}")
        wait_idle()
        gl_view = panel.view3d.pane.gl
        if gl_view is not None and view != "2d-after-3d":
            base_paint = gl_view.paintGL

            def timed_paint():
                t0 = time.perf_counter()
                base_paint()
                paint_ms.append((time.perf_counter() - t0) * 1e3)

            gl_view.paintGL = timed_paint
    # as adamlab.app.main does once the window is built: what exists now lives as long as the window, so it
    # leaves the garbage collector's generations (a full collection over it takes ~25 ms)
    gc.collect()
    gc.freeze()
    if use_process:  # let the child finish importing, as it has long before a person starts dragging
        t0 = time.perf_counter()
        while not panel._race._remote_ready() and time.perf_counter() - t0 < 10:
            time.sleep(0.01)
    scene = panel.scene(record=False)
    compute = []
    for _ in range(7):
        t0 = time.perf_counter()
        run_scene(scene)
        compute.append((time.perf_counter() - t0) * 1e3)

    gaps, last = [], [time.perf_counter()]
    cpu_gaps, last_cpu = [], [time.thread_time()]  # the GUI thread's own CPU time between ticks
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(1)

    def tick():
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1e3)
        last[0] = now
        cpu = time.thread_time()
        cpu_gaps.append((cpu - last_cpu[0]) * 1e3)
        last_cpu[0] = cpu

    probe.timeout.connect(tick)
    moves = [0]
    frames0, computed0, relief0 = panel.frames_drawn, panel._traj.worker.computed, panel.view3d.frames
    panel.view3d.draw_ms.clear()
    remote0 = panel._race.remote_count
    panel.draw_ms.clear()
    t_start = time.perf_counter()
    mover = QTimer()
    mover.setTimerType(Qt.TimerType.PreciseTimer)
    mover.setInterval(8)
    vp = panel.map.widget.viewport()

    def to_viewport(x, y) -> QPointF:
        return QPointF(panel.map.widget.mapFromScene(panel.map.plot.vb.mapViewToScene(QPointF(x, y))))

    def send(kind, pos: QPointF, buttons) -> None:
        ev = QMouseEvent(kind, pos, QPointF(vp.mapToGlobal(pos.toPoint())), Qt.MouseButton.LeftButton, buttons,
                         Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)

    if mouse:  # press on the handle, as a person grabs it
        send(QEvent.Type.MouseButtonPress, to_viewport(*panel.controls.start), Qt.MouseButton.LeftButton)

    def move():
        a = 2 * math.pi * (time.perf_counter() - t_start) / 3.0
        x, y = -0.6 + 0.9 * math.cos(a), 1.2 + 0.9 * math.sin(a)
        if mouse:
            send(QEvent.Type.MouseMove, to_viewport(x, y), Qt.MouseButton.LeftButton)
        else:
            panel.map.handle.setPos((x, y))
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
    frames = panel.frames_drawn - frames0
    relief_frames = panel.view3d.frames - relief0
    relief_ms, gl_ms = list(panel.view3d.draw_ms), list(paint_ms)
    computed = panel._traj.worker.computed - computed0
    remote = panel._race.remote_count - remote0
    draw_ms = list(panel.draw_ms)
    n_drag = len(gaps)
    if mouse:
        send(QEvent.Type.MouseButtonRelease, to_viewport(*panel.controls.start), Qt.MouseButton.NoButton)
    wait_idle()  # the probe keeps ticking: the settled race is drawn now
    probe.stop()
    if not panel._result.record:
        raise RuntimeError("the race did not settle after the drag")
    after = np.maximum(np.array(gaps[n_drag:]) - 1.0, 0.0)
    t0 = time.perf_counter()
    surface_image(SURFACES["rosenbrock"])
    image_ms = (time.perf_counter() - t0) * 1e3
    panel.close()
    gc.unfreeze()  # the next run builds its own panel
    late = np.maximum(np.array(gaps[5:n_drag]) - 1.0, 0.0)  # ms the GUI thread was busy before each tick
    # the same gaps in the GUI thread's CPU time: what it computed itself, without the time the OS gave the
    # cores to other processes (the race child, anything else on the machine) while the thread was runnable
    cpu_late = np.array(cpu_gaps[5:n_drag])
    shown = {} if view in ("2d", "2d-after-3d") else {
        "3-D frames/s": relief_frames / elapsed,
        "3-D data ms p50": float(np.median(relief_ms)) if relief_ms else math.nan,
        "3-D data ms max": float(np.max(relief_ms)) if relief_ms else math.nan,
        "3-D paintGL ms p50": float(np.median(gl_ms)) if gl_ms else math.nan,
        "3-D paintGL ms max": float(np.max(gl_ms)) if gl_ms else math.nan,
    }
    return {
        "moves/s": moves[0] / elapsed,
        "drawn frames/s": frames / elapsed,
        "races computed/s": computed / elapsed,
        "  of them in child": remote / elapsed,
        "loop latency p50 ms": float(np.percentile(late, 50)),
        "loop latency p99 ms": float(np.percentile(late, 99)),
        "loop latency max ms": float(late.max()),
        "GUI CPU stretch p99 ms": float(np.percentile(cpu_late, 99)),
        "GUI CPU stretch max ms": float(cpu_late.max()),
        "GUI busy ms/frame": float(late.sum()) / max(frames, 1),
        "GUI busy % of time": 100 * float(late.sum()) / (elapsed * 1e3),
        "after release max ms": float(after.max()) if after.size else math.nan,
        "path slice ms p50": float(np.median(draw_ms)) if draw_ms else math.nan,
        "path slice ms max": float(np.max(draw_ms)) if draw_ms else math.nan,
        "race compute ms": statistics.median(compute),
        "race compute ms min": min(compute),
        "image ms": image_ms,
        **shown,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--thread", action="store_true", help="compute races in the worker thread (no child process)")
    ap.add_argument("--mouse", action="store_true", help="drag with mouse events on the map instead of setPos")
    ap.add_argument("--view", choices=["2d", "3d", "both", "2d-after-3d"], default="2d",
                    help="what the centre shows during the drag (3d/both need OpenGL: see the docstring)")
    ap.add_argument("--presentation", action="store_true",
                    help="in presentation mode (thicker lines, bigger markers and text: what a projector shows)")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])  # noqa: F841
    if args.presentation:
        from adamlab.ui import theme

        theme.apply_theme("light", presentation=True)
    load0 = os.getloadavg()
    results = [run_once(args.seconds, not args.thread, args.mouse, args.view) for _ in range(args.runs)]
    load1 = os.getloadavg()
    where = "worker thread" if args.thread else "child process"
    how = "mouse events" if args.mouse else "handle.setPos"
    print(f"loss-surface arena, default scene (5 optimizers × 500 steps), races in the {where}, "
          f"{args.seconds:g} s scripted drag ({how}), view {args.view} on Qt platform "
          f"{QApplication.platformName()}{', presentation mode' if args.presentation else ''}, median of "
          f"{args.runs} runs")
    print(f"load average before {load0[0]:.2f} / after {load1[0]:.2f} (1 min) on {os.cpu_count()} cores "
          f"(shared machine: noisy)")
    for key in results[0]:
        vals = [r[key] for r in results]
        print(f"  {key:22s} {statistics.median(vals):8.1f}   (runs: {', '.join(f'{v:.1f}' for v in vals)})")
    from adamlab.ui import workers

    workers.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
