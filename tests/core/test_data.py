"""Tokenizer, corpora (built-in and user files, good and bad), split, batches and microgpt's setup."""

import random

import numpy as np
import pytest

from adamlab.core import data, gpt
from adamlab.core.data import CorpusError, Tokenizer


def test_tokenizer_sorts_characters_and_puts_bos_last():
    tok = Tokenizer.from_docs(["emma", "bob"])
    assert tok.chars == "abemo"
    assert tok.bos == 5 and tok.vocab_size == 6
    assert tok.encode("mob") == [3, 4, 1]
    assert tok.decode([tok.bos, 3, 4, 1, tok.bos]) == "mob"
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("z")


def test_builtin_corpus_is_thousands_of_lowercase_names():
    corpus = data.load_corpus("names")
    assert corpus.name == "names" and corpus.mode == "lines"
    assert 3000 <= len(corpus) <= 10000
    assert corpus.tokenizer.chars == "abcdefghijklmnopqrstuvwxyz"
    assert all(d.isalpha() and d.islower() for d in corpus.docs)
    assert len(set(corpus.docs)) == len(corpus.docs)
    assert corpus.truncated == 0  # the longest Census first name is shorter than 16 letters
    seq = corpus.seqs[corpus.docs.index("mary")]
    assert seq.tolist() == [26] + [corpus.tokenizer.chars.index(c) for c in "mary"] + [26]


def test_lines_mode_reads_like_microgpt_and_counts_truncated_documents(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("  ann \n\n\r\nbo\nabcdefghij\nabcde\n", encoding="utf-8")
    corpus = data.load_corpus(p, block_size=5)
    assert corpus.docs == ["ann", "bo", "abcdefghij", "abcde"]
    # [BOS]+abcde+[BOS] has 6 predictions > 5: truncated, like the 10-letter one; "ann" has 4, "bo" 3
    assert corpus.truncated == 2
    x, y, mask = data.make_batch(corpus.seqs, 5, corpus.tokenizer.bos)
    assert x.shape == (4, 5)
    assert mask.sum(axis=1).tolist() == [4, 3, 5, 5]
    assert corpus.tokenizer.decode(x[2]) == "abcd" and corpus.tokenizer.decode(y[2]) == "abcde"


def test_text_mode_cuts_block_size_windows(tmp_path):
    p = tmp_path / "t.txt"
    text = "the cat sat on the mat.\nthe end"
    p.write_text(text, encoding="utf-8")
    corpus = data.load_corpus(p, mode="text", block_size=8)
    assert "".join(corpus.docs) == text
    assert [len(d) for d in corpus.docs] == [8, 8, 8, 7]
    assert "\n" in corpus.tokenizer.chars
    seq = corpus.seqs[0]
    assert seq[0] == corpus.tokenizer.bos and len(seq) == 9 and corpus.truncated == 0


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    (b"", "empty"),
    (b"\n \n\t\n", "empty"),
    (b"caf\xe9\n", "UTF-8"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00", "binary"),
    (bytes(range(1, 9)) * 20, "binary"),
    (b"aaaa\naa\na\n", "single character"),
])
def test_bad_corpora_raise_a_readable_corpus_error(tmp_path, content, message):
    p = tmp_path / "bad.txt"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(CorpusError, match=message) as e:
        data.load_corpus(p)
    assert isinstance(e.value, ValueError) and str(p) in str(e.value)


def test_an_unreadable_corpus_file_raises_a_corpus_error(tmp_path, monkeypatch):
    # (the tests may run as root, for whom chmod 000 does not stop reading: the refusal is simulated)
    p = tmp_path / "locked.txt"
    p.write_text("anna\nbob\n")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data, "open", refuse, raising=False)  # shadows the builtin inside data.py only
    with pytest.raises(CorpusError, match="Permission denied") as e:
        data.load_corpus(p)
    assert str(p) in str(e.value)


