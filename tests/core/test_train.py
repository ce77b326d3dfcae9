"""The Trainer: microgpt reproduction through the real API, per-step statistics against formulas, live knobs,
divergence, validation, decimated history, checkpoints (bit-for-bit resume, refusal of bad files)."""

import math
import os
import threading
import warnings
import zipfile

import numpy as np
import pytest

from adamlab.core import data, gpt, train
from adamlab.core.train import CheckpointError, Decimated, History, Trainer, TrainConfig

# microgpt.py (Karpathy, 2026) run on makemore's names.txt with its loss printed by repr(): steps 1, 2, 3 print
# 3.3660, 3.4243, 3.1778 and step 1000 prints 2.6497.
MICROGPT_LOSSES = {1: 3.3659669475848504, 2: 3.4242727838717717, 3: 3.177802125458052, 10: 3.2228882401182624,
                   100: 3.366930921178914, 500: 2.0644662067274577, 1000: 2.6496944697407585}


@pytest.fixture
def small_corpus():
    return data.load_corpus("names", block_size=16)


def quiet_run(trainer, n=None):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy warning may spill out of a step
        return trainer.run(n)


def test_trainer_reproduces_microgpt_to_1e_8(names_path):
    cfg = TrainConfig(corpus=str(names_path), init="microgpt", val_every=0)  # defaults are microgpt's
    trainer = Trainer(cfg)
    assert gpt.num_params(trainer.model_config) == 4192 and trainer.params["wte"].dtype == np.float64
    losses = {}
    quiet_run_with = trainer.run(callback=lambda r: losses.__setitem__(r.step, r.loss))
    assert quiet_run_with.status == "finished" and trainer.done and trainer.step_count == 1000
    for step, expected in MICROGPT_LOSSES.items():
        assert losses[step] == pytest.approx(expected, abs=1e-8), step
    assert [f"{losses[s]:.4f}" for s in (1, 2, 3, 1000)] == ["3.3660", "3.4243", "3.1778", "2.6497"]
    assert trainer.step() is None  # finished: nothing more happens


def test_record_statistics_match_their_formulas(small_corpus):
    """Plain SGD makes the update −lr·g, so u = lr·RMS(g)/RMS(w before) exactly."""
    cfg = TrainConfig(optimizer="sgd", lr=0.5, schedule="constant", batch_size=3, val_every=0)
    trainer = Trainer(cfg, small_corpus)
    trainer.run(3)
    before = {n: p.copy() for n, p in trainer.params.items()}
    rec = trainer.step()
    grads = trainer.grads
    assert rec.step == 4 and rec.lr == 0.5 and rec.status == "training"
    flat_g = np.concatenate([g.ravel() for g in grads.values()])
    assert rec.grad_norm == pytest.approx(np.sqrt(np.sum(flat_g**2)), rel=1e-12)
    x, y, mask = data.batch_at(trainer.train_seqs, 9, 3, 16, trainer.tokenizer.bos)
    assert rec.tokens == int(mask.sum())
    assert rec.loss == pytest.approx(gpt.loss(before, trainer.model_config, x, y, mask), rel=1e-12)
    for n in trainer.tensor_names:
        rms = lambda a: np.sqrt(np.mean(a**2))  # noqa: E731
        assert rec.g[n] == pytest.approx(rms(grads[n]), rel=1e-10)
        assert rec.w[n] == pytest.approx(rms(trainer.params[n]), rel=1e-10)
        assert rec.u[n] == pytest.approx(rms(trainer.params[n] - before[n]) / rms(before[n]), rel=1e-8)
        assert rec.u[n] == pytest.approx(0.5 * rms(grads[n]) / rms(before[n]), rel=1e-8)


@pytest.mark.parametrize("schedule", ["linear", "cosine", "constant", "warmup_cosine"])
def test_lr_follows_the_schedule(small_corpus, schedule):
    cfg = TrainConfig(lr=0.02, schedule=schedule, steps=40, warmup=10, val_every=0)
    trainer = Trainer(cfg, small_corpus)
    lrs = []
    trainer.run(callback=lambda r: lrs.append(r.lr))
    t = np.arange(40)
    expected = {"constant": np.full(40, 0.02), "linear": 0.02 * (1 - t / 40),
                "cosine": 0.01 * (1 + np.cos(np.pi * t / 40)),
                "warmup_cosine": np.where(t < 10, 0.02 * (t + 1) / 10, 0.01 * (1 + np.cos(np.pi * (t - 10) / 30)))}
    np.testing.assert_allclose(lrs, expected[schedule], rtol=1e-12)


