"""High-throughput screening of many frames on Dask."""
