"""Qt-free jobs and commands for the worker tests: a child process imports this module (never Qt) to build
and drive them, so they live here rather than in a test module that imports the worker layer. Also the
process probe (``pid_alive``) the UI tests share."""

from __future__ import annotations

import os
import time


class CountJob:
    """Counts its steps; ends after ``limit`` steps (never when None)."""

    def __init__(self, limit=None):
        self.n = 0
        self.limit = limit
        self.lr = 0.1

    def step(self):
        self.n += 1
        time.sleep(0.0005)
        return self.limit is None or self.n < self.limit

    def snapshot(self):
        return {"n": self.n, "lr": self.lr, "pid": os.getpid()}


def make_count_job(limit=None):
    return CountJob(limit)


class HangJob(CountJob):
    """Takes a few steps, then one that never returns (a hung child: stop messages are never read)."""

    def step(self):
        if self.n >= 3:
            time.sleep(3600)
        return super().step()


def make_hang_job():
    return HangJob()


def broken_factory(message):
    raise ValueError(message)


def set_lr(job, lr):
    job.lr = lr


def where(job):
    """A command's reply: the process it ran in and the job's count there."""
    return ("where", os.getpid(), job.n)


def die(job):
    os._exit(3)  # the child process dies in the middle of a run


def echo(channel):
    """A ChildProcess entry: answer every message with (message, pid) until the parent closes the pipe."""
    while True:
        channel.send((channel.recv(), os.getpid()))


# --- a process probe the UI tests share ---
def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists and is not a zombie (Linux /proc; else os.kill)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


def hang(job):
    """A command that never returns: the run's process is stuck between two steps."""
    time.sleep(3600)
