"""How much memory a training run of the tiny GPT will take, and whether this machine has it.

    info = corpus.info                                 # a loaded data.Corpus, or data.text_info(text, mode, block)
    estimate_memory(config, info)                      # bytes (int) for a TrainConfig
    memory_breakdown(config, info)                     # {"activations": bytes, "parameters": bytes, ...}
    available_memory()                                 # bytes this process may still take (None: unknown)
    check_fits(config, info, runs=3)                   # the estimate, or ValueError: one line naming the setting

``Trainer`` calls ``check_fits`` before it allocates anything (and ``load_corpus`` lets it look at a file's
text before the documents are built), so the CLI, the GUI's runs and checkpoints that declare a huge model
are all refused up front instead of ending in a MemoryError, a swap storm or the OOM killer.

The estimate mirrors what the code allocates, term by term (bytes, s = 4 or 8 per number):

* parameters: weights, gradients and the Trainer's four per-step buffers, 6·P·s; the optimizer keeps its
  state arrays (Adam: m, v) and three scratch arrays of the same size;
* activations: gpt's workspace (see gpt._Plan): for a batch of B documents of T ≤ block_size tokens, per
  layer 11·B·T·C numbers (h1, x, h2, y: C; qkv: 3C; relu: 4C) and B·H·T² of attention, plus embeddings,
  logits and the backward's buffers (two more B·H·T², ~10·B·T·C, B·T·V); each buffer is the larger of the
  training and the validation batch (they share the workspace), plus the step's transients;
* sampling: one batch of generations at the full context (``Trainer.sample`` draws SAMPLE_BATCH_BYTES of
  activations at a time); a fresh forward pass, so every layer's attention at once;
* history: the decimated series, (2 + 3·channels)·capacity numbers;
* corpus: each document's string, token array and list slots (~180 bytes + 9 per character, measured with
  tracemalloc) and the file's text while they are built — unless the corpus is already in memory — and the
  train/validation split (~80 bytes a document).

Checked against the peak resident memory of real runs (``benchmarks/bench_memory.py``): the estimate is meant
to be an upper bound within ~25 % for anything that needs more than ~100 MB.

``available_memory`` reads MemAvailable from /proc/meminfo (else os.sysconf), lowered to the headroom of the
process's cgroup (containers); ``ADAMLAB_MEMORY_LIMIT`` (e.g. "8G", "512M" or bytes) replaces it.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from adamlab.core import gpt

ENV_LIMIT = "ADAMLAB_MEMORY_LIMIT"
# Per document (CPython 3.11, NumPy 2): its str (49 bytes + its characters), its token array (112 + 8 per
# token) and its slots in the docs and seqs lists, 177 bytes as tracemalloc counts them; once a Trainer
# splits the corpus, its slot in the train or validation list and, while splitting, ~75 bytes of shuffled
# index list: 83. Resident memory is ~15 % more (the small-object allocator's pools): 200 and 100.
DOC_BYTES = 200
SPLIT_BYTES = 100


# ----------------------------------------------------------------------------------------------------------
# what the machine has


def _parse_bytes(text: str) -> int:
    text = text.strip().upper().removesuffix("B")
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(text[-1:], 1)
    value = float(text[:-1] if scale > 1 else text)
    if not value > 0:
        raise ValueError
    return int(value * scale)


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_available() -> int | None:
    for name in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):  # (macOS has only the total)
        try:
            pages, size = os.sysconf(name), os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            continue
        if pages > 0 and size > 0:
            return pages * size
    return None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # (cgroup v2 writes "max" for no limit)


def _cgroup_headroom() -> int | None:
    """limit − usage of this process's memory cgroup (v2, else v1), or None when there is no limit."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    root = Path("/sys/fs/cgroup")
    for line in lines:
        hid, controllers, rel = (line.split(":", 2) + ["", ""])[:3]
        rel = rel.lstrip("/")
        if hid == "0" and controllers == "":  # v2: one unified hierarchy
            limit, usage = _read_int(root / rel / "memory.max"), _read_int(root / rel / "memory.current")
        elif "memory" in controllers.split(","):
            limit = _read_int(root / "memory" / rel / "memory.limit_in_bytes")
            usage = _read_int(root / "memory" / rel / "memory.usage_in_bytes")
        else:
            continue
        if limit is not None and usage is not None and limit < 2**60:  # v1 writes ~2⁶³ for no limit
            return max(limit - usage, 0)
    return None


