"""Recording (File ▸ Record…, ``adamlab record``): films decoded back and checked frame by frame.

The encoders are optional (the ``record`` extra); CI installs them. Without them these tests skip and say so.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QTimer

PIL = pytest.importorskip("PIL.Image", reason="recording a GIF needs Pillow (pip install 'adamlab[record]')")
imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="recording an MP4 needs imageio-ffmpeg "
                                                              "(pip install 'adamlab[record]')")

from adamlab import cli_record  # noqa: E402
from adamlab.core.files import TMP_SUFFIX  # noqa: E402
from adamlab.ui.panels.ema.panel import EmaPanel  # noqa: E402
from adamlab.ui.panels.surface import SurfacePanel  # noqa: E402
from adamlab.ui.panels.stepper.panel import StepperPanel  # noqa: E402
from adamlab.ui.record import encode  # noqa: E402
from adamlab.ui.record.animation import beta_ramp  # noqa: E402
from adamlab.ui.record.recorder import Recorder, Settings, grab_rgb, record  # noqa: E402
from adamlab.ui.window import MainWindow  # noqa: E402


def gif_frames(path) -> list[np.ndarray]:
    """Every frame of a GIF as a full (h, w, 3) picture (Pillow composes the stored differences)."""
    im = PIL.open(path)
    frames = []
    for i in range(im.n_frames):
        im.seek(i)
        frames.append(np.asarray(im.convert("RGB")))
    return frames


def mp4_frames(path) -> tuple[tuple[int, int], float, list[np.ndarray]]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return (w, h), meta["fps"], [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]


def leftovers(directory) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(TMP_SUFFIX)]


def moving_square(n, size=(96, 64)):
    """n frames of a red square crossing a white field (few colours: a GIF keeps them exactly)."""
    w, h = size
    for i in range(n):
        f = np.full((h, w, 3), 255, np.uint8)
        x = i * (w - 16) // max(n - 1, 1)
        f[20:36, x:x + 16] = (213, 94, 0)
        yield f


# ---------------------------------------------------------------------------------------------------------
# encoders


def test_gif_delays_are_whole_centiseconds_and_add_up_to_the_length():
    d = encode.gif_delays_ms(90, 30)  # 3 s at 30 fps: 3.33 cs a frame, written as 3, 3, 4, ...
    assert all(x % 10 == 0 and x in (30, 40) for x in d)
    assert sum(d) == 3000
    assert all(abs(sum(d[:i]) - i * 1000 / 30) <= 5 for i in range(91))
    assert encode.gif_delays_ms(4, 10) == [100] * 4


def test_gif_round_trip_is_exact_for_few_colours(tmp_path):
    frames = list(moving_square(12))
    enc = encode.open_encoder(tmp_path / "sq.gif", (96, 64), 12)
    for f in frames:
        enc.write(f)
    out = enc.close()
    back = gif_frames(out)
    assert len(back) == 12 and back[0].shape == (64, 96, 3)
    for a, b in zip(frames, back):
        np.testing.assert_array_equal(a, b)
    im = PIL.open(out)
    assert im.info["loop"] == 0  # loops forever, as a slide or README wants
    assert leftovers(tmp_path) == []


def test_mp4_round_trip_has_the_frames_size_and_rate(tmp_path):
    frames = list(moving_square(15, (96, 64)))
    enc = encode.open_encoder(tmp_path / "sq.mp4", (96, 64), 25)
    for f in frames:
        enc.write(f)
    size, fps, back = mp4_frames(enc.close())
    assert size == (96, 64) and fps == 25 and len(back) == 15
    for a, b in zip(frames, back):  # lossy, but each frame is its own: the square is where it was drawn
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 6
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", ["gif", "mp4"])
def test_abort_leaves_the_old_file_and_no_temporary(tmp_path, ext):
    target = tmp_path / f"film.{ext}"
    target.write_bytes(b"the old film")
    enc = encode.open_encoder(target, (96, 64), 10)
    for f in moving_square(3):
        enc.write(f)
    enc.abort()
    assert target.read_bytes() == b"the old film"
    assert leftovers(tmp_path) == []


def test_cancel_while_the_encoder_finishes_leaves_nothing_and_comes_too_late_after(tmp_path):
    import threading

    enc = encode.open_encoder(tmp_path / "long.gif", (96, 64), 10)
    for f in moving_square(4):
        enc.write(f)
    finish, writing, go = enc._finish, threading.Event(), threading.Event()

    def slow_finish():  # Pillow writing a long GIF, held until the test lets it go
        writing.set()
        go.wait(5)
        finish()

    enc._finish = slow_finish
    outcome = []
    t = threading.Thread(target=lambda: outcome.append(pytest.raises(encode.Cancelled, enc.close)))
    t.start()
    assert writing.wait(5)
    assert enc.cancel() is True  # in time: close() will not put the file in place
    go.set()
    t.join(5)
    assert outcome and list(tmp_path.iterdir()) == []
    done = encode.open_encoder(tmp_path / "short.gif", (96, 64), 10)
    done.write(next(moving_square(1)))
    done.close()
    assert done.cancel() is False and (tmp_path / "short.gif").is_file()  # too late: the film stays


def test_encoders_refuse_what_the_format_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="even width and height"):
        encode.open_encoder(tmp_path / "a.mp4", (97, 64), 30)
    with pytest.raises(ValueError, match="at most 50 frames a second"):
        encode.open_encoder(tmp_path / "a.gif", (96, 64), 60)
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        encode.open_encoder(tmp_path / "a.avi", (96, 64), 30)
    enc = encode.open_encoder(tmp_path / "a.gif", (96, 64), 10)
    with pytest.raises(ValueError, match=r"\(64, 96, 3\) uint8"):
        enc.write(np.zeros((64, 95, 3), np.uint8))
    enc.abort()
    assert list(tmp_path.iterdir()) == []


def test_missing_libraries_are_named_with_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_pillow(name, *a, **k):
        if name.startswith(("PIL", "imageio_ffmpeg")):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pillow)
    assert encode.missing("gif") == "Recording a GIF needs Pillow: pip install 'adamlab[record]'"
    assert "imageio-ffmpeg: pip install 'adamlab[record]'" in encode.missing("mp4")


def test_beta_ramp_is_even_in_log_one_minus_beta():
    b = beta_ramp(3, 0.9, 0.999)
    np.testing.assert_allclose(b, [0.9, 0.99, 0.999])


# ---------------------------------------------------------------------------------------------------------
# the recorder on the panels


@pytest.fixture
def arena(qtbot):
    p = SurfacePanel()
    qtbot.addWidget(p)
    p.resize(1100, 740)
    p.show()
    qtbot.waitUntil(lambda: p.is_idle(), timeout=15000)
    return p


def film_xy(panel, film_w, x, y) -> tuple[int, int]:
    """Where the arena's point (x, y) lands in a film of width film_w (the panel scaled, aspect kept)."""
    vb = panel.map.plot.vb
    view = panel.map.widget
    p = view.viewport().mapTo(panel, view.mapFromScene(vb.mapViewToScene(QPointF(x, y))))
    s = film_w / panel.width()
    return round(p.x() * s), round(p.y() * s)


