"""The one place where AdamLab starts, drives and stops threads.

Two kinds of long-lived worker, each a parent-less QObject moved to its own QThread (GUIDE §3):

* :class:`LatestWinsWorker` — compute-on-request. The GUI ``submit``s plain requests as fast as it likes
  (a slider drag, a mouse drag); the worker always computes the newest one and drops the ones it never got
  to. Results come back through the ``resultReady`` signal, delivered on the GUI thread.
* :class:`LoopWorker` — a steppable job (e.g. a trainer) run in a tight loop. Its loop checks a
  ``threading.Event`` between steps (a tight loop never runs its thread's event loop, so a queued "stop"
  slot would never arrive). Commands from the GUI (pause, new lr) are callables put on a thread-safe queue
  and run in the worker thread at the top of the next step. Snapshots are emitted at most ``max_rate``
  times a second; the GUI keeps the latest and redraws on its own timer.

Every thread started here is registered; :func:`stop_all` (called on window close and ``aboutToQuit``)
asks each worker to stop, quits the thread and waits for it, and :func:`live_threads` lets the tests fail
any test that leaves one running.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QThread, Signal, Slot

_REGISTRY: list[WorkerHandle] = []
_REGISTRY_LOCK = threading.Lock()


class WorkerHandle:
    """A worker and the QThread it runs on. ``stop()`` is idempotent and safe to call at any time."""

    def __init__(self, worker: _Worker, name: str):
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        with _REGISTRY_LOCK:
            # Forget handles whose thread has ended by itself (a finished job); they are safe to drop.
            _REGISTRY[:] = [h for h in _REGISTRY if not h.thread.isFinished()]
            _REGISTRY.append(self)
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Ask the worker to stop and wait for its thread. Returns True when the thread has ended."""
        self.worker.request_stop()
        self.thread.quit()
        ended = self.thread.wait(timeout_ms)
        if ended:
            with _REGISTRY_LOCK:
                if self in _REGISTRY:
                    _REGISTRY.remove(self)
        return ended


def live_threads() -> list[WorkerHandle]:
    """Handles whose thread is still running (used by shutdown and by the tests' leak check)."""
    with _REGISTRY_LOCK:
        handles = list(_REGISTRY)
    return [h for h in handles if h.is_running()]


def stop_all(timeout_ms: int = 5000) -> None:
    """Stop every worker started through this module (window close, aboutToQuit, tests)."""
    with _REGISTRY_LOCK:
        handles = list(_REGISTRY)
    for h in handles:
        h.stop(timeout_ms)


class _Worker(QObject):
    """Common part: a stop event and a ``done`` signal emitted when ``run`` returns.

    ``run`` ends by quitting its own thread's event loop (QThread remembers a quit that comes before the
    loop starts), so a worker whose job finished leaves no running thread behind.
    """

    done = Signal()

    def __init__(self) -> None:
        super().__init__()  # no parent: a QObject with a parent cannot be moved to another thread
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _finish(self) -> None:
        self.done.emit()
        QThread.currentThread().quit()


class LatestWinsWorker(_Worker):
    """Runs ``fn(request)`` on its thread for the newest submitted request only.

    ``resultReady(request_id, result)`` and ``failed(request_id, message)`` are delivered to GUI-thread
    slots. Request ids grow with every submit, so the receiver can ignore results older than one it already
    drew (it never needs to: results arrive in submission order).
    """

    resultReady = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, fn: Callable[[Any], Any]):
        super().__init__()
        self._fn = fn
        self._cond = threading.Condition()
        self._pending: tuple[int, Any] | None = None
        self._next_id = 0
        self.computed = 0  # how many requests were actually computed (latest-wins drops the rest)

    def submit(self, request: Any) -> int:
        """Thread-safe: replace any not-yet-started request with this one. Returns its id."""
        with self._cond:
            self._next_id += 1
            self._pending = (self._next_id, request)
            self._cond.notify()
            return self._next_id

    def request_stop(self) -> None:
        with self._cond:
            self._stop.set()
            self._cond.notify()

    def busy(self) -> bool:
        with self._cond:
            return self._pending is not None or self._working

    _working = False

    @Slot()
    def run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop.is_set():
                    self._cond.wait(0.5)
                if self._stop.is_set():
                    break
                request_id, request = self._pending
                self._pending = None
                self._working = True
            try:
                result = self._fn(request)
            except Exception as exc:  # report, never kill the thread
                traceback.print_exc()
                self.failed.emit(request_id, f"{type(exc).__name__}: {exc}")
            else:
                self.computed += 1
                if not self._stop.is_set():
                    self.resultReady.emit(request_id, result)
            finally:
                with self._cond:
                    self._working = False
        self._finish()


