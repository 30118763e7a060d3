"""geoelf screen: one row per frame, resumable, exact when a worker or the driver is killed."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
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

from conftest import package_extra
from geoelf.cli.main import main
from geoelf.model import package
from geoelf.model.grids import dft_grid
from geoelf.model.network import NetConfig, ProbeNet
from geoelf.screen.runner import ScreenOptions, screen

N_FRAMES = 200


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("screen")
    torch.manual_seed(0)
    tiny = ProbeNet(NetConfig(features=8, vector_features=4, rbf=6, layers=1, cutoff_atom=2.5, cutoff_probe=1.8, hidden=8))
    package.save(tiny, root / "model", package_extra("tiny", tiny))
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


@pytest.fixture(scope="module")
def small(setup, tmp_path_factory):
    """Two short trajectories (6 and 3 frames) beside the tiny model."""
    from ase.io import read

    root = tmp_path_factory.mktemp("small")
    frames = read(setup / "traj.extxyz", index=":9")
    write_structure(root / "a.extxyz", frames[:6], format="extxyz")
    write_structure(root / "b.extxyz", frames[6:], format="extxyz")
    return root


def table(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_a_rerun_with_other_options_recomputes_and_its_rows_carry_them(setup, small, tmp_path):
    out, traj = tmp_path / "res.parquet", [str(small / "a.extxyz")]
    first = screen(traj, str(out), opts(setup), workers=1, progress=False)
    assert first["computed"] == 6 and {r["network_isovalue"] for r in table(out)} == {0.7}
    other = ScreenOptions(model=str(setup / "model"), grid=(10, 10, 10), isovalue=0.5)
    assert screen(traj, str(out), other, workers=1, progress=False)["computed"] == 6
    assert {r["network_isovalue"] for r in table(out)} == {0.5}
    finer = ScreenOptions(model=str(setup / "model"), grid=(11, 11, 11))
    assert screen(traj, str(out), finer, workers=1, progress=False)["computed"] == 6
    # another model: other weights, and every row says so
    torch.manual_seed(1)
    net = ProbeNet(NetConfig(features=8, vector_features=4, rbf=6, layers=1, cutoff_atom=2.5, cutoff_probe=1.8, hidden=8))
    package.save(net, tmp_path / "other", package_extra("other", net))
    by_other = ScreenOptions(model=str(tmp_path / "other"), grid=(10, 10, 10))
    assert screen(traj, str(out), by_other, workers=1, progress=False)["computed"] == 6
    rows = table(out)
    assert {r["model"] for r in rows} == {"other"} and {r["weights_sha256"] for r in rows} == {package.read_config(str(tmp_path / "other"))[1]["sha256"]["weights"]}
    # the first options again: every row comes back from the parts, unchanged
    again = screen(traj, str(out), opts(setup), workers=1, progress=False)
    assert again["computed"] == 0 and [r["phi_3d"] for r in table(out)] == [r["phi_3d"] for r in rows_first(first)]
    # ELF files asked for: the stored rows have none, so the frames are computed again and written
    with_elf = ScreenOptions(model=str(setup / "model"), grid=(10, 10, 10), elf_out=str(tmp_path / "elf"))
    (tmp_path / "elf").mkdir()
    assert screen(traj, str(out), with_elf, workers=1, progress=False)["computed"] == 6
    assert all(Path(r["elf_file"]).is_file() for r in table(out))


def rows_first(summary: dict) -> list[dict]:
    """The rows a run wrote, from its parts (the table itself is overwritten by later runs)."""
    parts = Path(summary["output"] + ".parts")
    pid = summary["provenance"]["sha256"]
    rows = [r for p in sorted(parts.glob("*.parquet")) for r in table(p) if r["provenance_sha256"] == pid]
    return sorted(rows, key=lambda r: r["frame"])


def test_another_chunk_a_subset_and_a_superset_of_inputs_work_on_one_output(setup, small, tmp_path):
    out = tmp_path / "t.parquet"
    a, b = str(small / "a.extxyz"), str(small / "b.extxyz")
    assert screen([a, b], str(out), opts(setup), chunk=4, workers=1, progress=False)["computed"] == 9
    only_a = screen([a], str(out), opts(setup), chunk=5, workers=1, progress=False)
    assert only_a["computed"] == 0 and [(r["source"], r["frame"]) for r in table(out)] == [(a, k) for k in range(6)]
    both = screen([b, a], str(out), opts(setup), chunk=2, workers=1, progress=False)
    assert both["computed"] == 0 and [r["source"] for r in table(out)] == [b] * 3 + [a] * 6  # input order


def test_a_replaced_input_file_is_computed_again_and_provenance_is_in_the_table(setup, small, tmp_path):
    from ase.io import read

    from geoelf.screen.runner import table_provenance

    traj = tmp_path / "traj.extxyz"
    shutil.copy(small / "a.extxyz", traj)
    out = tmp_path / "res.parquet"
    screen([str(traj)], str(out), opts(setup), workers=1, progress=False)
    before = table(out)
    frames = read(small / "b.extxyz", index=":")
    write_structure(traj, frames, format="extxyz")  # same name, other content
    assert screen([str(traj)], str(out), opts(setup), workers=1, progress=False)["computed"] == 3
    after = table(out)
    assert len(after) == 3 and after[0]["input_sha256"] != before[0]["input_sha256"]
    prov = table_provenance(out)
    assert prov["model"] == "tiny" and prov["options"]["grid"] == [10, 10, 10] and prov["sha256"] == after[0]["provenance_sha256"]
    assert screen([str(traj)], str(out), opts(setup), workers=1, progress=False, fresh=True)["computed"] == 3


def test_screen_rows_hold_the_counts_that_topology_reports_for_the_same_field(setup, small, tmp_path):
    from ase.io import read

    from geoelf.model.predict import Predictor
    from geoelf.topology.network import analyse
    from geoelf.topology.report import topology_document

    out = tmp_path / "res.parquet"
    screen([str(small / "a.extxyz")], str(out), opts(setup), workers=1, progress=False)
    pred = Predictor(str(setup / "model"))
    for row, atoms in zip(table(out), read(small / "a.extxyz", index=":")):
        doc = topology_document(analyse(pred.grid(atoms, (10, 10, 10)).field))
        assert (row["n_max"], row["n_bond"], row["n_ring"], row["n_cage"]) == tuple(doc["counts"][k] for k in ("max", "bond", "ring", "cage"))
        assert row["morse_sum"] == doc["morse_sum"]


def test_a_bad_frame_is_an_error_row_and_a_one_line_failure(setup, small, tmp_path, capsys):
    from ase.io import read

    frames = read(small / "a.extxyz", index=":4")
    frames[2][1].symbol = "Li"  # the third frame holds a non-H atom
    traj = tmp_path / "mixed.extxyz"
    write_structure(traj, frames, format="extxyz")
    args = ["screen", str(traj), "-o", str(tmp_path / "r.parquet"), "--model", str(setup / "model"), "--grid", "10", "10", "10",
            "--workers", "1"]
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "geoelf:" in line]  # the progress bar aside
    assert len(err) == 1 and "1 of 4 frames failed" in err[0] and f"{traj} frame 2: model tiny covers H only; found Li" in err[0]
    rows = table(tmp_path / "r.parquet")
    assert [r["error"] is None for r in rows] == [True, True, False, True] and rows[2]["phi_3d"] is None
    assert main(args + ["--skip-errors"]) == 0


def test_cheap_checks_come_before_dask_and_folders_keep_only_structures(setup, small, tmp_path, capsys):
    assert main(["screen", str(small / "a.extxyz"), "-o", str(tmp_path / "q.txt")]) == 2
    assert "must end in .parquet or .csv" in capsys.readouterr().err
    assert main(["screen", str(small / "a.extxyz"), "-o", str(tmp_path / "r.parquet"), "--model", str(tmp_path / "nowhere")]) == 2
    assert "no model folder" in capsys.readouterr().err and not (tmp_path / "r.parquet.parts").exists()
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(small / "b.extxyz", folder)
    (folder / "notes.txt").write_text("frames from the 300 K run\n")
    s = screen([str(folder)], str(tmp_path / "r.parquet"), opts(setup), workers=1, progress=False)
    assert s["frames"] == 3 and s["failed"] == 0


def test_screen_is_quiet_and_ctrl_c_ends_it_with_130(setup, small, tmp_path):
    cmd = [sys.executable, "-m", "geoelf.cli.main", "screen", str(setup / "traj.extxyz"), "-o", str(tmp_path / "r.parquet"),
           "--model", str(setup / "model"), "--grid", "10", "10", "10", "--workers", "2", "--chunk", "2"]
    parts = tmp_path / "r.parquet.parts"
    with socket.socket() as taken:  # another cluster on the machine holds the scheduler's HTTP port: no word of it
        with contextlib.suppress(OSError):  # held already
            taken.bind(("", 8787))
            taken.listen()
        # Ctrl-C as at a terminal: a process that inherits SIGINT ignored (a test run started in the
        # background) rightly stays deaf to it, so the child gets the default disposition
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 120
        while time.time() < deadline and len(list(parts.glob("*.parquet"))) < 3:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    lines = [line for line in err.splitlines() if line.strip() and "screen:" not in line]  # the progress bar aside
    assert lines == ["geoelf: interrupted"], err[-2000:]
    assert "INFO" not in err and "Traceback" not in err


def test_a_screen_of_dataset_v1_test_frames_has_complete_topology_in_every_row(tmp_path):
    """20 held-out frames with the shipped model: Morse sum 0 on every row, and every row's counts
    and φ_3D are those `geoelf topology` / `geoelf network` give for the same predicted field."""
    import json as json_

    from geoelf.data.sample import read_sample
    from geoelf.model.predict import Predictor
    from geoelf.topology.network import analyse
    from geoelf.topology.report import topology_document

    root = Path(__file__).resolve().parents[1] / "data" / "v1"
    test = json_.loads((root / "splits.json").read_text())["splits"]["test"]
    samples = sorted(p for t in test for p in (root / "fluid" / t).glob("*.h5"))[::3][:20]
    frames = [read_sample(p)[0].atoms for p in samples]
    write_structure(tmp_path / "test20.extxyz", frames, format="extxyz")
    out = tmp_path / "v1.parquet"
    summary = screen([str(tmp_path / "test20.extxyz")], str(out), ScreenOptions(), chunk=2, workers=2, progress=False)
    rows = table(out)
    assert summary["failed"] == 0 and len(rows) == 20 and [r["morse_sum"] for r in rows] == [0] * 20
    predictor = Predictor(None, 1)
    from ase.io import read as read_structures

    # the frames as the screen read them (extxyz keeps 8 decimals of each coordinate)
    for row, atoms in zip(rows, read_structures(tmp_path / "test20.extxyz", index=":")):
        an = analyse(predictor.grid(atoms, dft_grid(atoms.cell.array)).field)
        doc = topology_document(an)
        assert [row[f"n_{k}"] for k in ("max", "bond", "ring", "cage")] == [doc["counts"][k] for k in ("max", "bond", "ring", "cage")]
        # with the float32 head, the same model on the same frame in two processes can differ in the
        # last bits (measured: up to 5e-8 in the ELF on 2 of these 20 frames, depending on what the
        # process ran before); 1e-6 is far below φ's σ (≈ 0.01)
        assert row["phi_3d"] == pytest.approx(an.graph_phi.phi_3d, abs=1e-6)


def test_predict_network_describes_a_frame_exactly_as_a_screen_row(setup, small, tmp_path, capsys):
    """One description of a frame: `geoelf predict --network --json` prints the same keys and values
    as the screen row of the same frame, model and grid."""
    import json

    from geoelf.topology.network import FRAME_KEYS

    out = tmp_path / "res.parquet"
    screen([str(small / "a.extxyz")], str(out), opts(setup), workers=1, progress=False)
    rows = table(out)
    capsys.readouterr()
    assert main(["predict", str(small / "a.extxyz"), "--model", str(setup / "model"), "--grid", "10", "10", "10",
                 "--network", "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert len(docs) == len(rows) == 6
    for doc, row in zip(docs, rows):
        assert list(doc["network"]) == list(FRAME_KEYS)
        assert doc["network"] == {k: row[k] for k in FRAME_KEYS}
