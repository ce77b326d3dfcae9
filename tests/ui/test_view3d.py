"""The arena's 3-D view where it cannot render, and its geometry (``relief``), checked by hand.

Rendering for real is tests/ui/test_view3d_gl.py (under Xvfb). Here: the heights are the 2-D map's colour
scale (log for valley-shaped surfaces), a path point at a mesh vertex has that vertex's height, a path stops
where it runs off the mesh, the fitted camera shows the whole relief, and where there is no GL context or no
PyOpenGL the 3-D choices are disabled with the reason while the map works on — without PyOpenGL ever being
imported by a panel that never showed the relief.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from adamlab.core.surfaces import SURFACES, grid, ill_conditioned
from adamlab.ui.panels.surface import view3d
from adamlab.ui.panels.surface.image import colour_values
from adamlab.ui.panels.surface.race import f_star
from adamlab.ui.panels.surface.relief import FLOOR_DEPTH, HEIGHT, MESH_N, fit_distance, make_relief, path_rows
from tests.ui.test_surface_panel import panel  # noqa: F401 (the arena, shown and idle: a fixture)

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------------------------------------
# the relief's geometry (Qt-free)


@pytest.mark.parametrize("name", ["rosenbrock", "himmelblau", "quadratic", "rastrigin", "saddle", "large_scale"])
def test_mesh_heights_are_the_maps_colour_values_scaled(name):
    s = SURFACES[name]
    relief, mesh = make_relief(s, f_star(s))
    assert relief.log == s.log_scale  # log heights exactly where the map's colours are log-scaled
    xs, ys, F = grid(s, MESH_N, MESH_N)  # F[iy, ix]
    # the map's colour values of the same grid (image.colour_values: lo = the grid's minimum)
    C_map, _ = colour_values(F, s.log_scale)
    assert relief.f_lo == pytest.approx(F.min())  # these domains' grids contain their minima (or have none)
    # the height, by the formula: c = log10(f − f_lo + δ) or f; z = (c − c_lo)/(c_hi − c_lo)·HEIGHT, clipped
    c = np.log10(F - F.min() + relief.delta) if s.log_scale else F
    np.testing.assert_allclose(c, C_map, rtol=2e-6, atol=2e-6)
    z = np.clip((c - relief.c_lo) / (relief.c_hi - relief.c_lo), 0, 1) * HEIGHT
    np.testing.assert_allclose(mesh.Z, z.T, atol=1e-12)  # pyqtgraph's layout: Z[ix, iy]
    np.testing.assert_allclose(mesh.X, (xs - relief.centre[0]) / relief.half)
    np.testing.assert_allclose(mesh.Y, (ys - relief.centre[1]) / relief.half)
    # the top is the 99th percentile: about 1 % of the vertices sit on the clipped top
    assert 0.002 <= np.mean(mesh.Z >= HEIGHT - 1e-12) <= 0.02
    # the floor: the lowest value, but no deeper than FLOOR_DEPTH of the relief below the 1st percentile
    c1, c99 = np.percentile(c, [1, 99])
    assert relief.c_hi == pytest.approx(c99) and relief.c_p1 == pytest.approx(c1)
    assert relief.c_lo == pytest.approx(max(c.min(), c1 - FLOOR_DEPTH * (c99 - c1)))
    # the longer side of the domain spans [−1, 1]
    (x0, x1), (y0, y1) = s.domain
    assert max(mesh.X[-1] - mesh.X[0], mesh.Y[-1] - mesh.Y[0]) == pytest.approx(2.0)
    # level lines lie at their level's height (between floor and top)
    assert len(mesh.contours) and np.all((mesh.contours[:, 2] >= 0) & (mesh.contours[:, 2] <= HEIGHT))


def test_a_path_point_at_a_vertex_has_that_vertexs_height():
    s = ill_conditioned(50.0, 20.0)
    relief, mesh = make_relief(s, f_star(s))
    xs, ys, _ = grid(s, MESH_N, MESH_N)
    ix, iy = np.array([0, 7, 60, 119, 120]), np.array([3, 50, 60, 90, 120])
    pts = relief.points(s, np.column_stack([xs[ix], ys[iy]]))
    np.testing.assert_allclose(pts[:, 2], mesh.Z[ix, iy], atol=1e-12)
    np.testing.assert_allclose(pts[:, 0], mesh.X[ix], atol=1e-12)
    np.testing.assert_allclose(pts[:, 1], mesh.Y[iy], atol=1e-12)
    # below the grid's lowest value (the exact minimum between vertices) the height stays on the floor
    assert relief.points(s, [[0.0, 0.0]])[0, 2] == 0.0
    # an overflowing f is drawn on the clipped top, not lost
    assert relief.height(np.inf) == HEIGHT and relief.height(np.nan) == HEIGHT


def test_path_rows_stop_at_step_t_and_off_the_mesh():
    s = SURFACES["quadratic"]  # domain [−2, 2]²
    relief, _ = make_relief(s, 0.0)
    path = np.array([[0, 0], [1, 1], [1.9, 0], [2.5, 0], [3.0, 0], [np.nan, np.nan]], dtype=float)
    assert path_rows(relief, path, t=1, shown=6) == 2  # rows 0…t
    assert path_rows(relief, path, t=5, shown=6) == 4  # up to the first row off the mesh, included
    assert path_rows(relief, path, t=5, shown=2) == 2  # never more than the map draws
    assert path_rows(relief, path[[0, 1, 5]], t=5, shown=3) == 2  # a NaN row (diverged) is not drawn
    assert path_rows(relief, path, t=-1, shown=6) == 0


@pytest.mark.parametrize("elev, azim, fov, aspect", [(32, -62, 40, 1.5), (32, -62, 40, 0.6), (89.9, 0, 60, 1.0),
                                                     (10, 135, 25, 2.5)])
def test_fit_distance_shows_the_whole_box_and_no_more(elev, azim, fov, aspect):
    """Project the box's corners with a pinhole camera built here: all inside the view, one on its edge."""
    box, zr, centre = ((-1.0, 1.0), (-0.5, 0.5)), (-0.02, HEIGHT), np.array([0.1, 0.0, 0.3])
    d = fit_distance(box, zr, centre, elev, azim, fov, aspect, margin=1.0)
    e, a = math.radians(elev), math.radians(azim)
    cam = centre + d * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
    fwd = (centre - cam) / np.linalg.norm(centre - cam)
    right = np.cross(fwd, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    corners = np.array([(x, y, z) for x in box[0] for y in box[1] for z in zr]) - cam
    depth = corners @ fwd
    u = np.abs(corners @ right) / depth / math.tan(math.radians(fov) / 2)  # 1 at the left/right edge
    v = np.abs(corners @ up) / depth / (math.tan(math.radians(fov) / 2) / aspect)  # 1 at the top/bottom edge
    assert np.all(depth > 0)
    assert np.max(np.maximum(u, v)) == pytest.approx(1.0, abs=1e-9)


def test_saved_camera_entries_are_checked():
    good = {"elevation": 20, "azimuth": -30.5, "distance": 3, "fov": 45}
    assert view3d.valid_camera(good) == {k: float(v) for k, v in good.items()}
    bad = {"elevation": 200, "azimuth": float("nan"), "distance": "3", "fov": True, "extra": 1}
    assert view3d.valid_camera(bad) == {}
    assert view3d.valid_camera(None) == {} and view3d.valid_camera([1, 2]) == {}


# ----------------------------------------------------------------------------------------------------------
# where the 3-D view cannot run


@pytest.fixture
def fresh_probe():
    view3d.reset_probe()
    yield
    view3d.reset_probe()


@pytest.fixture
def no_pyopengl(monkeypatch, fresh_probe):
    """As if PyOpenGL were not installed (requested before ``panel``, which probes when it is built)."""
    real = view3d.importlib.util.find_spec
    monkeypatch.setattr(view3d.importlib.util, "find_spec", lambda name, *a: None if name == "OpenGL" else real(name, *a))


@pytest.fixture
def turned_off(monkeypatch, fresh_probe):
    monkeypatch.setenv("ADAMLAB_3D", "0")


def assert_3d_disabled(p, reason: str) -> None:
    v = p.view3d
    assert v.reason == reason
    for key in ("3d", "both"):
        act = v.mode_actions[key]
        assert not act.isEnabled() and act.toolTip() == reason and act.statusTip() == reason
    assert v.mode_actions["2d"].isEnabled() and v.mode_actions["2d"].isChecked()
    assert v.reason_action.isVisible() and v.reason_action.text() == reason and not v.reason_action.isEnabled()
    assert reason in v.button.toolTip()
    assert not v.reset_action.isEnabled()
    v.set_mode("3d")  # as the saved settings of a machine with GL would ask
    assert v.mode() == "2d" and v.mode_actions["2d"].isChecked()
    assert p.map.widget.isVisible() and not v.pane.isVisible()
    assert v.pane.gl is None


def test_without_pyopengl_the_3d_choices_say_how_to_get_it(no_pyopengl, panel, qtbot):
    p = panel
    assert_3d_disabled(p, "3-D view unavailable: install PyOpenGL: pip install PyOpenGL")
    # the 2-D arena works on: a new start is raced and drawn on the map
    p.set_start(-1.0, 2.0)
    qtbot.waitUntil(lambda: p.is_idle() and p._result.runs[0].path[0].tolist() == [-1.0, 2.0], timeout=10000)
    p.show_step(5)
    track = next(iter(p._tracks.values()))
    assert track.path.xData[0] == -1.0 and len(track.path.xData) == 6
    assert p.get_state()["view3d"] == {"mode": "2d"}


def test_adamlab_3d_0_turns_it_off(turned_off, panel):
    p = panel
    assert_3d_disabled(p, "3-D view unavailable: turned off (ADAMLAB_3D=0)")
    p.set_state({**p.get_state(), "view3d": {"mode": "both", "camera": {"elevation": "x"}}})
    assert p.view3d.mode() == "2d"
    p.set_state({**p.get_state(), "view3d": ["junk"]})  # ignored
    p.set_state({**p.get_state(), "view3d": {"mode": "sideways"}})
    assert p.view3d.mode() == "2d"
    with pytest.raises(ValueError, match="view mode must be one of"):
        p.view3d.set_mode("sideways")


@pytest.mark.parametrize("size", [(1096, 740), (840, 640)])  # the panel's room in a 1280×800 / 1024×700 window
def test_the_view_switch_widens_nothing(panel, size):
    """View ▾ sits beside the readout under the map: the panel still fits its room and nothing is squeezed."""
    panel.resize(*size)
    QApplication.processEvents()
    assert panel.width() == size[0] and panel.minimumSizeHint().width() <= 840
    b = panel.view3d.button
    assert b.isVisible() and b.width() >= b.sizeHint().width()
    assert b.geometry().right() <= b.parentWidget().width()
    for w in (panel.play_button, panel.step_button, panel.reset_button, panel.instant_check, panel.step_label):
        assert w.width() >= w.sizeHint().width()


def run_child(code: str, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "ADAMLAB_3D")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO), ADAMLAB_PROCESSES="0", **extra)
    return env


