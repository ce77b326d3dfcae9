"""Hostile and foreign files given as checkpoints: refused with a CheckpointError that says what is wrong,
fast and without allocating what the file declares (10¹¹-element headers, zip bombs, lying zip directories,
wrong types in the state), and foreign files named for what they are — never NumPy's allow_pickle hint."""

import io
import json
import pickle
import struct
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from adamlab.core import data, train
from adamlab.core.train import CheckpointError, Trainer, TrainConfig


@pytest.fixture(scope="module")
def corpus():
    return data.load_corpus("names")


@pytest.fixture
def good(tmp_path, corpus):
    """A real checkpoint after 5 Adam steps, and its members as raw .npy bytes."""
    trainer = Trainer(TrainConfig(steps=20, val_every=0), corpus)
    trainer.run(5)
    path = train.save_checkpoint(trainer, tmp_path / "good.npz")
    with zipfile.ZipFile(path) as z:
        members = {n[:-4]: z.read(n) for n in z.namelist()}
    return path, members


def npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def npy_header(shape, dtype="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def write_npz(path, members: dict) -> None:
    """members: name → .npy bytes (stored uncompressed, like np.savez)."""
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members.items():
            z.writestr(name + ".npy", content)


def with_state(members: dict, **changes) -> dict:
    state = json.loads(str(np.load(io.BytesIO(members["state"]))))
    state.update(changes)
    return {**members, "state": npy(np.array(json.dumps(state)))}


def refuse_quickly(path, corpus, match, limit_mb=20):
    """load_checkpoint refuses within 2 s, allocating at most limit_mb MB; returns the message."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(CheckpointError, match=match) as e:
            train.load_checkpoint(path, corpus)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(e.value)
    assert seconds < 2 and peak < limit_mb * 2**20, (seconds, peak)
    assert str(path) in message and "allow_pickle" not in message and "\n" not in message
    return message


# ----------------------------------------------------------------------------------------------------------
# a zip bomb: a few MB that declare (and would inflate to) gigabytes


CHUNK = 1 << 20


def deflated_zeros(prefix: bytes, n_chunks: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``prefix`` then n_chunks MiB of zeros, its CRC-32 and its inflated size. Built
    from one compressed MiB repeated: after Z_FULL_FLUSH a chunk's output is byte-aligned and refers to
    nothing before it, so the same input gives the same bytes."""
    zeros = bytes(CHUNK)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    piece = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH) == piece  # (the premise of repeating it)
    tail = c.flush()
    crc = zlib.crc32(prefix)
    for _ in range(n_chunks):
        crc = zlib.crc32(zeros, crc)
    return head + piece * n_chunks + tail, crc, len(prefix) + n_chunks * CHUNK


def write_zip(path, members: list) -> None:
    """A zip written by hand, so its directory can say anything: members are (name, data, crc, declared
    size, method) with data already compressed for method 8 (deflate)."""
    with open(path, "wb") as f:
        central = []
        for name, payload, crc, size, method in members:
            offset, raw = f.tell(), name.encode()
            f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(payload), size,
                                len(raw), 0) + raw + payload)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(payload),
                                       size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
        directory = b"".join(central)
        start = f.tell()
        f.write(directory)
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), start, 0))


def stored(name, content: bytes):
    return (name, content, zlib.crc32(content), len(content), 0)