def test_utf8_with_bom_and_non_ascii_characters_loads(tmp_path):
    p = tmp_path / "u.txt"
    p.write_bytes("\ufeffzoë\nrenée\n".encode("utf-8"))
    corpus = data.load_corpus(p)
    assert corpus.docs == ["zoë", "renée"]
    assert "ë" in corpus.tokenizer.chars and "é" in corpus.tokenizer.chars and "\ufeff" not in corpus.tokenizer.chars


def test_bad_mode_and_block_size_raise_value_error():
    with pytest.raises(ValueError, match="mode"):
        data.load_corpus("names", mode="words")
    with pytest.raises(ValueError, match="block_size"):
        data.make_corpus(["ab"], block_size=0)


def test_split_is_by_document_seeded_and_disjoint():
    seqs = [np.array([i]) for i in range(100)]
    train, val = data.split_docs(seqs, 0.1, seed=3)
    assert len(train) == 90 and len(val) == 10
    ids = sorted(int(s[0]) for s in train + val)
    assert ids == list(range(100))
    again = data.split_docs(seqs, 0.1, seed=3)
    assert [int(s[0]) for s in again[1]] == [int(s[0]) for s in val]
    assert [int(s[0]) for s in data.split_docs(seqs, 0.1, seed=4)[1]] != [int(s[0]) for s in val]
    # without shuffling the tail is the validation set and training keeps the order
    train, val = data.split_docs(seqs, 0.25, seed=None)
    assert [int(s[0]) for s in train] == list(range(75)) and [int(s[0]) for s in val] == list(range(75, 100))
    assert data.split_docs(seqs[:1], 0.5)[1] == []  # one document: all of it trains
    with pytest.raises(ValueError, match="val_fraction"):
        data.split_docs(seqs, 1.0)


def test_batch_at_cycles_through_documents_in_order_and_pads_with_a_mask():
    tok = Tokenizer.from_docs(["abc"])
    seqs = [data.encode_doc(d, tok, "lines") for d in ["a", "abc", "bb"]]
    x, y, mask = data.batch_at(seqs, 2, 3, block_size=16, pad=tok.bos)  # docs 2, 0, 1
    B = tok.bos
    assert x.tolist() == [[B, 1, 1, B], [B, 0, B, B], [B, 0, 1, 2]]
    assert y.tolist() == [[1, 1, B, B], [0, B, B, B], [0, 1, 2, B]]
    assert mask.tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]
    batches = list(data.iter_batches(seqs, 2, 16, B))
    assert [b[0].shape[0] for b in batches] == [2, 1]


def test_microgpt_setup_reproduces_pythons_random_draws():
    docs = ["emma", "olivia", "ava", "isabella", "sophia"]
    setup = data.microgpt_setup(docs, n_embd=4, n_head=2, block_size=8)
    rng = random.Random(42)
    expected = list(docs)
    rng.shuffle(expected)
    assert setup.docs == expected
    assert setup.tokenizer.chars == "".join(sorted(set("".join(docs))))
    assert setup.config.vocab_size == setup.tokenizer.vocab_size
    first = [rng.gauss(0, 0.08) for _ in range(setup.config.n_embd)]
    assert setup.params["wte"][0].tolist() == first
    assert gpt.flat_buffer(setup.params).size == gpt.num_params(setup.config)


def test_microgpt_setup_on_the_real_corpus(names_path):
    setup = data.microgpt_setup(names_path)
    assert len(setup.docs) == 32033 and setup.config.vocab_size == 27 and gpt.num_params(setup.config) == 4192


# ----------------------------------------------------------------------------------------------------------
# bad files: clean errors, allocation bounded before reading


