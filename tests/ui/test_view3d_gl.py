"""The arena's 3-D view rendered for real: OpenGL under Xvfb (Mesa's software renderer in CI).

The test process renders offscreen, where there is no GL context; a session fixture starts Xvfb on a free
display and ``tests/ui/view3d_gl_child.py`` drives the panel in a child Python on it (QT_QPA_PLATFORM=xcb)
and reports what it measured as JSON. The checks here compare that with the core's numbers, computed here:
every drawn path point lies on the surface (its height is the surface's height at its x, y), the paths follow
the animation's step, a new start, noise and another surface, the framebuffer shows the relief and each
racer's colour where the view's own projection puts it, a drag redraws the relief at a bounded rate, and a
theme switch re-colours it.

Without Xvfb (or its GL libraries, or Qt's xcb platform) these tests skip, saying which is missing; under CI
(CI set) they fail instead, since .ci/run installs them.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from adamlab.core.surfaces import SURFACES
from adamlab.ui.panels.surface.relief import HEIGHT
from adamlab.ui.panels.surface.view3d import CAMERA

REPO = Path(__file__).resolve().parents[2]
CHILD = REPO / "tests" / "ui" / "view3d_gl_child.py"


def missing(reason: str):
    """Skip with the reason; under CI, where .ci/run installs everything, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def xvfb_display():
    """Start ``Xvfb :N -screen 0 1280x1024x24`` on a free display number N (Xvfb picks it: -displayfd) and
    give ':N'; stop it at the end of the session."""
    exe = shutil.which("Xvfb")
    if exe is None:
        missing("Xvfb is not installed (Debian: apt-get install xvfb libgl1-mesa-dri libglx-mesa0)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 20
    while not number.endswith(b"\n") and time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([read_fd], [], [], 0.5)
        if ready:
            chunk = os.read(read_fd, 16)
            if not chunk:
                break
            number += chunk
    os.close(read_fd)
    if not number.strip().isdigit():
        proc.kill()
        err = proc.communicate(timeout=5)[1].decode(errors="replace").strip().splitlines()
        missing(f"Xvfb did not start: {err[-1] if err else 'no display number'}")
    yield f":{number.strip().decode()}"
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="module")
def gl_report(xvfb_display):
    """Run the 3-D checks in a child Python on the Xvfb display; its JSON report."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "PYTHONPATH")}
    env.update(DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(REPO), ADAMLAB_PROCESSES="1",
               ADAMLAB_SETTINGS=os.path.join(tempfile.mkdtemp(prefix="adamlab-gl-"), "settings.ini"))
    env.pop("ADAMLAB_3D", None)
    proc = subprocess.run([sys.executable, str(CHILD)], capture_output=True, text=True, env=env, timeout=240,
                          cwd=tempfile.gettempdir())
    if "Could not load the Qt platform plugin \"xcb\"" in proc.stderr:
        missing("Qt's xcb platform cannot load (Debian: apt-get install libxcb-cursor0 libxcb-icccm4 "
                "libxcb-keysyms1 libxkbcommon-x11-0)")
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, f"the GL child failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    report = json.loads(lines[-1])
    if report["reason"] is not None:
        missing(f"no OpenGL under Xvfb: {report['reason']} (Debian: apt-get install libgl1-mesa-dri libglx-mesa0)")
    return report


def heights(relief: dict, xy: np.ndarray) -> np.ndarray:
    """The relief's height at data points xy (n, 2), from the core's f and the height map's parameters, by
    the formula (relief.py's docstring): c = log₁₀(max(f − f_lo, 0) + δ) (or f), z = clip((c − c_lo) /
    (c_hi − c_lo), 0, 1) · HEIGHT."""
    f = SURFACES[relief["surface"]].value(xy[:, 0], xy[:, 1])
    c = np.log10(np.maximum(f - relief["f_lo"], 0.0) + relief["delta"]) if relief["log"] else f
    return np.clip((c - relief["c_lo"]) / (relief["c_hi"] - relief["c_lo"]), 0.0, 1.0) * HEIGHT


def to_box(relief: dict, xy: np.ndarray) -> np.ndarray:
    return (xy - np.asarray(relief["centre"])) / relief["half"]


def expected_segments(data: dict, t: int) -> np.ndarray:
    """The solid paths' segment ends the view should hold at step t: for each run, rows 0…t (all inside the
    default domain here) lifted onto the relief, as (θ_0, θ_1), (θ_1, θ_2), … pairs."""
    out = []
    for path in data["race"].values():
        p = np.asarray(path)[: t + 1]
        pts = np.column_stack([to_box(data["relief"], p), heights(data["relief"], p)])
        seg = np.empty((2 * (len(pts) - 1), 3))
        seg[0::2], seg[1::2] = pts[:-1], pts[1:]
        out.append(seg)
    return np.concatenate(out)


def assert_on_surface(data: dict) -> None:
    """Every drawn path point's height equals the surface's height at its x, y (float32 round-off)."""
    pts = np.asarray(data["paths"])
    assert len(pts) > 100
    rel = data["relief"]
    xy = np.asarray(rel["centre"]) + rel["half"] * pts[:, :2].astype(np.float64)
    # the point's own x, y (as stored, float32) and the height the core's f gives there
    np.testing.assert_allclose(pts[:, 2], heights(rel, xy), atol=2e-5)


def test_the_3d_view_renders(gl_report):
    r = gl_report
    assert r["mode"] == "both" and r["idle_after_both"]
    assert r["qt_warnings"] == []
    assert r["empty_distinct"] == 1 and r["background"] == [255, 255, 255]  # only the light theme's background
    assert r["full_distinct"] > 200  # a lit, coloured relief has many shades
    assert r["relief_pixels"] > 0.1  # the relief covers a good part of the view …
    assert r["non_background"] >= r["relief_pixels"]  # … and it is drawn where the picture differs
    for name, count in r["colour_pixels"].items():
        assert count >= 20, f"{name}'s colour barely appears ({count} px)"


def test_current_points_are_drawn_where_the_projection_puts_them(gl_report):
    """Each racer's current point, projected with the view's own camera, lands on a pixel of its colour (the
    points clear of another racer's, at the race's end and at step 100)."""
    checked = 0
    for h in (gl_report["heads_on_screen"], gl_report["step100"]["heads_on_screen"]):
        px = np.asarray(h["px"])
        for i, (pixel, colour) in enumerate(zip(h["pixels"], h["colours"])):
            if np.min(np.hypot(*(np.delete(px, i, axis=0) - px[i]).T)) < 14:
                continue  # another marker (drawn later) may cover it
            assert pixel is not None and np.max(np.abs(np.subtract(pixel, colour))) <= 3, (i, pixel, colour)
            checked += 1
    assert checked >= 3


def test_mesh_vertices_are_the_surfaces_heights(gl_report):
    v = np.asarray(gl_report["mesh_vertices"])
    rel = gl_report["step100"]["relief"]
    xy = np.asarray(rel["centre"]) + rel["half"] * v[:, :2].astype(np.float64)
    np.testing.assert_allclose(v[:, 2], heights(rel, xy), atol=2e-5)
    (x0, x1), (y0, y1) = SURFACES["rosenbrock"].domain  # the mesh covers the domain
    np.testing.assert_allclose([xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max()], [x0, x1, y0, y1],
                               atol=1e-6)
    assert rel["log"]  # Rosenbrock's heights are log-scaled, as the map's colours


def test_path_points_lie_on_the_surface(gl_report):
    for key in ("step100", "moved", "noisy", "drag", "himmelblau"):
        assert_on_surface(gl_report[key])


def test_paths_follow_the_animation_step(gl_report):
    for key, t in (("step100", 100), ("moved", gl_report["steps"])):
        data = gl_report[key]
        assert data["t"] == t
        np.testing.assert_allclose(data["paths"], expected_segments(data, t), atol=2e-5)
        # the current points are the paths' row t
        rows = np.array([np.asarray(p)[t] for p in data["race"].values()])
        np.testing.assert_allclose(np.asarray(data["heads"])[:, :2], to_box(data["relief"], rows), atol=1e-6)


def test_paths_follow_a_new_start(gl_report):
    m = gl_report["moved"]
    assert m["ok"] and m["start"] == [-1.6, 2.2]
    start = np.array([m["start"]])
    for path in m["race"].values():
        np.testing.assert_array_equal(np.asarray(path)[0], start[0])  # the race ran from the new start …
    first = np.asarray(m["paths"])[0]  # … and the drawn paths begin there, on the surface
    np.testing.assert_allclose(first, [*to_box(m["relief"], start)[0], heights(m["relief"], start)[0]], atol=2e-5)
    np.testing.assert_allclose(m["start_mark"][0], first, atol=1e-6)  # θ₀'s marker too
    assert m["changed_pixels"] > 0.005
    assert not np.allclose(m["paths"][:10], gl_report["step100"]["paths"][:10])


def test_a_change_while_hidden_is_drawn_when_shown_again(gl_report):
    h = gl_report["while_hidden"]
    assert h["frames_hidden"] == 0 and h["start"] == [-0.5, 2.5]
    start = np.array([h["start"]])
    np.testing.assert_allclose(h["start_mark"][0], [*to_box(h["relief"], start)[0], heights(h["relief"], start)[0]],
                               atol=2e-5)
    np.testing.assert_allclose(h["paths"], expected_segments(h, h["t"]), atol=2e-5)


def test_paths_follow_noise(gl_report):
    noisy, clean = gl_report["noisy"], gl_report["moved"]
    assert noisy["start_mark"] == clean["start_mark"]
    assert not np.allclose(noisy["paths"], clean["paths"])
    np.testing.assert_allclose(noisy["paths"], expected_segments(noisy, gl_report["steps"]), atol=2e-5)


def test_a_drag_redraws_the_relief_at_a_bounded_rate_and_ends_on_the_final_start(gl_report):
    d, fps = gl_report["drag"], gl_report["max_fps"]
    assert d["frames"] >= 3  # it followed the drag …
    assert d["frames"] <= fps * d["seconds"] + 2  # … at most MAX_FPS frames a second …
    assert d["paints"] <= fps * d["seconds"] + 2  # … and GL painted no more often
    start = np.array([d["start"]])
    np.testing.assert_allclose(d["start_mark"][0][:2], to_box(d["relief"], start)[0], atol=1e-6)
    for path in d["race"].values():
        np.testing.assert_array_equal(np.asarray(path)[0], start[0])


def test_theme_switch_recolours_the_relief(gl_report):
    assert gl_report["dark_background"] == [30, 30, 30]  # #1E1E1E
    assert gl_report["dark_changed"] > 0.5


def test_another_surface_gets_its_relief(gl_report):
    h = gl_report["himmelblau"]
    assert h["relief"]["surface"] == "himmelblau" and h["relief"]["log"]
    np.testing.assert_allclose(h["relief"]["centre"], [0.0, 0.0])
    assert h["relief"]["half"] == 5.0


def test_mouse_turns_and_zooms_reset_camera_and_modes(gl_report):
    c = gl_report["camera"]
    assert {k: c["before"][k] for k in ("elevation", "azimuth", "fov")} == \
        {k: float(CAMERA[k]) for k in ("elevation", "azimuth", "fov")}
    assert c["turned"]["azimuth"] != c["before"]["azimuth"]  # a mouse drag turned it …
    assert c["turned"]["elevation"] != c["before"]["elevation"]
    assert c["zoomed"]["distance"] < c["turned"]["distance"]  # … the wheel zoomed in …
    assert c["touched"] and c["kept"]  # … and a resize then keeps the user's camera
    for key in ("elevation", "azimuth", "fov"):
        assert c["reset"][key] == CAMERA[key]
    from adamlab.ui.panels.surface.relief import fit_distance
    from adamlab.ui.panels.surface.view3d import CAMERA_CENTRE, FLOOR, LABEL_ROOM

    (x0, x1), ys = c["box"]
    want = fit_distance(((x0, x1 + LABEL_ROOM), ys), (FLOOR, HEIGHT), CAMERA_CENTRE, CAMERA["elevation"], CAMERA["azimuth"],
                        CAMERA["fov"], c["aspect"])
    assert c["reset"]["distance"] == pytest.approx(want)
    m = gl_report["mode3d"]
    assert not m["map_visible"] and m["pane_visible"] and m["pane_size"][1] > 400
    assert gl_report["hidden_frames"] == 0  # back on the map alone, the relief draws nothing
    assert gl_report["state"] == {"mode": "2d"}
