"""Scenario files (``*.adamlab``): a panel's settings, or the whole lab's, in a small JSON file. Qt-free.

One panel::

    {"adamlab": "scenario", "version": 1, "panel": "surface", "title": "…", "text": "…", "state": {...}}

The whole lab (every panel, and the one on screen)::

    {"adamlab": "scenario", "version": 1, "panel": "stepper", "panels": {"ema": {...}, "stepper": {...}, ...}}

``title`` and ``text`` are optional (the arena's scenario picker shows them). ``state`` is what the panel's
``get_state()`` returns — or any part of it: what a file leaves out keeps the panel's default.

This module reads and writes the file and checks its frame: size (at most ``MAX_BYTES``, refused before more
is read), UTF-8 JSON, the header, the version, the panel names. Each state is then checked field by field
against its panel's ``state_schema()`` by the window (:meth:`adamlab.ui.window.MainWindow.open_scenario`),
before anything is applied: a file with any problem is refused whole, with one line naming the field.

The built-in scenarios are the same files, shipped in ``resources/scenarios``; :func:`resolve` finds one by
name (``race``) or takes a path, so ``adamlab record --scenario race`` and ``--scenario my.adamlab`` both work.
Nothing is ever imported or executed from a scenario: it is data.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adamlab.ui.panels import PANEL_KEYS

SUFFIX = ".adamlab"
MAGIC = "scenario"
VERSION = 1  # the newest version this AdamLab reads and the one it writes
MAX_BYTES = 1 << 20  # a scenario is a few kB; anything near this is not one
MAX_DEPTH = 40  # nesting deeper than any panel's state (json would recurse into a crafted file)


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message is one line naming the file and what is wrong."""


@dataclass
class Scenario:
    """A read scenario: ``states`` by panel key, the panel to show, and where it came from."""

    states: dict[str, dict[str, Any]]
    panel: str
    path: Path | None = None
    title: str = ""
    text: str = ""
    whole_lab: bool = False

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "scenario"


def builtin_dir() -> Path:
    """Where the built-in scenarios live (``resources/scenarios``, in a checkout or an installed wheel)."""
    from adamlab.resources import resources_dir

    return resources_dir() / "scenarios"


def builtins() -> list[Scenario]:
    """The built-in scenarios, read, by panel (in the sidebar's order) and name."""
    found = [read(p) for p in builtin_dir().glob(f"*{SUFFIX}")]
    return sorted(found, key=lambda sc: (PANEL_KEYS.index(sc.panel), sc.path.stem))


def builtin_names(panel: str | None = None) -> list[str]:
    """The built-in scenarios' names (file stems), sorted; only ``panel``'s if given."""
    return sorted(sc.path.stem for sc in builtins() if panel is None or sc.panel == panel)


def resolve(name_or_path: str | os.PathLike) -> Path:
    """The scenario file meant by ``name_or_path``: an existing path (``my.adamlab``), or the name of a built-in
    one (``race``, ``zigzag``: see :func:`builtin_names`). ScenarioError, one line, if it is neither."""
    text = os.fspath(name_or_path)
    p = Path(text).expanduser()
    if p.is_file():
        return p
    if text and "/" not in text and os.sep not in text:
        stem = text[: -len(SUFFIX)] if text.endswith(SUFFIX) else text
        builtin = builtin_dir() / f"{stem}{SUFFIX}"
        if builtin.is_file():
            return builtin
    known = ", ".join(builtin_names())
    raise ScenarioError(f"{text}: no such scenario file, nor a built-in scenario (built-in: {known})")


def is_scenario_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() == SUFFIX


def _depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            return False
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return True


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON number")  # Python's json would read NaN / Infinity


def read(path: str | os.PathLike) -> Scenario:
    """Read and frame-check the scenario at ``path`` (see the module docstring). The panels' states are not yet
    checked field by field: that needs the panels (``MainWindow.open_scenario``)."""
    p = Path(path)
    where = p.name
    try:
        with open(p, "rb") as f:  # the size is checked on what is read, not on what stat says
            data = f.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise ScenarioError(f"{where}: is a directory, not a scenario file") from None
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise ScenarioError(f"{where}: larger than {MAX_BYTES // 1024} kB: not a scenario file")
    return parse(data, where, p)


