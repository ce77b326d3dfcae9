"""The package as a user gets it: entry points, resources found from a real (non-editable) install."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(args, **kw):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, **kw)


def test_help_prints_usage_and_exits_0_without_a_window():
    r = _run([sys.executable, "-m", "adamlab", "--help"], cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "usage: adamlab" in r.stdout
    assert "--screenshot" in r.stdout and "--panel" in r.stdout


def test_bad_argument_exits_2_with_a_message():
    r = _run([sys.executable, "-m", "adamlab", "--panel", "nope"], cwd=REPO)
    assert r.returncode == 2
    assert "invalid choice" in r.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the wheel offline, as `pip install .` would (hatchling comes with the test extra)."""
    out = tmp_path_factory.mktemp("wheel")
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
              str(REPO)])
    assert r.returncode == 0, r.stderr[-2000:]
    wheels = list(out.glob("adamlab-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_contains_every_resource_and_the_entry_point(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [p for p in (REPO / "resources").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert shipped, "resources/ is empty"
    for p in shipped:
        assert f"adamlab/resources/{p.relative_to(REPO / 'resources').as_posix()}" in names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "adamlab = adamlab.app:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_resources_are_found_from_a_regular_install(wheel, tmp_path):
    target = tmp_path / "site"
    r = _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)])
    assert r.returncode == 0, r.stderr[-2000:]
    code = ("import adamlab.resources as r; d = r.resources_dir(); print(d); "
            "print(sorted(p.name for p in d.iterdir()))")
    # Run from an unrelated directory with only the installed copy on the path (no checkout around).
    r = _run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    found_dir, listing = r.stdout.splitlines()
    assert Path(found_dir).is_relative_to(target)
    expected = sorted(p.name for p in (REPO / "resources").iterdir() if p.name != "__pycache__")
    assert [n for n in eval(listing) if n != "__pycache__"] == expected


def test_headless_commands_never_import_qt():
    code = ("import sys; from adamlab.app import main; "
            "rc = main(['train', '--steps', '2', '--quiet', '--samples', '0']); "
            "print(rc, 'PySide6' in sys.modules, 'pyqtgraph' in sys.modules)")
    r = _run([sys.executable, "-c", code], cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-3:] == ["0", "False", "False"]
