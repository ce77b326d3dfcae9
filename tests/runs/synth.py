"""Synthetic run folders written with the real RunWriter (no torch), and the numbers written into them."""

from __future__ import annotations

import numpy as np

from adamlab.runs.writer import RunWriter, make_meta

SHAPES = {"wte": (27, 8), "h.0.attn": (8, 24), "h.0.mlp": (8, 32), "bias": (8,)}


def make_run(path, steps: int = 10, bins: int = 8, hist_every: int = 2, samples_every: int = 5,
             close: bool = True, seed: int = 0, tensors: dict | None = None, config: dict | None = None) -> dict:
    """A run of ``steps`` logged steps (every=1) with random g/w/u, a histogram every ``hist_every`` steps,
    loss at every step, val_loss every 3rd, samples every ``samples_every``. Returns what was written."""
    tensors = tensors or SHAPES
    rng = np.random.default_rng(seed)
    names = list(tensors)
    meta = make_meta([{"name": n, "shape": s, "group": i % 2} for i, (n, s) in enumerate(tensors.items())],
                     [{"lr": 0.01}, {"lr": 0.02}], every=1, hist_every=hist_every, bins=bins, adam="adam",
                     note="synthetic", model={"class": "Synth"}, optimizer={"class": "Adam"},
                     config=config or {})
    w = RunWriter(path, meta)
    T, numel = len(names), np.array([int(np.prod(s)) for s in tensors.values()])
    out = {"names": names, "numel": numel, "steps": [], "g": [], "w": [], "u": [], "lr": [], "loss": [],
           "val_loss": [], "hist_steps": [], "snr": [], "log_lr": [], "samples": []}
    for step in range(steps):
        row = np.zeros(1, w.layout.stats)
        g, ww, u = rng.random((3, T)).astype(np.float32)
        lr = np.array([0.01, 0.02]) * (1 - step / (2 * steps))
        row[0]["step"], row[0]["time"], row[0]["lr"] = step, 1e9 + step, lr
        row[0]["g"], row[0]["w"], row[0]["u"] = g, ww, u
        w.stats(row)
        out["steps"].append(step), out["g"].append(g), out["w"].append(ww), out["u"].append(u)
        out["lr"].append(lr)
        if hist_every and step % hist_every == 0:
            hrow = np.zeros(1, w.layout.hist)
            snr = np.stack([rng.multinomial(n, np.ones(bins + 2) / (bins + 2)) for n in numel])
            log_lr = np.stack([rng.multinomial(n, np.ones(bins + 2) / (bins + 2)) for n in numel])
            hrow[0]["step"], hrow[0]["present"] = step, 1
            hrow[0]["snr"], hrow[0]["log_lr"] = snr, log_lr
            w.hist(hrow)
            out["hist_steps"].append(step), out["snr"].append(snr), out["log_lr"].append(log_lr)
        loss = float(3 - step / steps)
        values = {"loss": loss}
        out["loss"].append(loss)
        if step % 3 == 0:
            values["val_loss"] = loss + 0.1
            out["val_loss"].append((step, loss + 0.1))
        w.scalars(step, values)
        if samples_every and step % samples_every == 0:
            texts = [f"name{step}", "émile"]
            w.samples(step, texts)
            out["samples"].append((step, texts))
    if close:
        w.close(steps=steps)
    out["writer"] = w
    for k in ("g", "w", "u", "lr", "snr", "log_lr"):
        out[k] = np.array(out[k])
    return out


def write_slowly(path, steps: int, delay: float, hold: float = 0.0) -> None:
    """A run written the way a training script writes it: one logged step every ``delay`` seconds (the monitor
    test follows it from another process), then ``hold`` seconds open, then closed."""
    import time

    names = list(SHAPES)
    meta = make_meta([{"name": n, "shape": s, "group": 0} for n, s in SHAPES.items()], [{"lr": 0.01}], every=1,
                     hist_every=1, bins=8, adam="adam", note="synthetic", model={"class": "Synth"},
                     optimizer={"class": "Adam"})
    w = RunWriter(path, meta)
    numel = np.array([int(np.prod(s)) for s in SHAPES.values()])
    for step in range(steps):
        row = np.zeros(1, w.layout.stats)
        row[0]["step"], row[0]["time"], row[0]["lr"] = step, time.time(), [0.01]
        row[0]["g"] = np.full(len(names), 1e-3 * (step + 1), np.float32)
        row[0]["w"] = np.full(len(names), 0.5, np.float32)
        row[0]["u"] = np.array([10.0 ** -(i + 1) for i in range(len(names))], np.float32) * (step + 1)
        w.stats(row)
        hrow = np.zeros(1, w.layout.hist)
        hrow[0]["step"], hrow[0]["present"] = step, 1
        hrow[0]["snr"] = np.stack([np.bincount(np.arange(n) % 10, minlength=10) for n in numel])
        hrow[0]["log_lr"] = hrow[0]["snr"]
        w.hist(hrow)
        w.scalars(step, {"loss": 3.0 - 0.01 * step, "tokens": 64.0 * (step + 1)})
        time.sleep(delay)
    time.sleep(hold)
    w.close(steps=steps)


if __name__ == "__main__":
    import sys

    write_slowly(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
