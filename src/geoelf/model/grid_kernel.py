"""Fused probe aggregation on a periodic grid (numba): ProbeNet's probe messages without torch pair lists.

Gather order, one grid plane per task: the (grid point, atom image) pairs within the probe cutoff
are listed for the plane (a box in grid indices around each atom covers its cutoff sphere, any
triclinic cell, periodic images included), sorted by grid point, and each point then sums its
pairs and writes its head features once. Every channel's radial filter is shared by all atoms
(``ProbeNet.probe_factors``), so one table of cubic Hermite pieces (``radial_table``) serves every
pair, and a pair costs a table look-up times the atom's channel value instead of a K-term sum.
The kernel is compiled per set of channel widths (numba literals), which lets LLVM vectorise its
channel loops. Each point's channels are summed in one small scratch buffer and turned into the
head's invariant features (``point_features``) before the next point, so the channels never reach
memory: a frame writes only the head's input, once (in float32, or rounded to bfloat16 for a
bfloat16 head). The features equal those of ``ProbeNet.probe_logits`` to about 1e-6 (the grid path
is tested against the torch path), a few grid planes a call, so big grids stay within memory: the
``Predictor`` shares a frame's planes out among its threads, kernel and head together.

Where a 64-atom frame's features go (dense-h-v1, 48³ grid, 1.96 M point–atom pairs, one thread,
0.14 s in all): the pair lists 21 ms, the channel values from the table 63 ms (each pair reads
four table rows and the atom's values, 3.2 kB from the L2 cache), the l = 3, 4 harmonics and their
moments 23 ms, the vector and rank-2 moments 6 ms, and each point's invariants 23 ms.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import threading
from collections.abc import Callable, Iterator

import numba
import numpy as np
from numba.core import errors, types
from numba.extending import overload

from geoelf.lattice import fractional_reach, plane_pairs

log = logging.getLogger(__name__)


def radial_table(
    filters: np.ndarray, centres: np.ndarray, width: float, rc: float, per_width: int = 8, dtype: type = np.float32
) -> np.ndarray:
    """(R + 1, 2, C): the channels' radial filters φ_c(r) = Σ_k rbf_k(r) filters[k, c] and their
    slopes at R + 1 equally spaced nodes r_m = m·rc/R Å (R: ``per_width`` intervals per Gaussian
    width), for cubic Hermite interpolation between the nodes.

    ``filters`` (K, C) weigh Gaussians of ``width`` Å at ``centres`` times the cosine cutoff, as
    ``RadialBasis``. Slopes are per node step (dφ/dr · rc/R), so with r = (m + t)·rc/R the filter is
    y_m h00(t) + s_m h10(t) + y_{m+1} h01(t) + s_{m+1} h11(t): 4 multiply-adds per channel instead
    of K. The error is fourth order in the step: 3e-5, 2e-6 and 5e-8 of a channel's largest value
    at 4, 8 and 20 intervals per width.
    """
    intervals = int(math.ceil(per_width * rc / width - 1e-9))  # rc/width is K for RadialBasis
    h = rc / intervals
    r = np.linspace(0.0, rc, intervals + 1)
    z = (r[:, None] - centres[None, :]) / width
    g = np.exp(-0.5 * z * z)
    env = 0.5 * (np.cos(np.pi * r / rc) + 1.0)
    denv = -0.5 * np.pi / rc * np.sin(np.pi * r / rc)
    basis = np.stack([g * env[:, None], g * (denv[:, None] - env[:, None] * z / width) * h], axis=1)  # (R+1, 2, K)
    return np.einsum("rdk,kc->rdc", basis, np.asarray(filters, dtype=np.float64)).astype(dtype)


def _sum_plane(start, atom, node, geo, table, values, nf, nv, nt, n3, n4, nc, nd, out):  # pragma: no cover
    """Placeholder for numba: ``_sum_plane_for_widths`` supplies the code per set of widths."""
    raise NotImplementedError


@overload(_sum_plane, jit_options={"fastmath": True})
def _sum_plane_for_widths(start, atom, node, geo, table, values, nf, nv, nt, n3, n4, nc, nd, out):
    """Each grid point's head features out (P, n) from its pairs: the point's scalar (F), vector
    (3, V) and rank-2 channels (6, T; components xx, yy, zz, xy, xz, yz) and the l = 3, 4 moments
    (7 × L3, 9 × L4) are summed pair by pair and turned into the head's invariants
    (``point_features``) before the next point, so the channels never reach memory.

    The widths arrive as numba literals, so they are compile-time constants here and the channel
    loops vectorise (about 1.4× faster than with run-time widths). Every accumulator, the pair's
    weights and its angular factors live in one scratch buffer at constant offsets: with separate
    arrays LLVM must assume that an accumulator may overlap the weights and reloads them after each
    update, and the short per-row updates of the rank-2 and l = 3, 4 moments (6, 7 and 9 rows of
    T, L3 and L4 channels) then stay scalar. In one buffer the rows are provably disjoint and
    become whole-vector updates once the superword vectoriser runs (``_superword_vectoriser``).
    """
    if not all(isinstance(w, types.IntegerLiteral) for w in (nf, nv, nt, n3, n4)):
        raise errors.RequireLiteralValue("channel widths")
    NF, NV, NT, N3, N4 = (w.literal_value for w in (nf, nv, nt, n3, n4))
    HIGH = N3 + N4
    NW = NV + NT + HIGH  # channels whose pair weight is kept for its angular products (after the F scalars)
    # offsets in the scratch buffer: accumulators (scalar, vector, rank-2, l = 3, l = 4; zeroed for
    # each point), then the pair's weights and its 6 + 7 + 9 angular factors
    BFLOAT16 = isinstance(out.dtype, types.Integer)  # out holds bfloat16 bit patterns (uint16)
    V0 = NF
    T0 = V0 + 3 * NV
    L3 = T0 + 6 * NT
    L4 = L3 + 7 * N3
    W0 = L4 + 9 * N4
    A0 = W0 + NW
    SIZE = A0 + 22

    def impl(start, atom, node, geo, table, values, nf, nv, nt, n3, n4, nc, nd, out):
        buf = np.zeros(SIZE, dtype=table.dtype)
        power = np.zeros(HIGH, dtype=table.dtype)
        row = np.empty(out.shape[1], dtype=table.dtype)  # a point's features before rounding to bfloat16
        one, two, three = np.float32(1.0), np.float32(2.0), np.float32(3.0)  # float literals would promote to float64
        for q in range(len(start) - 1):
            buf[:W0] = 0
            for e in range(start[q], start[q + 1]):
                u, ux, uy, uz = geo[e, 0], geo[e, 1], geo[e, 2], geo[e, 3]
                # cubic Hermite basis on the pair's interval
                h01 = u * u * (three - two * u)
                h00 = one - h01
                h10 = u * (one - u) * (one - u)
                h11 = u * u * (u - one)
                lo0, lo1, hi0, hi1 = table[node[e], 0], table[node[e], 1], table[node[e] + 1, 0], table[node[e] + 1, 1]
                x = values[atom[e]]
                for c in range(NF):
                    buf[c] += (h00 * lo0[c] + h10 * lo1[c] + h01 * hi0[c] + h11 * hi1[c]) * x[c]
                for c in range(NF, NF + NW):
                    buf[W0 - NF + c] = (h00 * lo0[c] + h10 * lo1[c] + h01 * hi0[c] + h11 * hi1[c]) * x[c]
                for c in range(NV):
                    buf[V0 + c] += buf[W0 + c] * ux
                    buf[V0 + NV + c] += buf[W0 + c] * uy
                    buf[V0 + 2 * NV + c] += buf[W0 + c] * uz
                if NT:
                    buf[A0], buf[A0 + 1], buf[A0 + 2] = ux * ux, uy * uy, uz * uz
                    buf[A0 + 3], buf[A0 + 4], buf[A0 + 5] = ux * uy, ux * uz, uy * uz
                    _add_rows(buf, T0, A0, 6, W0 + NV, NT)
                if HIGH:
                    spherical_harmonics_34(ux, uy, uz, buf[A0 + 6 : A0 + 22])
                    _add_rows(buf, L3, A0 + 6, 7, W0 + NV + NT, N3)
                    _add_rows(buf, L4, A0 + 13, 9, W0 + NV + NT + N3, N4)
            for c in range(N3):  # the power spectra: Σ_m (Σ_pairs w Y_m)²
                power[c] = _column_norm(buf, L3 + c, 7, N3)
            for c in range(N4):
                power[N3 + c] = _column_norm(buf, L4 + c, 9, N4)
            s, v, t = buf[:V0], buf[V0:T0].reshape((3, NV)), buf[T0:L3].reshape((6, NT))
            if BFLOAT16:
                point_features(s, v, t, power, nc, nd, row)
                to_bfloat16(row, out[q])
            else:
                point_features(s, v, t, power, nc, nd, out[q])

    return impl


@numba.njit(cache=True, inline="always")
def to_bfloat16(x: np.ndarray, out: np.ndarray) -> None:
    """float32 values x (n,) as bfloat16 bit patterns out (n,) uint16, rounded to nearest even as
    torch's ``.to(torch.bfloat16)`` rounds finite values (the features are finite)."""
    bits = x.view(np.uint32)
    for j in range(len(x)):
        b = bits[j]
        out[j] = np.uint16((b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))


