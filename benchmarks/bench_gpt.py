"""How fast is the NumPy GPT? One training step (loss_and_grads + Adam) at microgpt's size and at a medium size.

    python benchmarks/bench_gpt.py              # NumPy only
    /path/to/venv-with-torch/bin/python benchmarks/bench_gpt.py   # adds PyTorch eager on the same model
    MICROGPT_PY=/path/to/microgpt.py python benchmarks/bench_gpt.py  # adds microgpt.py's own step time
    python benchmarks/bench_gpt.py --parts medium                  # one part: microgpt, loop, medium

The step is timed as a user writes it: the plain call ``loss, grads = gpt.loss_and_grads(...)`` then
``opt.step(params, grads)``, and beside it the same step with a ``grads=`` buffer made once; PyTorch eager
runs on its default threads and NumPy on AdamLab's default BLAS threads (nothing pinned by hand).

microgpt.py is never part of this repository: give a local copy through MICROGPT_PY to time it here (it is run
in a subprocess next to an ``input.txt``, and its first steps are timed from its output). Without it the
baseline is the ~300 ms a step measured for it on the project's reference machine.

Figures are medians of several repeats; on a shared machine they move by tens of percent.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adamlab.core import data, gpt, train  # noqa: E402
from adamlab.core.optim import Adam  # noqa: E402

MICROGPT_BASELINE_MS = 300.0  # microgpt.py's step on the reference machine, when not measured here
REPEATS = 7


def seconds_per_call(fn, n):
    """Mean seconds per call of fn over one run of n calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def median_time(fn, n, repeats=REPEATS, warmup=20):
    """Median seconds per call of fn over `repeats` runs of n calls."""
    for _ in range(warmup):
        fn()
    runs = [seconds_per_call(fn, n) for _ in range(repeats)]
    return statistics.median(runs)


def times_in_turns(calls, repeats, warmup=20, settle=0.3):
    """Runs of each (fn, n calls) in ``calls``, taken in turns (the order reversed every other turn): one list
    of seconds per call for each. On a shared machine whose speed drifts by tens of percent within a minute,
    the ratio of two runs taken side by side is far steadier than two medians taken a minute apart.

    settle: seconds of rest before each run. PyTorch's OpenMP threads keep spinning for a while after an op,
    and on this machine's two vCPUs that slowed the NumPy run right after it by ~40 %.
    """
    for _ in range(warmup):
        for f, _ in calls:
            f()
    times = [[] for _ in calls]
    for i in range(repeats):
        order = list(range(len(calls)))
        for j in order if i % 2 == 0 else order[::-1]:
            time.sleep(settle)
            times[j].append(seconds_per_call(*calls[j]))
    return times


def median_ratio(slow, fast):
    """Median over turns of slow/fast: how many times faster ``fast`` ran, run by run."""
    return statistics.median([s / f for s, f in zip(slow, fast)])


def faster_or_slower(ratio):
    """'1.10× faster' for ratio 1.1, '1.02× slower' for ratio 1/1.02."""
    return f"{ratio:.2f}× faster" if ratio >= 1 else f"{1 / ratio:.2f}× slower"


def training_flops(cfg: gpt.GPTConfig, B: int, T: int) -> float:
    """Multiply-adds ×2 of the matmuls in forward (×3 for forward + backward): weights and attention."""
    C, V = cfg.n_embd, cfg.vocab_size
    per_token = cfg.n_layer * (3 * C * C + C * C + 8 * C * C) + V * C  # qkv, wo, fc1+fc2, lm_head
    attn = cfg.n_layer * 2 * T * T * C  # q·k and att·v over all heads
    return 3 * 2 * (B * T * per_token + B * attn)


# ----------------------------------------------------------------------------------------------------------
# NumPy


