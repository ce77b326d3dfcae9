"""AdamLab: a desktop visual laboratory for the Adam optimizer.

``adamlab.core`` is plain NumPy (no Qt) and can be used from a notebook or the command line;
``adamlab.ui`` and ``adamlab.app`` hold the PySide6/pyqtgraph window.
"""

__version__ = "0.1.0"
