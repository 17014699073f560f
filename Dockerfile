# flagstream: a minimal production image (docs/deploy.md). Not built by the test suite (no
# image registry on the build machines); tests/deploy/test_container_image.py checks that it
# runs what the tests run and that the same install steps produce a complete package.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sse_service sse_service
COPY flags flags
COPY observability observability
COPY rollout rollout
COPY loadtest loadtest
COPY clients/python clients/python
COPY clients/js/src clients/js/src
# The Makefile's steps, without the test extras and not editable.
RUN python -m venv /opt/flagstream \
 && /opt/flagstream/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/flagstream/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 flagstream \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/flagstream flagstream \
 && install -d -o 10001 -g 10001 /var/lib/flagstream
COPY --from=build /opt/flagstream /opt/flagstream
ENV PATH=/opt/flagstream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FLAGSTREAM_HOST=0.0.0.0 \
    FLAGSTREAM_PORT=8080 \
    FLAGSTREAM_STATE_DIR=/var/lib/flagstream
USER 10001:10001
WORKDIR /var/lib/flagstream
EXPOSE 8080
# The server is PID 1 (exec form, no shell): SIGTERM reaches it and starts the drain
# (`shutdown` to every stream, exit within SHUTDOWN_GRACE).
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "sse_service.cli", "serve"]
