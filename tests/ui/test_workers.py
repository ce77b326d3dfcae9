"""The worker layer: latest-wins computing, the step loop's pause/step/commands, clean stops, and the same
loop with its job in a child process (round trips, replies, crashes, fallback in-thread)."""

import os
import pickle
import threading
import time
from functools import partial

import pytest

from adamlab.ui import workers
from tests.ui import loop_jobs


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


CountJob = loop_jobs.CountJob


def test_loop_pause_resume_step_once_and_commands(qtbot):
    job = CountJob()
    handle = workers.start_loop(job, "test-loop", start_paused=True)
    worker = handle.worker
    snaps = Recorder()
    worker.snapshot.connect(snaps)
    time.sleep(0.05)
    assert job.n == 0  # started paused
    worker.step_once()
    qtbot.waitUntil(lambda: job.n == 1)
    qtbot.waitUntil(lambda: bool(snaps.items) and snaps.items[-1][0]["n"] == 1)  # the paused loop reports it
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


# --- child processes ---------------------------------------------------------------------------------------


def test_child_process_round_trips_messages_and_close_reaps_it():
    child = workers.ChildProcess("tests.ui.loop_jobs:echo", "echo")
    child.start()
    try:
        assert child.wait_ready()
        payload = {"a": [1, 2.5, "x"], "lock": threading.Lock()}  # a lock travels as a fresh lock
        child.send(payload)
        back, pid = child.recv()
        assert pid == child.pid and pid != os.getpid()
        assert back["a"] == [1, 2.5, "x"] and not back["lock"].locked()
        big = bytes(range(256)) * 20_000  # 5 MB: larger than any pipe buffer, framed whole
        child.send(big)
        assert child.recv()[0] == big
        assert child in workers.live_processes()
    finally:
        child.close()
    assert child.poll() is not None  # ended and reaped
    assert workers.live_processes() == []
    with pytest.raises(EOFError):
        child.recv()
    child.close()  # idempotent


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities on this system")
@pytest.mark.parametrize("env, lower", [(None, 10), ("3", 3), ("0", 0), ("garbage", 10)])
def test_children_run_at_a_lower_cpu_priority_than_the_window(monkeypatch, env, lower):
    if env is None:
        monkeypatch.delenv("ADAMLAB_CHILD_NICE", raising=False)
    else:
        monkeypatch.setenv("ADAMLAB_CHILD_NICE", env)
    child = workers.ChildProcess("tests.ui.loop_jobs:echo", "echo")
    child.start()
    try:
        assert child.wait_ready()
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(own + lower, 19)
    finally:
        child.close()


class Signals:
    """Collects a ProcessLoopWorker's signals (on the GUI thread: these are plain callables connected with
    the default connection, so they run in the relay thread; lists are thread-safe enough for appends)."""

    def __init__(self, worker):
        self.snaps, self.states, self.replies, self.failures = [], [], [], []
        worker.snapshot.connect(self.snaps.append)
        worker.stateChanged.connect(self.states.append)
        worker.reply.connect(self.replies.append)
        worker.failed.connect(self.failures.append)


@pytest.mark.parametrize("use_process", [True, False], ids=["child", "in-thread"])
def test_process_loop_pause_step_commands_and_stop(qtbot, use_process):
    handle = workers.start_process_loop(loop_jobs.make_count_job, (), "test-ploop", max_rate=30,
                                        start_paused=True, use_process=use_process)
    w = handle.worker
    sig = Signals(w)
    w.step_once()  # before the child is up: kept and handed over
    qtbot.waitUntil(lambda: bool(sig.snaps) and sig.snaps[-1]["n"] == 1, timeout=10000)
    assert w.paused
    time.sleep(0.1)
    assert sig.snaps[-1]["n"] == 1  # still paused after the single step
    w.call(partial(loop_jobs.set_lr, lr=0.5))  # returns None: no reply, but a snapshot shows it while paused
    qtbot.waitUntil(lambda: sig.snaps[-1]["lr"] == 0.5, timeout=5000)
    w.call(loop_jobs.where)
    qtbot.waitUntil(lambda: len(sig.replies) == 1, timeout=5000)
    kind, pid, n = sig.replies[0]
    assert (kind, n) == ("where", 1)
    assert (pid != os.getpid()) == use_process  # the job really lives in another process
    assert (w.pid == pid) if use_process else (w.pid is None and w.fallback)
    w.resume()
    qtbot.waitUntil(lambda: sig.snaps[-1]["n"] > 20, timeout=5000)
    w.pause()
    qtbot.waitUntil(lambda: sig.states[-1] == "paused", timeout=5000)
    n = sig.snaps[-1]["n"]
    time.sleep(0.1)
    assert sig.snaps[-1]["n"] == n  # paused means paused
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        w.call(lambda job: None)  # a command must pickle, in every mode
    assert handle.stop()
    assert w.job is not None and w.job.n == n and w.job.lr == 0.5  # the job comes back for the GUI to read
    assert sig.states[-1] == "finished" and not sig.failures
    assert workers.live_processes() == []


