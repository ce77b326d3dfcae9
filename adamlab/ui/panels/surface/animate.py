"""What File ▸ Record… films in the arena (see :mod:`adamlab.ui.record.animation` for the protocol).

* the race replayed from step 0: frame i draws the race up to step round(i·T/(n−1)) of the result already on
  screen (the arena computes whole trajectories; the animation only chooses how much to draw);
* a start-point drag: θ₀ goes once round a circle about the current start (a tenth of the view across) and
  every frame is the whole race from there; the start is put back afterwards.
"""

from __future__ import annotations

import math

from adamlab.ui.record.animation import Animation, ramp


def race(panel):
    def frames(n):
        T = panel.controls.steps()
        try:
            for t in ramp(n, 0, T):
                yield lambda t=int(round(t)): panel.show_step(t)
        finally:
            panel.show_step(T)  # the finished race, as after Play

    return Animation("Race from step 0", frames, "The race on screen, drawn from step 0 to the last step",
                     prepare=lambda: panel._set_playing(False))


def start_drag(panel):
    def frames(n):
        x0, y0 = panel.controls.start
        (xa, xb), (ya, yb) = panel.controls.surface().domain
        rx, ry = (xb - xa) / 10, (yb - ya) / 10
        panel.show_step(panel.controls.steps())  # whole paths in every frame
        try:
            for i in range(n):
                a = 2 * math.pi * i / n  # once round; the last frame is one step short of the first (a loop)
                yield lambda a=a: panel.set_start(x0 + rx * math.sin(a), y0 + ry * (1 - math.cos(a)))
        finally:
            panel.set_start(x0, y0)

    return Animation("Drag the start point", frames,
                     "θ₀ goes once round a small circle from where it is; every frame is the whole race",
                     prepare=lambda: panel._set_playing(False))


def animations(panel) -> dict[str, Animation]:
    return {"race": race(panel), "drag": start_drag(panel)}
