"""``adamlab train``: runs, summary and samples, progress output, save/resume, bad arguments (exit 2)."""

import io
import subprocess
import sys
import time

import numpy as np
import pytest

from adamlab import cli
from adamlab.core import train


def run(capsys, *argv):
    code = cli.main(["train", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_commands_contains_train_and_cli_does_not_import_qt():
    assert "train" in cli.COMMANDS
    code = ("import sys, adamlab.cli; adamlab.cli.main(['train', '--steps', '2', '--samples', '0', '--quiet']); "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'adamlab.ui', 'adamlab.app'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


def test_train_prints_summary_and_samples(capsys):
    code, out, err = run(capsys, "--steps", "120", "--samples", "4", "--temperature", "0.7", "--val-every", "60")
    assert code == 0
    assert "4,192 parameters" in out and "corpus names" in out
    assert "finished 120 steps: 120 steps in" in out and "steps/s" in out
    assert "validation loss:" in out
    samples = out.split("samples (temperature 0.7) ---\n")[1].split()
    assert len(samples) == 4 and all(s.isalpha() and s.islower() for s in samples)
    # not a terminal: occasional plain progress lines on stderr, the last one at the end
    lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert lines and lines[-1].startswith("step 120/120 | loss ")


def test_progress_redraws_in_place_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    trainer = train.Trainer(train.TrainConfig(steps=30, val_every=0))
    progress = cli.Progress(30, stream)
    trainer.run(callback=lambda r: progress.update(r, trainer))
    text = stream.getvalue()
    assert text.startswith("\r[") and text.endswith("\n") and "30/30 loss" in text and "steps/s" in text
    assert text.count("\n") == 1  # one line, redrawn with \r


def test_options_reach_the_trainer(capsys, tmp_path):
    path = tmp_path / "run.npz"
    code, out, _ = run(capsys, "--optimizer", "adamw", "--lr", "0.003", "--beta1", "0.9", "--beta2", "0.95",
                       "--weight-decay", "0.1", "--schedule", "warmup-cosine", "--warmup", "5", "--steps", "20",
                       "--batch-size", "4", "--n-layer", "2", "--n-embd", "8", "--n-head", "2", "--block-size", "12",
                       "--seed", "3", "--dtype", "float32", "--save", str(path), "--samples", "0", "--quiet")
    assert code == 0 and f"saved {path}" in out
    tr = train.load_checkpoint(path)
    c = tr.config
    assert (c.optimizer, c.lr, c.betas, c.weight_decay, c.schedule, c.warmup, c.steps, c.batch_size) == (
        "adamw", 0.003, (0.9, 0.95), 0.1, "warmup_cosine", 5, 20, 4, )
    assert (c.n_layer, c.n_embd, c.n_head, c.block_size, c.seed, c.dtype) == (2, 8, 2, 12, 3, "float32")
    assert tr.step_count == 20 and tr.params["wte"].dtype == np.float32


def test_save_then_resume_equals_one_long_run(capsys, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run(capsys, "--steps", "60", "--save", str(a), "--samples", "0", "--quiet")[0] == 0
    assert run(capsys, "--steps", "25", "--save", str(b), "--samples", "0", "--quiet")[0] == 0
    code, out, _ = run(capsys, "--resume", str(b), "--steps", "60", "--save", str(b), "--samples", "0", "--quiet")
    assert code == 0 and "resumed" in out
    # 25 steps planned as a 25-step run then extended: the linear schedule differs, so compare with a knob run
    straight = train.Trainer(train.TrainConfig(steps=25))
    straight.run()
    straight.set_knobs(steps=60)
    straight.run()
    resumed = train.load_checkpoint(b)
    assert np.array_equal(resumed.history.loss, straight.history.loss)
    assert resumed.history.knob_change_steps.tolist() == [25]
    code, _, err = run(capsys, "--resume", str(b), "--n-embd", "32")
    assert code == 2 and "--n-embd cannot change when resuming" in err


def test_a_diverging_run_exits_1_with_its_status(capsys):
    code, out, _ = run(capsys, "--optimizer", "sgd", "--lr", "10", "--schedule", "constant", "--quiet")
    assert code == 1 and "diverged at step" in out


@pytest.mark.parametrize("argv, word", [
    (["--lr", "-1"], "lr"),
    (["--lr", "nan"], "--lr"),
    (["--steps", "0"], "--steps"),
    (["--optimizer", "lamb"], "--optimizer"),
    (["--schedule", "step"], "--schedule"),
    (["--n-embd", "10", "--n-head", "4"], "n_embd"),
    (["--beta1", "1.5"], "betas"),
    (["--corpus", "/no/such/file.txt"], "not found"),
    (["--resume", "/no/such/run.npz"], "not found"),
    (["--bogus"], "unrecognized"),
    # integers beyond what means anything: refused by argparse, before anything is built
    (["--n-embd", "100000"], "--n-embd"),
    (["--block-size", "10000000"], "--block-size"),
    (["--batch-size", str(10**23)], "--batch-size"),
    (["--samples", str(10**23)], "--samples"),
    (["--steps", str(10**13)], "--steps"),
    (["--n-layer", "5000"], "--n-layer"),
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**64)], "--seed"),
    (["--steps", "1" * 5000], "--steps"),  # (more digits than int() takes)
    (["--temperature", "-1"], "--temperature"),
    (["--save", ""], "--save"),
    (["--resume", ""], "--resume"),
    (["--corpus", ""], "--corpus"),
])
def test_bad_arguments_exit_2_with_a_clear_message(capsys, argv, word):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "adamlab train: error:" in err and word in err
    assert "Traceback" not in err and "steps in" not in out  # up front: no training, no half run


def test_the_temperature_is_checked_before_training(capsys, tmp_path):
    code, out, err = run(capsys, "--steps", "5", "--temperature", "-0.5", "--save", str(tmp_path / "r.npz"))
    assert code == 2 and "--temperature" in err and "steps in" not in out and not (tmp_path / "r.npz").exists()


@pytest.mark.parametrize("kind", ["a FIFO", "a device", "a symbolic link"])
def test_save_onto_a_special_file_exits_2_before_training_and_leaves_it(capsys, tmp_path, kind):
    import os
    import stat

    fifo, target, link, device = tmp_path / "pipe", tmp_path / "real.npz", tmp_path / "link.npz", tmp_path / "null"
    os.mkfifo(fifo)
    target.write_bytes(b"precious")
    link.symlink_to(target)
    if kind == "a device":  # a node of the test's own, never the system's /dev/null (a regression would replace it)
        try:
            os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except OSError:
            pytest.skip("device nodes cannot be made here (not root)")
    path = {"a FIFO": fifo, "a device": device, "a symbolic link": link}[kind]
    code, out, err = run(capsys, "--steps", "5", "--save", str(path), "--samples", "0", "--quiet")
    assert code == 2 and err.count("\n") == 1 and f"--save {path} is " in err and "steps in" not in out
    assert fifo.is_fifo() and link.is_symlink() and target.read_bytes() == b"precious"
    assert kind != "a device" or stat.S_ISCHR(device.lstat().st_mode)


def test_a_run_too_big_for_memory_is_refused_up_front_in_one_line(capsys, monkeypatch):
    monkeypatch.setenv("ADAMLAB_MEMORY_LIMIT", "1G")
    t0 = time.perf_counter()
    code, out, err = run(capsys, "--batch-size", "50000", "--steps", "3")
    assert code == 2 and "steps in" not in out and time.perf_counter() - t0 < 10
    assert err.count("\n") == 1 and "not enough memory" in err and "batch_size 50000" in err and "1 GB" in err


def test_a_text_corpus_cut_into_one_character_documents_is_refused_before_they_are_built(capsys, tmp_path,
                                                                                        monkeypatch):
    import tracemalloc

    corpus = tmp_path / "big.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 50_000)  # 2.2 MB → 2.2 M documents
    monkeypatch.setenv("ADAMLAB_MEMORY_LIMIT", "200M")
    tracemalloc.start()
    try:
        code, out, err = run(capsys, "--corpus", str(corpus), "--corpus-mode", "text", "--block-size", "1")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2 and "not enough memory" in err and "corpus" in err and "2,250,000 documents" in err
    assert peak < 60 * 2**20  # the text and its counts, not 2 million documents (~450 MB)


def test_unknown_command_and_help():
    assert cli.main(["fly"]) == 2
    assert cli.main(["train", "--help"]) == 0


def test_python_dash_m_entry_point(tmp_path):
    res = subprocess.run([sys.executable, "-m", "adamlab.cli", "train", "--steps", "5", "--samples", "2"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "finished 5 steps" in res.stdout


def test_microgpt_settings_run_1000_steps(capsys):
    # The speed itself is measured by benchmarks/bench_gpt.py (end-to-end CLI time), not asserted here.
    code, out, _ = run(capsys, "--samples", "0", "--val-every", "0", "--quiet")
    assert code == 0
    assert "finished 1000 steps: 1000 steps in" in out



def _interrupt_inside_the_kth_optimizer_step(monkeypatch, k):
    """SIGINT to this process at the end of the k-th Adam.step, i.e. inside Trainer.step, between the
    optimizer's update and the trainer's own bookkeeping: the worst moment for a KeyboardInterrupt."""
    import os
    import signal

    from adamlab.core import optim

    calls = {"n": 0}
    step = optim.Adam.step

    def step_then_sigint(self, params, grads):
        step(self, params, grads)
        calls["n"] += 1
        if calls["n"] == k:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(optim.Adam, "step", step_then_sigint)
    return calls


def test_ctrl_c_stops_at_a_step_boundary_saves_and_the_checkpoint_resumes_bit_for_bit(capsys, tmp_path,
                                                                                      monkeypatch):
    import signal

    path = tmp_path / "run.npz"
    handler = signal.getsignal(signal.SIGINT)
    calls = _interrupt_inside_the_kth_optimizer_step(monkeypatch, 12)
    code, out, err = run(capsys, "--steps", "30", "--val-every", "10", "--save", str(path), "--samples", "3",
                         "--quiet")
    assert code == 130 and "interrupted" in err and f"saved {path}" in out
    assert calls["n"] == 12  # the step that was under way finished, no further step started
    assert signal.getsignal(signal.SIGINT) is handler  # the previous handler is back
    interrupted_out = out
    monkeypatch.undo()
    saved = train.load_checkpoint(path)
    assert saved.step_count == 12 and saved.optimizer.t == 12
    code, out, _ = run(capsys, "--resume", str(path), "--save", str(path), "--samples", "0", "--quiet")
    assert code == 0 and "resumed" in out and "finished 30 steps" in out
    straight = train.Trainer(train.TrainConfig(steps=30, val_every=10))
    straight.run()
    resumed = train.load_checkpoint(path)
    np.testing.assert_array_equal(resumed._pflat, straight._pflat)
    np.testing.assert_array_equal(resumed.history.loss, straight.history.loss)
    np.testing.assert_array_equal(resumed.history.val_loss, straight.history.val_loss)
    assert "samples" not in interrupted_out  # interrupted: out quickly, no sampling


def test_cli_runs_outside_the_main_thread_without_touching_signals(tmp_path):
    import threading

    codes = []
    t = threading.Thread(target=lambda: codes.append(
        cli.main(["train", "--steps", "3", "--samples", "0", "--quiet", "--save", str(tmp_path / "t.npz")])))
    t.start()
    t.join(120)
    assert codes == [0] and train.load_checkpoint(tmp_path / "t.npz").step_count == 3


@pytest.mark.parametrize("where", ["missing directory", "proc", "a directory"])
def test_an_unwritable_save_path_exits_2_before_training(capsys, tmp_path, where):
    path = {"missing directory": tmp_path / "no" / "such" / "run.npz", "proc": "/proc/nope/x.npz",
            "a directory": tmp_path}[where]
    code, out, err = run(capsys, "--steps", "5", "--save", str(path), "--samples", "0", "--quiet")
    assert code == 2 and "adamlab train: error:" in err and "--save" in err and str(path) in err
    assert "Traceback" not in err and "steps in" not in out  # refused before training
    assert list(tmp_path.iterdir()) == []  # and nothing left behind


def test_an_io_error_while_saving_exits_2_with_a_message(capsys, tmp_path, monkeypatch):
    def disk_full(trainer, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(train, "save_checkpoint", disk_full)
    code, out, err = run(capsys, "--steps", "5", "--save", str(tmp_path / "run.npz"), "--samples", "0", "--quiet")
    assert code == 2 and "No space left on device" in err and str(tmp_path / "run.npz") in err
    assert "Traceback" not in err and "finished 5 steps" in out


def test_resuming_a_npy_file_exits_2_not_an_adamlab_checkpoint(capsys, tmp_path):
    p = tmp_path / "weights.npy"
    np.save(p, np.arange(3.0))
    code, _, err = run(capsys, "--resume", str(p))
    assert code == 2 and "Not an AdamLab checkpoint" in err and "Traceback" not in err


def test_an_unreadable_corpus_exits_2(capsys, tmp_path, monkeypatch):
    p = tmp_path / "c.txt"
    p.write_text("anna\nbob\n")
    from adamlab.core import data

    def denied(path, *args, **kwargs):  # (the tests may run as root, for whom chmod 000 denies nothing)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data, "open", denied, raising=False)  # shadows the builtin inside data.py only
    code, _, err = run(capsys, "--corpus", str(p), "--steps", "2")
    assert code == 2 and "Permission denied" in err and "Traceback" not in err


def test_any_other_os_error_exits_2_not_1(capsys, monkeypatch):
    def broken(config):
        raise OSError(5, "Input/output error", "/dev/sdz")

    monkeypatch.setattr(train, "Trainer", broken)
    code, _, err = run(capsys, "--steps", "2")
    assert code == 2 and err.strip() == "adamlab train: error: Input/output error: /dev/sdz"


def test_summary_losses_are_exact_values_even_after_the_history_is_decimated(capsys):
    # 2,100 steps > the 2,048 buckets of the history: its points are averages of 2 steps by then
    code, out, _ = run(capsys, "--steps", "2100", "--val-every", "0", "--samples", "0", "--quiet")
    assert code == 0
    losses = []
    straight = train.Trainer(train.TrainConfig(steps=2100, val_every=0))
    straight.run(callback=lambda r: losses.append(r.loss))
    assert straight.history.train.width > 1  # (the premise: decimated)
    line = next(s for s in out.splitlines() if s.startswith("loss:"))
    assert line == (f"loss: first {losses[0]:.4f}, last {losses[-1]:.4f}, "
                    f"mean of the last 20 steps {np.mean(losses[-20:]):.4f}")


def test_summary_after_resuming_uses_this_session_steps(capsys, tmp_path):
    path = tmp_path / "r.npz"
    assert run(capsys, "--steps", "10", "--save", str(path), "--samples", "0", "--quiet")[0] == 0
    code, out, _ = run(capsys, "--resume", str(path), "--steps", "15", "--samples", "0", "--quiet")
    losses = []
    straight = train.Trainer(train.TrainConfig(steps=10))
    straight.run(callback=lambda r: losses.append(r.loss))
    straight.set_knobs(steps=15)
    straight.run(callback=lambda r: losses.append(r.loss))
    line = next(s for s in out.splitlines() if s.startswith("loss:"))
    assert line == (f"loss: first {losses[0]:.4f}, last {losses[-1]:.4f}, "
                    f"mean of the last 5 steps {np.mean(losses[-5:]):.4f}")


def test_resuming_from_another_directory_with_the_corpus_given_again(capsys, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "words.txt").write_text("anna\nbob\nnab\nnoa\nbo\n" * 20, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "--corpus", "data/words.txt", "--steps", "5", "--save", "ck.npz", "--samples", "0",
               "--quiet")[0] == 0
    code, out, err = run(capsys, "--resume", "ck.npz", "--corpus", "data/words.txt", "--steps", "8", "--samples",
                         "0", "--quiet")  # the same corpus, given as it was: not a change
    assert code == 0 and "finished 8 steps" in out, err
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, out, err = run(capsys, "--resume", "../ck.npz", "--steps", "9", "--samples", "2", "--quiet")
    assert code == 0 and "resumed ../ck.npz at step 5" in out, err