def test_signals_wired_before_the_start_hear_even_an_instant_jobs_end(qtbot):
    """A job that ends at its first step, on a thread: its "finished" can be emitted before the line after the
    start runs. Wired through ``connect`` (before the thread starts) it is always heard; wired after, a small
    finished run folder was now and then never reported finished."""
    for i in range(20):
        states: list[str] = []
        handle = workers.start_process_loop(loop_jobs.make_count_job, (1,), f"test-instant-{i}", use_process=False,
                                            connect=lambda w, s=states: w.stateChanged.connect(s.append))
        time.sleep(0.02)  # (the thread has long finished by now)
        qtbot.waitUntil(lambda s=states: "finished" in s, timeout=5000)
        handle.stop()
        assert handle.worker.job.n == 1


def test_process_loop_ends_by_itself_and_returns_the_job(qtbot):
    handle = workers.start_process_loop(loop_jobs.make_count_job, (30,), "test-pfinite")
    sig = Signals(handle.worker)
    qtbot.waitUntil(lambda: "finished" in sig.states, timeout=10000)
    qtbot.waitUntil(lambda: not handle.is_running())
    assert sig.snaps[-1]["n"] == 30 and sig.snaps[-1]["pid"] != os.getpid()
    assert handle.worker.job.n == 30
    assert workers.live_processes() == []
    handle.stop()


def test_process_loop_reports_a_bad_factory_and_a_dying_child(qtbot):
    handle = workers.start_process_loop(loop_jobs.broken_factory, ("no such model",), "test-pbad")
    sig = Signals(handle.worker)
    qtbot.waitUntil(lambda: "finished" in sig.states, timeout=10000)
    assert sig.failures == ["ValueError: no such model"]
    handle.stop()
    handle = workers.start_process_loop(loop_jobs.make_count_job, (), "test-pdie")
    sig = Signals(handle.worker)
    qtbot.waitUntil(lambda: bool(sig.snaps), timeout=10000)
    handle.worker.call(loop_jobs.die)
    qtbot.waitUntil(lambda: "finished" in sig.states, timeout=10000)
    assert "ended unexpectedly" in sig.failures[0] and "exit code 3" in sig.failures[0]
    assert handle.worker.job is None
    handle.stop()
    assert workers.live_processes() == []


def test_no_processes_env_runs_in_thread(qtbot, monkeypatch):
    monkeypatch.setenv("ADAMLAB_PROCESSES", "0")
    handle = workers.start_process_loop(loop_jobs.make_count_job, (10,), "test-penv")
    sig = Signals(handle.worker)
    qtbot.waitUntil(lambda: "finished" in sig.states, timeout=10000)
    assert sig.snaps[-1] == {"n": 10, "lr": 0.1, "pid": os.getpid()}
    assert "ADAMLAB_PROCESSES=0" in handle.worker.fallback
    handle.stop()


def test_stop_all_ends_busy_children_quickly(qtbot):
    handles = [workers.start_process_loop(loop_jobs.make_count_job, (), f"test-pbusy{i}") for i in range(2)]
    sigs = [Signals(h.worker) for h in handles]
    qtbot.waitUntil(lambda: all(s.snaps for s in sigs), timeout=10000)
    t0 = time.perf_counter()
    workers.stop_all()
    assert time.perf_counter() - t0 < 2.0
    assert workers.live_threads() == [] and workers.live_processes() == []
    assert all(h.worker.job is None for h in handles)  # closing the app asks for nothing back


