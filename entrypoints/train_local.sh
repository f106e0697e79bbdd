#!/usr/bin/env bash
# Train on a local machine (idealo's train_local role).
usage() {
  cat <<USAGE
Usage: entrypoints/train_local.sh -c CONFIG -i IMAGE_DIR -l LABELS -o RUN_DIR [-- extra 'aesthetics train' args]

  -c CONFIG     JSON config, e.g. configs/nima_mobilenet.json
  -i IMAGE_DIR  folder with the images named in LABELS
  -l LABELS     AVA.txt, idealo JSON, MOS CSV (add -- --score-range 0 100) or TID2013 file
  -o RUN_DIR    output folder (model.keras, metrics.json, history.csv); re-run to resume

Example:
  entrypoints/train_local.sh -c configs/clive_mobilenet.json -i data/clive/images \\
      -l data/clive/labels.csv -o runs/clive -- --backbone-weights mobilenet_notop.weights.h5
USAGE
}
set -euo pipefail
CONFIG= IMAGES= LABELS= OUT=
while getopts "c:i:l:o:h" opt; do
  case $opt in
    c) CONFIG=$OPTARG ;; i) IMAGES=$OPTARG ;; l) LABELS=$OPTARG ;; o) OUT=$OPTARG ;;
    h) usage; exit 0 ;; *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ -z "$CONFIG" ] || [ -z "$IMAGES" ] || [ -z "$LABELS" ] || [ -z "$OUT" ]; then usage >&2; exit 2; fi
source "$(dirname "$0")/_common.sh"
exec "$AESTHETICS" train --config "$CONFIG" --images "$IMAGES" --labels "$LABELS" --output "$OUT" "$@"
