"""The arena's default scene and its one-click scenarios, each telling one of the seeds' stories.

A preset is a partial panel state (see ``SurfacePanel.get_state``): the surface, which optimizers race with
which hyperparameters, steps, and the overlays worth looking at, plus one paragraph of explanation.
The learning rates were chosen by running the core (``trajectory.run_many``) so each race is instructive.
"""

from __future__ import annotations

# kind → its colour's index in theme.CYCLE, so "Adam" is the same blue in every scene
KIND_COLOR = {"adam": 0, "momentum": 1, "rmsprop": 2, "adamw": 3, "amsgrad": 5, "nesterov": 6, "sgd": 7,
              "adagrad": 9}
KINDS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "amsgrad", "adamw"]


def opt(kind: str, enabled: bool = True, name: str | None = None, **values) -> dict:
    """One optimizer entry of a state: editor values (β1/β2 separate), unspecified knobs keep defaults."""
    return {"kind": kind, "name": name, "enabled": enabled, "values": values}


# The default race: every kind in the list, five of them enabled, each at an lr chosen by running the core
# (trajectory.run_many) on Rosenbrock from (−1.2, 1) for 500 steps so the race reads at a glance, without
# wild zig-zags at the start: Adam ends ~0.06 from (1, 1) and AdamW, whose decoupled decay pulls toward the
# origin, ~0.19 short of it; momentum swings once across the valley at the start, recovers and ends ~0.09
# away; RMSprop gets halfway along the valley floor; SGD is still crawling at x ≈ −0.5.
DEFAULT_OPTIMIZERS = [
    opt("sgd", lr=1e-3),
    opt("momentum", lr=1e-3, momentum=0.9),
    opt("nesterov", False, lr=1e-3, momentum=0.9),
    opt("adagrad", False, lr=0.5),
    opt("rmsprop", lr=1e-2),
    opt("adam", lr=0.2),
    opt("amsgrad", False, lr=0.2),
    opt("adamw", lr=0.2, weight_decay=0.005),
]

DEFAULT_STATE = {
    "surface": "rosenbrock",
    "condition": 10.0,
    "angle": 30.0,
    "start": None,  # None: the surface's own start
    "steps": 500,
    "noise": 0.0,
    "seed": 0,
    "schedule": "constant",
    "tol": 0.025,  # "at the minimum" = within 0.1 of it on Rosenbrock's 4-wide view
    "optimizers": DEFAULT_OPTIMIZERS,
    "speed": 5,
    "instant": False,
    "swarm": {"enabled": False, "optimizer": "Adam", "n": 15},
    "overlay": {"target": "Adam", "grad": True, "m_hat": True, "step": True},
    "preset": "race",  # the first view tells the race's story under the scenario picker
}

def _scale_scene(surface: str) -> dict:
    """The two scale presets race identical settings; only the bowl's size differs (that is the lesson)."""
    return {"surface": surface, "steps": 200, "speed": 1,
            "optimizers": [opt("sgd", lr=0.1), opt("adam", lr=0.01)],
            "overlay": {"target": "Adam", "grad": True, "m_hat": False, "step": True}}


