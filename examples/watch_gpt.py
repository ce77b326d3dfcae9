"""Train a small character-level GPT (nanoGPT's model, in plain PyTorch) on names, watched by AdamLab.

    python examples/watch_gpt.py --out runs/names                     # one process (CPU, or --device cuda)
    torchrun --standalone --nproc_per_node 2 examples/watch_gpt.py --out runs/names-ddp   # DDP, 2 CPU processes
    adamlab report runs/names                                         # the per-tensor table, scalars, samples

The two lines that matter are ``adamlab.watch(model, optimizer, args.out, every=args.every)`` and
``watcher.log(step, loss=..., samples=...)``; everything else is an ordinary training loop. The corpus is
AdamLab's built-in names (one name per line) or ``--corpus PATH``, any UTF-8 text. ``--batch-size`` is the
global batch: under DDP every process draws the same global batch from the same generator and trains on
its own rows of it, so a DDP run trains on exactly the batches a single process would, and the watched
figures (written by rank 0) are the same up to rounding.
"""

import argparse
import math
import os
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn import functional as F

import adamlab

# ----------------------------------------------------------------------------------------------------------
# the model: nanoGPT's, without dropout


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # q, k, v for all heads at once
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.c_proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(n_embd), CausalSelfAttention(n_embd, n_head)
        self.ln_2, self.mlp = nn.LayerNorm(n_embd), MLP(n_embd)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: AdamLab lists it once, as wte.weight
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layer))

    @staticmethod
    def _init(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None):
        B, T = idx.shape  # (B, T) token ids
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))  # (B, T, C)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, generator=None):
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.block_size:])
            probs = F.softmax(logits[:, -1, :] / temperature, dim=-1)
            idx = torch.cat((idx, torch.multinomial(probs, 1, generator=generator)), dim=1)
        return idx


def make_optimizer(model, kind, lr, weight_decay, betas):
    """nanoGPT's groups: matrices and embeddings decay, biases and LayerNorm gains do not."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    cls = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "nadam": torch.optim.NAdam,
           "radam": torch.optim.RAdam}[kind]
    return cls(groups, lr=lr, betas=betas)


# ----------------------------------------------------------------------------------------------------------
# data: characters of the corpus, random windows of block_size + 1


def load_text(path):
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read()
    from adamlab.core.data import load_corpus

    return "\n".join(load_corpus("names").docs) + "\n"


def get_batch(data, batch_size, block_size, generator):
    ix = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)
    x = torch.stack([data[i:i + block_size] for i in ix.tolist()])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix.tolist()])
    return x, y  # (B, T) each


def lr_at(step, args):
    """Linear warmup, then cosine decay to lr/10 (nanoGPT's schedule)."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr / 10 + 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))) * (args.lr - args.lr / 10)


@torch.no_grad()
def val_loss(model, data, args, device, batches=8):
    model.eval()
    g = torch.Generator().manual_seed(1234)  # the same validation batches every time
    losses = [model(*(t.to(device) for t in get_batch(data, args.batch_size, args.block_size, g)))[1].item()
              for _ in range(batches)]
    model.train()
    return sum(losses) / len(losses)


def samples(model, stoi, itos, device, n=8, temperature=0.8, seed=0):
    """n names (or lines) generated from a newline, each cut at the next newline."""
    model.eval()
    g = torch.Generator(device=device).manual_seed(seed)
    start = torch.full((n, 1), stoi.get("\n", 0), dtype=torch.long, device=device)
    out = model.generate(start, 24, temperature, g)[:, 1:].tolist()
    model.train()
    return ["".join(itos[i] for i in row).split("\n")[0] for row in out]


# ----------------------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="A character-level GPT on names, watched by AdamLab.")
    p.add_argument("--out", default="runs/names", help="the run folder to write (default runs/names)")
    p.add_argument("--corpus", help="a UTF-8 text file (default: AdamLab's built-in names)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--every", type=int, default=10, help="AdamLab's logging interval in optimizer steps")
    p.add_argument("--hist-every", type=int, default=None, help="Adam histograms every N steps (default ~100)")
    p.add_argument("--batch-size", type=int, default=32, help="the global batch (split across DDP processes)")
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--optimizer", choices=["adamw", "adam", "nadam", "radam", "sgd"], default="adamw")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.95)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--grad-clip", type=float, default=1.0, help="0 = no clipping")
    p.add_argument("--eval-every", type=int, default=100, help="validation loss and samples every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--resume", action="store_true", help="append to an existing run folder")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = 0
    device = torch.device(args.device)
    if world > 1:  # started by torchrun
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(device)
    if args.batch_size % world:
        raise SystemExit(f"--batch-size {args.batch_size} must be divisible by the {world} processes")

    text = load_text(args.corpus)
    chars = sorted(set(text))
    stoi, itos = {c: i for i, c in enumerate(chars)}, dict(enumerate(chars))
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train_data, val_data = data[:n], data[n:]

    torch.manual_seed(args.seed)  # the same initial weights on every process (DDP also broadcasts rank 0's)
    raw = GPT(len(chars), args.block_size, args.n_layer, args.n_head, args.n_embd).to(device)
    model = nn.parallel.DistributedDataParallel(raw) if world > 1 else raw
    opt = make_optimizer(raw, args.optimizer, args.lr, args.weight_decay, (args.beta1, args.beta2))
    watcher = adamlab.watch(model, opt, args.out, every=args.every, hist_every=args.hist_every,
                            resume=args.resume, config={**vars(args), "vocab_size": len(chars)})
    if rank == 0:
        print(f"{sum(p.numel() for p in raw.parameters()):,} parameters, vocabulary {len(chars)}, "
              f"{len(train_data):,} training characters; {world} process(es); writing {args.out}")

    g = torch.Generator().manual_seed(args.seed + 1)  # the same on every process: the same global batch
    share = args.batch_size // world
    t0 = time.perf_counter()
    for step in range(args.steps):
        lr = lr_at(step, args)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, args.batch_size, args.block_size, g)
        x, y = x[rank * share:(rank + 1) * share].to(device), y[rank * share:(rank + 1) * share].to(device)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # (DDP averages the processes' gradients here)
        grad_norm = torch.nn.utils.clip_grad_norm_(raw.parameters(), args.grad_clip or math.inf)
        opt.step()

        loss = loss.detach()
        if world > 1:  # the global batch's loss: the mean of the processes' means
            dist.all_reduce(loss)
            loss = loss / world
        scalars = {"loss": loss.item(), "grad_norm": grad_norm.item(), "lr": lr,
                   "tokens": (step + 1) * args.batch_size * args.block_size}
        texts = None
        if rank == 0 and (step % args.eval_every == 0 or step == args.steps - 1):
            scalars["val_loss"] = val_loss(raw, val_data, args, device)
            texts = samples(raw, stoi, itos, device, seed=step)
            print(f"step {step:5d} | loss {scalars['loss']:.4f} | val {scalars['val_loss']:.4f} | lr {lr:.2e} | "
                  f"{(time.perf_counter() - t0) / (step + 1) * 1000:.0f} ms/step | {', '.join(texts[:4])}")
        watcher.log(step, **scalars, samples=texts)
    watcher.close()
    if world > 1:
        # every process waits for the others before tearing down: a rank that destroyed its gloo group while
        # rank 0 was still writing its last validation and samples aborted at exit about one run in eight
        # ("terminate called without an active exception", SIGABRT, torch 2.13 CPU)
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
