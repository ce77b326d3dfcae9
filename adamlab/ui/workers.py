"""The one place where AdamLab starts, drives and stops threads.

Three kinds of long-lived worker, each a parent-less QObject moved to its own QThread (GUIDE §3):

* :class:`LatestWinsWorker` — compute-on-request. The GUI ``submit``s plain requests as fast as it likes
  (a slider drag, a mouse drag); the worker always computes the newest one and drops the ones it never got
  to. Results come back through the ``resultReady`` signal, delivered on the GUI thread.
* :class:`FeedWorker` — a sink fed items by the GUI through a bounded queue (a recording's encoder, fed the
  frames the GUI thread grabs); ``put`` never blocks the GUI.
* :class:`LoopWorker` — a steppable job (e.g. a trainer) run in a tight loop. Its loop checks a
  ``threading.Event`` between steps (a tight loop never runs its thread's event loop, so a queued "stop"
  slot would never arrive). Commands from the GUI (pause, new lr) are callables put on a thread-safe queue
  and run in the worker thread at the top of the next step. Snapshots are emitted at most ``max_rate``
  times a second; the GUI keeps the latest and redraws on its own timer.

Child processes, for jobs made of many tiny NumPy calls (a GPT training step, an optimizer race). Such a job
holds the GIL almost all the time, so on a worker thread it and the GUI thread take turns on one interpreter:
the window stutters and the job runs at half speed. In a child process it has its own interpreter and core.

* :class:`ChildProcess` — a fresh Python (``subprocess``, not ``multiprocessing``: "spawn" re-imports the
  parent's ``__main__``, i.e. all of Qt, and "fork" after Qt has started threads is unsafe) running a Qt-free
  entry function ``module:function`` with framed pickle messages both ways (the child's side is
  :mod:`adamlab.ui.child`). ``close()`` ends and reaps it; :func:`live_processes` lists the ones still alive.
* :class:`ProcessLoopWorker` — a :class:`LoopWorker` whose job lives in a child process. Same GUI-facing
  interface (``snapshot``, ``stateChanged``, ``failed``, ``reply``; ``pause``, ``resume``, ``step_once``,
  ``call``; ``paused``). Its QThread only relays: it blocks reading the child's pipe (GIL released) and emits
  the signals. The job is built in the child by a picklable factory, commands are picklable callables
  (module-level functions or ``functools.partial`` of them) and their non-None results come back as
  ``reply``. If no child can start (``ADAMLAB_PROCESSES=0``, a frozen app, a broken interpreter) the same job
  runs on the worker thread itself, through the same interface.

Every thread and child started here is registered; :func:`stop_all` (called on window close and
``aboutToQuit``) asks each worker to stop, quits the thread and waits for it, and :func:`live_threads` /
:func:`live_processes` let the tests fail any test that leaves one running.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from adamlab.ui import child as child_side

_REGISTRY: list[WorkerHandle] = []
_REGISTRY_LOCK = threading.Lock()


class WorkerHandle:
    """A worker and the QThread it runs on. ``stop()`` is idempotent and safe to call at any time.

    ``connect(worker)`` is called before the thread starts: connect the worker's signals there. Connected after
    the start, a quick job's first signals — even its "finished" — can be emitted before anyone listens, and are
    lost (a small finished run folder was followed on a thread and never reported finished, now and then)."""

    def __init__(self, worker: _Worker, name: str, connect: Callable[[Any], None] | None = None):
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        if connect is not None:
            connect(worker)
        with _REGISTRY_LOCK:
            # Forget handles whose thread has ended by itself (a finished job); they are safe to drop.
            _REGISTRY[:] = [h for h in _REGISTRY if not h.thread.isFinished()]
            _REGISTRY.append(self)
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Ask the worker to stop and wait for its thread. Returns True when the thread has ended.

        A worker that does not end in time and can be forced (a child process that hangs) is forced."""
        self.worker.request_stop()
        self.thread.quit()
        ended = self.thread.wait(timeout_ms)
        if not ended and self.worker.force_stop():
            ended = self.thread.wait(2000)
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


