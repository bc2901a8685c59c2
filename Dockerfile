# accord: API + dashboard (`accord serve`) and job worker (`accord worker`) in one image.
#
#   docker build -t accord:0.1.0 .
#   docker run --rm -p 8000:8000 -e ACCORD_DATABASE_URL=postgresql+psycopg://... accord:0.1.0
#
# torch is installed first and on its own (see the README on CPU and GPU wheels); pass
# --build-arg TORCH_PIP_ARGS="--index-url <your CPU wheel index>" for a CPU-only image.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ACCORD_HOME=/data

ARG TORCH_VERSION=2.13.0
ARG TORCH_PIP_ARGS=""
RUN pip install ${TORCH_PIP_ARGS} "torch==${TORCH_VERSION}"

WORKDIR /app
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY constitutions ./constitutions
COPY pipelines ./pipelines
RUN pip install ".[argilla,service]"

RUN useradd --create-home --uid 10001 accord && mkdir -p /data && chown accord:accord /data
USER accord
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=5 \
  CMD python -c "import urllib.request as u; u.urlopen('http://localhost:8000/api/health', timeout=5)"

CMD ["accord", "serve", "--host", "0.0.0.0", "--port", "8000"]