def test_knobs_change_between_steps_and_are_marked_in_the_history(small_corpus):
    trainer = Trainer(TrainConfig(lr=0.01, schedule="constant", steps=30, val_every=0), small_corpus)
    trainer.run(10)
    trainer.set_knobs(lr=0.002)
    trainer.set_knobs(betas=(0.9, 0.95))  # before the same step: one mark
    rec = trainer.step()
    assert rec.lr == 0.002
    assert trainer.optimizer.hyperparameters()["betas"] == (0.9, 0.95)
    trainer.run(5)
    trainer.set_knobs(schedule="linear", steps=40)
    rec = trainer.step()
    assert rec.lr == pytest.approx(0.002 * (1 - 16 / 40))
    h = trainer.history
    assert h.knob_change_steps.tolist() == [10, 16]
    assert "lr 0.01→0.002" in h.knob_labels[0] and "betas" in h.knob_labels[0]
    assert "schedule constant→linear" in h.knob_labels[1]
    trainer.run()
    assert trainer.step_count == 40


@pytest.mark.parametrize("knobs, word", [({"lr": -1}, "lr"), ({"betas": (1.0, 0.9)}, "betas"),
                                         ({"eps": 0}, "eps"), ({"schedule": "step"}, "schedule"),
                                         ({"steps": 5}, "steps"), ({"n_embd": 32}, "knob")])
def test_bad_knobs_raise_and_change_nothing(small_corpus, knobs, word):
    trainer = Trainer(TrainConfig(steps=20, val_every=0), small_corpus)
    trainer.run(8)
    before = trainer.config
    with pytest.raises(ValueError, match=word):
        trainer.set_knobs(**knobs)
    trainer.step()
    assert trainer.config == before and trainer.history.knob_steps == []


def test_knobs_set_from_another_thread_while_stepping(small_corpus):
    trainer = Trainer(TrainConfig(steps=300, schedule="constant", val_every=0), small_corpus)
    values = np.linspace(0.001, 0.01, 50)

    def gui():
        for v in values:
            trainer.set_knobs(lr=float(v))

    thread = threading.Thread(target=gui)
    thread.start()
    trainer.run()
    thread.join()
    trainer.set_knobs(steps=301)
    rec = trainer.step()
    assert rec.lr == values[-1] and trainer.step_count == 301 and trainer.status == "finished"


def test_sgd_blowing_up_stops_with_diverged_status_and_keeps_the_history(small_corpus):
    trainer = Trainer(TrainConfig(optimizer="sgd", lr=10.0, schedule="constant", val_every=0), small_corpus)
    rec = quiet_run(trainer)
    assert trainer.status == "diverged" and trainer.done and rec.status == "diverged"
    n = trainer.history.diverged_step
    assert rec.step == n and trainer.step_count == n - 1 and 2 < n < 100
    assert trainer.message.startswith(f"diverged at step {n}")
    assert len(trainer.history.loss) == n - 1 and np.all(np.isfinite(trainer.history.loss))
    weights = gpt.flat_buffer(trainer.params).copy()
    assert trainer.step() is None
    assert np.array_equal(gpt.flat_buffer(trainer.params), weights)
    assert np.all(np.isfinite(weights))  # the step that blew up was not applied


def test_adam_at_a_huge_lr_diverges_by_loss_while_microgpts_settings_do_not(small_corpus):
    bad = Trainer(TrainConfig(lr=1.0, schedule="constant", val_every=0), small_corpus)
    quiet_run(bad)
    assert bad.status == "diverged" and "smoothed loss" in bad.message
    assert bad.history.diverged_step <= 20
    good = Trainer(TrainConfig(lr=0.05, steps=400, val_every=0), small_corpus)  # spikes, recovers
    quiet_run(good)
    assert good.status == "finished"
    assert np.mean(good.history.loss[-50:]) < np.log(27) - 0.5


