"""The run folder's on-disk format (version 1): layouts, record framing, and the scanners both ends share.

A run folder holds five files::

    run.json     what is watched, written once (atomically) when the run starts: format name and version,
                 the model and optimizer, the tensors (name, shape, numel, param group), the histogram bins
    stats.rec    one record per logging step: step, wall time, each param group's lr, per tensor g, w, u, flags
    hist.rec     one record per histogram step: per tensor the binned m̂/(√v̂+ε) and log10 lr/(√v̂+ε)
    scalars.rec  one record per logged scalar value: step, wall time, name id, value
    events.rec   JSON records: scalar names (id → name), text samples, sessions opened / resumed / closed

Every ``.rec`` file starts with a 16-byte header — ``b"ADAMLAB\\x1a"``, u32 format version, u32 payload bytes
per record (0: records of any length) — followed by records framed like TensorBoard's event files::

    u32 length | u32 crc32(the 4 length bytes) | payload (length bytes) | u32 crc32(payload)

(little-endian, zlib's CRC-32). The length has its own CRC so that a damaged length is caught before it is
trusted; a length above MAX_RECORD is refused before anything is allocated for it. Files are only ever
appended to, one whole record (or one log() call's records) per write() call, so a reader sees complete
records followed at most by a torn tail (a writer killed mid-write, or still writing): that tail is skipped
and read again on the next poll. Anything else that does not check out is damage: ``RunFormatError``.

Payloads are packed little-endian structs whose sizes follow from run.json (T tensors, G param groups,
B histogram bins; counts are u4, or u8 when a tensor has 2³² elements or more)::

    stats    i8 step, f8 time, f8 lr[G], f4 g[T], f4 w[T], f4 u[T], u1 flags[T]
    hist     i8 step, u1 present[T], count snr[T, B+2], count log_lr[T, B+2]
    scalars  i8 step, f8 time, u4 id, f8 value

with g = RMS(grad), w = RMS(θ after the step), u = RMS(θ_after − θ_before) / RMS(θ_before) (the real update),
flags bit 1 = the tensor had no grad at that step (g, w, u are NaN), bit 2 = a non-finite value in its grad,
weights or update. A histogram row holds, per tensor, B regular bins between run.json's edges plus a first
bin for values below the range and a last one for values at or above its top; NaNs are in no bin (numel −
the row's sum counts them). ``present`` is 0 for a tensor without Adam state or grad at that step.

The fixed-size streams are read a chunk of rows at a time as one (rows × bytes) NumPy array whose columns are
viewed as the fields; the CRCs are checked per record by zlib, or all at once in NumPy for small records. That
is what lets a 100,000-step run of 100 tensors (186 MB) open in about a third of a second.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "adamlab-run"
VERSION = 1  # bump when a reader of this version could misread a new folder
META_FILE = "run.json"
STREAM_FILES = {"stats": "stats.rec", "hist": "hist.rec", "scalars": "scalars.rec", "events": "events.rec"}

MAGIC = b"ADAMLAB\x1a"
HEADER = struct.Struct("<8sII")  # magic, format version, payload bytes per record (0 = variable)
FRAME = struct.Struct("<II")  # length, crc32(length)
CRC = struct.Struct("<I")
OVERHEAD = FRAME.size + CRC.size  # 12 bytes of framing per record

MAX_RECORD = 64 << 20  # no record may claim more (a crafted length is refused before any allocation)
MAX_META = 16 << 20  # run.json
MAX_TENSORS = 100_000
MAX_GROUPS = 10_000
MAX_BINS = 4096
CHUNK = 16 << 20  # fixed-size streams are read in chunks of about this many bytes
MAX_ZERO_TAIL = 16 << 20  # a zero-filled tail up to this long is a torn tail (a crash), longer is damage

FLAG_SKIPPED = 1  # no grad at this step
FLAG_NONFINITE = 2  # inf or nan in the grad, the weights or the update

SCALARS_DTYPE = np.dtype([("step", "<i8"), ("time", "<f8"), ("id", "<u4"), ("value", "<f8")])


class RunFormatError(ValueError):
    """A folder that is not a readable AdamLab run (foreign, damaged, newer format); the message is one line."""


def crc32(data) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def frame(payload: bytes) -> bytes:
    """One record: length, CRC of the length, payload, CRC of the payload."""
    n = len(payload)
    if n > MAX_RECORD:
        raise ValueError(f"a record of {n:,} bytes is over the format's limit of {MAX_RECORD:,}")
    length = struct.pack("<I", n)
    return length + CRC.pack(crc32(length)) + payload + CRC.pack(crc32(payload))


# ----------------------------------------------------------------------------------------------------------
# layouts


@dataclass(frozen=True)
class Layout:
    """The payload dtypes of a run with ``tensors`` tensors, ``groups`` param groups and ``bins`` bins."""

    tensors: int
    groups: int
    bins: int
    count: str  # "<u4" or "<u8"

    @property
    def stats(self) -> np.dtype:
        T, G = self.tensors, self.groups
        return np.dtype([("step", "<i8"), ("time", "<f8"), ("lr", "<f8", (G,)), ("g", "<f4", (T,)),
                         ("w", "<f4", (T,)), ("u", "<f4", (T,)), ("flags", "u1", (T,))])

    @property
    def hist(self) -> np.dtype:
        T, B2 = self.tensors, self.bins + 2
        return np.dtype([("step", "<i8"), ("present", "u1", (T,)), ("snr", self.count, (T, B2)),
                         ("log_lr", self.count, (T, B2))])

    def payload(self, stream: str) -> np.dtype | None:
        return {"stats": self.stats, "hist": self.hist, "scalars": SCALARS_DTYPE, "events": None}[stream]


def count_dtype(numels) -> str:
    """u4 counts unless some tensor has 2³² elements or more (a bin could then overflow)."""
    return "<u8" if max(numels, default=0) >= 2**32 else "<u4"


# ----------------------------------------------------------------------------------------------------------
# run.json


def write_json_atomic(path: Path, obj) -> None:
    """Write JSON to a temp file in the same folder, then os.replace: readers see the old or the new file."""
    text = json.dumps(obj, indent=1, allow_nan=False, ensure_ascii=False)
    # O_EXCL with mode 0666: the umask applies as for any file (mkstemp would make it private, 0600)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with _suppress_oserror():
            os.unlink(tmp)
        raise


class _suppress_oserror:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is not None and issubclass(kind, OSError)


def run_folder(path) -> Path:
    """The run folder for ``path``: the folder itself, or the folder of a file inside one (run.json, *.rec)."""
    p = Path(path).expanduser()
    if p.is_file() and (p.name == META_FILE or p.name in STREAM_FILES.values()):
        p = p.parent
    if not p.exists():
        raise RunFormatError(f"no such run folder: {p}")
    if not p.is_dir():
        raise RunFormatError(f"not an AdamLab run folder (a file, not a folder): {p}")
    if not (p / META_FILE).is_file():
        raise RunFormatError(f"not an AdamLab run folder (no {META_FILE}): {p}")
    return p


def read_meta(folder: Path) -> tuple[dict, Layout]:
    """run.json, checked: RunFormatError for a foreign, newer or damaged one."""
    path = folder / META_FILE
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_META + 1)
    except OSError as e:
        raise RunFormatError(f"cannot read {path}: {e.strerror or e}") from None
    if len(raw) > MAX_META:
        raise RunFormatError(f"{path} is over {MAX_META >> 20} MiB: not an AdamLab run")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RunFormatError(f"{path} is not valid JSON ({type(e).__name__}): not an AdamLab run or damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RunFormatError(f"{path} is not an AdamLab run description (no \"format\": \"{FORMAT}\")")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RunFormatError(f"{path}: bad format version {version!r}")
    if version > VERSION:
        raise RunFormatError(f"{folder} was written in run format {version}; this AdamLab reads format {VERSION} "
                             f"and older: upgrade adamlab")
    return meta, layout_of(meta, path)


def layout_of(meta: dict, where) -> Layout:
    """The layout run.json describes; RunFormatError for anything malformed (names, shapes, counts, bins)."""
    def bad(what):
        raise RunFormatError(f"{where}: {what}")

    tensors, groups, hist = meta.get("tensors"), meta.get("groups"), meta.get("hist")
    if not isinstance(tensors, list) or not 0 < len(tensors) <= MAX_TENSORS:
        bad("'tensors' must be a list of 1 to 100,000 entries")
    if (not isinstance(groups, list) or not 0 < len(groups) <= MAX_GROUPS
            or not all(isinstance(g, dict) for g in groups)):
        bad("'groups' must be a list of 1 to 10,000 param groups (dicts)")
    for key in ("every", "hist_every"):
        if not _is_int(meta.get(key)) or meta[key] < (key == "every"):
            bad(f"'{key}' must be an integer >= {int(key == 'every')}")
    adam = meta.get("adam")
    if (not isinstance(adam, dict) or adam.get("kind") not in (None, "adam", "nadam", "radam")
            or not isinstance(adam.get("note", ""), str)):
        bad("'adam' must say which Adam state the run holds")
    names = set()
    numels = []
    for i, t in enumerate(tensors):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or t["name"] in names:
            bad(f"tensor {i} has no name or a repeated one")
        names.add(t["name"])
        shape, numel, group = t.get("shape"), t.get("numel"), t.get("group")
        if (not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape) or not _is_int(numel)
                or numel != math.prod(shape)):
            bad(f"tensor {t['name']!r} has a bad shape or numel")
        if not _is_int(group) or not 0 <= group < len(groups):
            bad(f"tensor {t['name']!r} names no param group")
        numels.append(numel)
    if not isinstance(hist, dict):
        bad("'hist' is missing")
    bins = hist.get("bins")
    if not _is_int(bins) or not 1 <= bins <= MAX_BINS:
        bad(f"'hist.bins' must be an integer in [1, {MAX_BINS}]")
    for key in ("snr_range", "log_lr_range"):
        r = hist.get(key)
        if (not isinstance(r, list) or len(r) != 2 or not all(isinstance(x, (int, float)) for x in r)
                or not math.isfinite(r[0]) or not math.isfinite(r[1]) or not r[0] < r[1]):
            bad(f"'hist.{key}' must be [low, high] with low < high")
    if hist.get("count") != count_dtype(numels):
        bad("'hist.count' does not match the tensors' sizes")
    layout = Layout(len(tensors), len(groups), bins, hist["count"])
    if layout.hist.itemsize > MAX_RECORD or layout.stats.itemsize > MAX_RECORD:
        bad("records of this many tensors would exceed the format's record limit")
    return layout


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def hist_edges(meta: dict) -> dict[str, np.ndarray]:
    """The B+1 regular bin edges of each histogram kind ("snr", "log_lr")."""
    bins = meta["hist"]["bins"]
    return {kind: np.linspace(*meta["hist"][f"{kind}_range"], bins + 1) for kind in ("snr", "log_lr")}


# ----------------------------------------------------------------------------------------------------------
# streams: header, then records; read incrementally from a remembered offset


def stream_header(version: int, record_bytes: int) -> bytes:
    return HEADER.pack(MAGIC, version, record_bytes)


def check_header(path: Path, raw: bytes, record_bytes: int) -> None:
    if len(raw) < HEADER.size:
        raise RunFormatError(f"{path} is truncated inside its {HEADER.size}-byte header")
    magic, version, size = HEADER.unpack(raw[:HEADER.size])
    if magic != MAGIC:
        raise RunFormatError(f"{path} is not an AdamLab record file (bad magic bytes)")
    if version > VERSION:
        raise RunFormatError(f"{path} was written in run format {version}; this AdamLab reads format {VERSION} "
                             f"and older: upgrade adamlab")
    if size != record_bytes:
        raise RunFormatError(f"{path} holds {size}-byte records but run.json describes {record_bytes}-byte ones")


def open_stream(path: Path, record_bytes: int):
    """A record file opened for reading, its header checked (RunFormatError, one line, for any problem)."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise RunFormatError(f"{path.parent} is incomplete: {path.name} is missing") from None
    except OSError as e:
        raise RunFormatError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        check_header(path, f.read(HEADER.size), record_bytes)
    except BaseException:
        f.close()
        raise
    return f


