#!/usr/bin/env bash
# Dataset v2's whole generation in the background, resumable: LANES single-process generators
# (default: one per core), each running the fluid, then the solids, then the heterogeneous cells.
#
#   scripts/generate_v2_all.sh [LANES]      # logs: runs/generate-v2-lane<k>.log
#   touch /tmp/geoelf-generate.pause        # every lane waits between DFT steps until it is removed
#
# The lanes share out each script's plan: a trajectory or crystal belongs to the lane that starts it
# (geoelf.dft.claims) and the others skip it, so every lane ends up on the work still open. One
# process per lane, because on a few cores independent pw.x runs beat one run on several MPI processes
# (docs/guide/dft.md). Started again after a kill or a reboot, it continues where the lanes stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
LANES=${1:-$(nproc)}
mkdir -p runs
for k in $(seq 1 "$LANES"); do
  GEOELF_NPROCS=1 setsid nohup nice -n 19 sh -c "
    $PYTHON scripts/generate_v2.py --replicas 2 &&
    $PYTHON scripts/generate_solids_v2.py &&
    $PYTHON scripts/generate_v2.py &&
    $PYTHON scripts/generate_heterogeneous_v2.py" > "runs/generate-v2-lane$k.log" 2>&1 < /dev/null &
  sleep 2  # the lanes' first claims a moment apart: each log then opens on its own trajectory
done
echo "$LANES generator lanes started: runs/generate-v2-lane*.log"
