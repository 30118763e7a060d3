"""Prediction: ELF of a structure on a grid (fused kernel and head, in tasks of grid planes) or at arbitrary points."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms

from geoelf.errors import GeoelfError
from geoelf.field import Field, check_cell
from geoelf.model.grids import dft_grid, grid_shape  # noqa: F401 — the public API's names, with Predictor
from geoelf.model.precision import head_precision
from geoelf.units import wigner_seitz_rs

if TYPE_CHECKING:
    from geoelf.electronic.features import ChannelGrid

log = logging.getLogger(__name__)
# the tolerances of the domain check beyond the training ranges: rs in bohr, the shortest H–H distance in Å
RS_TOLERANCE = 0.03
HH_TOLERANCE = 0.02
COINCIDENT_A = 0.01  # Å: two atoms closer than this are one atom given twice
# A frame's grid planes are computed in tasks (``task_size``): one a thread alone, so the kernel's
# radial table stays in cache from plane to plane (the head between two tasks evicts some of it: a
# 64-atom frame on one thread in tasks of 3 planes, 0.19 → 0.20 s), and TASKS_PER_THREAD a thread with
# several, so that a thread slowed by another process takes fewer of them (beside one busy process a
# 64-atom frame on 2 threads: 0.17 s in 2 tasks, 0.15 s in 8; quiet 0.10 and 0.11 s).
TASKS_PER_THREAD = 4
# grid points of all threads' tasks at once, which bounds the kernel's output buffers (2,000 atoms on
# 200³: 0.65 GB at the peak)
TASK_POINTS = 150_000


def check_structure(atoms: Atoms, species: set[int], model: str, source: str | None = None) -> None:
    """GeoelfError unless ``atoms`` is a periodic structure of the model's species, with no two
    atoms at the same place (their self pair would be dropped by distance and the field be wrong)."""
    check_cell(atoms.cell.array, source)
    if not atoms.pbc.all():
        raise GeoelfError("the model needs a periodic cell in all three directions", source)
    other = sorted(set(atoms.numbers.tolist()) - species)
    if other:
        from ase.data import chemical_symbols

        raise GeoelfError(
            f"model {model} covers {', '.join(chemical_symbols[z] for z in sorted(species))} only; "
            f"found {', '.join(chemical_symbols[z] for z in other)}",
            source,
        )
    if len(atoms) > 1:
        from geoelf.neighbours import neighbour_pairs

        i, j, d = neighbour_pairs(atoms.positions, atoms.positions, atoms.cell.array, COINCIDENT_A, exclude_self=True)
        if len(i):  # the self pairs are gone by index: what is left is a second atom at one place
            raise GeoelfError(
                f"atoms {int(i[0])} and {int(j[0])} sit at the same place ({float(np.linalg.norm(d[0])):.3g} Å apart)",
                source,
            )


@dataclass
class Prediction:
    """A predicted ELF ``field`` and what goes with it: the seconds it took, whether the structure is
    outside the training domain (and why), the continuous out-of-domain score (≤ 1 inside), and
    with ``uncertainty`` the calibrated σ(x) of the ELF as a Field on the same grid."""

    field: Field
    seconds: float
    out_of_domain: bool
    domain_notes: list[str] = dataclasses.field(default_factory=list)
    ood_score: float = 0.0
    sigma: Field | None = None


def describe(result: Prediction, isovalue: float = 0.7, calibration: Any = None) -> tuple[dict[str, Any], Any]:
    """A predicted frame's description — the columns of a screening row: φ, critical-point counts,
    H clusters at ``isovalue`` and, when ``result`` carries σ(x) and ``calibration`` is the model's
    error model, σ of each φ (else None) — and the topology analysis behind it."""
    from geoelf.topology.network import analyse, frame_descriptors
    from geoelf.topology.uncertainty import SIGMA_KEYS, frame_sigma

    an = analyse(result.field, grid_26=False)
    sigma: dict[str, float | None] = dict.fromkeys(SIGMA_KEYS)
    if result.sigma is not None and calibration is not None:
        c = calibration
        sigma = frame_sigma(an, result.sigma, c.xi_A, c.samples, c.phi_scale)
    return {**frame_descriptors(result.field, isovalue, an), **sigma}, an


def task_size(shape: tuple[int, int, int], workers: int) -> int:
    """Grid points a task for ``workers`` threads on the grid ``shape`` (see TASKS_PER_THREAD)."""
    points = math.prod(shape)
    if workers < 2:
        return min(points, TASK_POINTS)
    return min(math.ceil(points / (TASKS_PER_THREAD * workers)), TASK_POINTS // workers)


def plane_ranges(shape: tuple[int, int, int], points: int) -> list[tuple[int, int]]:
    """The grid's planes (along its first axis) in ranges (i0, i1) of about ``points`` grid points, at
    least one plane each: the tasks of a frame."""
    step = max(1, points // (shape[1] * shape[2]))
    return [(i0, min(shape[0], i0 + step)) for i0 in range(0, shape[0], step)]


def _one_numba_thread() -> None:
    """numba code in a Predictor's pool threads on one thread each (numba keeps the count per calling
    thread): the pool's threads are the parallelism, and the electronic channels' spline is numba code."""
    import numba

    numba.set_num_threads(1)


@dataclass
class FrameInputs:
    """What the tasks of one frame read (``Predictor.frame_inputs``): the atom state ``h``, the grid
    kernel's radial ``table`` (R + 1, 2, C) and the atoms' channel ``values`` (N, C) split by ``widths``,
    the head's input ``width`` and the kernel's output ``dtype``, the long-range channels on the grid
    (C, n₁, n₂, n₃) and the electronic channels on the grid (or None)."""

    predictor: Predictor
    atoms: Atoms
    shape: tuple[int, int, int]
    h: Any
    table: np.ndarray
    values: np.ndarray
    widths: tuple[int, int, int, int, int]
    width: int
    dtype: np.dtype
    long: np.ndarray | None
    electronic: ChannelGrid | None

    def features(
        self, planes: tuple[int, int], buffer: Callable[[int, np.dtype], np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The head's inputs at the points of grid planes ``planes`` = (i0, i1): the kernel's features
        (P, n), written to ``buffer(size, dtype)`` (valid until the thread's next task), and the long-range
        and electronic channels (P, C) or None."""
        from geoelf.model.grid_kernel import grid_features

        c = self.predictor.net.config
        rbf = self.predictor.net.probe_rbf
        points = (planes[1] - planes[0]) * self.shape[1] * self.shape[2]
        x = grid_features(
            self.shape,
            self.atoms.cell.array,
            self.atoms.positions,
            self.table,
            self.values,
            self.widths,
            rbf.rc,
            planes,
            c.atom_vector_features,
            c.atom_tensor_features,
            out=buffer(points * self.width, self.dtype).reshape(points, self.width),
        )
        return x, self.predictor.extra_at(self.long, self.electronic, planes)