def bomb_member(n_chunks=3500):
    """params.npy: an honest header for 3.5 GiB of float64 zeros, in ~3.5 MB of deflate."""
    header = npy_header((n_chunks * CHUNK // 8,))
    payload, crc, size = deflated_zeros(header, n_chunks)
    return ("params.npy", payload, crc, size, 8)


def test_a_zip_bomb_without_marker_is_refused_from_its_directory_fast(tmp_path, corpus):
    path = tmp_path / "bomb.npz"
    write_zip(path, [bomb_member()])
    assert path.stat().st_size < 8 * 2**20
    refuse_quickly(path, corpus, "no 'adamlab-gpt-checkpoint' marker")


def test_a_zip_bomb_behind_a_valid_marker_and_config_is_refused_before_it_is_read(tmp_path, corpus, good):
    _, members = good
    path = tmp_path / "bomb2.npz"
    write_zip(path, [stored(n + ".npy", b) for n, b in members.items() if n != "params"] + [bomb_member()])
    message = refuse_quickly(path, corpus, "params")
    assert "(4192,)" in message  # what the declared config needs


def test_a_zip_directory_that_lies_about_the_inflated_size_stops_at_the_declared_size(tmp_path, corpus, good):
    _, members = good
    real = members["params"]
    payload, _, _ = deflated_zeros(real[:128], 2000)  # inflates to 2 GB, the directory says 33 kB
    lying = ("params.npy", payload, zlib.crc32(real), len(real), 8)
    path = tmp_path / "liar.npz"
    write_zip(path, [stored(n + ".npy", b) for n, b in members.items() if n != "params"] + [lying])
    refuse_quickly(path, corpus, "params|CRC|damaged|readable")


def test_a_memory_limit_bounds_what_a_checkpoint_may_declare(tmp_path, corpus, monkeypatch):
    monkeypatch.setenv("ADAMLAB_MEMORY_LIMIT", "64M")
    path = tmp_path / "big.npz"
    write_zip(path, [bomb_member(100)])  # 100 MiB declared
    refuse_quickly(path, corpus, r"declare 104,857,\d+ bytes of data \(at most 67,108,864")


def test_a_310_byte_npz_declaring_1e11_numbers_is_refused_without_allocating(tmp_path, corpus, good):
    _, members = good
    path = tmp_path / "huge.npz"
    write_npz(path, {"params": npy_header((10**11,))})
    assert path.stat().st_size < 400
    refuse_quickly(path, corpus, r"declares \(100000000000,\) float64")
    # the same header inside an otherwise valid checkpoint
    write_npz(path, {**members, "params": npy_header((10**11,))})
    refuse_quickly(path, corpus, r"declares \(100000000000,\) float64")


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_checkpoints_are_refused(tmp_path, corpus, good, cut):
    path, _ = good
    raw = path.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(raw[: int(len(raw) * cut)])
    refuse_quickly(bad, corpus, "Not a readable AdamLab checkpoint|damaged")


def test_members_outside_a_checkpoint_or_of_the_wrong_shape_are_refused(tmp_path, corpus, good):
    _, members = good
    path = tmp_path / "x.npz"
    cases = {
        "an extra member": ({**members, "payload": npy(np.zeros(10))}, "'payload', which is not part"),
        "object dtype": ({**members, "tokenizer_chars": npy_header((), "|O") + b"\x80\x04N."}, "Python objects"),
        "params of another dtype": ({**members, "params": npy(np.zeros(4192, np.float32))}, "params"),
        "a huge history": ({**members, "hist.train.step": npy_header((10**9,))}, "hist.train.step"),
        "optimizer state of another size": ({**members, "opt.slot0.state.exp_avg": npy(np.zeros(7))}, "exp_avg"),
        "a slot for no tensor": ({**members, "opt.slots": npy(np.array(["__flat__", "ghost"]))}, "'ghost'"),
        "a huge optimizer array": ({**members, "opt.slot0.state.exp_avg": npy_header((10**9,))}, "exp_avg"),
        "huge metadata": ({**members, "opt.hyper.lr": npy(np.zeros(100_000))}, "opt.hyper.lr"),
        "a config in numbers": ({**members, "config": npy(np.zeros(3))}, "config"),
        "10,000 knob marks": ({**members, "hist.knob_steps": npy(np.zeros(10_000, np.int64))}, "knob"),
    }
    for name, (content, match) in cases.items():
        write_npz(path, content)
        refuse_quickly(path, corpus, match)


@pytest.mark.parametrize("field, value, word", [
    ("first_loss", "3.3", "first_loss"),          # a string where a number belongs crashed at the first step
    ("first_loss", float("nan"), "first_loss"),
    ("loss_ema", "x", "loss_ema"),
    ("step_count", -1, "step_count"),
    ("step_count", "5", "step_count"),
    ("step_count", True, "step_count"),
    ("step_count", 21, "step_count"),             # more than the config's 20 steps
    ("position", 10**9, "position"),
    ("status", "exploded", "status"),
    ("message", ["a"], "message"),
    ("elapsed", -1.0, "elapsed"),
    ("rng", {"bit_generator": "MT19937"}, "rng"),
    ("rng", "seed", "rng"),
    ("corpus_sha256", 12, "corpus_sha256"),
])
def test_every_state_field_is_checked_for_type_and_range(tmp_path, corpus, good, field, value, word):
    _, members = good
    path = tmp_path / "s.npz"
    write_npz(path, with_state(members, **{field: value}))
    message = refuse_quickly(path, corpus, word)
    assert "Traceback" not in message


def test_wrong_optimizer_metadata_is_refused(tmp_path, corpus, good):
    _, members = good
    path = tmp_path / "o.npz"
    cases = {"opt.t": npy(np.array(10**6)), "opt.hyper.lr": npy(np.array("fast")),
             "opt.flat.names": npy(np.array(["a"] * 9)), "opt.slot0.step": npy(np.array(-4))}
    for key, content in cases.items():
        write_npz(path, {**members, key: content})
        refuse_quickly(path, corpus, "optimizer|lr|damaged")


def test_a_config_declaring_a_model_too_big_for_memory_is_refused_before_building_it(tmp_path, corpus, good):
    _, members = good
    cfg = json.loads(str(np.load(io.BytesIO(members["config"]))))
    cfg.update(n_embd=60_000, n_head=4)  # within the settings' limits; 12·60,000² float64 ≈ 345 GB
    path = tmp_path / "big.npz"
    write_npz(path, {**members, "config": npy(np.array(json.dumps(cfg)))})
    refuse_quickly(path, corpus, "params|not enough memory")
    cfg.update(n_embd=10**6)  # beyond the limit of the setting itself
    write_npz(path, {**members, "config": npy(np.array(json.dumps(cfg)))})
    refuse_quickly(path, corpus, "n_embd must be an integer in")


def test_a_deeply_nested_state_is_refused_not_a_recursion_error(tmp_path, corpus, good):
    _, members = good
    path = tmp_path / "deep.npz"
    write_npz(path, {**members, "state": npy(np.array("[" * 50_000))})
    refuse_quickly(path, corpus, "damaged")


# ----------------------------------------------------------------------------------------------------------
# foreign files: named for what they are


@pytest.mark.parametrize("kind, make, word", [
    ("pickle", lambda p: p.write_bytes(pickle.dumps({"weights": [1, 2]})), "a Python pickle"),
    ("npy", lambda p: p.write_bytes(npy(np.arange(3.0))), "a single NumPy array"),
    ("object npz", lambda p: np.savez(p, x=np.array([{"a": 1}], dtype=object)), "Python objects"),
    ("torch", lambda p: _torch_like(p), "PyTorch"),
    ("hdf5", lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100)), "HDF5"),
    ("text", lambda p: p.write_text("step,loss\n1,3.3\n"), "a text file"),
    ("empty", lambda p: p.write_bytes(b""), "an empty file"),
    ("foreign npz", lambda p: np.savez(p, weights=np.zeros(3)), "no 'adamlab-gpt-checkpoint' marker"),
    ("zip of text", lambda p: _zip_of_text(p), "notes.txt"),
])
def test_a_foreign_file_is_named_and_no_numpy_hint_leaks(tmp_path, corpus, kind, make, word):
    path = tmp_path / "foreign.npz"
    make(path)
    message = refuse_quickly(path, corpus, "Not an AdamLab")
    assert word in message


