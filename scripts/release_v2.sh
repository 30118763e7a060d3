#!/usr/bin/env bash
# dense-h-v2 (and its geometric variant) from datasets v1 and v2, in stages that can be rerun one by one:
#
#   scripts/release_v2.sh split         # dataset v2's held-out sets (replica-1 trajectories, solid types, heterogeneous hosts)
#   scripts/release_v2.sh train         # both recipes side by side, one thread each (configs/dense-h-v2*.yaml)
#   scripts/release_v2.sh install       # copy the runs' packages into src/geoelf/models/
#   scripts/release_v2.sh calibrate     # each package's error model, on the validation splits of v1 and v2
#   scripts/release_v2.sh card          # MODEL_CARD.md: v1's held-out splits beside v2's, per condition
#   scripts/release_v2.sh uncertainty   # the calibration report on the same splits, into the card
#   scripts/release_v2.sh domain        # what the domain check takes in and flags
#   scripts/release_v2.sh bench         # cost per frame and per grid point against dense-h-v1
#   scripts/release_v2.sh reproduce     # three random v2 samples recomputed with DFT (protocol v1)
#
# Each stage reads what the one before it wrote; nothing here is needed by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
GEOELF=.venv/bin/geoelf
PYTHON=.venv/bin/python
MODELS=(dense-h-v2 dense-h-v2-geometry)
# the card's splits: v1's three held-out ones (never trained on), v2's validation split and its three held-out ones
SPLITS=(test test_large crystal data/v2:test data/v2:val data/v2:test_solid data/v2:test_heterogeneous)
# the error bars are fitted on the validation splits, so they are judged on the others only
HELD_OUT=()
for s in "${SPLITS[@]}"; do [[ $s == *:val ]] || HELD_OUT+=("$s"); done

case "${1:-}" in
  split)
    $GEOELF dataset split data/v2
    $GEOELF dataset info data/v2 ;;
  train)
    # two runs on two cores: one thread each, as the recipes say; a rerun resumes each run
    mkdir -p runs
    for m in "${MODELS[@]}"; do
      $GEOELF train "configs/$m.yaml" > "runs/$m.log" 2>&1 &
    done
    wait ;;
  install)
    for m in "${MODELS[@]}"; do
      mkdir -p "src/geoelf/models/$m"
      # the error model belongs to the weights it was fitted for: the next stage fits it again
      cp "runs/$m/model/weights.safetensors" "runs/$m/model/config.json" "src/geoelf/models/$m/"
    done ;;
  calibrate)
    for m in "${MODELS[@]}"; do
      $GEOELF calibrate --dataset data/v1 --dataset data/v2 --split val --model "src/geoelf/models/$m"
    done ;;
  card)
    # dense-h-v1-ks (the model of v1's domain) and dense-h-v1 (whose figures are the no-regression
    # targets) beside each: their documents on v1's splits come from their own cards, on v2's from the
    # first card of this stage (the same weights, so the same figures)
    reuse=(--reuse-baselines src/geoelf/models/dense-h-v1-ks/evaluation --reuse-baselines src/geoelf/models/dense-h-v1/evaluation)
    for m in "${MODELS[@]}"; do
      $PYTHON scripts/model_card.py "src/geoelf/models/$m" --dataset data/v1 --splits "${SPLITS[@]}" \
        --status "$(cat "docs/model_notes/$m-status.md")" --notes "docs/model_notes/$m.md" --targets configs/dense-h-v2-targets.yaml \
        --baseline dense-h-v1-ks --baseline dense-h-v1 --run "runs/$m" "${reuse[@]}" ${REUSE_MODEL:+--reuse-model}
      reuse+=(--reuse-baselines "src/geoelf/models/$m/evaluation")
    done ;;
  uncertainty)
    for m in "${MODELS[@]}"; do
      $PYTHON scripts/calibration_report.py "src/geoelf/models/$m" --dataset data/v1 --splits "${HELD_OUT[@]}" \
        --figures "docs/uncertainty/$m" --card --reuse-card
    done ;;
  domain)
    $PYTHON scripts/domain_check.py "${MODELS[@]/#/src/geoelf/models/}" dense-h-v1-ks ;;
  bench)
    # the DFT in the background paused; medians of 5 processes on the DFT grid and on one twice as fine,
    # then the DFT grid again beside one busy background process
    for flags in "--grid-scale 1" "--grid-scale 2" "--grid-scale 1 --busy"; do
      # shellcheck disable=SC2086  # the flags are meant to split
      $PYTHON benchmarks/bench_predict.py --model dense-h-v1 --model dense-h-v2-geometry --model dense-h-v2 \
        --sizes 64 --dft-sizes --runs 5 $flags
    done ;;
  reproduce)
    $PYTHON scripts/check_reproducibility.py data/v2 --n 3 --seed 0 --record ;;
  *)
    sed -n '2,14p' "$0"; exit 2 ;;
esac
