"""Headless commands: ``adamlab train ...`` trains the tiny GPT in the terminal (no Qt is imported here);
``adamlab report RUN`` prints a run folder written by ``adamlab.watch`` (see :mod:`adamlab.runs.report`).

    adamlab train --steps 1000 --samples 10            # microgpt's settings on the built-in names
    adamlab train --corpus shakespeare.txt --corpus-mode text --block-size 32 --n-embd 64 --n-layer 4 \\
                  --batch-size 32 --dtype float32 --steps 5000 --save run.npz
    adamlab train --resume run.npz --steps 8000         # continue (and extend) a saved run
    adamlab train --optimizer muon_adamw --opt ns_steps=3 --opt adjust_lr_fn=original
    adamlab train --optimizer ademamix --opt help       # a kind's options, their defaults, what it does

Also ``python -m adamlab.cli train ...``. Exit status: 0 done, 1 the run diverged, 2 bad arguments or an
unreadable corpus/checkpoint, 130 interrupted (Ctrl-C stops at the end of the step under way, prints the summary and
saves when --save was given; a second Ctrl-C aborts at once).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import math
import signal
import sys
import tempfile
import textwrap
import threading
import time

import numpy as np

# report: adamlab.runs.report (a watched PyTorch run folder); landscape: adamlab/cli_landscape.py
COMMANDS = {"train", "report", "landscape"}

# options that are knobs of a running trainer (may be changed when resuming), by TrainConfig field
_KNOB_OPTIONS = {"lr": "lr", "eps": "eps", "weight_decay": "weight_decay", "momentum": "momentum",
                 "schedule": "schedule", "warmup": "warmup", "steps": "steps"}
_FIXED_OPTIONS = ("corpus", "corpus_mode", "optimizer", "batch_size", "n_layer", "n_embd", "n_head",
                  "block_size", "seed", "dtype", "init", "val_every", "full_batch", "snapshot_every")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() can return the status."""

    def error(self, message):
        raise _UsageError(message)


class _UsageError(Exception):
    pass


MAX_SAMPLES = 100_000  # more generations than anyone reads in a terminal


def _nonneg_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _int_in(low, high):
    """An argparse type: an integer in [low, high] (the TrainConfig limits), named in the message."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in [{low}, {high:,}], got {text}")
        return value
    return parse


def _limit(name, low=1):
    from adamlab.core.train import LIMITS

    return _int_in(low, LIMITS[name])


def _float(text):
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _nonneg_float(text):
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _path(text):
    if not text:
        raise argparse.ArgumentTypeError("needs a file name, got an empty string")
    return text


def _option_value(text: str):
    """A value written on the command line: true/false, none, an int, a float, a comma-separated tuple
    of those, or (anything else) a string such as match_rms_adamw."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    if "," in text:
        return tuple(_option_value(x) for x in text.split(","))
    for convert in (int, float):
        try:
            value = convert(text)
        except ValueError:
            continue
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text}")
        return value
    return text.strip()


def _option(text: str):
    """--opt KEY=VALUE -> (key, value)."""
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"must be KEY=VALUE (e.g. ns_steps=3) or help, got {text!r}")
    return key, _option_value(value)


