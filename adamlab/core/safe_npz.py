"""Reading .npz archives that may be hostile: every member's size, shape and dtype is known and checked before
a byte of its data is read, so a crafted file cannot make the program allocate more than its caller allows.

    with SafeNpz(path, max_bytes=2**30) as z:
        z.members["params"]          # Member(shape, dtype, nbytes): from the zip directory and the .npy header
        z.read("params")             # the array, read only when asked (never with pickle)

What ``np.load`` does not do, and this does:

* the file's first bytes are looked at first, so a file that is not a zip archive is named for what it is
  (a pickle, a single .npy array, a PyTorch or HDF5 file, text, …) and no NumPy message about ``allow_pickle``
  reaches the user;
* the zip directory is bounded (``MAX_DIRECTORY_BYTES``) before it is parsed, and every member's declared
  uncompressed size (and their sum) against ``max_bytes`` — a zip bomb is refused from its directory, in
  microseconds, and a member whose data expands beyond its declared size is cut there by ``zipfile`` and
  fails its CRC;
* each member's .npy header is read from the first bytes of the member (at most ``MAX_HEADER_BYTES``), its
  dtype must be plain numbers or text (no objects, no structured types), and the size its shape declares
  must be exactly what the directory says the member holds.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_DIRECTORY_BYTES = 1 << 20  # a checkpoint's zip directory is ~5 kB (~50 members)
MAX_MEMBERS = 4096
MAX_HEADER_BYTES = 1 << 16  # NumPy itself refuses headers over 10,000 characters
ALLOWED_KINDS = "biufU"  # bool, integers, floats, unicode text
NPY_MAGIC = b"\x93NUMPY"


class NpzError(ValueError):
    """Not a readable .npz archive; the message says what the file is or what is wrong with it. ``foreign``:
    the file is some other kind of file (not a damaged archive)."""

    def __init__(self, message: str, foreign: bool = False):
        super().__init__(message)
        self.foreign = foreign


@dataclass(frozen=True)
class Member:
    """One array of the archive, as declared by its .npy header (checked against the zip directory)."""

    shape: tuple
    dtype: np.dtype
    nbytes: int  # of the data, = prod(shape) · itemsize
    info: zipfile.ZipInfo


def what_is(head: bytes) -> str:
    """What a file that starts with ``head`` (its first bytes) seems to be, for a message."""
    if not head:
        return "an empty file"
    if head.startswith(NPY_MAGIC):
        return "a single NumPy array (.npy), not an .npz archive"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle, which AdamLab never loads"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip file"
    if len(head) >= 10 and head[8:10] == b'{"':
        return "a safetensors file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "not a zip (.npz) archive"
    if all(c.isprintable() or c in "\r\n\t" for c in text):
        return "a text file"
    return "not a zip (.npz) archive"


def _directory_size(f) -> tuple[int, int]:
    """(entries, bytes) of the zip directory, from the end-of-archive record, before zipfile parses it."""
    end = zipfile._EndRecData(f)  # (CPython's reader of that record, zip64 included)
    if end is None:
        raise NpzError("not a complete zip archive (no end-of-archive record: truncated?)")
    return end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]


def _read_header(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple, bool, np.dtype, int]:
    """(shape, fortran_order, dtype, data offset) from the member's .npy header; reads only the header."""
    with z.open(info) as m:
        head = m.read(12)
        if not head.startswith(NPY_MAGIC) or len(head) < 10:
            raise NpzError(f"member {info.filename} is not a NumPy array")
        major = head[6]
        if major == 1:
            start, (length,) = 10, struct.unpack("<H", head[8:10])
        elif major == 2 and len(head) == 12:
            start, (length,) = 12, struct.unpack("<I", head[8:12])
        else:
            raise NpzError(f"member {info.filename} has .npy format version {major}, not 1 or 2")
        if length > MAX_HEADER_BYTES:
            raise NpzError(f"member {info.filename} has a {length:,}-byte header")
        head += m.read(start + length - len(head))
    buf = io.BytesIO(head)
    np.lib.format.read_magic(buf)
    read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(buf)
    return shape, fortran, dtype, start + length


class SafeNpz:
    """A .npz archive whose members were all checked (see the module docstring). ``max_bytes`` bounds each
    member's data and their sum; NpzError for anything else than an archive of plain arrays."""

    def __init__(self, path, max_bytes: int, max_members: int = MAX_MEMBERS):
        self.path = Path(path)
        self._file = open(self.path, "rb")
        try:
            self.members = self._check(max_bytes, max_members)
        except BaseException:
            self.close()
            raise

    def _check(self, max_bytes: int, max_members: int) -> dict[str, Member]:
        f = self._file
        head = f.read(16)
        if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise NpzError(what_is(head), foreign=True)
        f.seek(0)
        entries, size = _directory_size(f)
        if entries > max_members or size > MAX_DIRECTORY_BYTES:
            raise NpzError(f"its zip directory lists {entries:,} members in {size:,} bytes (at most "
                           f"{max_members:,} in {MAX_DIRECTORY_BYTES:,})")
        try:
            self._zip = z = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
            raise NpzError(f"a damaged zip archive ({e})") from None
        members, total = {}, 0
        for info in z.infolist():
            name = info.filename
            if name.endswith("data.pkl"):
                raise NpzError("a PyTorch file (torch.save), not an .npz archive of NumPy arrays", foreign=True)
            if not name.endswith(".npy"):
                raise NpzError(f"a zip archive holding {name!r}, not only NumPy arrays", foreign=True)
            key = name[: -len(".npy")]
            if key in members:
                raise NpzError(f"a zip archive that holds {name!r} twice")
            if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise NpzError(f"member {name} is encrypted or compressed in an unsupported way")
            total += info.file_size
            if info.file_size > max_bytes or total > max_bytes:
                raise NpzError(f"its members declare {total:,} bytes of data (at most {max_bytes:,} here)")
            try:
                shape, fortran, dtype, offset = _read_header(z, info)
            except NpzError:
                raise
            except (ValueError, TypeError, SyntaxError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise NpzError(f"member {name} has a damaged header ({type(e).__name__})") from None
            if dtype.hasobject or dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype:
                raise NpzError(f"an .npz archive whose member {name} holds {dtype} data (Python objects or "
                               f"records), not numbers or text", foreign=True)
            nbytes = math.prod(shape) * dtype.itemsize
            if offset + nbytes != info.file_size:
                raise NpzError(f"member {name} declares {shape} {dtype} ({nbytes:,} bytes) but holds "
                               f"{max(info.file_size - offset, 0):,} bytes")
            members[key] = Member(tuple(shape), dtype, nbytes, info)
        return members

    def read(self, key: str) -> np.ndarray:
        """The member's array (never via pickle). KeyError if there is no such member."""
        m = self.members[key]
        try:
            with self._zip.open(m.info) as f:
                a = np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise NpzError(f"member {m.info.filename} cannot be read ({e})") from None
        if a.shape != m.shape or a.dtype != m.dtype:  # (cannot happen: the same header was read twice)
            raise NpzError(f"member {m.info.filename} changed while it was read")
        return a

    def close(self):
        z = getattr(self, "_zip", None)
        if z is not None:
            z.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
