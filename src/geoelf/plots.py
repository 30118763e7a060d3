"""Pictures of ELF fields (matplotlib, Agg backend): slices with atoms, value histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geoelf.errors import GeoelfError
from geoelf.field import Field


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def slice_frame(field: Field, plane: str = "001", offset: float = 0.0, atoms: list[int] | None = None):
    """Origin (3,) and two in-plane Cartesian vectors (Å) spanning the slice to draw.

    A lattice plane '001' at ``offset`` spans a and b at c·offset (likewise 100, 010). Three atoms
    span an orthonormal frame in their plane, covering the cell's largest extent around them.
    """
    cell = field.cell
    if atoms is not None:
        n = len(field.atoms)
        if any(not 0 <= i < n for i in atoms) or len(set(atoms)) != 3:
            raise GeoelfError(f"--atoms needs three different indices in 0..{n - 1}")
        p = field.atoms.positions[list(atoms)]
        e1 = p[1] - p[0]
        normal = np.cross(e1, p[2] - p[0])
        if np.linalg.norm(normal) < 1e-6:
            raise GeoelfError("the three atoms are collinear: they do not define a plane")
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(normal / np.linalg.norm(normal), e1)
        size = float(np.max(np.linalg.norm(cell, axis=1)))
        centre = p.mean(axis=0)
        return centre - 0.5 * size * (e1 + e2), e1 * size, e2 * size
    axis = plane.index("1")
    u, v = [i for i in range(3) if i != axis]
    return cell[axis] * offset, cell[u].copy(), cell[v].copy()


def slice_plot(
    field: Field,
    path: str,
    plane: str = "001",
    offset: float = 0.0,
    atoms: list[int] | None = None,
    isovalue: float | None = None,
    resolution: int = 300,
    cmap: str = "viridis",
    vmin: float = 0.0,
    vmax: float = 1.0,
    label: str = "ELF",
) -> str:
    """PNG of a field on a plane (ELF by default), with atoms within 0.6 Å of it drawn as circles."""
    plt = _pyplot()
    origin, ea, eb = slice_frame(field, plane, offset, atoms)
    la, lb = np.linalg.norm(ea), np.linalg.norm(eb)
    na = max(20, int(resolution * la / max(la, lb)))
    nb = max(20, int(resolution * lb / max(la, lb)))
    s, t = np.meshgrid(np.linspace(0, 1, na), np.linspace(0, 1, nb), indexing="ij")
    pts = origin + s[..., None] * ea + t[..., None] * eb
    values = field.interpolate(field.cart_to_frac(pts.reshape(-1, 3))).reshape(na, nb)
    # draw in an orthonormal in-plane frame so angles and lengths are true
    x_hat = ea / la
    y_dir = eb - np.dot(eb, x_hat) * x_hat
    y_hat = y_dir / np.linalg.norm(y_dir)
    X = (pts - origin) @ x_hat
    Y = (pts - origin) @ y_hat
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=120)
    mesh = ax.pcolormesh(X, Y, np.clip(values, vmin, vmax), cmap=cmap, vmin=vmin, vmax=vmax, shading="gouraud")
    if isovalue is not None and np.isfinite(isovalue):
        ax.contour(X, Y, values, levels=[isovalue], colors="white", linewidths=0.8)
    normal = np.cross(x_hat, y_hat)
    _draw_atoms(ax, field, origin, x_hat, y_hat, normal, ea, eb)
    ax.set_xlim(X.min(), X.max())
    ax.set_ylim(Y.min(), Y.max())
    ax.set_aspect("equal")
    ax.set_xlabel("Å")
    ax.set_ylabel("Å")
    where = f"atoms {atoms}" if atoms is not None else f"({plane}) plane at {offset:g}"
    ax.set_title(
        f"{label}, {where}"
        + (f"; contour {isovalue:.3f}" if isovalue is not None else "")
        + "\natoms: solid within 0.2 Å of the plane, dashed within 0.6 Å",
        fontsize=9,
    )
    fig.colorbar(mesh, ax=ax, label=label)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def _draw_atoms(ax, field: Field, origin, x_hat, y_hat, normal, ea, eb) -> None:
    from ase.data import covalent_radii

    frac = field.atoms.get_scaled_positions(wrap=True)
    images = np.array([[a, b, c] for a in (-1, 0, 1, 2) for b in (-1, 0, 1, 2) for c in (-1, 0, 1)])
    for z, f in zip(field.atoms.numbers, frac):
        for img in images:
            x = (f + img) @ field.cell - origin
            off = abs(x @ normal)
            if off > 0.6:
                continue
            px, py = x @ x_hat, x @ y_hat
            s = np.linalg.solve(np.stack([ea, eb, normal], 1), x)[:2]
            if np.all(s >= -0.02) and np.all(s <= 1.02):
                r = 0.15 if z == 1 else 0.4 * covalent_radii[z]
                ax.add_patch(_circle((px, py), r, in_plane=off < 0.2))


def _circle(xy, r, in_plane: bool):
    """Atoms in the plane (within 0.2 Å) solid, atoms up to 0.6 Å off it dashed."""
    from matplotlib.patches import Circle

    return Circle(
        xy,
        r,
        facecolor="none",
        edgecolor="red",
        linewidth=1.2 if in_plane else 0.8,
        linestyle="-" if in_plane else "--",
    )


def histogram_plot(field: Field, path: str, other: Field | None = None, labels: tuple[str, str] = ("ELF", "")) -> str:
    """PNG of the distribution of ELF values (density over [0, 1]); optionally a second field."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    bins = np.linspace(0, 1, 101)
    ax.hist(field.data.ravel(), bins=bins, density=True, histtype="stepfilled", alpha=0.6, label=labels[0])
    if other is not None:
        ax.hist(other.data.ravel(), bins=bins, density=True, histtype="step", linewidth=1.5, label=labels[1])
        ax.legend()
    ax.set_xlabel("ELF")
    ax.set_ylabel("probability density")
    ax.set_title(f"ELF values, {field.data.size} grid points", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(Path(path))
