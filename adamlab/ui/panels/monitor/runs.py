"""The GUI side of one training run: its worker handle, its latest snapshot, its colour and plot items, and the
relay that brings its worker's signals to the GUI thread."""

from __future__ import annotations

from collections import deque
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QListWidgetItem

from adamlab.ui import workers
from adamlab.ui.panels.monitor import job as mj


class _RunRelay(QObject):
    """Receives one run's worker signals on the GUI thread (a QObject living there, so the connections are
    queued) and passes them on tagged with the run's id. A plain callable would run in the worker thread."""

    snapshot = Signal(int, object)
    state = Signal(int, str)
    failed = Signal(int, str)
    reply = Signal(int, object)

    def __init__(self, run_id: int, parent: QObject):
        super().__init__(parent)
        self.run_id = run_id

    def listen_to(self, worker) -> None:
        """Hear ``worker``'s snapshots, states, failures and replies: pass it as a ``start_*(connect=...)``
        so that this happens before its thread starts (a quick job's "finished" must not go unheard)."""
        worker.snapshot.connect(self.on_snapshot)
        worker.stateChanged.connect(self.on_state)
        worker.failed.connect(self.on_failed)
        worker.reply.connect(self.on_reply)

    @Slot(object)
    def on_snapshot(self, snap) -> None:
        self.snapshot.emit(self.run_id, snap)

    @Slot(str)
    def on_state(self, state: str) -> None:
        self.state.emit(self.run_id, state)

    @Slot(str)
    def on_failed(self, message: str) -> None:
        self.failed.emit(self.run_id, message)

    @Slot(object)
    def on_reply(self, reply) -> None:
        self.reply.emit(self.run_id, reply)


class RunView:
    """The GUI side of one run: its worker, its latest snapshot, its colour and its plot items.

    ``job`` is None while the run lives in its child process; once the run has ended it is the job sent
    back (histograms, samples and saving then work here). ``samples`` keeps every sample batch seen (snapshots
    carry only the newest few); ``chars`` is the model's symbols, for checking a sampling prefix."""

    def __init__(self, run_id: int, name: str, color: str, handle: workers.WorkerHandle, chars: str = ""):
        self.id, self.name, self.color = run_id, name, color
        self.handle = handle
        self.job: mj.RunJob | None = None
        self.chars = chars
        self.fallback: str | None = None  # why it trains in-thread, if it does
        self.replies: dict[str, Any] = {}  # the latest reply of each other kind ("facts"), for whoever asked
        self.samples: deque = deque(maxlen=mj.MAX_SAMPLES)
        self.snap: mj.Snapshot | None = None
        self.drawn_version = -1
        self.state = "starting"
        self.items: dict[str, Any] = {}
        self.markers: list[Any] = []
        self.events_drawn = 0
        self.diverged_marked = False
        self.list_item: QListWidgetItem | None = None
        self.adam_pending = False
        self.external = None  # the folder of a watched PyTorch run (followed on a thread), else None
        self.vocab: int | None = None  # its vocabulary, for the uniform-guess line (None: not known)
        self.job_class = mj.RunJob  # the class of its job, for commands (external.FollowJob for a folder)
        self.stopping = False  # Stop was asked for; the run ends after its current step
        self.stop_timer = None  # ends it by force if it does not (a QTimer of the panel's)
        self.forced = False

    @property
    def live(self) -> bool:
        return self.handle is not None and self.handle.is_running()