def test_special_files_are_named_not_read(tmp_path):
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # reading it would block until a writer came
    with pytest.raises(CorpusError, match="not a regular file") as e:
        data.load_corpus(fifo)
    assert str(fifo) in str(e.value)
    with pytest.raises(CorpusError, match="is a directory"):
        data.load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="not a regular file"):
        data.load_corpus("/dev/zero")  # endless: would never finish


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    import tracemalloc

    p = tmp_path / "huge.txt"
    with open(p, "wb") as f:
        f.truncate(data.MAX_CORPUS_BYTES + 1)  # sparse: costs no disk
    tracemalloc.start()
    try:
        with pytest.raises(CorpusError, match="too large"):
            data.load_corpus(p)
        assert tracemalloc.get_traced_memory()[1] < 2**20
    finally:
        tracemalloc.stop()


def test_a_file_that_grows_while_it_is_read_is_cut_at_the_cap(tmp_path, monkeypatch):
    import os

    p = tmp_path / "growing.txt"
    with open(p, "wb") as f:
        f.write(b"anna\nbob\n")
        f.truncate(data.MAX_CORPUS_BYTES + 10)
    real_stat = type(p).stat

    def stat_as_it_was(self, **kw):  # what stat() said a moment before the file grew
        st = real_stat(self, **kw)
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 9,
                               st.st_atime, st.st_mtime, st.st_ctime)) if self == p else st

    monkeypatch.setattr(type(p), "stat", stat_as_it_was)
    with pytest.raises(CorpusError, match="grew past"):
        data.load_corpus(p)


def test_one_giant_line_is_encoded_only_as_far_as_training_sees_it(tmp_path):
    import tracemalloc

    p = tmp_path / "line.txt"
    p.write_bytes(b"ab" * 4_000_000 + b"\nabba\n")  # an 8 MB line
    tracemalloc.start()
    try:
        corpus = data.load_corpus(p, block_size=16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert corpus.truncated == 1 and len(corpus.docs[0]) == 8_000_000
    B = corpus.tokenizer.bos
    assert corpus.seqs[0].tolist() == [B] + [0, 1] * 8  # [BOS] + its first 16 letters: no closing BOS
    assert corpus.seqs[1].tolist() == [B, 0, 1, 1, 0, B]
    assert peak < 8 * 8_000_000  # the text a few times over, not 8 bytes per letter in a list and an array


@pytest.mark.parametrize("block_size", [1, 3, 4, 5, 8])
def test_encoding_up_to_block_size_gives_the_same_batches(block_size):
    docs = ["a", "ab", "abc", "abcd", "abcde", "abcdefgh", "ba"]
    tok = Tokenizer.from_docs(docs)
    full = [data.encode_doc(d, tok, "lines") for d in docs]
    cut = [data.encode_doc(d, tok, "lines", block_size) for d in docs]
    for a, b in zip(data.make_batch(full, block_size, tok.bos), data.make_batch(cut, block_size, tok.bos)):
        np.testing.assert_array_equal(a, b)
    assert all(len(s) <= block_size + 2 for s in cut)


@pytest.mark.parametrize("text, mode, block_size", [
    ("anna\nbob\n\n  zoë \r\nrenée\n", "lines", 16),
    ("anna\nbob\nabcdefghijklmnopqrstuvwxyz\n", "lines", 8),
    ("the cat sat on the mat.\nthe end\n", "text", 5),
    ("日本語のテキスト\n" * 30, "text", 7),
    ("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 " * 10, "lines", 16),
])
def test_text_info_bounds_the_corpus_it_describes(text, mode, block_size):
    info = data.text_info(text, mode, block_size)
    corpus = data.make_corpus(data.docs_from_text(text, mode, block_size), mode=mode, block_size=block_size)
    exact = corpus.info
    assert info.vocab_size >= exact.vocab_size and info.docs >= exact.docs and info.chars >= exact.chars
    assert min(info.longest, block_size) >= min(exact.longest, block_size)
    assert info.char_bytes == exact.char_bytes or info.char_bytes >= exact.char_bytes
    assert exact.docs == len(corpus) and exact.chars == sum(map(len, corpus.docs))
    assert exact.char_bytes == max((1 if max(d) <= "\xff" else 2 if max(d) <= "\uffff" else 4) for d in corpus.docs)
