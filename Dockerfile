# The image docker-compose.yml runs for web, worker, beat and migrate.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service service
COPY workflows workflows
COPY worker worker
COPY templates templates
# Editable, so the code finds templates/ beside it, as in a checkout.
RUN pip install --no-cache-dir -e ".[server]" \
    && useradd --system --home-dir /var/lib/maillage --create-home maillage
USER maillage