class SteppableJob(Protocol):
    """What :class:`LoopWorker` drives. ``step()`` does one unit of work and returns False when the job has
    nothing more to do (finished, diverged); ``snapshot()`` returns a copy safe to hand to another thread."""

    def step(self) -> bool: ...

    def snapshot(self) -> Any: ...


class LoopWorker(_Worker):
    """Runs ``job.step()`` in a loop on its thread; paused, resumed, single-stepped and stopped from the GUI.

    Signals: ``snapshot(object)`` at most ``max_rate`` times a second and once whenever the loop pauses or
    ends; ``failed(str)`` if a step raises; ``stateChanged(str)`` with "running", "paused" or "finished".
    """

    snapshot = Signal(object)
    failed = Signal(str)
    stateChanged = Signal(str)

    def __init__(self, job: SteppableJob, max_rate: float = 30.0, start_paused: bool = False):
        super().__init__()
        self.job = job
        self._interval = 1.0 / max_rate
        self._run = threading.Event()
        if not start_paused:
            self._run.set()
        self._wake = threading.Event()
        self._commands: queue.SimpleQueue[Callable[[Any], Any]] = queue.SimpleQueue()
        self._single_steps = 0
        self._lock = threading.Lock()

    # --- commands from the GUI thread (all thread-safe) ---
    def pause(self) -> None:
        self._run.clear()
        self._wake.set()

    def resume(self) -> None:
        self._run.set()
        self._wake.set()

    def step_once(self) -> None:
        with self._lock:
            self._single_steps += 1
        self._wake.set()

    def call(self, fn: Callable[[Any], Any]) -> None:
        """Run ``fn(job)`` on the worker thread before its next step (live knobs, samples, saving)."""
        self._commands.put(fn)
        self._wake.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def paused(self) -> bool:
        return not self._run.is_set()

    # --- the loop (worker thread) ---
    def _drain_commands(self) -> None:
        while True:
            try:
                fn = self._commands.get_nowait()
            except queue.Empty:
                return
            fn(self.job)

    @Slot()
    def run(self) -> None:
        last_emit = 0.0
        state = None
        try:
            while not self._stop.is_set():
                self._drain_commands()
                with self._lock:
                    single = self._single_steps > 0
                    if single:
                        self._single_steps -= 1
                if not (self._run.is_set() or single):
                    if state != "paused":
                        state = "paused"
                        self.snapshot.emit(self.job.snapshot())
                        self.stateChanged.emit(state)
                    self._wake.wait(0.2)
                    self._wake.clear()
                    continue
                if state != "running" and not single:
                    state = "running"
                    self.stateChanged.emit(state)
                more = self.job.step()
                now = time.perf_counter()
                if not more or single or now - last_emit >= self._interval:
                    last_emit = now
                    self.snapshot.emit(self.job.snapshot())
                if not more:
                    break
                # A tight NumPy loop holds the GIL most of the time; give the GUI thread a turn.
                time.sleep(0)
        except Exception as exc:
            traceback.print_exc()
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        self.stateChanged.emit("finished")
        self._finish()


def start_latest_wins(fn: Callable[[Any], Any], name: str) -> WorkerHandle:
    """Start a :class:`LatestWinsWorker` for ``fn`` on a new registered thread."""
    return WorkerHandle(LatestWinsWorker(fn), name)


def start_loop(job: SteppableJob, name: str, max_rate: float = 30.0, start_paused: bool = False) -> WorkerHandle:
    """Start a :class:`LoopWorker` for ``job`` on a new registered thread."""
    return WorkerHandle(LoopWorker(job, max_rate=max_rate, start_paused=start_paused), name)
