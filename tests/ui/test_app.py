"""The main window: panels, shortcuts, menus, themes, persistence, the --screenshot command."""

import os
import subprocess
import sys

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from adamlab import app as app_mod
from adamlab.ui import window as window_mod
from adamlab.ui.panels import PANEL_KEYS
from adamlab.ui.window import MainWindow
from adamlab.ui import settings as settings_mod
from adamlab.ui import theme


@pytest.fixture
def fresh_settings(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(path))
    return path


@pytest.fixture
def window(qtbot, fresh_settings):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    theme.apply_theme("light")


def test_window_has_every_panel_in_the_sidebar(window):
    assert window.sidebar.count() == len(PANEL_KEYS) == 4
    titles = [window.sidebar.item(i).text() for i in range(4)]
    assert [p.key for p in window.panels] == PANEL_KEYS
    for i, p in enumerate(window.panels):
        assert titles[i] == f"{i + 1}  {p.title}"


def test_ctrl_number_switches_panels_and_status_bar_shows_the_hint(window, qtbot):
    for i in (3, 1, 2, 0):
        qtbot.keyClick(window, getattr(Qt.Key, f"Key_{i + 1}"), Qt.KeyboardModifier.ControlModifier)
        assert window.stack.currentIndex() == i
        assert window.sidebar.currentRow() == i
        assert window.statusBar().currentMessage() == window.panels[i].hint


