"""The arena's default scene and its one-click scenarios, each telling one story about an optimizer.

A preset is a partial panel state (see ``SurfacePanel.get_state``): the surface, which optimizers race with
which hyperparameters, steps, and the overlays worth looking at, plus one paragraph of explanation; its
"tune" entry sets the Tune tab, and with ``"autotune": True`` the panel runs a Tune as soon as it is loaded. The learning rates and the figures in the
paragraphs come from running the core (``trajectory.run_many``, ``tune.tune``) on exactly these scenes;
``tests/ui/test_surface_presets.py`` checks each paragraph's claims on the race the panel draws.
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

def _scale_scene(surface: str) -> dict:
    """The two scale presets race identical settings; only the bowl's size differs (that is the lesson)."""
    return {"surface": surface, "steps": 200, "speed": 1,
            "optimizers": [opt("sgd", lr=0.1), opt("adam", lr=0.01), opt("lion", lr=0.01),
                           opt("adafactor", lr=0.1)],
            "overlay": {"target": "Adam", "grad": True, "m_hat": False, "step": True}}


# the AdEMAMix scene: Rosenbrock's long valley under noise, each optimizer at its lr tuned over 5 noise seeds
ADEMAMIX_STEPS = 1000



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
        "title": "Scale: a tiny bowl (SGD, Adam, Lion, Adafactor)",
        "text": "The minimum is only 0.02 away. SGD's step is lr × gradient, and the gradient is tiny here, so "
                "it takes small steps and glides in. Adam steps about lr = 0.01 per coordinate whatever the "
                "gradient's size: half the distance in one step, so it overshoots and rings, then settles as "
                "m̂ averages the flipping gradient. Lion's step is exactly ±lr, the sign of its momentum, for "
                "ever: it hops between points 0.01 from the minimum and never settles. Adafactor's step is "
                "relative to the weights' size (lr × RMS(θ)): small weights, small steps, and it homes in. Now "
                "load the huge bowl: the same settings, 10⁴ times bigger.",
        "state": _scale_scene("small_scale"),
    },
    "large_scale": {
        "title": "Scale: a huge bowl (SGD, Adam, Lion, Adafactor)",
        "text": "The same settings as the tiny bowl, blown up 10⁴ times. SGD's steps grow with the gradient and "
                "it traces the very same path, just bigger. Adam still moves about lr = 0.01 per step, and "
                "Lion exactly 0.01: after 200 steps each has covered 2 of the 220 units. Sign-like steps are "
                "invariant to the gradient's scale, not to the problem's. Adafactor's relative step grows with "
                "the weights (lr × RMS(θ)) and reaches the minimum: the same lr serves both bowls.",
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
    "radam": {
        "title": "RAdam: its first steps are SGD's",
        "text": "With β2 = 0.999, v̂ rests on too few gradients for its first 5 steps, so RAdam takes plain "
                "momentum-SGD steps lr·m̂ there, without Adam's division by √v̂. On Rosenbrock's steep wall "
                "(|∇f| ≈ 230 at the start) that is a jump of 2.3 at lr 0.01: RAdam leaves the map at step 3 while "
                "Adam, whose first step is lr per coordinate, walks into the valley. RAdam's rectification "
                "guards Adam against the noise of an early v̂, assuming gradients of ordinary size; at lr "
                "0.0005 (the third racer) it survives the jump and follows the valley.",
        "state": {"surface": "rosenbrock", "steps": 300, "speed": 1,
                  "optimizers": [opt("adam", lr=0.01), opt("radam", lr=0.01),
                                 opt("radam", lr=0.0005, name="RAdam, lr 0.0005")],
                  "overlay": {"target": "Adam", "grad": True, "m_hat": True, "step": True}},
    },
    "ademamix": {
        "title": "AdEMAMix: a slow EMA in a noisy valley",
        "text": "Rosenbrock's long valley with gradient noise σ = 5, 1000 steps, each optimizer at the lr a Tune "
                "over 5 noise seeds picks. Adam's m remembers ~10 gradients, so its path jitters across the "
                "valley floor. One slow EMA instead (Adam with β1 = 0.999, ~1000 steps of memory) is smooth but "
                "sluggish: it overshoots the bend and ends far off. AdEMAMix keeps Adam's fast EMA and adds the "
                "slow one (β3 = 0.999, weight α = 5, both warmed up over the run): old gradients keep steering it "
                "along the floor, and it ends closest (f − f* 0.009 against Adam's 0.12 with this noise). Averaged "
                "over 5 noise sequences (press Tune): 0.0096 against 0.050.",
        "state": {"surface": "rosenbrock", "steps": ADEMAMIX_STEPS, "speed": 10, "noise": 5.0, "seed": 1,
                  "optimizers": [opt("adam", lr=0.0562),
                                 opt("adam", lr=0.0316, beta1=0.999, beta2=0.999, name="Adam, β1 = 0.999"),
                                 opt("ademamix", lr=0.01, beta3=0.999, mix_alpha=5.0,
                                     alpha_warmup=ADEMAMIX_STEPS, beta3_warmup=ADEMAMIX_STEPS)],
                  "tune": {"seeds": 5},
                  "overlay": {"target": "AdEMAMix", "grad": True, "m_hat": False, "step": True}},
    },
    "schedulefree": {
        "title": "Schedule-free AdamW: no schedule needed",
        "text": "A bowl with gradient noise σ = 2, lr 0.2 and a constant schedule. AdamW rattles round the "
                "minimum in a noise ball as wide as its lr allows (0.57 away at the end; 0.37 on average over "
                "8 seeds). Schedule-free AdamW, also at a constant lr — it wants no schedule — takes its "
                "gradients at y, between its AdamW-like steps z and their running average x, and ends about "
                "half as far (0.24; 0.21 on average). Now set the schedule to cosine: AdamW, told the run's "
                "length, settles best of all (0.007; 0.08 on average). Schedule-free's promise is to come close "
                "to a tuned schedule without knowing when the run ends, not to beat one.",
        "state": {"surface": "quadratic", "steps": 500, "speed": 5, "noise": 2.0, "seed": 2,
                  "optimizers": [opt("adamw", lr=0.2, weight_decay=0.0), opt("schedulefree_adamw", lr=0.2)],
                  "overlay": {"target": "(none)", "grad": True, "m_hat": False, "step": True}},
    },
    "fair_race": {
        "title": "Fair race: the zoo, each at its best lr",
        "text": "At one shared lr a race mostly shows whose default suits the surface. This scene tunes first: "
                "each optimizer's lr is searched on a grid of 25 from 1e-5 to 10 on this very Rosenbrock race, "
                "and the winners race. The lr-sensitivity plot (right) is the other half of the story: how "
                "wide each one's good range is. Counting f − f* < 0.1 as good, Adam, AdEMAMix and schedule-free "
                "AdamW do well over more than a decade of lr; SGD with momentum only within a factor of ~6; "
                "Lion's good range lies two decades lower than Adam's, since its steps are ±lr.",
        "state": {"surface": "rosenbrock", "steps": 500, "speed": 5,
                  "optimizers": [opt("momentum", lr=1e-3, momentum=0.9), opt("adam", lr=0.2),
                                 opt("adamw", lr=0.2, weight_decay=0.005), opt("nadam", lr=0.05),
                                 opt("adopt", lr=0.5), opt("lion", lr=0.01), opt("ademamix", lr=0.1),
                                 opt("schedulefree_adamw", lr=0.1)],
                  "tune": {"lr_range": [1e-5, 10.0], "n_lrs": 25, "second": "", "objective": "final", "seeds": 3},
                  "autotune": True,
                  "overlay": {"target": "Adam", "grad": True, "m_hat": False, "step": True}},
    },
}
