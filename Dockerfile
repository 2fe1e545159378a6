# appstore-publish: the GitHub Action's image, also usable on its own:
#   docker run --rm -v "$PWD:/work" -w /work -e INPUT_IPA=App.ipa -e INPUT_API-KEY-ID=... image
#   docker run --rm -v "$PWD:/work" -w /work --entrypoint appstore-publish image validate flow.yaml
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# Pinned, hash-checked runtime dependencies (see requirements.lock for how to regenerate it).
COPY requirements.lock /app/requirements.lock
RUN pip install --require-hashes --only-binary=:all: -r /app/requirements.lock

# The package runs from /app; the JSON Schemas go where the installed wheel has them (publish.schemas).
COPY publish /app/publish
COPY schemas /app/publish/schemas
COPY entrypoint.py /app/entrypoint.py
RUN printf '#!/bin/sh\nexec python -m publish "$@"\n' > /usr/local/bin/appstore-publish \
    && chmod 0755 /usr/local/bin/appstore-publish \
    && python -m publish --version

# Not root. UID 1001 is the GitHub-hosted runner's user, so files written to the mounted workspace
# (the state directory, kept binaries) stay owned by the job.
RUN useradd --uid 1001 --create-home --shell /usr/sbin/nologin publisher
USER publisher

ENTRYPOINT ["python", "/app/entrypoint.py"]
