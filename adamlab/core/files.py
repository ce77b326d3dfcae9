"""Writing files safely: whole or not at all, never onto something that is not an ordinary file.

Every file AdamLab writes — checkpoints, exported plots and CSVs, screenshots, recordings, scenario files —
goes through :func:`atomic_write`: the bytes go to a temporary file in the target's directory, are flushed to
disk, and the temporary file is renamed over the target in one step. A crash, a kill or a full disk leaves
either the old file or the new one, never half of either. Temporaries are named ``.<name>.<random>.adamlab-tmp``;
one left behind by a killed writer is removed by the next write to the same target once it is an hour old
(a writer still busy with it is never that slow).

:func:`check_target` refuses what must not be replaced: a directory, a FIFO, a device node (as root,
``--save /dev/null`` would otherwise replace /dev/null), a socket, and a symbolic link (replacing the link
would silently turn it into a file; writing through it would write elsewhere than the user named).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from pathlib import Path

TMP_SUFFIX = ".adamlab-tmp"
STALE_S = 3600.0  # a temporary this old belongs to a writer that was killed


class TargetError(OSError, ValueError):
    """A path that must not or cannot be written: an OSError (the file system says no) and a ValueError (a bad
    argument), so callers catching either see it."""


def check_target(path, what: str = "output") -> Path:
    """``path`` as a Path if a file may be written there, else TargetError with one line saying why.

    Allowed: a regular file (replaced) or a new name in an existing directory."""
    p = Path(path)
    if str(path).strip() == "":
        raise TargetError(f"{what}: the file name is empty")
    try:
        st = p.lstat()
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise TargetError(f"{what} {path}: cannot be used ({e.strerror or e})") from None
    if st is not None:
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            raise TargetError(f"{what} {path} is a symbolic link; give the real file's path")
        if stat.S_ISDIR(mode):
            raise TargetError(f"{what} {path} is a directory; give a file name inside it")
        if not stat.S_ISREG(mode):
            kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise TargetError(f"{what} {path} is {kind}; only a regular file or a new file can be written")
    if not p.parent.is_dir():
        raise TargetError(f"{what} {path}: the directory {p.parent} does not exist")
    return p


def _umask() -> int:
    """The process's file-creation mask, read without changing it where the system tells it (Linux), else by
    setting and restoring it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def remove_stale_temporaries(path, older_than_s: float = STALE_S) -> int:
    """Remove temporaries of ``path`` left by killed writers (our naming only, older than the bound)."""
    p = Path(path)
    removed = 0
    now = time.time()
    with contextlib.suppress(OSError):
        for tmp in p.parent.glob(f".{p.name}.*{TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                st = tmp.lstat()
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime > older_than_s:
                    tmp.unlink()
                    removed += 1
    return removed


@contextlib.contextmanager
def atomic_path(path, what: str = "output"):
    """``with atomic_path(path) as tmp: <write the file named tmp>``: the file appears whole at ``path`` when the
    block ends without an exception, and is left untouched otherwise (for writers that need a file name, such
    as ffmpeg; :func:`atomic_write` gives a file object). ``tmp`` is an empty temporary in the target's
    directory; the new file gets ordinary permissions (0666 minus the umask, as ``open`` would give), not
    mkstemp's private 0600, and is flushed to disk before the rename."""
    p = check_target(path, what)
    remove_stale_temporaries(p)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=TMP_SUFFIX, dir=p.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path, what: str = "output", text: bool = False, encoding: str = "utf-8"):
    """``with atomic_write(path) as f: f.write(...)``: the file appears whole at ``path`` when the block ends
    without an exception, and is left untouched otherwise (see :func:`atomic_path`)."""
    with atomic_path(path, what) as tmp, open(tmp, "w" if text else "wb",
                                              **({"encoding": encoding, "newline": ""} if text else {})) as f:
        yield f


def write_bytes(path, data: bytes, what: str = "output") -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`); returns the path."""
    with atomic_write(path, what) as f:
        f.write(data)
    return Path(path)