def numpy_step(cfg, B, T, dtype, seed=0, buffer=False):
    """A closure doing one training step (loss_and_grads + Adam) on a fixed batch, written as the README's
    first example does (the plain call), or with a ``grads=`` buffer made once (``buffer=True``)."""
    params = gpt.init_params(cfg, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, cfg.vocab_size, (B, T))
    y = rng.integers(0, cfg.vocab_size, (B, T))
    opt = Adam(lr=1e-4, betas=(0.85, 0.99), eps=1e-8)
    buf = gpt.zeros_like_params(cfg, dtype)

    def plain_step():
        loss, grads = gpt.loss_and_grads(params, cfg, x, y)
        opt.step(params, grads)

    def buffer_step():
        gpt.loss_and_grads(params, cfg, x, y, grads=buf)
        opt.step(params, buf)

    return buffer_step if buffer else plain_step


# ----------------------------------------------------------------------------------------------------------
# PyTorch eager (optional): the same model, written the usual way


def torch_step(cfg, B, T, dtype, seed=0, threads=None):
    """The same step in PyTorch eager; ``threads``: intra-op threads for it (None: PyTorch's default)."""
    import torch

    torch.manual_seed(seed)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    C, H, hd = cfg.n_embd, cfg.n_head, cfg.head_dim
    P = {n: (torch.randn(*s, dtype=tdtype) * 0.08).requires_grad_() for n, s in gpt.param_shapes(cfg).items()}
    x = torch.randint(0, cfg.vocab_size, (B, T))
    y = torch.randint(0, cfg.vocab_size, (B, T))
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    opt = torch.optim.Adam(P.values(), lr=1e-4, betas=(0.85, 0.99), eps=1e-8)

    def rms(z):
        return z * (z.pow(2).mean(-1, keepdim=True) + 1e-5).rsqrt()

    def step():
        h = rms(P["wte"][x] + P["wpe"][:T])
        for i in range(cfg.n_layer):
            p = f"layer{i}."
            a = rms(h)
            q = (a @ P[p + "attn_wq"].T).view(B, T, H, hd).transpose(1, 2)
            k = (a @ P[p + "attn_wk"].T).view(B, T, H, hd).transpose(1, 2)
            v = (a @ P[p + "attn_wv"].T).view(B, T, H, hd).transpose(1, 2)
            att = (q @ k.transpose(-1, -2) / hd**0.5).masked_fill(mask, float("-inf")).softmax(-1)
            h = h + (att @ v).transpose(1, 2).reshape(B, T, C) @ P[p + "attn_wo"].T
            h = h + torch.relu(rms(h) @ P[p + "mlp_fc1"].T) @ P[p + "mlp_fc2"].T
        loss = torch.nn.functional.cross_entropy((h @ P["lm_head"].T).view(B * T, -1), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    if threads is None:
        return step

    def step_on(n=threads):
        saved = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            step()
        finally:
            torch.set_num_threads(saved)

    return step_on


# ----------------------------------------------------------------------------------------------------------
# microgpt.py itself (optional, a local copy)


def microgpt_step_seconds(script: Path, corpus: Path, steps: int = 6) -> float | None:
    """Median time between microgpt.py's printed steps 2..steps+1 (it prints one line, \\r-terminated, per step)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(script, Path(tmp) / "microgpt.py")
        shutil.copy(corpus, Path(tmp) / "input.txt")
        proc = subprocess.Popen([sys.executable, "-u", "microgpt.py"], cwd=tmp, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        stamps, buf = [], b""
        try:
            while len(stamps) < steps + 2:
                ch = proc.stdout.read(1)
                if not ch:
                    break
                if ch in b"\r\n":
                    if re.match(rb"step\s+\d+", buf.strip()):
                        stamps.append(time.perf_counter())
                    buf = b""
                else:
                    buf += ch
        finally:
            proc.kill()
            proc.wait()
    if len(stamps) < 3:
        return None
    return statistics.median(np.diff(stamps[1:]))


def load() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def cli_seconds(repeats: int = 3) -> tuple[float, float]:
    """Median (wall seconds, seconds reported for the 1000 steps) of ``python -m adamlab.cli train`` with
    microgpt's settings (validation every 100 steps), start-up and imports included."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    walls, loops = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "adamlab.cli", "train", "--quiet", "--samples", "0"],
                             capture_output=True, text=True, env=env, check=True).stdout
        walls.append(time.perf_counter() - t0)
        loops.append(float(out.split("1000 steps in ")[1].split(" s")[0]))
    return statistics.median(walls), statistics.median(loops)


