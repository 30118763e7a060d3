"""Train ProbeNet from a compact pack of a dataset split, on a machine where the HDF5 dataset is too large to carry.

``pack`` writes a split of dataset v1 as one compact file: positions, cells and the ELF quantised to
uint16 (step 1/65535 ≈ 1.5e-5, far below the model's error) and delta-coded along the fastest grid
axis before zlib, so the 240 training snapshots travel in a fraction of their HDF5 size.
``train`` reads such packs and runs the normal training loop (``geoelf.train.loop.train``) on them,
with the same YAML config and ``key=value`` overrides as ``geoelf train``::

    python scripts/device_train.py pack data/v1 train .devpack/train.npz
    python scripts/device_train.py pack data/v1 val .devpack/val.npz --every 3
    PYTHONPATH=src python scripts/device_train.py train .devpack/train.npz .devpack/val.npz \
        configs/dense-h-v1.yaml minutes=7 batch_structures=16 out=runs/gpu/A
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

SCALE = 65535.0


def pack(root: str | list[str], split: str, out: str, every: int = 1) -> None:
    """Write every ``every``-th sample of ``split`` of the dataset ``root`` (or of several, in their
    order, as a training config's ``data``) to ``out`` (.npz, zlib)."""
    from geoelf.data.dataset import samples_of_datasets
    from geoelf.data.sample import read_sample

    arrays: dict[str, np.ndarray] = {}
    metas = []
    paths = [path for _, some in samples_of_datasets(root, split) for path in some]
    for k, path in enumerate(paths[::every]):
        field, meta = read_sample(path)
        q = np.rint(np.clip(field.data, 0.0, 1.0) * SCALE).astype(np.int32)
        # steps along the fastest axis, modulo 2^16 (a cumulative sum in uint16 undoes it exactly)
        delta = np.diff(q, axis=-1, prepend=0).astype(np.uint16)
        arrays[f"elf{k}"] = delta
        arrays[f"pos{k}"] = field.atoms.positions
        arrays[f"cell{k}"] = field.atoms.cell.array
        arrays[f"num{k}"] = field.atoms.numbers
        metas.append({key: meta.get(key) for key in ("sample_id", "protocol_id", "rs", "phase", "trajectory")})
    arrays["meta"] = np.frombuffer(json.dumps(metas).encode(), dtype=np.uint8)
    np.savez_compressed(out, **arrays)
    print(f"{out}: {len(metas)} samples of {split}")


def unpack(path: str) -> list:
    """The training items (geoelf.train.data.Item) of a pack."""
    from ase import Atoms

    from geoelf.train.data import Item

    z = np.load(path)
    metas = json.loads(z["meta"].tobytes().decode())
    items = []
    for k, meta in enumerate(metas):
        elf = np.cumsum(z[f"elf{k}"], axis=-1, dtype=np.uint16).astype(np.float32) / SCALE
        atoms = Atoms(numbers=z[f"num{k}"], positions=z[f"pos{k}"], cell=z[f"cell{k}"], pbc=True)
        items.append(Item(atoms, elf, meta))
    return items


def train_packed(train_pack: str, val_pack: str, config: str, overrides: list[str]) -> None:
    import geoelf.train.loop as loop
    from geoelf.train.config import load_config

    cfg = load_config(config, overrides)
    items = unpack(train_pack), unpack(val_pack)
    loop.training_items = lambda _cfg: items  # the packs stand in for the HDF5 dataset
    print(loop.train(cfg, progress=False))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("root", nargs="+", help="a dataset folder, or several (their splits joined)")
    p.add_argument("split")
    p.add_argument("out")
    p.add_argument("--every", type=int, default=1)
    t = sub.add_parser("train")
    t.add_argument("train_pack")
    t.add_argument("val_pack")
    t.add_argument("config")
    t.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    if args.cmd == "pack":
        pack(args.root[0] if len(args.root) == 1 else args.root, args.split, args.out, args.every)
    else:
        train_packed(args.train_pack, args.val_pack, args.config, args.overrides)


if __name__ == "__main__":
    sys.exit(main())
