"""Training of ProbeNet: config, data sampling, loop with checkpoints and resume."""
