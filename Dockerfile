# One image for every Pitlane service; docker-compose.yml picks the command per service.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PITLANE_VAR_DIR=/srv/pitlane/var

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 pitlane

WORKDIR /app
COPY pyproject.toml README.md ./
COPY webapp ./webapp
COPY training ./training
COPY drive_agent ./drive_agent
COPY simulator ./simulator
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install --no-cache-dir ".[worker]" \
    && mkdir -p /srv/pitlane/var \
    && DJANGO_SETTINGS_MODULE=webapp.settings python manage.py collectstatic --no-input -v 0 \
    && chown -R pitlane:pitlane /srv/pitlane

USER pitlane
EXPOSE 8000
# Web server processes behind the port (webapp/server.py); docker-compose.yml sets it for its web service.
ENV PITLANE_WEB_PROCESSES=2
CMD ["python", "-m", "webapp.server", "-b", "0.0.0.0", "-p", "8000", "webapp.asgi:application"]
