# One image for every edgemc component; the command picks the component, e.g.
#   docker run ghcr.io/edgemc/edgemc:latest syncer --from-kubeconfig=/kcp/kubeconfig ...
# Build: make image (needs Docker).

# --- build stage: wheels of edgemc and of its pinned dependencies ------------------------
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY edgemc ./edgemc
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.lock \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- final stage: the wheels installed, nothing to build with ----------------------------
FROM python:3.11-slim-bookworm
COPY --from=build /wheels /wheels
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --no-index --find-links=/wheels -r /tmp/requirements.lock \
    && pip install --no-cache-dir --no-index --no-deps /wheels/edgemc-*.whl \
    && rm -rf /wheels /tmp/requirements.lock \
    && useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin edgemc
USER 65532:65532
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["python", "-m", "edgemc.cmd"]
CMD ["--help"]