def _all_zero(f, start: int, end: int) -> bool:
    """Whether bytes [start, end) are zeros: the tail a crash can leave on some filesystems (size extended,
    data never written) — treated like a torn tail, not as damage. A zero tail longer than MAX_ZERO_TAIL is
    no crash's doing (a crafted sparse file): damage, found without reading it."""
    if end - start > MAX_ZERO_TAIL:
        return False
    f.seek(start)
    while start < end:
        block = f.read(min(end - start, 1 << 20))
        if not block or block.count(0) != len(block):
            return False
        start += len(block)
    return True


class FixedStream:
    """A stream of fixed-size records read incrementally: ``chunks()`` yields the payloads of the complete
    records appended since the last call, as (n, payload bytes) uint8 arrays of at most about CHUNK bytes,
    and leaves a torn tail for the next call. ``field()`` turns such a chunk into one typed column."""

    def __init__(self, path: Path, payload: np.dtype):
        self.path = path
        self.payload = payload
        self.record_bytes = payload.itemsize
        self.row = payload.itemsize + OVERHEAD
        self.length_crc = crc32(struct.pack("<I", payload.itemsize))
        self.offset = HEADER.size
        self.count = 0  # complete records read so far
        self.torn = 0  # bytes of an incomplete record after the last complete one
        self._buffer = None  # reused by every chunk read
        self.file = open_stream(path, payload.itemsize)

    def close(self):
        self.file.close()

    def size(self) -> int:
        return os.fstat(self.file.fileno()).st_size

    def check_still_there(self) -> None:
        """RunFormatError if the file was deleted or replaced since it was opened (a new run written to the
        same folder): the reader would otherwise wait on the old file forever."""
        try:
            now = os.stat(self.path)
        except OSError:
            raise RunFormatError(f"{self.path} was removed while it was followed") from None
        then = os.fstat(self.file.fileno())
        if (now.st_ino, now.st_dev) != (then.st_ino, then.st_dev):
            raise RunFormatError(f"{self.path.parent} was replaced by another run while it was followed: open it "
                                 f"again")

    def chunks(self):
        """The new records' payloads, chunk by chunk, as views of one buffer that the next chunk overwrites
        (copy what you keep before asking for the next): reading a big run touches 16 MiB of fresh memory
        for its reads, not the size of the file."""
        end = self.size()
        per_chunk = max(1, CHUNK // self.row)
        while True:
            n = min((end - self.offset) // self.row, per_chunk)
            if n <= 0:
                break
            if self._buffer is None or len(self._buffer) < n * self.row:
                self._buffer = bytearray(max(n, min(per_chunk, 64)) * self.row)
            self.file.seek(self.offset)
            raw = memoryview(self._buffer)[:n * self.row]
            n = self.file.readinto(raw) // self.row
            raw = raw[:n * self.row]
            rows = np.frombuffer(raw, np.uint8).reshape(n, self.row)  # framed records
            good = self._check(rows, raw)
            self.offset += good * self.row
            self.count += good
            self.torn = max(0, end - self.offset)
            if good:
                yield rows[:good, FRAME.size:FRAME.size + self.record_bytes]
            if good < n:
                break
        self.torn = max(0, end - self.offset)

    def field(self, rows: np.ndarray, name: str) -> np.ndarray:
        """Column ``name`` of payload rows from chunks() as an array of its own dtype, (n, *shape): a strided
        view into the chunk where NumPy allows it (the caller copies it once, into its own buffer)."""
        sub, start = self.payload.fields[name][:2]
        column = rows[:, start:start + sub.itemsize]
        try:
            typed = column.view(sub.base)
        except ValueError:  # a layout NumPy cannot view in place
            typed = np.ascontiguousarray(column).view(sub.base)
        return typed.reshape(len(rows), *sub.shape)

    def pending(self) -> int:
        """Complete records in the file not read yet, counted up to 1 GiB of them: a hint to size buffers
        before reading (a crafted huge file must not make the reader allocate for it before checking it)."""
        return max(0, min(self.size() - self.offset, 1 << 30) // self.row)

    def read_slice(self, index: int, start: int, nbytes: int) -> bytes:
        """``nbytes`` of record ``index``'s payload from byte ``start`` (a record chunks() has checked)."""
        if not 0 <= index < self.count or start < 0 or start + nbytes > self.record_bytes:
            raise IndexError(f"record {index} bytes {start}+{nbytes} of {self.path.name}")
        self.file.seek(HEADER.size + index * self.row + FRAME.size + start)
        raw = self.file.read(nbytes)
        if len(raw) != nbytes:
            raise RunFormatError(f"{self.path} shrank while it was read")
        return raw

    def _check(self, rows: np.ndarray, raw: memoryview) -> int:
        """How many rows are whole and sound; RunFormatError at the first damaged one (unless the rest of
        the file is zeros)."""
        def u32(col):
            return np.ascontiguousarray(rows[:, col:col + 4]).view("<u4")[:, 0]

        size = self.record_bytes
        bad = np.flatnonzero((u32(0) != size) | (u32(4) != self.length_crc))
        limit = int(bad[0]) if bad.size else len(rows)
        if size <= SMALL_RECORD:  # many small records: CRC-32 of all of them at once in NumPy
            crcs = crc32_rows(rows[:limit, FRAME.size:FRAME.size + size])
        else:  # zlib per record (a C loop over each record's bytes beats NumPy's per-byte passes)
            view, step = raw, self.row
            crcs = np.array([zlib.crc32(view[i * step + 8:i * step + 8 + size]) for i in range(limit)], np.uint32)
        mismatch = np.flatnonzero(crcs != u32(self.row - 4)[:limit])
        if mismatch.size:
            limit = int(mismatch[0])
        if limit < len(rows):
            at = self.offset + limit * self.row
            if not _all_zero(self.file, at, self.size()):
                what = "header" if bad.size and limit == bad[0] else "checksum"
                raise RunFormatError(f"{self.path} is damaged at byte {at:,} (record {what} does not match); "
                                     f"the records before it are intact")
        return limit


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):  # the reflected CRC-32 polynomial, one bit at a time
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1).astype(np.uint32)
    return table


_CRC_TABLE = _crc_table()
SMALL_RECORD = 96  # bytes; up to here crc32_rows is faster than a zlib call per record


def crc32_rows(rows: np.ndarray) -> np.ndarray:
    """zlib.crc32 of each row of a (n, L) uint8 array, vectorised over the rows: L passes of a table lookup."""
    crc = np.full(len(rows), 0xFFFFFFFF, np.uint32)
    for column in np.ascontiguousarray(rows.T):  # (L, n): each byte position contiguous
        crc = _CRC_TABLE[(crc ^ column) & 0xFF] ^ (crc >> 8)
    return crc ^ np.uint32(0xFFFFFFFF)


class EventStream:
    """The variable-length JSON stream, read incrementally like FixedStream."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = HEADER.size
        self.torn = 0
        self.file = open_stream(path, 0)

    def close(self):
        self.file.close()

    def read_new(self) -> list[dict]:
        out = []
        end = os.fstat(self.file.fileno()).st_size
        f = self.file
        while end - self.offset >= FRAME.size:
            f.seek(self.offset)
            length, length_crc = FRAME.unpack(f.read(FRAME.size))
            if crc32(struct.pack("<I", length)) != length_crc:
                self._damage("record header does not match", end)
                break
            if length > MAX_RECORD:
                raise RunFormatError(f"{self.path} is damaged at byte {self.offset:,}: a record claims "
                                     f"{length:,} bytes (the limit is {MAX_RECORD:,})")
            if self.offset + OVERHEAD + length > end:
                break  # torn tail: the rest of this record is not written (yet)
            payload = f.read(length)
            (crc,) = CRC.unpack(f.read(CRC.size))
            if crc32(payload) != crc:
                self._damage("checksum does not match", end)
                break
            out.append(self._decode(payload))
            self.offset += OVERHEAD + length
        self.torn = max(0, end - self.offset)
        return out

    def _damage(self, what, end):
        if not _all_zero(self.file, self.offset, end):
            raise RunFormatError(f"{self.path} is damaged at byte {self.offset:,} ({what}); the records before "
                                 f"it are intact")

    def _decode(self, payload: bytes) -> dict:
        try:
            event = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise RunFormatError(f"{self.path} is damaged at byte {self.offset:,} (a record is not JSON)") from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise RunFormatError(f"{self.path} is damaged at byte {self.offset:,} (a record has no type)")
        return event
