"""adamlab.core.files: whole files or nothing, never onto what is not an ordinary file."""

import os
import stat
import time

import pytest

from adamlab.core import files


def test_atomic_write_replaces_whole_or_leaves_the_old_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with files.atomic_write(target, text=True) as f:
            f.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary left
    with files.atomic_write(target, text=True) as f:
        f.write("new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_new_files_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        files.write_bytes(tmp_path / "a.png", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.png").stat().st_mode) == 0o644


def own_device_node(tmp_path):
    """A character device of the test's own (a copy of /dev/null's numbers), or None where it may not be made."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (OSError, AttributeError):
        return None
    return node


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifos_links_directories_devices_and_empty_names_are_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    real = tmp_path / "real.txt"
    real.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    cases = {fifo: "FIFO", link: "symbolic link", tmp_path: "directory",
             "": "empty", tmp_path / "no" / "x.png": "does not exist"}
    device = own_device_node(tmp_path)
    if device is not None:  # (never the system's /dev/null: a regression here would replace it)
        cases[device] = "device"
    for path, words in cases.items():
        with pytest.raises(ValueError, match=words):
            files.write_bytes(path, b"data", "export")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink() and real.read_text() == "keep"
    assert device is None or stat.S_ISCHR(device.lstat().st_mode)


def test_a_killed_writers_temporary_is_cleaned_up_by_the_next_write(tmp_path):
    target = tmp_path / "run.npz"
    stale = tmp_path / f".run.npz.abc123{files.TMP_SUFFIX}"
    fresh = tmp_path / f".run.npz.def456{files.TMP_SUFFIX}"  # maybe a writer still at work: left alone
    other = tmp_path / "notes.tmp"  # not ours
    for p in (stale, fresh, other):
        p.write_bytes(b"partial")
    hour_ago = time.time() - 2 * files.STALE_S
    os.utime(stale, (hour_ago, hour_ago))
    files.write_bytes(target, b"whole")
    assert not stale.exists() and fresh.exists() and other.exists() and target.read_bytes() == b"whole"
