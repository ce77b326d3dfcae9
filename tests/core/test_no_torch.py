"""PyTorch is never a required dependency: importing adamlab, its core (every module) and the CLI must not
import torch, even where torch is installed (only the tests that compare with torch import it)."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import adamlab.core

REPO = Path(__file__).resolve().parents[2]


def test_importing_adamlab_and_every_core_module_does_not_import_torch():
    modules = ["adamlab", "adamlab.core", "adamlab.cli"] + sorted(
        m.name for m in pkgutil.walk_packages(adamlab.core.__path__, prefix="adamlab.core."))
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n"
            "    importlib.import_module(m)\n"
            "bad = sorted(n for n in sys.modules if n.split('.')[0] == 'torch')\n"
            "assert not bad, bad\n"
            "print('ok', len(sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stderr
    assert "adamlab.core.optim.muon" in modules and "adamlab.core.tune" in modules