@numba.njit(cache=True, fastmath=True, inline="always")
def _add_rows(buf: np.ndarray, rows: int, factors: int, count: int, weights: int, width: int) -> None:
    """buf[rows + m·width + c] += buf[factors + m] · buf[weights + c] for m < count, c < width: a pair's
    angular factors times its channel weights, added to the moments' rows (all in one buffer)."""
    for m in range(count):
        a = buf[factors + m]
        for c in range(width):
            buf[rows + m * width + c] += a * buf[weights + c]


@numba.njit(cache=True, fastmath=True, inline="always")
def _column_norm(buf: np.ndarray, first: int, count: int, stride: int) -> float:
    """Σ_m buf[first + m·stride]² for m < count."""
    total = buf[first] * 0
    for m in range(count):
        total += buf[first + m * stride] ** 2
    return total


@numba.njit(cache=True, nogil=True)
def _sum_planes(i0, i1, shape, cell, frac, reach, rc, table, values, nf, nv, nt, n3, n4, nc, nd, out):
    """Planes i0 ≤ i < i1 in turn, on the calling thread with the GIL released: the Predictor shares a
    frame's planes out among its threads, each task a few planes, kernel and head together."""
    numba.literally(nf)  # compile per set of widths (see _sum_plane_for_widths)
    numba.literally(nv)
    numba.literally(nt)
    numba.literally(n3)
    numba.literally(n4)
    points = shape[1] * shape[2]
    for i in range(i0, i1):
        start, atom, node, geo, _ = plane_pairs(i, shape, cell, frac, reach, rc, table.shape[0] - 1, table)
        part = slice((i - i0) * points, (i - i0 + 1) * points)
        _sum_plane(start, atom, node, geo, table, values, nf, nv, nt, n3, n4, nc, nd, out[part])


