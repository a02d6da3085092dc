# gpuaug on an NVIDIA CUDA 13 runtime, for GPU CI runners and training clusters.
#
#   docker build -t gpuaug .                     # the image: gpuaug[cuda,dali], non-root
#   docker build -t gpuaug:cuda12 --build-arg CUDA_IMAGE=nvidia/cuda:12.6.3-runtime-ubuntu24.04 \
#       --build-arg GPUAUG_EXTRAS=cuda12,dali12 .   # the same for CUDA 12 drivers
#   docker run --rm --gpus all gpuaug            # runs `gpuaug demo`
#   docker run --rm --gpus all gpuaug gpuaug info
#   docker build --target test -t gpuaug:test .  # + the test suite, for `pytest -m gpu`
#
# Three stages: `build` makes the wheel and a virtual environment with the extras (pip and
# its caches stay there); `runtime` copies only that environment onto a fresh CUDA runtime
# base, so no build tools reach the final image; `test` adds the tests on top of it.

ARG CUDA_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04
# The extras of the image's CUDA: cuda,dali for CUDA 13; cuda12,dali12 for CUDA 12.
ARG GPUAUG_EXTRAS=cuda,dali

FROM ${CUDA_IMAGE} AS build
ARG GPUAUG_EXTRAS
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/gpuaug
ENV PATH=/opt/gpuaug/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gpuaug ./gpuaug
RUN pip install --no-cache-dir --upgrade pip build \
 && python -m build --wheel --outdir /wheels . \
 && pip install --no-cache-dir "$(ls /wheels/gpuaug-*.whl)[${GPUAUG_EXTRAS}]" \
 && pip uninstall -y build

FROM ${CUDA_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 gpuaug
COPY --from=build /opt/gpuaug /opt/gpuaug
ENV PATH=/opt/gpuaug/bin:$PATH \
    PYTHONUNBUFFERED=1
USER gpuaug
WORKDIR /home/gpuaug
HEALTHCHECK --interval=5m --timeout=60s CMD ["gpuaug", "info"]
CMD ["gpuaug", "demo"]

FROM runtime AS test
USER root
RUN pip install --no-cache-dir "pytest>=8" "hypothesis>=6" "ml_dtypes>=0.4"
USER gpuaug
COPY --chown=gpuaug tests ./tests
COPY --chown=gpuaug pyproject.toml ./
CMD ["python", "-m", "pytest", "-ra", "-m", "gpu", "tests"]
