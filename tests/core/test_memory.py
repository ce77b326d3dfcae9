"""The memory estimate: its terms against what the code really allocates (the GPT's workspace after real steps,
the optimizer's arrays), the machine's available memory, and runs that do not fit refused before allocating."""

import threading
import tracemalloc

import numpy as np
import pytest

from adamlab.core import data, gpt, memory, train
from adamlab.core.train import Trainer, TrainConfig


@pytest.fixture(scope="module")
def names():
    return data.load_corpus("names")


@pytest.mark.parametrize("kind, arrays", [("sgd", 3), ("momentum", 4), ("nesterov", 4), ("adagrad", 4),
                                          ("rmsprop", 4), ("adam", 5), ("adamw", 5), ("amsgrad", 6)])
def test_optimizer_arrays_are_its_state_plus_three_scratch_buffers(kind, arrays):
    cfg = TrainConfig(optimizer=kind)
    assert memory.optimizer_arrays(kind, tuple(sorted(cfg.optimizer_hyperparameters().items()))) == arrays


def test_parameters_and_optimizer_parts_follow_the_model_size(names):
    cfg = TrainConfig()
    parts = memory.memory_breakdown(cfg, names, corpus_in_memory=True)
    P = 4192  # microgpt: 2·27·16 + 16·16 + 12·16²
    assert parts["parameters"] == 6 * P * 8 and parts["optimizer state"] == 5 * P * 8
    f32 = memory.memory_breakdown(TrainConfig(dtype="float32", optimizer="sgd"), names, corpus_in_memory=True)
    assert f32["parameters"] == 6 * P * 4 and f32["optimizer state"] == 3 * P * 4


def _workspace_after_training(config, corpus, steps=2):
    """The bytes of the GPT's workspace after a few steps and one validation, in a fresh thread (the
    workspace is per thread)."""
    out = {}

    def work():
        trainer = Trainer(config, corpus)
        trainer.run(steps)
        trainer.evaluate()
        out["bytes"] = gpt._WORKSPACE.nbytes
        gpt.clear_workspace()

    t = threading.Thread(target=work)
    t.start()
    t.join(120)
    return out["bytes"]


@pytest.mark.parametrize("batch, full_batch, n_embd, n_layer", [(4, 0, 32, 2), (16, 0, 32, 1), (2, 0, 64, 3),
                                                                (1, 12, 32, 1)])
