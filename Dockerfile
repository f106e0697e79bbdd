# GPU training image for `aesthetics`: TensorFlow's own CUDA image for the
# TensorFlow version pinned in pyproject.toml (tensorflow>=2.21,<2.22), with
# this package installed on top. Build and run it with entrypoints/train_gpu.sh:
#
#   docker build -t aesthetics:gpu .
#   docker run --rm --gpus all -v $PWD/data:/data:ro -v $PWD/runs:/runs aesthetics:gpu \
#       train --config configs/clive_mobilenet.json --images /data/images \
#       --labels /data/labels.csv --output /runs/clive
#
# ONNX export inside the container needs the [onnx] extra:
#   docker build --build-arg EXTRAS="[onnx]" -t aesthetics:gpu .
FROM tensorflow/tensorflow:2.21.0-gpu

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /opt/aesthetics
COPY pyproject.toml README.md ./
COPY aesthetics/ aesthetics/
COPY configs/ configs/
COPY entrypoints/ entrypoints/
# The base image already has the pinned TensorFlow, so pip keeps it.
RUN pip install --no-cache-dir ".${EXTRAS}"

# Relative paths (configs/...) resolve here; data and runs are mounted volumes.
ENTRYPOINT ["aesthetics"]
CMD ["--help"]