class _GuiThreadGC(QObject):
    """Python's cycle collector runs in whichever thread happens to allocate when a threshold is crossed. If that
    is a worker thread and the garbage holds Qt objects (a closed panel's menu, a finished run's items), their C++
    destructors run in that thread and can deadlock with the GUI thread: seen in the test suite, a relay thread
    unpickling a finished run collected a QObject while the GUI thread was deleting a QMenu, each holding the
    lock the other waited for (Qt's connection mutex, and the GIL). So automatic collection is off while the app
    runs and the GUI thread collects on a timer, by the same thresholds (pyqtgraph's GarbageCollector does the
    same; this one stops cleanly and turns automatic collection back on)."""

    def __init__(self, interval_ms: int):
        super().__init__()
        self.threshold = gc.get_threshold()
        self._last_full = time.monotonic()
        self.timer = QTimer(self)
        self.timer.setObjectName("adamlab-gc")
        self.timer.timeout.connect(self.collect)
        self.timer.start(interval_ms)
        gc.disable()

    FULL_EVERY_S = 10.0  # at most one full collection this often: it walks every object (tens of ms in a big app)

    @Slot()
    def collect(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):  # the oldest generation whose count is over its threshold, and the younger
            if counts[generation] > self.threshold[generation]:
                if generation == 2:
                    now = time.monotonic()
                    if now - self._last_full < self.FULL_EVERY_S:
                        continue
                    self._last_full = now
                gc.collect(generation)
                return

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()


_GC: _GuiThreadGC | None = None


def collect_garbage_on_gui_thread(interval_ms: int = 250) -> None:
    """From now on only the GUI thread collects reference cycles (see _GuiThreadGC). Call on the GUI thread once a
    QApplication exists; idempotent."""
    global _GC
    if _GC is None:
        _GC = _GuiThreadGC(interval_ms)


def stop_together(handles: list[WorkerHandle], timeout_ms: int = 1500, keep_jobs: bool = False) -> None:
    """Stop ``handles`` in parallel within a bound: ask every worker, wait for them all until one shared
    deadline, then force what has not ended (a hung child is killed) and join it. With three hung children
    this takes ``timeout_ms`` plus a moment, not three times a per-child timeout."""
    for h in handles:
        if isinstance(h.worker, ProcessLoopWorker) and not keep_jobs:
            h.worker.keep_job = False  # nobody will read the job
        h.worker.request_stop()
        h.thread.quit()
    deadline = time.monotonic() + timeout_ms / 1000
    for h in handles:
        h.thread.wait(max(0, int((deadline - time.monotonic()) * 1000)))
    forced = [h for h in handles if h.thread.isRunning() and h.worker.force_stop()]
    for h in handles:
        h.stop(2000 if h in forced else 0)


def stop_all(timeout_ms: int = 1500) -> None:
    """Stop every worker started through this module (window close, aboutToQuit, tests), together and within
    a bound (:func:`stop_together`), then end any child process still alive."""
    _REAPER.forget()
    with _REGISTRY_LOCK:
        handles = list(_REGISTRY)
    stop_together(handles, timeout_ms)
    for p in live_processes():
        p.close()


class _Reaper(QObject):
    """Stops workers in the background, from the GUI thread's event loop: :func:`retire`."""

    def __init__(self):
        super().__init__()
        self._retired: list[tuple[WorkerHandle, float, bool]] = []  # (handle, deadline, forced)
        self._timer: QTimer | None = None

    def add(self, handle: WorkerHandle, grace_s: float) -> None:
        handle.worker.request_stop()
        handle.thread.quit()
        self._retired.append((handle, time.monotonic() + grace_s, False))
        if self._timer is None:
            self._timer = QTimer(self)
            self._timer.setObjectName("workers-reaper")
            self._timer.setInterval(50)
            self._timer.timeout.connect(self._tick)
        self._timer.start()

    @Slot()
    def _tick(self) -> None:
        now, keep = time.monotonic(), []
        for handle, deadline, forced in self._retired:
            if not handle.thread.isRunning():
                handle.stop(0)  # joined: it leaves the registry
            elif now > deadline and not forced:
                keep.append((handle, now + 2.0, handle.worker.force_stop()))
            elif now > deadline:
                handle.stop(0)  # could not be forced (a thread): it ends at its next step; keep looking
                keep.append((handle, deadline, forced))
            else:
                keep.append((handle, deadline, forced))
        self._retired = keep
        if not keep and self._timer is not None:
            self._timer.stop()

    def forget(self) -> None:
        self._retired = []
        if self._timer is not None:
            self._timer.stop()