def available_memory() -> int | None:
    """Bytes a new run may take on this machine now: MemAvailable (or what os.sysconf says), at most the
    cgroup's headroom; ``ADAMLAB_MEMORY_LIMIT`` overrides both. None if nothing tells."""
    env = os.environ.get(ENV_LIMIT)
    if env:
        try:
            return _parse_bytes(env)
        except ValueError:
            raise ValueError(f"{ENV_LIMIT} must be a size such as 8G, 512M or a number of bytes, got {env!r}") from None
    found = [b for b in (_meminfo_available() or _sysconf_available(), _cgroup_headroom()) if b is not None]
    return min(found) if found else None


# ----------------------------------------------------------------------------------------------------------
# what a run takes


@functools.lru_cache(maxsize=64)
def optimizer_arrays(kind: str, hyper: tuple) -> int:
    """Parameter-sized arrays an optimizer keeps for a model: its state after one step on a tiny GPT's tensors
    (so state it makes lazily counts, factored state counts as what it is, and Muon + AdamW split them as
    for the real model), rounded up, plus the three scratch arrays of its slots. ``hyper``: sorted (name,
    value) pairs."""
    from adamlab.core.optim import flatten, make_optimizer

    opt = make_optimizer(kind, **dict(hyper))
    shapes = gpt.param_shapes(gpt.GPTConfig(vocab_size=7, n_embd=4, n_head=1, n_layer=1, block_size=3))
    p, g = flatten(shapes, np.float32), flatten(shapes, np.float32)
    g.buffer[:] = 1.0
    opt.step(p.views, g.views)
    state = sum(np.size(v) for k, v in opt.state_dict().items() if ".state." in k)
    return -(-state // p.buffer.size) + 3


def _plan_elements(C, H, L, V, block, B, T, backward) -> dict[str, int]:
    """Numbers in each workspace buffer gpt._Plan takes for a (B, T) batch (its own buffer names; the layers'
    buffers summed over the layers)."""
    N = B * T
    e = {"emb": N * C, "x0": N * C, "tmp": N * C, "logits": N * V,
         "layers": L * 11 * N * C, "att": L * B * H * T * T}  # h1 x h2 y (C), qkv (3C), r (4C); att (H, T, T)
    if V + block <= gpt.ONEHOT_MAX_ROWS and (backward or N * C < gpt.WORKSPACE_MIN_ELEMENTS):
        e["onehot"] = N * (V + block)
    if backward:
        e.update(probs=N * V, dx=N * C, da=4 * N * C, tmp2=N * C, dy=N * C, dqkv=3 * N * C,
                 datt=B * H * T * T, att_sums=B * H * T * T)
    return e


def _forward_bytes(C, H, L, V, block, B, T, s) -> int:
    """A fresh forward pass (no workspace, as in sampling): every buffer of its plan at once."""
    return s * sum(_plan_elements(C, H, L, V, block, B, T, backward=False).values())


def sample_batch(C, H, L, V, block, s, budget) -> int:
    """How many generations ``Trainer.sample`` draws at once: as many as fit ``budget`` bytes of activations
    at the full context (at least one)."""
    return max(1, budget // max(1, _forward_bytes(C, H, L, V, block, 1, block, s)))


def memory_breakdown(config, corpus, *, corpus_in_memory: bool = False) -> dict[str, int]:
    """Bytes one run of ``config`` (a TrainConfig) on ``corpus`` (a data.CorpusInfo, or a Corpus) will take,
    by part. ``corpus_in_memory``: the corpus is already loaded in this process (a Trainer given a Corpus),
    so only what the run adds to it counts."""
    from adamlab.core import train  # (train imports this module)

    info = getattr(corpus, "info", corpus)
    s = np.dtype(config.dtype).itemsize
    C, H, L, block, B = config.n_embd, config.n_head, config.n_layer, config.block_size, config.batch_size
    V = info.vocab_size
    T = max(1, min(block, info.longest))  # the longest batch this corpus can make
    P = 2 * V * C + block * C + 12 * L * C * C  # wte, lm_head, wpe, per layer 3C² + C² + 4C² + 4C²
    parts = {}
    kind_hyper = tuple(sorted(config.optimizer_hyperparameters().items()))
    # (the float64 draws of the initial weights are gone before the other buffers exist: not part of the peak)
    parts["parameters"] = 6 * P * s
    parts["optimizer state"] = optimizer_arrays(config.optimizer, kind_hyper) * P * s

    # training and validation share the workspace: each buffer as big as the bigger of the two batches
    n_val_all = round(info.docs * config.val_fraction) if config.val_fraction > 0 else 0
    n_val = min(config.val_docs, n_val_all)
    tokens = max(block, train.EVAL_BATCH_BYTES // (4 * C * s))
    if config.full_batch:  # one fixed batch of the first full_batch training documents, kept
        B = max(1, min(config.full_batch, info.docs - n_val_all))
        parts["full batch"] = 24 * B * T
    work = _plan_elements(C, H, L, V, block, B, T, backward=True)
    if n_val:
        Ne = min(tokens, n_val * T)  # validation batches hold at most `tokens` positions
        Te = T
        Be = max(1, Ne // Te)
        for name, n in _plan_elements(C, H, L, V, block, Be, Te, backward=False).items():
            work[name] = max(work.get(name, 0), n)
    N = B * T
    # the step's transients: ReLU's mask (N, 4C) and NumPy's casting buffers around it (measured: ~N·4C·s
    # above the workspace at the peak of a step), per-position vectors, the batch, the cached index ranges
    transients = N * 4 * C * s + N * (64 + 24 + 8)
    parts["activations"] = s * sum(work.values()) + transients + s * block * block  # + the causal mask
    parts["validation batches"] = 24 * n_val * T
    per_sample = _forward_bytes(C, H, L, V, block, 1, block, s)
    parts["sampling"] = sample_batch(C, H, L, V, block, s, train.SAMPLE_BATCH_BYTES) * per_sample

    if config.snapshot_every:  # weight snapshots for trajectory PCA, bounded by landscape
        from adamlab.core import landscape

        parts["snapshots"] = min(landscape.SNAPSHOT_CAPACITY, max(2, landscape.SNAPSHOT_BYTES // (P * s))) * P * s
    channels = 3 + 2 * (3 + 6 * L)  # loss, lr, grad norm; g and u of every tensor
    cap = config.history_capacity
    parts["history"] = 8 * cap * (2 + 3 * channels) + 8 * max(16, cap // 4) * 5

    tokens_all = min(info.chars + 2 * info.docs, info.docs * (block + 2))  # lines are encoded up to block_size
    corpus_bytes = info.docs * SPLIT_BYTES
    if config.init == "microgpt":  # a shuffled copy of the document list, encoded again
        corpus_bytes += info.docs * (8 + 112) + 8 * tokens_all + info.chars * info.char_bytes
    if not corpus_in_memory:  # the documents' strings and arrays; the file's text and the tokenizer's joined
        # copy of the documents while they are built
        corpus_bytes += info.docs * DOC_BYTES + 3 * info.chars * info.char_bytes + 8 * tokens_all
    parts["corpus"] = corpus_bytes
    return parts


def estimate_memory(config, corpus, *, corpus_in_memory: bool = False) -> int:
    """Bytes one run will take (the sum of ``memory_breakdown``)."""
    return sum(memory_breakdown(config, corpus, corpus_in_memory=corpus_in_memory).values())


def format_bytes(n: float) -> str:
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def _culprit(config, part: str, info) -> str:
    """The settings that make ``part`` big, as they are named in a TrainConfig."""
    c = config
    if part in ("activations", "validation batches"):
        return f"batch_size {c.batch_size} × block_size {c.block_size}, n_embd {c.n_embd}, n_layer {c.n_layer}"
    if part == "sampling":
        return f"block_size {c.block_size}, n_embd {c.n_embd}, n_layer {c.n_layer}"
    if part in ("parameters", "optimizer state"):
        return f"n_embd {c.n_embd}, n_layer {c.n_layer}, block_size {c.block_size}, vocabulary {info.vocab_size}"
    if part == "history":
        return f"history_capacity {c.history_capacity}"
    return f"{info.docs:,} documents of {info.chars:,} characters (corpus_mode {c.corpus_mode}, " \
           f"block_size {c.block_size})"


def check_fits(config, corpus, *, corpus_in_memory: bool = False, runs: int = 1, extra: int = 0,
               available: int | None = None) -> int:
    """The estimate for ``runs`` runs side by side (e.g. 3 for the monitor's Compare, each a process with its
    own copy of everything) plus ``extra`` bytes (e.g. a checkpoint's arrays while they are read), or
    ValueError with one line: the need, its biggest part and the settings behind it, and what is available.
    ``available``: bytes (default: ``available_memory()``; unknown → no check)."""
    parts = memory_breakdown(config, corpus, corpus_in_memory=corpus_in_memory)
    need = runs * sum(parts.values()) + extra
    if available is None:
        available = available_memory()
    if available is None or need <= available:
        return need
    part = max(parts, key=parts.get)
    info = getattr(corpus, "info", corpus)
    runs_text = f"{runs} runs need" if runs > 1 else "this run needs"
    raise ValueError(f"not enough memory: {runs_text} about {format_bytes(need)} ({part} "
                     f"{format_bytes(runs * parts[part])}: {_culprit(config, part, info)}) but "
                     f"{format_bytes(available)} is available; make those settings smaller")
