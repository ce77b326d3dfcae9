"""The stepper's runs: two chosen optimizers, A and B, on one parameter θ and the same gradients. Qt-free.

Each step draws one gradient source for both: the sequence's g_t, or the loss's gradient at each run's own θ
plus the *same* noise draw. Each run steps its core optimizer and writes the step's lines with the numbers
(``programs.take_step``). A run whose θ runs away (|θ| > 10⁶ on a loss, or not finite) stops there and the
other goes on; the session ends when both have stopped, after ``MAX_STEPS``, or when the sequence is used up.
A step is a handful of scalar operations (tens of µs), so the panel runs it on the GUI thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from adamlab.core import optim
from adamlab.ui.panels.stepper.programs import SUBSCRIPT, Step, program, take_step

# --- the 1D problems θ lives on (inputs, not optimizer maths) ---------------------------------------------

NOISE_SIGMA = 2.0  # the noisy quadratic's gradient noise
TARGET = 3.0  # the quadratic's minimum


@dataclass(frozen=True)
class Problem:
    label: str
    loss: Callable[[float], float] | None  # None: gradients come from a sequence, there is no loss
    grad: Callable[[float], float] | None
    noisy: bool = False


def _square_loss(th: float) -> float:
    d = th - TARGET
    return d * d  # a float product overflows to inf; ** 2 would raise OverflowError at lr = 10


PROBLEMS: dict[str, Problem] = {
    "quadratic": Problem("L(θ) = (θ − 3)²", _square_loss, lambda th: 2.0 * (th - TARGET)),
    "abs": Problem("L(θ) = |θ|", abs, lambda th: float(np.sign(th))),
    "noisy": Problem(f"L(θ) = (θ − 3)², gradient + N(0, {NOISE_SIGMA:g}²) noise",
                     _square_loss, lambda th: 2.0 * (th - TARGET), noisy=True),
    "playground": Problem("gradients g₁, g₂, … from the EMA playground", None, None),
}
MAX_STEPS = 1000
# A run on a loss has diverged once |θ| passes this: θ₀ is within ±10 and the minima are at 0 and 3, so θ a
# million away is a run that overshoots further at every step (SGD at lr 10 on (θ − 3)² multiplies its error
# by −19 a step and passes it at step 5; it used to go on to 1e+150 and overflow at step ~240). Gradients
# from a sequence do not depend on θ, so there only a non-finite θ counts.
DIVERGED = 1e6


def playground_sequence() -> np.ndarray:
    """The EMA playground's current gradient sequence (its default seeds' sequence until it draws)."""
    from adamlab.ui.panels.ema.panel import PLAYGROUND

    return np.asarray(PLAYGROUND.sequence, dtype=np.float64).copy()


# --- a session ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunConfig:
    kind: str  # a kind of optim.OPTIMIZERS with a one-parameter form (programs.STEPPABLE)
    hyper: dict[str, Any]  # make_optimizer keywords


@dataclass(frozen=True)
class StepperConfig:
    problem: str = "quadratic"
    theta0: float = 0.0
    runs: tuple[RunConfig, RunConfig] = field(default_factory=lambda: (
        RunConfig("adam", {"lr": 0.1}), RunConfig("sgd", {"lr": 0.1})))
    seed: int = 0


class Run:
    """One side of the comparison: a core optimizer, its θ, and its steps (None for steps after it stopped)."""

    def __init__(self, label: str, config: RunConfig, theta0: float):
        program(config.kind)  # ValueError for a kind without a one-parameter form (Muon)
        self.label, self.kind = label, config.kind
        self.opt = optim.make_optimizer(config.kind, **config.hyper)
        self.theta = np.array([theta0], dtype=np.float64)  # (1,): the core works on arrays
        self.steps: list[Step | None] = []
        self.diverged_at: int | None = None  # the step at which θ ran away and this run stopped

    def last(self) -> Step | None:
        return self.steps[-1] if self.steps else None


def run_labels(kinds: tuple[str, str]) -> tuple[str, str]:
    """The runs' names: their optimizers' labels, told apart by A and B when both are the same kind."""
    a, b = (optim.optimizer_label(k) for k in kinds)
    return (a, b) if kinds[0] != kinds[1] else (f"{a} A", f"{b} B")


class StepperSession:
    """Runs A and B from θ₀, one step at a time on the same gradients. Raises ValueError (from the core)
    for invalid hyperparameters."""

    def __init__(self, config: StepperConfig, sequence: np.ndarray | None = None):
        if config.problem not in PROBLEMS:
            raise ValueError(f"problem must be one of {list(PROBLEMS)}, got {config.problem!r}")
        self.config = config
        self.problem = PROBLEMS[config.problem]
        self.sequence = None
        if self.problem.grad is None:
            self.sequence = np.asarray(playground_sequence() if sequence is None else sequence, dtype=np.float64)
        labels = run_labels(tuple(r.kind for r in config.runs))
        self.runs = [Run(label, rc, config.theta0) for label, rc in zip(labels, config.runs)]
        self._rng = np.random.default_rng(config.seed)
        self.t = 0

    def set_hyperparameters(self, i: int, hyper: dict[str, Any]) -> None:
        """Change run ``i``'s knobs between steps (its state and t are kept, as in torch). ValueError if invalid."""
        self.runs[i].opt.set_hyperparameters(**hyper)

    def finished(self) -> str:
        """Why no further step can be taken ('' when one can). One diverged run stops alone; the other goes on."""
        if self.t >= MAX_STEPS:
            return f"stopped after {MAX_STEPS} steps: press Reset to start again"
        if self.sequence is not None and self.t >= len(self.sequence):
            return f"the playground's sequence has only {len(self.sequence)} values: press Reset"
        if all(r.diverged_at is not None for r in self.runs):
            return " and ".join(self.divergence(i) for i in range(2)) + ": lower lr and press Reset"
        return ""

    def is_diverged(self, theta: float) -> bool:
        return not math.isfinite(theta) or (self.problem.loss is not None and abs(theta) > DIVERGED)

    def divergence(self, i: int) -> str:
        """'SGD diverged at step 5 (|θ| = 7.4e+06 > 1e+06)', or '' while run i has not diverged."""
        run = self.runs[i]
        if run.diverged_at is None:
            return ""
        theta = run.steps[run.diverged_at - 1].theta_new
        limit = f" > {DIVERGED:.0e}" if math.isfinite(theta) else ""
        return f"{run.label} diverged at step {run.diverged_at} (|θ| = {abs(theta):.2g}{limit})"

    def loss(self, theta: float) -> float:
        return float(self.problem.loss(theta)) if self.problem.loss is not None else math.nan

    def _gradients(self) -> list[float]:
        """∇L at each run's θ for this step, with one noise draw for both (or the sequence's g_t for both)."""
        if self.sequence is not None:
            return [float(self.sequence[self.t])] * 2
        noise = NOISE_SIGMA * float(self._rng.standard_normal()) if self.problem.noisy else 0.0
        return [self.problem.grad(float(r.theta[0])) + noise for r in self.runs]

    def step(self) -> None:
        """One step of each run that has not stopped, through the core."""
        why = self.finished()
        if why:
            raise ValueError(why)
        grads = self._gradients()
        gname = f"g{str(self.t + 1).translate(SUBSCRIPT)}" if self.sequence is not None else ""  # g₅
        self.t += 1
        for run, g in zip(self.runs, grads):
            if run.diverged_at is not None:  # a diverged run stops: its columns stay empty from here on
                run.steps.append(None)
                continue
            step = take_step(run.opt, run.theta, g, gname)
            step.loss_new = self.loss(step.theta_new)
            run.steps.append(step)
            if self.is_diverged(step.theta_new):
                run.diverged_at = self.t
