"""What File ▸ Record… films in the Adam stepper (protocol: :mod:`adamlab.ui.record.animation`): from a fresh
session (θ = θ₀, t = 0), one more line of the update per frame, or one whole step per frame."""

from __future__ import annotations

from adamlab.ui.record.animation import Animation


def walk(panel, by_line: bool) -> Animation:
    def frames(n):
        yield panel.reset
        for _ in range(n - 1):
            yield panel.next_line if by_line else panel.next_step

    if by_line:
        return Animation("Step through the lines", frames, "From a fresh start, one more line of the update a frame",
                         prepare=panel._pause)
    return Animation("Take one step a frame", frames, "From a fresh start, one whole step of both optimizers a frame",
                     prepare=panel._pause)


def animations(panel) -> dict[str, Animation]:
    return {"lines": walk(panel, True), "steps": walk(panel, False)}
