#!/usr/bin/env bash
# Score image files/folders (idealo's predict role).
usage() {
  cat <<USAGE
Usage: entrypoints/predict.sh (-m MODEL | -w WEIGHTS [-b BACKBONE]) [-o OUTPUT] [-r] PATH...

  -m MODEL     trained model (.keras; .onnx / SavedModel dir where the export backends exist)
  -w WEIGHTS   idealo NIMA Keras 2 weights (.hdf5), scored with their preprocessing
  -b BACKBONE  backbone of WEIGHTS (default mobilenet)
  -o OUTPUT    write .json (idealo-compatible list) or .csv
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
while getopts "m:w:b:o:rh" opt; do
  case $opt in
    m) ARGS+=(--model "$OPTARG") ;; w) WEIGHTS=$OPTARG ;; b) BACKBONE=$OPTARG ;;
    o) ARGS+=(--output "$OPTARG") ;; r) ARGS+=(--recursive) ;;
    h) usage; exit 0 ;; *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ -n "$WEIGHTS" ] && ARGS+=(--weights "$WEIGHTS" --backbone "$BACKBONE")
if [ ${#ARGS[@]} -eq 0 ] || [ $# -eq 0 ]; then usage >&2; exit 2; fi
source "$(dirname "$0")/_common.sh"
exec "$AESTHETICS" predict "${ARGS[@]}" "$@"
