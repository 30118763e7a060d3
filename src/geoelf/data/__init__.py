"""Datasets of (structure, ELF grid, metadata) in HDF5, one file per sample."""
