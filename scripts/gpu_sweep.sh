#!/bin/bash
# Architecture sweep on one GPU (issues 4 and 5): several ProbeNet variants trained side by side
# for the same wall-clock budget on the same trajectory split of dataset v1, each process on the
# one GPU, with the learning rate decaying by time so every run ends at lr_final.
#   MINUTES=7.5 RESULTS=$OUT bash scripts/gpu_sweep.sh        (device machine, image's python3)
#   ONLY=B-b16 MINUTES=3 RESULTS=$OUT bash scripts/gpu_sweep.sh   (one run alone on the GPU)
#   MINUTES=0.2 DEVICE=cpu RESULTS=/tmp/s bash scripts/gpu_sweep.sh   (a dry run here)
# Held out (validation): whole trajectories h64_rs1.33_T2800_s111 and h64_rs1.49_T1200_s130.
# Results: $RESULTS/sweep.tar.gz (each run's model package, checkpoint.json, loss.png, log).
set -u
MINUTES=${MINUTES:-7.5}
DEVICE=${DEVICE:-auto}
RESULTS=${RESULTS:?set RESULTS}
PY=${PY:-python3}
WORK=${WORK:-/tmp/sweep}
rm -rf "$WORK"; mkdir -p "$WORK"
if [ -d .whl ]; then  # packages the device image lacks (ase), carried as wheels
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
cp -r data/v1 "$WORK/data"
$PY - "$WORK/data" <<'PYEOF' || exit 1
import json, sys
from pathlib import Path
root = Path(sys.argv[1])
held_out = ["h64_rs1.33_T2800_s111", "h64_rs1.49_T1200_s130"]
fluid = sorted(p.name for p in (root / "fluid").iterdir() if p.is_dir() and any(p.glob("*.h5")))
splits = json.loads((root / "splits.json").read_text())
splits["splits"].update(train=[t for t in fluid if t not in held_out], val=held_out, test=[])
splits["rule"] = "GPU sweep: every 64-atom trajectory trains except the two held out for validation"
(root / "splits.json").write_text(json.dumps(splits, indent=1))
print("train", splits["splits"]["train"], "val", held_out)
PYEOF
common="data=$WORK/data device=$DEVICE minutes=$MINUTES lr_by_time=true steps=100000000 val_every=1000 threads=2"
b16="batch_structures=16 probes_per_structure=4000"
# the session-9 baseline A, spelled out now that configs/dense-h-v1.yaml holds the B + rank-2 recipe
A="net.features=32 net.vector_features=16 net.hidden=64 net.tensor_features=0"
declare -A RUNS=(
  [A-b4]="configs/dense-h-v1.yaml $A"
  [A-b16]="configs/dense-h-v1.yaml $A $b16"
  [B-b16]="configs/dense-h-v1.yaml $A $b16 net.features=48 net.vector_features=32 net.hidden=96"
  [A-rc25-b16]="configs/dense-h-v1.yaml $A $b16 net.cutoff_probe=2.5 net.rbf=16"
  [LR-b16]="configs/dense-h-lr.yaml $b16"
  [C-b16]="configs/dense-h-v1.yaml $A $b16 net.features=64 net.vector_features=32 net.hidden=128 net.layers=4"
)
ONLY=${ONLY:-${!RUNS[*]}}  # e.g. ONLY="B-b16 A-b4": a subset of the runs
for name in $ONLY; do
    set -- ${RUNS[$name]}
    cfg=$1; shift
    $PY -c "from geoelf.cli.main import main; main()" train "$cfg" $common "$@" out="$WORK/$name" name="$name" \
        > "$WORK/$name.log" 2>&1 &
done
wait
for name in $ONLY; do
    echo "== $name: $(tail -c 300 "$WORK/$name.log" | tr '\r' '\n' | tail -n 2)"
    $PY -c "import json,sys; h=json.load(open(sys.argv[1]))['history']; print([(r['step'], round(r['val_r2'],5), round(r['val_mae'],5)) for r in h])" "$WORK/$name/checkpoint.json"
done
tar -czf "$RESULTS/sweep.tar.gz" -C "$WORK" --exclude=data --exclude=checkpoint.safetensors .
ls -la "$RESULTS"
