# syntax=docker/dockerfile:1
# Harmony Gateway — production image.
#   docker build -t harmony-gateway .
#   docker run -p 8000:8000 -e DATABASE_URL=postgresql+asyncpg://… -e JWT_SECRET=… \
#     -e WEB_WORKERS=2 -e MIGRATE_ON_START=1 harmony-gateway
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv

# Dependencies first, from pyproject.toml alone, so this layer is reused until they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the code.
COPY README.md alembic.ini ./
COPY app ./app
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin harmony

COPY scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint
USER harmony

ENV APP_ENV=production \
    WEB_WORKERS=2 \
    PORT=8000 \
    MIGRATE_ON_START=0
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=2)"

ENTRYPOINT ["docker-entrypoint"]
