"""The worker layer: latest-wins computing, the step loop's pause/step/commands, clean stops."""

import threading
import time

from adamlab.ui import workers


class Recorder:
    def __init__(self):
        self.items = []

    def __call__(self, *args):
        self.items.append(args)


def test_latest_wins_computes_the_newest_request_and_drops_stale_ones(qtbot):
    gate = threading.Event()
    seen = []

    def slow_square(x):
        seen.append(x)
        gate.wait(2)  # the first request blocks until every other request has been submitted
        return x * x

    handle = workers.start_latest_wins(slow_square, "test-latest")
    results = Recorder()
    handle.worker.resultReady.connect(results)
    handle.worker.submit(1)
    qtbot.waitUntil(lambda: seen == [1])
    for x in range(2, 101):  # a fast drag: 99 requests while the worker is busy
        handle.worker.submit(x)
    gate.set()
    qtbot.waitUntil(lambda: len(results.items) == 2)
    assert [r[1] for r in results.items] == [1, 100 * 100]
    assert seen == [1, 100]  # requests 2..99 were never computed
    assert handle.stop()
    assert not handle.is_running()


def test_latest_wins_reports_errors_and_keeps_working(qtbot):
    handle = workers.start_latest_wins(lambda x: 1 / x, "test-errors")
    failures, results = Recorder(), Recorder()
    handle.worker.failed.connect(failures)
    handle.worker.resultReady.connect(results)
    handle.worker.submit(0)
    qtbot.waitUntil(lambda: len(failures.items) == 1)
    assert "ZeroDivisionError" in failures.items[0][1]
    handle.worker.submit(4)
    qtbot.waitUntil(lambda: len(results.items) == 1)
    assert results.items[0][1] == 0.25
    handle.stop()


class CountJob:
    def __init__(self, limit=None):
        self.n = 0
        self.limit = limit
        self.lr = 0.1

    def step(self):
        self.n += 1
        time.sleep(0.0005)
        return self.limit is None or self.n < self.limit

    def snapshot(self):
        return {"n": self.n, "lr": self.lr}


def test_loop_pause_resume_step_once_and_commands(qtbot):
    job = CountJob()
    handle = workers.start_loop(job, "test-loop", start_paused=True)
    worker = handle.worker
    snaps = Recorder()
    worker.snapshot.connect(snaps)
    qtbot.waitUntil(lambda: len(snaps.items) >= 1)  # the paused loop reports where it is
    assert job.n == 0
    worker.step_once()
    qtbot.waitUntil(lambda: job.n == 1)
    time.sleep(0.05)
    assert job.n == 1  # still paused after a single step
    worker.call(lambda j: setattr(j, "lr", 0.5))
    worker.resume()
    qtbot.waitUntil(lambda: job.n > 20)
    assert job.lr == 0.5
    worker.pause()
    qtbot.waitUntil(lambda: snaps.items[-1][0]["n"] == job.n, timeout=2000)
    n = job.n
    time.sleep(0.1)
    assert job.n == n  # paused means paused
    assert handle.stop()


def test_loop_ends_by_itself_and_leaves_no_thread(qtbot):
    job = CountJob(limit=50)
    handle = workers.start_loop(job, "test-finite")
    states = Recorder()
    handle.worker.stateChanged.connect(states)
    qtbot.waitUntil(lambda: ("finished",) in states.items)
    qtbot.waitUntil(lambda: not handle.is_running())
    assert job.n == 50
    assert workers.live_threads() == []
    handle.stop()


def test_stop_all_stops_a_busy_loop_quickly(qtbot):
    handle = workers.start_loop(CountJob(), "test-busy")
    qtbot.waitUntil(lambda: handle.worker.job.n > 5)
    t0 = time.perf_counter()
    workers.stop_all()
    assert time.perf_counter() - t0 < 1.0
    assert workers.live_threads() == []
