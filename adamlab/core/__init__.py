"""AdamLab's NumPy core: optimizers, schedules, EMA, test surfaces, trajectories and the tiny GPT.

Nothing in this package may import Qt or pyqtgraph (``tests/core/test_no_qt.py`` enforces it), so every
piece runs the same in a notebook, on the command line and on the GUI's worker threads.
"""