class Predictor:
    """A loaded model that predicts ELF fields. ``model``: a package folder or shipped name;
    ``precision`` of the ELF head on grids: see ``head_precision`` (recorded in the provenance);
    ``calibrated``: read the package's error model (σ), if it has one."""

    # the head runs on chunks of grid points so that its features and hidden layers stay in cache
    # (with the torch invariants: 1.7× on 2 threads, 2× on 1 thread against all 48³ points at once);
    # 4,096 rather than 8,192 leaves more of the kernel's table in cache for the next task (a 64-atom
    # frame in tasks of 3 planes on one thread 0.22 → 0.20 s, in 8 tasks on two 0.115 → 0.110 s)
    head_points = 4096

    def __init__(
        self,
        model: str | None = None,
        threads: int | None = None,
        precision: str | None = None,
        calibrated: bool = True,
    ) -> None:
        import copy

        import torch

        from geoelf.model import package

        self.threads = threads
        if threads:
            # both pools: the numba grid kernel would otherwise start one thread per core in
            # every screening worker, oversubscribing the machine
            torch.set_num_threads(threads)
            self.use_threads()
        self.net, self.config = package.load(model)
        self.name = self.config["name"]
        self.precision = head_precision(precision)
        self.provenance = {**package.provenance(self.config), "head_precision": self.precision}
        # the grid path's head; ``points`` keeps the float32 network (exactly the training model)
        self.grid_head = copy.deepcopy(self.net.head).to(
            torch.bfloat16 if self.precision == "bfloat16" else torch.float32
        )
        self.species = set(self.net.config.species)
        from geoelf.model.uncertainty import load_calibration

        # ``calibrated=False``: the package's calibration is not read (``geoelf calibrate`` is about to
        # replace it, and one fitted for earlier weights would be refused)
        weights = self.config["sha256"]["weights"]
        self.calibration = load_calibration(package.resolve(model), weights) if calibrated else None
        # each thread's buffer for the grid kernel's output, kept from task to task and frame to frame
        # (``_task_buffer``), and the threads that share a frame's tasks (``_tasks``)
        self._buffers = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0

    def check(self, atoms: Atoms, source: str | None = None) -> None:
        check_structure(atoms, self.species, self.name, source)

    def use_threads(self) -> None:
        """numba's thread count for the calling thread set to the Predictor's ``threads`` (if given).

        numba keeps the count per calling thread: a Predictor made in one thread and used from another
        (a thread pool, a Dask worker's executor) would otherwise run the kernels, the one-shot and
        the analysis after it on every core."""
        if self.threads:
            import numba

            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))

    def atom_state(self, atoms: Atoms):
        import torch

        from geoelf.neighbours import neighbour_pairs

        c = self.net.config
        i, j, d = neighbour_pairs(atoms.positions, atoms.positions, atoms.cell.array, c.cutoff_atom, exclude_self=True)
        with torch.no_grad():
            return self.net.atom_state(
                torch.as_tensor(atoms.numbers, dtype=torch.long),
                torch.as_tensor(i),
                torch.as_tensor(j),
                torch.as_tensor(d, dtype=torch.float32),
            )

    def grid(
        self,
        atoms: Atoms,
        shape: tuple[int, int, int],
        task_points: int | None = None,
        source: str | None = None,
        uncertainty: bool = False,
    ) -> Prediction:
        """ELF on the periodic grid ``shape`` of the cell; with ``uncertainty``, also its calibrated σ(x)
        (the package must carry a calibration). The grid's planes are computed in tasks of about
        ``task_points`` points (default: ``task_size``; at least one plane), kernel and head together,
        shared out among the Predictor's threads (``_tasks``)."""
        self.check(atoms, source)
        self.use_threads()
        if uncertainty and self.calibration is None:
            raise GeoelfError(f"model {self.name} has no uncertainty calibration (geoelf calibrate makes one)")
        with self._torch_on_one_thread() as workers:
            t0 = time.perf_counter()
            # a bfloat16 head reads the kernel's bfloat16 output (the same numbers, half the traffic); the
            # σ head reads float32 features
            frame = self.frame_inputs(atoms, shape, self.precision == "bfloat16" and not uncertainty)
            out = np.empty(shape)
            sigma = np.empty(shape) if uncertainty else None

            def task(planes: tuple[int, int]) -> None:
                i0, i1 = planes
                x, extra = frame.features(planes, self._task_buffer)
                elf, sig = self.head(x, extra, uncertainty)
                out[i0:i1] = elf.reshape(i1 - i0, shape[1], shape[2])
                if sigma is not None and sig is not None:
                    sigma[i0:i1] = sig.reshape(i1 - i0, shape[1], shape[2])

            self._tasks(task, plane_ranges(shape, task_points or task_size(shape, workers)), workers)
            ood, notes, score = self.domain(atoms, self.net.invariant(frame.h))
            sigma_field = None
            if sigma is not None:
                from geoelf.model.uncertainty import SIGMA_CEILING, inflation

                sigma = np.minimum(sigma * inflation(score), SIGMA_CEILING)
                sigma_field = Field(sigma, atoms.copy(), "ELF sigma", {"model": self.name})
            seconds = time.perf_counter() - t0  # the domain check is part of every frame's cost
            field = Field(out, atoms.copy(), "ELF", {"model": self.name})
            return Prediction(field, seconds, ood, notes, score, sigma_field)

    @contextlib.contextmanager
    def _torch_on_one_thread(self) -> Iterator[int]:
        """torch on one thread while a frame's tasks run on the Predictor's own threads (its thread count
        given back after): each task's head is one thread's work. Yields the number of threads that share
        the tasks: ``threads`` if given, else torch's thread count before."""
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield self.threads or before
        finally:
            torch.set_num_threads(before)

    def _tasks(self, task: Callable[[tuple[int, int]], Any], planes: list[tuple[int, int]], workers: int) -> list[Any]:
        """``task`` on each range of grid planes, shared out among ``workers`` threads; its results in order.

        Why tasks of a few planes, kernel and head together, each on one thread: parallel loops inside
        the kernel and the head met at a barrier after every plane loop and every layer (about 70 a
        64-atom frame), and beside a busy process a descheduled thread held up the other at each; a
        thread that takes the next task when it finishes its last waits only at the frame's end."""
        if workers < 2 or len(planes) < 2:
            return [task(p) for p in planes]
        if self._pool is None or self._pool_size != workers:
            if self._pool is not None:
                self._pool.shutdown()
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="geoelf", initializer=_one_numba_thread)
            self._pool_size = workers
        return list(self._pool.map(task, planes))  # list(): waits, and raises a task's error

    def _task_buffer(self, size: int, dtype: np.dtype) -> np.ndarray:
        """An array of ``size`` elements of ``dtype`` for the grid kernel's output, in memory that the calling
        thread reuses from task to task and frame to frame (grown when a larger task needs it): a fresh
        array for every task would pay its page faults each time."""
        nbytes = size * dtype.itemsize
        buffer = getattr(self._buffers, "memory", None)
        if buffer is None or buffer.size < nbytes:
            self._buffers.memory = None  # the old one freed before the new one is made
            self._buffers.memory = buffer = np.empty(nbytes, dtype=np.uint8)
        return buffer[:nbytes].view(dtype)

    def frame_inputs(self, atoms: Atoms, shape: tuple[int, int, int], bfloat16: bool = False) -> FrameInputs:
        """What every task of a frame reads: the atom state, the radial table and channel values of the
        grid kernel, and the long-range and electronic channels; the kernel's features in float32, or with
        ``bfloat16`` as bfloat16 bit patterns (uint16)."""
        import torch

        from geoelf.model.grid_kernel import BFLOAT16_BITS, head_width, radial_table

        c = self.net.config
        h = self.atom_state(atoms)
        with torch.no_grad():
            filters, values, widths = self.net.probe_factors(h)
        rbf = self.net.probe_rbf
        return FrameInputs(
            predictor=self,
            atoms=atoms,
            shape=shape,
            h=h,
            table=radial_table(filters.double().numpy(), rbf.centres.double().numpy(), rbf.width, rbf.rc),
            values=values.numpy(),
            widths=widths,
            width=head_width(widths, c.atom_vector_features, c.atom_tensor_features),
            dtype=BFLOAT16_BITS if bfloat16 else np.dtype(np.float32),
            long=self.long_range_grid(atoms, self.net.invariant(h), shape),
            electronic=self.electronic_grid(atoms, shape),
        )

    def features(self, atoms: Atoms, shape: tuple[int, int, int], index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ELF head's input features (k, n) and the predicted ELF (k,) at the flat grid indices
        ``index`` (k,) of the grid ``shape``: what an error model of this network reads."""
        import torch

        index = np.sort(np.asarray(index, dtype=np.int64))
        self.use_threads()
        plane = shape[1] * shape[2]
        with self._torch_on_one_thread() as workers:
            frame = self.frame_inputs(atoms, shape)

            def task(planes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
                i0, i1 = planes
                local = index[(index >= i0 * plane) & (index < i1 * plane)] - i0 * plane
                x, extra = frame.features(planes, self._task_buffer)
                x = self.with_long_range(x[local], None if extra is None else extra[local])
                with torch.no_grad():
                    return x, torch.sigmoid(self.net.head(torch.from_numpy(x))[:, 0]).double().numpy()

            rows, elf = zip(*self._tasks(task, plane_ranges(shape, task_size(shape, workers)), workers))
        return np.concatenate(rows), np.concatenate(elf)

    @staticmethod
    def with_long_range(x: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
        """The head's features (P, n) followed by the long-range channels (P, C) of a long-range model."""
        return x if extra is None else np.concatenate([x, extra.astype(x.dtype)], axis=1)

    def head(
        self, x: np.ndarray, extra: np.ndarray | None, uncertainty: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """ELF (P,) from the grid kernel's head features x (P, n) (float32, or bfloat16 bit patterns
        as uint16) and long-range channels (P, C) or None, in chunks of ``head_points`` points; with
        ``uncertainty``, also the calibrated σ (P,) from the same features (float32; else None)."""
        import torch

        from geoelf.model.grid_kernel import BFLOAT16_BITS

        out = np.empty(len(x))
        sigma = np.empty(len(x)) if uncertainty and self.calibration is not None else None
        dtype = self.grid_head[0].weight.dtype
        for p in range(0, len(x), self.head_points):
            part = slice(p, p + self.head_points)
            with torch.no_grad():  # per thread: grad mode is thread-local
                if x.dtype == BFLOAT16_BITS:
                    features = torch.from_numpy(x[part]).view(torch.bfloat16).to(dtype)
                    if extra is not None:
                        features = torch.cat([features, torch.from_numpy(extra[part]).to(dtype)], 1)
                    logits = self.grid_head(features)[:, 0]
                else:
                    both = self.with_long_range(x[part], None if extra is None else extra[part])
                    logits = self.grid_head(torch.from_numpy(both).to(dtype))[:, 0]
                    if sigma is not None and self.calibration is not None:
                        sigma[part] = self.calibration.sigma(both)
                out[part] = torch.sigmoid(logits.double()).numpy()
        return out, sigma

    def structure_bytes(self, atoms: Atoms) -> int:
        """Memory (bytes) this model needs for ``atoms`` beyond the grid's: the one-shot calculation of
        an electronic model (it grows as the square of the cell), else 0."""
        if not self.net.config.electronic_channels:
            return 0
        from geoelf.electronic.features import settings_for
        from geoelf.electronic.oneshot import memory_bytes

        return memory_bytes(atoms, settings_for(self.net.config.electronic_plane_spacing))

    def electronic_coefficients(self, atoms: Atoms) -> np.ndarray | None:
        """The one-shot channels' spline coefficients of the structure (C, n₀, n₁, n₂), or None for a
        model that does not read them."""
        if not self.net.config.electronic_channels:
            return None
        from geoelf.electronic.features import electronic_channels, settings_for

        return electronic_channels(atoms, settings_for(self.net.config.electronic_plane_spacing))

    def electronic_grid(self, atoms: Atoms, shape: tuple[int, int, int]) -> ChannelGrid | None:
        """The one-shot channels of the structure on the grid ``shape``, or None for a model without them."""
        from geoelf.electronic.features import channel_grid

        coef = self.electronic_coefficients(atoms)
        return None if coef is None else channel_grid(coef, shape)

    def extra_at(
        self, long: np.ndarray | None, electronic: ChannelGrid | None, planes: tuple[int, int]
    ) -> np.ndarray | None:
        """The head's inputs after the local invariants (P, C) float32 at the points of grid planes
        ``planes``: long-range channels of the grid ``long`` (C, n₁, n₂, n₃) and the standardised electronic
        channels; None for a model with neither."""
        import torch

        i0, i1 = planes
        if long is None and electronic is None:
            return None
        lr = None if long is None else torch.from_numpy(np.ascontiguousarray(long[:, i0:i1].reshape(len(long), -1).T))
        channels = None if electronic is None else torch.from_numpy(electronic.planes(i0, i1))
        with torch.no_grad():
            extra = self.net.extra_inputs(lr, channels)
        return None if extra is None else extra.float().numpy()

    def long_range_grid(self, atoms: Atoms, h, shape: tuple[int, int, int]) -> np.ndarray | None:
        """Long-range channels (C, n1, n2, n3) on the grid, or None for a local model."""
        import torch

        from geoelf.model.longrange import on_grid

        if not getattr(self.net, "long_range", False):
            return None
        with torch.no_grad():
            q = self.net.charges(h).double()
            return on_grid(
                q, torch.as_tensor(atoms.positions), atoms.cell.array, self.net.long_range_sigma.double(), shape
            )

    def points(self, atoms: Atoms, points: np.ndarray, chunk: int = 50_000) -> np.ndarray:
        """ELF (P,) at Cartesian points (P, 3) Å, with the torch path (exactly the training model)."""
        import torch

        from geoelf.neighbours import neighbour_pairs

        self.check(atoms)
        self.use_threads()
        h = self.atom_state(atoms)
        electronic = self.electronic_coefficients(atoms)
        out = np.empty(len(points))
        for k in range(0, len(points), chunk):
            part = np.asarray(points[k : k + chunk], dtype=float)
            p, a, d = neighbour_pairs(part, atoms.positions, atoms.cell.array, self.net.config.cutoff_probe)
            with torch.no_grad():
                long = None
                if getattr(self.net, "long_range", False):
                    long = self.net.long_range_at(
                        self.net.invariant(h),
                        torch.as_tensor(atoms.positions, dtype=torch.float32),
                        atoms.cell.array,
                        torch.as_tensor(part, dtype=torch.float32),
                    )
                channels = None
                if electronic is not None:
                    from geoelf.electronic.features import channels_at

                    channels = torch.from_numpy(channels_at(electronic, part @ np.linalg.inv(atoms.cell.array)))
                logits = self.net.probe_logits(
                    h,
                    len(part),
                    torch.as_tensor(p),
                    torch.as_tensor(a),
                    torch.as_tensor(d, dtype=torch.float32),
                    self.net.extra_inputs(long, channels),
                )
            out[k : k + chunk] = torch.sigmoid(logits).double().numpy()
        return out

    def domain(self, atoms: Atoms, h=None) -> tuple[bool, list[str], float]:
        """Is the structure inside the training domain? Checks density, shortest H–H distance
        and how far its atomic environments lie from the training ones (feature distance).

        Returns (outside, the reasons, the out-of-domain score): the score is the largest of the
        atoms' feature distance over the training limit, and, for a density or H–H distance outside
        the training range, 1 plus the excess in units of the range's tolerance; it is ≤ 1 inside
        the domain and grows continuously outside it."""
        dom: dict[str, Any] = self.config.get("domain") or {}
        notes = []
        n = len(atoms)
        rs = wigner_seitz_rs(atoms.get_volume(), n)
        lo, hi = dom.get("rs_range", (0, math.inf))
        score = 0.0
        if not lo - RS_TOLERANCE <= rs <= hi + RS_TOLERANCE:
            notes.append(f"density rs = {rs:.3f} bohr outside the training range {lo:.2f}–{hi:.2f}")
            score = max(score, 1.0 + (max(lo - rs, rs - hi) - RS_TOLERANCE) / RS_TOLERANCE)
        if n > 1:
            from geoelf.neighbours import shortest_distance

            dmin = shortest_distance(atoms, 2.0)
            if dmin < dom.get("min_hh", 0.0) - HH_TOLERANCE:
                notes.append(f"shortest H–H distance {dmin:.3f} Å below the training minimum {dom['min_hh']:.3f} Å")
                score = max(score, 1.0 + (dom["min_hh"] - HH_TOLERANCE - dmin) / HH_TOLERANCE)
        if h is not None and "feature_mean" in dom:
            mu = np.array(dom["feature_mean"])
            sd = np.array(dom["feature_std"])
            z = np.sqrt(np.mean(((h.double().numpy() - mu) / sd) ** 2, axis=1))
            if "feature_z_max" in dom:
                score = max(score, float(z.max()) / dom["feature_z_max"])
            if z.max() > dom.get("feature_z_max", math.inf):
                notes.append(
                    f"{int(np.sum(z > dom['feature_z_max']))} atoms with environments unlike the training data "
                    f"(feature distance {z.max():.2f} > {dom['feature_z_max']:.2f})"
                )
        return bool(notes), notes, score
