"""The child's side of :mod:`adamlab.ui.workers`' processes: framed pickle messages and the step loop. Qt-free.

A child is a fresh interpreter started by ``workers.ChildProcess`` as
``python -I -c CHILD_CODE <adamlab package dir> <sys.path as JSON> <module:function>``. Isolated mode (``-I``)
puts neither the working directory nor PYTHONPATH on ``sys.path``; the child then takes the parent's path
without its working directory (a ``queue.py`` or ``numpy.py`` lying where the app was started must never run
in a child) and loads ``adamlab`` from the parent's own package directory by its file location, whatever
directory it sits in. It imports only this module and the entry's module
(never Qt: the point of a child is an interpreter whose GIL the GUI does not share), says ("ready", pid), and
calls ``function(channel)``; messages both ways are pickled objects behind an 8-byte length.

Why explicit framing instead of ``pickle.load`` on a buffered file: a buffered reader may swallow the next
message into its buffer, after which ``select`` on the descriptor says "nothing to read" although a message
is waiting. Reading exactly the bytes of one frame from the raw descriptor keeps ``poll`` honest.

:func:`serve_loop` is the entry of ``workers.ProcessLoopWorker``: it builds a job with a picklable factory and
steps it with the same pause / step-once / command / snapshot rules as ``workers.LoopWorker``.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import queue
import select
import signal
import struct
import sys
import threading
import time
import traceback
from typing import Any

CHILD_CODE = (
    "import sys, json, importlib.util as u\n"
    "pkg, path, entry = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]\n"
    "sys.path[:] = path\n"
    "s = u.spec_from_file_location('adamlab', pkg + '/__init__.py', submodule_search_locations=[pkg])\n"
    "m = sys.modules['adamlab'] = u.module_from_spec(s)\n"
    "s.loader.exec_module(m)\n"
    "from adamlab.ui.child import main\n"
    "main(entry)\n")
_HEADER = struct.Struct("<Q")  # payload length
_FRESH = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}


class _Pickler(pickle.Pickler):
    """A pickler that sends a lock as a fresh lock (a core Trainer guards its pending knobs with one: the lock
    protects in-process state, so the receiving side needs its own, unlocked)."""

    def reducer_override(self, obj):
        fresh = _FRESH.get(type(obj))
        return NotImplemented if fresh is None else (fresh, ())


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` (locks travel as fresh locks). Raises pickle.PicklingError / TypeError if it cannot."""
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


class Channel:
    """Framed pickle messages over a pair of raw file descriptors (one process's end of two pipes).

    ``send`` may be called from several threads (a lock keeps frames whole); ``recv`` and ``poll`` from one.
    Both block in ``os.read`` / ``os.write``, which release the GIL.
    """

    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd = rfd, wfd
        self._send_lock = threading.Lock()

    def send(self, obj: Any) -> None:
        self.send_bytes(dumps(obj))

    def send_bytes(self, data: bytes) -> None:
        view = memoryview(_HEADER.pack(len(data)) + data)
        with self._send_lock:
            while view:
                n = os.write(self.wfd, view)
                view = view[n:]

    def recv(self) -> Any:
        """The next message; EOFError when the other side has closed its end."""
        (size,) = _HEADER.unpack(self._read_exact(_HEADER.size))
        return pickle.loads(self._read_exact(size))

    def poll(self, timeout: float = 0.0) -> bool:
        """True when a message (or EOF) can be read now (POSIX; elsewhere always True: recv would block)."""
        if os.name != "posix":
            return True
        readable, _, _ = select.select([self.rfd], [], [], timeout)
        return bool(readable)

    def _read_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(self.rfd, min(n - len(buf), 1 << 20))
            if not chunk:
                raise EOFError("the other end of the pipe was closed")
            buf += chunk
        return bytes(buf)


CHILD_NICE = 10  # how much lower the children's CPU priority is than the window's


def _nice_level() -> int:
    """CHILD_NICE, or the ADAMLAB_CHILD_NICE environment variable (0: the window's own priority).

    On a machine with fewer cores than runs (two cores, "compare optimizers" with three runs), the children
    at the window's priority left it waiting for a time slice: event-loop latency p99 118–141 ms. At nice
    10 the window gets the CPU as soon as it has work, and p99 fell to 45–57 ms; the runs lost nothing
    (they use the time the window leaves, which is most of it).
    """
    try:
        return int(os.environ.get("ADAMLAB_CHILD_NICE", CHILD_NICE))
    except ValueError:
        return CHILD_NICE