def head_width(widths: tuple[int, int, int, int, int], atom_vectors: int, atom_tensors: int) -> int:
    """The number of head features ``point_features`` makes from channels of ``widths`` = (F, V, T, L3, L4),
    F including the 3·``atom_vectors`` + 6·``atom_tensors`` components of the atom vectors and tensors."""
    nf, nv, nt, n3, n4 = widths
    scalars = nf - 3 * atom_vectors - 6 * atom_tensors
    kc, kd = min(atom_vectors, nt), min(atom_tensors, nt)
    orientation = (2 * atom_vectors + kc if atom_vectors else 0) + (2 * atom_tensors + kd if atom_tensors else 0)
    return scalars + nv + nt + orientation + n3 + n4


def grid_features(
    shape: tuple[int, int, int],
    cell: np.ndarray,
    positions: np.ndarray,
    table: np.ndarray,
    values: np.ndarray,
    widths: tuple[int, int, int, int, int],
    rc: float,
    planes: tuple[int, int],
    atom_vectors: int = 0,
    atom_tensors: int = 0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The ELF head's input features (P, n) at the points of grid planes ``planes`` = (i0, i1), in the
    dtype of ``table``: float32 (fast) or float64 (exact comparisons); n = ``head_width``.

    ``table`` (R + 1, 2, C): the channels' radial filters from ``radial_table``; ``values`` (N, C):
    the atoms' channel values; ``widths`` = (F, V, T, L3, L4) split C (``ProbeNet.probe_factors``);
    ``atom_vectors`` and ``atom_tensors``: the model's atom vector and tensor features, whose
    components close the F scalar channels; ``out``: an array to write them to (else a new one), of
    the table's dtype or uint16: then the features as bfloat16 bit patterns (``to_bfloat16``), what a
    bfloat16 head reads, at half the memory traffic.
    """
    cell = np.ascontiguousarray(cell, dtype=np.float64)
    frac = np.asarray(positions, dtype=np.float64) @ np.linalg.inv(cell)
    frac -= np.floor(frac)
    nf, nv, nt, n3, n4 = (int(w) for w in widths)
    i0, i1 = planes
    size = ((i1 - i0) * shape[1] * shape[2], head_width(widths, atom_vectors, atom_tensors))
    if out is None:
        out = np.empty(size, table.dtype)
    elif out.shape != size or out.dtype not in (table.dtype, BFLOAT16_BITS) or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {table.dtype} array of shape {size}, not {out.dtype} {out.shape}")
    if out.dtype == BFLOAT16_BITS and table.dtype != np.float32:
        raise ValueError("bfloat16 features are made from a float32 table")
    args = (
        i0,
        i1,
        np.array(shape, dtype=np.int64),
        cell,
        np.ascontiguousarray(frac),
        fractional_reach(cell, rc),
        float(rc),
        np.ascontiguousarray(table),
        np.ascontiguousarray(values, dtype=table.dtype),
        nf,
        nv,
        nt,
        n3,
        n4,
        int(atom_vectors),
        int(atom_tensors),
        out,
    )
    key = (nf, nv, nt, n3, n4, table.dtype.str, out.dtype.str)
    if key not in _ENTRY_POINTS:
        with _COMPILING:  # one thread compiles; the others of a Predictor's pool wait for it
            if key not in _ENTRY_POINTS:
                _compile_and_call(key, args, table.dtype, out.dtype)
                return out
    fast = _ENTRY_POINTS[key]
    if fast is not None:
        fast(*args)
    else:  # no entry point found on this numba version: through the dispatcher (compiled already)
        _sum_planes(*args)
    return out


def _compile_and_call(key: tuple, args: tuple, dtype: np.dtype, out_dtype: np.dtype) -> None:
    """The first call for these widths and dtypes: through numba's dispatcher, which compiles (about 20 s,
    then cached on disk) or loads the cache; a call still running after COMPILE_NOTICE_S says so, so
    that a first run does not look hung. The compiled entry point is kept for the next calls."""
    notice = threading.Timer(COMPILE_NOTICE_S, log.warning, args=(COMPILE_NOTICE,))
    notice.start()
    try:
        with _superword_vectoriser():
            _sum_planes(*args)
    finally:
        notice.cancel()
    _ENTRY_POINTS[key] = _entry_point(key[:5], dtype, out_dtype)


BFLOAT16_BITS = np.dtype(np.uint16)  # the dtype of features written as bfloat16 bit patterns
_COMPILING = threading.Lock()
COMPILE_NOTICE_S = 2.0
COMPILE_NOTICE = "compiling the grid kernel for this model's channel widths (once, about 20 s; cached for later runs)"


@contextlib.contextmanager
def _superword_vectoriser() -> Iterator[None]:
    """LLVM's superword (SLP) vectoriser on for what numba compiles inside (off again after).

    numba leaves it off for all code since a miscompilation elsewhere (numba issue 8705). This kernel
    needs it: it turns the moments' short row updates (``_add_rows``) into vector operations, 0.21 →
    0.13 s for a 64-atom frame's features on one thread; the kernel is tested equal to the torch
    path, which is what would show a miscompilation. A kernel loaded from numba's disk cache was
    compiled here too, so it was compiled the same way.
    """
    before = numba.config.SLP_VECTORIZE
    numba.config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        numba.config.SLP_VECTORIZE = before


# The compiled ``_sum_planes`` per (widths, dtype). Through the dispatcher, ``numba.literally`` types every
# call twice, the first time failing with an exception (about 20 ms a call); that exception's traceback
# also holds the call's arguments, its output arrays, in a reference cycle that only the garbage
# collector frees: a 2,000-atom cell on a 200³ grid peaked at 3.0 GB instead of 1.55 GB.
_ENTRY_POINTS: dict[tuple, Callable[..., None] | None] = {}


def _entry_point(
    widths: tuple[int, int, int, int, int], dtype: np.dtype, out_dtype: np.dtype
) -> Callable[..., None] | None:
    """The compiled entry point of ``_sum_planes`` for these literal widths, this table dtype and this
    output dtype (None if not compiled: the caller then stays with the dispatcher).

    A dispatcher's ``overloads`` map each compiled signature (the argument types, in the order of the
    Python parameters) to its compile result; the width and table arguments are found by parameter name,
    and ``test_grid_kernel`` checks that a compiled kernel is found on the numba version installed.
    """
    names = list(inspect.signature(_sum_planes.py_func).parameters)
    width_at = [names.index(n) for n in _WIDTH_PARAMETERS]
    table_at, out_at = names.index("table"), names.index("out")
    want, want_out = numba.from_dtype(dtype), numba.from_dtype(out_dtype)
    for signature, compiled in _sum_planes.overloads.items():
        literal = [signature[i] for i in width_at]
        if (
            all(isinstance(w, types.IntegerLiteral) for w in literal)
            and tuple(w.literal_value for w in literal) == widths
            and signature[table_at].dtype == want
            and signature[out_at].dtype == want_out
        ):
            return compiled.entry_point
    return None


_WIDTH_PARAMETERS = ("nf", "nv", "nt", "n3", "n4")


def spherical_harmonics_34(x: float, y: float, z: float, out: np.ndarray) -> None:  # pragma: no cover
    """The l = 3 (out[:7]) and l = 4 (out[7:16]) real harmonics of a unit vector, as
    ``network.spherical_l3`` and ``network.spherical_l4`` (Σ_m Y_m² = 1 for each l); in numba code only
    (``_harmonics_in_the_dtype_of_x``)."""
    raise NotImplementedError


@overload(spherical_harmonics_34, inline="always")
def _harmonics_in_the_dtype_of_x(x, y, z, out):
    """``spherical_harmonics_34`` with its constants in the dtype of x: float64 constants would turn a
    float32 kernel's arithmetic into float64 and back for every pair."""
    f = np.float32 if isinstance(x, types.Float) and x.bitwidth == 32 else np.float64

    def impl(x, y, z, out):
        x2, y2, z2 = x * x, y * y, z * z
        out[0] = f(math.sqrt(5 / 8)) * (f(3) * x2 - y2) * y
        out[1] = f(math.sqrt(15)) * x * y * z
        out[2] = f(math.sqrt(3 / 8)) * y * (f(5) * z2 - f(1))
        out[3] = f(0.5) * z * (f(5) * z2 - f(3))
        out[4] = f(math.sqrt(3 / 8)) * x * (f(5) * z2 - f(1))
        out[5] = f(math.sqrt(15 / 4)) * z * (x2 - y2)
        out[6] = f(math.sqrt(5 / 8)) * (x2 - f(3) * y2) * x
        out[7] = f(math.sqrt(35) / 2) * x * y * (x2 - y2)
        out[8] = f(math.sqrt(35 / 8)) * (f(3) * x2 - y2) * y * z
        out[9] = f(math.sqrt(5) / 2) * x * y * (f(7) * z2 - f(1))
        out[10] = f(math.sqrt(5 / 8)) * y * z * (f(7) * z2 - f(3))
        out[11] = (f(35) * z2 * z2 - f(30) * z2 + f(3)) * f(0.125)
        out[12] = f(math.sqrt(5 / 8)) * x * z * (f(7) * z2 - f(3))
        out[13] = f(math.sqrt(5) / 4) * (x2 - y2) * (f(7) * z2 - f(1))
        out[14] = f(math.sqrt(35 / 8)) * (x2 - f(3) * y2) * x * z
        out[15] = f(math.sqrt(35) / 8) * (x2 * (x2 - f(3) * y2) - y2 * (f(3) * x2 - y2))

    return impl


