"""The arena's default scene, and its one-click scenarios — the scenario files in ``resources/scenarios`` — each
telling one story about an optimizer.

A preset is a partial panel state (see ``SurfacePanel.get_state``): the surface, which optimizers race with
which hyperparameters, steps, and the overlays worth looking at, plus one paragraph of explanation; its
"tune" entry sets the Tune tab, and with ``"autotune": true`` the panel runs a Tune as soon as it is loaded.
The learning rates and the figures in the paragraphs come from running the core (``trajectory.run_many``,
``tune.tune``) on exactly these scenes; ``tests/ui/test_surface_presets.py`` checks each paragraph's claims on
the race the panel draws.
"""

from __future__ import annotations


def opt(kind: str, enabled: bool = True, name: str | None = None, **values) -> dict:
    """One optimizer entry of a state: editor values (β1/β2 separate), unspecified knobs keep defaults."""
    return {"kind": kind, "name": name, "enabled": enabled, "values": values}


# The default race: every kind in the list, five of them enabled, each at an lr chosen by running the core
# (trajectory.run_many) on Rosenbrock from (−1.2, 1) for 500 steps so the race reads at a glance, without
# wild zig-zags at the start: Adam ends ~0.06 from (1, 1) and AdamW, whose decoupled decay pulls toward the
# origin, ~0.19 short of it; momentum swings once across the valley at the start, recovers and ends ~0.09
# away; RMSprop gets halfway along the valley floor; SGD is still crawling at x ≈ −0.5.
# The newer kinds follow unticked, one tick away, each at an lr that keeps its path on the map and reads well
# (none is tuned: the Tune tab does that): NAdam 0.05, RAdam 0.005 (at 0.01 its first, un-normalised steps throw
# it off the map: see the "radam" scenario), Adamax 0.5, ADOPT 0.5, Adadelta 1 (its lr only scales its own
# step), Adafactor 1, Lion 0.01, AdEMAMix 0.1, schedule-free AdamW 0.1.
DEFAULT_OPTIMIZERS = [
    opt("sgd", lr=1e-3),
    opt("momentum", lr=1e-3, momentum=0.9),
    opt("nesterov", False, lr=1e-3, momentum=0.9),
    opt("adagrad", False, lr=0.5),
    opt("rmsprop", lr=1e-2),
    opt("adam", lr=0.2),
    opt("amsgrad", False, lr=0.2),
    opt("adamw", lr=0.2, weight_decay=0.005),
    opt("nadam", False, lr=0.05),
    opt("radam", False, lr=0.005),
    opt("adamax", False, lr=0.5),
    opt("adopt", False, lr=0.5),
    opt("adadelta", False, lr=1.0),
    opt("adafactor", False, lr=1.0),
    opt("lion", False, lr=0.01),
    opt("ademamix", False, lr=0.1),
    opt("schedulefree_adamw", False, lr=0.1),
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

# The one-click scenarios are scenario files shipped in resources/scenarios/<name>.adamlab (adamlab.ui.scenarios):
# the same files a user saves with File ▸ Save scenario, read by the same loader. Each holds a title, one paragraph
# and a partial state laid over DEFAULT_STATE; its "tune" entry sets the Tune tab, and "autotune": true runs a Tune
# as soon as it is loaded. Notes on how their numbers were found:
# - small_scale / large_scale race identical settings; only the bowl's size differs (that is the lesson).
# - ademamix: Rosenbrock's long valley under noise, each optimizer at its lr tuned over 5 noise seeds; the
#   warm-ups span the run (1000 steps).

# the picker's order (a story from the default race to the fair race); a file not listed here follows, by name
ORDER = ("race", "zigzag", "saddle", "small_scale", "large_scale", "adamw", "bias", "radam", "ademamix",
         "schedulefree", "fair_race")


def load_presets() -> dict[str, dict]:
    """The arena's built-in scenario files as {name: {"title", "text", "state"}}, in the picker's order."""
    from adamlab.ui import scenarios

    found = {}
    for path in scenarios.builtin_dir().glob(f"*{scenarios.SUFFIX}"):
        sc = scenarios.read(path)
        if sc.panel == "surface" and not sc.whole_lab:
            found[path.stem] = {"title": sc.title or path.stem, "text": sc.text, "state": sc.states["surface"]}
    order = sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    return {n: found[n] for n in order}


PRESETS: dict[str, dict] = load_presets()
