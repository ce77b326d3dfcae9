"""Writing files safely: where a file may be written, and writing it atomically.

    check_target(path, "--save")          # ValueError, one line, unless path is a new name or a regular file
    with atomic_write(path) as f:         # a temp file beside the target, renamed over it once complete
        f.write(data)

``check_target`` refuses an empty path, a directory, a symbolic link and anything that exists but is not a
regular file — a FIFO, a device such as /dev/null, a socket — because the atomic rename would replace that
node with a plain file (as root, ``--save /dev/null`` would have replaced /dev/null). It also refuses a
path whose directory does not exist or cannot be written in, so a long run finds out before it starts.

``atomic_write`` writes ``<name>.adamlab-XXXXXXXX.tmp`` in the target's directory, fsyncs it and renames it
over the target (``os.replace``); on any failure the temp file is removed and the target is untouched. A
writer killed outright (SIGKILL, power loss) cannot remove its temp file: the next ``atomic_write`` to the
same target removes such leftovers — only names of exactly that pattern, regular files owned by this user,
not modified for STALE_TEMP_SECONDS (a live writer keeps its file's mtime fresh). Temp files of other
programs, or of AdamLab before this naming (``<name>.XXXXXXXX.tmp``), are never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from pathlib import Path

TEMP_INFIX = ".adamlab-"  # temp names: <target name>.adamlab-<8 chars from mkstemp>.tmp
TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 3600  # a leftover temp file this old is no live writer's

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def check_target(path, what: str = "output file") -> Path:
    """``path`` as a Path if a file may be written there (see the module docstring), else ValueError with one
    line that starts with ``what`` (e.g. "--save") and the path."""
    if path is None or str(path) == "":
        raise ValueError(f"{what} needs a file name, got an empty path")
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as e:  # e.g. a path component that is a file, a name too long
        raise ValueError(f"{what} {path}: {e.strerror or e}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise ValueError(f"{what} {path} is a symbolic link (to {os.readlink(p)}); give the file's own path "
                             f"or a new name (writing would replace the link, not the file it points to)")
        if stat.S_ISDIR(st.st_mode):
            raise ValueError(f"{what} {path} is a directory; give a file name such as {p / 'run.npz'}")
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{what} {path} is {_kind(st.st_mode)}, not a regular file; give a new file name "
                             f"or an existing regular file")
    parent = p.parent
    if not parent.is_dir():
        raise ValueError(f"{what} {path}: the directory {parent} does not exist")
    try:  # the only sure test of writability (permissions, read-only mounts, /proc) is to write
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise ValueError(f"{what} {path}: cannot write in {parent} ({e.strerror or e})") from None
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


def _temp_pattern(name: str) -> re.Pattern:
    # mkstemp's random part: 8 characters from [a-z0-9_]
    return re.compile(re.escape(name + TEMP_INFIX) + r"[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))


def stale_temps(path, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Temp files that an ``atomic_write`` to ``path`` left behind when it was killed (see the module
    docstring for what qualifies)."""
    path = Path(path)
    pattern, now = _temp_pattern(path.name), time.time()
    uid = os.getuid() if hasattr(os, "getuid") else None
    out = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return out
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (uid is None or st.st_uid == uid) and now - st.st_mtime > older_than:
            out.append(Path(entry.path))
    return out


def remove_stale_temps(path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove ``stale_temps(path)``; returns how many went (one that cannot be removed is left alone)."""
    removed = 0
    for p in stale_temps(path, older_than):
        with contextlib.suppress(OSError):
            p.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def atomic_write(path, what: str = "output file"):
    """Yield a binary file whose content replaces ``path`` atomically when the block ends without an
    exception (see the module docstring). The file gets an ordinary file's permissions (0666 & ~umask)."""
    path = check_target(path, what)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + TEMP_INFIX, suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        # mkstemp makes the file private (0600); what we write is an ordinary file, shared like any other
        os.chmod(fd if os.chmod in os.supports_fd else tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
