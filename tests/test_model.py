"""ProbeNet: exact invariances, batching, grid kernel = torch path, packages, training, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.io import write as write_structure
from scipy.spatial.transform import Rotation

from conftest import package_extra
from geoelf.cli.main import main
from geoelf.errors import GeoelfError
from geoelf.model import package
from geoelf.model.batch import make_batch
from geoelf.model.network import NetConfig, ProbeNet
from geoelf.model.grids import dft_grid
from geoelf.model.predict import TASK_POINTS, Predictor, plane_ranges, task_size
from geoelf.train.data import Item

CFG = NetConfig(features=12, vector_features=6, rbf=8, layers=2, cutoff_atom=3.0, cutoff_probe=2.0, hidden=16)
LONG = NetConfig(**{**CFG.as_dict(), "long_range_sigmas": [0.8, 1.6]})
TENSOR = NetConfig(**{**CFG.as_dict(), "tensor_features": 4})
# atom vectors and tensors, more of them than rank-2 probe channels (both branches of the invariants)
ORIENT = NetConfig(**{**CFG.as_dict(), "tensor_features": 4, "atom_vector_features": 5, "atom_tensor_features": 6})
# angular invariants inside the atom interactions as well
ANGULAR = NetConfig(**{**ORIENT.as_dict(), "atom_angular_features": 3})
# probe channels of angular order 3 and 4 beside the rank-2 ones
HIGH_L = NetConfig(**{**TENSOR.as_dict(), "l3_features": 3, "l4_features": 2})


@pytest.fixture(scope="module", params=["local", "long-range", "tensor", "orient", "angular", "high-l"])
def net(request):
    """The local ProbeNet, the one with long-range channels, the one with rank-2 channels, the one with
    atom vectors (orientation channels), that one with angular atom interactions, and one with l = 3 and 4
    probe channels: every test holds for all six."""
    torch.manual_seed(0)
    return ProbeNet({"local": CFG, "long-range": LONG, "tensor": TENSOR, "orient": ORIENT,
             "angular": ANGULAR, "high-l": HIGH_L}[request.param]).double().eval()


def structure(seed=0, n=6, triclinic=True):
    rng = np.random.default_rng(seed)
    cell = np.array([[2.6, 0, 0], [0.5, 2.4, 0], [0.3, -0.4, 2.8]]) if triclinic else np.eye(3) * 2.7
    return Atoms(f"H{n}", scaled_positions=rng.random((n, 3)), cell=cell, pbc=True)


def run(net, atoms, points):
    batch = make_batch([(atoms, points)], CFG.cutoff_atom, CFG.cutoff_probe, dtype=torch.float64)
    with torch.no_grad():
        return net(batch).numpy()


def test_invariances(net):
    atoms = structure()
    pts = np.random.default_rng(1).random((50, 3)) @ atoms.cell.array
    ref = run(net, atoms, pts)
    # translation of everything
    moved = atoms.copy()
    moved.positions += [0.3, -1.1, 0.7]
    np.testing.assert_allclose(run(net, moved, pts + [0.3, -1.1, 0.7]), ref, atol=1e-10)
    # lattice translation of one atom, and of the probes
    lat = atoms.copy()
    lat.positions[2] += atoms.cell.array[0] - 2 * atoms.cell.array[2]
    np.testing.assert_allclose(run(net, lat, pts + atoms.cell.array[1]), ref, atol=1e-10)
    # permutation of atoms
    perm = atoms[np.random.default_rng(2).permutation(len(atoms))]
    np.testing.assert_allclose(run(net, perm, pts), ref, atol=1e-10)
    # rotation of cell, atoms and probes
    R = Rotation.from_euler("xyz", [0.3, -1.2, 2.0]).as_matrix()
    rot = Atoms(atoms.numbers, positions=atoms.positions @ R.T, cell=atoms.cell.array @ R.T, pbc=True)
    np.testing.assert_allclose(run(net, rot, pts @ R.T), ref, atol=1e-10)


def test_batched_equals_one_by_one(net):
    a, b = structure(3), structure(4, n=9, triclinic=False)
    pa = np.random.default_rng(5).random((30, 3)) @ a.cell.array
    pb = np.random.default_rng(6).random((40, 3)) @ b.cell.array
    batch = make_batch([(a, pa), (b, pb)], CFG.cutoff_atom, CFG.cutoff_probe, dtype=torch.float64)
    with torch.no_grad():
        both = net(batch).numpy()
    np.testing.assert_allclose(both, np.concatenate([run(net, a, pa), run(net, b, pb)]), atol=1e-12)
    # training's cached atom pairs (Item.atom_pairs) give the same batch as a fresh search
    items = [Item(s, np.zeros((2, 2, 2), np.float32), {}) for s in (a, b)]
    cached = make_batch([(a, pa), (b, pb)], CFG.cutoff_atom, CFG.cutoff_probe, dtype=torch.float64,
                        atom_pairs=[it.atom_pairs(CFG.cutoff_atom) for it in items])
    assert items[0].atom_pairs(CFG.cutoff_atom) is items[0].atom_pairs(CFG.cutoff_atom)
    for key in ("ai", "aj", "d_aa", "pi", "pa", "disp"):
        assert torch.equal(cached[key], batch[key]), key


def test_the_device_neighbour_search_gives_the_kd_tree_pairs_and_the_same_elf(net):
    """The brute-force torch search (the GPU training path, run here on the CPU) against the KD-tree."""
    from geoelf.neighbours import neighbour_pairs, neighbour_pairs_torch

    a, b = structure(7), structure(8, n=9, triclinic=False)
    pa = np.random.default_rng(9).random((300, 3)) @ a.cell.array * 1.7 - 1.0  # points outside the cell too
    pb = np.random.default_rng(10).random((40, 3)) @ b.cell.array
    for pts, exclude in ((pa, False), (a.positions, True)):
        p, q, d = neighbour_pairs(pts, a.positions, a.cell.array, 3.0, exclude_self=exclude)
        tp, tq, td = neighbour_pairs_torch(pts, a.positions, a.cell.array, 3.0, exclude_self=exclude, max_block=5000)
        key = lambda p, q, d: sorted(zip(p.tolist(), q.tolist(), np.round(np.asarray(d), 9).tolist()))  # noqa: E731
        assert len(p) > 100 and key(p, q, d) == key(tp.numpy(), tq.numpy(), td.numpy())
        # and both find every pair that a generous ±4 images by brute force finds
        k = np.stack(np.meshgrid(*[np.arange(-4, 5)] * 3, indexing="ij"), -1).reshape(-1, 3) @ a.cell.array
        r = np.linalg.norm(pts[:, None, None, :] - a.positions[None, :, None, :] - k[None, None, :, :], axis=-1)
        assert len(p) == np.count_nonzero((r < 3.0) & (r > (1e-8 if exclude else -1)))
    cut = (CFG.cutoff_atom, CFG.cutoff_probe)
    on_device = make_batch([(a, pa), (b, pb)], *cut, dtype=torch.float64, brute_force=True)
    with torch.no_grad():
        both = net(on_device).numpy()
    np.testing.assert_allclose(both, np.concatenate([run(net, a, pa), run(net, b, pb)]), atol=1e-12)


def test_rank2_invariant_sees_a_bond_midpoint_where_the_vectors_cancel():
    from geoelf.model.network import outer_components, tensor_invariants

    unit = torch.tensor([[1.0, 0, 0], [-1.0, 0, 0]], dtype=torch.float64)  # two atoms on a line, probe between
    t = outer_components(unit).sum(0).reshape(1, 1, 6)
    assert unit.sum(0).abs().max() == 0  # the vector channel cancels
    assert float(tensor_invariants(t)) == pytest.approx(4 * (1 - 1 / 3))  # |2 x̂x̂ᵀ − (2/3) I|²
    # isotropic neighbours (±x, ±y, ±z) give a zero traceless part
    six = torch.cat([torch.eye(3), -torch.eye(3)]).double()
    assert float(tensor_invariants(outer_components(six).sum(0).reshape(1, 1, 6))) == pytest.approx(0.0, abs=1e-12)


def test_high_order_harmonics_obey_the_addition_theorem():
    """Σ_m Y_lm(a) Y_lm(b) = P_l(a · b) for l = 3, 4: what makes their power spectra rotation invariant."""
    from geoelf.model.network import spherical_l3, spherical_l4

    g = torch.Generator().manual_seed(1)
    a, b = (torch.nn.functional.normalize(torch.randn(200, 3, generator=g, dtype=torch.float64), dim=1) for _ in range(2))
    c = (a * b).sum(1)
    legendre = {7: (5 * c**3 - 3 * c) / 2, 9: (35 * c**4 - 30 * c**2 + 3) / 8}
    for harmonics in (spherical_l3, spherical_l4):
        ya, yb = harmonics(a), harmonics(b)
        assert torch.allclose((ya * yb).sum(1), legendre[ya.shape[1]], atol=1e-12)


def test_grid_kernel_equals_torch_path_in_a_cell_smaller_than_the_cutoff(net, tmp_path):
    atoms = structure(7, n=3)  # 2.4–2.8 Å cell, cutoffs 2.0/3.0 Å: many periodic images
    package.save(net.float(), tmp_path / "m", package_extra("t", net))
    net.double()
    pred = Predictor(str(tmp_path / "m"))
    shape = (9, 10, 11)
    grid = pred.grid(atoms, shape, task_points=150)  # several tasks
    frac = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1).reshape(-1, 3)
    direct = pred.points(atoms, frac @ atoms.cell.array, chunk=333)
    np.testing.assert_allclose(grid.field.data.ravel(), direct, atol=2e-6)
    assert 0 < grid.field.data.min() and grid.field.data.max() < 1
    pred.head_points = 97  # the head in chunks of points gives the same field
    np.testing.assert_allclose(pred.grid(atoms, shape).field.data, grid.field.data, atol=1e-6)  # float32 sums


def test_the_grid_kernel_leaves_no_garbage_holding_its_outputs(tmp_path):
    """Through numba's dispatcher each call left a reference cycle that held the call's output arrays
    until the garbage collector ran (3.0 GB instead of 1.5 GB for 2,000 atoms on 200³); the compiled
    entry point, used from the second call on, leaves none."""
    import gc

    torch.manual_seed(0)
    tiny = ProbeNet(HIGH_L)
    package.save(tiny, tmp_path / "m", package_extra("t", tiny))
    pred, atoms = Predictor(str(tmp_path / "m")), structure(11)
    first = pred.grid(atoms, (8, 9, 10), task_points=200).field.data  # compiles, and remembers the entry point
    gc.collect()
    gc.disable()
    try:
        again = pred.grid(atoms, (8, 9, 10), task_points=200).field.data
        assert gc.collect() == 0
    finally:
        gc.enable()
    np.testing.assert_array_equal(again, first)


def test_one_predictor_reuses_its_task_buffer_and_each_frame_gets_its_own_field(tmp_path):
    """The grid kernel writes into a buffer each thread keeps from task to task and frame to frame (grown
    for a larger task): every field equals that of a fresh Predictor."""
    from geoelf.model.grid_kernel import grid_features

    torch.manual_seed(2)
    tiny = ProbeNet(HIGH_L)
    package.save(tiny, tmp_path / "m", package_extra("t", tiny))
    small, large = structure(12), structure(13, n=9)
    before = torch.get_num_threads()
    pred = Predictor(str(tmp_path / "m"), threads=1)  # the tasks on this thread, with its buffer
    first = pred.grid(small, (8, 9, 10), task_points=200).field.data
    size = pred._buffers.memory.size
    second = pred.grid(large, (12, 10, 9), task_points=400).field.data  # larger tasks: the buffer grows
    assert pred._buffers.memory.size > size
    again = pred.grid(small, (8, 9, 10), task_points=200).field.data
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(second, Predictor(str(tmp_path / "m")).grid(large, (12, 10, 9), task_points=400).field.data)
    torch.set_num_threads(before)
    with pytest.raises(ValueError, match="C-contiguous float32 array of shape"):  # a wrong buffer is refused
        grid_features((4, 4, 4), small.cell.array, small.positions, np.zeros((9, 2, 6), np.float32),
                      np.zeros((6, 6), np.float32), (6, 0, 0, 0, 0), 2.0, (0, 2), out=np.empty((31, 6), np.float32))


def test_bfloat16_features_from_the_kernel_are_torchs_rounding_and_give_the_same_field(tmp_path):
    """A bfloat16 head reads the kernel's own bfloat16 output: bit for bit torch's rounding of the float32
    features (ties to even included), so the field is the one from float32 features rounded by torch."""
    from geoelf.model.grid_kernel import to_bfloat16

    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(scale=10.0 ** rng.integers(-6, 6, 5000), size=5000), [0.0, -0.0, 1.0]]).astype(np.float32)
    ties = (x.view(np.uint32) & np.uint32(0xFFFF0000) | np.uint32(0x8000)).view(np.float32)  # exactly half way
    for values in (x, ties):
        bits = np.empty(len(values), np.uint16)
        to_bfloat16(values, bits)
        assert np.array_equal(bits, torch.from_numpy(values).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16))
    torch.manual_seed(3)
    tiny = ProbeNet(ORIENT)
    package.save(tiny, tmp_path / "m", package_extra("t", tiny))
    pred, atoms, shape = Predictor(str(tmp_path / "m"), precision="bfloat16"), structure(14), (9, 8, 10)
    field = pred.grid(atoms, shape, task_points=150).field.data
    frame = pred.frame_inputs(atoms, shape, bfloat16=False)
    # float32 features, rounded by torch in the head
    rows = [pred.head(*frame.features(planes, np.empty))[0] for planes in plane_ranges(shape, 150)]
    np.testing.assert_array_equal(field.ravel(), np.concatenate(rows))


def test_tasks_shared_among_threads_give_the_one_thread_field_and_leave_torch_as_it_was(tmp_path):
    """With several threads a frame's tasks (kernel and head on a few planes) run on a pool of Python
    threads (torch on one thread meanwhile): the same field as one thread, and torch's thread count
    is given back afterwards."""
    torch.manual_seed(4)
    tiny = ProbeNet(HIGH_L)
    package.save(tiny, tmp_path / "m", package_extra("t", tiny))
    atoms, shape = structure(15), (10, 9, 12)
    before = torch.get_num_threads()
    one = Predictor(str(tmp_path / "m"), threads=1)
    one.head_points = 64  # many chunks
    alone = one.grid(atoms, shape, task_points=200).field.data
    torch.set_num_threads(before)
    two = Predictor(str(tmp_path / "m"), threads=2)
    two.head_points = 64
    torch.set_num_threads(2)
    shared = two.grid(atoms, shape, task_points=200).field.data  # many tasks
    assert two._pool is not None and two._pool_size == 2 and torch.get_num_threads() == 2
    np.testing.assert_array_equal(shared, alone)
    torch.set_num_threads(before)


@pytest.mark.parametrize("shape", [(48, 48, 48), (200, 200, 200), (7, 30, 31), (1, 5, 5), (300, 2, 2)])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_frames_tasks_cover_every_plane_once_within_the_buffer_bound(shape, workers):
    """Tasks are consecutive whole planes that cover the grid once; one task a thread alone (for a
    frame within TASK_POINTS), several a thread with more (a slowed thread takes fewer), and the
    threads' tasks together never exceed TASK_POINTS points unless one plane alone does."""
    points = task_size(shape, workers)
    ranges = plane_ranges(shape, points)
    assert [i for i0, i1 in ranges for i in range(i0, i1)] == list(range(shape[0]))
    plane = shape[1] * shape[2]
    largest = max(i1 - i0 for i0, i1 in ranges) * plane
    assert largest * workers <= TASK_POINTS or max(i1 - i0 for i0, i1 in ranges) == 1
    if workers == 1 and np.prod(shape) <= TASK_POINTS:
        assert len(ranges) == 1
    if workers > 1 and np.prod(shape) <= TASK_POINTS:
        assert len(ranges) >= min(shape[0], 3 * workers)
    assert plane_ranges((48, 48, 48), task_size((48, 48, 48), 2)) == [(i, i + 6) for i in range(0, 48, 6)]


