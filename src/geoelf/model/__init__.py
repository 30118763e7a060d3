"""The geometry-based ELF network: neighbour lists, the network, model packages, prediction."""
