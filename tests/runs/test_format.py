"""The run folder without torch: what the writer writes reads back; torn tails, damage, foreign, newer and
hostile folders; incremental polling that reads only what was appended, also from another process."""

import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from adamlab.runs import RunFormatError, open_run
from adamlab.runs.format import HEADER, MAX_RECORD, STREAM_FILES
from adamlab.runs.writer import RunWriter, make_meta
from tests.runs.synth import SHAPES, make_run

REPO = Path(__file__).resolve().parents[2]


def test_what_is_written_reads_back(tmp_path):
    exp = make_run(tmp_path / "r", steps=12, bins=8, hist_every=4)
    with open_run(tmp_path / "r") as run:
        assert run.tensors == exp["names"] and run.shapes == list(SHAPES.values())
        assert run.numel.tolist() == exp["numel"].tolist() and run.group_of.tolist() == [0, 1, 0, 1]
        assert run.steps.tolist() == list(range(12))
        np.testing.assert_array_equal(run.g, exp["g"])
        np.testing.assert_array_equal(run.w, exp["w"])
        np.testing.assert_array_equal(run.u, exp["u"])
        np.testing.assert_array_equal(run.lr, exp["lr"])
        assert not run.nonfinite.any() and not run.skipped.any()
        steps, loss = run.scalar("loss")
        assert steps.tolist() == list(range(12)) and loss.tolist() == exp["loss"]
        steps, val = run.scalar("val_loss")
        assert list(zip(steps.tolist(), val.tolist())) == exp["val_loss"]
        assert run.scalar_names == ["loss", "val_loss"]
        assert [(s.step, list(s.texts)) for s in run.samples] == exp["samples"]
        assert run.hist_steps.tolist() == [0, 4, 8]
        h = run.histogram("h.0.mlp", "log_lr", step=7)  # the latest histogram step <= 7
        assert h.step == 4 and h.numel == 256
        counts = exp["log_lr"][1, 2]
        assert h.below == counts[0] and h.above == counts[-1] and h.counts.tolist() == counts[1:-1].tolist()
        assert h.nonfinite == 0 and h.edges.tolist() == np.linspace(-10, 6, 9).tolist()
        hs, series = run.histogram_series("bias", "snr")
        assert hs.tolist() == [0, 4, 8] and series.tolist() == exp["snr"][:, 3].tolist()
        assert run.closed and [s["type"] for s in run.sessions] == ["open", "close"]
        assert run.adam == "adam" and run.note == "synthetic" and run.every == 1 and run.hist_every == 4
        assert run.torn == {name: 0 for name in STREAM_FILES}
        expected_norm = np.sqrt((exp["g"].astype(np.float64) ** 2 * exp["numel"]).sum(1))
        np.testing.assert_allclose(run.grad_norm, expected_norm, rtol=1e-12)


def test_returned_arrays_are_read_only_and_survive_later_polls(tmp_path):
    exp = make_run(tmp_path / "r", steps=3, close=False)
    run = open_run(tmp_path / "r")
    u = run.u
    with pytest.raises(ValueError):
        u[0, 0] = 1.0
    for step in range(3, 40):  # enough rows to make the reader move to bigger buffers
        row = np.zeros(1, exp["writer"].layout.stats)
        row[0]["step"], row[0]["u"] = step, step
        exp["writer"].stats(row)
    run.poll()
    np.testing.assert_array_equal(u, exp["u"])  # the old view is unchanged
    assert run.u.shape == (40, 4) and run.u[39].tolist() == [39] * 4
    run.close()


def _stats_file(folder):
    return Path(folder) / STREAM_FILES["stats"]


