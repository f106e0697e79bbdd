#!/usr/bin/env bash
# One command on a fresh machine: set up ./.venv, train a small model on the
# bundled sample (aesthetics/sample_data), evaluate it on its validation photos,
# score a folder and print the scores. A few minutes on 2 CPU cores.
#
# Environment: BACKBONE_WEIGHTS (default "imagenet"; or a local
# mobilenet_1_0_224 .weights.h5 when offline), RUN_DIR (default runs/sample).
set -euo pipefail
cd "$(dirname "$0")/.."
bash entrypoints/setup_venv.sh
PY=.venv/bin/python
AE=.venv/bin/aesthetics
SAMPLE=aesthetics/sample_data
RUN=${RUN_DIR:-runs/sample}
WEIGHTS=${BACKBONE_WEIGHTS:-imagenet}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

if [ "$WEIGHTS" = imagenet ] && ! "$PY" -c "
from aesthetics.models.backbones import build_backbone
build_backbone('mobilenet', (224, 224, 3), 'imagenet')" >/dev/null 2>&1; then
  echo "quickstart: ImageNet weights cannot be downloaded here (offline?), so the backbone"
  echo "quickstart: starts from random weights and the scores will mean little. Point"
  echo "quickstart: BACKBONE_WEIGHTS at a local mobilenet_1_0_224 .weights.h5 for a real model."
  WEIGHTS=none
fi

echo "== train (bundled sample: 11 photos x 4 quality levels) -> $RUN"
"$AE" train --config configs/sample.json --images "$SAMPLE/images" --labels "$SAMPLE/labels.csv" \
  --backbone-weights "$WEIGHTS" --output "$RUN" --no-resume --verbose 2
echo "== evaluate on the validation photos"
"$AE" evaluate --model "$RUN/model.keras" --images "$SAMPLE/images" --labels "$SAMPLE/labels.csv" \
  --score-range 0 100 --split-file "$RUN/split.json" --output "$RUN/eval/metrics.json"
echo "== predict: score every sample image (mean ± std on 1..10)"
"$AE" predict --model "$RUN/model.keras" "$SAMPLE/images" --output "$RUN/predictions.json"
echo "== done: model $RUN/model.keras, metrics $RUN/eval/metrics.json (+ .png), scores $RUN/predictions.json"
