#!/usr/bin/env bash
# The final dense-h-v1 from the complete dataset v1, in stages that can be rerun one by one:
#
#   scripts/finalize_v1.sh train       # the recipe (75 min on one CPU thread, within the 2-hour budget)
#   scripts/finalize_v1.sh cnn         # the ELFNet-style CNN baseline on the same train split
#   scripts/finalize_v1.sh install     # copy the run's package into src/geoelf/models/dense-h-v1
#   scripts/finalize_v1.sh example     # the shipped demo frame from a test-split trajectory
#   scripts/finalize_v1.sh card        # MODEL_CARD.md: test, 128-atom and crystal splits, baselines beside
#                                        (REUSE=DIR/evaluation: the baselines' documents of an earlier card;
#                                         REUSE_MODEL=1: the model's own, to rewrite the text after the notes change)
#   scripts/finalize_v1.sh card-ks     # dense-h-v1-ks's MODEL_CARD.md on the same splits, dense-h-v1's card's
#                                        documents beside (run after card)
#   scripts/finalize_v1.sh residuals   # docs/residuals on the test split, protocol noise beside
#   scripts/finalize_v1.sh bench       # prediction vs DFT speed, screening throughput
#
# Each stage reads what the one before it wrote; nothing here is needed by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
GEOELF=.venv/bin/geoelf
PYTHON=.venv/bin/python
RUN=${RUN:-runs/dense-h-v1}
CNN_RUN=${CNN_RUN:-runs/elfnet-cnn-final}
MODEL=src/geoelf/models/dense-h-v1
EXAMPLE=data/v1/fluid/h64_rs1.33_T2800_s1111/h64_rs1.33_T2800_s1111_step000900.h5

test_globs() {
  # the test split's trajectories, as sample globs (the residual report takes globs)
  $PYTHON -c "from geoelf.data.dataset import load_splits; print(' '.join(f'data/v1/fluid/{t}/*.h5' for t in load_splits('data/v1')['test']))"
}

case "${1:-}" in
  train)
    $GEOELF dataset split data/v1
    # the recipe (version 4: orientation and l = 3, 4 probe channels, 75 min) is the config file; a rerun resumes the run
    $GEOELF train configs/dense-h-v1.yaml out="$RUN" device=cpu ;;
  cnn)
    # one core for 60 min, as when it was first trained, so that the baseline's budget does not change
    $GEOELF train configs/elfnet-cnn.yaml out="$CNN_RUN" threads=1 steps=100000 minutes=60 lr_by_time=true val_every=100
    # the baseline is chosen on the validation split: replace baselines/elfnet-cnn only if this wins
    for m in baselines/elfnet-cnn "$CNN_RUN"/model; do
      echo "$m: $($GEOELF evaluate --dataset data/v1 --split val --model "$m" --no-topology | grep aggregate:)"
    done ;;
  install)
    # the package's "version" comes from the training config (configs/dense-h-v1.yaml: 4)
    cp "$RUN"/model/weights.safetensors "$RUN"/model/config.json "$MODEL"/ ;;
  example)
    $PYTHON scripts/make_example.py "$EXAMPLE" ;;
  card)
    $PYTHON scripts/model_card.py "$MODEL" --splits test test_large crystal --notes docs/model_notes/dense-h-v1.md \
      --status "$(cat docs/model_notes/dense-h-v1-status.md)" \
      --baseline promolecular --baseline baselines/elfnet-cnn --run "$RUN" ${REUSE:+--reuse-baselines "$REUSE"} ${REUSE_MODEL:+--reuse-model} ;;
  card-ks)
    $PYTHON scripts/model_card.py src/geoelf/models/dense-h-v1-ks --splits test test_large crystal \
      --notes docs/model_notes/dense-h-v1-ks.md --status "$(cat docs/model_notes/dense-h-v1-ks-status.md)" \
      --baseline dense-h-v1 --baseline promolecular --baseline baselines/elfnet-cnn --run runs/dense-h-v1-ks \
      --reuse-baselines "$MODEL/evaluation" ${REUSE_MODEL:+--reuse-model} ;;
  residuals)
    # the globs go to the script unexpanded (set -f), so the report prints them, not 60 paths
    set -f
    # shellcheck disable=SC2046
    $PYTHON scripts/residual_report.py $(test_globs) --model dense-h-v1 \
      --noise reports/protocol_noise.json --out docs/residuals \
      --preface "The final dense-h-v1, version 4 (48 / 16 / 96 with 8 rank-2 channels, 8 + 8 orientation channels and 8 + 8 probe channels of angular order 3 and 4, trained on v1's complete training split, 240 snapshots) on the whole test split of dataset v1: one held-out trajectory per even (rs, T) condition, 60 frames at 48–441 GPa, never trained on." ;;
  bench)
    $PYTHON benchmarks/bench_predict.py --sizes 64 128 256 --dft-sizes 64 128 --runs 3
    $PYTHON benchmarks/bench_screen.py --runs 3 ;;
  *)
    sed -n '2,12p' "$0"; exit 2 ;;
esac
