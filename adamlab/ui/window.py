"""AdamLab's main window: a sidebar of panels, menus, a status bar.

It lives apart from :mod:`adamlab.app` so that ``adamlab train`` and ``adamlab --help`` never import Qt.
"""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

from adamlab import __version__
from PySide6.QtCore import QByteArray, QEvent, Qt, Slot  # noqa: E402
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QUndoGroup  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QBoxLayout,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from adamlab.resources import resource_path  # noqa: E402
from adamlab.ui import scenarios, schema  # noqa: E402
from adamlab.ui import settings as settings_mod  # noqa: E402
from adamlab.ui import theme, workers  # noqa: E402
from adamlab.ui.panels import PANEL_KEYS, PANELS  # noqa: E402
from adamlab.ui.panels.base import Panel  # noqa: E402
from adamlab.ui.undo import PanelUndo  # noqa: E402
from adamlab.ui.widgets.dialogs import ask_save_path  # noqa: E402
from adamlab.ui.widgets.plots import export_plot  # noqa: E402


QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's "no limit" for a widget's size


class _Missing(Panel):
    """Shown in place of a panel whose module is not there yet."""

    def __init__(self, key: str, title: str, error: str):
        super().__init__()
        self.key, self.title = key, title
        lay = QHBoxLayout(self)
        label = QLabel(f"<h3>{title}</h3><p>This panel failed to load:</p><pre>{error}</pre>")
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(label)


def _size_sidebar(window: "MainWindow") -> None:
    """The sidebar for the mode: a column on the left, or in presentation mode a strip of big entries across
    the top (a column of 12.5-pt names would take a fifth of a 1024-px projector's width from the plots)."""
    bar, lay = window.sidebar, window.centralWidget().layout()
    present = theme.presentation()
    bar.setStyleSheet(f"#sidebar {{ font-size: {12.5 if present else 11}pt; }} "
                      f"#sidebar::item {{ padding: {'4px 14px' if present else '9px 6px'}; }}")
    bar.setFlow(QListView.Flow.LeftToRight if present else QListView.Flow.TopToBottom)
    bar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff if present else
                                     Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    lay.setDirection(QBoxLayout.Direction.TopToBottom if present else QBoxLayout.Direction.LeftToRight)
    if present:
        bar.setMinimumWidth(0)
        bar.setMaximumWidth(QWIDGETSIZE_MAX)
        bar.setFixedHeight(bar.sizeHintForRow(0) + 2 * bar.frameWidth())
    else:
        bar.setMinimumHeight(0)
        bar.setMaximumHeight(QWIDGETSIZE_MAX)
        bar.setFixedWidth(170)


PANEL_TITLES = {"ema": "EMA", "stepper": "Stepper", "surface": "Arena", "monitor": "Monitor"}

# the input events that begin and end a gesture (see adamlab.ui.undo); a wheel notch is both
_GESTURE_START = {QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick, QEvent.Type.KeyPress,
                  QEvent.Type.Wheel}
_GESTURE_END = {QEvent.Type.MouseButtonRelease, QEvent.Type.KeyRelease, QEvent.Type.Wheel}
_GESTURE = _GESTURE_START | _GESTURE_END


