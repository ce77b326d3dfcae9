"""Distributed runs: a 2-process gloo DDP run writes one folder (rank 0's) whose figures equal a single
process's on the same global batch; sharded DTensor parameters are refused with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="distributed watching needs PyTorch (pip install torch==2.13.0)")

from adamlab.runs import open_run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")


def run_worker(mode, out, scratch):
    scratch.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(WORKER), mode, str(out), str(scratch)], capture_output=True, text=True,
                       timeout=240, env=env, cwd=scratch)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.mark.slow
def test_a_two_process_ddp_run_writes_the_single_process_figures(tmp_path):
    run_worker("single", tmp_path / "single", tmp_path / "s1")
    run_worker("ddp", tmp_path / "ddp", tmp_path / "s2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "s1", "s2", "single"]  # one folder per run
    with open_run(tmp_path / "single") as one, open_run(tmp_path / "ddp") as two:
        assert two.tensors == one.tensors == ["0.weight", "0.bias", "2.weight", "2.bias"]  # no "module." prefix
        assert two.meta["distributed"] == {"world_size": 2, "backend": "gloo"}
        assert two.meta["model"]["wrapper"] == "DistributedDataParallel"
        assert two.steps.tolist() == one.steps.tolist() == list(range(6))  # rank 1 wrote nothing
        for name in ("g", "w", "u"):
            np.testing.assert_allclose(getattr(two, name), getattr(one, name), rtol=2e-7, err_msg=name)
        np.testing.assert_allclose(two.scalar("loss")[1], one.scalar("loss")[1], rtol=1e-12)
        assert two.hist_steps.tolist() == one.hist_steps.tolist() == [0, 2, 4]
        for tensor in one.tensors:
            for kind in ("snr", "log_lr"):
                assert (two.histogram_series(tensor, kind)[1].tolist()
                        == one.histogram_series(tensor, kind)[1].tolist()), (tensor, kind)
        assert two.closed and len(two.sessions) == 2


@pytest.mark.slow
def test_sharded_dtensor_parameters_are_refused_by_name(tmp_path):
    out = run_worker("dtensor", tmp_path / "run", tmp_path / "scratch")
    assert "parameter 'weight' is a DTensor (placements (Shard(dim=0),)): sharded parameters" in out
    assert "not supported" in out and not (tmp_path / "run").exists()
