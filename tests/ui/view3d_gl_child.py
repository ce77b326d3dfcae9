"""The arena's 3-D view under a real OpenGL context: run by tests/ui/test_view3d_gl.py in a child Python.

Why a child: the test process renders with Qt's offscreen platform, chosen before Qt starts and fixed for the
process's life; a GL context needs a display (Xvfb, with Mesa's software renderer) and the xcb platform.
The parent starts Xvfb and runs ``python tests/ui/view3d_gl_child.py`` with DISPLAY and QT_QPA_PLATFORM=xcb
set; this script drives the panel as a person would and prints one JSON object on its last line. It measures
and reports; the parent asserts (against the core's numbers, computed there independently).

Reported arrays are plain lists. At each checkpoint (the settled race, step 100, a moved start, noise, after a
drag, another surface) ``items_data()`` reports what the GL items hold — the solid paths' segment ends
(2k, 3), the current points, θ₀'s marker — with the race they were drawn from (the core's float64 paths)
and the relief's height map. Besides: framebuffer statistics (all items, no relief, nothing), the current
points projected with the view's own matrices and the pixels there, the drag's frame and paint counts,
the theme switch's background, the camera before and after Reset, Qt's warnings.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
from PySide6.QtCore import QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

WARNINGS: list[str] = []


def on_message(kind, context, message) -> None:
    if kind != QtMsgType.QtDebugMsg and "propagateSizeHints" not in message:
        WARNINGS.append(message)


def main() -> None:
    qInstallMessageHandler(on_message)
    app = QApplication(sys.argv[:1])
    from adamlab.ui import theme
    from adamlab.ui.panels.surface import panel as surface_panel
    from adamlab.ui.panels.surface.view3d import MAX_FPS, unavailable_reason

    out: dict = {"reason": unavailable_reason(), "max_fps": MAX_FPS}
    theme.apply_theme("light")
    p = surface_panel.SurfacePanel()
    p.resize(1096, 740)
    p.show()
    v = p.view3d

    def spin(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    def wait(cond, limit: float = 30.0) -> bool:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            app.processEvents()
            if cond():
                return True
            time.sleep(0.005)
        return False

    def idle() -> bool:
        return wait(lambda: p.is_idle() and v.is_idle() and not p._playing)

    def frame() -> np.ndarray:
        """The scene rendered now by the view's own renderToArray (into an offscreen framebuffer, at the view's
        size): (h, w, 3) uint8 RGB. (Text labels are painted with QPainter onto the window, not into it.)"""
        gl = v.pane.gl
        bgra = gl.renderToArray((gl.deviceWidth(), gl.deviceHeight()))
        gl.doneCurrent()
        return np.ascontiguousarray(bgra[..., 2::-1])
    def items_data() -> dict:
        """What the GL items hold, the race they show (the core's paths, float64) and the relief's map."""
        it, r = v.pane.items, v._relief
        return {"paths": it["paths"].pos.tolist(), "heads": it["heads"].pos.tolist(),
                "start_mark": it["marks"].pos.tolist(), "t": p._t,
                "race": {run.name: run.path.tolist() for run in p._result.runs},
                "relief": {"centre": list(r.centre), "half": r.half, "log": r.log, "f_lo": r.f_lo,
                           "delta": r.delta, "c_lo": r.c_lo, "c_hi": r.c_hi, "surface": v._surface.name}}

    def heads_on_screen(img: np.ndarray) -> dict:
        """Each current point projected with the view's own matrices, and the framebuffer's pixel there."""
        gl = v.pane.gl
        vp = (0, 0, gl.width(), gl.height())
        mvp = np.array((gl.projectionMatrix(vp, vp) * gl.viewMatrix()).data()).reshape(4, 4).T
        dpr = gl.devicePixelRatioF()
        px, pix = [], []
        for pos in v.pane.items["heads"].pos:
            c = mvp @ np.append(pos, 1.0)
            x, y = (c[0] / c[3] + 1) / 2 * gl.width() * dpr, (1 - c[1] / c[3]) / 2 * gl.height() * dpr
            px.append([x, y])
            i, j = int(y), int(x)  # the pixel containing the point
            pix.append(img[i, j].tolist() if 0 <= i < img.shape[0] and 0 <= j < img.shape[1] else None)
        cols = np.round(np.asarray(v.pane.items["heads"].color)[:, :3] * 255).astype(int).tolist()
        return {"px": px, "pixels": pix, "colours": cols}

    if out["reason"] is not None:
        print(json.dumps(out))
        return
    idle()
    p.show_step(p.controls.steps())
    v.mode_actions["both"].trigger()  # View ▾ → 2-D map and 3-D relief, as a person picks it
    out["mode"] = v.mode()
    ok = idle()
    from OpenGL import GL

    v.pane.gl.makeCurrent()
    out["gl_renderer"] = GL.glGetString(GL.GL_RENDERER).decode()
    v.pane.gl.doneCurrent()
    out["idle_after_both"] = ok
    out["mesh_vertices"] = v.pane.items["mesh"].opts["meshdata"].vertexes().tolist()
    out["colours"] = {r.name: p._tracks[r.uid].color for r in p._result.runs}
    out["start"] = list(p.controls.start)
    out["steps"] = p.controls.steps()
    out.update(items_data())

    # what the framebuffer shows: everything; the paths and marks without the relief; nothing but the background
    full = frame()
    it = v.pane.items
    for key in ("mesh", "contours"):
        it[key].setVisible(False)
    no_relief = frame()
    for item in [*it.values(), *v.pane.labels]:
        item.setVisible(False)
    empty = frame()
    for item in [*it.values(), *v.pane.labels]:
        item.setVisible(True)
    out["frame_shape"] = list(full.shape)
    out["background"] = empty[0, 0].tolist()
    out["empty_distinct"] = int(len(np.unique(empty.reshape(-1, 3), axis=0)))
    out["full_distinct"] = int(len(np.unique(full.reshape(-1, 3), axis=0)))
    out["relief_pixels"] = float(np.mean(np.any(full != no_relief, axis=2)))
    out["non_background"] = float(np.mean(np.any(full != empty[0, 0], axis=2)))
    out["heads_on_screen"] = heads_on_screen(full)
    # pixels of each racer's exact colour (lines are drawn unlit, without antialiasing)
    out["colour_pixels"] = {name: int(np.sum(np.all(np.abs(full.astype(int) - _rgb(c)) <= 2, axis=2)))
                            for name, c in out["colours"].items()}

    # the animation's step t
    p.show_step(100)
    idle()
    out["step100"] = {**items_data(), "heads_on_screen": heads_on_screen(frame())}

    # a new start point, as a drag of the handle ends
    before = frame()
    p.map.handle.setPos((-1.6, 2.2))
    p._on_handle_released()
    wait(lambda: tuple(p.controls.start) == (-1.6, 2.2))
    ok = wait(lambda: p.is_idle() and v.is_idle() and p._result is not None and p._result.record)
    p.show_step(p.controls.steps())
    idle()
    out["moved"] = {"ok": ok, "start": list(p.controls.start), **items_data(),
                    "changed_pixels": changed(before, frame())}

    # gradient noise
    p.controls.noise_slider.setValue(3.0)
    wait(lambda: p._result is not None and p._result.record and p.is_idle() and v.is_idle())
    p.show_step(p.controls.steps())
    idle()
    out["noisy"] = items_data()

    # a change while the arena is hidden (another panel on screen) is drawn when it comes back
    p.hide()
    f0 = v.frames
    p.set_start(-0.5, 2.5)
    wait(lambda: p.is_idle() and p._result is not None and p._result.record and p._result.runs[0].path[0][0] == -0.5)
    spin(0.1)
    frames_hidden = v.frames - f0
    p.show()
    idle()
    out["while_hidden"] = {"frames_hidden": frames_hidden, "start": list(p.controls.start), **items_data()}

    # a drag: the handle moves at 120 Hz for 1.5 s; the relief must follow, at most MAX_FPS times a second
    gl = v.pane.gl
    f0, p0, t0 = v.frames, gl.paints, time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < 1.5:
        k += 1
        a = 2 * np.pi * k / 120
        p.map.handle.setPos((-1.0 + 0.6 * np.cos(a), 1.5 + 0.6 * np.sin(a)))
        spin(1 / 120)
    dt = time.perf_counter() - t0
    p._on_handle_released()
    final = tuple(p.controls.start)
    wait(lambda: p.is_idle() and v.is_idle() and p._result is not None and p._result.record)
    p.show_step(p.controls.steps())
    idle()
    out["drag"] = {"seconds": dt, "frames": v.frames - f0, "paints": gl.paints - p0, "moves": k,
                   "start": list(final), **items_data(),
                   "draw_ms_max": max(v.draw_ms[-200:])}

    # theme switch
    theme.apply_theme("dark")
    idle()
    spin(0.1)
    dark = frame()
    out["dark_background"] = dark[0, 0].tolist()
    out["dark_changed"] = changed(full, dark)
    theme.apply_theme("light")
    idle()

    # another surface
    i = p.controls.surface_combo.findData("himmelblau")
    p.controls.surface_combo.setCurrentIndex(i)
    wait(lambda: v._surface is not None and v._surface.name == "himmelblau" and v.is_idle() and p.is_idle()
         and p._result.surface == "himmelblau")
    p.show_step(p.controls.steps())
    idle()
    out["himmelblau"] = items_data()

    # the mouse turns the relief (drag) and zooms (wheel), as pyqtgraph's GLViewWidget does; Reset camera
    # brings the default view back
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtTest import QTest

    before = v.pane.camera()
    centre = QPoint(gl.width() // 2, gl.height() // 2)
    QTest.mousePress(gl, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    for dx in range(10, 90, 10):
        QTest.mouseMove(gl, centre + QPoint(dx, dx // 4))
    QTest.mouseRelease(gl, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre + QPoint(80, 20))
    turned = v.pane.camera()
    wheel = QWheelEvent(QPointF(centre), QPointF(gl.mapToGlobal(centre)), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(gl, wheel)
    zoomed = v.pane.camera()
    touched = v.pane.touched
    gl.resize(gl.width(), gl.height() - 20)  # a touched camera is not refitted when the view resizes …
    app.processEvents()
    kept = v.pane.camera()["distance"] == zoomed["distance"]
    v.pane.reset_button.click()
    out["camera"] = {"before": before, "turned": turned, "zoomed": zoomed, "touched": touched, "kept": kept,
                     "reset": v.pane.camera(), "aspect": gl.width() / gl.height(), "box": v.pane.box}

    # 3-D only: the map is hidden, the relief still follows
    v.set_mode("3d")
    idle()
    out["mode3d"] = {"map_visible": p.map.widget.isVisible(), "pane_visible": v.pane.isVisible(),
                     "pane_size": [v.pane.width(), v.pane.height()]}
    # back to the map only: the relief stops drawing
    v.set_mode("2d")
    f0 = v.frames
    p.set_start(0.5, -0.5)
    wait(lambda: p.is_idle() and p._result is not None and p._result.record)
    spin(0.2)
    out["hidden_frames"] = v.frames - f0
    out["state"] = p.get_state()["view3d"]
    out["qt_warnings"] = WARNINGS
    p.shutdown()
    p.close()
    app.processEvents()
    print(json.dumps(out))


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of pixels that differ between two frames, over their common top-left part (the view may
    have changed height by a line of the readout under it in between)."""
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return float(np.mean(np.any(a[:h, :w] != b[:h, :w], axis=2)))


def _rgb(color: str) -> np.ndarray:
    c = color.lstrip("#")
    return np.array([int(c[i: i + 2], 16) for i in (0, 2, 4)])


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    main()
