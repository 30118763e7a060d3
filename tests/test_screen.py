"""geoelf screen: one row per frame, resumable, exact when a worker or the driver is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from ase import Atoms
from ase.io import write as write_structure

from geoelf.model import package
from geoelf.model.network import NetConfig, ProbeNet
from geoelf.screen.runner import ScreenOptions, screen

N_FRAMES = 200


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("screen")
    torch.manual_seed(0)
    package.save(ProbeNet(NetConfig(features=8, vector_features=4, rbf=6, layers=1, cutoff_atom=2.5, cutoff_probe=1.8, hidden=8)),
                 root / "model", {"name": "tiny"})
    rng = np.random.default_rng(0)
    base = np.array([[0.0, 0.0, 0.0], [0.75, 0.0, 0.0], [1.1, 1.2, 1.1], [1.1, 1.95, 1.1]])
    frames = [Atoms("H4", positions=base + rng.normal(scale=0.05, size=base.shape), cell=[2.3, 2.4, 2.2], pbc=True,
                    info={"pressure_gpa": 100 + k}) for k in range(N_FRAMES)]
    write_structure(root / "traj.extxyz", frames, format="extxyz")
    return root


def rows_of(path: Path) -> list[tuple]:
    table = pq.read_table(path).to_pylist()
    return [(r["source"], r["frame"]) for r in table]


def opts(root):
    return ScreenOptions(model=str(root / "model"), grid=(10, 10, 10))


def test_every_frame_exactly_once_and_rerun_skips(setup, tmp_path):
    out = tmp_path / "res.parquet"
    s = screen([str(setup / "traj.extxyz")], str(out), opts(setup), chunk=8, workers=2, progress=False)
    rows = rows_of(out)
    assert len(rows) == N_FRAMES == len(set(rows)) and s["computed"] == N_FRAMES
    table = pq.read_table(out).to_pylist()
    for col in ("source", "frame", "natoms", "phi_1d", "phi_2d", "phi_3d", "phi_star", "n_max", "n_bond", "n_ring", "n_cage",
                "h2_fraction", "out_of_domain", "seconds"):
        assert col in table[0]
    assert table[5]["pressure_gpa"] == 105.0 and all(isinstance(r["morse_sum"], int) for r in table)
    again = screen([str(setup / "traj.extxyz")], str(out), opts(setup), chunk=8, workers=1, progress=False)
    assert again["computed"] == 0 and rows_of(out) == rows


def test_killing_a_worker_loses_and_duplicates_nothing(setup, tmp_path):
    from dask.distributed import Client, LocalCluster

    out = tmp_path / "res.parquet"
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    result = {}
    thread = threading.Thread(target=lambda: result.update(screen([str(setup / "traj.extxyz")], str(out), opts(setup), chunk=4,
                                                                  client=client, progress=False)))
    thread.start()
    parts = tmp_path / "res.parquet.parts"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("*.parquet"))) < 3:
        time.sleep(0.05)
    pids = list(client.run(os.getpid).values())
    os.kill(pids[0], signal.SIGKILL)  # a worker dies in the middle of its tasks
    thread.join(timeout=300)
    client.close()
    cluster.close()
    assert result["frames"] == N_FRAMES
    rows = rows_of(out)
    assert len(rows) == N_FRAMES == len(set(rows))


def test_killing_the_run_and_rerunning_completes_it(setup, tmp_path):
    out = tmp_path / "res.parquet"
    cmd = [sys.executable, "-m", "geoelf.cli.main", "screen", str(setup / "traj.extxyz"), "-o", str(out), "--model",
           str(setup / "model"), "--grid", "10", "10", "10", "--workers", "2", "--chunk", "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    parts = tmp_path / "res.parquet.parts"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("*.parquet"))) < 5:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists() and 0 < len(list(parts.glob("*.parquet"))) < N_FRAMES // 4
    done = subprocess.run(cmd + ["--plot", str(tmp_path / "phi.png")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1500:]
    rows = rows_of(out)
    assert len(rows) == N_FRAMES == len(set(rows))
    assert (tmp_path / "phi.png").stat().st_size > 1000


def test_an_ase_database_is_screened_with_its_key_value_pairs(setup, tmp_path):
    from ase.db import connect
    from ase.io import read

    db = connect(tmp_path / "candidates.db")
    for k, atoms in enumerate(read(setup / "traj.extxyz", index=":5")):
        atoms.info = {}
        db.write(atoms, pressure_gpa=250.0 + k, origin="search")
    out = tmp_path / "res.csv"
    screen([str(tmp_path / "candidates.db")], str(out), opts(setup), chunk=2, workers=1, progress=False)
    import pyarrow.csv as pacsv

    rows = pacsv.read_csv(out).to_pylist()
    assert [r["frame"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["pressure_gpa"] for r in rows] == [250.0, 251.0, 252.0, 253.0, 254.0]