def build_parser() -> argparse.ArgumentParser:
    from adamlab.core.optim import OPTIMIZERS

    p = _Parser(prog="adamlab train", description="Train the tiny GPT (microgpt in NumPy) from the terminal. "
                "Defaults are microgpt's: Adam lr 0.01, betas (0.85, 0.99), linear decay, 1000 steps, batch 1.")
    g = p.add_argument_group("data")
    g.add_argument("--corpus", type=_path, help="'names' (built in, the default) or a UTF-8 text file")
    g.add_argument("--corpus-mode", choices=["lines", "text"],
                   help="lines: one document per line (default); text: continuous text cut into block windows")
    g = p.add_argument_group("model")
    g.add_argument("--n-layer", type=_limit("n_layer"), help="transformer blocks (default 1)")
    g.add_argument("--n-embd", type=_limit("n_embd"), help="embedding width (default 16)")
    g.add_argument("--n-head", type=_limit("n_head"), help="attention heads (default 4)")
    g.add_argument("--block-size", type=_limit("block_size"), help="context length (default 16)")
    g.add_argument("--dtype", choices=["float32", "float64"], help="compute dtype (default float64)")
    g.add_argument("--init", choices=["normal", "microgpt"],
                   help="normal: N(0, 0.08²) from --seed; microgpt: microgpt.py's own random draws")
    g = p.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=sorted(OPTIMIZERS), metavar="KIND",
                   help=f"one of {', '.join(OPTIMIZERS)} (default adam)")
    g.add_argument("--opt", action="append", metavar="KEY=VALUE", default=[],
                   help="one of the optimizer's own arguments, repeatable: --opt momentum_decay=0.004 --opt "
                        "ns_steps=3 --opt beta3=0.9999 --opt betas=0.9,0.999,0.9999 --opt eps=none,1e-3 "
                        "(lists: comma-separated; none, true, false); --opt help lists them for --optimizer")
    g.add_argument("--lr", type=_float, help="learning rate (default: the optimizer's tiny-GPT lr, 0.01 for adam)")
    g.add_argument("--beta1", type=_float, help="Adam's β1 (default 0.85)")
    g.add_argument("--beta2", type=_float, help="Adam's β2, RMSprop's alpha (default 0.99)")
    g.add_argument("--eps", type=_float, help="default 1e-8")
    g.add_argument("--weight-decay", type=_float, help="default 0")
    g.add_argument("--momentum", type=_float, help="SGD momentum for --optimizer momentum/nesterov (default 0.9)")
    g.add_argument("--schedule", choices=["linear", "cosine", "constant", "warmup-cosine"], help="default linear")
    g.add_argument("--warmup", type=_limit("warmup", 0), help="warmup steps for warmup-cosine")
    g.add_argument("--steps", type=_limit("steps"), help="total steps (default 1000)")
    g.add_argument("--batch-size", type=_limit("batch_size"), help="documents per step (default 1)")
    g.add_argument("--seed", type=_limit("seed", 0), help="default 0")
    g.add_argument("--val-every", type=_limit("val_every", 0), help="validation loss every N steps, 0 = never (default 100)")
    g.add_argument("--full-batch", type=_limit("full_batch", 0), metavar="N",
                   help="gradient descent on one fixed batch: the first N training documents every step (0 = off)")
    g.add_argument("--snapshot-every", type=_limit("snapshot_every", 0), metavar="N",
                   help="keep the weights every N steps in the checkpoint, for 'adamlab landscape --directions pca'")
    g = p.add_argument_group("checkpoints and output")
    g.add_argument("--save", metavar="PATH", type=_path, help="write a checkpoint here at the end (and on Ctrl-C)")
    g.add_argument("--resume", metavar="PATH", type=_path, help="continue a checkpoint; knobs given here change it")
    g.add_argument("--samples", type=_int_in(0, MAX_SAMPLES), default=10,
                   help="names to generate at the end (default 10)")
    g.add_argument("--temperature", type=_nonneg_float, default=0.5, help="sampling temperature, 0 = greedy (0.5)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _given(args) -> dict:
    """TrainConfig fields set on the command line (None means: not given)."""
    out = {}
    for name in _FIXED_OPTIONS + tuple(_KNOB_OPTIONS):
        value = getattr(args, name)
        if value is not None:
            out[name] = value.replace("-", "_") if name == "schedule" else value
    return out


def _betas(args, current):
    if args.beta1 is None and args.beta2 is None:
        return None
    return (current[0] if args.beta1 is None else args.beta1, current[1] if args.beta2 is None else args.beta2)


class Progress:
    """A progress line on stderr: redrawn with \\r on a terminal, an occasional plain line otherwise."""

    def __init__(self, total, stream=None, enabled=True):
        self.stream = stream or sys.stderr
        self.total = total
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self.last_draw = -1.0
        self.last_line_step = 0
        self.start_step = None

    def update(self, rec, trainer):
        if not self.enabled:
            return
        if self.start_step is None:
            self.start_step = rec.step - 1
        now = time.perf_counter()
        self.total = trainer.config.steps
        final = rec.step >= self.total or rec.status != "training"
        rate = (rec.step - self.start_step) / max(now - self.t0, 1e-9)
        if self.tty:
            if final or now - self.last_draw >= 0.1:
                self.last_draw = now
                width = 30
                filled = int(width * rec.step / self.total)
                bar = "#" * filled + "." * (width - filled)
                self.stream.write(f"\r[{bar}] {rec.step}/{self.total} loss {rec.loss:.4f} lr {rec.lr:.3g} "
                                  f"{rate:,.0f} steps/s ")
                if final:
                    self.stream.write("\n")
                self.stream.flush()
        elif final or (rec.step - self.last_line_step >= max(1, self.total // 10) and now - self.last_draw >= 1.0):
            self.last_draw, self.last_line_step = now, rec.step
            self.stream.write(f"step {rec.step}/{self.total} | loss {rec.loss:.4f} | lr {rec.lr:.3g} | "
                              f"{rate:,.0f} steps/s\n")
            self.stream.flush()


class StopFlag:
    """Ctrl-C as a request to stop at the next step boundary, instead of a KeyboardInterrupt that can land
    between the optimizer's update and the trainer's bookkeeping (a checkpoint saved then would not resume
    bit-for-bit). A second Ctrl-C raises KeyboardInterrupt as usual, for a step that never ends."""

    def __init__(self):
        self.requested = False

    def _on_sigint(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    @contextlib.contextmanager
    def catching_sigint(self):
        """Install the handler for the block (signal handlers exist only in the main thread), then put
        the previous one back."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def check_save_path(path) -> None:
    """ValueError unless a checkpoint can be written at ``path``: a new name or a regular file (never a FIFO, a
    device, a symlink or a directory: see files.check_target) in a directory we can write in. Found out
    before training, not after it."""
    from adamlab.core import files

    p = files.check_target(path, "--save")
    try:  # the only sure test of writability (permissions, read-only mounts, /proc) is to write
        with tempfile.TemporaryFile(dir=p.parent):
            pass
    except OSError as e:
        raise ValueError(f"--save {path}: cannot write in {p.parent} ({e.strerror or e})") from None


def optimizer_help(kind: str, out) -> None:
    """What --opt help prints: the kind's description and its arguments with their defaults."""
    from adamlab.core.optim import OPTIMIZERS, OPTION_ALIASES, kind_arguments

    spec = OPTIMIZERS[kind]
    print(f"{kind}: {spec.label} ({spec.cls.__name__})", file=out)
    print(textwrap.fill(spec.description, 100), file=out)
    print("options (--opt KEY=VALUE; lr, betas, eps, weight_decay and momentum also have their own flags):",
          file=out)
    for name, default in kind_arguments(kind).items():
        if name != "lr":
            print(f"  {name}={default!r}", file=out)
    for name, meaning in OPTION_ALIASES.get(kind, {}).items():
        print(f"  {name}: {meaning}", file=out)


def _options(args) -> dict | None:
    """--opt pairs as a dict (None if none was given); "help" is handled before."""
    if not args.opt:
        return None
    try:
        pairs = [_option(text) for text in args.opt]
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"--opt {e}") from None
    return dict(pairs)


def train_command(argv, out=None, err=None) -> int:
    from adamlab.core import gpt, train
    from adamlab.core.optim import OPTIMIZERS

    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)  # every value is checked here, before anything is loaded
    if "help" in args.opt:
        kind = args.optimizer or (train.load_checkpoint(args.resume).config.optimizer if args.resume else "adam")
        optimizer_help(kind, out)
        return 0
    options = _options(args)
    if args.save is not None:
        check_save_path(args.save)
    given = _given(args)
    if args.resume is not None:
        trainer = train.load_checkpoint(args.resume)
        if "corpus" in given:  # checkpoints record the corpus file's absolute path
            given["corpus"] = train._absolute_corpus(given["corpus"])
        fixed = [f"--{k.replace('_', '-')}" for k in _FIXED_OPTIONS
                 if k in given and given[k] != getattr(trainer.config, k)]
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot change when resuming (only lr, betas, eps, "
                             f"weight decay, momentum, schedule, warmup and steps can)")
        knobs = {k: v for k, v in given.items() if k in _KNOB_OPTIONS}
        betas = _betas(args, trainer.config.betas)
        if betas is not None:
            knobs["betas"] = betas
        if options is not None:
            knobs["optimizer_options"] = {**trainer.config.optimizer_options, **options}
        if knobs:
            trainer.set_knobs(**knobs)
        print(f"resumed {args.resume} at step {trainer.step_count}", file=out)
    else:
        betas = _betas(args, train.TrainConfig.betas)
        if betas is not None:
            given["betas"] = betas
        if options is not None:
            given["optimizer_options"] = options
        if "lr" not in given:  # each kind trains the tiny GPT best at its own lr (Lion's is ~10× below Adam's)
            given["lr"] = OPTIMIZERS[given.get("optimizer", "adam")].gpt_lr or train.TrainConfig.lr
        config = train.TrainConfig(**given)
        trainer = train.Trainer(config)
    cfg = trainer.config
    corpus = trainer.corpus
    print(f"corpus {corpus.name}: {len(corpus)} documents ({len(trainer.train_seqs)} train, "
          f"{len(trainer.val_seqs)} val), vocabulary {trainer.tokenizer.vocab_size}"
          + (f", {corpus.truncated} truncated to block size {cfg.block_size}" if corpus.truncated else ""), file=out)
    batch = (f"full batch of {min(cfg.full_batch, len(trainer.train_seqs))} documents" if cfg.full_batch
             else f"batch {cfg.batch_size}")
    print(f"model: {gpt.num_params(trainer.model_config):,} parameters (n_layer {cfg.n_layer}, n_embd {cfg.n_embd}, "
          f"n_head {cfg.n_head}, block {cfg.block_size}, {cfg.dtype}); {cfg.optimizer} "
          f"{trainer.optimizer.hyperparameters()}, {cfg.schedule} schedule, {batch}, "
          f"{cfg.steps} steps", file=out)
    out.flush()

    progress = Progress(cfg.steps, err, enabled=not args.quiet)
    stop = StopFlag()
    # the history's points become bucket averages past its capacity: keep the exact recent losses aside
    recent = collections.deque(maxlen=20)
    start_step, t0 = trainer.step_count, time.perf_counter()
    with stop.catching_sigint():
        while not trainer.done and not stop.requested:  # Ctrl-C is looked at between whole steps only
            rec = trainer.step()
            if rec is not None:
                recent.append(rec.loss)
                progress.update(rec, trainer)
        if stop.requested:
            err.write(f"\ninterrupted after step {trainer.step_count}\n")
        seconds = time.perf_counter() - t0
        summary_and_save(trainer, args, start_step, seconds, recent, out)
    interrupted = stop.requested  # (also a Ctrl-C during the summary or the save: no samples then)
    if args.samples and trainer.status != "diverged" and not interrupted:
        print(f"--- {args.samples} samples (temperature {args.temperature:g}) ---", file=out)
        for s in trainer.sample(args.samples, args.temperature, seed=cfg.seed):
            print(s, file=out)
    if interrupted:
        return 130
    return 1 if trainer.status == "diverged" else 0


def summary_and_save(trainer, args, start_step, seconds, recent, out) -> None:
    """Print what the run did (steps, speed, losses, validation) and write --save's checkpoint.

    ``recent``: the exact losses of this session's last steps (at most 20); the first loss is the run's
    own (kept by the trainer, also across checkpoints), not the history's first bucket average.
    """
    from adamlab.core import train

    cfg = trainer.config
    taken = trainer.step_count - start_step
    print(f"{trainer.message or trainer.status}: {taken} steps in {seconds:.2f} s ({taken / max(seconds, 1e-9):,.0f} "
          f"steps/s)", file=out)
    if recent:
        first = math.nan if trainer.first_loss is None else trainer.first_loss
        with np.errstate(all="ignore"):  # a diverged run's last loss may be inf
            tail = float(np.mean(recent))
        print(f"loss: first {first:.4f}, last {recent[-1]:.4f}, mean of the last {len(recent)} steps {tail:.4f}",
              file=out)
    if trainer.val_seqs and trainer.status != "diverged":
        print(f"validation loss: {trainer.evaluate():.4f} ({min(len(trainer.val_seqs), cfg.val_docs)} held-out "
              f"documents)", file=out)
    if args.save is not None:
        try:
            path = train.save_checkpoint(trainer, args.save)
        except OSError as e:  # e.g. the disk filled up during the run
            raise ValueError(f"could not write the checkpoint {args.save} ({e.strerror or e})") from None
        print(f"saved {path}", file=out)


def main(argv=None) -> int:
    """Run a command: ``main(["train", "--steps", "100"])``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: adamlab {{{','.join(sorted(COMMANDS))}}} [options]  (adamlab train --help)", file=sys.stderr)
        return 2
    if argv[0] == "report":
        from adamlab.runs.report import main as report_main

        return report_main(argv[1:])
    if argv[0] == "landscape":
        from adamlab import cli_landscape

        return cli_landscape.main(argv[1:])
    try:
        return train_command(argv[1:])
    except _UsageError as e:
        print(f"adamlab train: error: {e}\n(see adamlab train --help)", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except KeyboardInterrupt:  # a second Ctrl-C: nothing half-done was saved (checkpoints are atomic)
        print("\nadamlab train: interrupted", file=sys.stderr)
        return 130
    except ValueError as e:  # bad values, CorpusError, CheckpointError: a message, not a traceback
        print(f"adamlab train: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # any other I/O failure: also a message, and not 1 (which means "diverged")
        print(f"adamlab train: error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""),
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