def _zip_of_text(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", "hi")


def _torch_like(path):
    with zipfile.ZipFile(path, "w") as z:  # what torch.save writes: a zip holding <name>/data.pkl
        z.writestr("archive/data.pkl", pickle.dumps({"w": 1}))
        z.writestr("archive/version", "3\n")


def test_special_files_are_refused_without_being_opened(tmp_path, corpus):
    import os

    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(CheckpointError, match="not a regular file"):
        train.load_checkpoint(fifo, corpus)
    with pytest.raises(CheckpointError, match="not a regular file"):
        train.load_checkpoint(tmp_path, corpus)
    with pytest.raises(CheckpointError, match="not found"):
        train.load_checkpoint(tmp_path / "none.npz", corpus)


def test_safe_npz_reads_what_np_savez_wrote(tmp_path):
    from adamlab.core import safe_npz

    path = tmp_path / "a.npz"
    arrays = {"x": np.arange(6.0).reshape(2, 3), "n": np.array(7), "s": np.array("hé"),
              "f": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)), "b": np.array([True, False])}
    np.savez_compressed(path, **arrays)
    with safe_npz.SafeNpz(path, max_bytes=2**20) as z:
        assert set(z.members) == set(arrays)
        assert z.members["x"].shape == (2, 3) and z.members["x"].nbytes == 48
        for k, a in arrays.items():
            b = z.read(k)
            assert b.dtype == a.dtype and np.array_equal(b, a)
    with pytest.raises(safe_npz.NpzError, match="at most 40"):
        safe_npz.SafeNpz(path, max_bytes=40)


# ----------------------------------------------------------------------------------------------------------
# the corpus path


def test_a_checkpoint_resumes_from_another_directory(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "data" / "words.txt").write_text("anna\nbob\nnab\nnoa\nbo\n" * 20, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    trainer = Trainer(TrainConfig(corpus="data/words.txt", steps=10, val_every=0))  # a relative path
    trainer.run(3)
    ck = train.save_checkpoint(trainer, tmp_path / "ck.npz")
    monkeypatch.chdir(tmp_path / "elsewhere")
    back = train.load_checkpoint(ck)
    assert back.step_count == 3 and back.config.corpus == str(tmp_path / "data" / "words.txt")


def test_an_old_checkpoint_with_a_relative_corpus_is_found_beside_it(tmp_path, monkeypatch):
    (tmp_path / "words.txt").write_text("anna\nbob\nnab\nnoa\nbo\n" * 20, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    trainer = Trainer(TrainConfig(corpus="words.txt", steps=10, val_every=0))
    trainer.run(3)
    ck = train.save_checkpoint(trainer, tmp_path / "ck.npz")
    with zipfile.ZipFile(ck) as z:  # rewrite it as the old format did: the corpus as given, relative
        members = {n[:-4]: z.read(n) for n in z.namelist()}
    cfg = json.loads(str(np.load(io.BytesIO(members["config"]))))
    assert cfg["corpus"] == str(tmp_path / "words.txt")  # (what is written now)
    cfg["corpus"] = "words.txt"
    write_npz(ck, {**members, "config": npy(np.array(json.dumps(cfg)))})
    monkeypatch.chdir("/")
    assert train.load_checkpoint(ck).step_count == 3  # found beside the checkpoint
    (tmp_path / "words.txt").rename(tmp_path / "moved.txt")
    with pytest.raises(CheckpointError, match="'words.txt' .*neither in / nor beside"):
        train.load_checkpoint(ck)