class MainWindow(QMainWindow):
    """The AdamLab window: a sidebar of panels, menus, a status bar. Constructible with no arguments."""

    def __init__(self, panel: str | None = None, theme_name: str | None = None, restore: bool = True,
                 presentation: bool | None = None):
        super().__init__()
        workers.collect_garbage_on_gui_thread()  # Qt objects must never be destroyed by a worker thread's GC
        self.setWindowTitle("AdamLab")
        self.setAcceptDrops(True)
        self.setWindowIcon(QIcon(str(resource_path("adamlab.svg"))))
        self._settings = settings_mod.settings()
        self._restore = restore
        self._closed = False
        self.settings_problems: list[str] = []
        saved_theme = str(self._settings.value("theme", "light")) if restore else "light"
        present = restore and str(self._settings.value("presentation", "false")).lower() == "true"
        theme.apply_theme(theme_name or (saved_theme if saved_theme in theme.THEMES else "light"),
                          presentation=present if presentation is None else presentation)

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        # Big, well-spaced entries: the sidebar is how a lecture audience follows where we are. Its size and
        # style sheet are the mode's (_size_sidebar), not scaled by the theme.
        self.sidebar.setProperty("adamlab_sized", True)
        self.stack = QStackedWidget()
        self.panels: list[Panel] = []
        for i, (key, module, cls) in enumerate(PANELS):
            p = self._make_panel(key, module, cls)
            self.panels.append(p)
            self.stack.addWidget(p)
            self.sidebar.addItem(f"{i + 1}  {p.title}")
            self.sidebar.item(i).setToolTip(f"{p.hint}\n(Ctrl+{i + 1})")
            p.statusMessage.connect(self._show_message)
        central = QWidget()
        lay = QBoxLayout(QBoxLayout.Direction.LeftToRight, central)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.sidebar)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        theme.follow(self, _size_sidebar)
        self.sidebar.currentRowChanged.connect(self._on_row)
        self.recorder = None  # the recording under way (adamlab.ui.record.recorder.Recorder), if any
        self.undo_group = QUndoGroup(self)
        self.last_open_error: str | None = None  # why the last open_path refused its file (one line)
        self._build_menus()
        self._build_record_bar()
        self.statusBar().showMessage("Ready")
        self.resize(1280, 800)
        if restore:
            self._restore_settings()
        # one undo history per panel, starting from the state the panel opened in (see adamlab.ui.undo)
        self.undos = {p.key: PanelUndo(p, self) for p in self.panels}
        for u in self.undos.values():
            self.undo_group.addStack(u.stack)
        self.undo_group.undoTextChanged.connect(lambda text: self._set_undo_text(self.undo_action, "Undo", text))
        self.undo_group.redoTextChanged.connect(lambda text: self._set_undo_text(self.redo_action, "Redo", text))
        start = PANEL_KEYS.index(panel) if panel else (self._saved_index() if restore else 0)
        self.sidebar.setCurrentRow(start)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
            app.installEventFilter(self)  # gestures in any widget of this window (see eventFilter)
        theme.restyle(self)
        if self.settings_problems:  # after the panel's hint, so it is the message the user sees
            self._show_message(f"Some saved settings were ignored: {schema.summary(self.settings_problems)} "
                               "(View ▸ Reset this panel to defaults restores a panel)", 30000)

    # --- panels ---
    def _make_panel(self, key: str, module: str, cls: str) -> Panel:
        try:
            return getattr(importlib.import_module(module), cls)()
        except Exception as exc:  # a broken panel must not take the whole window down
            import traceback

            traceback.print_exc()
            return _Missing(key, key.capitalize(), f"{type(exc).__name__}: {exc}")

    def current_panel(self) -> Panel:
        return self.panels[self.stack.currentIndex()]

    def panel(self, key: str) -> Panel:
        return self.panels[PANEL_KEYS.index(key)]

    def show_panel(self, key: str) -> None:
        self.sidebar.setCurrentRow(PANEL_KEYS.index(key))

    @Slot(int)
    def _on_row(self, row: int) -> None:
        if row < 0:
            return
        self.stack.setCurrentIndex(row)
        undo = getattr(self, "undos", {}).get(self.panels[row].key)
        if undo is not None:
            self.undo_group.setActiveStack(undo.stack)
        self.statusBar().showMessage(self.panels[row].hint)

    @Slot(str)
    def _show_message(self, text: str, ms: int = 8000) -> None:
        self.statusBar().showMessage(text, ms)

    # --- menus ---
    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        self._add(file_menu, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open,
                  "Open a scenario (.adamlab), a GPT checkpoint (.npz) or a run folder's run.json")
        builtins = file_menu.addMenu("&Built-in scenarios")
        for sc in scenarios.builtins():
            self._add(builtins, f"{PANEL_TITLES.get(sc.panel, sc.panel)}: {sc.title or sc.path.stem}",
                      lambda _=False, path=sc.path: self.open_path(path), None,
                      f"Open {sc.path.name} (adamlab --scenario {sc.path.stem})")
        self._add(file_menu, "Open run &folder…", self.open_run_folder_dialog, "Ctrl+Shift+O",
                  "Follow a run folder written by adamlab.watch in your own PyTorch training (GPT monitor)")
        self._add(file_menu, "&Save scenario…", lambda: self.save_scenario_dialog(False),
                  QKeySequence.StandardKey.Save, "Save this panel's settings as a scenario file (.adamlab)")
        self._add(file_menu, "Save &lab…", lambda: self.save_scenario_dialog(True), "Ctrl+Shift+S",
                  "Save every panel's settings, and which panel is shown, as one scenario file (.adamlab)")
        file_menu.addSeparator()
        self._add(file_menu, "Export plot as &PNG…", lambda: self.export_dialog(".png"), "Ctrl+E",
                  "Save the current panel's plot as a PNG image")
        self._add(file_menu, "Export plot as &SVG…", lambda: self.export_dialog(".svg"), None,
                  "Save the current panel's plot as an SVG vector image")
        self._add(file_menu, "Export plot data as &CSV…", lambda: self.export_dialog(".csv"), None,
                  "Save the full data of the current panel's plot (not the downsampled view) as CSV")
        file_menu.addSeparator()
        self.record_action = self._add(file_menu, "&Record…", self.record_dialog, "Ctrl+Shift+R",
                                       "Record the current panel's animation as a GIF or an MP4")
        file_menu.addSeparator()
        self._add(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit, "Close AdamLab")

        edit = mb.addMenu("&Edit")
        # Always enabled: a gesture that has not settled yet is committed when Undo is asked for (see undo())
        self.undo_action = self._add(edit, "&Undo", self.undo, QKeySequence.StandardKey.Undo,
                                     "Undo the last change of this panel's controls")
        self.redo_action = self._add(edit, "&Redo", self.redo, QKeySequence.StandardKey.Redo,
                                     "Redo the change just undone")
        if QKeySequence("Ctrl+Shift+Z") not in self.redo_action.shortcuts():  # (Windows' Redo is Ctrl+Y)
            self.redo_action.setShortcuts([*self.redo_action.shortcuts(), QKeySequence("Ctrl+Shift+Z")])

        view = mb.addMenu("&View")
        group = QActionGroup(self)
        self.theme_actions = {}
        for name in theme.THEMES:
            act = QAction(f"{name.capitalize()} theme", self, checkable=True)
            act.setChecked(name == theme.current())
            act.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            group.addAction(act)
            view.addAction(act)
            self.theme_actions[name] = act
        # F5 starts a slide show in PowerPoint and Impress: the key a lecturer reaches for
        self.presentation_action = self._add(
            view, "&Presentation mode", self.set_presentation, None,
            "Big text, thick lines and high contrast, for a projector (F5 or Ctrl+Shift+P)")
        self.presentation_action.setShortcuts([QKeySequence("F5"), QKeySequence("Ctrl+Shift+P")])
        self.presentation_action.setCheckable(True)
        self.presentation_action.setChecked(theme.presentation())
        view.addSeparator()
        for i, p in enumerate(self.panels):
            self._add(view, f"&{i + 1} {p.title}", lambda _=False, k=p.key: self.show_panel(k), f"Ctrl+{i + 1}",
                      p.hint)
        view.addSeparator()
        self._add(view, "&Reset this panel to defaults", self.reset_current_panel, None,
                  "Put every control of the current panel back to its default")
        self._add(view, "Reset &layout", self.reset_layout, None, "Default window size and panel")

        help_menu = mb.addMenu("&Help")
        self._add(help_menu, "&What am I looking at?", self.show_panel_help, QKeySequence.StandardKey.HelpContents,
                  "A short explanation of the current panel")
        self._add(help_menu, "&About AdamLab", self.show_about, None, "Versions")

    def _add(self, menu, text, slot, shortcut=None, tip="") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setStatusTip(tip)
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    # --- actions ---
    def set_theme(self, name: str) -> None:
        theme.apply_theme(name)  # every window, widget and plot follows (see adamlab.ui.theme)
        self.theme_actions[name].setChecked(True)

    def set_presentation(self, on: bool) -> None:
        """Presentation mode on or off, in the current theme: every window, widget and plot follows."""
        theme.apply_theme(theme.current(), presentation=on)
        self.presentation_action.setChecked(theme.presentation())
        self._show_message("Presentation mode: big text, thick lines (F5 to leave)" if on else
                           "Presentation mode off")

    # --- undo ---
    def current_undo(self) -> PanelUndo:
        return self.undos[self.current_panel().key]

    def undo(self) -> None:
        u = self.current_undo()
        u.commit()  # a drag or a typed value that has not settled yet is the step to undo
        if u.stack.canUndo():
            u.stack.undo()
        else:
            self._show_message(f"{self.current_panel().title}: nothing to undo")

    def redo(self) -> None:
        u = self.current_undo()
        if u.commit():  # a fresh change ends what could be redone
            return
        if u.stack.canRedo():
            u.stack.redo()
        else:
            self._show_message(f"{self.current_panel().title}: nothing to redo")

    @staticmethod
    def _set_undo_text(action: QAction, verb: str, text: str) -> None:
        action.setText(f"&{verb} {text}" if text else f"&{verb}")

    def eventFilter(self, obj, event) -> bool:
        """Gestures in this window's widgets begin and end undo steps (adamlab.ui.undo); nothing is consumed."""
        t = event.type()
        if t in _GESTURE and isinstance(obj, QWidget) and self._owns(obj):
            undo = getattr(self, "undos", {}).get(self.current_panel().key)
            if undo is not None:
                if t in _GESTURE_START:
                    undo.gesture_started(obj)
                if t in _GESTURE_END:
                    undo.gesture_ended()
        return False

    def _owns(self, w: QWidget) -> bool:
        """``w`` is this window or inside it, popups included (a combo box's list is a window of its own)."""
        while w is not None:
            if w is self:
                return True
            w = w.parentWidget()
        return False

    # --- scenarios ---
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open", "", "AdamLab files (*.adamlab *.npz run.json);;Scenarios (*.adamlab);;"
            "GPT checkpoints (*.npz);;A run folder's run.json (run.json);;All files (*)")
        if path:
            self.open_path(path)

    def open_scenario(self, path: str | Path) -> bool:
        """Open a scenario file: check all of it (frame, then every field against its panel's schema), then
        apply it — to one panel, or to every panel it names — as one undoable step each, and show its panel.
        False, with one line in ``last_open_error`` and the status bar, and nothing applied, if anything is
        wrong."""
        try:
            sc = scenarios.read(path)
            clean = self.check_scenario(sc)
        except scenarios.ScenarioError as exc:
            self.last_open_error = str(exc)
            self._show_message(f"Not opened: {exc}", 30000)
            return False
        for key, state in clean.items():
            panel = self.panel(key)
            self.undos[key].record(f"open {sc.name}", lambda p=panel, s=state: p.apply_scenario(s))
        self.show_panel(sc.panel)
        self.last_open_error = None
        what = "the lab" if sc.whole_lab else self.panel(sc.panel).title
        self._show_message(f"Opened {sc.name} ({what}); Edit ▸ Undo goes back")
        return True

    def check_scenario(self, sc: scenarios.Scenario) -> dict[str, dict]:
        """Every panel state of ``sc`` checked field by field: {panel: clean state}, or ScenarioError naming the
        first bad field (and how many more there are)."""
        clean, problems = {}, []
        for key, state in sc.states.items():
            panel = self.panel(key)
            if isinstance(panel, _Missing):
                problems.append(f"{key}: the panel failed to load")
                continue
            state = dict(state)
            if (sc.path is not None and key == "surface" and "preset" not in state
                    and sc.path.resolve().parent == scenarios.builtin_dir().resolve()):
                state["preset"] = sc.path.stem  # a built-in scenario: the picker shows it and tells its story
            elif key == "surface" and key == sc.panel and (sc.title or sc.text) and not state.get("preset"):
                state.setdefault("story", {"title": sc.title, "text": sc.text})  # the file's own story, shown
            shape = panel.state_schema()
            ok, found = (state, []) if shape is None else schema.check(shape, state)
            clean[key] = ok
            problems += [f"{key}.{p}" for p in found]
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise scenarios.ScenarioError(f"{sc.name}: {problems[0]}{more}")
        return clean

    def save_scenario_dialog(self, whole_lab: bool) -> None:
        key = self.current_panel().key
        default = "lab.adamlab" if whole_lab else f"{key}.adamlab"
        path = ask_save_path(self, "Save lab" if whole_lab else "Save scenario", default,
                             "AdamLab scenario (*.adamlab)", ".adamlab")
        if path:
            self.save_scenario(path, whole_lab)

    def save_scenario(self, path: str | Path, whole_lab: bool = False) -> Path | None:
        """Write the current panel's settings (``whole_lab``: every panel's, and which is shown) to ``path``
        atomically. The written path, or None after saying why it could not be written."""
        current = self.current_panel().key
        panels = self.panels if whole_lab else [self.current_panel()]
        states = {p.key: p.get_state() for p in panels if not isinstance(p, _Missing)}
        out = self._write("Save", "save", path, lambda: scenarios.write(path, states, current, whole_lab))
        if out is not None:
            self._show_message(f"Saved {'the lab' if whole_lab else self.current_panel().title} to {out}")
        return out

    def _write(self, title: str, verb: str, path, write):
        """``write()``'s result, or None after telling the user why ``path`` could not be written."""
        try:
            return write()
        except (OSError, ValueError) as exc:
            self._show_message(f"{title} failed: {exc}")
            QMessageBox.warning(self, f"{title} failed", f"Could not {verb} to {path}:\n{exc}")
            return None

    def open_run_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a run folder (written by adamlab.watch)")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open what ``path`` is: a scenario (.adamlab: see ``open_scenario``), a watched run's folder (or a file
        in it) or a GPT checkpoint (.npz) in the monitor. False, with a message, for anything else."""
        p = Path(path)
        if scenarios.is_scenario_path(p):
            return self.open_scenario(p)
        self.last_open_error = None
        monitor = self.panel("monitor")
        if ((p if p.is_dir() else p.parent) / "run.json").is_file() and p.suffix.lower() != ".npz":
            self.show_panel("monitor")
            return self._opened(monitor, monitor.open_run_folder(p))
        if p.suffix.lower() == ".npz" and p.is_file():
            self.show_panel("monitor")
            return self._opened(monitor, monitor.load_run(p))
        if p.is_dir():
            self.last_open_error = f"{p} is not a run folder (no run.json: write one with adamlab.watch)"
        else:
            self.last_open_error = (f"AdamLab cannot open {p.name}: a scenario (.adamlab), a run folder or a "
                                    "checkpoint (.npz) is expected")
        self._show_message(f"{self.last_open_error}.")
        return False

    def _opened(self, monitor, run) -> bool:
        """True if the monitor opened the run; else its one-line reason becomes ``last_open_error``."""
        if run is None:
            self.last_open_error = getattr(monitor, "last_error", None) or "the monitor could not open it"
        return run is not None

    # drag-and-drop: a scenario, a run folder or a checkpoint dropped anywhere on the window
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and all(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            self.open_path(url.toLocalFile())
        event.acceptProposedAction()

    def export_dialog(self, ext: str) -> None:
        plots = self.current_panel().plots()
        if not plots:
            self._show_message("This panel has no plot to export.")
            return
        name = next(iter(plots))
        if len(plots) > 1:
            name, ok = QInputDialog.getItem(self, "Export plot", "Which plot?", list(plots), 0, False)
            if not ok:
                return
        filters = {".png": "PNG image (*.png)", ".svg": "SVG image (*.svg)", ".csv": "CSV data (*.csv)"}
        default = f"adamlab-{self.current_panel().key}-{name.lower().replace(' ', '-')}{ext}"
        path = ask_save_path(self, "Export plot", default, filters[ext], ext)
        if path:
            self.export_plot(name, path)

    def export_plot(self, name: str, path: str) -> Path | None:
        """Export the current panel's plot ``name`` to ``path`` (format from the extension).

        Returns the written path, or None after telling the user why it could not be written."""
        plots = self.current_panel().plots()
        out = self._write("Export", "export", path, lambda: export_plot(plots[name], path))
        if out is not None:
            self._show_message(f"Exported {name} to {out}")
        return out

    # --- recording (adamlab.ui.record) ---
    def record_dialog(self) -> None:
        """File ▸ Record…: choose what and how, then where; the recording runs while the window stays usable."""
        from adamlab.ui.record import encode

        if self.recorder is not None:
            self._show_message("A recording is already under way: cancel it first (status bar).")
            return
        if all(encode.missing(fmt) for fmt in encode.FORMATS):
            self._show_message(f"Recording needs Pillow (GIF) or imageio-ffmpeg (MP4): {encode.INSTALL_HINT}")
            return
        panel = self.current_panel()
        if not panel.animations():
            self._show_message(f"{panel.title} has nothing to animate.")
            return
        from adamlab.ui.record.dialog import RecordDialog

        dlg = RecordDialog(panel, self)
        if dlg.exec() != RecordDialog.DialogCode.Accepted:
            return
        key, fmt, settings = dlg.choice()
        filters = {"gif": "GIF animation (*.gif)", "mp4": "MP4 video (*.mp4)"}
        path = ask_save_path(self, "Record", f"adamlab-{panel.key}-{key}.{fmt}", filters[fmt], f".{fmt}")
        if path:
            self.start_recording(key, path, settings)

    def start_recording(self, key: str, path: str | Path, settings) -> bool:
        """Record the current panel's animation ``key`` to ``path`` with a progress bar and Cancel in the
        status bar. False, with a message, if it cannot start."""
        from adamlab.ui.record.recorder import Recorder

        panel = self.current_panel()
        try:
            rec = Recorder(panel, panel.animations()[key], path, settings)
            rec.start()
        except (OSError, ValueError, KeyError) as exc:
            self._show_message(f"Cannot record: {exc}")
            return False
        self.recorder = rec
        bar, cancel = self._record_bar
        bar.setRange(0, 2 * rec.total)  # grabbing, then encoding
        bar.setValue(0)
        bar.setFormat(f"Recording {Path(path).name}: %p%")
        for w in (bar, cancel):
            w.show()
        rec.progress.connect(lambda done, total, phase: bar.setValue(done + (total if phase == "encoding" else 0)))
        rec.finished.connect(lambda out: self._recording_over(f"Saved {out} ({rec.total} frames, "
                                                              f"{settings.size[0]}×{settings.size[1]})"))
        rec.failed.connect(lambda m: self._recording_over(f"Recording failed: {m}"))
        rec.cancelled.connect(lambda: self._recording_over("Recording cancelled: nothing was written"))
        return True

    def cancel_recording(self) -> None:
        if self.recorder is not None:
            self.recorder.cancel()

    def _recording_over(self, message: str) -> None:
        self.recorder = None
        for w in self._record_bar:
            w.hide()
        self._show_message(message, 15000)

    def _build_record_bar(self) -> None:
        """A progress bar and Cancel, at the right of the status bar, shown while a recording runs."""
        from PySide6.QtWidgets import QProgressBar, QToolButton

        bar = QProgressBar()
        bar.setMaximumWidth(260)
        cancel = QToolButton()
        cancel.setText("Cancel")
        cancel.setToolTip("Stop recording; nothing is written")
        cancel.clicked.connect(self.cancel_recording)
        for w in (bar, cancel):
            self.statusBar().addPermanentWidget(w)
            w.hide()
        self._record_bar = (bar, cancel)

    def reset_current_panel(self) -> None:
        p = self.current_panel()
        self.undos[p.key].record("reset to defaults", p.reset_defaults)
        self._show_message(f"{p.title}: reset to defaults")

    def reset_layout(self) -> None:
        self.showNormal()
        self.resize(1280, 800)
        self.show_panel(PANEL_KEYS[0])

    def show_panel_help(self) -> None:
        p = self.current_panel()
        box = QMessageBox(self)
        box.setWindowTitle(f"What am I looking at? — {p.title}")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(p.help_html or f"<b>{p.title}</b>")
        box.exec()

    def about_text(self) -> str:
        import numpy
        import pyqtgraph
        import PySide6
        from PySide6.QtCore import qVersion

        return (f"<b>AdamLab {__version__}</b><p>A desktop visual laboratory for the Adam optimizer.</p>"
                f"<p>Python {platform.python_version()}<br>Qt {qVersion()} · PySide6 {PySide6.__version__}<br>"
                f"pyqtgraph {pyqtgraph.__version__} · NumPy {numpy.__version__}</p>")

    def show_about(self) -> None:
        QMessageBox.about(self, "About AdamLab", self.about_text())

    # --- persistence ---
    def _saved_index(self) -> int:
        try:
            return min(max(int(self._settings.value("panel", 0)), 0), len(self.panels) - 1)
        except (TypeError, ValueError):
            return 0

    def _restore_settings(self) -> None:
        geometry = self._settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        problems = []
        for p in self.panels:
            state, problem = settings_mod.load_json_checked(self._settings, f"panels/{p.key}")
            if problem:
                problems.append(f"{p.key}: {problem}")
            if state:
                try:
                    problems += p.restore(state)  # checked field by field: bad fields are left out
                except Exception as exc:  # a stale setting must never stop the app
                    problems.append(f"{p.key}: {type(exc).__name__}: {exc}" if str(exc) else
                                    f"{p.key}: {type(exc).__name__}")
        self.settings_problems = problems
        if problems:  # said once: the settings saved at close are the clean ones
            message = f"Some saved settings were ignored: {schema.summary(problems)}"
            print(f"adamlab: {message}", file=sys.stderr)

    def save_settings(self) -> None:
        s = self._settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("theme", theme.current())
        s.setValue("presentation", theme.presentation())
        s.setValue("panel", self.stack.currentIndex())
        for p in self.panels:
            try:
                settings_mod.save_json(s, f"panels/{p.key}", p.get_state())
            except Exception as exc:  # one panel's trouble must not lose the others' settings
                print(f"adamlab: could not save the settings of {p.key}: {exc!r}", file=sys.stderr)
        s.sync()

    # --- shutdown ---
    @Slot()
    def shutdown(self) -> None:
        """Stop every panel's workers and timers, then any thread still registered. Idempotent."""
        self.cancel_recording()  # an unfinished recording leaves nothing behind
        for u in getattr(self, "undos", {}).values():
            u.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        for p in self.panels:
            p.shutdown()
        workers.stop_all()

    def closeEvent(self, event) -> None:
        if not self._closed:
            self._closed = True
            self.cancel_recording()  # first: the animation puts back what it changed before it is saved
            try:
                if self._restore:
                    self.save_settings()
            finally:  # whatever a panel's get_state does, its workers must stop
                self.shutdown()
        super().closeEvent(event)
