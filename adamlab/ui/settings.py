"""Where AdamLab keeps its QSettings (window geometry, theme, each panel's last settings).

``ADAMLAB_SETTINGS=/path/file.ini`` redirects them to an INI file — the tests use it so they never touch a
user's real settings.
"""

from __future__ import annotations

import json
import os
from typing import Any

from PySide6.QtCore import QSettings


def settings() -> QSettings:
    path = os.environ.get("ADAMLAB_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("AdamLab", "AdamLab")


def load_json(s: QSettings, key: str) -> dict[str, Any]:
    """A JSON dict stored under ``key``; {} when absent or unreadable (a bad entry never stops the app)."""
    raw = s.value(key)
    if not raw:
        return {}
    try:
        value = json.loads(str(raw))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def save_json(s: QSettings, key: str, value: dict[str, Any]) -> None:
    s.setValue(key, json.dumps(value))
