"""Topology of periodic scalar fields: critical points, percolation (networking value), H network."""