_REAPER = _Reaper()


def retire(handle: WorkerHandle, grace_s: float = 3.0, keep_job: bool = False) -> None:
    """Stop ``handle`` without waiting for it: ask now, join it when it has ended, and force it (kill its
    child) if it has not ended within ``grace_s`` seconds. The GUI thread never blocks on a hung child.
    Call from the GUI thread."""
    if isinstance(handle.worker, ProcessLoopWorker):
        handle.worker.keep_job = keep_job
    _REAPER.add(handle, grace_s)


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

    def force_stop(self) -> bool:
        """End the work by force (after ``request_stop`` was not enough); True if that was possible."""
        return False

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


class _LoopBase(_Worker):
    """Runs ``job.step()`` in a loop on its thread; paused, resumed, single-stepped and stopped from the GUI.

    Signals: ``snapshot(object)`` at most ``max_rate`` times a second, once whenever the loop pauses or
    ends, and after commands run while paused; ``failed(str)`` if a step or a command raises (the loop ends);
    ``stateChanged(str)`` with "running", "paused" or "finished"; ``reply(object)`` with every non-None value a
    command returns.
    """

    snapshot = Signal(object)
    failed = Signal(str)
    stateChanged = Signal(str)
    reply = Signal(object)

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
        """Run ``fn(job)`` on the worker thread before its next step (live knobs, samples, saving); a non-None
        return value is emitted as ``reply``."""
        self._commands.put(fn)
        self._wake.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def paused(self) -> bool:
        return not self._run.is_set()

    # --- the loop (worker thread) ---
    def _drain_commands(self) -> bool:
        """Run the queued commands; True if there were any."""
        ran = False
        while True:
            try:
                fn = self._commands.get_nowait()
            except queue.Empty:
                return ran
            ran = True
            result = fn(self.job)
            if result is not None:
                self.reply.emit(result)

    def _loop(self) -> None:
        last_emit = 0.0
        state = None
        try:
            while not self._stop.is_set():
                ran = self._drain_commands()
                with self._lock:
                    single = self._single_steps > 0
                    if single:
                        self._single_steps -= 1
                if not (self._run.is_set() or single):
                    if state != "paused" or ran:  # a command while paused: show its effect (sample, knob)
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


class LoopWorker(_LoopBase):
    __doc__ = _LoopBase.__doc__

    # Each concrete worker class defines its own ``run`` slot. (PySide6 does not see a Python subclass's
    # override of a slot: ``thread.started`` would then call it through a proxy living in the GUI thread.)
    @Slot()
    def run(self) -> None:
        self._loop()


class Sink(Protocol):
    """What :class:`FeedWorker` feeds: ``write(item)`` for each item, then ``close()`` (its return value is the
    result) or, when stopped early, ``abort()``."""

    def write(self, item: Any) -> None: ...

    def close(self) -> Any: ...

    def abort(self) -> None: ...


class FeedWorker(_Worker):
    """Hands the items the GUI ``put``s to ``sink.write`` on its own thread (an encoder fed frames grabbed on
    the GUI thread). The queue is bounded and ``put`` never blocks: it returns False when full, and the GUI
    tries again on its next timer turn. ``end()`` says no more items will come: the worker then closes the
    sink and emits ``finished(result)``. ``request_stop()`` aborts the sink instead (nothing is emitted).

    Signals: ``progress(int)`` items written so far; ``finished(object)``; ``failed(str)`` if the sink raised
    (it has been aborted)."""

    progress = Signal(int)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, sink: Sink, maxsize: int = 8):
        super().__init__()
        self._sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._ended = threading.Event()

    def put(self, item: Any) -> bool:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def end(self) -> None:
        self._ended.set()

    def request_stop(self) -> None:
        """Stop, and tell a sink that has ``cancel()`` (one busy in ``close()`` cannot look at the stop flag)."""
        cancel = getattr(self._sink, "cancel", None)
        if cancel is not None:
            cancel()
        super().request_stop()

    @Slot()
    def run(self) -> None:
        written = 0
        try:
            while not self._stop.is_set():
                try:
                    item = self._queue.get(timeout=0.05)
                except queue.Empty:
                    # ended and empty: every item put before end() has been written (checked in this order)
                    if self._ended.is_set() and self._queue.empty():
                        result = self._sink.close()
                        if not self._stop.is_set():
                            self.finished.emit(result)
                        break
                    continue
                self._sink.write(item)
                written += 1
                self.progress.emit(written)
            else:
                self._sink.abort()
        except Exception as exc:  # the sink's trouble: report it, leave nothing half-written
            self._sink.abort()
            self.failed.emit(str(exc) or type(exc).__name__)
        self._finish()