def openblas_threads() -> str:
    """How many threads NumPy's OpenBLAS would use for a big matmul (its default: one per core)."""
    fns = gpt._find_openblas()  # (the same lookup gpt.blas_threads uses)
    return f"{fns[0]()} OpenBLAS threads" if fns else "not OpenBLAS"


def microgpt_size(torch):
    """microgpt's model (4,192 parameters) on one 7-token name ("[BOS] olivia" → "olivia [BOS]")."""
    cfg = gpt.GPTConfig(vocab_size=27)
    print(f"\nmicrogpt size ({gpt.num_params(cfg):,} params), batch 1, T=7, one training step (loss_and_grads + Adam):")
    # many short runs: on a shared machine a burst of someone else's work then spoils a few runs, not the median
    alone = {(dtype, buffer): median_time(numpy_step(cfg, 1, 7, dtype, buffer=buffer), 400, repeats=21)
             for buffer in (False, True) for dtype in (np.float64, np.float32)}
    for buffer, label in ((False, "plain call    "), (True, "grads= buffer ")):
        print(f"  NumPy {label} float64 {alone[np.float64, buffer] * 1e3:7.3f} ms   "
              f"float32 {alone[np.float32, buffer] * 1e3:7.3f} ms")
    np64 = alone[np.float64, False]
    base = MICROGPT_BASELINE_MS / 1e3
    label = f"microgpt.py baseline {MICROGPT_BASELINE_MS:.0f} ms (reference machine, not measured here)"
    script = os.environ.get("MICROGPT_PY")
    corpus = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "names.txt"
    if script and Path(script).is_file() and corpus.is_file():
        measured = microgpt_step_seconds(Path(script), corpus)
        if measured:
            base, label = measured, f"microgpt.py measured here {measured * 1e3:.0f} ms a step"
    print(f"  {label}: the NumPy plain call (float64) is {base / np64:,.0f}× faster")
    for dtype in (np.float64, np.float32):
        calls = [(numpy_step(cfg, 1, 7, dtype), 400), (numpy_step(cfg, 1, 7, dtype, buffer=True), 400)]
        if torch is not None:  # on its default threads, and on one (on a loaded machine its threads wait a lot)
            calls += [(torch_step(cfg, 1, 7, dtype), 40), (torch_step(cfg, 1, 7, dtype, threads=1), 40)]
        plain, buffer, *eager = times_in_turns(calls, 21, settle=0.3 if torch is not None else 0.0)
        print(f"  side by side, {np.dtype(dtype).name} (medians of 21 turns): plain call "
              f"{statistics.median(plain) * 1e3:.3f} ms, grads= buffer {statistics.median(buffer) * 1e3:.3f} ms; "
              f"the plain call takes {median_ratio(plain, buffer):.3f}× the buffer's time")
        if eager:
            for label, t in (("PyTorch eager", eager[0]), ("PyTorch eager on 1 thread", eager[1])):
                print(f"    {label} {statistics.median(t) * 1e3:.3f} ms: the plain call is "
                      f"{median_ratio(t, plain):.1f}× faster (the buffer call {median_ratio(t, buffer):.1f}×)")


