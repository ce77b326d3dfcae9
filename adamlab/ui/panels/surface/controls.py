"""The arena's control column (``ArenaControls``): every setting of a race, and the plain scene built from them.

Top to bottom: the scenario picker and its story; the surface (with κ and angle for the ill-conditioned
bowl) and the start θ₀; then four tabs — Racers (``racers.RacerList``: the optimizers), Run (steps, lr schedule,
noise seed, animation speed, gradient noise σ, tolerance; the swarm of starts), Tune (``tuning.TuneControls``:
fair races) and Arrows (whose arrows to draw at the current point). It scrolls, so it fits a 1024×700 window.

A scenario's paragraph describes its scene: once the surface is changed by hand it says so ("custom scene")
instead of telling a story that no longer applies. Every box says so when a typed value is outside its range
(``clamped``: the panel shows it in the status bar), never clamping it silently.

The column knows nothing of drawing or of workers: it emits signals (``changed`` for anything a race
depends on, ``overlayChanged`` for the arrows, and one each for a picked surface or scenario, a typed or
reset start and a refused input) and builds the plain dicts the rest of the arena works with —
``scene(record)`` for the race (see ``race.run_scene``), ``state()`` / ``load(state)`` for the saved
settings and presets.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from adamlab.core.schedules import LABELS as SCHEDULE_LABELS
from adamlab.core.surfaces import SURFACES, Surface
from adamlab.ui import theme
from adamlab.ui.panels.surface.map_view import ARROWS
from adamlab.ui.panels.surface.presets import PRESETS
from adamlab.ui.panels.surface.race import make_surface
from adamlab.ui.panels.surface.racers import RacerList, RacerSchema
from adamlab.ui.schema import Bool, Choice, Fields, Point, Seq, Text
from adamlab.ui.panels.surface.tuning import TuneControls
from adamlab.ui.widgets import symbols
from adamlab.ui.widgets.controls import FloatSlider, IntSpinBox
from adamlab.ui.widgets.stateschema import of

SPEEDS = [1, 2, 5, 10, 25, 50]  # animation steps per frame
LEFT_WIDTH = (248, 280)  # the column's minimum and maximum width (px)


def as_float(value: Any, name: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    """Parse user input as a finite float in [lo, hi], else ValueError naming ``name`` and the range."""
    try:
        x = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(x) and lo <= x <= hi):
        raise ValueError(f"{name} must be a finite number in [{lo:g}, {hi:g}], got {value!r}")
    return x


class ArenaControls(QScrollArea):
    """The scrolling control column. ``start`` is θ₀ (the map's handle shows it too); the optimizers are in
    ``racers``."""

    changed = Signal()  # a race setting changed: recompute the race
    overlayChanged = Signal()  # whose arrows, which arrows: redraw the current frame
    surfaceChosen = Signal()  # another surface was picked
    bowlChanged = Signal()  # the ill-conditioned bowl's κ or angle moved (while it is the surface)
    presetChosen = Signal(str)  # a scenario was picked: its key
    startTyped = Signal(float, float)  # a valid start was typed
    startReset = Signal()  # back to the surface's own start
    inputError = Signal(str)  # a typed value was refused: the message
    clamped = Signal(str)  # a typed value was outside its box's range and set to the limit: the message

    def __init__(self, racers: RacerList) -> None:
        super().__init__()
        self.racers = racers
        self.start: tuple[float, float] = SURFACES["rosenbrock"].start
        self.tune = TuneControls()
        self._build_widgets()
        self._lay_out()
        racers.namesChanged.connect(self._refresh_optimizer_combos)
        racers.changed.connect(self.changed)

    def _build_widgets(self) -> None:
        # scenario
        self.preset_combo = QComboBox()
        self.preset_combo.addItem(self.PICK, "")
        for key, p in PRESETS.items():
            self.preset_combo.addItem(p["title"], key)
        self.preset_combo.setToolTip("One-click scenes that each tell one story about Adam")
        self.preset_combo.activated.connect(self._on_preset)
        self._story: dict | None = None  # a scenario file's own title and text, while it describes the scene
        self.preset_text = QLabel("")
        self.preset_text.setWordWrap(True)
        self.preset_text.setObjectName("presetText")

        # surface
        self.surface_combo = QComboBox()
        for name, s in SURFACES.items():
            self.surface_combo.addItem(s.label if name != "ill_conditioned" else "Ill-conditioned bowl", name)
            self.surface_combo.setItemData(self.surface_combo.count() - 1, symbols.tooltip(s.description),
                                           Qt.ItemDataRole.ToolTipRole)
        self.surface_combo.setToolTip("The loss function f(x, y) the optimizers minimise")
        self.surface_combo.currentIndexChanged.connect(self._on_surface)
        self.surface_desc = QLabel("")
        self.surface_desc.setWordWrap(True)
        self.cond_slider = FloatSlider("κ", 1.0, 1000.0, 10.0, scale="log", decimals=1,
                                       tooltip="Condition number: the bowl is κ times steeper across than along "
                                               "(Hessian eigenvalues 2 and 2/κ)")
        self.angle_slider = FloatSlider("θ°", -90.0, 90.0, 30.0, decimals=0,
                                        tooltip="Rotation of the bowl's long axis. Adam rescales x and y separately: "
                                                "it fixes an axis-aligned bowl (θ = 0) but not a rotated one")
        self.cond_slider.valueChanged.connect(self._on_bowl)
        self.angle_slider.valueChanged.connect(self._on_bowl)
        self.start_x, self.start_y = QLineEdit(), QLineEdit()
        for e, ax in ((self.start_x, "x"), (self.start_y, "y")):
            e.setToolTip(f"Start θ₀ ({ax}); or drag the ⊕ handle / click on the map")
            e.editingFinished.connect(self._on_start_typed)
        self.start_reset = QToolButton()
        self.start_reset.setText("↺")
        self.start_reset.setToolTip("Back to the surface's default start")
        self.start_reset.clicked.connect(self._on_start_reset)

        # run
        self.steps_spin = IntSpinBox()
        self.steps_spin.what = "steps"
        self.steps_spin.setRange(1, 5000)
        self.steps_spin.setSingleStep(50)
        self.steps_spin.setKeyboardTracking(False)
        self.steps_spin.setToolTip("Number of optimizer steps t = 1 … T")
        self.steps_spin.valueChanged.connect(self._on_changed)
        self.noise_slider = FloatSlider("σ", 0.0, 50.0, 0.0, decimals=2,
                                        tooltip="Gradient noise: each step sees g + σ·z, z ~ N(0, I) "
                                                "(a stand-in for mini-batch noise); all optimizers get the same z")
        self.noise_slider.valueChanged.connect(self._on_changed)
        self.seed_spin = IntSpinBox()
        self.seed_spin.what = "noise seed"
        self.seed_spin.setRange(0, 1_000_000)
        self.seed_spin.setKeyboardTracking(False)
        self.seed_spin.setToolTip("Seed of the gradient noise: same seed, same noise")
        self.seed_spin.valueChanged.connect(self._on_changed)
        self.schedule_combo = QComboBox()
        for name, label in SCHEDULE_LABELS.items():
            self.schedule_combo.addItem(label, name)
        self.schedule_combo.setToolTip("Learning-rate schedule lr(t), applied to every optimizer from its own lr "
                                       "(warmup + cosine warms up over the first 10% of the steps)")
        self.schedule_combo.currentIndexChanged.connect(self._on_changed)
        self.tol_spin = FloatSlider("tol", 1e-4, 0.2, 0.01, scale="log", decimals=4,
                                    tooltip="'Reached the minimum' = within tol × (view width) of it "
                                            "(results table, steps→tol)")
        self.tol_spin.valueChanged.connect(self._on_changed)
        self.speed_combo = QComboBox()  # read by the animation on every tick
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s} step{'s' if s > 1 else ''} / frame", s)
        self.speed_combo.setToolTip("Animation speed: optimizer steps drawn per frame (30 frames a second)")

        # swarm
        self.swarm_check = QCheckBox("Swarm: a grid of starts for")
        self.swarm_check.setToolTip("Run one optimizer from every point of a grid and colour each start by the "
                                    "minimum it ends in: its basins of attraction (grey: none, dark red: diverged)")
        self.swarm_check.toggled.connect(self._on_changed)
        self.swarm_combo = QComboBox()
        self.swarm_combo.setToolTip("The optimizer the swarm runs (with its hyperparameters from the list)")
        self.swarm_combo.currentIndexChanged.connect(self._on_changed)
        self.swarm_n = IntSpinBox()
        self.swarm_n.what = "swarm grid"
        self.swarm_n.setRange(4, 40)
        self.swarm_n.setValue(15)
        self.swarm_n.setKeyboardTracking(False)
        self.swarm_n.setToolTip("Grid size: n × n starts")
        self.swarm_n.valueChanged.connect(self._on_changed)
        for w in (self.steps_spin, self.seed_spin, self.swarm_n, self.noise_slider, self.tol_spin, self.cond_slider,
                  self.angle_slider, self.racers, self.tune):
            w.clamped.connect(self.clamped)

        # overlays
        self.overlay_combo = QComboBox()
        self.overlay_combo.setToolTip("Whose gradient, momentum and step to draw at the current point")
        self.overlay_combo.currentIndexChanged.connect(self._on_overlay_changed)
        self.arrow_checks = {}
        for key, (label, _, _) in ARROWS.items():
            box = QCheckBox(label.split(" (")[0])
            box.setChecked(True)
            box.setToolTip(label)
            box.toggled.connect(self._on_overlay_changed)
            self.arrow_checks[key] = box
        self.readout_hint = QLabel(symbols.rich(
            "Dashed: −∇f, the descent direction. Dotted: −m̂, Adam's momentum. Solid: Δθ, the step actually taken. "
            "The arrows show directions only; the line under the map gives their sizes (Δθ/lr ≈ ±1 per axis is "
            "Adam's sign-like step)."))
        self.readout_hint.setWordWrap(True)
        self.readout_hint.setMinimumWidth(60)

    def _lay_out(self) -> None:
        """Scenario and surface on top, the rest in tabs; narrow enough for the map to be the hero."""
        # Line edits and combos would otherwise ask for ~150 px each and widen the whole column.
        for e in (self.start_x, self.start_y):
            e.setMinimumWidth(40)
            theme.sized(e, setMaximumWidth=70)
        for c in (self.preset_combo, self.surface_combo, self.schedule_combo, self.swarm_combo,
                  self.overlay_combo, self.speed_combo):
            c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            c.setMinimumContentsLength(8)
        self.preset_text.setMinimumWidth(60)
        self.surface_desc.setMinimumWidth(60)
        self.preset_text.setStyleSheet("color: palette(text);")

        start_row = hrow("start x", self.start_x, "y", self.start_y, self.start_reset)
        start_row.addStretch(1)
        run_form = QFormLayout()
        run_form.setContentsMargins(0, 0, 0, 0)
        run_form.addRow("steps", self.steps_spin)
        run_form.addRow("schedule", self.schedule_combo)
        run_form.addRow("noise seed", self.seed_spin)
        run_form.addRow("speed", self.speed_combo)
        overlay_col = QVBoxLayout()
        overlay_col.setSpacing(2)
        for box in self.arrow_checks.values():
            overlay_col.addWidget(box)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.racers, "Racers")
        self.tabs.addTab(page(group("Run", run_form, self.noise_slider, self.tol_spin),
                              group("Swarm", self.swarm_check, hrow(self.swarm_combo, "n", self.swarm_n))), "Run")
        self.tabs.addTab(self.tune, "Tune")
        self.tabs.addTab(page(group("Arrows at the current point", hrow("for", self.overlay_combo), overlay_col),
                              self.readout_hint), "Arrows")
        self.tabs.setTabToolTip(0, "Which optimizers race, and their hyperparameters")
        self.tabs.setTabToolTip(1, "Steps, lr schedule, gradient noise, tolerance, animation speed; swarm of starts")
        self.tabs.setTabToolTip(2, "Fair races: search each optimizer's best lr on this scene, then race them")
        self.tabs.setTabToolTip(3, symbols.tooltip("Arrows for −∇f, −m̂ and the step Δθ of one optimizer at the "
                                                   "current step"))

        column = QWidget()
        col = QVBoxLayout(column)
        col.setContentsMargins(2, 2, 2, 2)
        col.setSpacing(4)
        col.addWidget(group("Scenario", self.preset_combo, self.preset_text))
        col.addWidget(group("Surface", self.surface_combo, self.surface_desc, self.cond_slider, self.angle_slider,
                            start_row))
        col.addWidget(self.tabs)
        col.addStretch(1)
        self.setWidget(column)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        theme.sized(self, setMinimumWidth=LEFT_WIDTH[0], setMaximumWidth=LEFT_WIDTH[1])

    # ------------------------------------------------------------------------------------------------------
    # what the controls say

    def surface(self) -> Surface:
        return make_surface({"surface": self.surface_combo.currentData(), "condition": self.cond_slider.value(),
                             "angle": self.angle_slider.value()})

    def steps(self) -> int:
        return self.steps_spin.value()

    def race_settings(self) -> dict[str, Any]:
        """The controls every race depends on (shared by the scene and the saved settings)."""
        return {
            "surface": self.surface_combo.currentData(),
            "condition": self.cond_slider.value(),
            "angle": self.angle_slider.value(),
            "start": list(self.start),
            "steps": self.steps_spin.value(),
            "noise": self.noise_slider.value(),
            "seed": self.seed_spin.value(),
            "schedule": self.schedule_combo.currentData(),
            "tol": self.tol_spin.value(),
        }

    def scene(self, record: bool = False) -> dict:
        """The plain scene a race runs (see race.run_scene); ``record``: with per-step records (arrows)."""
        opts = self.racers.specs()
        scene = {
            **self.race_settings(),
            "optimizers": opts,
            "record": record,
            "swarm": None,
        }
        if self.swarm_check.isChecked():
            name = self.swarm_combo.currentText()
            match = [o for o in opts if o["name"] == name]
            if match:
                scene["swarm"] = {"name": name, "kind": match[0]["kind"], "hyper": match[0]["hyper"],
                                  "n": self.swarm_n.value()}
        return scene

    def overlay_target(self) -> str:
        """The name of the optimizer whose arrows are drawn ("(none)" for none)."""
        return self.overlay_combo.currentText()

    def arrows_shown(self) -> set[str]:
        """The ARROWS keys whose box is ticked."""
        return {key for key, box in self.arrow_checks.items() if box.isChecked()}

    # ------------------------------------------------------------------------------------------------------
    # the start and the surface

    def set_start(self, x: float, y: float) -> None:
        self.start = (float(x), float(y))
        self.show_start()

    def show_start(self) -> None:
        for e, v in ((self.start_x, self.start[0]), (self.start_y, self.start[1])):
            e.setText(f"{v:.4g}")
            e.setStyleSheet("")

    def show_surface(self, s: Surface, new_start: bool) -> None:
        """Show surface ``s``'s description (and the bowl's sliders for the bowl); ``new_start``: start at its
        own start."""
        is_bowl = s.name == "ill_conditioned"
        self.cond_slider.setVisible(is_bowl)
        self.angle_slider.setVisible(is_bowl)
        self.surface_desc.setText(symbols.tooltip(s.description))
        if new_start:
            self.start = s.start
            self.show_start()

    @Slot()
    def _on_start_typed(self) -> None:
        try:
            x = as_float(self.start_x.text(), "start x", -self.START_RANGE, self.START_RANGE)
            y = as_float(self.start_y.text(), "start y", -self.START_RANGE, self.START_RANGE)
        except ValueError as exc:
            for e in (self.start_x, self.start_y):
                e.setStyleSheet("background: #FFD6D6; color: #000000;")
            self.inputError.emit(str(exc))
            return
        self.startTyped.emit(x, y)

    @Slot()
    def _on_start_reset(self, *_) -> None:
        self.startReset.emit()

    @Slot(int)
    def _on_surface(self, *_) -> None:
        self.mark_custom()
        self.surfaceChosen.emit()

    CUSTOM = "(custom scene)"
    PICK = "(choose a scenario…)"
    YOURS = "(your scenario)"  # a scenario file with a story but no title

    def mark_custom(self) -> None:
        """The surface was changed by hand: the scenario's story no longer describes what is on screen."""
        key = self.preset_combo.currentData()
        if not key and not self._story:
            return
        title = PRESETS[key]["title"] if key else self._story["title"] or self.YOURS
        self._story = None
        with QSignalBlocker(self.preset_combo):
            self.preset_combo.setItemText(0, self.CUSTOM)
            self.preset_combo.setCurrentIndex(0)
        self.preset_text.setText(symbols.rich_from_plain(
            f"Custom scene: you changed the surface, so the story of “{title}” no longer describes it. Pick a "
            "scenario above to load one again."))

    @Slot(float)
    def _on_bowl(self, *_) -> None:
        if self.surface_combo.currentData() == "ill_conditioned":
            self.bowlChanged.emit()

    @Slot(int)
    def _on_preset(self, index: int) -> None:
        key = self.preset_combo.itemData(index)
        if key:
            self.presetChosen.emit(key)

    @Slot()
    def _on_changed(self, *_) -> None:
        self.changed.emit()

    @Slot()
    def _on_overlay_changed(self, *_) -> None:
        self.overlayChanged.emit()

    def _refresh_optimizer_combos(self) -> None:
        """Keep the overlay and swarm pickers in step with the list, preserving their choice by name."""
        entries = self.racers.entries
        names = [e["name"] for e in entries]
        for combo, enabled_only in ((self.overlay_combo, True), (self.swarm_combo, False)):
            current = combo.currentText()
            with QSignalBlocker(combo):
                combo.clear()
                if combo is self.overlay_combo:
                    combo.addItem("(none)")
                for e in entries:
                    if e["enabled"] or not enabled_only:
                        combo.addItem(e["name"])
                i = combo.findText(current)
                combo.setCurrentIndex(i if i >= 0 else (min(1, combo.count() - 1) if names else 0))

    # ------------------------------------------------------------------------------------------------------
    # saved settings and presets

    def state(self) -> dict[str, Any]:
        """The column's settings as a JSON-able dict (the panel adds its own)."""
        return {
            **self.race_settings(),
            "optimizers": self.racers.state(),
            "speed": self.speed_combo.currentData(),
            "swarm": {"enabled": self.swarm_check.isChecked(), "optimizer": self.swarm_combo.currentText(),
                      "n": self.swarm_n.value()},
            "overlay": {"target": self.overlay_combo.currentText(),
                        **{k: b.isChecked() for k, b in self.arrow_checks.items()}},
            "preset": self.preset_combo.currentData() or "",
            "tune": self.tune.state(),
            **({"story": dict(self._story)} if self._story else {}),
        }

    START_RANGE = 1e6  # a start typed or saved farther out than this is refused

    def schema(self) -> Fields:
        """What ``state()`` may hold, field by field (adamlab.ui.schema; ranges read off the controls): a saved
        start of 1e40 or a list of 10,000 optimizers is refused before a widget sees it."""
        return Fields({
            "surface": Choice(list(SURFACES)), "condition": of(self.cond_slider), "angle": of(self.angle_slider),
            "start": Point(-self.START_RANGE, self.START_RANGE), "steps": of(self.steps_spin),
            "noise": of(self.noise_slider), "seed": of(self.seed_spin), "schedule": of(self.schedule_combo),
            "tol": of(self.tol_spin), "optimizers": Seq(RacerSchema(), self.racers.MAX_ENTRIES),
            "speed": Choice(SPEEDS),
            "swarm": Fields({"enabled": Bool(), "optimizer": Text(80), "n": of(self.swarm_n)}),
            "overlay": Fields({"target": Text(80), **{k: Bool() for k in self.arrow_checks}}),
            "preset": Choice(["", *PRESETS]), "tune": self.tune.schema(),
            "story": Fields({"title": Text(4000), "text": Text(4000)}),  # a scenario file's own (not built in)
        })

    def load(self, state: dict) -> None:
        """Set the controls from ``state`` (see ``state``); missing, unknown or invalid entries are ignored.

        The controls emit their signals as they change; the panel ignores them until the whole state is in.
        """
        def num(key, lo, hi, cast=float):
            v = state.get(key)
            try:
                v = cast(v)
            except (TypeError, ValueError, OverflowError):
                return None
            return v if lo <= v <= hi else None

        name = state.get("surface")
        if name in SURFACES:
            with QSignalBlocker(self.surface_combo):
                self.surface_combo.setCurrentIndex(self.surface_combo.findData(name))
        for key, slider in (("condition", self.cond_slider), ("angle", self.angle_slider),
                            ("noise", self.noise_slider), ("tol", self.tol_spin)):
            v = num(key, slider._min, slider._max)
            if v is not None:
                slider.setValue(v)
        for key, spin in (("steps", self.steps_spin), ("seed", self.seed_spin)):
            v = num(key, spin.minimum(), spin.maximum(), int)
            if v is not None:
                spin.setValue(v)
        i = self.schedule_combo.findData(state.get("schedule"))
        if i >= 0:
            self.schedule_combo.setCurrentIndex(i)
        start = state.get("start")
        try:
            sx, sy = (float(v) for v in start)
            if not (abs(sx) <= self.START_RANGE and abs(sy) <= self.START_RANGE):  # NaN fails too
                raise ValueError
            self.start = (sx, sy)
        except (TypeError, ValueError, OverflowError):
            self.start = self.surface().start
        self.show_start()
        self.racers.load(state.get("optimizers"))
        speed = state.get("speed")
        if speed in SPEEDS:
            self.speed_combo.setCurrentIndex(SPEEDS.index(speed))
        swarm = state.get("swarm")
        if isinstance(swarm, dict):
            self.swarm_check.setChecked(bool(swarm.get("enabled", False)))
            i = self.swarm_combo.findText(str(swarm.get("optimizer", "")))
            if i >= 0:
                self.swarm_combo.setCurrentIndex(i)
            try:
                self.swarm_n.setValue(int(swarm.get("n", 15)))
            except (TypeError, ValueError, OverflowError):
                pass
        overlay = state.get("overlay")
        if isinstance(overlay, dict):
            i = self.overlay_combo.findText(str(overlay.get("target", "")))
            if i >= 0:
                self.overlay_combo.setCurrentIndex(i)
            for k, box in self.arrow_checks.items():
                if isinstance(overlay.get(k), bool):
                    box.setChecked(overlay[k])
        self.tune.load(state.get("tune"))
        key = state.get("preset", "")
        story = state.get("story") if key not in PRESETS else None
        story = story if isinstance(story, dict) and (story.get("title") or story.get("text")) else None
        self._story = {"title": str(story.get("title", "")), "text": str(story.get("text", ""))} if story else None
        i = self.preset_combo.findData(key) if key else 0
        with QSignalBlocker(self.preset_combo):
            # a scenario file's own title stands where the picker's name would (item 0 is "no built-in one")
            self.preset_combo.setItemText(0, self._story["title"] or self.YOURS if self._story else self.PICK)
            self.preset_combo.setCurrentIndex(max(i, 0))
        if key in PRESETS:
            self.preset_text.setText(symbols.rich(PRESETS[key]["text"]))
        elif self._story:  # the file's words are plain text: "<" is a less-than, not markup
            self.preset_text.setText(symbols.rich_from_plain(self._story["text"]) if self._story["text"] else "")
        else:
            self.preset_text.setText("Pick a scenario above, or drag the start ⊕ on the map.")


# ----------------------------------------------------------------------------------------------------------
# layout helpers: rows of widgets and layouts, top to bottom


def _stack(lay: QVBoxLayout, rows) -> None:
    for r in rows:  # widgets and layouts, top to bottom
        if isinstance(r, QWidget):
            lay.addWidget(r)
        else:
            lay.addLayout(r)


def group(title: str, *rows) -> QGroupBox:
    box = QGroupBox(title)
    lay = QVBoxLayout(box)
    lay.setContentsMargins(6, 4, 6, 6)
    lay.setSpacing(3)
    _stack(lay, rows)
    return box


def hrow(*widgets) -> QHBoxLayout:
    """A row of widgets; a string becomes a label."""
    lay = QHBoxLayout()
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(4)
    for w in widgets:
        lay.addWidget(w) if isinstance(w, QWidget) else lay.addWidget(QLabel(w))
    return lay


def page(*rows) -> QWidget:
    """A tab page: the rows at the top, the rest empty."""
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(2, 4, 2, 2)
    lay.setSpacing(4)
    _stack(lay, rows)
    lay.addStretch(1)
    return w
