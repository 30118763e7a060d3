"""The Quantum ESPRESSO layer: parsers on captured QE 6.7 output, inputs, protocol, profile,
and (when pw.x is installed) real runs end to end, including a SIGKILL in the middle."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import write as write_structure

from geoelf.dft.inputs import pw_md_input, pw_scf_input
from geoelf.dft.md import random_molecular_start, volume_per_atom
from geoelf.dft.parsers import RY_EV, parse_md_frames, parse_pw_scf
from geoelf.dft.profile import Profile
from geoelf.dft.protocol import ElfProtocol, MdSettings
from geoelf.errors import GeoelfError
from geoelf.io import read

DATA = Path(__file__).parent / "data"
HAVE_QE = shutil.which("pw.x") is not None and shutil.which("pp.x") is not None
qe = pytest.mark.skipif(not HAVE_QE, reason="Quantum ESPRESSO (pw.x, pp.x) not installed")


def test_scf_parser_on_captured_output():
    res = parse_pw_scf((DATA / "qe67_scf_h2.pw.out").read_text(), natoms=2)
    assert res.energy_ev == pytest.approx(-2.30764347 * RY_EV)
    assert res.fermi_ev == pytest.approx(-2.0353)
    assert res.pressure_gpa == pytest.approx(8.022)
    assert np.trace(res.stress_gpa) / 3 == pytest.approx(8.022, abs=2e-3)
    assert res.converged and res.scf_iterations == 7
    assert res.wall_s == pytest.approx(2.15)
    assert res.fft_grid == (24, 24, 24) and res.n_kpoints == 148
    assert res.qe_version == "6.7MaX"
    assert res.forces_ev_a.shape == (2, 3)
    np.testing.assert_allclose(res.forces_ev_a.sum(axis=0), 0, atol=1e-3)  # Newton's third law


def test_unconverged_or_broken_output_is_not_converged():
    text = (DATA / "qe67_scf_h2.pw.out").read_text()
    broken = text.replace("convergence has been achieved in   7 iterations", "convergence NOT achieved after 100 iterations: stopping")
    assert not parse_pw_scf(broken).converged
    assert parse_pw_scf(text[: len(text) // 3]).energy_ev is None


def test_md_parser_on_captured_output():
    frames, temps = parse_md_frames((DATA / "qe67_md_h4.pw.out").read_text(), natoms=4)
    assert len(frames) == 3 and frames[0].shape == (4, 3)
    np.testing.assert_allclose(temps, [740.65392270, 979.13478940, 2371.09816190])


def test_ppx_cube_is_the_full_fft_grid_and_an_elf():
    field = read(str(DATA / "qe67_pp_elf_h2.cube.gz"))
    assert field.shape == (24, 24, 24)
    assert 0 <= field.data.min() and field.data.max() <= 1
    np.testing.assert_allclose(field.cell, [[2.2, 0, 0], [0.3, 2.3, 0], [0.2, 0.1, 2.4]], atol=1e-5)


def test_protocol_kmesh_and_input():
    p = ElfProtocol()
    assert p.kmesh(np.eye(3) * 4.95) == (3, 3, 3)
    assert p.kmesh(np.diag([4.95, 2.5, 20.0])) == (3, 6, 1)
    # a triclinic cell: the mesh follows the reciprocal vectors, not the cell lengths
    cell = np.array([[3.0, 0, 0], [2.9, 0.5, 0], [0, 0, 3.0]])
    recip = np.linalg.inv(cell).T
    assert p.kmesh(cell) == tuple(int(np.ceil(2 * np.pi * np.linalg.norm(b) / 0.45)) for b in recip)
    text = pw_scf_input(Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]], cell=[3, 3, 3], pbc=True), p, (2, 2, 2), "/x")
    for needle in ("ecutwfc = 60", "smearing = 'mv'", "degauss = 0.02", "conv_thr = 1d-08", "K_POINTS automatic\n2 2 2 0 0 0", "H_HSCV_PBE-1.0.UPF"):
        assert needle in text
    with pytest.raises(GeoelfError):
        pw_scf_input(Atoms("LiH", positions=[[0, 0, 0], [1.6, 0, 0]], cell=[3, 3, 3], pbc=True), p, (1, 1, 1), "/x")
    assert MdSettings().dt_ry == pytest.approx(9.92, abs=0.01)
    h2 = Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]], cell=[3, 3, 3], pbc=True)
    md = pw_md_input(h2, MdSettings(), 1500.0, 60, "/x")
    for needle in ("ion_temperature = 'svr'", "nraise = 10", "mixing_beta = 0.3", "scf_must_converge = .false.",
                   "wfc_extrapolation = 'second_order'", "pot_extrapolation = 'second_order'", "K_POINTS gamma"):
        assert needle in md
    assert "extrapolation" not in pw_md_input(h2, MdSettings(extrapolation="none"), 1500.0, 60, "/x")


def test_random_molecular_start_density_and_bonds():
    atoms = random_molecular_start(64, 1.45, seed=3)
    assert atoms.get_volume() / 64 == pytest.approx(volume_per_atom(1.45))
    d = atoms.get_all_distances(mic=True)
    np.testing.assert_allclose([d[i, i + 32] for i in range(32)], 0.74, atol=1e-9)
    np.fill_diagonal(d, 9)
    assert d.min() == pytest.approx(0.74)  # no two molecules overlap closer than a bond
    assert np.array_equal(atoms.positions, random_molecular_start(64, 1.45, seed=3).positions)


def test_profile_sources(tmp_path, monkeypatch):
    cfg = tmp_path / "profile.yaml"
    cfg.write_text("pw: /opt/pw.x\nnprocs: 4\nmpi: 'srun -n {n}'\n")
    monkeypatch.setenv("GEOELF_NPROCS", "3")
    prof = Profile.load(str(cfg))
    assert prof.pw == "/opt/pw.x" and prof.nprocs == 3  # environment beats the file
    assert prof.command(prof.pw)[:3] == ["srun", "-n", "3"]
    assert Profile.load(str(cfg), nprocs=1).command("pw.x") == ["pw.x"]
    cfg.write_text("pw: x\nbogus: 1\n")
    with pytest.raises(GeoelfError, match="unknown profile settings"):
        Profile.load(str(cfg))


# --- real Quantum ESPRESSO runs ---------------------------------------------------------------

def h2_cells(tmp_path: Path, n: int) -> list[Path]:
    paths = []
    for k in range(n):
        a = Atoms("H2", positions=[[0, 0, 0], [0.72 + 0.02 * k, 0.05, 0.0]], cell=[[2.2, 0, 0], [0.2, 2.3, 0], [0.1, 0.2, 2.4]], pbc=True)
        paths.append(tmp_path / f"h2_{k}.xyz")
        write_structure(paths[-1], a, format="extxyz")
    return paths


def geoelf_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "geoelf.cli.main", *args]


@qe
def test_dft_elf_end_to_end(tmp_path):
    from geoelf.data.sample import read_sample

    (path,) = h2_cells(tmp_path, 1)
    t0 = time.perf_counter()
    out = subprocess.run(geoelf_cmd("dft", "elf", str(path), "-o", str(tmp_path / "out"), "--cube"), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert time.perf_counter() - t0 < 60
    field, meta = read_sample(tmp_path / "out" / "h2_0.h5")
    assert field.shape == tuple(meta["fft_grid"]) and 0 <= field.data.min() and field.data.max() <= 1
    assert meta["protocol_id"] == "dft-protocol-v1" and meta["qe_version"].startswith("6.7")
    assert len(meta["pseudo_sha256"]) == 64 and meta["kmesh"] == [7, 7, 6]
    assert meta["pressure_gpa"] > 0 and meta["energy_ev"] < 0 and meta["scf_iterations"] > 0
    cube = read(str(tmp_path / "out" / "h2_0.ELF.cube.gz"))
    assert np.max(np.abs(cube.data - field.data)) < 1e-5  # quantised storage is within 1e-5


@qe
def test_dft_elf_batch_survives_sigkill(tmp_path):
    from geoelf.data.sample import read_sample

    paths = h2_cells(tmp_path, 4)
    out_dir = tmp_path / "out"
    cmd = geoelf_cmd("dft", "elf", *map(str, paths), "-o", str(out_dir), "--nprocs", "1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out_dir.glob("*.h5"))) < 1:
        time.sleep(0.05)
    time.sleep(0.3)  # kill in the middle of the next sample
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: python, mpirun, pw.x
    proc.wait()
    done_before = sorted(p.name for p in out_dir.glob("*.h5"))
    assert 1 <= len(done_before) < 4
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    done = sorted(p.name for p in out_dir.glob("*.h5"))
    assert done == [f"h2_{k}.h5" for k in range(4)]
    assert not list(out_dir.glob(".*.tmp"))
    assert f"{len(done_before)} already done" in rerun.stdout
    for p in done:
        field, meta = read_sample(out_dir / p)
        assert field.shape == (24, 24, 24) and meta["sample_id"] == p[:-3]


@qe
def test_md_segments_resume_and_extend(tmp_path):
    folder = tmp_path / "traj"
    args = ["dft", "md", "--rs", "1.5", "--temperature", "1000", "--natoms", "4", "--interval", "3",
            "--equilibration", "3", "-o", str(folder), "--nprocs", "1"]
    assert subprocess.run(geoelf_cmd(*args, "--snapshots", "1"), capture_output=True).returncode == 0
    first = sorted((folder / "segments").glob("seg_*.xyz"))
    assert len(first) == 2
    stamp = first[-1].stat().st_mtime_ns
    assert subprocess.run(geoelf_cmd(*args, "--snapshots", "2"), capture_output=True).returncode == 0
    segs = sorted((folder / "segments").glob("seg_*.xyz"))
    assert len(segs) == 3 and segs[1].stat().st_mtime_ns == stamp  # finished segments are not redone
    from ase.io import read as read_structure

    last = read_structure(segs[-1])
    assert last.info["md_step"] == 9 and last.info["phase"] == "fluid"
    changed = subprocess.run(geoelf_cmd(*[a if a != "1000" else "2000" for a in args], "--snapshots", "2"), capture_output=True, text=True)
    assert changed.returncode == 2 and "other settings" in changed.stderr


@qe
def test_relax_moves_towards_the_target_pressure(tmp_path):
    from geoelf.dft.relax import relax

    atoms = Atoms("H2", positions=[[0, 0, 0], [0.75, 0, 0]], cell=[2.0, 2.1, 2.2], pbc=True)
    out, facts = relax(atoms, pressure_gpa=20.0, fmax=0.05, max_steps=25, profile=Profile.load(nprocs=2))
    assert facts["converged"]
    assert facts["pressure_gpa"] == pytest.approx(20.0, abs=2.0)
    assert facts["fmax_ev_a"] < 0.05


@qe
def test_forced_fft_grid_puts_a_lower_cutoff_on_the_protocol_points():
    # protocol-noise studies subtract a 40 Ry ELF from the 60 Ry label point by point
    from dataclasses import replace

    from geoelf.dft.elf import compute_elf

    h2 = Atoms("H2", positions=[[0, 0, 0], [0.74, 0.05, 0.0]], cell=[[2.2, 0, 0], [0.2, 2.3, 0], [0.1, 0.2, 2.4]], pbc=True)
    fine = compute_elf(h2, protocol=ElfProtocol(fixed_kmesh=(2, 2, 2))).field
    free = compute_elf(h2, protocol=ElfProtocol(ecutwfc=40.0, fixed_kmesh=(2, 2, 2))).field
    forced = compute_elf(h2, protocol=ElfProtocol(ecutwfc=40.0, fixed_kmesh=(2, 2, 2), fft_grid=fine.shape)).field
    assert free.shape != fine.shape and forced.shape == fine.shape
    r2 = 1 - np.sum((forced.data - fine.data) ** 2) / np.sum((fine.data - fine.data.mean()) ** 2)
    assert 0.99 < r2 < 1.0
    assert "nr1 = %d" % fine.shape[0] in pw_scf_input(h2, replace(ElfProtocol(), fft_grid=fine.shape), (1, 1, 1), "/x")


@qe
def test_md_from_a_given_structure_keeps_its_cell_and_records_it(tmp_path):
    """Thermal snapshots of a crystal: `geoelf dft md --start` runs from the given atoms and cell
    (natoms and density from the file), marks the snapshots "solid", and a rerun from another
    structure into the same folder is refused."""
    from ase.io import read as read_structure
    from ase.io import write as write_structure

    # a symmetric start (inversion, three mirrors), as a crystal's is: the thermostat's first kick
    # breaks the symmetry, which pw.x accepts only with nosym
    crystal = Atoms("H4", positions=[[-0.37, 0, 0], [0.37, 0, 0], [1.15, 1.2, 0.73], [1.15, 1.2, 1.47]],
                    cell=[2.3, 2.4, 2.2], pbc=True)
    start = tmp_path / "crystal.extxyz"
    write_structure(start, crystal, format="extxyz")
    folder = tmp_path / "thermal"
    args = ["dft", "md", "--start", str(start), "--temperature", "300", "--interval", "3", "--equilibration", "3",
            "--snapshots", "1", "-o", str(folder), "--nprocs", "1"]
    done = subprocess.run(geoelf_cmd(*args), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    segs = sorted((folder / "segments").glob("seg_*.xyz"))
    assert len(segs) == 2
    first = read_structure(segs[0])
    np.testing.assert_allclose(first.cell.array, crystal.cell.array)
    assert len(first) == 4 and first.info["phase"] == "solid" and first.info["md_step"] == 3
    shift = (first.positions - crystal.positions) @ np.linalg.inv(crystal.cell.array)
    shift = (shift - np.round(shift)) @ crystal.cell.array  # minimum image: the segment wraps positions
    assert np.linalg.norm(shift, axis=1).max() < 0.5  # three steps at 300 K move little
    moved = crystal.copy()
    moved.positions[0] += 0.1
    write_structure(start, moved, format="extxyz")
    again = subprocess.run(geoelf_cmd(*args), capture_output=True, text=True)
    assert again.returncode == 2 and "other settings (start_sha256)" in again.stderr


HOLD_CLAIMS = """
import json, sys
from geoelf.dft.claims import try_claim
got = [item for item in sys.argv[1:] if try_claim(item)]
print(json.dumps(got), flush=True)
sys.stdin.read()  # hold them until the test closes stdin (or kills this process)
"""


def _holding(*items: Path) -> subprocess.Popen:
    """A second process that claims ``items`` and holds what it got; its first stdout line lists them."""
    return subprocess.Popen(
        [sys.executable, "-c", HOLD_CLAIMS, *map(str, items)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_a_claim_belongs_to_one_live_process_until_it_is_gone(tmp_path):
    import json

    from geoelf.dft.claims import _release_all, claim_path, claimed, holder, release, try_claim

    item = tmp_path / "md" / "h64_rs1.40_T1000_s1"
    other = _holding(item)
    assert json.loads(other.stdout.readline()) == [str(item)]
    assert holder(item) == other.pid and not try_claim(item)
    with claimed(item) as mine:
        assert not mine
    other.kill()  # no release: the claim file stays behind, stale
    other.wait()
    assert claim_path(item).exists() and holder(item) is None
    assert try_claim(item) and holder(item) == os.getpid()
    assert try_claim(item)  # re-entrant: the generator's claim covers its own MD runs
    release(item)
    assert holder(item) == os.getpid()
    release(item)
    assert not claim_path(item).exists()
    # a claim written on another boot, or by an earlier process whose pid a live one now has, is stale
    claim_path(item).write_text(json.dumps({"boot": "another-boot", "pid": os.getpid(), "started": ""}))
    assert holder(item) is None
    claim_path(item).write_text(json.dumps({"boot": _boot(), "pid": os.getpid(), "started": "1"}))
    assert holder(item) is None
    with claimed(item) as mine:
        assert mine and holder(item) == os.getpid()
        child = os.fork()  # a forked child (a worker pool, say) holds none of its parent's claims
        if child == 0:
            release(item)
            _release_all()  # what the child's exit runs
            os._exit(0 if holder(item) == os.getppid() and not try_claim(item) else 1)
        assert os.waitpid(child, 0)[1] == 0 and holder(item) == os.getpid()
    assert not claim_path(item).exists()


def _boot() -> str:
    from geoelf.dft.claims import BOOT_ID

    return BOOT_ID.read_text().strip() if BOOT_ID.exists() else ""


def test_generators_side_by_side_share_out_a_plan_and_never_run_one_trajectory_twice(tmp_path):
    import json

    from geoelf.dft.md import run_md, sample_and_label

    items = [tmp_path / "md" / f"traj{k}" for k in range(40)]
    first, second = _holding(*items), _holding(*items)
    got = [set(json.loads(p.stdout.readline())) for p in (first, second)]
    assert not got[0] & got[1] and got[0] | got[1] == {str(i) for i in items}
    held = Path(next(iter(got[0] or got[1])))
    with pytest.raises(GeoelfError, match="being run by another process"):
        run_md(held, 64, 1.4, 1000, 1)
    run = {"name": held.name, "natoms": 64, "rs": 1.4, "temperature_k": 1000, "seed": 1}
    sample_and_label(tmp_path, run, 1, Profile(), None)  # skipped: nothing written, no pw.x
    assert not held.exists() and not (tmp_path / "fluid").exists()
    for p in (first, second):
        p.communicate("")
    assert not list((tmp_path / "md").glob("*.claim"))


def test_a_relaxation_killed_part_way_continues_as_if_never_stopped(tmp_path):
    """The optimiser alone, on a Lennard-Jones crystal (the protocol SCF has its own test above): a
    relaxation stopped after 6 steps and resumed from its checkpoint takes the same path as one run
    straight through, because the geometry and the BFGS Hessian are both kept."""
    from ase.build import bulk
    from ase.calculators.lj import LennardJones
    from ase.io import read as read_frames

    from geoelf.dft.relax import relax

    start = bulk("H", "fcc", a=2.2).repeat((2, 1, 1))
    start.rattle(0.05, seed=1)

    def lj() -> LennardJones:
        return LennardJones(sigma=1.6, epsilon=0.05, rc=4.0, smooth=True)

    straight, facts = relax(start, 5.0, fmax=0.005, max_steps=200, calculator=lj())
    stopped, part = relax(start, 5.0, fmax=0.005, max_steps=6, calculator=lj(), checkpoint=tmp_path / "ck")
    assert not part["converged"] and part["steps"] == 6
    resumed, rest = relax(start, 5.0, fmax=0.005, max_steps=200, calculator=lj(), checkpoint=tmp_path / "ck")
    assert facts["converged"] and rest["converged"] and rest["steps"] == facts["steps"] > 6
    assert np.abs(resumed.positions - straight.positions).max() < 1e-6
    assert np.abs(resumed.cell.array - straight.cell.array).max() < 1e-6
    assert len(read_frames(tmp_path / "ck" / "geometries.extxyz", index=":")) == facts["steps"] + 1
    # an optimiser state cut short by a kill is dropped: BFGS starts afresh from the last geometry
    (tmp_path / "ck" / "optimiser.json").write_text('{"1": [[0.1, ')
    again, more = relax(start, 5.0, fmax=0.002, max_steps=200, calculator=lj(), checkpoint=tmp_path / "ck")
    assert more["converged"] and more["fmax_ev_a"] < 0.002
