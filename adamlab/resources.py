"""Locate files shipped in ``resources/``.

In a source checkout (or an editable install) they sit in ``<repo>/resources``; a wheel ships them inside
the package as ``adamlab/resources`` (see ``[tool.hatch.build.targets.wheel.force-include]``).
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resources_dir() -> Path:
    """The directory that holds AdamLab's resources, installed or in a checkout."""
    for candidate in (_PKG / "resources", _PKG.parent / "resources"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "AdamLab's resources directory was not found next to the package "
        f"({_PKG / 'resources'}) nor in the source checkout ({_PKG.parent / 'resources'})"
    )


def resource_path(*parts: str) -> Path:
    """Path of a file in the resources directory; raises FileNotFoundError naming it if absent."""
    path = resources_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"AdamLab resource not found: {path}")
    return path
