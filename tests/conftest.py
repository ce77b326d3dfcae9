"""Test-wide settings. Runs before any test module imports Qt."""

import os
import tempfile

# No display in CI: every Qt test renders offscreen. Set before PySide6 is imported anywhere.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read or write the user's real settings from a test.
os.environ.setdefault("ADAMLAB_SETTINGS", os.path.join(tempfile.mkdtemp(prefix="adamlab-test-"), "settings.ini"))

from pathlib import Path  # noqa: E402

# Child processes never import from the working directory; the tests' own job modules (tests/ui/loop_jobs.py)
# are found through the checkout, named explicitly.
os.environ.setdefault("ADAMLAB_CHILD_PATH", str(Path(__file__).resolve().parent.parent))

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED_NAMES = REPO.parent / "shared" / "data" / "names.txt"


@pytest.fixture
def names_path():
    """The real makemore names corpus from ../shared/data, or skip when this checkout has none beside it."""
    if not SHARED_NAMES.is_file():
        pytest.skip(f"shared corpus not present at {SHARED_NAMES}")
    return SHARED_NAMES
