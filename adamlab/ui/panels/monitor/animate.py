"""What File ▸ Record… films in the GPT monitor (protocol: :mod:`adamlab.ui.record.animation`).

* ``train``: a new run from the set-up, trained while it is filmed. The run starts paused and is single-stepped
  between frames, so frame i shows step round(i·S/(n−1)) of S whatever the machine's speed: the film is the
  same on a laptop and in CI. The run stays in the list afterwards, paused where the film ended.
* ``replay``: the selected run — finished, stopped, loaded from a checkpoint or a followed PyTorch folder that
  has ended — drawn again from its first step to its last on fixed axes, from what it recorded (no training:
  a 5,000-step run films in seconds). Everything comes back as it was afterwards."""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np

from adamlab.ui.record.animation import Animation, ramp


OVER = ("finished", "diverged")


def reached(run, target: int, panel) -> bool:
    """The run is at the target step (or ended sooner: diverged), and it is drawn there everywhere: the curves,
    the progress bar and the status line (which otherwise refresh twice a second and could still say an
    earlier step in the film's last frame)."""
    if run.snap is None or not (run.snap.step >= target or run.snap.status in OVER):
        return False
    panel.draw_now()
    return True


def train(panel) -> Animation:
    def frames(n):
        config = panel.setup.config()
        run = None
        issued = 0  # steps asked of the run so far
        for target in ramp(n, 0, config["steps"]):
            target = int(round(target))

            def frame(target=target):
                nonlocal run, issued
                if run is None:
                    run = panel.start_run(config, paused=True)
                    if run is None:
                        raise RuntimeError("the run could not start (see the panel's message)")
                for _ in range(target - issued):
                    run.handle.worker.step_once()
                issued = max(issued, target)
                return partial(reached, run, target, panel)

            yield frame

    return Animation("Train a new run", frames,
                     "A run from the set-up on the left, stepped between frames from step 0 to its last step")


def cut(snap, step: int, version: int):
    """``snap`` as it was at ``step``: every series up to that step (the heatmaps' columns, validation points,
    knob changes, samples too), the table's g and u from the last kept heatmap column (w is not kept over time:
    shown as unknown until the last frame)."""
    if step >= snap.step:
        return dataclasses.replace(snap, version=version)
    keep, val, cols = snap.steps <= step, snap.val_steps <= step, snap.map_steps <= step
    g = u = np.full(len(snap.names), np.nan)
    if cols.any():
        k = int(np.nonzero(cols)[0][-1])
        g, u = 10.0 ** snap.log_g[:, k], 10.0 ** snap.log_u[:, k]
    diverged = snap.diverged_step is not None and snap.diverged_step <= step
    return dataclasses.replace(
        snap, version=version, step=step, status="training", message=f"replay: step {step:,} of {snap.step:,}",
        rate=0.0, steps=snap.steps[keep], tokens=snap.tokens[keep], loss=snap.loss[keep], lr=snap.lr[keep],
        val_steps=snap.val_steps[val], val_tokens=snap.val_tokens[val], val_loss=snap.val_loss[val],
        g=g, u=u, w=np.full(len(snap.names), np.nan), map_steps=snap.map_steps[cols],
        log_u=snap.log_u[:, cols], log_g=snap.log_g[:, cols], events=[e for e in snap.events if e[0] <= step],
        diverged_step=snap.diverged_step if diverged else None,
        diverged_tokens=snap.diverged_tokens if diverged else None,
        samples=[s for s in snap.samples if s[1] <= step],
        sharpness=None if snap.sharpness is None else {
            k: (np.asarray(v)[np.asarray(snap.sharpness["step"]) <= step] if np.ndim(v) else v)
            for k, v in snap.sharpness.items()})


def replay(panel) -> Animation:
    def frames(n):
        run = panel.active_run()
        if run is None or run.snap is None or run.state in ("running", "starting"):
            raise RuntimeError("select a run that is not training (finished, stopped, paused or loaded) to "
                               "replay it")
        full, plot = run.snap, panel.curves.getPlotItem()
        panel.draw_now()
        plot.vb.updateAutoRange()  # the view fitted to the whole run now, not at its next paint
        (x0, x1), (y0, y1) = plot.vb.viewRange()
        panel.curves.clear_markers(run)
        try:
            plot.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)  # the whole run's axes, held
            plot.vb.disableAutoRange()
            for i, target in enumerate(ramp(n, 0, full.step)):
                def frame(target=int(round(target)), i=i):
                    run.snap = cut(full, target, -(i + 2))  # a version never drawn (-1: "not drawn")
                    panel.draw_now()

                yield frame
        finally:
            run.snap = full
            run.drawn_version = -1
            panel.curves.clear_markers(run)
            plot.vb.enableAutoRange()
            panel.draw_now()

    return Animation("Replay the selected run", frames,
                     "The selected run's curves, table, maps and samples drawn again from step 0 to its last "
                     "step, from what it recorded (no training)")


def animations(panel) -> dict[str, Animation]:
    return {"train": train(panel), "replay": replay(panel)}
