"""AdamLab: a desktop visual laboratory for the Adam optimizer.

``adamlab.core`` is plain NumPy (no Qt) and can be used from a notebook or the command line;
``adamlab.ui`` and ``adamlab.app`` hold the PySide6/pyqtgraph window; ``adamlab.watch(model, optimizer,
"runs/exp1")`` watches your own PyTorch training (``adamlab.runs``, imported only when first used).
"""

__version__ = "0.1.0"


def __getattr__(name):
    # adamlab.watch without importing adamlab.runs (nor torch, which watch() imports itself) on `import adamlab`
    if name == "watch":
        from adamlab.runs.hook import watch

        return watch
    raise AttributeError(f"module 'adamlab' has no attribute {name!r}")
