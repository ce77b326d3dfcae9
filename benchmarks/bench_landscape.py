"""How fast (and how accurate) is the landscape? A 41 × 41 loss slice, a sharpness, the edge of stability.

    python benchmarks/bench_landscape.py              # slice and sharpness timings at microgpt size
    python benchmarks/bench_landscape.py --accuracy   # H·v and eigenvalues against PyTorch's exact Hessian
    python benchmarks/bench_landscape.py --eos        # the two edge-of-stability presets, measured

The slice is the issue's target: 41 × 41 points at microgpt size (GPTConfig defaults, vocabulary 27) on a batch
of 256 names in at most 5 s on the 2-core reference machine. It is timed as a user calls it
(``landscape.loss_slice``) in float64 and float32, in turns with the plain way — one ``gpt.loss`` call per
point — so that the ratio is steady while the machine's speed drifts. Figures are medians of several runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adamlab.core import data, gpt, landscape, train  # noqa: E402


def names_batch(docs=256):
    corpus = data.load_corpus("names")
    seqs, _ = data.split_docs(corpus.seqs, 0.1, seed=0)
    cfg = gpt.GPTConfig(corpus.tokenizer.vocab_size)
    return cfg, data.make_batch(seqs[:docs], cfg.block_size, corpus.tokenizer.bos)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed_both(fn):
    """(wall-clock seconds, CPU seconds of this process): on a machine shared with other work the CPU time is
    what the call would take on a core of its own."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def bench_slice(repeats: int):
    cfg, (x, y, mask) = names_batch()
    params = gpt.init_params(cfg, seed=0)
    d1, d2 = landscape.random_plane(params, seed=0)
    axis = np.linspace(-1, 1, 41)
    tokens = int(mask.sum())
    print(f"41 × 41 slice, microgpt size ({gpt.num_params(cfg):,} parameters), 256 names ({tokens} tokens, "
          f"padded to {x.size}), {os.cpu_count()} cores; medians of {repeats} runs taken in turns")

    def plain():  # one gpt.loss per point, on the padded batch as it comes
        with gpt.blas_threads(1):
            for a in axis[:4]:  # 4 of the 41 rows, scaled up: the plain way takes ~10× longer
                for b in axis:
                    gpt.loss({k: params[k] + a * d1[k] + b * d2[k] for k in params}, cfg, x, y, mask)

    runs = {"float64": [], "float32": [], "plain": []}
    cpu = {"float64": [], "float32": [], "plain": []}
    fns = {"float64": lambda: landscape.loss_slice(params, cfg, x, y, d1, d2, axis, axis, mask),
           "float32": lambda: landscape.loss_slice(params, cfg, x, y, d1, d2, axis, axis, mask, dtype="float32"),
           "plain": plain}
    fns["float32"]()  # warm up
    for i in range(repeats):
        for name in (list(fns) if i % 2 == 0 else list(fns)[::-1]):
            t, c = timed_both(fns[name])
            scale = 41 / 4 if name == "plain" else 1
            runs[name].append(t * scale)
            cpu[name].append(c * scale)
    med = {k: statistics.median(v) for k, v in runs.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"  loss_slice float64   {med['float64']:.2f} s  (runs {min(runs['float64']):.2f}–{max(runs['float64']):.2f}; "
          f"CPU {mcpu['float64']:.2f} s)   target <= 5 s")
    print(f"  loss_slice float32   {med['float32']:.2f} s  (runs {min(runs['float32']):.2f}–{max(runs['float32']):.2f}; "
          f"CPU {mcpu['float32']:.2f} s)")
    print(f"  one gpt.loss a point {med['plain']:.2f} s  (scaled from 4 rows; CPU {mcpu['plain']:.2f} s): stacked "
          f"float64 is {statistics.median([p / f for p, f in zip(runs['plain'], runs['float64'])]):.1f}× faster")
    print(f"  load average during the runs: {os.getloadavg()[0]:.1f} (2 cores: above ~1 other work shares them)")
    per_row = med["float64"] / 41
    print(f"  per row of 41 points (iter_loss_slice's progress step): {1e3 * per_row:.0f} ms float64, "
          f"{1e3 * med['float32'] / 41:.0f} ms float32")