def training_loop():
    """The whole training loop as the CLI runs it (stats, history, schedule included)."""
    print("\nthe training loop at microgpt size (names corpus):")
    trainer = train.Trainer(train.TrainConfig(val_every=0, steps=10**6), data.load_corpus("names"))
    per = median_time(trainer.step, 500, repeats=5)
    print(f"  Trainer.step (with per-tensor stats and history) {per * 1e3:.3f} ms → 1000 steps in {per * 1e3:.2f} s")
    trainer = train.Trainer(train.TrainConfig(), data.load_corpus("names"))
    ev = median_time(trainer.evaluate, 5, repeats=5, warmup=1)
    print(f"  Trainer.evaluate (512 held-out names) {ev * 1e3:.1f} ms → {ev * 10:.2f} s for 10 validations")
    wall, loop = cli_seconds()
    print(f"  adamlab.cli train (1000 steps, validation every 100): {loop:.2f} s in the loop, {wall:.2f} s wall "
          f"with Python start-up and imports")


def all_blas_threads(step):
    """``step`` with every matmul left to OpenBLAS's own thread count (AdamLab's choice switched off)."""
    def run():
        saved, gpt.PARALLEL_MATMUL_FLOPS = gpt.PARALLEL_MATMUL_FLOPS, 1
        try:
            step()
        finally:
            gpt.PARALLEL_MATMUL_FLOPS = saved
    return run


def medium_size(torch):
    """n_embd 64, 4 layers, 4 heads, T 32, batch 32, float32: the plain call as a user gets it by default,
    and with all of OpenBLAS's threads, side by side with PyTorch eager on its default threads."""
    cfg = gpt.GPTConfig(vocab_size=27, n_embd=64, n_head=4, n_layer=4, block_size=32)
    flops = training_flops(cfg, 32, 32)
    print(f"\nmedium ({gpt.num_params(cfg):,} params), batch 32, T=32, float32, one training step "
          f"({flops / 1e9:.2f} GFLOP):")
    default, every = numpy_step(cfg, 32, 32, np.float32), all_blas_threads(numpy_step(cfg, 32, 32, np.float32))
    calls = [(default, 5), (every, 5)]
    if torch is not None:
        calls += [(torch_step(cfg, 32, 32, np.float32), 5), (torch_step(cfg, 32, 32, np.float32, threads=1), 5)]
    mine, all_threads, *eager = times_in_turns(calls, 9, warmup=3)
    rows = [("NumPy, the default", mine), ("NumPy, all BLAS threads", all_threads)]  # (the default: 1 at this size)
    rows += [("PyTorch eager", eager[0]), ("PyTorch eager on 1 thread", eager[1])] if eager else []
    for label, t in rows:
        print(f"  {label:26s} {statistics.median(t) * 1e3:7.2f} ms   {flops / statistics.median(t) / 1e9:5.1f} GFLOP/s")
    if eager:
        print(f"  side by side (medians of 9 turns): NumPy (the default) is "
              f"{faster_or_slower(median_ratio(eager[0], mine))} than PyTorch eager on its default threads "
              f"({faster_or_slower(median_ratio(eager[1], mine))} than on 1); NumPy on all BLAS threads "
              f"{faster_or_slower(median_ratio(eager[0], all_threads))} than PyTorch on its default")


def main():
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="microgpt,loop,medium",
                    help="comma-separated: microgpt (one step, side by side), loop (Trainer, CLI), medium")
    parts = set(ap.parse_args().parts.split(","))
    print(f"NumPy {np.__version__} ({openblas_threads()} by default); os.cpu_count() = {os.cpu_count()} "
          f"(shared: figures are noisy); {load()}; medians of {REPEATS} runs unless said")
    try:
        import torch

        print(f"PyTorch {torch.__version__} (eager, CPU, its default {torch.get_num_threads()} intra-op threads)")
    except ImportError:
        torch = None
        print("PyTorch not importable here: run this with a Python that has torch to compare")
    if "microgpt" in parts:
        microgpt_size(torch)
    if "loop" in parts:
        training_loop()
    if "medium" in parts:
        medium_size(torch)
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