@pytest.mark.parametrize("optimizer, state", [("adam", "second moment v (exp_avg_sq)"),
                                               ("amsgrad", "second moment v (exp_avg_sq)"),
                                               ("rmsprop", "average of g² (square_avg)"),
                                               ("adagrad", "sum of g² (sum)")])
def test_optimizer_state_overflowing_stops_the_run_as_diverged(small_corpus, optimizer, state):
    # weight decay 1e308: g + wd·θ ~ 1e306 and its square overflows; every update is then 0 and the run
    # reported "finished" with frozen weights
    trainer = Trainer(TrainConfig(optimizer=optimizer, weight_decay=1e308, steps=20, val_every=0), small_corpus)
    quiet_run(trainer)
    assert trainer.status == "diverged" and trainer.done and trainer.step_count == 1
    assert trainer.message.startswith("diverged at step 1: ") and state in trainer.message
    assert "overflowed to inf in tensor wte" in trainer.message and trainer.history.diverged_step == 1
    assert trainer.step() is None


@pytest.mark.parametrize("value, reason", [(1e20, "the gradient's norm overflows float32 (|g| up to 1e+20 in "
                                                   "tensor layer0.mlp_fc1)"),
                                           (float("nan"), "gradient is not finite (in tensor layer0.mlp_fc1)")])
def test_a_float32_gradient_too_big_to_square_stops_the_run_and_says_so(small_corpus, monkeypatch, value, reason):
    # 1e20 is a finite float32 whose square is not: the run must stop, name it and warn nothing
    real = gpt.loss_and_grads

    def huge_gradient(params, cfg, x, y, mask=None, grads=None):
        loss, grads = real(params, cfg, x, y, mask, grads=grads)
        grads["layer0.mlp_fc1"][3, 2] = value
        return loss, grads

    trainer = Trainer(TrainConfig(dtype="float32", steps=5, val_every=0), small_corpus)
    monkeypatch.setattr(gpt, "loss_and_grads", huge_gradient)
    quiet_run(trainer)
    assert trainer.status == "diverged" and trainer.message == f"diverged at step 1: {reason}"


def test_validation_loss_is_the_token_weighted_mean_over_held_out_documents(small_corpus):
    trainer = Trainer(TrainConfig(val_every=20, steps=60, val_docs=40, val_fraction=0.1), small_corpus)
    assert len(trainer.val_seqs) == round(0.1 * len(small_corpus)) and not set(map(id, trainer.val_seqs)) & set(
        map(id, trainer.train_seqs))
    recs = []
    trainer.run(callback=recs.append)
    assert trainer.history.val_steps.tolist() == [20, 40, 60]
    assert [r.val_loss is not None for r in recs].count(True) == 3
    total = count = 0.0
    for s in trainer.val_seqs[:40]:
        n = min(16, len(s) - 1)
        total += gpt.loss(trainer.params, trainer.model_config, s[None, :n], s[None, 1 : n + 1]) * n
        count += n
    assert trainer.history.val_loss[-1] == pytest.approx(total / count, rel=1e-10)


def test_evaluate_in_length_sorted_batches_equals_the_document_by_document_mean(small_corpus):
    trainer = Trainer(TrainConfig(val_docs=300, seed=5), small_corpus)
    quiet_run(trainer, 30)
    seqs = trainer.val_seqs[:300]
    total = count = 0.0
    for s in seqs:  # one document at a time, no padding: the definition
        n = min(16, len(s) - 1)
        total += gpt.loss(trainer.params, trainer.model_config, s[None, :n], s[None, 1 : n + 1]) * n
        count += n
    for batch_size in (None, 1, 7, 64, 1000):
        assert trainer.evaluate(batch_size=batch_size) == pytest.approx(total / count, rel=1e-12), batch_size
    # the default batches: sorted by length (little padding), every document exactly once, cache-sized
    batches = trainer._val_batches[(300, None)]
    lengths = [int(m.sum(axis=1).max()) for _, _, m, _ in batches]
    assert lengths == sorted(lengths) and sum(m.shape[0] for _, _, m, _ in batches) == 300
    assert sum(n for *_, n in batches) == count
    assert all(m.size <= 512 for _, _, m, _ in batches)  # 2**18 bytes / (4·16 floats of 8 bytes) positions
    assert trainer.evaluate(max_docs=1) == pytest.approx(
        gpt.loss(trainer.params, trainer.model_config, seqs[0][None, :-1][:, :16], seqs[0][None, 1:][:, :16]),
        rel=1e-12)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            trainer.evaluate(batch_size=bad)