def patch(frame, xy, r=5):
    x, y = xy
    return frame[y - r:y + r + 1, x - r:x + r + 1].astype(int)


def test_the_race_film_replays_the_race_from_step_0(arena, tmp_path):
    res, T = arena._result, arena.controls.steps()
    size = (550, 370)  # the panel (1100 x 740) at half size
    out = record(arena, arena.animations()["race"], tmp_path / "race.gif", Settings(size, 10, 1.2))
    frames = gif_frames(out)
    assert len(frames) == 12 and frames[0].shape == (370, 550, 3)
    assert arena._t == T  # the finished race is left on screen
    first, last = frames[0], frames[-1]
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 1
    # each racer's marker: where it ends is empty map at step 0 and holds the marker at the last step
    moved = 0
    for r in res.runs:
        end = r.path[min(T, r.shown - 1)]
        if not np.all(np.isfinite(end)) or np.hypot(*(end - r.path[0])) < 0.3:
            continue  # (a racer that hardly moved, or left: nothing to see)
        xy = film_xy(arena, size[0], *end)
        moved += np.abs(patch(first, xy) - patch(last, xy)).mean() > 20
    assert moved >= 2
    # the race moves all along: consecutive frames differ
    assert all(np.any(a != b) for a, b in zip(frames, frames[1:]))