PRESETS: dict[str, dict] = {
    "race": {
        "title": "Race on Rosenbrock (default)",
        "text": "Five optimizers from the same start into the curved banana valley. SGD's step is lr × gradient: "
                "huge on the walls, tiny on the valley floor, so it crawls. Momentum overshoots across the "
                "valley, recovers and builds speed along the floor. Adam divides by √v̂ and walks the floor at "
                "about lr per step, to the minimum ★; AdamW's weight decay pulls it toward the origin, a little "
                "short of it.",
        "state": {},
    },
    "zigzag": {
        "title": "Zig-zag in an ill-conditioned bowl",
        "text": "A bowl 50× steeper across than along (κ = 50). SGD at a large lr bounces from wall to wall while "
                "it creeps along the valley; momentum averages the bounces away; Adam rescales each axis. "
                "Set the angle to 0° and Adam goes straight in: its per-axis scaling fixes an axis-aligned "
                "valley but not a rotated one.",
        "state": {"surface": "ill_conditioned", "condition": 50.0, "angle": 30.0, "steps": 100, "speed": 1,
                  "optimizers": [opt("sgd", lr=0.9), opt("momentum", lr=0.05, momentum=0.9),
                                 opt("adam", lr=0.1)],
                  "overlay": {"target": "Adam", "grad": True, "m_hat": True, "step": True}},
    },
    "saddle": {
        "title": "Escaping a saddle",
        "text": "Start almost on the ridge of x² − y². The y-gradient is tiny (2y with y = 0.001), so SGD's "
                "step in y is tiny too and it sits near the saddle for a long time. RMSprop and Adam divide "
                "by the gradient's own size: the tiny y-gradient becomes a full-size step and they roll off "
                "at once.",
        "state": {"surface": "saddle", "steps": 150, "speed": 1,
                  "optimizers": [opt("sgd", lr=0.01), opt("momentum", lr=0.01, momentum=0.9),
                                 opt("rmsprop", lr=0.01), opt("adam", lr=0.02)],
                  "overlay": {"target": "Adam", "grad": True, "m_hat": False, "step": True}},
    },
    "small_scale": {
        "title": "Scale: a tiny bowl (small_scale)",
        "text": "The minimum is only 0.02 away. SGD's step is lr × gradient, and the gradient is tiny here, so "
                "it takes small steps and glides in. Adam steps about lr = 0.01 per coordinate whatever the "
                "gradient's size: half the distance in one step, so it overshoots and rings. Now load the "
                "large-scale preset: same settings, a bowl 10⁴ times bigger.",
        "state": _scale_scene("small_scale"),
    },
    "large_scale": {
        "title": "Scale: a huge bowl (large_scale)",
        "text": "The same settings as the tiny bowl, blown up 10⁴ times. SGD's steps grow with the gradient and "
                "it traces the very same path, just bigger. Adam still moves about lr = 0.01 per step: after "
                "200 steps it has covered 2 of the 220 units. Adam is invariant to the gradient's scale, "
                "not to the problem's.",
        "state": _scale_scene("large_scale"),
    },
    "adamw": {
        "title": "AdamW vs Adam + L2",
        "text": "The same weight decay 0.5 two ways. Adam + L2 adds wd·θ to the gradient and then divides by "
                "√v̂, so on Himmelblau's steep walls the decay is scaled down to almost nothing and Adam still "
                "finds a minimum. AdamW shrinks θ by lr·wd·θ outside the adaptive step: the full decay "
                "applies, and it settles well short of the minimum, pulled toward the origin.",
        "state": {"surface": "himmelblau", "steps": 500, "speed": 5,
                  "optimizers": [opt("adam", lr=0.05, name="Adam (no decay)"),
                                 opt("adam", lr=0.05, weight_decay=0.5, name="Adam + L2"),
                                 opt("adamw", lr=0.05, weight_decay=0.5)],
                  "overlay": {"target": "AdamW", "grad": True, "m_hat": False, "step": True}},
    },
    "bias": {
        "title": "Bias correction: Adam's first steps",
        "text": "Watch the readout under the plot: at step 0, m̂ = g and v̂ = g², so Adam's step is "
                "−lr·g/|g| = −lr·sign(g) in each coordinate: both coordinates move by lr, at 45°, although "
                "the gradient points almost straight along x. Without bias correction the first steps "
                "would be far smaller (m and v start at 0).",
        "state": {"surface": "rosenbrock", "steps": 40, "speed": 1,
                  "optimizers": [opt("sgd", lr=2e-3), opt("adam", lr=0.1)],
                  "overlay": {"target": "Adam", "grad": True, "m_hat": True, "step": True}},
    },
}