def test_evaluate_sees_the_current_weights_not_a_cached_result(small_corpus):
    trainer = Trainer(TrainConfig(val_docs=50), small_corpus)
    before = trainer.evaluate()
    trainer._pflat *= 0  # all-zero weights: uniform predictions, loss log(vocab) on every position
    assert trainer.evaluate() == pytest.approx(math.log(trainer.tokenizer.vocab_size), rel=1e-12)
    assert before != pytest.approx(math.log(trainer.tokenizer.vocab_size), rel=1e-6)


def test_float32_training_learns(small_corpus):
    trainer = Trainer(TrainConfig(dtype="float32", steps=300, batch_size=8, val_every=0, seed=3), small_corpus)
    assert trainer.params["wte"].dtype == np.float32 and trainer.grads["wte"].dtype == np.float32
    quiet_run(trainer)
    loss = trainer.history.loss
    assert loss[0] == pytest.approx(np.log(27), abs=0.15)
    assert np.mean(loss[-30:]) < loss[0] - 0.6


def test_samples_are_strings_of_the_corpus_and_reproducible(small_corpus):
    trainer = Trainer(TrainConfig(steps=50, val_every=0), small_corpus)
    trainer.run()
    s = trainer.sample(20, temperature=0.8, seed=5)
    assert s == trainer.sample(20, temperature=0.8, seed=5)
    assert all(set(x) <= set("abcdefghijklmnopqrstuvwxyz") and len(x) <= 16 for x in s)
    assert all(x.startswith("ma") for x in trainer.sample(5, temperature=1.0, seed=1, prefix="ma"))


def test_optimizer_stats_are_adams_normalised_step_and_effective_lr(small_corpus):
    trainer = Trainer(TrainConfig(steps=20, lr=0.01, schedule="constant", val_every=0), small_corpus)
    with pytest.raises(ValueError, match="before the first step"):
        trainer.optimizer_stats()
    trainer.run()
    stats = trainer.optimizer_stats("lm_head")
    st = trainer.optimizer.state_of("lm_head")
    b1, b2 = trainer.config.betas
    m_hat, v_hat = st["exp_avg"] / (1 - b1**20), st["exp_avg_sq"] / (1 - b2**20)
    np.testing.assert_allclose(stats["normalized_step"], (m_hat / (np.sqrt(v_hat) + 1e-8)).ravel(), rtol=1e-10)
    np.testing.assert_allclose(stats["effective_lr"], (0.01 / (np.sqrt(v_hat) + 1e-8)).ravel(), rtol=1e-10)
    assert trainer.optimizer_stats()["normalized_step"].size == gpt.num_params(trainer.model_config)
    sgd = Trainer(TrainConfig(optimizer="sgd", steps=2, val_every=0), small_corpus)
    sgd.run()
    with pytest.raises(ValueError, match="sgd"):
        sgd.optimizer_stats()


@pytest.mark.parametrize("kwargs, word", [({"optimizer": "lamb"}, "optimizer"), ({"n_embd": 10}, "n_embd"),
                                          ({"dtype": "float16"}, "dtype"), ({"batch_size": 0}, "batch_size"),
                                          ({"val_fraction": 1.0}, "val_fraction"), ({"init": "xavier"}, "init")])
def test_bad_config_raises_value_error_naming_the_field(kwargs, word):
    with pytest.raises(ValueError, match=word):
        TrainConfig(**kwargs)


def test_text_corpus_trains(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("the quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    trainer = Trainer(TrainConfig(corpus=str(p), corpus_mode="text", block_size=8, n_embd=16, steps=200,
                                  batch_size=4, lr=0.01, schedule="constant", val_every=0))
    quiet_run(trainer)
    assert trainer.status == "finished" and np.mean(trainer.history.loss[-20:]) < 1.5


