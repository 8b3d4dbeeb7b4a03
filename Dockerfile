# meetergo-calendar-bff: the service's container image.
#
#   docker build -t meetergo-calendar-bff .
#   docker run --rm -p 127.0.0.1:8000:8000 --stop-timeout 30 --env-file bff.env meetergo-calendar-bff
#
# Configuration comes only from BFF_* environment variables at run time (see .env.example); the
# image holds no secrets, no tests and no development tools. The same image runs the meetergo
# sandbox with the command `python -m sandbox` (docker-compose.yml does).
# tests/deploy/test_image_equivalent.py replays this file's build steps and starts its CMD: keep
# them in the forms that test understands (it fails loudly on anything new).

# --- build: a virtual environment with the project and its runtime dependencies -----------------
FROM python:3.11.15-slim-bookworm AS build

WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

# Dependencies first, exactly as locked (requirements/runtime.txt, written by scripts/lock), each
# file checked against its hash: this layer is rebuilt when the lock changes, not on every change
# to the code or the README.
COPY requirements/runtime.txt requirements/build.txt ./requirements/
RUN pip install --no-cache-dir --require-hashes --requirement requirements/runtime.txt

# Then the project itself (non-editable; hatchling reads README.md for the metadata), without
# touching the dependencies installed above, and its bytecode compiled now, since the running
# service may not write into its own files. Hatchling comes from the lock too, into a throwaway
# environment of its own, so no build tool ends up in the image.
COPY README.md pyproject.toml ./
COPY app ./app
COPY sandbox ./sandbox
RUN python -m venv /src/build-tools \
    && /src/build-tools/bin/pip install --no-cache-dir --require-hashes --requirement requirements/build.txt \
    && /src/build-tools/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /src/dist . \
    && pip install --no-cache-dir --no-deps /src/dist/*.whl \
    && python -m compileall -q /opt/venv/lib

# --- runtime: the interpreter, the virtual environment, nothing else -----------------------------
FROM python:3.11.15-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="meetergo-calendar-bff" \
      org.opencontainers.image.description="Calendar connections through meetergo, without the API key in the browser" \
      org.opencontainers.image.licenses="MIT"

# A fixed, unprivileged user: volumes and security policies can name UID/GID 10001.
RUN groupadd --system --gid 10001 bff \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
       --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin bff

COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# An empty directory owned by root: no .env file is read from here, and nothing can be written.
WORKDIR /srv
USER 10001:10001

EXPOSE 8000
# Liveness only (/healthz touches no dependency); load balancers should poll /readyz. There is no
# curl in the slim image, so Python's urllib asks (a non-2xx answer raises, and the exit code is 1).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# SIGTERM starts the graceful drain (/readyz turns 503 for BFF_SHUTDOWN_DRAIN_SECONDS, then
# in-flight requests get BFF_SHUTDOWN_GRACE_SECONDS): give the container a stop timeout of at
# least their sum (docker's default is 10 s; compose sets stop_grace_period).
STOPSIGNAL SIGTERM
# httptools (uvicorn[standard]) parses HTTP; the loop is asyncio's own (app/server.py says why).
CMD ["meetergo-bff", "serve", "--host", "0.0.0.0", "--port", "8000"]
