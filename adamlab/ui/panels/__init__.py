"""The panels, one package each (``<key>/panel.py`` holds the widget), and their registry.

``PANELS`` lists them in sidebar order (Ctrl+1… selects them in this order) as (key, module, class): the entry
point reads the keys for ``--panel`` without importing Qt, and the window imports each module by name, so a
panel that fails to import is shown as an error page instead of taking the window down. A new panel is a new
package here and one line below.
"""

PANELS = [
    ("ema", "adamlab.ui.panels.ema.panel", "EmaPanel"),
    ("stepper", "adamlab.ui.panels.stepper.panel", "StepperPanel"),
    ("surface", "adamlab.ui.panels.surface.panel", "SurfacePanel"),
    ("monitor", "adamlab.ui.panels.monitor.panel", "MonitorPanel"),
]
PANEL_KEYS = [key for key, _, _ in PANELS]