@numba.njit(cache=True, inline="always")
def traceless_norm(xx: float, yy: float, zz: float, xy: float, xz: float, yz: float) -> float:
    """|A − tr(A) I/3|² of a symmetric A from its six components (``network.tensor_invariants``)."""
    tr = xx + yy + zz
    return xx * xx + yy * yy + zz * zz + 2 * (xy * xy + xz * xz + yz * yz) - tr * tr / 3


@numba.njit(cache=True, inline="always")
def quadratic(xx: float, yy: float, zz: float, xy: float, xz: float, yz: float, x: float, y: float, z: float) -> float:
    """xᵀ A x of a symmetric A from its six components (``network.quadratic_form``)."""
    return xx * x * x + yy * y * y + zz * z * z + 2 * (xy * x * y + xz * x * z + yz * y * z)


@numba.njit(cache=True, fastmath=True, inline="always")
def point_features(
    s: np.ndarray, v: np.ndarray, t: np.ndarray, high: np.ndarray, nc: int, nd: int, out: np.ndarray
) -> None:
    """One point's head features ``out`` (n,) from its channels: scalar s (F,), vector v (3, V),
    rank-2 t (6, T) and the l = 3, 4 power spectra high (L3 + L4), with nc atom vectors m and nd atom
    tensors Q closing s (the last 3·nc + 6·nd of its F).

    Exactly the invariants of ``ProbeNet.probe_logits`` (the grid path is tested equal to it), in its
    order: the scalars; |v_c|² (V); the traceless rank-2 norms |T_c − tr(T_c)/3|² (T); |m|², m·v,
    mᵀT̃m (min(nc, T) of them); |Q|², tr(Q T) (min(nd, T)), vᵀQv; then the power spectra.
    """
    nv, nt = v.shape[1], t.shape[1]
    nf = s.shape[0] - 3 * nc - 6 * nd
    kc, kd = min(nc, nt), min(nd, nt)
    o = 0
    for f in range(nf):
        out[o] = s[f]
        o += 1
    for c in range(nv):
        out[o] = v[0, c] ** 2 + v[1, c] ** 2 + v[2, c] ** 2
        o += 1
    for c in range(nt):
        out[o] = traceless_norm(t[0, c], t[1, c], t[2, c], t[3, c], t[4, c], t[5, c])
        o += 1
    if nc:
        for c in range(nc):  # m_c = s[nf + 3c : nf + 3c + 3]
            x, y, z = s[nf + 3 * c], s[nf + 3 * c + 1], s[nf + 3 * c + 2]
            mm = x * x + y * y + z * z
            out[o + c] = mm
            out[o + nc + c] = x * v[0, c] + y * v[1, c] + z * v[2, c]
            if c < kc:  # mᵀ T̃ m with T̃ = T − tr(T) I/3
                tr = t[0, c] + t[1, c] + t[2, c]
                out[o + 2 * nc + c] = (
                    quadratic(t[0, c], t[1, c], t[2, c], t[3, c], t[4, c], t[5, c], x, y, z) - tr * mm / 3
                )
        o += 2 * nc + kc
    if nd:
        q0 = nf + 3 * nc  # Q_d = s[q0 + 6d : q0 + 6d + 6], components xx yy zz xy xz yz
        for d in range(nd):
            q = s[q0 + 6 * d : q0 + 6 * d + 6]
            out[o + d] = traceless_norm(q[0], q[1], q[2], q[3], q[4], q[5])
            if d < kd:
                out[o + nd + d] = (
                    q[0] * t[0, d]
                    + q[1] * t[1, d]
                    + q[2] * t[2, d]
                    + 2 * (q[3] * t[3, d] + q[4] * t[4, d] + q[5] * t[5, d])
                )
            out[o + nd + kd + d] = quadratic(q[0], q[1], q[2], q[3], q[4], q[5], v[0, d], v[1, d], v[2, d])
        o += 2 * nd + kd
    for c in range(high.shape[0]):
        out[o + c] = high[c]