def test_a_race_being_replayed_is_paused_and_filmed_from_step_0(arena, tmp_path):
    arena.controls.steps_spin.setValue(5000)  # a replay of minutes at speed 1: the film must not wait for it
    arena.controls.speed_combo.setCurrentIndex(0)
    arena.rewind()
    arena.toggle_play()
    assert not arena.is_idle()
    frames = gif_frames(record(arena, arena.animations()["race"], tmp_path / "r.gif", Settings((550, 370), 5, 0.6)))
    assert len(frames) == 3 and arena._t == 5000 and not arena._playing


def test_the_start_drag_film_moves_theta0_and_puts_it_back(arena, tmp_path):
    start = arena.controls.start
    out = record(arena, arena.animations()["drag"], tmp_path / "drag.mp4", Settings((550, 370), 10, 0.4))
    size, fps, frames = mp4_frames(out)
    assert size == (550, 370) and fps == 10 and len(frames) == 4
    assert np.abs(frames[0].astype(int) - frames[2].astype(int)).mean() > 1  # half-way round: elsewhere
    assert arena.controls.start == start


def test_cancel_mid_way_leaves_nothing_and_keeps_an_old_file(arena, qtbot, tmp_path):
    target = tmp_path / "race.mp4"
    target.write_bytes(b"old")
    rec = Recorder(arena, arena.animations()["race"], target, Settings((550, 370), 30, 4))
    seen = []
    rec.cancelled.connect(lambda: seen.append("cancelled"))
    rec.finished.connect(lambda p: seen.append("finished"))
    rec.start()
    qtbot.waitUntil(lambda: rec.grabbed >= 5, timeout=20000)
    rec.cancel()
    assert seen == ["cancelled"] and rec.grabbed < rec.total
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == []
    assert arena._t == arena.controls.steps()  # the animation put the panel back


def test_the_window_answers_while_a_film_is_made(arena, qtbot, tmp_path):
    """A 10-ms timer keeps firing while frames are grabbed and while the encoder finishes on its thread."""
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    phases = {}
    rec = Recorder(arena, arena.animations()["race"], tmp_path / "race.gif", Settings((550, 370), 20, 2))
    rec.progress.connect(lambda d, n, ph: phases.setdefault("grabbed", time.perf_counter())
                         if ph == "grabbing" and d == n else None)
    rec.finished.connect(lambda p: phases.setdefault("finished", time.perf_counter()))
    timer.start()
    rec.start()
    qtbot.waitUntil(lambda: "finished" in phases, timeout=60000)
    timer.stop()
    assert len(gif_frames(tmp_path / "race.gif")) == 40
    gaps = np.diff(ticks)
    assert len(ticks) > 20 and gaps.max() < 0.5, f"longest wait {gaps.max():.3f} s"
    encoding = phases["finished"] - phases["grabbed"]
    if encoding > 0.1:  # the GIF is written after the last frame: the event loop runs meanwhile
        assert sum(phases["grabbed"] < t < phases["finished"] for t in ticks) >= 2


def test_mouse_input_to_the_panel_is_held_back_while_frames_are_taken(arena, qtbot, tmp_path):
    rec = Recorder(arena, arena.animations()["race"], tmp_path / "race.gif", Settings((550, 370), 10, 3))
    rec.start()
    qtbot.waitUntil(lambda: rec.grabbed >= 2, timeout=20000)
    before = arena.controls.steps_spin.value()
    from PySide6.QtCore import Qt

    qtbot.keyClick(arena.controls.steps_spin, Qt.Key.Key_Up)
    assert arena.controls.steps_spin.value() == before
    rec.cancel()
    qtbot.keyClick(arena.controls.steps_spin, Qt.Key.Key_Up)  # given back afterwards
    assert arena.controls.steps_spin.value() == before + arena.controls.steps_spin.singleStep()


def test_grab_rgb_fits_another_shape_with_the_aspect_kept(arena):
    img = grab_rgb(arena, (400, 400))  # a square film of a wide panel: bands above and below
    assert img.shape == (400, 400, 3)
    band = img[:20].reshape(-1, 3)
    assert (band == band[0]).all()  # the window colour, nothing of the panel
    assert len(np.unique(img[200].reshape(-1, 3), axis=0)) > 5


