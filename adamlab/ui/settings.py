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


MAX_ENTRY = 4 << 20  # a panel's settings are a few kB; a bigger entry is not ours (or damaged)


def load_json(s: QSettings, key: str) -> dict[str, Any]:
    """A JSON dict stored under ``key``; {} when absent or unreadable (a bad entry never stops the app)."""
    return load_json_checked(s, key)[0]


def load_json_checked(s: QSettings, key: str) -> tuple[dict[str, Any], str | None]:
    """(the JSON dict stored under ``key`` or {}, why it could not be read or None)."""
    raw = s.value(key)
    if not raw:
        return {}, None
    text = str(raw)
    if len(text) > MAX_ENTRY:
        return {}, f"the saved entry is {len(text):,} characters long (at most {MAX_ENTRY:,})"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return {}, f"the saved entry is not valid JSON ({type(exc).__name__})"
    if not isinstance(value, dict):
        return {}, "the saved entry is not a set of fields"
    return value, None


def save_json(s: QSettings, key: str, value: dict[str, Any]) -> None:
    s.setValue(key, json.dumps(value))