# ---------------------------------------------------------------------------------------------------------
# history


def test_decimated_series_keeps_bounded_memory_means_and_extremes():
    d = Decimated(("a", "b"), capacity=16)
    rng = np.random.default_rng(0)
    vals = rng.normal(size=1000)
    vals[617] = 50.0  # a spike
    for i, v in enumerate(vals, start=1):
        d.append(i, [v, 2 * v])
    steps, mean, lo, hi = d.arrays("a")
    assert len(steps) <= 17 and d.width & (d.width - 1) == 0 and d.width == 64
    counts = np.append(d.count[: d.n], d._pc) if d._pc else d.count[: d.n]
    assert counts.sum() == 1000
    assert np.sum(mean * counts) / 1000 == pytest.approx(vals.mean(), abs=1e-12)
    assert np.sum(steps * counts) / 1000 == pytest.approx(500.5)
    assert hi.max() == 50.0 and lo.min() == vals.min()
    np.testing.assert_allclose(d.arrays("b")[1], 2 * mean)
    assert np.all(np.diff(steps) > 0)
    # bucket 0 covers steps 1..64
    assert mean[0] == pytest.approx(vals[:64].mean()) and steps[0] == pytest.approx(32.5)


def test_decimated_single_sample_buckets_hold_each_sample_until_the_first_halving():
    d = Decimated(("a", "b"), capacity=16)
    vals = np.arange(1.0, 16.0) ** 2
    for i, v in enumerate(vals, start=1):
        d.append(i, [v, -v])
    assert d.width == 1 and d.n == 15 and d._pc == 0
    steps, mean, lo, hi = d.arrays("b")
    np.testing.assert_array_equal(steps, np.arange(1, 16))
    np.testing.assert_array_equal(mean, -vals)
    np.testing.assert_array_equal(lo, -vals)
    np.testing.assert_array_equal(hi, -vals)
    d.append(16, [256.0, -256.0])  # the 16th bucket fills the capacity: pairs merge, width 2
    steps, mean, lo, hi = d.arrays("a")
    assert d.width == 2 and d.n == 8
    np.testing.assert_allclose(mean, (np.arange(1, 17.0)[0::2] ** 2 + np.arange(1, 17.0)[1::2] ** 2) / 2)
    np.testing.assert_array_equal(hi, np.arange(1, 17.0)[1::2] ** 2)
    d.append(17, [1.0, 1.0])  # a partial bucket of width 2 shows as the last point
    steps, mean, lo, hi = d.arrays("a")
    assert len(steps) == 9 and steps[-1] == 17 and mean[-1] == 1.0


@pytest.mark.parametrize("capacity", [1, 2, 3, 16, 17, 25, 100])
@pytest.mark.parametrize("spike_at", [0, 616, 998, 999])
def test_decimated_conserves_every_sample_and_spike_for_odd_and_even_capacities(capacity, spike_at):
    # an odd number of full buckets cannot merge in pairs: the last one must be carried, not dropped
    d = Decimated(("a",), capacity=capacity)
    vals = np.random.default_rng(1).normal(size=1000)
    vals[spike_at] = 50.0
    for i, v in enumerate(vals, start=1):
        d.append(i, [v])
        assert d.n < d.capacity
    steps, mean, lo, hi = d.arrays("a")
    counts = np.append(d.count[: d.n], d._pc) if d._pc else d.count[: d.n]
    assert counts.sum() == 1000 and len(steps) <= capacity + 1
    assert np.all(d.count[: d.n] == d.width)  # full buckets stay aligned on multiples of the width
    assert hi.max() == 50.0 and lo.min() == vals.min()
    assert np.sum(mean * counts) == pytest.approx(vals.sum(), abs=1e-9)
    assert np.sum(steps * counts) == pytest.approx(1000 * 1001 / 2)
    assert np.all(np.diff(steps) > 0)
    # the spike's bucket: the one whose step range holds spike_at + 1
    edges = np.cumsum(counts)
    k = int(np.searchsorted(edges, spike_at + 1))
    assert hi[k] == 50.0


