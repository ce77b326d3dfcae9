"""What File ▸ Record… films in the GPT monitor (protocol: :mod:`adamlab.ui.record.animation`): a new run from
the set-up, trained while it is filmed. The run starts paused and is single-stepped between frames, so frame
i shows step round(i·S/(n−1)) of S whatever the machine's speed: the film is the same on a laptop and in CI.
The run stays in the list afterwards, paused where the film ended (at its last step: finished)."""

from __future__ import annotations

from functools import partial

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


def animations(panel) -> dict[str, Animation]:
    return {"train": train(panel)}