def main(entry: str) -> None:
    """The child's start: a channel on stdin/stdout, ("ready", pid), then ``module:function(channel)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal is the parent's to handle
    nice = _nice_level()
    if nice > 0 and hasattr(os, "nice"):
        os.nice(nice)
    out = os.dup(1)
    os.dup2(2, 1)  # anything printed by accident goes to stderr, never into the message stream
    channel = Channel(sys.stdin.fileno(), out)
    module, _, name = entry.partition(":")
    fn = getattr(importlib.import_module(module), name)
    try:
        channel.send(("ready", os.getpid()))
        fn(channel)
    except (EOFError, BrokenPipeError):
        pass  # the parent went away: nobody is listening, just end


# ----------------------------------------------------------------------------------------------------------
# the step loop (entry of workers.ProcessLoopWorker)
#
# Parent → child: ("start", factory, args, max_rate, paused, single_steps, commands) once, then ("pause",),
# ("resume",), ("step",), ("call", fn), ("stop", return_job). Child → parent: ("snapshot", s), ("state", s),
# ("reply", r), ("failed", message) and, last, ("end", job or None).


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def serve_loop(channel: Channel) -> None:
    """Build the job, then step it until it is done or the parent says stop (or closes the pipe)."""
    _, factory, args, max_rate, paused, single, commands = channel.recv()
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    for fn in commands:
        inbox.put(("call", fn))

    def read_commands() -> None:  # blocks in os.read without the GIL; the loop polls the queue between steps
        while True:
            try:
                msg = channel.recv()
            except (EOFError, OSError):
                inbox.put(("stop", False))  # the parent is gone: end, nobody wants the job
                return
            inbox.put(msg)
            if msg[0] == "stop":
                return

    threading.Thread(target=read_commands, name="commands", daemon=True).start()
    try:
        job = factory(*args)
    except Exception as exc:  # a bad config that slipped past the parent's checks
        traceback.print_exc()
        channel.send(("failed", _describe(exc)))
        channel.send(("end", None))
        return
    loop = _Loop(job, channel, inbox, max_rate, paused, single)
    return_job = loop.run()
    try:
        data = dumps(("end", job if return_job else None))
    except Exception as exc:  # noqa: BLE001 — a job that cannot be pickled stays here
        channel.send(("failed", f"the finished run could not be sent back ({_describe(exc)})"))
        data = dumps(("end", None))
    channel.send_bytes(data)


class _Loop:
    """workers.LoopWorker's loop, with a queue of parent messages instead of thread-safe fields."""

    def __init__(self, job, channel: Channel, inbox: queue.SimpleQueue, max_rate: float, paused: bool,
                 single: int):
        self.job, self.channel, self.inbox = job, channel, inbox
        self.interval = 1.0 / max_rate
        self.running = not paused
        self.single = int(single)
        self.stop: bool | None = None  # None while going; else whether the parent wants the job back

    def handle(self, msg) -> bool:
        """Apply one message; True if it was a command (something the next snapshot should show)."""
        kind = msg[0]
        if kind == "pause":
            self.running = False
        elif kind == "resume":
            self.running = True
        elif kind == "step":
            self.single += 1
        elif kind == "stop":
            self.stop = bool(msg[1])
        elif kind == "call":
            result = msg[1](self.job)  # an exception ends the loop, as in LoopWorker
            if result is not None:
                try:
                    self.channel.send(("reply", result))
                except (pickle.PicklingError, TypeError, AttributeError) as exc:
                    self.channel.send(("reply", ("error", f"a command's result could not be sent: "
                                                          f"{_describe(exc)}")))
            return True
        return False

    def drain(self, block: float | None = None) -> bool:
        ran = False
        try:
            msg = self.inbox.get(timeout=block) if block else self.inbox.get_nowait()
            while True:
                ran |= self.handle(msg)
                msg = self.inbox.get_nowait()
        except queue.Empty:
            return ran

    def run(self) -> bool:
        """Step until done or told to stop. Returns whether the parent wants the job back."""
        send, job = self.channel.send, self.job
        last_emit, state = 0.0, None
        try:
            ran = self.drain()
            while self.stop is None:
                single = self.single > 0
                if single:
                    self.single -= 1
                if not (self.running or single):
                    if state != "paused" or ran:  # a command while paused: show its effect (sample, knob)
                        state = "paused"
                        send(("snapshot", job.snapshot()))
                        send(("state", state))
                    ran = self.drain(block=0.2)
                    continue
                if state != "running" and not single:
                    state = "running"
                    send(("state", state))
                more = job.step()
                now = time.perf_counter()
                if not more or single or now - last_emit >= self.interval:
                    last_emit = now
                    send(("snapshot", job.snapshot()))
                if not more:
                    return True
                ran = self.drain()
        except (BrokenPipeError, EOFError):
            return False
        except Exception as exc:
            traceback.print_exc()
            send(("failed", _describe(exc)))
            return True
        return self.stop
