"""File ▸ Record…: what to film on the current panel, as a GIF or an MP4, how wide, how many frames a second
and for how long. The height follows the panel's shape (the film is the panel as it is on screen, scaled).
A format whose library is missing is disabled and says what to install."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
)

from adamlab.ui.record.encode import FORMATS, GIF_MAX_FPS, missing
from adamlab.ui.record.recorder import MAX_FPS, MAX_SECONDS, MAX_SIZE, MIN_SIZE, Settings, check_settings

DEFAULT_FPS = {"gif": 15, "mp4": 30}  # a GIF at 15 fps stays small enough for a README; a lecture video is smooth


def even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


class RecordDialog(QDialog):
    """Choose the animation, format, width, fps and length. ``choice()`` after ``exec()`` accepted."""

    def __init__(self, panel, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Record — {panel.title}")
        self.panel = panel
        self.aspect = panel.height() / max(panel.width(), 1)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        lay.addLayout(form)

        self.what = QComboBox()
        for key, anim in panel.animations().items():
            self.what.addItem(anim.title, key)
            self.what.setItemData(self.what.count() - 1, anim.tip, Qt.ItemDataRole.ToolTipRole)
        form.addRow("Animate", self.what)

        self.format = QComboBox()
        for fmt in FORMATS:
            self.format.addItem(fmt.upper() + (" (slides, READMEs)" if fmt == "gif" else " (lectures, video)"), fmt)
            problem = missing(fmt)
            if problem:  # shown, but not choosable, with the way to get it
                item = self.format.model().item(self.format.count() - 1)
                item.setEnabled(False)
                item.setToolTip(problem)
        usable = [i for i in range(self.format.count()) if self.format.model().item(i).isEnabled()]
        self.format.setCurrentIndex(usable[0] if usable else 0)
        form.addRow("Format", self.format)

        self.width_spin = QSpinBox()
        self.width_spin.setRange(MIN_SIZE[0], min(MAX_SIZE[0], int(MAX_SIZE[1] / max(self.aspect, 1e-3))))
        self.width_spin.setSuffix(" px")
        self.width_spin.setValue(even(min(panel.width(), 960)))
        self.size_label = QLabel()
        form.addRow("Width", self.width_spin)
        form.addRow("Size", self.size_label)

        self.fps = QSpinBox()
        self.fps.setRange(1, MAX_FPS)
        self.fps.setSuffix(" frames/s")
        form.addRow("Frame rate", self.fps)
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.5, MAX_SECONDS)
        self.seconds.setDecimals(1)
        self.seconds.setValue(4.0)
        self.seconds.setSuffix(" s")
        form.addRow("Length", self.seconds)

        self.note = QLabel()
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Record…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        lay.addWidget(buttons)

        self.format.currentIndexChanged.connect(self._on_format)
        for w in (self.width_spin, self.fps, self.seconds):
            w.valueChanged.connect(self._update)
        self._on_format()

    def fmt(self) -> str:
        return self.format.currentData()

    def film_size(self) -> tuple[int, int]:
        w = self.width_spin.value()
        h = max(MIN_SIZE[1], round(w * self.aspect))
        return (even(w), even(h)) if self.fmt() == "mp4" else (w, h)

    def _on_format(self, *_) -> None:
        fmt = self.fmt()
        self.width_spin.setSingleStep(2 if fmt == "mp4" else 1)
        self.fps.setMaximum(GIF_MAX_FPS if fmt == "gif" else MAX_FPS)
        self.fps.setValue(DEFAULT_FPS[fmt])
        self._update()

    def _update(self, *_) -> None:
        w, h = self.film_size()
        settings = self.settings()
        self.size_label.setText(f"{w} × {h} px, {settings.frames} frames")
        problem = missing(self.fmt())
        if problem is None:
            try:
                check_settings(f"film.{self.fmt()}", settings)
            except ValueError as exc:
                problem = str(exc)[0].upper() + str(exc)[1:]
        self.note.setText(problem or ("The panel is filmed as it is now, frame by frame; it ignores the mouse "
                                      "until the frames are taken, then the file is written in the background."))
        self.ok.setEnabled(problem is None and self.what.count() > 0)

    def settings(self) -> Settings:
        return Settings(self.film_size(), float(self.fps.value()), float(self.seconds.value()))

    def choice(self) -> tuple[str, str, Settings]:
        """(animation key, format, settings)."""
        return self.what.currentData(), self.fmt(), self.settings()
