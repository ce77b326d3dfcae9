"""examples/watch_gpt.py runs as documented: on one process, and under torchrun as 2-process DDP (gloo, CPU),
and the two runs' folders hold the same figures (the same global batches)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the example trains a PyTorch model (pip install torch==2.13.0)")

from adamlab.runs import open_run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "watch_gpt.py"
SMALL = ["--steps", "12", "--every", "2", "--hist-every", "6", "--n-layer", "1", "--n-embd", "32", "--n-head", "2",
         "--block-size", "16", "--batch-size", "8", "--eval-every", "5", "--warmup", "3"]


def run(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.mark.slow
def test_the_example_runs_alone_and_under_torchrun_with_the_same_figures(tmp_path):
    out = run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "one"), *SMALL], tmp_path)
    assert "1 process(es)" in out and "step    10 |" in out
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(SCRIPT),
         "--out", str(tmp_path / "two"), *SMALL], tmp_path)
    with open_run(tmp_path / "one") as one, open_run(tmp_path / "two") as two:
        assert one.tensors == two.tensors and one.tensors[0] == "wte.weight"  # tied lm_head: listed once
        assert "lm_head.weight" not in one.tensors and one.adam == "adam"
        assert two.meta["distributed"]["world_size"] == 2 and one.meta["distributed"]["world_size"] == 1
        assert one.steps.tolist() == two.steps.tolist() == list(range(0, 12, 2))
        assert one.hist_steps.tolist() == [0, 6]
        np.testing.assert_allclose(two.u, one.u, rtol=1e-3)
        np.testing.assert_allclose(two.scalar("loss")[1], one.scalar("loss")[1], rtol=1e-5)
        assert one.scalar("val_loss")[0].tolist() == [0, 5, 10, 11]
        assert one.scalar("lr")[1][:3].tolist() == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-3])
        assert [s.step for s in two.samples] == [0, 5, 10, 11] and len(two.samples[0].texts) == 8
        assert one.closed and two.closed
        # the names' 26 letters and the newline: the monitor's uniform-guess line ln 27
        assert one.meta["config"]["vocab_size"] == two.meta["config"]["vocab_size"] == 27
