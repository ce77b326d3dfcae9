"""Data for the tiny GPT: a character tokenizer, corpora, a train/validation split and padded batches.

A corpus is a list of documents. In "lines" mode (names-style, microgpt's) every non-empty line is one
document and is trained on as ``[BOS] + letters + [BOS]``. In "text" mode a continuous text is cut into
windows of block_size characters, each trained on as ``[BOS] + window`` (so samples start from BOS too).
Either way a document becomes a token sequence ``seq`` and contributes the predictions
``seq[:n] → seq[1:n+1]`` with ``n = min(block_size, len(seq) - 1)``: longer documents are truncated, as in
microgpt.
"""

from __future__ import annotations

import functools
import hashlib
import random
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adamlab.core import gpt

MAX_CORPUS_BYTES = 64 * 1024 * 1024  # bigger files are refused rather than loaded half-way
MAX_VOCAB = 1024  # more distinct characters than this is not a text a character model can learn here
MODES = ("lines", "text")


class CorpusError(ValueError):
    """A corpus that cannot be used; the message is written for a person (a GUI shows it as is)."""


# ----------------------------------------------------------------------------------------------------------
# tokenizer


@dataclass(frozen=True)
class Tokenizer:
    """Characters ↔ ids: the sorted distinct characters get 0..n-1 and BOS is the last id (n), as in microgpt."""

    chars: str

    def __post_init__(self):
        if len(set(self.chars)) != len(self.chars) or list(self.chars) != sorted(self.chars):
            raise ValueError("chars must be distinct characters in sorted order")
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def from_docs(cls, docs) -> "Tokenizer":
        return cls("".join(sorted(set("".join(docs)))))

    @property
    def bos(self) -> int:
        return len(self.chars)

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 1

    def encode(self, text: str) -> list[int]:
        try:
            return [self._index[c] for c in text]
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the tokenizer's vocabulary") from None

    def decode(self, ids) -> str:
        """Text of the ids; BOS ends nothing here, it is simply skipped."""
        return "".join(self.chars[i] for i in ids if i != self.bos)


# ----------------------------------------------------------------------------------------------------------
# corpora


@dataclass
class Corpus:
    """Documents ready to train on. ``truncated`` counts documents with more than block_size predictions."""

    name: str  # "names" for the built-in corpus, else the file's path
    mode: str
    block_size: int
    docs: list[str]
    tokenizer: Tokenizer
    truncated: int = 0
    seqs: list[np.ndarray] = field(default_factory=list, repr=False)  # token ids of each document

    def __len__(self):
        return len(self.docs)

    @functools.cached_property
    def info(self) -> "CorpusInfo":
        """The counts a memory estimate needs (see CorpusInfo), computed once."""
        chars = sum(map(len, self.docs))
        longest = max(map(len, self.docs), default=0) + (self.mode == "lines")
        return CorpusInfo(self.tokenizer.vocab_size, len(self.docs), chars, longest, _char_bytes(self.docs))

    def fingerprint(self) -> str:
        """SHA-256 of the documents (in order, each length-prefixed): equal exactly when the same text was
        loaded the same way. A checkpoint records it, so a run never resumes on a corpus that has changed."""
        h = hashlib.sha256()
        for doc in self.docs:
            b = doc.encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
        return h.hexdigest()


def builtin_corpus_path() -> Path:
    from adamlab.resources import resource_path

    return resource_path("names.txt")