def parse(data: bytes, where: str = "scenario", path: Path | None = None) -> Scenario:
    """Frame-check a scenario's bytes (see :func:`read`)."""
    if b"\x00" in data:
        raise ScenarioError(f"{where}: a binary file, not a scenario (JSON text)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    try:
        doc = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise ScenarioError(f"{where}: nested too deeply to be a scenario") from None
    except ValueError as exc:
        line = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        msg = exc.msg if hasattr(exc, "msg") else str(exc)
        raise ScenarioError(f"{where}: not valid JSON{line}: {msg}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{where}: not a scenario (the file is not a set of fields)")
    if doc.get("adamlab") != MAGIC:
        raise ScenarioError(f"{where}: not an AdamLab scenario (no \"adamlab\": \"scenario\" header)")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ScenarioError(f"{where}: version: {version!r} is not a scenario version (1, 2, …)")
    if version > VERSION:
        raise ScenarioError(f"{where}: written by a newer AdamLab (scenario version {version}; this one reads "
                            f"up to {VERSION}): update AdamLab to open it")
    if not _depth_ok(doc):
        raise ScenarioError(f"{where}: nested too deeply to be a scenario")
    known = {"adamlab", "version", "panel", "state", "panels", "title", "text"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ScenarioError(f"{where}: {unknown[0]}: unknown field")
    for key in ("title", "text"):
        if key in doc and (not isinstance(doc[key], str) or len(doc[key]) > 4000):
            raise ScenarioError(f"{where}: {key}: not text of at most 4000 characters")
    panel = doc.get("panel")
    if panel not in PANEL_KEYS:
        raise ScenarioError(f"{where}: panel: {panel!r} is not one of {', '.join(PANEL_KEYS)}")
    if ("state" in doc) == ("panels" in doc):
        raise ScenarioError(f"{where}: needs either \"state\" (one panel) or \"panels\" (the whole lab)")
    if "state" in doc:
        states = {panel: doc["state"]}
    else:
        states = doc["panels"]
        if not isinstance(states, dict):
            raise ScenarioError(f"{where}: panels: not a set of fields")
        for key in states:
            if key not in PANEL_KEYS:
                raise ScenarioError(f"{where}: panels.{key}: unknown panel (one of {', '.join(PANEL_KEYS)})")
    for key, state in states.items():
        if not isinstance(state, dict):
            prefix = f"panels.{key}" if "panels" in doc else "state"
            raise ScenarioError(f"{where}: {prefix}: not a set of fields")
    return Scenario(states=states, panel=panel, path=path, title=doc.get("title", ""), text=doc.get("text", ""),
                    whole_lab="panels" in doc)


def dumps(states: dict[str, dict[str, Any]], panel: str, whole_lab: bool, title: str = "", text: str = "") -> str:
    """The file's text: one panel's state (``whole_lab`` False: ``states[panel]``) or every panel's."""
    doc: dict[str, Any] = {"adamlab": MAGIC, "version": VERSION, "panel": panel}
    if title:
        doc["title"] = title
    if text:
        doc["text"] = text
    if whole_lab:
        doc["panels"] = states
    else:
        doc["state"] = states[panel]
    # indented: people read these, diff them and edit them by hand; NaN is never written (allow_nan=False)
    return json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def write(path: str | os.PathLike, states: dict[str, dict[str, Any]], panel: str, whole_lab: bool,
          title: str = "", text: str = "") -> Path:
    """Write a scenario atomically (whole or not at all: :func:`adamlab.core.files.write_bytes`)."""
    from adamlab.core.files import write_bytes

    data = dumps(states, panel, whole_lab, title, text).encode("utf-8")
    return write_bytes(path, data, "scenario")