@pytest.mark.parametrize("stream", ["stats", "hist", "scalars", "events"])
def test_a_folder_truncated_mid_record_opens_with_every_complete_record(tmp_path, stream):
    make_run(tmp_path / "r", steps=10, hist_every=2, close=False)
    path = tmp_path / "r" / STREAM_FILES[stream]
    full = path.read_bytes()

    def records(run):  # (the last event of this run is its second samples record)
        return {"stats": len(run.steps), "hist": len(run.hist_steps), "events": len(run.samples),
                "scalars": sum(len(run.scalar(n)[0]) for n in run.scalar_names)}[stream]

    with open_run(tmp_path / "r") as run:
        complete = records(run)
    # cut inside the last record: in its length field, its length CRC, its payload, its final CRC
    ends = _record_ends(full)
    last_start, last_end = ends[-2], ends[-1]
    for cut in sorted({last_start + 1, last_start + 6, (last_start + last_end) // 2, last_end - 1}):
        path.write_bytes(full[:cut])
        with open_run(tmp_path / "r") as run:
            assert records(run) == complete - 1
            assert run.torn[stream] == cut - last_start


def _record_ends(raw: bytes) -> list[int]:
    """Offsets where records start, walking the framing (plus the file's end)."""
    off, out = HEADER.size, [HEADER.size]
    while off < len(raw):
        (n,) = struct.unpack_from("<I", raw, off)
        off += 12 + n
        out.append(off)
    return out


def test_a_zero_filled_tail_is_a_torn_tail_not_damage(tmp_path):
    make_run(tmp_path / "r", steps=5)
    with open(_stats_file(tmp_path / "r"), "ab") as f:
        f.write(bytes(3000))  # what a crash can leave: the size grew, the data never came
    with open_run(tmp_path / "r") as run:
        assert len(run.steps) == 5 and run.torn["stats"] == 3000


def test_a_flipped_byte_inside_the_run_is_damage_with_its_offset(tmp_path):
    make_run(tmp_path / "r", steps=5)
    path = _stats_file(tmp_path / "r")
    raw = bytearray(path.read_bytes())
    row = (len(raw) - HEADER.size) // 5
    at = HEADER.size + 2 * row + 40  # inside the payload of the third record
    raw[at] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(RunFormatError, match=rf"stats.rec is damaged at byte {HEADER.size + 2 * row:,} "
                                             r"\(record checksum does not match\)"):
        open_run(tmp_path / "r")
    raw[at] ^= 0x10
    raw[HEADER.size + row] ^= 0x01  # the second record's length field
    path.write_bytes(bytes(raw))
    with pytest.raises(RunFormatError, match="record header does not match"):
        open_run(tmp_path / "r")


def test_a_crafted_huge_record_length_is_refused_before_reading_it(tmp_path, monkeypatch):
    make_run(tmp_path / "r", steps=2)
    events = tmp_path / "r" / STREAM_FILES["events"]
    length = struct.pack("<I", 0xFFFFFFF0)
    with open(events, "ab") as f:  # a well-formed header (its CRC matches) claiming ~4 GiB, and a few bytes
        f.write(length + struct.pack("<I", zlib.crc32(length)) + b"x" * 100)
    reads = []
    real_open = open

    class Counting:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            reads.append(n)
            return self.f.read(n)

        def __getattr__(self, name):
            return getattr(self.f, name)

    def counting_open(path, mode="r", *a, **kw):
        f = real_open(path, mode, *a, **kw)
        return Counting(f) if "b" in mode and str(path).endswith(".rec") else f

    monkeypatch.setattr("builtins.open", counting_open)
    with pytest.raises(RunFormatError, match=r"events.rec is damaged at byte [\d,]+: a record claims "
                                             r"4,294,967,280 bytes \(the limit is 67,108,864\)"):
        open_run(tmp_path / "r")
    assert max(n for n in reads if n is not None) < MAX_RECORD  # nothing of the claimed size was asked for


def test_a_record_length_beyond_the_file_end_is_a_torn_tail(tmp_path):
    make_run(tmp_path / "r", steps=2)
    events = tmp_path / "r" / STREAM_FILES["events"]
    length = struct.pack("<I", 5000)
    with open(events, "ab") as f:
        f.write(length + struct.pack("<I", zlib.crc32(length)) + b"{" * 100)
    with open_run(tmp_path / "r") as run:
        assert run.torn["events"] == 108 and len(run.samples) == 1


def test_foreign_and_missing_folders_are_refused_in_one_line(tmp_path):
    def refused(path, pattern):
        with pytest.raises(RunFormatError, match=pattern) as e:
            open_run(path)
        assert "\n" not in str(e.value)

    refused(tmp_path / "nope", "no such run folder")
    (tmp_path / "empty").mkdir()
    refused(tmp_path / "empty", r"not an AdamLab run folder \(no run.json\)")
    (tmp_path / "file.txt").write_text("hello")
    refused(tmp_path / "file.txt", "a file, not a folder")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "run.json").write_text('{"name": "a W&B run"}')
    refused(tmp_path / "foreign", 'not an AdamLab run description')
    (tmp_path / "foreign" / "run.json").write_bytes(b"\x00\xffgarbage")
    refused(tmp_path / "foreign", "not valid JSON")
    (tmp_path / "foreign" / "run.json").write_text("[" * 200_000 + "]" * 200_000)
    refused(tmp_path / "foreign", "not valid JSON")


def test_a_newer_format_is_refused_with_upgrade_advice(tmp_path):
    make_run(tmp_path / "r", steps=2)
    meta_path = tmp_path / "r" / "run.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(dict(meta, version=2)))
    with pytest.raises(RunFormatError, match="written in run format 2; this AdamLab reads format 1 and older: "
                                             "upgrade adamlab"):
        open_run(tmp_path / "r")
    meta_path.write_text(json.dumps(meta))
    stats = _stats_file(tmp_path / "r")
    raw = stats.read_bytes()
    stats.write_bytes(raw[:8] + struct.pack("<I", 7) + raw[12:])
    with pytest.raises(RunFormatError, match="stats.rec was written in run format 7"):
        open_run(tmp_path / "r")


def test_bad_stream_headers_and_meta_are_refused(tmp_path):
    make_run(tmp_path / "r", steps=2)
    stats = _stats_file(tmp_path / "r")
    raw = stats.read_bytes()
    stats.write_bytes(b"NOTADAML" + raw[8:])
    with pytest.raises(RunFormatError, match="not an AdamLab record file"):
        open_run(tmp_path / "r")
    stats.write_bytes(raw[:10])
    with pytest.raises(RunFormatError, match="truncated inside its 16-byte header"):
        open_run(tmp_path / "r")
    stats.write_bytes(raw)
    meta_path = tmp_path / "r" / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["tensors"][0]["shape"] = [27, 9]  # numel no longer matches, nor the records' size
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(RunFormatError, match="bad shape or numel"):
        open_run(tmp_path / "r")
    meta["tensors"][0].update(shape=[27, 9], numel=243)  # consistent, but the stats records are other sizes
    meta["hist"]["count"] = "<u4"
    meta_path.write_text(json.dumps(meta))
    open_run(tmp_path / "r").close()  # same T: the same record sizes, so this one still reads
    meta["tensors"].append({"name": "extra", "shape": [1], "numel": 1, "group": 0})
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(RunFormatError, match=r"holds \d+-byte records but run.json describes \d+-byte ones"):
        open_run(tmp_path / "r")
    meta["tensors"] = [{"name": f"t{i}", "shape": [1], "numel": 1, "group": 0} for i in range(200_000)]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(RunFormatError, match="1 to 100,000 entries"):
        open_run(tmp_path / "r")
    (tmp_path / "r" / "hist.rec").unlink()
    meta_path.write_text(json.dumps(dict(meta, tensors=meta["tensors"][:4])))
    with pytest.raises(RunFormatError, match="incomplete: hist.rec is missing"):
        open_run(tmp_path / "r")


def test_a_file_inside_the_folder_opens_the_run(tmp_path):
    make_run(tmp_path / "r", steps=3)
    for name in ("run.json", "stats.rec"):
        with open_run(tmp_path / "r" / name) as run:
            assert len(run.steps) == 3


def test_the_writer_refuses_to_mix_runs_and_resumes_after_cutting_a_torn_tail(tmp_path):
    make_run(tmp_path / "r", steps=4, close=False)
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    with pytest.raises(FileExistsError, match="already holds an AdamLab run: pass resume=True"):
        RunWriter(tmp_path / "r", meta)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="exists and is not an empty folder"):
        RunWriter(tmp_path / "other", meta)
    stats = _stats_file(tmp_path / "r")
    stats.write_bytes(stats.read_bytes()[:-7])  # a writer killed mid-record
    w = RunWriter(tmp_path / "r", meta, resume=True)
    row = np.zeros(1, w.layout.stats)
    row[0]["step"] = 99
    w.stats(row)
    w.scalars(99, {"loss": 1.5, "new": 2.0})
    w.close(steps=100)
    with open_run(tmp_path / "r") as run:
        assert run.steps.tolist() == [0, 1, 2, 99]  # step 3 was torn; the new record follows step 2
        assert run.scalar("loss")[0].tolist() == [0, 1, 2, 3, 99] and run.scalar("new")[1].tolist() == [2.0]
        assert [s["type"] for s in run.sessions] == ["open", "resume", "close"] and run.closed
    other = dict(meta, tensors=meta["tensors"][:2])
    with pytest.raises(ValueError, match="cannot resume .* it watched other tensors"):
        RunWriter(tmp_path / "r", other, resume=True)


