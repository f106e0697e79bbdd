#!/usr/bin/env bash
# Build the GPU image (Dockerfile at the repo root) and run aesthetics in it:
# train on a GPU, then evaluate / predict / export with the trained model.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-aesthetics:gpu}"

usage() {
    cat <<EOF
usage: entrypoints/train_gpu.sh COMMAND [ARGS...]

  build                          docker build -t \$IMAGE <repo>
  train   DATA RUNS [TRAIN ARGS] aesthetics train in the container; DATA is mounted
                                 read-only at /data, RUNS at /runs
  predict RUNS IMAGES [ARGS]     aesthetics predict IMAGES (mounted at /images)
                                 with /runs/latest/model.keras unless --model is given
  export  RUNS [EXPORT ARGS]     aesthetics export in the container (writes under /runs)
  shell   [DATA RUNS]            an interactive shell in the image

Environment: IMAGE (default aesthetics:gpu); GPUS (default all; --gpus value);
DRY_RUN=1 prints the docker commands instead of running them.

Example (CLIVE: images/ and labels.csv with MOS 0..100 under ~/data/clive):
  entrypoints/train_gpu.sh build
  entrypoints/train_gpu.sh train ~/data/clive ~/runs \\
      --config configs/clive_mobilenet.json --images /data/images \\
      --labels /data/labels.csv --output /runs/clive
  entrypoints/train_gpu.sh predict ~/runs ~/photos --model /runs/clive/model.keras \\
      --output /runs/clive/photos.json
  entrypoints/train_gpu.sh export ~/runs --model /runs/clive/model.keras \\
      --format savedmodel --output /runs/exports/aesthetics/1
EOF
}

run() {
    if [[ "${DRY_RUN:-0}" == "1" ]]; then
        printf '%q ' "$@"
        printf '\n'
    else
        "$@"
    fi
}

abs() { (cd "$1" && pwd); }

# Files written in the mounted folders belong to the calling user, not root;
# HOME=/tmp gives Keras a writable cache for downloaded ImageNet weights.
docker_run() {
    run docker run --rm --gpus "${GPUS:-all}" --user "$(id -u):$(id -g)" -e HOME=/tmp "$@"
}

command="${1:-}"
[[ $# -gt 0 ]] && shift
case "$command" in
    build)
        run docker build -t "$IMAGE" "$@" "$REPO"
        ;;
    train)
        [[ $# -ge 2 ]] || { usage >&2; exit 2; }
        data="$(abs "$1")"
        mkdir -p "$2"
        runs="$(abs "$2")"
        shift 2
        docker_run -v "$data:/data:ro" -v "$runs:/runs" "$IMAGE" train "$@"
        ;;
    predict)
        [[ $# -ge 2 ]] || { usage >&2; exit 2; }
        runs="$(abs "$1")"
        images="$(abs "$2")"
        shift 2
        model=(--model /runs/latest/model.keras)
        for arg in "$@"; do
            [[ "$arg" == "--model" || "$arg" == --model=* ]] && model=()
        done
        docker_run -v "$runs:/runs" -v "$images:/images:ro" "$IMAGE" predict /images "${model[@]}" "$@"
        ;;
    export)
        [[ $# -ge 1 ]] || { usage >&2; exit 2; }
        runs="$(abs "$1")"
        shift
        docker_run -v "$runs:/runs" "$IMAGE" export "$@"
        ;;
    shell)
        mounts=()
        if [[ $# -ge 2 ]]; then
            mounts=(-v "$(abs "$1"):/data:ro" -v "$(abs "$2"):/runs")
        fi
        run docker run --rm -it --gpus "${GPUS:-all}" "${mounts[@]}" --entrypoint bash "$IMAGE"
        ;;
    -h|--help|help)
        usage
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
