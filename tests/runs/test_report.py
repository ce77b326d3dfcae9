"""``adamlab report RUN [--step N]``: the seeds-style table, scalars and samples; exit 2 and one line for a
bad folder or argument; reached through the ``adamlab`` entry point."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from adamlab import app, cli
from adamlab.runs.format import STREAM_FILES
from tests.runs.synth import make_run

REPO = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^(\S+) +g=(\S+)  w=(\S+)  u=(\S+)$")


def report(capsys, *argv):
    code = app.main(["report", *argv])  # the entry point's dispatch, as `adamlab report` runs it
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(out):
    return {m[1]: tuple(float(x) for x in m.groups()[1:]) for m in map(ROW.match, out.splitlines()) if m}


def test_report_prints_the_table_scalars_and_samples(tmp_path, capsys):
    exp = make_run(tmp_path / "r", steps=12, samples_every=5)
    code, out, err = report(capsys, str(tmp_path / "r"))
    assert code == 0 and err == ""
    assert "report" in cli.COMMANDS
    assert "Synth (672 parameters in 4 tensors watched), Adam lr=0.01 (2 param groups)" in out
    assert "every 1 steps, histograms every 2; closed" in out
    assert "step 11 (12 logged: 0 … 11); lr 5.42e-03 (group 0), 1.08e-02 (group 1)" in out
    table = rows(out)
    assert list(table) == exp["names"]
    for i, name in enumerate(exp["names"]):  # the last step's figures, to the 2 digits printed
        want = [float(f"{exp[k][-1, i]:.1e}") for k in ("g", "w", "u")]
        assert table[name] == tuple(want)
    assert "scalars: loss 2.08333 (step 11) · val_loss 2.35 (step 9)" in out
    assert out.rstrip().endswith("samples at step 10:\n  name10\n  émile")


def test_report_step_picks_the_last_logged_step_at_or_before_it(tmp_path, capsys):
    exp = make_run(tmp_path / "r", steps=12)
    code, out, _ = report(capsys, str(tmp_path / "r"), "--step", "4")
    assert code == 0 and "step 4 (12 logged" in out
    assert rows(out)["bias"][2] == float(f"{exp['u'][4, 3]:.1e}")
    assert "scalars: loss 2.66667 (step 4) · val_loss 2.85 (step 3)" in out and "samples at step 0:" in out


def test_report_flags_missing_grads_and_non_finite_values(tmp_path, capsys):
    exp = make_run(tmp_path / "r", steps=1, close=False)
    row = np.zeros(1, exp["writer"].layout.stats)
    row[0]["step"], row[0]["g"], row[0]["w"], row[0]["u"] = 1, [np.inf, 1, np.nan, np.nan], 1, 1
    row[0]["flags"] = [2, 0, 0, 1]
    exp["writer"].stats(row)
    code, out, _ = report(capsys, str(tmp_path / "r"))
    assert code == 0 and "open (still being written, or stopped without close())" in out
    lines = out.splitlines()
    assert "wte       g=inf  w=1.0e+00  u=1.0e+00  ← non-finite" in lines
    assert "bias      (no grad at this step)" in lines


def test_bad_folders_and_arguments_exit_2_with_one_line(tmp_path, capsys):
    make_run(tmp_path / "r", steps=3)
    stats = tmp_path / "r" / STREAM_FILES["stats"]
    raw = bytearray(stats.read_bytes())
    raw[40] ^= 0xFF
    stats.write_bytes(bytes(raw))
    (tmp_path / "empty").mkdir()
    for argv, message in (([str(tmp_path / "r")], "stats.rec is damaged at byte 16"),
                          ([str(tmp_path / "empty")], "not an AdamLab run folder (no run.json)"),
                          ([str(tmp_path / "none")], "no such run folder"),
                          ([str(tmp_path / "empty"), "--step", "x"], "argument --step"),
                          ([], "the following arguments are required: RUN")):
        code, out, err = report(capsys, *argv)
        assert code == 2 and out == "", argv
        assert err.startswith("adamlab report: error: ") and message in err and err.count("\n") == 1, err


def test_report_before_the_first_logged_step(tmp_path, capsys):
    make_run(tmp_path / "r", steps=0, close=False)
    code, out, _ = report(capsys, str(tmp_path / "r"))
    assert code == 0 and out.rstrip().endswith("no steps logged yet")
    make_run(tmp_path / "s", steps=3)
    code, out, err = report(capsys, str(tmp_path / "s"), "--step", "0")
    assert code == 0
    (tmp_path / "s" / STREAM_FILES["stats"]).write_bytes((tmp_path / "s" / STREAM_FILES["stats"]).read_bytes()[:16])
    code, out, err = report(capsys, str(tmp_path / "s"), "--step", "0")
    assert code == 0 and "no steps logged yet" in out


def test_python_m_adamlab_report_runs_headless(tmp_path):
    make_run(tmp_path / "r", steps=2)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    code = ("import sys; from adamlab.app import main; rc = main(['report', sys.argv[1]]); "
            "print(rc, any(m.startswith(('PySide6', 'pyqtgraph', 'torch')) for m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], capture_output=True, text=True, env=env,
                       timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "0 False" and "g=" in r.stdout
    r = subprocess.run([sys.executable, "-m", "adamlab", "report", str(tmp_path / "nothing")], capture_output=True,
                       text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().endswith("no such run folder: " + str(tmp_path / "nothing"))