def test_radial_table_interpolates_the_gaussian_sums_to_fourth_order():
    from geoelf.model.grid_kernel import radial_table
    from geoelf.model.network import RadialBasis

    basis = RadialBasis(12, 2.0).double()
    filters = np.random.default_rng(3).normal(size=(12, 5))
    r = np.random.default_rng(4).random(4000) * 2.0
    exact = basis(torch.from_numpy(r)).numpy() @ filters
    errors = []
    for per_width, intervals in ((4, 48), (8, 96)):  # 12 Gaussian widths in the cutoff
        table = radial_table(filters, basis.centres.numpy(), basis.width, 2.0, per_width, dtype=np.float64)
        assert table.shape == (intervals + 1, 2, 5)
        m = np.minimum((r * intervals / 2.0).astype(int), intervals - 1)
        t = (r * intervals / 2.0 - m)[:, None]
        lo, hi = table[m], table[m + 1]  # values and slopes at the interval's ends
        value = ((1 + 2 * t) * (1 - t) ** 2 * lo[:, 0] + t * (1 - t) ** 2 * lo[:, 1]
                 + t * t * (3 - 2 * t) * hi[:, 0] + t * t * (t - 1) * hi[:, 1])
        errors.append(np.abs(value - exact).max() / np.abs(exact).max())
    assert errors[1] < 5e-6 and 10 < errors[0] / errors[1] < 25  # halving the step: ≈ 2⁴ smaller


