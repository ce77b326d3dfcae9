"""Reference cycles are collected on the GUI thread only (workers._GuiThreadGC): a Qt object in cyclic garbage
must never be destroyed by a worker thread that happened to allocate when the collector's threshold was crossed
(that deadlocked the suite once: a relay thread's GC destroyed a QObject while the GUI thread deleted a QMenu)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject

from adamlab.ui import workers
from adamlab.ui.window import MainWindow


class _Marker:
    """Cyclic garbage that records which thread destroyed it."""

    died_in: list[str] = []

    def __init__(self):
        self.me = self  # a cycle: only the cycle collector frees it
        self.qt = QObject()

    def __del__(self):
        _Marker.died_in.append(threading.current_thread().name)


def test_the_window_turns_automatic_collection_off_and_the_gui_thread_collects(qtbot):
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    assert not gc.isenabled() and workers._GC is not None and workers._GC.timer.isActive()
    gc.collect()  # (drain what is pending)
    _Marker.died_in.clear()
    _Marker()

    def allocate():  # far past the generation-0 threshold: with automatic GC this thread would collect
        junk = [[i] for i in range(50 * gc.get_threshold()[0])]
        del junk

    t = threading.Thread(target=allocate, name="allocator")
    t.start()
    t.join()
    assert "allocator" not in _Marker.died_in
    qtbot.waitUntil(lambda: len(_Marker.died_in) == 1, timeout=3000)  # the timer's collection, on the GUI thread
    assert _Marker.died_in == [threading.main_thread().name]
