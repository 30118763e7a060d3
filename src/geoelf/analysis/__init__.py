"""Comparisons of two fields: accuracy metrics, distributions, topology agreement."""
