"""pytest-qt fixtures: fail any test that leaves a worker thread, a child process, a pool job or a QTimer running.

Widgets registered with ``qtbot.addWidget`` are closed by pytest-qt before fixtures are torn down, so by the
time this check runs every panel has had its ``shutdown()``; whatever still runs has leaked (napari's idea).
"""

from __future__ import annotations

import weakref

import pytest
import shiboken6
from PySide6.QtCore import QThreadPool, QTimer

from adamlab.ui import workers


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collects_garbage(qapp):
    """As in the app (MainWindow): reference cycles are collected on the GUI thread only. Panels made and dropped
    by one test would otherwise be collected by a later test's worker thread, destroying Qt objects there (a
    deadlock with the GUI thread was caught this way)."""
    workers.collect_garbage_on_gui_thread()
    yield
    workers._GC.stop()


@pytest.fixture(autouse=True)
def no_leaked_threads_or_timers(monkeypatch, qapp):
    started: list[weakref.ref] = []
    base_start = QTimer.start

    def tracking_start(self, *args):
        started.append(weakref.ref(self))
        return base_start(self, *args)

    monkeypatch.setattr(QTimer, "start", tracking_start)
    yield
    qapp.processEvents()
    leaked_threads = workers.live_threads()
    leaked_processes = [p.pid for p in workers.live_processes()]
    workers.stop_all(2000)  # don't let one leak cascade into the next tests (ends leftover children too)
    active_timers = []
    for ref in started:
        t = ref()
        if t is not None and shiboken6.isValid(t) and t.isActive():
            active_timers.append(t)
            t.stop()
    pool_busy = not QThreadPool.globalInstance().waitForDone(2000)
    problems = []
    if leaked_threads:
        problems.append(f"worker threads still running: {[h.thread.objectName() for h in leaked_threads]}")
    if leaked_processes:
        problems.append(f"child processes still running: {leaked_processes}")
    if active_timers:
        problems.append(f"QTimers still active: {[t.objectName() or repr(t) for t in active_timers]}")
    if pool_busy:
        problems.append("QThreadPool jobs still running")
    if problems:
        pytest.fail("test leaked: " + "; ".join(problems))