def test_clicking_the_sidebar_switches_panels(window, qtbot):
    item = window.sidebar.item(2)
    rect = window.sidebar.visualItemRect(item)
    qtbot.mouseClick(window.sidebar.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_panel() is window.panels[2]


def test_menus_exist_with_their_actions(window):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert set(menus) == {"File", "Edit", "View", "Help"}
    file_actions = [a.text().replace("&", "") for a in menus["File"].actions() if a.text()]
    assert any("PNG" in t for t in file_actions) and any("SVG" in t for t in file_actions)
    assert any("CSV" in t for t in file_actions) and "Quit" in file_actions
    assert {"Open…", "Save scenario…", "Save lab…"} <= set(file_actions)
    edit_actions = [a.text().replace("&", "") for a in menus["Edit"].actions()]
    assert edit_actions == ["Undo", "Redo"]  # (with the command's name once there is one: tests/ui/test_undo.py)
    help_actions = [a.text().replace("&", "") for a in menus["Help"].actions()]
    assert "What am I looking at?" in help_actions and "About AdamLab" in help_actions


def test_about_names_the_versions(window):
    import numpy
    import PySide6

    text = window.about_text()
    assert numpy.__version__ in text and PySide6.__version__ in text and pg.__version__ in text


def test_dark_theme_recolours_the_plots(window):
    light = QColor(theme.background())
    window.set_theme("dark")
    # every colour of the cycle stays visible on both backgrounds: a curve keeps its colour across a switch
    dark = QColor(theme.background())
    for i in range(len(theme.CYCLE)):
        c = QColor(theme.cycle_color(i))
        assert abs(c.lightness() - dark.lightness()) > 45 and abs(c.lightness() - light.lightness()) > 45, c.name()
    views = window.findChildren(pg.GraphicsView)
    assert views, "no plots found in the window"
    for v in views:
        assert v.backgroundBrush().color().name().lower() == theme.background().lower() == "#1e1e1e"
    window.set_theme("light")
    assert all(v.backgroundBrush().color().name().lower() == "#ffffff" for v in views)


def test_theme_and_panel_persist_across_sessions(qtbot, fresh_settings):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show_panel("surface")
    w.set_theme("dark")
    w.close()
    s = settings_mod.settings()
    assert s.value("theme") == "dark"
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert w2.current_panel().key == "surface"
    assert theme.current() == "dark"
    w2.close()
    theme.apply_theme("light")


def test_panel_argument_wins_over_the_saved_panel(qtbot, fresh_settings):
    w = MainWindow(panel="monitor")
    qtbot.addWidget(w)
    assert w.current_panel().key == "monitor"


def test_a_corrupt_saved_setting_is_ignored(qtbot, fresh_settings):
    s = settings_mod.settings()
    for key in PANEL_KEYS:
        s.setValue(f"panels/{key}", "{not json")
    s.setValue("panel", "banana")
    s.sync()
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.current_panel().key == "ema"


def test_bad_saved_fields_are_left_out_named_and_said_once(qtbot, fresh_settings, capsys):
    import json

    s = settings_mod.settings()
    s.setValue("panels/ema", json.dumps({"beta1": 0.85, "beta2": 2.5, "length": 10**23, "kind": "noisy",
                                         "junk": [1] * 5}))
    s.setValue("panels/monitor", json.dumps({"setup": {"steps": 1234, "batch_size": "many",
                                                       "model": {"n_embd": 10**40}}, "smoothing": 0.8}))
    s.setValue("panels/stepper", "{not json")
    s.sync()
    w = MainWindow()
    qtbot.addWidget(w)
    problems = w.settings_problems
    assert "ema.beta2: 2.5 is outside [0, 0.99999]" in problems
    assert "ema.length: 100000000000000000000000 is outside [1, 10000]" in problems
    assert "ema.junk: unknown field" in problems
    assert "monitor.setup.batch_size: 'many' is not a whole number" in problems
    assert any(p.startswith("monitor.setup.model.n_embd: 1000") for p in problems)
    assert "stepper: the saved entry is not valid JSON (JSONDecodeError)" in problems
    # the good fields came back; the bad ones kept their defaults
    assert w.panel("ema").beta1.value() == 0.85 and w.panel("ema").beta2.value() == 0.999
    assert w.panel("monitor").setup.steps.value() == 1234 and w.panel("monitor").smoothing.value() == 0.8
    assert w.panel("monitor").setup.n_embd.value() == 16
    # said once, where the user looks: the status bar and stderr
    assert "Some saved settings were ignored: ema.beta2" in w.statusBar().currentMessage()
    assert capsys.readouterr().err.count("Some saved settings were ignored") == 1
    w.close()
    w2 = MainWindow()  # what was saved at close is clean: nothing more to say
    qtbot.addWidget(w2)
    assert w2.settings_problems == []


def test_main_dispatches_help_without_creating_a_window(capsys):
    with pytest.raises(SystemExit) as e:
        app_mod.main(["--help"])
    assert e.value.code == 0
    assert "usage: adamlab" in capsys.readouterr().out


@pytest.mark.parametrize("panel", ["ema", "surface"])
def test_screenshot_command_writes_a_png_of_the_window(tmp_path, panel):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ADAMLAB_SETTINGS=str(tmp_path / "s.ini"))
    r = subprocess.run([sys.executable, "-m", "adamlab", "--screenshot", str(out), "--panel", panel,
                        "--size", "1280x800"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1280, 800)  # nothing forces the window wider than asked
    # Not a blank image: a real window has many distinct colours.
    colours = {img.pixel(x, y) for x in range(0, 1280, 25) for y in range(0, 800, 25)}
    assert len(colours) > 10


def test_every_panel_fits_a_1280x800_window(window):
    for key in PANEL_KEYS:
        window.show_panel(key)
        hint = window.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 800, (key, hint)


def test_the_window_does_not_import_the_entry_point():
    """entry point → window → panels: the registry both read is plain data in adamlab.ui.panels."""
    import subprocess
    import sys

    code = "import sys, adamlab.ui.window; print('adamlab.app' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_every_panel_loads(window):
    missing = [p.key for p in window.panels if isinstance(p, window_mod._Missing)]
    assert missing == []


def test_export_from_the_window_writes_or_says_why(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    window.show_panel("ema")
    name = next(iter(window.current_panel().plots()))
    out = window.export_plot(name, str(tmp_path / "g.png"))
    assert out is not None and QImage(str(out)).width() >= 800
    assert "Exported" in window.statusBar().currentMessage()
    assert window.export_plot(name, str(tmp_path / "missing" / "g.png")) is None
    assert warnings and "does not exist" in warnings[0]
    assert "Export failed" in window.statusBar().currentMessage()


@pytest.mark.parametrize("ext", [".png", ".svg", ".csv"])
def test_exports_are_atomic_and_never_replace_a_fifo_or_a_link(window, tmp_path, monkeypatch, ext):
    from PySide6.QtWidgets import QMessageBox

    from adamlab.core import files

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    window.show_panel("ema")
    name = next(iter(window.current_panel().plots()))
    fifo = tmp_path / f"pipe{ext}"
    os.mkfifo(fifo)
    assert window.export_plot(name, str(fifo)) is None and "FIFO" in warnings[-1]
    assert fifo.is_fifo()
    old = tmp_path / f"old{ext}"
    old.write_bytes(b"the previous export")
    link = tmp_path / f"link{ext}"
    link.symlink_to(old)
    assert window.export_plot(name, str(link)) is None and "symbolic link" in warnings[-1]
    # a crash while the new file is written leaves the old one whole
    real_fsync = os.fsync

    def crash(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    assert window.export_plot(name, str(old)) is None and "No space left" in warnings[-1]
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert old.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fifo.name, old.name, link.name])
    assert not any(p.name.endswith(files.TMP_SUFFIX) for p in tmp_path.iterdir())


def test_export_dialog_asks_before_replacing_a_file_typed_without_its_extension(window, qtbot, tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QLineEdit, QMessageBox

    existing = tmp_path / "g.png"
    existing.write_bytes(b"keep me")
    asked = []

    def drive():
        w = QApplication.activeModalWidget()
        if isinstance(w, QFileDialog) and asked:  # answered "No": the dialog stays open; cancel it
            w.reject()
        elif isinstance(w, QFileDialog):
            w.setDirectory(str(tmp_path))
            edit = w.findChild(QLineEdit, "fileNameEdit")
            edit.setText("g")  # as typed, without the extension
            QTimer.singleShot(50, drive)  # (before: the question is asked from inside accept())
            w.accept()
        elif isinstance(w, QMessageBox):
            asked.append(w.text())
            QTimer.singleShot(50, drive)
            w.button(QMessageBox.StandardButton.No).click()
        elif isinstance(w, QInputDialog):  # "Which plot?": the first
            QTimer.singleShot(50, drive)
            w.accept()
        else:
            QTimer.singleShot(50, drive)

    window.show_panel("ema")
    QTimer.singleShot(50, drive)
    window.export_dialog(".png")
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert "g.png" in asked[0]
    assert existing.read_bytes() == b"keep me"


def test_screenshot_onto_a_fifo_is_refused_up_front(tmp_path):
    fifo = tmp_path / "shot.png"
    os.mkfifo(fifo)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ADAMLAB_SETTINGS=str(tmp_path / "s.ini"))
    r = subprocess.run([sys.executable, "-m", "adamlab", "--screenshot", str(fifo)], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 2 and "FIFO" in r.stderr and "Traceback" not in r.stderr
    assert fifo.is_fifo()


def test_a_panel_failing_to_save_loses_nothing_else_and_close_still_stops_workers(qtbot, fresh_settings,
                                                                                  monkeypatch, capsys):
    from adamlab.ui import workers

    w = MainWindow()
    qtbot.addWidget(w)
    w.show_panel("surface")
    qtbot.waitUntil(lambda: w.current_panel().is_idle(), timeout=20000)
    w.panel("ema").beta1.setValue(0.85)

    def broken_state():
        raise KeyError("boom")

    monkeypatch.setattr(w.panel("surface"), "get_state", broken_state)
    w.close()
    assert workers.live_threads() == []
    assert "could not save the settings of surface" in capsys.readouterr().err
    assert settings_mod.load_json(settings_mod.settings(), "panels/ema")["beta1"] == 0.85


def test_every_control_explains_itself_in_a_tooltip(window):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit

    for p in window.panels:
        silent = []
        for cls in (QAbstractSlider, QAbstractSpinBox, QComboBox, QAbstractButton, QLineEdit):
            for c in p.findChildren(cls):
                if c.metaObject().className() == "QScrollBar" or c.objectName().startswith(("qt_", "Scroll")):
                    continue  # Qt's own scroll bars and tab-bar arrows
                if not c.toolTip() and not (c.parent() is not None and c.parent().toolTip()):
                    silent.append(f"{c.metaObject().className()} {c.objectName()!r}")
        assert silent == [], (p.key, silent)


def test_without_a_usable_display_adamlab_says_what_to_do_instead_of_aborting(tmp_path, monkeypatch):
    import ctypes.util

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["ADAMLAB_SETTINGS"] = str(tmp_path / "s.ini")
    r = subprocess.run([sys.executable, "-m", "adamlab"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 1, (r.returncode, r.stderr)  # not 134 (Qt's abort)
    assert r.stderr.count("\n") == 1 and "DISPLAY" in r.stderr and "--screenshot" in r.stderr
    # an X11 display without libxcb-cursor0 (as on a minimal Debian)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    problem = app_mod.display_problem({"DISPLAY": ":0"})
    assert "libxcb-cursor0" in problem and "apt install" in problem
    # a display nobody serves (Qt's own message would blame a missing plugin)
    r = subprocess.run([sys.executable, "-m", "adamlab"], capture_output=True, text=True, timeout=60,
                       env={**env, "DISPLAY": ":97"})
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "cannot connect to the X display ':97'" in r.stderr or "libxcb-cursor0" in r.stderr
    assert app_mod.display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert app_mod.display_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None