def read_text(path) -> str:
    """A file's text, or a CorpusError that says what is wrong with it. Reads at most MAX_CORPUS_BYTES + 1
    bytes whatever the file claims (a file that grows while it is read is refused, not read to its end)."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CorpusError(f"Corpus file not found: {path}") from None
    except OSError as e:
        raise CorpusError(f"Corpus file cannot be read ({e.strerror or e}): {path}") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe, device or socket)"
        raise CorpusError(f"Corpus file is {what}: {path}")
    if st.st_size > MAX_CORPUS_BYTES:  # before reading: a huge file costs nothing to refuse
        raise CorpusError(f"Corpus file is too large ({st.st_size / 2**20:.0f} MB; at most "
                          f"{MAX_CORPUS_BYTES // 2**20} MB): {path}")
    try:  # permission denied, an I/O error, a file removed meanwhile: a message, not a traceback
        with open(path, "rb") as f:  # (read(n) allocates n bytes up front: ask for the size the file has)
            raw = f.read(st.st_size + 1)
            if len(raw) > st.st_size:  # it grew since stat(): read on, up to the cap
                raw += f.read(MAX_CORPUS_BYTES + 1 - len(raw))
    except OSError as e:
        raise CorpusError(f"Corpus file cannot be read ({e.strerror or e}): {path}") from None
    if len(raw) > MAX_CORPUS_BYTES:
        raise CorpusError(f"Corpus file is too large (it grew past {MAX_CORPUS_BYTES // 2**20} MB while it was "
                          f"read): {path}")
    if b"\x00" in raw:
        raise CorpusError(f"Corpus file looks binary (it contains NUL bytes), not text: {path}")
    # control characters are ASCII bytes, never part of a multi-byte UTF-8 character: count them in the bytes,
    # at C speed (a Python loop over the characters took ~4 s for 64 MB)
    controls = len(raw) - len(raw.translate(None, _CONTROL_BYTES))
    if controls > max(8, len(raw) // 100):
        raise CorpusError(f"Corpus file looks binary ({controls} control characters), not text: {path}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"Corpus file is not UTF-8 text (bad byte at offset {e.start}): {path}") from None
    return text.removeprefix("\ufeff")  # a byte-order mark is not part of the text


_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\n\r\t")


def docs_from_text(text: str, mode: str = "lines", block_size: int = 16) -> list[str]:
    """Documents of a text: stripped non-empty lines, or consecutive windows of block_size characters."""
    if mode == "lines":
        return [line.strip() for line in text.split("\n") if line.strip()]  # microgpt's reading
    if mode == "text":
        text = text.replace("\r\n", "\n")
        return [text[i : i + block_size] for i in range(0, len(text), block_size) if text[i : i + block_size].strip()]
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def encode_doc(doc: str, tokenizer: Tokenizer, mode: str, block_size: int | None = None) -> np.ndarray:
    """[BOS] + ids + [BOS] for a line, [BOS] + ids for a text window.

    With ``block_size``, a line is encoded only as far as training can see it: a document contributes its
    first block_size predictions, i.e. [BOS] + its first block_size characters (+ the closing BOS if the line
    is shorter). One 64 MB line costs block_size ids instead of a 512 MB array (and its Python list).
    """
    if block_size is not None and mode == "lines" and len(doc) >= block_size:
        return np.array([tokenizer.bos] + tokenizer.encode(doc[:block_size]), dtype=np.int64)
    ids = [tokenizer.bos] + tokenizer.encode(doc) + ([tokenizer.bos] if mode == "lines" else [])
    return np.array(ids, dtype=np.int64)


def make_corpus(docs, name: str = "docs", mode: str = "lines", block_size: int = 16,
                tokenizer: Tokenizer | None = None) -> Corpus:
    """A Corpus from documents already in memory; checks what load_corpus checks."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be an integer >= 1, got {block_size!r}")
    docs = list(docs)
    if not docs:
        raise CorpusError(f"Corpus {name} is empty: it has no non-blank {'line' if mode == 'lines' else 'text'}")
    tok = tokenizer or Tokenizer.from_docs(docs)
    if len(tok.chars) < 2:
        raise CorpusError(f"Corpus {name} uses a single character ({tok.chars!r}); a model needs at least two")
    if len(tok.chars) > MAX_VOCAB:
        raise CorpusError(f"Corpus {name} uses {len(tok.chars)} distinct characters; at most {MAX_VOCAB}")
    try:
        seqs = [encode_doc(d, tok, mode, block_size) for d in docs]
    except ValueError as e:
        raise CorpusError(f"Corpus {name}: {e}") from None
    # more than block_size predictions: len + 1 for a line ([BOS] + line + [BOS]), len for a text window
    extra = 1 if mode == "lines" else 0
    truncated = sum(1 for d in docs if len(d) + extra > block_size)
    return Corpus(name, mode, block_size, docs, tok, truncated, seqs)


# ----------------------------------------------------------------------------------------------------------
# what a corpus will cost, known before its documents are built


@dataclass(frozen=True)
class CorpusInfo:
    """What a memory estimate needs to know of a corpus (see adamlab.core.memory). From a file's text before
    its documents are built (``text_info``: counts are upper bounds, found at C speed) or from a Corpus
    (``corpus.info``: exact)."""

    vocab_size: int  # token ids, BOS included
    docs: int  # documents
    chars: int  # characters over all documents
    longest: int  # predictions of the longest document before truncation: len + 1 for a line, len for a window
    char_bytes: int = 1  # bytes per character in Python's strings (1, 2 or 4: the widest character decides)


def _char_bytes(strings) -> int:
    """Bytes per character of Python strings holding ``strings`` (CPython stores 1, 2 or 4 per character)."""
    widest = max((max(s) for s in strings if s and not s.isascii()), default="a")  # isascii is O(1)
    return 1 if widest <= "\xff" else 2 if widest <= "\uffff" else 4


def _longest_line(text: str, chunk: int = 1 << 20) -> int:
    """Length of the longest line, splitting ~1 MB at a time (one split of 64 MB of one-letter lines would
    hold 32 million strings at once)."""
    best, i = 0, 0
    while i < len(text):
        j = text.find("\n", i + chunk)
        j = len(text) if j < 0 else j
        best = max(best, max(map(len, text[i:j].split("\n"))))
        i = j + 1
    return best


