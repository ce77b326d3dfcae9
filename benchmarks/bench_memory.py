"""The memory estimate (adamlab.core.memory) against what runs really take: each configuration trains a few
steps, validates and samples in a fresh Python, which reports its peak resident memory (VmHWM) above
what it held before the run was built (imports and the interpreter).

    python benchmarks/bench_memory.py [--only NAME] [--steps 3]

Prints, per configuration, the estimate, the measured peak increase and their ratio; the estimate is meant
to be an upper bound within ~25 % wherever the run needs more than ~100 MB. The corpora are generated (a
seeded random text), so every machine measures the same runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runnable from a checkout without installing

# The peak is VmHWM (this process's own high-water mark): ru_maxrss would start from the parent's RSS, which
# Linux carries across fork and exec.
CHILD = r"""
import json, sys
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))
def rss():
    return status("VmRSS")
from adamlab.core import data, gpt, memory, train
import numpy as np
spec = json.loads(sys.argv[1])
np.dot(np.ones((64, 64)), np.ones((64, 64)))  # BLAS's own buffers belong to the baseline
before = rss()
cfg = train.TrainConfig(**spec["config"])
trainer = train.Trainer(cfg)
for _ in range(spec["steps"]):
    trainer.step()
trainer.evaluate()
trainer.sample(10, 0.5, seed=0)
peak = status("VmHWM")
info = data.text_info(data.read_text(data.builtin_corpus_path() if cfg.corpus == "names" else cfg.corpus),
                      cfg.corpus_mode, cfg.block_size)
print(json.dumps({"peak": peak - before, "estimate": memory.estimate_memory(cfg, info),
                  "parts": memory.memory_breakdown(cfg, info), "params": gpt.num_params(trainer.model_config),
                  "docs": len(trainer.corpus)}))
"""


def make_text(path: Path, n_bytes: int, seed: int = 0, line: tuple[int, int] = (3, 12)) -> str:
    rng = random.Random(seed)
    words, size = [], 0
    while size < n_bytes:
        w = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(*line)))
        words.append(w)
        size += len(w) + 1
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return str(path)


def configs(tmp: Path) -> dict[str, dict]:
    small = make_text(tmp / "small.txt", 1_000_000)
    big = make_text(tmp / "big.txt", 8_000_000, seed=1)
    giant_line = tmp / "giant.txt"
    giant_line.write_text("ab" * 8_000_000 + "\n" + "cd\n" * 1000)
    return {
        "microgpt": {"corpus": "names"},
        "medium f32": {"corpus": small, "corpus_mode": "text", "n_embd": 64, "n_head": 4, "n_layer": 4,
                       "block_size": 64, "batch_size": 32, "dtype": "float32"},
        "activations": {"corpus": small, "corpus_mode": "text", "n_embd": 128, "n_head": 4, "n_layer": 2,
                        "block_size": 128, "batch_size": 256},
        "parameters f32": {"corpus": small, "corpus_mode": "text", "n_embd": 384, "n_head": 6, "n_layer": 6,
                           "block_size": 32, "batch_size": 4, "dtype": "float32"},
        "corpus 8 MB text, block 4": {"corpus": big, "corpus_mode": "text", "block_size": 4},
        "corpus 8 MB lines": {"corpus": big, "batch_size": 8},
        "one 16 MB line": {"corpus": str(giant_line)},
        "long context": {"corpus": small, "corpus_mode": "text", "n_embd": 32, "n_head": 4, "n_layer": 2,
                         "block_size": 512, "batch_size": 8},
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run only the configurations whose name contains this")
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"estimate vs measured peak RSS increase (os.cpu_count() = {os.cpu_count()})")
    print(f"{'configuration':28s} {'estimate':>10s} {'measured':>10s} {'ratio':>6s}   biggest parts of the estimate")
    with tempfile.TemporaryDirectory() as d:
        for name, config in configs(Path(d)).items():
            if args.only and args.only not in name:
                continue
            spec = json.dumps({"config": {"val_every": 0, **config}, "steps": args.steps})
            res = subprocess.run([sys.executable, "-c", CHILD, spec], capture_output=True, text=True, env=env,
                                 timeout=1800)
            if res.returncode:
                print(f"{name:28s} failed: {res.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(res.stdout)
            parts = sorted(r["parts"].items(), key=lambda kv: -kv[1])[:3]
            top = ", ".join(f"{k} {v / 2**20:.0f}" for k, v in parts)
            print(f"{name:28s} {r['estimate'] / 2**20:8.0f} MB {r['peak'] / 2**20:8.0f} MB "
                  f"{r['estimate'] / max(r['peak'], 1):6.2f}   {top} (MB)")


if __name__ == "__main__":
    main()
