"""torchrun with 2 CPU processes (gloo) gives the same training as one process, same global batch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

ARGS = ["synthetic=4", "steps=3", "val_every=3", "batch_structures=2", "probes_per_structure=200", "val_probes=600",
        "lr=0.01", "lr_final=0.01", "threads=1", "net={features: 8, vector_features: 4, rbf: 6, layers: 1, cutoff_atom: 3.0, cutoff_probe: 2.0, hidden: 8}"]


def train_cmd(out, nproc: int) -> list[str]:
    if nproc == 1:
        return [sys.executable, "-m", "geoelf.cli.main", "train", *ARGS, f"out={out}"]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "geoelf.cli.main", "train", *ARGS, f"out={out}"]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_two_gloo_processes_equal_one_process(tmp_path):
    for nproc in (1, 2):
        run = subprocess.run(train_cmd(tmp_path / f"p{nproc}", nproc), capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
    one = load_file(str(tmp_path / "p1" / "checkpoint.safetensors"))
    two = load_file(str(tmp_path / "p2" / "checkpoint.safetensors"))
    assert set(one) == set(two)
    for key in one:  # weights and Adam moments after 3 steps: the gradients matched at every step
        torch.testing.assert_close(one[key], two[key], rtol=1e-4, atol=1e-6)
    h1 = json.loads((tmp_path / "p1" / "checkpoint.json").read_text())["history"][-1]
    h2 = json.loads((tmp_path / "p2" / "checkpoint.json").read_text())["history"][-1]
    assert h1["train_mse"] == pytest.approx(h2["train_mse"], rel=1e-5)
    assert h1["val_mae"] == pytest.approx(h2["val_mae"], rel=1e-4)
