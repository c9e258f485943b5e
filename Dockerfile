# syntax=docker/dockerfile:1
# Harmony Gateway — production image (docs/scaling.md; compose.yaml runs several).
#   docker build -t harmony-gateway .
#   docker run -p 8000:8000 -v harmony-data:/data -e JWT_SECRET=<32+ chars> \
#     -e MIGRATE_ON_START=1 harmony-gateway            # SQLite in the /data volume
#   docker run … -e DATABASE_URL=postgresql+asyncpg://harmony_app:…@db/harmony \
#     -e MIGRATION_DATABASE_URL=postgresql+asyncpg://harmony:…@db/harmony harmony-gateway
#   docker run --rm … harmony-gateway migrate          # any `python -m app` command
# Dependencies come from requirements/app.lock only (hash-checked wheels; scripts/lock).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: the virtual environment, from the lock, then the app as a wheel.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# No pip inside the venv: the base image's pip installs into it (--python).
RUN python -m venv --without-pip /opt/venv
WORKDIR /build
COPY requirements/app.lock requirements/app.lock
# Wheels only: nothing compiles, so the builder needs no compiler either.
RUN pip --python /opt/venv/bin/python install --require-hashes --only-binary=:all: \
      -r requirements/app.lock
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip --python /opt/venv/bin/python install --no-deps . \
    && /opt/venv/bin/python -m app --help >/dev/null

# ---- runtime: the interpreter, the venv and the entry point; nothing else of the build.
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
# The base image's installers are of no use at run time.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin harmony \
    && mkdir /data \
    && chown harmony:harmony /data
COPY --from=builder /opt/venv /opt/venv
COPY --chmod=0755 scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint
USER harmony
WORKDIR /data
# The embedded default writes its SQLite file in /data (a volume: it outlives the
# container); with PostgreSQL, /data holds nothing.
ENV APP_ENV=production \
    DATABASE_URL=sqlite+aiosqlite:////data/harmony.db \
    WEB_WORKERS=2 \
    PORT=8000 \
    MIGRATE_ON_START=0 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/harmony-metrics
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
ENTRYPOINT ["docker-entrypoint"]
