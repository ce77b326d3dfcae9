"""The Trainer and ``adamlab train`` with every optimizer kind: they train, checkpoints resume bit for bit,
kind-specific options reach the optimizer (and are refused by name), schedule-free evaluates at x."""

import numpy as np
import pytest

from adamlab import cli
from adamlab.core import data, gpt, train
from adamlab.core.optim import OPTIMIZERS
from adamlab.core.train import Trainer, TrainConfig


@pytest.fixture(scope="module")
def corpus():
    return data.load_corpus("names", block_size=16)


def records(trainer, n):
    out = []
    trainer.run(n, callback=lambda r: out.append((r.step, r.loss, r.lr, r.grad_norm, r.val_loss)))
    return out


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_every_kind_trains_the_gpt_and_resumes_bit_for_bit(kind, corpus, tmp_path):
    cfg = TrainConfig(optimizer=kind, lr=OPTIMIZERS[kind].gpt_lr, batch_size=2, steps=16, val_every=5, val_docs=20,
                      seed=3)
    straight = Trainer(cfg, corpus)
    a = records(straight, None)
    first = Trainer(cfg, corpus)
    b = records(first, 7)
    path = train.save_checkpoint(first, tmp_path / "run.npz")
    resumed = train.load_checkpoint(path, corpus)
    assert type(resumed.optimizer) is OPTIMIZERS[kind].cls and resumed.optimizer.t == 7
    b += records(resumed, None)
    assert a == b and straight.status == resumed.status == "finished"
    assert np.array_equal(gpt.flat_buffer(straight.params), gpt.flat_buffer(resumed.params))
    assert a[-1][1] < a[0][1] + 0.5                 # it trains (16 noisy steps: no collapse, no blow-up)
    assert all(np.isfinite(r[1]) for r in a)


def test_optimizer_options_reach_the_optimizer_and_change_live(corpus):
    cfg = TrainConfig(optimizer="ademamix", lr=0.005, optimizer_options={"beta3": 0.999, "alpha": 4.0},
                      steps=20, val_every=0)
    trainer = Trainer(cfg, corpus)
    assert trainer.optimizer.betas == (0.85, 0.99, 0.999) and trainer.optimizer.alpha == 4.0
    trainer.run(3)
    trainer.set_knobs(optimizer_options={"beta3": 0.99, "alpha_warmup": 100})
    trainer.step()
    h = trainer.optimizer.hyperparameters()
    assert h["betas"] == (0.85, 0.99, 0.99) and h["alpha_warmup"] == 100 and h["alpha"] == 2.0
    assert trainer.history.knob_steps == [3]
    cfg2 = TrainConfig.from_json(TrainConfig(optimizer="muon", optimizer_options={"ns_coefficients": (3.0, -3.0, 1.0)})
                                 .to_json())
    assert cfg2.optimizer_options == {"ns_coefficients": (3.0, -3.0, 1.0)}   # JSON's list is a tuple again


@pytest.mark.parametrize("options, message", [
    ({"ns_steps": 100}, r"ns_steps must be an integer in \[0, 99\], got 100"),
    ({"nope": 1}, r"unknown option\(s\) for 'muon': \['nope'\]"),
    ({"lr": 0.1}, "lr is not an optimizer option"),
])
def test_bad_options_are_refused_by_name_when_the_config_is_made(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(optimizer="muon", optimizer_options=options)


def test_schedule_free_is_evaluated_at_x_and_training_continues_from_y(corpus):
    trainer = Trainer(TrainConfig(optimizer="schedulefree_adamw", lr=0.01, steps=30, val_every=0), corpus)
    trainer.run(10)
    y = gpt.flat_buffer(trainer.params).copy()
    x = np.concatenate([trainer.optimizer.inspect(n)["x"].ravel() for n in trainer.tensor_names])
    assert not np.array_equal(x, y)
    at_x = trainer.evaluate(max_docs=50)
    assert np.array_equal(gpt.flat_buffer(trainer.params), y) and trainer.optimizer.training
    plain = Trainer(TrainConfig(optimizer="adam", steps=30, val_every=0), corpus)   # same split, no eval point
    np.copyto(plain._pflat, x)
    assert plain.evaluate(max_docs=50) == at_x
    np.copyto(plain._pflat, y)
    assert plain.evaluate(max_docs=50) != at_x
    trainer.sample(2)
    assert np.array_equal(gpt.flat_buffer(trainer.params), y) and trainer.optimizer.training
    trainer.run()                                   # and training goes on from y
    assert trainer.status == "finished"


def test_muon_adamw_statistics_cover_the_adamw_tensors(corpus):
    trainer = Trainer(TrainConfig(optimizer="muon_adamw", steps=5, val_every=0), corpus)
    trainer.run(2)
    assert trainer.optimizer.routes()["wte"] == "adamw" and trainer.optimizer.routes()["layer0.mlp_fc1"] == "muon"
    assert "normalized_step" in trainer.optimizer_stats("lm_head")
    assert trainer.optimizer_stats() == {}          # mixed halves: no common per-parameter statistic
    assert trainer.optimizer.inspect("layer0.attn_wq")["singular_values"].shape == (16,)


# ---------------------------------------------------------------------------------------------------------
# adamlab train --optimizer KIND --opt KEY=VALUE

def run(capsys, *argv):
    code = cli.main(["train", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_trains_with_a_kind_and_its_options(capsys, tmp_path):
    code, out, _ = run(capsys, "--optimizer", "muon_adamw", "--opt", "ns_steps=3", "--opt", "adjust_lr_fn=original",
                       "--opt", "adamw_names=wte,lm_head", "--steps", "6", "--samples", "0", "--quiet",
                       "--save", str(tmp_path / "m.npz"))
    assert code == 0 and "muon_adamw" in out
    t = train.load_checkpoint(tmp_path / "m.npz")
    h = t.optimizer.hyperparameters()
    assert (h["ns_steps"], h["adjust_lr_fn"], h["adamw_names"]) == (3, "original", ("wte", "lm_head"))
    assert t.optimizer.routes()["wpe"] == "muon"
    assert t.config.lr == OPTIMIZERS["muon_adamw"].gpt_lr       # no --lr: the kind's tiny-GPT lr
    code, out, _ = run(capsys, "--resume", str(tmp_path / "m.npz"), "--opt", "ns_steps=4", "--steps", "8",
                       "--samples", "0", "--quiet")
    assert code == 0


def test_cli_lists_a_kinds_options(capsys):
    code, out, _ = run(capsys, "--optimizer", "adopt", "--opt", "help")
    assert code == 0 and "clip_exponent=0.25" in out and "decouple=False" in out and "ADOPT" in out


@pytest.mark.parametrize("argv, words", [
    (["--optimizer", "muon", "--opt", "ns_steps=500"], "ns_steps must be an integer in [0, 99], got 500"),
    (["--optimizer", "lion", "--opt", "momentum_decay=0.1"], "unknown option(s) for 'lion'"),
    (["--optimizer", "adam", "--opt", "betas"], "--opt must be KEY=VALUE"),
    (["--optimizer", "adam", "--opt", "eps=inf"], "--opt must be finite"),
    (["--optimizer", "adafactor", "--opt", "d=0.5"], "d must be in [1, inf), got 0.5"),
])
def test_cli_bad_options_exit_2_with_one_line(capsys, argv, words):
    code, out, err = run(capsys, *argv, "--steps", "3")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err