@pytest.mark.parametrize("cls,key", [(EmaPanel, "beta1"), (EmaPanel, "beta2"), (StepperPanel, "lines"),
                                     (StepperPanel, "steps")])
def test_every_panel_films_its_animations(qtbot, tmp_path, cls, key):
    p = cls()
    qtbot.addWidget(p)
    p.resize(900, 600)
    p.show()
    qtbot.waitUntil(p.is_idle, timeout=10000)
    state = p.get_state()
    assert set(p.animations()) == set(cli_record.ANIMATIONS[p.key])
    frames = gif_frames(record(p, p.animations()[key], tmp_path / "f.gif", Settings((450, 300), 10, 0.5)))
    assert len(frames) == 5
    assert all(np.any(a != b) for a, b in zip(frames, frames[1:]))  # every frame shows something new
    if cls is EmaPanel:
        assert p.get_state() == state  # the β is put back


def test_ema_sweep_sets_each_frames_beta(qtbot):
    p = EmaPanel()
    qtbot.addWidget(p)
    seen = []
    for frame in p.animations()["beta1"].frames(3):
        frame()
        seen.append(p.beta1.value())
    np.testing.assert_allclose(seen, [0.0, 0.9, 0.99], atol=1e-5)


def monitor_panel(qtbot, steps: int):
    """The monitor tests' shown panel with small, quick runs (validation and samples every 10 steps) of
    ``steps`` steps."""
    from tests.ui.test_monitor_panel import quick_panel

    p = quick_panel(qtbot)
    p.setup.steps.setValue(steps)
    return p


def test_the_monitor_films_a_run_step_by_step(qtbot, tmp_path):
    p = monitor_panel(qtbot, steps=30)
    frames = gif_frames(record(p, p.animations()["train"], tmp_path / "m.gif", Settings((500, 350), 10, 0.4)))
    assert len(frames) == 4
    run = p.runs[-1]
    assert run.snap.step == 30 and run.snap.status == "finished"
    assert np.any(frames[0] != frames[-1])



def test_each_monitor_frame_shows_its_step_in_the_bar_and_the_status_line_not_only_in_the_curves(qtbot):
    """The recorder grabs once a frame's predicate holds and the panel is idle; the table, bar and status line
    refresh only twice a second while a run lives, so the film's last frame said "step 966" under a bar at
    1000. Every frame is checked here at the moment the recorder would grab it."""
    p = monitor_panel(qtbot, steps=40)
    targets = [0, 13, 27, 40]
    for frame, target in zip(p.animations()["train"].frames(len(targets)), targets):
        ready = frame()
        qtbot.waitUntil(lambda: ready() and p.is_idle(), timeout=30000)
        run = p.runs[-1]
        assert p.progress.value() == target
        said = p.status_label.text()
        assert re.search(rf"step {target}\b", said) or (target == 40 and "finished 40 steps" in said), (target, said)
        x = run.items["raw"].getData()[0]
        assert (0 if x is None else len(x)) == target



