#!/usr/bin/env bash
# Score image files/folders (idealo's predict role).
usage() {
  cat <<USAGE
Usage: entrypoints/predict.sh [-m MODEL | -w WEIGHTS [-b BACKBONE]] [-o OUTPUT [-c]] [-r] PATH...

  -m MODEL     a shipped model's name or a trained/exported model (.keras, .onnx,
               .tflite, SavedModel folder); default: the default shipped model
  -w WEIGHTS   idealo NIMA Keras 2 weights (.hdf5), scored with their preprocessing
  -b BACKBONE  backbone of WEIGHTS (default mobilenet)
  -o OUTPUT    write .csv, .jsonl or .json (idealo-compatible list), batch by batch
  -c           continue an interrupted run: keep OUTPUT's scores, score the rest (--resume)
  -r           descend into sub-folders
  PATH         image files, folders or glob patterns

Example:
  entrypoints/predict.sh -w weights_mobilenet_aesthetic_0.07.hdf5 -o scores.json photos/
USAGE
}
set -euo pipefail
ARGS=()
BACKBONE=mobilenet
WEIGHTS=
while getopts "m:w:b:o:crh" opt; do
  case $opt in
    m) ARGS+=(--model "$OPTARG") ;; w) WEIGHTS=$OPTARG ;; b) BACKBONE=$OPTARG ;;
    o) ARGS+=(--output "$OPTARG") ;; c) ARGS+=(--resume) ;; r) ARGS+=(--recursive) ;;
    h) usage; exit 0 ;; *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ -n "$WEIGHTS" ] && ARGS+=(--weights "$WEIGHTS" --backbone "$BACKBONE")
if [ $# -eq 0 ]; then usage >&2; exit 2; fi
source "$(dirname "$0")/_common.sh"
exec "$AESTHETICS" predict ${ARGS[@]+"${ARGS[@]}"} "$@"
