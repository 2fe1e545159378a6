# appstore-publish: the GitHub Action's image, also usable on its own (arguments go to the CLI):
#   docker run --rm -v "$PWD:/work" -w /work IMAGE validate publish.yaml
#   docker run --rm -v "$PWD:/work" -w /work -e ASC_PRIVATE_KEY IMAGE run publish.yaml --ipa App.ipa
# Without arguments it is the action: inputs from INPUT_* variables, outputs to $GITHUB_OUTPUT.
FROM python:3.11-slim

ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="appstore-publish" \
      org.opencontainers.image.description="Ship an iOS .ipa to TestFlight and the App Store from Linux through the App Store Connect API" \
      org.opencontainers.image.source="https://github.com/appstore-publish/appstore-publish" \
      org.opencontainers.image.documentation="https://github.com/appstore-publish/appstore-publish#readme" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# Pinned, hash-checked runtime dependencies (requirements.lock is compiled from requirements.in by pip-compile).
COPY requirements.lock /app/requirements.lock
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: -r /app/requirements.lock

# The package runs from /app; the JSON Schemas go where the installed wheel has them (publish.schemas).
# Byte-compiled once here, so that each start does not compile it again (PYTHONDONTWRITEBYTECODE stops that).
COPY publish /app/publish
COPY schemas /app/publish/schemas
COPY entrypoint.py /app/entrypoint.py
RUN printf '#!/bin/sh\nexec python -m publish "$@"\n' > /usr/local/bin/appstore-publish \
    && chmod 0755 /usr/local/bin/appstore-publish \
    && python -m compileall -q /app/publish /app/entrypoint.py \
    && python -m publish --version

# No USER on purpose: GitHub runs a Docker action as the image's default user and requires it to be root.
# entrypoint.py gives root up for the UID/GID that own the working directory (the mounted workspace) before it
# does any work, so what it writes there belongs to the job, whatever the runner's UID.
ENTRYPOINT ["python", "/app/entrypoint.py"]