@pytest.mark.parametrize("capacity", [17, 100, 2047])
def test_history_validation_series_keeps_every_point_for_odd_capacities(capacity):
    h = History(["w"], capacity=capacity)
    vals = np.linspace(1.0, 2.0, 700)
    vals[350] = 9.0
    for i, v in enumerate(vals, start=1):
        h.val.append(10 * i, [v])
    steps, mean, lo, hi = h.val.arrays("val_loss")
    counts = np.append(h.val.count[: h.val.n], h.val._pc) if h.val._pc else h.val.count[: h.val.n]
    assert counts.sum() == 700 and hi.max() == 9.0
    assert np.sum(mean * counts) == pytest.approx(vals.sum())


def test_decimated_capacity_must_be_at_least_one():
    with pytest.raises(ValueError, match="capacity"):
        Decimated(("a",), capacity=0)


def test_update_ratio_is_nan_for_a_tensor_whose_weights_were_zero(small_corpus):
    trainer = Trainer(TrainConfig(val_every=0), small_corpus)
    trainer.params["layer0.attn_wo"][...] = 0  # zero weights: RMS(w) = 0, the ratio is undefined
    rec = trainer.step()
    assert math.isnan(rec.u["layer0.attn_wo"]) and math.isnan(trainer.history.update_ratio("layer0.attn_wo")[-1])
    others = [n for n in trainer.tensor_names if n != "layer0.attn_wo"]
    assert all(math.isfinite(rec.u[n]) for n in others)  # (wq, wk, wv get no gradient through wo = 0: u = 0)
    assert rec.u["lm_head"] > 0 and rec.u["wte"] > 0
    assert rec.status == "training"


def test_history_memory_does_not_grow_with_the_number_of_steps():
    names = list(gpt.param_shapes(gpt.GPTConfig(27)))
    h = History(names, capacity=2048)
    size = h.nbytes
    row = np.ones(3 + 2 * len(names))
    for i in range(1, 20001):
        h.train.append(i, row)
    assert h.nbytes == size < 4 * 2**20  # a million steps take the same few MB
    assert len(h.loss) <= 2049


# ---------------------------------------------------------------------------------------------------------
# checkpoints


def run_records(trainer, n):
    out = []
    trainer.run(n, callback=lambda r: out.append((r.step, r.loss, r.lr, r.grad_norm, r.val_loss)))
    return out


@pytest.mark.parametrize("optimizer", ["adamw", "momentum", "rmsprop"])
def test_resumed_run_continues_bit_for_bit(tmp_path, small_corpus, optimizer):
    cfg = TrainConfig(optimizer=optimizer, lr=0.005, weight_decay=0.01, batch_size=4, steps=60, val_every=10,
                      val_docs=30, seed=7)
    straight = Trainer(cfg, small_corpus)
    a = run_records(straight, 20)
    straight.set_knobs(lr=0.003)
    a += run_records(straight, None)

    first = Trainer(cfg, small_corpus)
    b = run_records(first, 20)
    first.set_knobs(lr=0.003)  # pending at save time: belongs to the checkpoint
    first.run(5, callback=lambda r: b.append((r.step, r.loss, r.lr, r.grad_norm, r.val_loss)))
    path = tmp_path / "run.npz"
    train.save_checkpoint(first, path)
    first.sample(3)  # using the RNG after saving must not matter
    resumed = train.load_checkpoint(path, small_corpus)
    b += run_records(resumed, None)

    assert a == b
    assert np.array_equal(gpt.flat_buffer(straight.params), gpt.flat_buffer(resumed.params))
    for key in ("steps", "loss", "loss_min", "loss_max", "lr", "grad_norm", "val_steps", "val_loss",
                "knob_change_steps"):
        assert np.array_equal(getattr(straight.history, key), getattr(resumed.history, key)), key
    assert straight.sample(4, seed=None) == resumed.sample(4, seed=None)
    assert resumed.config == straight.config and resumed.status == "finished"


