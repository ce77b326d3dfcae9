"""``adamlab landscape RUN.npz``: a 2-D slice of a saved run's loss, written headless as a PNG and an .npz.

    adamlab landscape run.npz                                  # random filter-normalised plane, 41 × 41, ±1
    adamlab landscape run.npz --directions pca --log           # the trajectory's plane (needs --snapshot-every)
    adamlab landscape run.npz --span 0.5 --resolution 81 --batch 512 --data val --seed 3 --out slice

Writes PREFIX.png (a filled contour map in the arena's colours; with PCA directions the run's path, its start
as a square and θ_end as a dot) and PREFIX.npz (alphas, betas, Z with Z[i, j] = L(θ + alphas[i]·d1 +
betas[j]·d2), and what the plane is). Exit status 0, or 2 with one line on bad input. No Qt is imported.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

PROG = "adamlab landscape"
PATH_COLOR = "#D55E00"  # the arena's first path colour family (vermillion): visible on the pale map
START_COLOR = "#0072B2"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def _int_in(low, high):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer in [{low}, {high}], got {text}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in [{low}, {high}], got {text}")
        return value

    return parse


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Slice a saved run's loss on a plane through its weights and write it as "
                "a PNG image and an .npz array file (no window).")
    p.add_argument("run", metavar="RUN.npz", help="a checkpoint written by 'adamlab train --save' or the monitor")
    p.add_argument("--directions", choices=["random", "pca"], default="random",
                   help="random: two filter-normalised Gaussian directions (Li et al. 2018) around the final weights; "
                        "pca: the top two principal directions of the run's trajectory (needs a run trained with "
                        "--snapshot-every)")
    p.add_argument("--span", type=_positive_float,
                   help="half-width of the grid (default: 1 for random, 1.25 × the path's extent for pca)")
    p.add_argument("--resolution", type=_int_in(2, 401), default=41, help="grid points per side (default 41)")
    p.add_argument("--batch", type=_int_in(1, 100_000),
                   help="documents in the fixed batch the loss is measured on (default: the run's own batch if it "
                        "trained full-batch, else 256)")
    p.add_argument("--data", choices=["train", "val"], default="train",
                   help="measure on the first --batch training (default) or validation documents")
    p.add_argument("--seed", type=_int_in(0, 2**63 - 1), default=0, help="seed of the random directions (default 0)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="compute dtype of the slice (default float32: twice as fast, ~1e-6 relative)")
    p.add_argument("--log", action="store_true", help="log colour scale (for valley-shaped slices)")
    p.add_argument("--out", metavar="PREFIX",
                   help="write PREFIX.png and PREFIX.npz (default: next to RUN, RUN_landscape)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def landscape_command(argv, out=None, err=None) -> int:
    from adamlab.core import files, gpt, image, landscape, train

    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    run = Path(args.run)
    prefix = Path(args.out) if args.out else run.with_name(run.stem + "_landscape")
    png_path, npz_path = prefix.with_name(prefix.name + ".png"), prefix.with_name(prefix.name + ".npz")
    for path in (png_path, npz_path):  # before the work: a path that cannot be written is found out now
        files.check_target(path, "--out")
    trainer = train.load_checkpoint(run)
    cfg = trainer.model_config
    x, y, mask = landscape.fixed_batch(trainer, args.batch, args.data)
    plane = landscape.run_plane(trainer, args.directions, args.seed, args.span, args.resolution)
    docs = x.shape[0]
    print(f"{run}: step {trainer.step_count}, {trainer.config.optimizer}, {gpt.num_params(cfg):,} parameters; "
          f"{args.directions} plane, {args.resolution} × {args.resolution} points over ±{plane.alphas[-1]:.4g}, "
          f"{docs} {args.data} documents ({int(mask.sum())} tokens)", file=out)
    if plane.explained is not None:
        print(f"PCA over {len(plane.path)} weight vectors: the two directions explain "
              f"{100 * plane.explained[0]:.1f} % and {100 * plane.explained[1]:.1f} % of the variance", file=out)
    out.flush()
    t0 = time.perf_counter()
    Z = np.empty((len(plane.alphas), len(plane.betas)))
    rows = landscape.iter_loss_slice(plane.origin, cfg, x, y, plane.d1, plane.d2, plane.alphas, plane.betas, mask,
                                     args.dtype)
    for i, row in rows:
        Z[i] = row
        if not args.quiet and err.isatty():
            err.write(f"\r{i + 1}/{len(plane.alphas)} rows")
            err.flush()
    if not args.quiet and err.isatty():
        err.write("\n")
    seconds = time.perf_counter() - t0
    centre = Z[len(plane.alphas) // 2, len(plane.betas) // 2] if len(plane.alphas) % 2 else math.nan
    finite = Z[np.isfinite(Z)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)
    print(f"loss: {lo:.4f} … {hi:.4f}" + (f", {centre:.4f} at the centre" if math.isfinite(centre) else "")
          + f" ({Z.size:,} points in {seconds:.2f} s)", file=out)

    # Z[i, j] is at (alphas[i], betas[j]): the image's x axis is α, its y axis β, so it draws Zᵀ (rows = β)
    extent = (plane.alphas[0], plane.alphas[-1], plane.betas[0], plane.betas[-1])
    paths, points = [], [((0.0, 0.0), "#000000")]
    if plane.path is not None:
        paths.append((plane.path, PATH_COLOR))
        points = [(plane.path[0], START_COLOR), (plane.path[-1], PATH_COLOR)]
    rgb = image.render_map(Z.T, log=args.log, extent=extent, paths=paths, points=points)
    png = image.write_png(png_path, rgb, "--out")
    meta = {"run": str(run), "step": trainer.step_count, "directions": args.directions, "seed": args.seed,
            "data": args.data, "documents": docs, "dtype": args.dtype,
            "loss": "Z[i, j] = L(origin + alphas[i]*d1 + betas[j]*d2)"}
    arrays = {"alphas": plane.alphas, "betas": plane.betas, "Z": Z, "meta": np.array(json.dumps(meta))}
    if plane.path is not None:
        arrays.update(path=plane.path, path_steps=plane.path_steps[0], explained=plane.explained)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    npz = files.write_bytes(npz_path, buf.getvalue(), "--out")
    print(f"wrote {png} and {npz}", file=out)
    return 0


def main(argv) -> int:
    """Run ``adamlab landscape``; returns the exit status (2 with one line on bad input)."""
    try:
        return landscape_command(list(argv))
    except _UsageError as e:
        print(f"{PROG}: error: {e} (see {PROG} --help)", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except ValueError as e:  # CheckpointError, CorpusError, bad values: a message, not a traceback
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""), file=sys.stderr)
        return 2
