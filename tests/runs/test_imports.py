"""torch stays optional: `import adamlab` and the whole run reader work without it (and without Qt);
watch() is reached lazily and says what it needs when torch is missing."""

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BLOCK = textwrap.dedent("""
    import sys
    BLOCKED = {blocked!r}

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked in this test: {{name}}")
            return None

    sys.meta_path.insert(0, Block())
""")


def run(code, blocked=()):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", BLOCK.format(blocked=tuple(blocked)) + textwrap.dedent(code)],
                       capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_import_adamlab_imports_neither_torch_nor_the_runs_package():
    out = run("""
        import sys, adamlab
        print(sorted(m for m in sys.modules if m.split(".")[0] == "torch" or m.startswith("adamlab.runs")))
        w = adamlab.watch                      # the function, found lazily
        print(callable(w), type(w).__name__, "torch" in sys.modules)
    """)
    assert out.split("\n")[:2] == ["[]", "True function False"]


def test_the_reader_and_report_work_without_torch_or_qt(tmp_path):
    out = run(f"""
        from tests.runs.synth import make_run
        from adamlab.runs import open_run
        from adamlab.runs.report import main
        make_run({str(tmp_path / 'r')!r}, steps=3)
        run = open_run({str(tmp_path / 'r')!r})
        print(len(run.steps), main([{str(tmp_path / 'r')!r}]))
        import sys
        print(sorted(m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("torch", "PySide6", "pyqtgraph")))
    """, blocked=("torch", "PySide6", "pyqtgraph", "shiboken6"))
    lines = out.strip().split("\n")
    assert lines[-2] == "3 0" and lines[-1] == "[]"


def test_watch_without_torch_says_what_it_needs():
    out = run("""
        import adamlab
        try:
            adamlab.watch(None, None, "x")
        except ImportError as e:
            print(e)
    """, blocked=("torch",))
    assert out.strip() == "adamlab.watch needs PyTorch (pip install torch); the rest of AdamLab does not"