def bench_sharpness(repeats: int):
    cfg, (x, y, mask) = names_batch()
    trainer = train.Trainer(train.TrainConfig(steps=1000, val_every=0))
    trainer.run()
    params = trainer.params
    op = landscape.gpt_hessian(params, cfg, x, y, mask)
    v = np.random.default_rng(0).standard_normal(op.size)
    op(v)
    hvp = statistics.median([timed(lambda: op(v)) for _ in range(repeats * 3)])
    grad = statistics.median([timed(lambda: op.grad(op.theta)) for _ in range(repeats * 3)])
    times, values, products = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        e = landscape.hessian_eigs(params, cfg, x, y, mask)
        times.append(time.perf_counter() - t0)
        values.append(e.values[0])
        products.append(e.products)
    P = landscape.adam_preconditioner(trainer.optimizer, params)
    tp = statistics.median([timed(lambda: landscape.sharpness(params, cfg, x, y, mask, precond=P))
                            for _ in range(repeats)])
    print(f"sharpness after 1000 Adam steps, 256 names: gradient {1e3 * grad:.1f} ms, H·v {1e3 * hvp:.1f} ms; "
          f"λ_max = {values[0]:.4f} in {statistics.median(times):.2f} s ({products[0]} products); "
          f"λ_max(P⁻¹H) in {tp:.2f} s")


def bench_accuracy():
    try:
        import torch
    except ImportError:
        print("--accuracy needs PyTorch (pip install torch==2.13.0)")
        return
    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "core"))
    from test_landscape import torch_loss

    cfg, (x, y, mask) = names_batch()
    trainer = train.Trainer(train.TrainConfig(steps=1000, val_every=0))
    trainer.run()
    for label, params in (("init", gpt.init_params(cfg, seed=0)), ("1000 Adam steps", trainer.params)):
        theta = landscape.as_vector(params, cfg)
        f = torch_loss(cfg, x, y, mask)
        t = torch.tensor(theta, requires_grad=True)
        (g,) = torch.autograd.grad(f(t), t, create_graph=True)

        def exact(vec):
            (hv,) = torch.autograd.grad(g @ torch.as_tensor(vec), t, retain_graph=True)
            return hv.numpy()

        v = np.random.default_rng(0).standard_normal(theta.size)
        v /= np.linalg.norm(v)
        ex = exact(v)
        errs = []
        for h in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
            op = landscape.HessianOperator(landscape._Gradient(cfg, x, y, mask), theta, step=h)
            errs.append(f"h={h:g}: {np.linalg.norm(op.hessian_vector(v) - ex) / np.linalg.norm(ex):.1e}"
                        + (f" ({op.retries} retried)" if op.retries else ""))
        ref = landscape.lanczos(exact, theta.size, k=3, iters=80, tol=1e-12)
        op = landscape.gpt_hessian(params, cfg, x, y, mask)
        fd = landscape.lanczos(op, theta.size, k=3, iters=80, tol=1e-12)
        dflt = landscape.sharpness(params, cfg, x, y, mask)
        print(f"{label}: ‖Hv_fd − Hv‖/‖Hv‖ " + ", ".join(errs))
        print(f"  top-3 eigenvalues, Lanczos on exact products {np.array2string(ref.values, precision=6)}, on FD "
              f"products (h = {landscape.FD_STEP:g}) relative error "
              f"{np.array2string(np.abs(fd.values - ref.values) / ref.values[0], precision=1)}, "
              f"{op.retries} products retried past a ReLU kink; default sharpness() {dflt:.6f} "
              f"(rel {abs(dflt - ref.values[0]) / ref.values[0]:.1e})")


def bench_eos():
    for preset in (landscape.EDGE_OF_STABILITY_PRESET, landscape.ADAPTIVE_EDGE_OF_STABILITY_PRESET):
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        trainer, tracker = landscape.run_preset(preset)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        a = tracker.arrays()
        curve = a[preset["curve"]]
        ratio = curve / a["threshold"]
        reach = int(a["step"][np.argmax(ratio >= 0.9)]) if np.any(ratio >= 0.9) else None
        late = ratio[a["step"] >= (reach or 0) + 100]
        print(f"{preset['name']}: {trainer.config.steps} steps in {wall:.0f} s ({cpu:.0f} s CPU), "
              f"{len(a['step'])} measurements ({a['seconds'].sum():.0f} s of it)")
        print(f"  {preset['curve']} / threshold: {ratio[0]:.3f} at step 0, reaches 0.9 at step {reach}; from "
              f"100 steps later on: median {np.median(late):.3f}, 10–90 % {np.percentile(late, 10):.3f}–"
              f"{np.percentile(late, 90):.3f}, max {late.max():.3f}")
        print(f"  loss {a['loss'][0]:.3f} → {a['loss'][-1]:.3f}; λ_max(H) {a['sharpness'][0]:.2f} → "
              f"{a['sharpness'][-1]:.2f}")
        print("  " + " ".join(f"{s}:{r:.2f}" for s, r in zip(a["step"][::5], ratio[::5])))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--accuracy", action="store_true")
    p.add_argument("--eos", action="store_true")
    args = p.parse_args()
    if args.accuracy:
        bench_accuracy()
    elif args.eos:
        bench_eos()
    else:
        bench_slice(args.repeats)
        bench_sharpness(args.repeats)


if __name__ == "__main__":
    main()
