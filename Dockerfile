# Production image: gunicorn serving Django; the same image runs the Celery worker and beat.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN groupadd --system switchboard && useradd --system --gid switchboard --home /app switchboard

COPY pyproject.toml constraints.txt ./
COPY config ./config
COPY providers ./providers
COPY integrations ./integrations
COPY audit ./audit
RUN pip install -c constraints.txt .

COPY . .
# collectstatic needs settings that import; these values exist only for this build step.
RUN python scripts/compile_messages.py \
 && DEBUG=false SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=build-only \
    python manage.py collectstatic --noinput \
 && mkdir -p /var/lib/switchboard/metrics \
 && chown -R switchboard:switchboard /app /var/lib/switchboard

USER switchboard
EXPOSE 8000

# config/gunicorn.py: bind 0.0.0.0:8000, GUNICORN_WORKERS (3), and the metrics directory's lifecycle.
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