def test_meta_is_written_with_ordinary_permissions(tmp_path):
    make_run(tmp_path / "r", steps=1)
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "r" / "run.json").stat().st_mode & 0o777 == 0o666 & ~mask
    assert not list((tmp_path / "r").glob(".*tmp"))


class _Counting:
    """Wraps a stream's file object to count the bytes read through it."""

    def __init__(self, f):
        self.f, self.bytes = f, 0

    def read(self, n=-1):
        data = self.f.read(n)
        self.bytes += len(data)
        return data

    def readinto(self, buffer):
        n = self.f.readinto(buffer)
        self.bytes += n
        return n

    def __getattr__(self, name):
        return getattr(self.f, name)


def test_poll_reads_only_what_was_appended(tmp_path):
    exp = make_run(tmp_path / "r", steps=2000, hist_every=100, samples_every=0, close=False)
    run = open_run(tmp_path / "r")
    counters = {}
    for name, stream in run._streams.items():
        stream.file = counters[name] = _Counting(stream.file)
    assert not run.poll() and sum(c.bytes for c in counters.values()) == 0  # nothing new: nothing read
    w = exp["writer"]
    row = np.zeros(1, w.layout.stats)
    row[0]["step"], row[0]["g"] = 2000, 7.0
    w.stats(row)
    w.scalars(2000, {"loss": 0.5, "grad_norm": 1.0})
    update = run.poll()
    assert update.stats == slice(2000, 2001) and run.g[update.stats].tolist() == [[7.0] * 4]
    assert update.scalars == {"loss": slice(2000, 2001), "grad_norm": slice(0, 1)}
    assert update.new_names == ["grad_norm"] and update.hist == slice(2000 // 100, 2000 // 100)
    assert counters["stats"].bytes == w.layout.stats.itemsize + 12
    assert counters["scalars"].bytes == 2 * 40
    assert counters["hist"].bytes == 0 and counters["events"].bytes < 200
    w.close(steps=2001)
    assert run.poll().closed and run.closed
    run.close()


WRITER_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from tests.runs.synth import make_run
    exp = make_run(sys.argv[1], steps=1, hist_every=0, samples_every=0, close=False)
    w = exp["writer"]
    for step in range(1, 60):
        row = np.zeros(1, w.layout.stats)
        row[0]["step"], row[0]["u"] = step, step / 1000
        w.stats(row)
        w.scalars(step, {"loss": 3.0 - step / 100})
        time.sleep(0.02)
    w.close(steps=60)
""")


def test_the_reader_follows_a_folder_another_process_is_appending_to(tmp_path):
    folder = tmp_path / "live"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", WRITER_CHILD, str(folder)], env=env, cwd=tmp_path,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (folder / "run.json").exists():
            assert child.poll() is None or child.returncode == 0, child.stderr.read()
            assert time.monotonic() < deadline, "the writer never started"
            time.sleep(0.01)
        run = open_run(folder)
        seen = [len(run.steps)]
        while not run.closed:
            assert time.monotonic() < deadline, "the run never closed"
            time.sleep(0.05)
            update = run.poll()
            if update.stats.stop > update.stats.start:
                seen.append(len(run.steps))
        assert child.wait(timeout=30) == 0, child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert run.steps.tolist() == list(range(60))
    np.testing.assert_allclose(run.u[1:, 0], np.arange(1, 60) / 1000, rtol=1e-6)
    assert run.scalar("loss")[0].tolist() == list(range(60))
    assert len(seen) >= 5 and seen == sorted(seen)  # it grew in several polls, never went back
    run.close()


def test_make_meta_rejects_what_a_reader_would_refuse(tmp_path):
    meta = make_meta([{"name": "a", "shape": [2], "group": 3}], [{"lr": 1.0}])
    with pytest.raises(RunFormatError, match="names no param group"):
        RunWriter(tmp_path / "r", meta)
    assert not (tmp_path / "r").exists()


def test_a_followed_folder_replaced_by_a_new_run_is_reported(tmp_path):
    import shutil

    make_run(tmp_path / "r", steps=3, close=False)
    run = open_run(tmp_path / "r")
    shutil.rmtree(tmp_path / "r")
    with pytest.raises(RunFormatError, match="stats.rec was removed while it was followed"):
        run.poll()
    make_run(tmp_path / "r", steps=1)
    with pytest.raises(RunFormatError, match="was replaced by another run while it was followed: open it again"):
        run.poll()
    run.close()


def test_a_huge_sparse_stream_is_refused_quickly_without_allocating_for_it(tmp_path):
    make_run(tmp_path / "r", steps=3)
    stats = _stats_file(tmp_path / "r")
    os.truncate(stats, 64 << 30)  # 64 GiB of (sparse) zeros after three good records
    t0 = time.perf_counter()
    with pytest.raises(RunFormatError, match="stats.rec is damaged at byte"):
        open_run(tmp_path / "r")
    assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize("change, message", [
    ({"groups": [1, 2]}, "param groups"),
    ({"every": "10"}, "'every' must be an integer >= 1"),
    ({"hist_every": -1}, "'hist_every' must be an integer >= 0"),
    ({"adam": {"kind": "lion"}}, "'adam' must say which Adam state"),
    ({"hist": {"bins": 8, "snr_range": [2, -2], "log_lr_range": [-10, 6], "count": "<u4"}}, "hist.snr_range"),
])
def test_malformed_run_descriptions_are_refused_in_one_line(tmp_path, change, message):
    make_run(tmp_path / "r", steps=1)
    meta_path = tmp_path / "r" / "run.json"
    meta_path.write_text(json.dumps(dict(json.loads(meta_path.read_text()), **change)))
    with pytest.raises(RunFormatError, match=message):
        open_run(tmp_path / "r")


def test_malformed_events_are_skipped_not_fatal(tmp_path):
    exp = make_run(tmp_path / "r", steps=2, close=False)
    w = exp["writer"]
    w.event({"type": "samples", "step": "two", "texts": ["x"]})
    w.event({"type": "samples", "step": 1, "texts": [3]})
    w.event({"type": "scalar", "id": "0", "name": 5})
    w.event({"type": "from-the-future", "payload": [1, 2]})
    w.samples(1, ["kept"])
    with open_run(tmp_path / "r") as run:
        assert [s.texts for s in run.samples] == [("name0", "émile"), ("kept",)]
        assert run.scalar_names == ["loss", "val_loss"]
