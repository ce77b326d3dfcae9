"""The loss-surface arena: SGD, momentum, RMSprop, Adam, AMSGrad and AdamW racing on 2D surfaces, live.

The modules, in the order data flows through them:

* ``controls`` — the control column (``ArenaControls``): surface, start, run and swarm settings, overlays;
  it builds the plain *scene* dict a race runs. ``racers`` is its Optimizers tab (``RacerList``): which
  optimizers race, their names, colours and hyperparameter editors. ``presets`` holds the default scene
  and the one-click scenarios.
* ``race`` — Qt-free: ``run_scene(scene)`` → ``SceneResult`` (the core's trajectories plus what the view
  needs: where a path left the view, the table's numbers, the swarm's basins), and ``RaceProcess``, which
  runs it in a child process so a race never holds the GUI thread's GIL.
* ``image`` — Qt-free: the surface's colour image and contour lines for one view.
* ``map_view`` — the map (``MapView``): surface, start handle, paths, markers, arrows, swarm, readout.
* ``view3d`` — the 3-D view (``View3D``): the surface as a rotatable relief with the paths on it, beside or
  instead of the map, and the switch between them; ``relief`` (Qt-free) is its geometry: heights on the
  map's colour scale, the mesh, path points lying on it, the camera's fit.
* ``charts`` — the right-hand column: loss along the paths, effective learning rates, results table.
* ``text`` — the short number formats of the table and the readout.
* ``panel`` — ``SurfacePanel``, the coordinator: workers, animation, drag scheduling, saved state.

The window loads ``SurfacePanel`` from this package by name; it is imported on first use (``__getattr__``
below), not with the package: the race child imports ``adamlab.ui.panels.surface.race``, which imports this
package first, and the child must not load Qt (its point is an interpreter whose GIL the GUI does not share).
"""

from __future__ import annotations

__all__ = ["SurfacePanel"]


def __getattr__(name: str):
    if name == "SurfacePanel":
        from adamlab.ui.panels.surface.panel import SurfacePanel

        return SurfacePanel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
