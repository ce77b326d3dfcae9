"""adamlab.core must run without Qt: every module imports in a fresh interpreter where Qt cannot be imported.

A meta-path finder installed first makes any import of PySide6, shiboken6, pyqtgraph or PyQt* raise
ImportError, then each core module is imported. A second test proves the guard bites: a module that
imports Qt fails under the same setup.
"""

import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import adamlab.core

REPO = Path(__file__).resolve().parents[2]
CORE_MODULES = sorted(f"adamlab.core.{m.name}" for m in pkgutil.iter_modules(adamlab.core.__path__))

BLOCKER = textwrap.dedent("""
    import sys
    BLOCKED = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "PySide2", "qtpy")

    class NoQt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"Qt is blocked in adamlab.core: tried to import {name}")
            return None

    sys.meta_path.insert(0, NoQt())
    for name in list(sys.modules):          # nothing preloaded may slip through
        if name.split(".")[0] in BLOCKED:
            del sys.modules[name]
""")


def _import_in_fresh_python(module: str, extra_path: str | None = None) -> subprocess.CompletedProcess:
    code = BLOCKER + textwrap.dedent(f"""
        import importlib
        importlib.import_module({module!r})
        leaked = sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        print("ok")
    """)
    paths = [str(REPO)] + ([extra_path] if extra_path else [])
    env = {"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_core_has_modules():
    assert "adamlab.core.optim" in CORE_MODULES and "adamlab.core.ema" in CORE_MODULES


@pytest.mark.parametrize("module", ["adamlab.core"] + CORE_MODULES)
def test_core_module_imports_with_qt_blocked(module):
    result = _import_in_fresh_python(module)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_the_guard_catches_a_module_that_imports_qt(tmp_path):
    (tmp_path / "uses_qt.py").write_text("import numpy\nfrom PySide6 import QtCore\n")
    (tmp_path / "uses_pg.py").write_text("import pyqtgraph\n")
    for module in ("uses_qt", "uses_pg"):
        result = _import_in_fresh_python(module, extra_path=str(tmp_path))
        assert result.returncode != 0
        assert "Qt is blocked" in result.stderr
