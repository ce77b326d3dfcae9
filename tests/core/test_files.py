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


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifos_links_directories_devices_and_empty_names_are_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    real = tmp_path / "real.txt"
    real.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    cases = {fifo: "FIFO", link: "symbolic link", tmp_path: "directory", "/dev/null": "device",
             "": "empty", tmp_path / "no" / "x.png": "does not exist"}
    for path, words in cases.items():
        with pytest.raises(ValueError, match=words):
            files.write_bytes(path, b"data", "export")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink() and real.read_text() == "keep"


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
