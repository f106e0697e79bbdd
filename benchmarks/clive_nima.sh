#!/usr/bin/env bash
# Reproduces the foundation benchmark: NIMA-MobileNet trained on the CLIVE dev
# split (fixed 80/20 split, seed 42) from ImageNet weights, on CPU.
# Usage: benchmarks/clive_nima.sh [RUN_DIR] [extra `aesthetics train` args]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${AESTHETICS_SHARED:-../shared}
RUN=${1:-runs/clive_nima}
shift || true
aesthetics train --config configs/clive_mobilenet.json \
  --images "$SHARED/data/clive/images" --labels "$SHARED/data/clive/labels.csv" \
  --backbone-weights "$SHARED/weights/mobilenet_1_0_224_imagenet_notop.weights.h5" \
  --output "$RUN" --verbose 2 "$@"
