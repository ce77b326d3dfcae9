"""The recorder: drives a panel's animation frame by frame, grabs each frame on the GUI thread and streams it
to an encoder on a worker thread.

    rec = Recorder(panel, panel.animations()["race"], "race.mp4", Settings((800, 600), fps=30, seconds=4))
    rec.finished.connect(...); rec.start()

The GUI thread only sets a frame's state, waits (on a timer, never blocking) until the panel has drawn it,
grabs the widget (``QWidget.grab``), scales it to the requested size and converts it to an (h, w, 3) uint8
array that it ``put``s on the encoder's bounded queue (:class:`adamlab.ui.workers.FeedWorker`). When the queue
is full it tries again on its next turn, so memory holds at most a few frames and the window keeps
answering; after the last frame the encoder finishes on its thread while the window is fully usable. While
frames are grabbed, mouse and key input to the recorded panel is held back (it would change the film).

``cancel()`` stops at once: the animation puts back what it changed and the encoder removes its temporary
file; nothing is left at the target.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QWidget

from adamlab.ui import workers
from adamlab.ui.record.animation import Animation
from adamlab.ui.record.encode import GIF_MAX_FPS, format_of, open_encoder

MIN_SIZE, MAX_SIZE = (64, 64), (3840, 2160)
MAX_FPS = 60
MAX_SECONDS = 120.0
GIF_MAX_BYTES = 1_000_000_000  # Pillow writes a GIF at the end: its frames wait in memory, 1 byte a pixel
SETTLE_TIMEOUT_S = 30.0  # a frame whose state is not drawn by then ends the recording with a message
WAIT_MS = 4  # the timer's period while a frame's state is being computed (else 0: the next turn)


@dataclass(frozen=True)
class Settings:
    size: tuple[int, int]  # (w, h) pixels of the film
    fps: float
    seconds: float

    @property
    def frames(self) -> int:
        return max(1, round(self.fps * self.seconds))


def check_settings(path, s: Settings) -> str:
    """The format ('gif' or 'mp4') if ``s`` can be recorded to ``path``; else ValueError with one line naming
    the setting and its range."""
    fmt = format_of(path)
    (w, h), (w0, h0), (w1, h1) = s.size, MIN_SIZE, MAX_SIZE
    if not (w0 <= w <= w1 and h0 <= h <= h1):
        raise ValueError(f"size must be between {w0}x{h0} and {w1}x{h1}, got {w}x{h}")
    if fmt == "mp4" and (w % 2 or h % 2):
        raise ValueError(f"an MP4 (H.264) needs an even width and height, got {w}x{h}")
    top = GIF_MAX_FPS if fmt == "gif" else MAX_FPS
    if not (math.isfinite(s.fps) and 1 <= s.fps <= top):
        raise ValueError(f"fps must be between 1 and {top} for {fmt.upper()}, got {s.fps:g}")
    if not (math.isfinite(s.seconds) and 0 < s.seconds <= MAX_SECONDS):
        raise ValueError(f"seconds must be > 0 and at most {MAX_SECONDS:g}, got {s.seconds:g}")
    if fmt == "gif" and s.frames * w * h > GIF_MAX_BYTES:
        raise ValueError(f"a GIF of {s.frames} frames at {w}x{h} would hold {s.frames * w * h / 1e9:.1f} GB of "
                         f"frames in memory (at most {GIF_MAX_BYTES / 1e9:g} GB): make it smaller or shorter, or "
                         "record an MP4")
    return fmt


def grab_rgb(widget: QWidget, size: tuple[int, int]) -> np.ndarray:
    """``widget`` as it is on screen, scaled to fit (w, h) with its aspect kept and centred on the window
    colour: an (h, w, 3) uint8 array (a copy, safe to hand to another thread)."""
    w, h = size
    shot = widget.grab().toImage()
    if (shot.width(), shot.height()) != (w, h):
        scaled = shot.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        canvas = QImage(w, h, QImage.Format.Format_RGB32)
        canvas.fill(widget.palette().window().color())
        painter = QPainter(canvas)
        painter.drawImage(QRect((w - scaled.width()) // 2, (h - scaled.height()) // 2, scaled.width(),
                                scaled.height()), scaled)
        painter.end()
        shot = canvas
    rgb = shot.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(rgb.constBits(), np.uint8, rgb.bytesPerLine() * h).reshape(h, rgb.bytesPerLine())
    return rows[:, : w * 3].reshape(h, w, 3).copy()  # (h, w, 3); rows are padded to 4 bytes


class _HoldInput(QObject):
    """Application event filter: swallows mouse, wheel and key input aimed at ``target`` or its children."""

    KINDS = {QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick,
             QEvent.Type.MouseMove, QEvent.Type.Wheel, QEvent.Type.KeyPress, QEvent.Type.KeyRelease}

    def __init__(self, target: QWidget):
        super().__init__()
        self.target = target

    def eventFilter(self, obj, event) -> bool:
        if event.type() in self.KINDS and isinstance(obj, QWidget):
            return obj is self.target or self.target.isAncestorOf(obj)
        return False


class Recorder(QObject):
    """Records ``animation`` of ``panel`` (grabbing ``target``, the panel unless given) to ``path``.

    Signals: ``progress(done, total, phase)`` with phase "grabbing" (frames grabbed) or "encoding" (frames
    encoded); ``finished(Path)``; ``failed(str)`` one line; ``cancelled()``. Exactly one of the last three is
    emitted, once.
    """

    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, panel, animation: Animation, path, settings: Settings, target: QWidget | None = None):
        super().__init__()
        self.panel, self.animation, self.settings = panel, animation, settings
        self.target = target or panel
        self.path = Path(path)
        self.format = check_settings(self.path, settings)
        self.total = settings.frames
        self.grabbed = 0
        self.encoded = 0
        self.done = False
        self._frames = None
        self._frame = None  # a grabbed frame the full queue did not take yet
        self._ready = None
        self._started = False
        self._deadline = 0.0
        self._handle = None
        self._encoder = None
        self._hold = _HoldInput(self.target)
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._tick)

    # --- control ---
    def start(self) -> None:
        """Open the encoder (ValueError/OSError with one line if it cannot) and start grabbing."""
        self._encoder = encoder = open_encoder(self.path, self.settings.size, self.settings.fps)
        def wire(w) -> None:  # before the thread starts (see workers.WorkerHandle)
            w.progress.connect(self._on_encoded)
            w.finished.connect(self._on_finished)
            w.failed.connect(self._on_failed)

        self._handle = workers.start_feed(encoder, f"record-{self.format}", connect=wire)
        QApplication.instance().installEventFilter(self._hold)
        try:
            if self.animation.prepare is not None:
                self.animation.prepare()
            self._frames = self.animation.frames(self.total)
        except BaseException:
            self._end()  # no thread, temporary file or event filter left behind
            raise
        self._started = False
        self._ready = lambda: True  # the first frame starts from a settled panel (is_idle)
        self._deadline = time.monotonic() + SETTLE_TIMEOUT_S
        self._timer.start()

    def cancel(self) -> None:
        """Stop now; the target is left as it was (no temporary file remains once the encoder's thread has
        ended: at once, or after the GIF writer's current call). If the film was already in place, this is
        too late: ``finished`` follows instead of ``cancelled``."""
        if self.done:
            return
        if self._encoder is not None and not self._encoder.cancel():
            return  # complete: the encoder's finished signal is on its way
        self._end()
        self.cancelled.emit()

    # --- the frame loop (GUI thread, one small piece per timer turn) ---
    @Slot()
    def _tick(self) -> None:
        if self._frame is not None:  # the encoder's queue was full last turn
            if self._handle.worker.put(self._frame):
                self._frame = None
                self._timer.setInterval(0)
                self._next_frame()
            else:
                self._timer.setInterval(WAIT_MS)  # the encoder is behind: wait for it without spinning
            return
        if not (self._ready() and self.panel.is_idle()):
            self._timer.setInterval(WAIT_MS)  # a worker is computing the frame: don't spin a core meanwhile
            if time.monotonic() > self._deadline:
                self._fail(f"the panel did not finish drawing frame {self.grabbed + 1} within "
                           f"{SETTLE_TIMEOUT_S:g} s")
            return
        self._timer.setInterval(0)
        if not self._started:  # the panel has settled: put it into frame 0's state, grab once it is drawn
            self._started = True
            self._advance()
            return
        self._grab()

    def _grab(self) -> None:
        frame = grab_rgb(self.target, self.settings.size)
        self.grabbed += 1
        self.progress.emit(self.grabbed, self.total, "grabbing")
        if self._handle.worker.put(frame):
            self._next_frame()
        else:
            self._frame = frame

    def _next_frame(self) -> None:
        if self.grabbed >= self.total:
            self._timer.stop()
            self._release()
            self._handle.worker.end()  # the encoder finishes on its thread; the window is free
            return
        self._advance()

    def _advance(self) -> None:
        """Put the panel into the next frame's state."""
        try:
            step = next(self._frames)
            self._ready = step() or (lambda: True)
        except StopIteration:
            self._fail(f"the animation ended after {self.grabbed} of {self.total} frames")
            return
        except Exception as exc:  # noqa: BLE001 — a panel that cannot take the frame's state: say so, stop
            self._fail(f"frame {self.grabbed + 1}: {exc}")
            return
        self._deadline = time.monotonic() + SETTLE_TIMEOUT_S

    # --- the encoder's side (signals delivered on the GUI thread) ---
    @Slot(int)
    def _on_encoded(self, n: int) -> None:
        self.encoded = n
        if self.grabbed >= self.total:
            self.progress.emit(n, self.total, "encoding")

    @Slot(object)
    def _on_finished(self, path) -> None:
        if self.done:
            return
        self._end(stop_encoder=False)
        self.finished.emit(Path(path))

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._fail(f"could not write {self.path.name}: {message}")

    def _fail(self, message: str) -> None:
        if self.done:
            return
        self._end()
        self.failed.emit(message)

    def _release(self) -> None:
        """Stop driving the panel: give input back and let the animation put back what it changed."""
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._hold)
        if self._frames is not None:
            frames, self._frames = self._frames, None
            frames.close()

    def _end(self, stop_encoder: bool = True) -> None:
        self.done = True
        self._timer.stop()
        self._release()
        if self._handle is not None:
            if stop_encoder:  # aborts the encoder: its temporary is removed when its thread ends
                if not self._handle.stop(300):  # busy in Pillow's GIF writer: joined when done, without waiting
                    workers.retire(self._handle)
            else:
                self._handle.stop(2000)  # it has finished: only join the thread


def record(panel, animation: Animation, path, settings: Settings, target: QWidget | None = None,
           on_progress=None) -> Path:
    """Record synchronously (the command line, tests): runs the event loop until done. The path, or
    RuntimeError with the recorder's one-line message."""
    from PySide6.QtCore import QEventLoop

    rec = Recorder(panel, animation, path, settings, target)
    loop = QEventLoop()
    outcome: list = []
    rec.finished.connect(lambda p: (outcome.append(p), loop.quit()))
    rec.failed.connect(lambda m: (outcome.append(RuntimeError(m)), loop.quit()))
    rec.cancelled.connect(lambda: (outcome.append(RuntimeError("cancelled")), loop.quit()))
    if on_progress is not None:
        rec.progress.connect(on_progress)
    rec.start()
    if not outcome:
        loop.exec()
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]