def start_feed(sink: Sink, name: str, maxsize: int = 8, connect: Callable[[Any], None] | None = None
                ) -> WorkerHandle:
    """Start a :class:`FeedWorker` for ``sink`` on a new registered thread (``connect``: see WorkerHandle)."""
    return WorkerHandle(FeedWorker(sink, maxsize), name, connect)


# ----------------------------------------------------------------------------------------------------------
# child processes

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../adamlab


def child_path() -> list[str]:
    """The import path a child gets: this process's, without the working directory ('' or its absolute
    form), plus the directories in ``ADAMLAB_CHILD_PATH`` (os.pathsep-separated; the tests add the
    checkout, for their own job modules)."""
    cwd = os.path.realpath(os.getcwd())
    path = [p for p in sys.path if p and os.path.realpath(p) != cwd]
    extra = [p for p in os.environ.get("ADAMLAB_CHILD_PATH", "").split(os.pathsep) if p]
    return path + [p for p in extra if p not in path]


def child_command(entry: str) -> list[str]:
    """argv of a child process running ``entry`` (see :mod:`adamlab.ui.child`)."""
    return [sys.executable, "-I", "-c", child_side.CHILD_CODE, _PACKAGE_DIR, json.dumps(child_path()), entry]
_PROCESSES: list[ChildProcess] = []  # started and not yet reaped (the tests check none is left)


def processes_unavailable() -> str | None:
    """Why child processes cannot be used here, or None when they can."""
    if os.environ.get("ADAMLAB_PROCESSES", "1") == "0":
        return "child processes disabled (ADAMLAB_PROCESSES=0)"
    if getattr(sys, "frozen", False):  # a bundled app's sys.executable is the app itself, not Python
        return "frozen app (no Python to start)"
    return None


