#!/bin/bash
# GPU sweep (issue 4): ProbeNet sizes trained side by side on the lent GPU for the
# same wall-clock budget, on dataset v1's complete training split carried as packs
# (scripts/device_train.py pack; the HDF5 dataset is larger than what the device machine accepts),
# validated on every second snapshot of the validation split. Each run's learning rate decays with
# the clock, so each ends at lr_final.
#   MINUTES=7 RESULTS=$OUT bash scripts/device_sweep.sh              (device machine, image's python3)
#   SWEEP=s21 MINUTES=7 RESULTS=$OUT bash scripts/device_sweep.sh    (session 21's capacity sweep)
#   MINUTES=0.1 DEVICE=cpu RESULTS=/tmp/s bash scripts/device_sweep.sh   (a dry run here)
# Results: $RESULTS/sweep.tar.gz (each run's model package, history, config, log).
set -u
MINUTES=${MINUTES:-7}
DEVICE=${DEVICE:-auto}
RESULTS=${RESULTS:?set RESULTS}
PY=${PY:-python3}
PACKS=${PACKS:-.devpack}
WORK=${WORK:-/tmp/sweep15}
GUARD=${GUARD:-545}  # seconds: every run is killed by then, so the results are always packed
rm -rf "$WORK"; mkdir -p "$WORK"
if [ -d .whl ]; then  # packages the device image lacks (ase), carried as wheels
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
SWEEP=${SWEEP:-s15}
if [ "$SWEEP" = s15 ]; then  # session 15: three sizes of the version-2 recipe, large batches
  CONFIG=configs/dense-h-v1.yaml
  common="batch_structures=16 probes_per_structure=${PROBES:-8000} threads=4"
  declare -A RUNS=(
    [ship]=""                                                                         # the shipped size
    [L6]="net.features=64 net.tensor_features=16 net.hidden=128 net.layers=6"       # 0.40 s per frame here
    [W96]="net.features=96 net.tensor_features=16 net.hidden=160 net.layers=6"      # 0.45 s per frame here
  )
else  # session 21: where the version-3 recipe lacks capacity (atom graph, probe stage, both)
  CONFIG=configs/dense-h-v1-v3b-candidate.yaml
  common="batch_structures=2 probes_per_structure=${PROBES:-4000} threads=3 compile=false"
  atoms="net.atom_features=128 net.layers=5"
  probe="net.features=96 net.vector_features=48 net.tensor_features=16 net.hidden=160"
  declare -A RUNS=([base]="" [atoms]="$atoms" [probe]="$probe" [big]="$atoms $probe")
fi
common="device=$DEVICE minutes=$MINUTES lr_by_time=true steps=100000000 val_every=500 $common"
ONLY=${ONLY:-${!RUNS[*]}}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for name in $ONLY; do
    timeout "$GUARD" $PY scripts/device_train.py train "$PACKS/train.npz" "$PACKS/val.npz" $CONFIG \
        $common ${RUNS[$name]} name=dense-h-v1 out="$WORK/$name" >"$WORK/$name.log" 2>&1 &
done
wait
for name in $ONLY; do
    echo "== $name: $(tail -1 "$WORK/$name.log")"
    $PY - "$WORK/$name/checkpoint.json" <<'PYEOF'
import json, sys
try:
    h = json.load(open(sys.argv[1]))["history"]
except OSError:
    sys.exit("no checkpoint")
for e in h:
    print(f"  step {e['step']:6d}  {e['minutes']:5.2f} min  train rmse {e['train_mse'] ** 0.5:.4f}  val r2 {e['val_r2']:.5f}  mae {e['val_mae']:.4f}")
PYEOF
done
rm -f "$WORK"/*/loss.png "$WORK"/*/checkpoint.safetensors  # Adam's state: 3x the model, not needed back
tar -czf "$RESULTS/sweep.tar.gz" -C "$WORK" .
ls -la "$RESULTS"