def test_the_monitor_replays_a_finished_run_from_what_it_recorded_and_puts_everything_back(qtbot, tmp_path):
    """Replay: no training, the run's own series cut at each frame's step on the whole run's axes; after the
    film the run is drawn whole again, with its knob-change line, and the axes follow the data again."""
    p = monitor_panel(qtbot, steps=40)  # (validation every 10 steps)
    p.start_run()
    run = p.runs[-1]
    qtbot.waitUntil(lambda: run.state == "finished" and p.is_idle(), timeout=30000)
    full = run.snap
    run.snap = dataclasses.replace(full, events=[(20, float(full.tokens[20]), "lr → 0.003")])  # a marked change
    run.drawn_version = -1
    p.draw_now()
    full = run.snap
    seen, ranges = [], []
    frames = p.animations()["replay"].frames(5)
    for frame, target in zip(frames, [0, 10, 20, 30, 40]):
        assert frame() is None  # drawn at once: nothing to wait for
        x, y = (np.zeros(0) if a is None else a for a in run.items["raw"].getData())
        np.testing.assert_array_equal(x, full.steps[full.steps <= target])
        np.testing.assert_array_equal(y, full.loss[full.steps <= target])
        np.testing.assert_array_equal(run.items["val"].getData()[0], full.val_steps[full.val_steps <= target])
        said = p.status_label.text()
        assert p.progress.value() == target
        assert f"replay: step {target} of 40" in said or (target == 40 and "finished 40 steps" in said), said
        assert len(run.markers) == (1 if target >= 20 else 0)
        ranges.append(p.curves.getPlotItem().vb.viewRange())
        if 0 < target < 40:  # the table: g and u of the last kept step; w is not kept over time, shown unknown
            assert [p.table.item(r, 3).text() for r in range(p.table.rowCount())] == ["—"] * p.table.rowCount()
        seen.append(len(x))
    frames.close()
    assert seen == sorted(seen) and seen[0] < seen[-1] == len(full.steps)
    # the axes held still, on the whole run from the first frame on
    (x0, x1), (y0, y1) = ranges[0]
    assert all(np.allclose(r, ranges[0]) for r in ranges)
    assert x0 <= full.steps.min() and x1 >= full.steps.max() and y0 <= full.loss.min() and y1 >= full.loss.max()
    assert run.snap is full and run.state == "finished" and len(run.markers) == 1
    np.testing.assert_array_equal(run.items["raw"].getData()[1], full.loss)
    assert all(p.curves.getPlotItem().vb.autoRangeEnabled())
    # the film itself: 5 frames, different first and last
    gif = gif_frames(record(p, p.animations()["replay"], tmp_path / "r.gif", Settings((400, 300), 10, 0.5)))
    assert len(gif) == 5 and np.any(gif[0] != gif[-1])
    assert run.snap is full


def test_replay_refuses_a_run_that_is_training_in_one_line(qtbot):
    from adamlab.ui.panels.monitor.panel import MonitorPanel

    p = MonitorPanel()
    qtbot.addWidget(p)
    with pytest.raises(RuntimeError, match="select a run that is not training"):
        next(p.animations()["replay"].frames(3))

# ---------------------------------------------------------------------------------------------------------
# the window and the command line