def test_checkpoint_is_plain_arrays_and_written_atomically(tmp_path, small_corpus, monkeypatch):
    trainer = Trainer(TrainConfig(steps=10, val_every=0), small_corpus)
    trainer.run(3)
    path = train.save_checkpoint(trainer, tmp_path / "ck.npz")
    with np.load(path, allow_pickle=False) as f:  # readable without pickle
        assert str(f["format"]) == "adamlab-gpt-checkpoint"
        assert all(f[k].dtype != object for k in f.files)
    good = path.read_bytes()
    # an ordinary file's permissions (the umask's), not mkstemp's private 0600
    (tmp_path / "plain").write_bytes(b"")
    assert path.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777
    (tmp_path / "plain").unlink()
    old = os.umask(0o027)
    try:
        assert train.save_checkpoint(trainer, tmp_path / "ck2.npz").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
    (tmp_path / "ck2.npz").unlink()

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04partial")
        raise OSError("disk full")

    trainer.run(2)
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(trainer, path)
    assert path.read_bytes() == good  # the old checkpoint is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]  # and no temp file is left behind
    assert train.load_checkpoint(path, small_corpus).step_count == 3


def test_truncated_foreign_or_missing_checkpoints_are_refused(tmp_path, small_corpus):
    trainer = Trainer(TrainConfig(steps=5, val_every=0), small_corpus)
    trainer.run()
    path = train.save_checkpoint(trainer, tmp_path / "ok.npz")
    raw = path.read_bytes()
    cases = {}
    cases["truncated"] = raw[: len(raw) // 2]
    cases["text"] = b"hello, world\n"
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    cases["foreign"] = foreign.read_bytes()
    for name, content in cases.items():
        p = tmp_path / f"{name}.npz"
        p.write_bytes(content)
        with pytest.raises(CheckpointError) as e:
            train.load_checkpoint(p, small_corpus)
        assert isinstance(e.value, ValueError) and str(p) in str(e.value), name
    with pytest.raises(CheckpointError, match="not found"):
        train.load_checkpoint(tmp_path / "nope.npz")
    # a checkpoint whose arrays do not fit the model
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as z:
        for n, b in members.items():
            if n != "params.npy":
                z.writestr(n, b)
    with pytest.raises(CheckpointError, match="params"):
        train.load_checkpoint(bad, small_corpus)


def test_resuming_on_a_corpus_whose_text_changed_is_refused(tmp_path):
    """Same characters, different text: the saved data position would point into other documents."""
    text = tmp_path / "words.txt"
    text.write_text("anna\nbob\nnab\nnoa\nbo\n" * 20, encoding="utf-8")
    trainer = Trainer(TrainConfig(corpus=str(text), steps=10, val_every=0, val_fraction=0.1))
    trainer.run(3)
    ck = train.save_checkpoint(trainer, tmp_path / "ck.npz")
    assert train.load_checkpoint(ck).step_count == 3  # unchanged file: resumes
    text.write_text("bob\nanna\nnab\nnoa\nbo\n" * 20, encoding="utf-8")  # two names swapped
    with pytest.raises(CheckpointError, match=r"has changed since .*\(same characters, different text\)"):
        train.load_checkpoint(ck)
    text.write_text("anna\nbob\nnab\nnoa\nbo\n" * 20, encoding="utf-8")
    assert train.load_checkpoint(ck).step_count == 3


def test_a_npy_file_is_refused_as_not_an_adamlab_checkpoint(tmp_path, small_corpus):
    p = tmp_path / "weights.npy"
    np.save(p, np.zeros(4192))
    with pytest.raises(CheckpointError, match="Not an AdamLab checkpoint") as e:
        train.load_checkpoint(p, small_corpus)
    assert str(p) in str(e.value)


def test_loaded_checkpoint_of_a_diverged_run_stays_diverged(tmp_path, small_corpus):
    trainer = Trainer(TrainConfig(optimizer="sgd", lr=10.0, schedule="constant", val_every=0), small_corpus)
    quiet_run(trainer)
    path = train.save_checkpoint(trainer, tmp_path / "d.npz")
    back = train.load_checkpoint(path, small_corpus)
    assert back.status == "diverged" and back.done and back.history.diverged_step == trainer.history.diverged_step
    assert back.step() is None and math.isfinite(back.history.loss[-1])