class ChildProcess:
    """A Python child running the Qt-free ``entry`` ("module:function", called with its end of a
    :class:`~adamlab.ui.child.Channel`), with framed pickle messages both ways.

    ``start()`` launches it (raises OSError if it cannot); ``wait_ready(block)`` consumes its ("ready", pid)
    greeting — with ``block=False`` it returns False while the child is still importing. ``send``/``recv``
    move one message (OSError / EOFError once it is gone). ``close()`` (any thread, idempotent) closes its
    stdin — the child ends at EOF — waits briefly, kills it if it does not go, and reaps it. Call ``recv``
    from one thread at a time.
    """

    def __init__(self, entry: str, name: str = "child"):
        self.entry, self.name = entry, name
        self.proc: subprocess.Popen | None = None
        self.channel: child_side.Channel | None = None
        self._ready = False
        self._closed = False
        self._lock = threading.Lock()
        # close() must not close a pipe under a reader's or writer's feet (its fd number could be reused)
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def start(self) -> None:
        with self._lock:
            if self._closed:
                raise OSError(f"{self.name} process already closed")
            self.proc = subprocess.Popen(child_command(self.entry), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         bufsize=0, close_fds=True)
            self.channel = child_side.Channel(self.proc.stdout.fileno(), self.proc.stdin.fileno())
            with _REGISTRY_LOCK:
                _PROCESSES.append(self)

    def wait_ready(self, block: bool = True) -> bool:
        if self._ready:
            return True
        if not block and not self.channel.poll(0):
            if self.proc.poll() is not None:
                raise OSError(f"{self.name} process exited with code {self.proc.returncode}")
            return False
        msg = self.recv()
        if not (isinstance(msg, tuple) and msg and msg[0] == "ready"):
            raise OSError(f"{self.name} process said {msg!r} instead of 'ready'")
        self._ready = True
        return True

    def send(self, obj: Any) -> None:
        data = child_side.dumps(obj)
        with self._write_lock:  # the child always drains its stdin, so this never waits long
            if self._closed or self.channel is None:
                raise OSError(f"{self.name} process closed")
            self.channel.send_bytes(data)

    def recv(self) -> Any:
        with self._read_lock:
            if self._closed or self.channel is None:
                raise EOFError(f"{self.name} process closed")
            return self.channel.recv()  # blocks in os.read with the GIL released

    def poll(self) -> int | None:
        """The exit code, or None while it runs (Popen's interface, for the tests' leak check)."""
        return self.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        return None if self.proc is None else self.proc.wait(timeout)

    def close(self, timeout: float = 2.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        proc = self.proc
        if proc is None:
            return
        with self._write_lock:
            try:
                proc.stdin.close()  # the child reads EOF and ends
            except OSError:
                pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        with self._read_lock:  # the child is gone, so a blocked reader has had its EOF by now
            proc.stdout.close()
        with _REGISTRY_LOCK:
            if self in _PROCESSES:
                _PROCESSES.remove(self)


class _StoppedEarly(Exception):
    """Stop was asked for while the child process was still starting."""


def live_processes() -> list[ChildProcess]:
    """Children started here that are still running (shutdown and the tests' leak check)."""
    with _REGISTRY_LOCK:
        procs = list(_PROCESSES)
    return [p for p in procs if p.poll() is None]


class ProcessLoopWorker(_LoopBase):
    """A :class:`LoopWorker` whose job is built by ``job_factory(*factory_args)`` and stepped in a child process.

    The child (:func:`adamlab.ui.child.serve_loop`) starts when the thread does; until it is up (~0.3 s: a
    new Python importing NumPy), pause/resume/step/commands are kept here and handed over with the job's
    recipe. ``job`` is None while the child has the job, and the job itself (pickled back) once the run has
    ended, so the GUI can still read it (histograms, saving) — unless ``keep_job`` was set False before the
    stop (closing the window needs nothing back). Without a child the job runs here; ``fallback`` says why.
    """

    ENTRY = "adamlab.ui.child:serve_loop"

    def __init__(self, job_factory: Callable[..., SteppableJob], factory_args: tuple = (), max_rate: float = 30.0,
                 start_paused: bool = False, use_process: bool = True, name: str = "loop"):
        super().__init__(None, max_rate=max_rate, start_paused=start_paused)
        self._factory, self._args, self._max_rate, self._name = job_factory, tuple(factory_args), max_rate, name
        self.fallback: str | None = processes_unavailable() if use_process else "in-thread (asked for)"
        self.child: ChildProcess | None = None
        self.keep_job = True
        self._mode = "pending"  # → "remote" (the child has the job), "local" (this thread has it), "ended"
        self._mode_lock = threading.Lock()

    @property
    def remote(self) -> bool:
        return self._mode == "remote"

    @property
    def pid(self) -> int | None:
        """The child's process id while it has the job (None in-thread)."""
        return self.child.pid if self.child is not None and self._mode == "remote" else None

    # --- commands from the GUI thread: to the child once it is up, else to the local loop's state ---
    def _forward(self, msg: tuple) -> bool:
        """Send ``msg`` to the child if it has the job (call with the mode lock held). False: not remote."""
        if self._mode != "remote":
            return False
        try:
            self.child.send(msg)
        except (OSError, ValueError):
            pass  # the child has gone; the relay thread reports it
        return True

    def pause(self) -> None:
        with self._mode_lock:
            super().pause()  # the local flag answers ``paused`` in every mode
            self._forward(("pause",))

    def resume(self) -> None:
        with self._mode_lock:
            super().resume()
            self._forward(("resume",))

    def step_once(self) -> None:
        with self._mode_lock:
            if not self._forward(("step",)):
                super().step_once()

    def call(self, fn: Callable[[Any], Any]) -> None:
        """Run ``fn(job)`` where the job is, before its next step. ``fn`` must pickle (a module-level function
        or a functools.partial of one): checked here, in every mode, so a lambda fails at once."""
        child_side.dumps(fn)
        with self._mode_lock:
            if not self._forward(("call", fn)):
                super().call(fn)

    def request_stop(self) -> None:
        with self._mode_lock:
            super().request_stop()
            self._forward(("stop", self.keep_job))

    def force_stop(self) -> bool:
        child = self.child
        if child is None:
            return False
        child.kill()  # the relay thread reads EOF and ends
        return True

    # --- the thread ---
    @Slot()
    def run(self) -> None:
        if self.fallback is None and not self._stop.is_set():
            try:
                self._start_child()
            except _StoppedEarly:  # stopped while the child was starting: nothing to run anywhere
                self.child.close()
            except Exception as exc:  # noqa: BLE001 — no child: the same job runs here
                self.fallback = f"no child process ({type(exc).__name__}: {exc}); running in-thread"
                if self.child is not None:
                    self.child.close()
                    self.child = None
        if self._mode == "remote":
            self._relay()
        else:
            self._run_here()

    def _start_child(self) -> None:
        child = self.child = ChildProcess(self.ENTRY, self._name)
        child.start()
        child.wait_ready()  # blocks in read() without the GIL while the child starts
        with self._mode_lock:
            if self._stop.is_set():
                raise _StoppedEarly
            commands = []
            while True:
                try:
                    commands.append(self._commands.get_nowait())
                except queue.Empty:
                    break
            try:
                child.send(("start", self._factory, self._args, self._max_rate, not self._run.is_set(),
                            self._single_steps, commands))
            except BaseException:
                for fn in commands:  # the local loop gets them instead
                    self._commands.put(fn)
                raise
            self._single_steps = 0
            self._mode = "remote"

    def _run_here(self) -> None:
        with self._mode_lock:
            self._mode = "local"
        if not self._stop.is_set():
            try:
                self.job = self._factory(*self._args)
            except Exception as exc:
                traceback.print_exc()
                self.failed.emit(f"{type(exc).__name__}: {exc}")
            else:
                self._loop()  # emits "finished" and quits the thread
                return
        self.stateChanged.emit("finished")
        self._finish()

    def _relay(self) -> None:
        child = self.child
        signals = {"snapshot": self.snapshot, "state": self.stateChanged, "reply": self.reply, "failed": self.failed}
        try:
            while True:
                kind, payload = child.recv()
                if kind == "end":
                    self.job = payload
                    break
                signals[kind].emit(payload)
        except (EOFError, OSError, pickle.UnpicklingError, ValueError) as exc:
            if not self._stop.is_set():
                try:
                    code = child.wait(1.0)  # its pipe closes a moment before it can be reaped
                except subprocess.TimeoutExpired:
                    code = None
                self.failed.emit(f"the {self._name} process ended unexpectedly "
                                 f"(exit code {code}; {type(exc).__name__}: {exc})")
        finally:
            with self._mode_lock:
                self._mode = "ended"
            child.close()
        self.stateChanged.emit("finished")
        self._finish()


def start_latest_wins(fn: Callable[[Any], Any], name: str) -> WorkerHandle:
    """Start a :class:`LatestWinsWorker` for ``fn`` on a new registered thread."""
    return WorkerHandle(LatestWinsWorker(fn), name)


def start_loop(job: SteppableJob, name: str, max_rate: float = 30.0, start_paused: bool = False,
               connect: Callable[[Any], None] | None = None) -> WorkerHandle:
    """Start a :class:`LoopWorker` for ``job`` on a new registered thread (``connect``: see WorkerHandle)."""
    return WorkerHandle(LoopWorker(job, max_rate=max_rate, start_paused=start_paused), name, connect)


def start_process_loop(job_factory: Callable[..., SteppableJob], factory_args: tuple, name: str,
                       max_rate: float = 30.0, start_paused: bool = False, use_process: bool = True,
                       connect: Callable[[Any], None] | None = None) -> WorkerHandle:
    """Start a :class:`ProcessLoopWorker`: ``job_factory(*factory_args)`` built and stepped in a child process
    (or on the worker thread when no child can start), relayed by a new registered thread."""
    worker = ProcessLoopWorker(job_factory, factory_args, max_rate=max_rate, start_paused=start_paused,
                               use_process=use_process, name=name)
    return WorkerHandle(worker, name, connect)
