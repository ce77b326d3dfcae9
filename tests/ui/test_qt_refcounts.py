"""Guard against the PySide6 release that leaks references to None (pinned out in pyproject.toml).

PySide6 6.12.0 drops a reference to None on calls such as QGraphicsItem.setPen; on Python < 3.12 the count
eventually reaches zero and the interpreter aborts ("none_dealloc") in the middle of a plotting session.
"""

import sys

from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsRectItem


def test_qt_calls_do_not_leak_references_to_none(qapp):
    before = sys.getrefcount(None)
    for _ in range(2000):
        item = QGraphicsRectItem()
        item.setPen(QPen())
    del item
    assert sys.getrefcount(None) - before > -100