def test_offscreen_without_a_display_has_no_gl_context_and_says_so():
    """Qt's offscreen platform with no display: no OpenGL context can be made (checked in a child, since this
    process may have a DISPLAY through which offscreen Qt finds GLX); the 3-D choices say so."""
    report = run_child("""
        import json, sys
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from adamlab.ui.panels.surface import SurfacePanel
        p = SurfacePanel()
        v = p.view3d
        out = {"reason": v.reason, "enabled": {k: a.isEnabled() for k, a in v.mode_actions.items()},
               "tip": v.mode_actions["3d"].toolTip(), "note": v.reason_action.text()}
        v.set_mode("both")
        out["mode"] = v.mode()
        out["opengl_imported"] = "OpenGL" in sys.modules or "pyqtgraph.opengl" in sys.modules
        p.shutdown()
        print(json.dumps(out))
    """, child_env())
    reason = "3-D view unavailable: no OpenGL context (Qt platform 'offscreen')"
    assert report == {"reason": reason, "enabled": {"2d": True, "3d": False, "both": False}, "tip": reason,
                      "note": reason, "mode": "2d", "opengl_imported": False}


def test_a_panel_that_never_shows_the_relief_never_imports_opengl():
    report = run_child("""
        import json, sys
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from adamlab.ui.panels.surface import SurfacePanel
        p = SurfacePanel()
        p.show()
        for _ in range(50):
            app.processEvents()
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "OpenGL" or "opengl" in m)))
        p.shutdown()
    """, child_env())
    assert report == []