def text_info(text: str, mode: str = "lines", block_size: int = 16) -> CorpusInfo:
    """CorpusInfo of the corpus ``docs_from_text(text, mode, block_size)`` would make, without making it: the
    vocabulary exactly, documents, characters and the longest document as upper bounds (blank lines and
    whitespace are counted)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    vocab = len(set(text) - {"\n", "\r"} if mode == "lines" else set(text)) + 1
    if mode == "lines":
        docs, longest = text.count("\n") + 1, _longest_line(text) + 1
    else:
        docs, longest = -(-len(text) // block_size), min(block_size, len(text))
    return CorpusInfo(vocab, docs, len(text), longest, _char_bytes([text]))


def load_corpus(source="names", mode: str = "lines", block_size: int = 16, check=None) -> Corpus:
    """Load the built-in names ("names") or a UTF-8 text file; raises CorpusError, never half-loads.

    ``check``: called with the text's CorpusInfo after the file is read and before its documents are built
    (they can take ~20× the file's size): e.g. ``lambda info: memory.check_fits(config, info)``, whose
    ValueError then stops the load.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if str(source) == "names":
        path, name = builtin_corpus_path(), "names"
    else:
        path = Path(source).expanduser()
        name = str(path)
    text = read_text(path)
    if check is not None:
        check(text_info(text, mode, block_size))
    return make_corpus(docs_from_text(text, mode, block_size), name, mode, block_size)


# ----------------------------------------------------------------------------------------------------------
# split and batches


def split_docs(seqs: list, val_fraction: float = 0.1, seed: int | None = 0):
    """Split documents into (train, val): shuffled with ``seed`` (None keeps the order), val is the tail.

    Taking the tail means that with a pre-shuffled list (microgpt's order) training still sees documents
    0, 1, 2, … in order.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    order = list(range(len(seqs)))
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(seqs)).tolist()
    n_val = int(round(len(seqs) * val_fraction))
    if val_fraction > 0 and len(seqs) >= 2:
        n_val = max(n_val, 1)
    n_val = min(n_val, len(seqs) - 1)  # always keep one training document
    train = [seqs[i] for i in order[: len(seqs) - n_val]]
    val = [seqs[i] for i in order[len(seqs) - n_val :]]
    return train, val


def make_batch(seqs, block_size: int, pad: int):
    """Right-padded (inputs, targets, mask), each (B, T) with T the longest document's prediction count."""
    ns = [min(block_size, len(s) - 1) for s in seqs]
    B, T = len(seqs), max(ns)
    inputs = np.full((B, T), pad, dtype=np.int64)
    targets = np.full((B, T), pad, dtype=np.int64)
    mask = np.zeros((B, T))
    for b, (s, n) in enumerate(zip(seqs, ns)):
        inputs[b, :n] = s[:n]
        targets[b, :n] = s[1 : n + 1]
        mask[b, :n] = 1.0
    return inputs, targets, mask


def batch_at(seqs, position: int, batch_size: int, block_size: int, pad: int):
    """The batch of documents position, position+1, … (cycling), as microgpt's ``docs[step % len(docs)]``."""
    N = len(seqs)
    if batch_size == 1:  # no padding needed: plain slices (the common, microgpt case, kept cheap)
        s = seqs[position % N]
        n = min(block_size, len(s) - 1)
        return s[None, :n], s[None, 1 : n + 1], np.ones((1, n))
    return make_batch([seqs[(position + j) % N] for j in range(batch_size)], block_size, pad)


def iter_batches(seqs, batch_size: int, block_size: int, pad: int):
    """Every document once, in order, in batches (the last one may be smaller): for validation."""
    for i in range(0, len(seqs), batch_size):
        yield make_batch(seqs[i : i + batch_size], block_size, pad)


# ----------------------------------------------------------------------------------------------------------
# microgpt's exact setup


@dataclass
class MicrogptSetup:
    docs: list[str]  # in microgpt's shuffled order
    tokenizer: Tokenizer
    config: gpt.GPTConfig
    params: dict  # float64, bit-identical to microgpt's initial weights


def microgpt_setup(docs, n_embd: int = 16, n_head: int = 4, n_layer: int = 1, block_size: int = 16,
                   seed: int = 42, std: float = 0.08) -> MicrogptSetup:
    """Reproduce microgpt.py's Python ``random`` draws: seed 42, shuffle the documents, then the weights.

    ``docs`` is a list of documents in file order (e.g. ``load_corpus(path).docs``) or a path to a
    names-style file.
    """
    if isinstance(docs, (str, Path)):
        docs = docs_from_text(read_text(docs), "lines")
    rng = random.Random(seed)
    docs = list(docs)
    rng.shuffle(docs)
    tok = Tokenizer.from_docs(docs)
    cfg = gpt.GPTConfig(tok.vocab_size, n_embd=n_embd, n_head=n_head, n_layer=n_layer, block_size=block_size)
    return MicrogptSetup(docs, tok, cfg, gpt.microgpt_init(cfg, rng, std=std))
