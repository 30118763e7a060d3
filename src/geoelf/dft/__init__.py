"""Quantum ESPRESSO backend: profile (how to launch), protocol (what to compute), runs, parsers."""
