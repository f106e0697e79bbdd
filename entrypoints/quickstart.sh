#!/usr/bin/env bash
# One command on a fresh machine, offline: set up ./.venv, score the bundled
# sample photos with both shipped models, technical quality and aesthetic
# appeal (prints the ranking with both scores), fine-tune
# a model on the sample starting from the shipped backbone, evaluate it on its
# validation photos and score the photos again. A few minutes on 2 CPU cores.
#
# Environment: RUN_DIR (default runs/sample).
set -euo pipefail
cd "$(dirname "$0")/.."
bash entrypoints/setup_venv.sh onnx
VENV=${VENV:-.venv}
PY=$VENV/bin/python
AE=$VENV/bin/aesthetics
SAMPLE=aesthetics/sample_data
RUN=${RUN_DIR:-runs/sample}
mkdir -p "$RUN"

echo "== score the sample photos with both shipped models (\`aesthetics models\` lists them)"
"$AE" -q predict "$SAMPLE/images" --output "$RUN/scores_shipped.json" >/dev/null
"$PY" - "$RUN/scores_shipped.json" <<'PYEOF'
import json, sys
records = [r for r in json.load(open(sys.argv[1])) if "error" not in r]
records.sort(key=lambda r: -r["technical"]["mean_score_prediction"])
print("rank  technical  aesthetic  photo  (_q0 = original, _q1.._q3 = stronger artificial degradations)")
for i, r in enumerate(records, 1):
    print(f"{i:4d}  {r['technical']['mean_score_prediction']:9.2f}  "
          f"{r['aesthetic']['mean_score_prediction']:9.2f}  {r['image_id']}")
PYEOF

echo "== fine-tune on the sample (11 photos x 4 quality levels), from the shipped backbone -> $RUN/model"
"$AE" train --config configs/sample.json --images "$SAMPLE/images" --labels "$SAMPLE/labels.csv" \
  --backbone-weights bundled --output "$RUN/model" --no-resume --verbose 2
echo "== evaluate on its validation photos"
"$AE" evaluate --model "$RUN/model/model.keras" --images "$SAMPLE/images" --labels "$SAMPLE/labels.csv" \
  --split-file "$RUN/model/split.json" --output "$RUN/eval/metrics.json"
echo "== score the sample again with the fine-tuned model (mean ± std on 1..10)"
"$AE" predict --model "$RUN/model/model.keras" "$SAMPLE/images" --output "$RUN/scores_finetuned.json"
echo "== done: shipped-model scores $RUN/scores_shipped.json; fine-tuned model $RUN/model/model.keras,"
echo "   metrics $RUN/eval/metrics.json (+ .png), scores $RUN/scores_finetuned.json"