def test_record_from_the_window_shows_progress_and_saves(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    w = MainWindow(panel="ema")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(w.current_panel().is_idle, timeout=10000)
    bar, cancel = w._record_bar
    assert w.start_recording("beta2", tmp_path / "b2.mp4", Settings((320, 240), 10, 0.5))
    assert bar.isVisibleTo(w) and cancel.isVisibleTo(w)
    qtbot.waitUntil(lambda: w.recorder is None, timeout=30000)
    assert not bar.isVisibleTo(w)
    assert "Saved" in w.statusBar().currentMessage()
    assert len(mp4_frames(tmp_path / "b2.mp4")[2]) == 5


def test_the_record_dialog_offers_the_panels_animations_and_fits_each_format(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import Qt

    from adamlab.ui.record.dialog import RecordDialog

    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    w = MainWindow(panel="ema")
    qtbot.addWidget(w)
    w.show()
    assert "&Record…" in [a.text() for a in w.menuBar().actions()[0].menu().actions()]
    panel = w.current_panel()
    d = RecordDialog(panel, w)
    qtbot.addWidget(d)
    assert [d.what.itemData(i) for i in range(d.what.count())] == ["beta1", "beta2"]
    assert d.what.itemData(1, Qt.ItemDataRole.ToolTipRole).startswith("β2 moves")
    d.width_spin.setValue(401)
    key, fmt, s = d.choice()
    assert (key, fmt, s.fps, s.seconds, s.frames) == ("beta1", "gif", 15, 4.0, 60)
    assert s.size == (401, round(401 * panel.height() / panel.width()))  # the panel's shape
    d.format.setCurrentIndex(1)
    key, fmt, s = d.choice()
    assert fmt == "mp4" and s.fps == 30 and s.size[0] == 400 and s.size[1] % 2 == 0  # H.264: even sides
    d.fps.setValue(60)
    d.format.setCurrentIndex(0)
    assert d.fps.maximum() == 50 and d.choice()[2].fps == 15  # a GIF plays at most 50 fps
    d.width_spin.setValue(1920)
    d.seconds.setValue(120)
    assert not d.ok.isEnabled() and "GB of frames in memory" in d.note.text()  # refused before it starts


def test_closing_the_window_mid_film_cancels_it_and_saves_the_settings_from_before(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    w = MainWindow(panel="ema")
    qtbot.addWidget(w)
    w.show()
    panel = w.current_panel()
    qtbot.waitUntil(panel.is_idle, timeout=10000)
    beta1 = panel.beta1.value()
    assert w.start_recording("beta1", tmp_path / "b1.gif", Settings((320, 240), 10, 5))
    qtbot.waitUntil(lambda: w.recorder.grabbed >= 3, timeout=20000)
    assert panel.beta1.value() != beta1  # mid-sweep
    w.close()
    assert w.recorder is None and panel.beta1.value() == beta1
    assert "Recording cancelled" in w.statusBar().currentMessage()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.ini"]  # no film, no temporary
    from adamlab.ui import settings as settings_mod

    saved, _ = settings_mod.load_json_checked(settings_mod.settings(), "panels/ema")
    assert saved["beta1"] == beta1


def test_record_without_the_libraries_says_how_to_get_them(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    monkeypatch.setattr(encode, "missing", lambda fmt: f"no {fmt}")
    w = MainWindow(panel="ema")
    qtbot.addWidget(w)
    w.record_dialog()  # no dialog: one line in the status bar
    assert w.statusBar().currentMessage() == ("Recording needs Pillow (GIF) or imageio-ffmpeg (MP4): "
                                              "pip install 'adamlab[record]'")


@pytest.mark.parametrize("args,message", [
    (["--fps", "0", "--out", "{d}/a.gif"], "fps must be between 1 and 50"),
    (["--size", "10x10", "--out", "{d}/a.gif"], "size must be between 64x64"),
    (["--seconds", "1e9", "--out", "{d}/a.mp4"], "seconds must be > 0 and at most 120"),
    (["--panel", "nope", "--out", "{d}/a.gif"], "invalid choice: 'nope'"),
    (["--out", "{d}/missing/a.gif"], "does not exist"),
    (["--out", "{d}/a.avi"], "must end in .gif or .mp4"),
    (["--out", "{d}/a.mp4", "--size", "801x600"], "even width and height"),
    (["--animate", "zzz", "--out", "{d}/a.gif"], "animates race, drag"),
    (["--scenario", "{d}/none.adamlab", "--out", "{d}/a.gif"], "no such scenario file, nor a built-in"),
    (["--size", "big", "--out", "{d}/a.gif"], "must look like 800x600"),
    (["--size", "3840x2160", "--fps", "30", "--seconds", "60", "--out", "{d}/a.gif"], "GB of frames in memory"),
    ([], "--out FILE.gif or FILE.mp4 is required"),
    (["--run", "{d}/nothing", "--out", "{d}/a.gif"], "--run: {d}/nothing does not exist"),
    (["--run", "{d}", "--out", "{d}/a.gif"], "is not a run folder (no run.json"),
])
def test_record_command_refuses_bad_arguments_in_one_line(tmp_path, capsys, args, message):
    code = cli_record.main([a.format(d=tmp_path) for a in args])
    err = capsys.readouterr().err
    assert code == 2 and message.format(d=tmp_path) in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("more,message", [
    (["--panel", "ema"], "--run opens a run in the monitor, not in the ema panel"),
    (["--scenario", "zigzag"], "--scenario: zigzag.adamlab is a scenario for the surface panel; --run films the "
                               "monitor"),
])
def test_record_command_refuses_run_with_another_panel_in_one_line(tmp_path, capsys, more, message):
    from tests.runs import synth

    synth.make_run(tmp_path / "r", steps=3)
    assert cli_record.main(["--run", str(tmp_path / "r"), *more, "--out", str(tmp_path / "a.gif")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "a.gif").exists()


def test_record_command_without_the_library_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(encode, "missing", lambda fmt: "Recording an MP4 needs imageio-ffmpeg: pip install "
                                                       "'adamlab[record]'")
    assert cli_record.main(["--out", str(tmp_path / "a.mp4")]) == 2
    assert capsys.readouterr().err == ("adamlab record: error: Recording an MP4 needs imageio-ffmpeg: pip install "
                                       "'adamlab[record]'\n")


def test_record_command_refuses_a_scenario_it_cannot_open(qtbot, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    scenario = tmp_path / "lesson.txt"
    scenario.write_text("not a scenario")
    code = cli_record.main(["--scenario", str(scenario), "--out", str(tmp_path / "a.gif")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("adamlab record: error: --scenario") and err.count("\n") == 1
    assert not (tmp_path / "a.gif").exists()


def test_record_command_films_a_built_in_scenario_by_name_on_its_own_panel(qtbot, tmp_path, capsys, monkeypatch):
    from adamlab.ui import scenarios

    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    out = tmp_path / "huge.gif"
    code = cli_record.main(["--scenario", "stepper_huge_lr", "--out", str(out), "--size", "320x240", "--fps", "5",
                            "--seconds", "1"])
    assert code == 0, capsys.readouterr().err
    assert scenarios.read(scenarios.resolve("stepper_huge_lr")).panel == "stepper"
    frames = gif_frames(out)
    assert len(frames) == 5 and frames[0].shape == (240, 320, 3)
    assert np.any(frames[0] != frames[-1])  # the stepper's lines advance


def test_record_command_refuses_a_scenario_with_a_bad_field_by_name(qtbot, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    bad = tmp_path / "bad.adamlab"
    bad.write_text('{"adamlab": "scenario", "version": 1, "panel": "ema", "state": {"beta1": 7}}')
    code = cli_record.main(["--scenario", str(bad), "--out", str(tmp_path / "a.gif")])
    err = capsys.readouterr().err
    assert code == 2 and "ema.beta1" in err and err.count("\n") == 1, err
    assert not (tmp_path / "a.gif").exists()


def test_record_command_end_to_end(tmp_path):
    out = tmp_path / "race.gif"
    env = dict(os.environ, ADAMLAB_SETTINGS=str(tmp_path / "s.ini"))
    env.pop("QT_QPA_PLATFORM", None)  # the command renders offscreen by itself
    r = subprocess.run([sys.executable, "-m", "adamlab", "record", "--panel", "surface", "--out", str(out),
                        "--size", "320x240", "--fps", "5", "--seconds", "2"],
                       capture_output=True, text=True, timeout=180, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"saved {out} (10 frames, 320x240, 5 fps")
    frames = gif_frames(out)
    assert len(frames) == 10 and frames[0].shape == (240, 320, 3)
    assert np.any(frames[0] != frames[-1])


def test_record_command_replays_a_watched_run_folder(qtbot, tmp_path, capsys, monkeypatch):
    """`adamlab record --run FOLDER`: the folder opened in the monitor, read to its end, its replay filmed."""
    from tests.runs import synth

    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    synth.make_run(tmp_path / "exp1", steps=30)
    out = tmp_path / "exp1.gif"
    code = cli_record.main(["--run", str(tmp_path / "exp1"), "--out", str(out), "--size", "400x300", "--fps", "4",
                            "--seconds", "1"])
    assert code == 0, capsys.readouterr().err
    frames = gif_frames(out)
    assert len(frames) == 4 and frames[0].shape == (300, 400, 3) and np.any(frames[0] != frames[-1])
    assert cli_record.main(["--run", str(tmp_path / "exp1"), "--animate", "zzz", "--out", str(out)]) == 2
    assert "animates train, replay" in capsys.readouterr().err



def test_record_command_names_why_a_run_cannot_be_opened_and_films_an_unclosed_one_as_far_as_it_got(
        qtbot, tmp_path, capsys, monkeypatch):
    from tests.runs import synth

    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    monkeypatch.setattr(cli_record, "QUIET_S", 0.5)
    synth.make_run(tmp_path / "damaged", steps=5)
    (tmp_path / "damaged" / "run.json").write_text("{not json")
    out = tmp_path / "x.gif"
    assert cli_record.main(["--run", str(tmp_path / "damaged"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged" in err and "not valid JSON" in err, err  # the reader's own reason
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert cli_record.main(["--run", str(tmp_path / "bad.npz"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("adamlab record: error: --run: Could not load") and err.count("\n") == 1, err
    # a script that stopped without close(): filmed as far as it got, and said so; a file inside works too
    synth.make_run(tmp_path / "open", steps=12, close=False)
    code = cli_record.main(["--run", str(tmp_path / "open" / "stats.rec"), "--out", str(out), "--size", "320x240",
                            "--fps", "3", "--seconds", "1"])
    said = capsys.readouterr()
    assert code == 0, said.err
    assert "is not closed" in said.out and "as far as it got, step 11" in said.out
    assert len(gif_frames(out)) == 3