def test_the_activation_term_is_the_workspace_the_model_really_takes(tmp_path, batch, full_batch, n_embd, n_layer):
    text = tmp_path / "t.txt"
    rng = np.random.default_rng(0)
    text.write_text("".join(rng.choice(list("abcdefgh ,.\n"), 40_000)))
    cfg = TrainConfig(corpus=str(text), corpus_mode="text", block_size=32, batch_size=batch, n_embd=n_embd,
                      n_head=4, n_layer=n_layer, val_every=0, full_batch=full_batch)
    corpus = data.load_corpus(text, "text", 32)
    real = _workspace_after_training(cfg, corpus)
    s, info = 8, corpus.info
    T = min(32, info.longest)
    B = full_batch or batch  # full-batch mode: one batch of the first full_batch documents
    work = memory._plan_elements(n_embd, 4, n_layer, info.vocab_size, 32, B, T, backward=True)
    n_val = round(info.docs * cfg.val_fraction)
    tokens = max(32, train.EVAL_BATCH_BYTES // (4 * n_embd * s))
    Ne = min(tokens, min(n_val, cfg.val_docs) * T)
    for name, n in memory._plan_elements(n_embd, 4, n_layer, info.vocab_size, 32, Ne // T, T, False).items():
        work[name] = max(work.get(name, 0), n)
    assert real == s * sum(work.values())  # the mirror of gpt._Plan, buffer for buffer
    estimate = memory.memory_breakdown(cfg, corpus, corpus_in_memory=True)["activations"]
    assert real <= estimate <= 1.6 * real + 2**20


def test_check_fits_passes_or_names_the_biggest_part_in_one_line(names):
    cfg = TrainConfig(batch_size=4096)
    need = memory.estimate_memory(cfg, names, corpus_in_memory=True)
    assert memory.check_fits(cfg, names, corpus_in_memory=True, available=need) == need
    with pytest.raises(ValueError) as e:
        memory.check_fits(cfg, names, corpus_in_memory=True, available=need - 1)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("not enough memory: this run needs about")
    assert "activations" in msg and "batch_size 4096" in msg and "is available" in msg
    with pytest.raises(ValueError, match="3 runs need about"):
        memory.check_fits(cfg, names, corpus_in_memory=True, runs=3, available=2 * need)
    with pytest.raises(ValueError, match="not enough memory"):
        memory.check_fits(cfg, names, corpus_in_memory=True, extra=100, available=need + 99)
    big_model = TrainConfig(n_embd=1024, n_head=8, n_layer=8)
    with pytest.raises(ValueError, match=r"parameters .*n_embd 1024, n_layer 8"):
        memory.check_fits(big_model, names, corpus_in_memory=True, available=2**20)


def test_the_corpus_part_counts_the_documents_only_when_they_are_still_to_be_built(names):
    cfg = TrainConfig()
    loaded = memory.memory_breakdown(cfg, names, corpus_in_memory=True)["corpus"]
    to_load = memory.memory_breakdown(cfg, names.info)["corpus"]
    assert loaded == len(names) * memory.SPLIT_BYTES
    assert to_load > loaded + len(names) * memory.DOC_BYTES


def test_available_memory_reads_the_machine_or_the_override(monkeypatch):
    monkeypatch.delenv(memory.ENV_LIMIT, raising=False)
    found = memory.available_memory()
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    assert found is not None and 0 < found <= total
    for text, value in [("512M", 512 * 2**20), ("2G", 2 * 2**30), ("1.5g", int(1.5 * 2**30)), ("4096", 4096),
                        ("64kB", 64 * 1024)]:
        monkeypatch.setenv(memory.ENV_LIMIT, text)
        assert memory.available_memory() == value
    monkeypatch.setenv(memory.ENV_LIMIT, "lots")
    with pytest.raises(ValueError, match="ADAMLAB_MEMORY_LIMIT"):
        memory.available_memory()


def test_a_trainer_that_would_not_fit_is_refused_before_it_allocates(names, monkeypatch):
    monkeypatch.setenv(memory.ENV_LIMIT, "256M")
    for cfg in [TrainConfig(n_embd=4096, n_head=4, n_layer=4),  # 805 M parameters
                TrainConfig(batch_size=100_000),  # activations of 1.6 M positions
                TrainConfig(history_capacity=2**20, n_layer=64)]:  # a million buckets of 771 channels
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match="not enough memory"):
                Trainer(cfg, names)
            assert tracemalloc.get_traced_memory()[1] < 2**20
        finally:
            tracemalloc.stop()
    Trainer(TrainConfig(), names)  # microgpt fits in 256 MB


def test_a_corpus_too_big_to_build_is_refused_before_its_documents_are_made(tmp_path, monkeypatch):
    p = tmp_path / "one_letter_lines.txt"
    p.write_bytes(b"a\nb\n" * 500_000)  # 4 MB: a million documents, ~300 MB once built
    monkeypatch.setenv(memory.ENV_LIMIT, "100M")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"corpus .*1,000,001 documents"):
            Trainer(TrainConfig(corpus=str(p)))
        assert tracemalloc.get_traced_memory()[1] < 30 * 2**20  # the text, not a million documents
    finally:
        tracemalloc.stop()


def test_sampling_in_batches_draws_the_same_first_batch_and_bounds_memory(names, monkeypatch):
    trainer = Trainer(TrainConfig(steps=30, val_every=0), names)
    trainer.run()
    one = memory._forward_bytes(16, 4, 1, 27, 16, 1, 16, 8)
    monkeypatch.setattr(train, "SAMPLE_BATCH_BYTES", 3 * one)  # three generations at a time
    assert memory.sample_batch(16, 4, 1, 27, 16, 8, train.SAMPLE_BATCH_BYTES) == 3
    texts = trainer.sample(8, 0.8, seed=5)
    assert len(texts) == 8 and texts == trainer.sample(8, 0.8, seed=5)
    direct = gpt.sample(trainer.params, trainer.model_config, 3, 0.8, 5)
    assert texts[:3] == [trainer.tokenizer.decode(ids) for ids in direct]
    assert texts[3:6] != texts[:3] or texts[6:] != texts[:2]  # later batches use other seeds
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        trainer.sample(0)


def test_weight_snapshots_are_counted_at_the_size_they_reach(names):
    cfg = TrainConfig(snapshot_every=1, steps=400, val_every=0)
    trainer = Trainer(cfg, names)
    trainer.run()  # 400 steps: the buffer fills (256) and halves
    part = memory.memory_breakdown(cfg, names, corpus_in_memory=True)["snapshots"]
    assert trainer.snapshots.nbytes == part == 256 * 4192 * 8
