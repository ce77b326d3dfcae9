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


def test_atomic_path_lets_another_writer_fill_a_temporary_beside_the_target(tmp_path):
    target = tmp_path / "film.mp4"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.endswith(files.TMP_SUFFIX) and tmp.read_bytes() == b""
            tmp.write_bytes(b"half")
            raise RuntimeError("ffmpeg died")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4"]
    old = os.umask(0o022)
    try:
        with files.atomic_path(target) as tmp:
            tmp.write_bytes(b"new")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


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


# ----------------------------------------------------------------------------------------------------------
# checkpoints: the same refusals through train.save_checkpoint, a real killed writer, look-alike temporaries


@pytest.fixture(scope="module")
def trainer():
    from adamlab.core import data, train

    t = train.Trainer(train.TrainConfig(steps=5, val_every=0), data.load_corpus("names"))
    t.run(2)
    return t


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_checkpoint_is_never_written_over_a_special_file(tmp_path, trainer):
    from adamlab.core import train

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    real = tmp_path / "real.npz"
    real.write_bytes(b"precious")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    cases = {fifo: "FIFO", link: "symbolic link", tmp_path: "directory"}
    device = own_device_node(tmp_path)
    if device is not None:  # (never the system's /dev/null: a regression here would replace it)
        cases[device] = "device"
    for path, word in cases.items():
        with pytest.raises(ValueError, match=word) as e:
            train.save_checkpoint(trainer, path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink() and real.read_bytes() == b"precious"
    assert device is None or stat.S_ISCHR(device.lstat().st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(files.TMP_SUFFIX)]  # no temporary left


def test_an_empty_checkpoint_path_is_refused_not_taken_for_the_current_directory(tmp_path, trainer, monkeypatch):
    from adamlab.core import train

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="needs a file name"):
        train.save_checkpoint(trainer, "")
    assert list(tmp_path.iterdir()) == []


def test_only_our_own_stale_temporaries_of_that_target_are_removed(tmp_path):
    target = tmp_path / "run.npz"
    old = time.time() - 2 * files.STALE_S
    stale = tmp_path / f".run.npz.abc12_xy{files.TMP_SUFFIX}"       # ours, old: a killed writer's
    fresh = tmp_path / f".run.npz.fresh123{files.TMP_SUFFIX}"       # ours, recent: maybe a live writer's
    other_target = tmp_path / f".other.npz.abc12_xy{files.TMP_SUFFIX}"  # ours, but another file's
    lookalikes = [tmp_path / f"run.npz.abc12_xy{files.TMP_SUFFIX}", tmp_path / "run.npz.backup01.tmp",
                  tmp_path / f".run.npz.abc12_xy{files.TMP_SUFFIX}.keep", tmp_path / f".xrun.npz.abc{files.TMP_SUFFIX}"]
    for p in [stale, fresh, other_target, *lookalikes]:
        p.write_bytes(b"old")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"keep")
    link = tmp_path / f".run.npz.link1234{files.TMP_SUFFIX}"  # a symlink of our pattern is no file we wrote
    link.symlink_to(elsewhere)
    for p in [stale, other_target, *lookalikes, link]:
        os.utime(p, (old, old), follow_symlinks=False)
    files.write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and not stale.exists()
    assert all(p.exists() for p in [fresh, other_target, *lookalikes]) and link.is_symlink()
    assert elsewhere.read_bytes() == b"keep"


def test_a_save_killed_mid_write_leaves_a_temporary_that_a_later_save_removes(tmp_path, trainer):
    import signal
    import subprocess
    import sys
    import textwrap

    from adamlab.core import train

    target = tmp_path / "run.npz"
    code = textwrap.dedent(f"""
        import time
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
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(files.TMP_SUFFIX)]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".run.npz.") and not target.exists()
    train.save_checkpoint(trainer, target)
    assert leftovers[0].exists()  # recent: it could be another writer's, so it stays for now
    old = time.time() - files.STALE_S - 60
    os.utime(leftovers[0], (old, old))
    train.save_checkpoint(trainer, target)
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]
    assert train.load_checkpoint(target).step_count == 2