def test_package_round_trip_and_errors(net, tmp_path):
    atoms = structure(8)
    pts = np.random.default_rng(9).random((20, 3)) @ atoms.cell.array
    package.save(net.float(), tmp_path / "m", package_extra("t", net))
    loaded, config = package.load(str(tmp_path / "m"))
    with torch.no_grad():
        a = net(make_batch([(atoms, pts)], 3.0, 2.0))
        b = loaded(make_batch([(atoms, pts)], 3.0, 2.0))
    net.double()
    assert torch.equal(a, b) and config["net"]["features"] == 12
    with pytest.raises(GeoelfError):
        Predictor(str(tmp_path / "m")).grid(Atoms("LiH", positions=[[0, 0, 0], [1.5, 0, 0]], cell=[3, 3, 3], pbc=True), (4, 4, 4))
    (tmp_path / "m" / "weights.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(GeoelfError, match="does not match the sha256"):
        package.load(str(tmp_path / "m"))
    with pytest.raises(GeoelfError, match="no model folder"):
        package.load(str(tmp_path / "nowhere"))


def test_dft_grid_matches_pw_x():
    # pw.x chose 40³ for a 4.26515 Å cube and 24³ for the captured H2 cell at 60 Ry
    assert dft_grid(np.eye(3) * 4.26515) == (40, 40, 40)
    assert dft_grid(np.array([[2.2, 0, 0], [0.3, 2.3, 0], [0.2, 0.1, 2.4]])) == (24, 24, 24)


def tiny_train(tmp_path, **extra):
    from geoelf.train.loop import train

    return train(tiny_config(tmp_path, **extra), progress=False)


def tiny_config(tmp_path, **extra):
    from geoelf.train.config import load_config

    args = ["synthetic=4", "steps=40", "val_every=10", f"out={tmp_path}", "batch_structures=2", "probes_per_structure=300",
            "val_probes=1500", "lr=0.01", "lr_final=0.001", "threads=1",
            "net={features: 12, vector_features: 6, rbf: 8, layers: 2, cutoff_atom: 3.0, cutoff_probe: 2.0, hidden: 16}"]
    args += [f"{k}={v}" for k, v in extra.items()]
    return load_config(None, args)


def test_tiny_seeded_training_learns_and_resumes_exactly(tmp_path):
    model = tiny_train(tmp_path / "a")
    hist = json.loads((tmp_path / "a" / "checkpoint.json").read_text())["history"]
    assert hist[-1]["val_mae"] < 0.7 * hist[0]["val_mae"]
    assert (tmp_path / "a" / "loss.png").stat().st_size > 1000 and (tmp_path / "a" / "config.resolved.yaml").exists()
    tiny_train(tmp_path / "b", stop_at=20)
    tiny_train(tmp_path / "b")  # resumes at step 20
    from safetensors.torch import load_file

    a = load_file(str(tmp_path / "a" / "checkpoint.safetensors"))
    b = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    assert model.name == "model" and (model / "config.json").exists()


def test_weight_average_is_validated_packaged_and_resumed(tmp_path):
    """ema=0.9: the package holds the averaged weights (not the last step's), the history shows both
    validations, and a run stopped and resumed ends with the same average as one that was not."""
    from safetensors.torch import load_file

    model = tiny_train(tmp_path / "a", ema=0.9)
    hist = json.loads((tmp_path / "a" / "checkpoint.json").read_text())["history"]
    assert all("raw_val_mae" in h for h in hist) and hist[-1]["val_mae"] < 0.7 * hist[0]["val_mae"]
    assert hist[-1]["val_mae"] != hist[-1]["raw_val_mae"]
    ckpt = load_file(str(tmp_path / "a" / "checkpoint.safetensors"))
    # the package, validated again, gives the averaged weights' figure of its validation, not the raw one
    from geoelf.model import package
    from geoelf.train.loop import _val_set, evaluate_probes, training_items

    cfg = tiny_config(tmp_path / "a", ema=0.9)
    net, meta = package.load(str(model))
    mae = evaluate_probes(net, _val_set(training_items(cfg)[1], cfg.val_probes, cfg.seed + 1), net.config)["mae"]
    last = meta["training"]["last"]
    assert mae == pytest.approx(last["val_mae"], rel=1e-5) and abs(mae - last["raw_val_mae"]) > 1e-4
    key = next(k for k in ckpt if k.startswith("ema.head."))
    assert not torch.allclose(ckpt[key], ckpt["model." + key[4:]])
    tiny_train(tmp_path / "b", ema=0.9, stop_at=20)
    tiny_train(tmp_path / "b", ema=0.9)
    resumed = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    for key in ckpt:
        torch.testing.assert_close(ckpt[key], resumed[key], rtol=1e-5, atol=1e-6)


def test_training_through_torch_compile_takes_the_eager_step(tmp_path):
    """compile=true (inductor, dynamic shapes) gives the same loss and, after one Adam step taken with
    its gradients, the same validation error as eager training."""
    first = {}
    for name, flag in (("eager", "false"), ("compiled", "true")):
        tiny_train(tmp_path / name, steps=1, val_every=1, compile=flag)
        first[name] = json.loads((tmp_path / name / "checkpoint.json").read_text())["history"][0]
    assert first["compiled"]["train_mse"] == pytest.approx(first["eager"]["train_mse"], rel=1e-5)
    assert first["compiled"]["val_mae"] == pytest.approx(first["eager"]["val_mae"], rel=1e-4)


def test_a_diverging_run_returns_to_its_last_good_state(tmp_path):
    """A rate that grows 100,000-fold over the run (lr_final >> lr) makes it diverge after its first
    validation; each later validation then sends it back to step 10 with half the rate, so the
    checkpoint (what a resumed run continues from) and the package hold step 10's weights."""
    from safetensors.torch import load_file

    from geoelf.model.network import NetConfig, ProbeNet
    from geoelf.train.loop import _val_set, evaluate_probes, training_items

    tiny_train(tmp_path, lr=0.01, lr_final=1000, steps=60)
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    hist = state["history"]
    back = [h.get("rolled_back_to_step") for h in hist]
    assert back[0] is None and back.count(10) >= 4 and set(back[1:]) <= {None, 10}
    assert state["lr_scale"] == 0.5 ** back.count(10) and state["best_mae"] == hist[0]["val_mae"]
    cfg = tiny_config(tmp_path, lr=0.01, lr_final=1000, steps=60)
    net = ProbeNet(NetConfig(**cfg.net))
    net.load_state_dict({k[6:]: v for k, v in load_file(str(tmp_path / "checkpoint.safetensors")).items() if k.startswith("model.")})
    mae = evaluate_probes(net, _val_set(training_items(cfg)[1], cfg.val_probes, cfg.seed + 1), net.config)["mae"]
    assert mae == pytest.approx(hist[0]["val_mae"], rel=1e-5)


def test_a_budgeted_run_decays_the_rate_by_time_and_validates_its_last_step(tmp_path):
    # no validation before the budget ends (val_every): one costs far more than a step, and the
    # rate is checked against the clock only between steps
    tiny_train(tmp_path, steps=10**6, minutes=0.05, lr_by_time="true", val_every=10**6)
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    assert 0 < state["step"] < 10**6 and state["history"][-1]["step"] == state["step"]
    # the rate at the last step is within one step's share of the budget of lr_final (0.001)
    assert 0.001 <= state["history"][-1]["lr"] < 0.0012


def test_predict_and_evaluate_cli(tmp_path, capsys):
    model = tiny_train(tmp_path / "run", steps=10, val_every=10)
    atoms = structure(11, n=8, triclinic=False)
    write_structure(tmp_path / "traj.extxyz", [atoms, atoms], format="extxyz")
    assert main(["predict", str(tmp_path / "traj.extxyz"), "--model", str(model), "--grid", "12", "12", "12",
                 "-o", str(tmp_path / "p.cube"), "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["frame"] for d in docs] == [0, 1] and docs[0]["grid"] == [12, 12, 12]
    assert (tmp_path / "p_00000.cube").exists() and (tmp_path / "p_00001.cube").exists()
    assert main(["evaluate", str(tmp_path / "p_00000.cube"), "--model", str(model), "--json", "--plots", str(tmp_path / "plots")]) == 0
    doc = json.loads(capsys.readouterr().out)
    f = doc["files"][0]
    assert f["r2"] == pytest.approx(1.0, abs=1e-9) and f["mae"] < 1e-5  # the model against its own prediction
    assert f["cp_matched"] == f["cp_ref"] and f["phi_3d_pred"] == pytest.approx(f["phi_3d_ref"], abs=1e-6)
    for key in ("model", "files", "aggregate"):
        assert key in doc
    for key in ("path", "r2", "mae", "rmse", "max_abs", "w1", "phi_3d_ref", "phi_3d_pred", "cp_matched", "cp_ref", "seconds_predict"):
        assert key in f
    assert (tmp_path / "plots" / "parity.png").exists()


def test_cnn_baseline_trains_and_evaluates_like_a_model(tmp_path, capsys):
    from geoelf.io import write
    from geoelf.train.config import load_config
    from geoelf.train.data import synthetic_items
    from geoelf.train.loop import train

    cfg = load_config(None, ["architecture=elfnet-cnn", "synthetic=3", "steps=12", "val_every=6", f"out={tmp_path / 'cnn'}",
                             "batch_structures=2", "lr=0.01", "threads=1", "net={channels: 4, blocks: 1}"])
    model = train(cfg, progress=False)
    hist = json.loads((tmp_path / "cnn" / "checkpoint.json").read_text())["history"]
    assert hist[-1]["val_mae"] < hist[0]["val_mae"] or len(hist) == 1
    item = synthetic_items(1, 42)[0]
    from geoelf.field import Field

    write(Field(item.elf.astype(float), item.atoms), str(tmp_path / "ref.cube"))
    assert main(["evaluate", str(tmp_path / "ref.cube"), "--model", str(model), "--json", "--no-topology"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "model" and 0 < doc["files"][0]["mae"] < 0.5
    cell = item.atoms.cell.array
    shifted = item.atoms.copy()
    shifted.positions += cell[0] / 16 * 3  # a translation by whole grid steps: the CNN is equivariant to it
    from geoelf.model.baselines import get_model

    m = get_model(str(model))
    a = m.grid(item.atoms, (16, 16, 16)).field.data
    b = m.grid(shifted, (16, 16, 16)).field.data
    np.testing.assert_allclose(np.roll(a, 3, axis=0), b, atol=1e-5)


def test_superposed_1s_matches_an_explicit_image_sum_in_a_triclinic_cell():
    from geoelf.model.atomic_density import BOHR, superposed_1s
    from geoelf.model.atomic_density import promolecular

    atoms = Atoms("H3", positions=[[0.1, 0.2, 0.3], [0.9, 0.4, 1.1], [1.7, 1.5, 0.2]],
                  cell=[[2.2, 0, 0], [0.6, 2.0, 0], [0.3, -0.4, 2.4]], pbc=True)
    shape = (6, 7, 8)
    rho, grad, tau = superposed_1s(atoms, shape, cutoff=4.0)
    frac = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1).reshape(-1, 3)
    pts = frac @ atoms.cell.array
    shifts = np.stack(np.meshgrid(*[np.arange(-5, 6)] * 3, indexing="ij"), -1).reshape(-1, 3) @ atoms.cell.array
    want_rho, want_grad = np.zeros(len(pts)), np.zeros((len(pts), 3))
    for pos in atoms.positions:
        d = pts[:, None, :] - (pos + shifts)[None]  # (P, images, 3) Å
        r = np.linalg.norm(d, axis=-1)
        dens = np.where(r < 4.0, np.exp(-2 * r / BOHR) / np.pi, 0.0)
        want_rho += dens.sum(1)
        want_grad += np.sum(-2 * dens[..., None] * d / r[..., None], axis=1)
    np.testing.assert_allclose(rho.reshape(-1), want_rho, rtol=1e-12)
    np.testing.assert_allclose(tau.reshape(-1), want_rho / 2, rtol=1e-12)
    np.testing.assert_allclose(grad.reshape(-1, 3), want_grad, rtol=1e-10, atol=1e-14)
    # one atom alone in a big cell is one orbital: τ = τ_W, so its promolecular ELF is 1 everywhere
    # (off the nucleus, where the cusp has no gradient)
    lone = Atoms("H", positions=[[1.1, 2.2, 3.3]], cell=[12.0, 12.0, 12.0], pbc=True)
    rho1, elf1 = promolecular(lone, (24, 24, 24))
    near = rho1 > 1e-6
    assert near.sum() > 1000 and np.allclose(elf1[near], 1.0, atol=1e-9)
    assert rho1.max() <= 1 / np.pi


def test_a_budgeted_cnn_run_decays_the_rate_by_time_and_validates_its_last_step(tmp_path):
    from geoelf.train.config import load_config
    from geoelf.train.loop import train

    cfg = load_config(None, ["architecture=elfnet-cnn", "synthetic=2", "steps=1000000", "val_every=1000000", "minutes=0.03",
                             "lr_by_time=true", "lr=0.01", "lr_final=0.001", f"out={tmp_path}", "batch_structures=1",
                             "threads=1", "net={channels: 4, blocks: 1}"])
    train(cfg, progress=False)
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    assert 0 < state["step"] < 10**6 and state["history"][-1]["step"] == state["step"]
    assert 0.001 <= state["history"][-1]["lr"] < 0.0013  # within one step's share of the budget of lr_final


def test_without_a_compiled_entry_point_the_kernel_goes_through_the_dispatcher(net, tmp_path, monkeypatch):
    """Where numba's overloads hold no entry point for the widths (another numba version), every call
    goes through the dispatcher, without compiling again or holding the compile lock: the same field."""
    from geoelf.model import grid_kernel

    package.save(net.float(), tmp_path / "m", package_extra("t", net))
    net.double()
    pred, atoms = Predictor(str(tmp_path / "m"), threads=2), structure(3)
    first = pred.grid(atoms, (6, 7, 8), task_points=40).field.data  # compiled; several tasks on 2 threads
    monkeypatch.setattr(grid_kernel, "_ENTRY_POINTS", dict.fromkeys(grid_kernel._ENTRY_POINTS))
    with grid_kernel._COMPILING:  # held: a call that tried to compile again would wait forever
        again = pred.grid(atoms, (6, 7, 8), task_points=40).field.data
    np.testing.assert_array_equal(again, first)


def test_a_slow_first_kernel_call_says_it_is_compiling(net, tmp_path, caplog, monkeypatch):
    """The first call of the grid kernel for a model's widths compiles (or loads the cache); past
    COMPILE_NOTICE_S it logs a one-line notice instead of looking hung (here the limit is 0 s)."""
    from geoelf.model import grid_kernel

    package.save(net.float(), tmp_path / "m", package_extra("t", net))
    net.double()
    monkeypatch.setattr(grid_kernel, "COMPILE_NOTICE_S", 0.0)
    monkeypatch.setattr(grid_kernel, "_ENTRY_POINTS", {})
    with caplog.at_level("WARNING", logger="geoelf.model.grid_kernel"):
        Predictor(str(tmp_path / "m")).grid(structure(3), (6, 6, 6))
    assert [r.getMessage() for r in caplog.records] == [grid_kernel.COMPILE_NOTICE]
    # the compiled entry point is found in numba's overloads on the installed numba (else every call
    # would go through the dispatcher, twice as slow for small grids)
    assert len(grid_kernel._ENTRY_POINTS) == 1 and None not in grid_kernel._ENTRY_POINTS.values()
    caplog.clear()
    with caplog.at_level("WARNING", logger="geoelf.model.grid_kernel"):
        Predictor(str(tmp_path / "m")).grid(structure(3), (6, 6, 6))  # the entry point is known: no notice
    assert not caplog.records


def test_a_bfloat16_head_stays_within_its_rounding_and_is_recorded(tmp_path, monkeypatch):
    """The bfloat16 head (the default where the CPU has native bfloat16) against float32 on the same
    grid: differences of the order of bfloat16's rounding (8 bits), and the precision in the provenance."""
    from geoelf.model.precision import head_precision

    torch.manual_seed(0)
    net = ProbeNet(TENSOR)
    package.save(net, tmp_path / "m", package_extra("t", net))
    atoms = structure(3)
    exact = Predictor(str(tmp_path / "m"), precision="float32")
    low = Predictor(str(tmp_path / "m"), precision="bfloat16")
    a = exact.grid(atoms, (12, 12, 12)).field.data
    b = low.grid(atoms, (12, 12, 12)).field.data
    assert 0 < np.abs(a - b).max() < 0.01
    assert (exact.provenance["head_precision"], low.provenance["head_precision"]) == ("float32", "bfloat16")
    monkeypatch.setenv("GEOELF_HEAD_PRECISION", "bfloat16")
    assert head_precision() == "bfloat16" and head_precision("float32") == "float32"
    monkeypatch.setenv("GEOELF_HEAD_PRECISION", "half")
    with pytest.raises(GeoelfError, match="head precision must be one of auto, bfloat16, float32"):
        head_precision()