def test_stop_while_the_child_is_starting(qtbot):
    handle = workers.start_process_loop(loop_jobs.make_count_job, (), "test-pearly")
    sig = Signals(handle.worker)
    assert handle.stop()  # at once: the child is still importing
    assert sig.states == ["finished"] and not sig.failures and not sig.snaps
    assert handle.worker.fallback is None and handle.worker.job is None
    assert workers.live_processes() == []


def test_hung_children_are_stopped_together_within_a_bound(qtbot):
    """Three children stuck in a step never read "stop": closing kills them all in ~one bound, not 3 × 5 s."""
    handles = [workers.start_process_loop(loop_jobs.make_hang_job, (), f"test-hung{i}") for i in range(3)]
    sigs = [Signals(h.worker) for h in handles]
    qtbot.waitUntil(lambda: all(bool(s.snaps) for s in sigs), timeout=15000)
    qtbot.wait(300)  # each is now inside its endless step
    pids = [h.worker.pid for h in handles]
    t0 = time.perf_counter()
    workers.stop_all(timeout_ms=1000)
    took = time.perf_counter() - t0
    assert took < 2.5, took
    assert workers.live_threads() == [] and workers.live_processes() == []
    assert not any(loop_jobs.pid_alive(p) for p in pids)


def test_nothing_from_the_working_directory_runs_in_a_child(qtbot, tmp_path, monkeypatch):
    """A queue.py (the child's own channel imports queue) and a numpy.py where the app was started."""
    marker = tmp_path / "imported"
    for name in ("queue", "numpy", "adamlab"):
        (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name} ')\nraise SystemExit(9)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # as `python -m adamlab` run from there would have it
    handle = workers.start_process_loop(loop_jobs.make_count_job, (20,), "test-cwd")
    sig = Signals(handle.worker)
    qtbot.waitUntil(lambda: bool(sig.states) and sig.states[-1] == "finished", timeout=15000)
    assert not sig.failures and handle.worker.fallback is None
    assert sig.snaps[-1]["n"] == 20 and sig.snaps[-1]["pid"] != os.getpid()  # it ran, in a child
    assert not marker.exists(), marker.read_text()
    handle.stop()


class _SlowSink:
    """A sink that takes 20 ms an item (an encoder that is behind) and records what happened to it."""

    def __init__(self, fail_at=None):
        self.items, self.closed, self.aborted, self.fail_at = [], False, False, fail_at

    def write(self, item):
        if item == self.fail_at:
            raise OSError("disk full")
        time.sleep(0.02)
        self.items.append(item)

    def close(self):
        self.closed = True
        return len(self.items)

    def abort(self):
        self.aborted = True


def test_feed_never_blocks_the_gui_and_writes_every_item_before_closing(qtbot):
    sink = _SlowSink()
    handle = workers.start_feed(sink, "test-feed", maxsize=2)
    w = handle.worker
    refused, t0 = 0, time.perf_counter()
    for i in range(8):
        while not w.put(i):  # full: the GUI would try again on its next turn
            refused += 1
            qtbot.wait(5)
    assert refused > 0 and time.perf_counter() - t0 > 0.08  # the queue did fill up; put itself never waited
    results = []
    w.finished.connect(results.append)  # (called on the worker's thread: a list append is enough here)
    w.end()
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert results == [8] and sink.items == list(range(8)) and sink.closed and not sink.aborted
    assert handle.stop(2000)


def test_feed_stopped_early_aborts_and_a_failing_sink_is_reported(qtbot):
    sink = _SlowSink()
    handle = workers.start_feed(sink, "test-feed-stop")
    handle.worker.put(1)
    assert handle.stop(2000)
    assert sink.aborted and not sink.closed
    sink = _SlowSink(fail_at=2)
    handle = workers.start_feed(sink, "test-feed-fail")
    failures = []
    handle.worker.failed.connect(failures.append)
    for i in range(4):
        handle.worker.put(i)
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert failures == ["disk full"] and sink.aborted and sink.items == [0, 1]
    assert handle.stop(2000)
