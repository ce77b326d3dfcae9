"""What File ▸ Record… films in the EMA playground (protocol: :mod:`adamlab.ui.record.animation`): a sweep of
β1 from 0 to 0.99, or of β2 from 0.9 to 0.9999, evenly in log(1 − β) as the sliders are spaced, on the
signal on screen. Each frame is the core's traces for that β; the β is put back afterwards."""

from __future__ import annotations

from adamlab.ui.record.animation import Animation, beta_ramp

SWEEPS = {"beta1": (0.0, 0.99), "beta2": (0.9, 0.9999)}


def sweep(panel, name: str) -> Animation:
    lo, hi = SWEEPS[name]

    def frames(n):
        b1, b2 = panel.beta1.value(), panel.beta2.value()
        try:
            for beta in beta_ramp(n, lo, hi):
                betas = (float(beta), b2) if name == "beta1" else (b1, float(beta))
                yield lambda betas=betas: panel.set_betas(*betas)
        finally:
            panel.set_betas(b1, b2)

    symbol = "β1" if name == "beta1" else "β2"
    return Animation(f"Sweep {symbol} from {lo:g} to {hi:g}", frames,
                     f"{symbol} moves across its range (evenly in log(1 − {symbol})); the other β stays")


def animations(panel) -> dict[str, Animation]:
    return {name: sweep(panel, name) for name in SWEEPS}
