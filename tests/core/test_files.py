"""Where files may be written and how: special files, symlinks and empty paths refused; atomic writes that
leave nothing behind, and the temp files of a killed writer removed by the next write (only ours, only stale)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from adamlab.core import data, train
from adamlab.core.train import Trainer, TrainConfig


@pytest.fixture(scope="module")
def trainer():
    t = Trainer(TrainConfig(steps=5, val_every=0), data.load_corpus("names"))
    t.run(2)
    return t


def special_files(tmp_path):
    """name → (path, how to tell it was left alone)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = tmp_path / "real.npz"
    target.write_bytes(b"precious")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    return {"a FIFO": (fifo, lambda: fifo.is_fifo()),
            "a character device": ("/dev/null", lambda: os.path.exists("/dev/null") and not os.path.isfile("/dev/null")),
            "a symbolic link": (link, lambda: link.is_symlink() and target.read_bytes() == b"precious"),
            "a directory": (tmp_path, lambda: tmp_path.is_dir())}


@pytest.mark.parametrize("kind, word", [("a FIFO", r"named pipe \(FIFO\)"), ("a character device", "character device"),
                                        ("a symbolic link", "symbolic link"), ("a directory", "is a directory")])
def test_a_checkpoint_is_never_written_over_a_special_file(tmp_path, trainer, kind, word):
    from adamlab.core import files

    path, untouched = special_files(tmp_path)[kind]
    with pytest.raises(ValueError, match=word) as e:
        train.save_checkpoint(trainer, path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    assert untouched()
    assert not [p for p in tmp_path.iterdir() if files.TEMP_SUFFIX in p.name]  # no temp file left behind


def test_an_empty_path_is_refused_not_taken_for_the_current_directory(tmp_path, trainer, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="needs a file name"):
        train.save_checkpoint(trainer, "")
    assert list(tmp_path.iterdir()) == []


def test_check_target_accepts_new_names_and_regular_files_only(tmp_path):
    from adamlab.core import files

    assert files.check_target(tmp_path / "new.npz", "--save") == tmp_path / "new.npz"
    (tmp_path / "old.npz").write_bytes(b"x")
    files.check_target(tmp_path / "old.npz", "--save")
    for bad, word in [("", "needs a file name"), (tmp_path / "no" / "x.npz", "does not exist"),
                      (tmp_path / "old.npz" / "x", "Not a directory")]:
        with pytest.raises(ValueError, match=word) as e:
            files.check_target(bad, "--save")
        assert str(e.value).startswith("--save")


def test_atomic_write_removes_only_our_own_stale_temp_files(tmp_path):
    from adamlab.core import files

    target = tmp_path / "run.npz"
    old = time.time() - 2 * files.STALE_TEMP_SECONDS
    stale = tmp_path / "run.npz.adamlab-abc12_xy.tmp"       # ours, old: a killed writer's
    fresh = tmp_path / "run.npz.adamlab-fresh123.tmp"       # ours, recent: maybe a live writer's
    other_target = tmp_path / "other.npz.adamlab-abc12_xy.tmp"  # ours, but for another file
    lookalikes = [tmp_path / "run.npz.adamlab-abc.tmp", tmp_path / "run.npz.backup01.tmp",  # not our pattern
                  tmp_path / "run.npz.adamlab-abc12_xy.tmp.keep", tmp_path / "xrun.npz.adamlab-abc12_xy.tmp"]
    for p in [stale, fresh, other_target, *lookalikes]:
        p.write_bytes(b"old")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"keep")
    link = tmp_path / "run.npz.adamlab-link1234.tmp"  # a symlink of our pattern is not a file we wrote
    link.symlink_to(elsewhere)
    for p in [stale, other_target, *lookalikes, link]:
        os.utime(p, (old, old), follow_symlinks=False)
    assert files.stale_temps(target) == [stale]
    with files.atomic_write(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new" and not stale.exists()
    assert all(p.exists() for p in [fresh, other_target, *lookalikes]) and link.is_symlink()
    assert elsewhere.read_bytes() == b"keep"


def test_a_save_killed_mid_write_leaves_a_temp_that_the_next_save_removes(tmp_path, trainer):
    from adamlab.core import files

    target = tmp_path / "run.npz"
    code = textwrap.dedent(f"""
        import sys, time
        from adamlab.core import files
        with files.atomic_write({str(target)!r}) as f:
            f.write(b"half a checkpoint")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)  # no cleanup can run
    finally:
        child.wait(30)
        child.stdout.close()
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(files.TEMP_SUFFIX)]
    assert len(leftovers) == 1 and leftovers[0].name.startswith("run.npz.adamlab-") and not target.exists()
    train.save_checkpoint(trainer, target)
    assert leftovers[0].exists()  # recent: it could be another writer's, so it stays for now
    old = time.time() - files.STALE_TEMP_SECONDS - 60
    os.utime(leftovers[0], (old, old))
    train.save_checkpoint(trainer, target)
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]
    assert train.load_checkpoint(target).step_count == 2


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    from adamlab.core import files

    target = tmp_path / "a.csv"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with files.atomic_write(target) as f:
            f.write(b"half")
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.csv"]
