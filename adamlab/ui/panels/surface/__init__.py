"""The loss-surface arena: optimizers racing on 2D surfaces, live (``SurfacePanel``).

The window loads ``SurfacePanel`` from here by name. It is imported on first use (``__getattr__`` below),
not at import time: the race child process imports ``adamlab.ui.panels.surface.race``, which imports this
package first, and the child must not load Qt (its point is an interpreter whose GIL the GUI does not share).
"""

from __future__ import annotations

__all__ = ["SurfacePanel"]


def __getattr__(name: str):
    if name == "SurfacePanel":
        from adamlab.ui.panels.surface.panel import SurfacePanel

        return SurfacePanel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
