# The image docker-compose.yml runs for web, worker, beat and migrate: Maillage installed from its
# wheel (not editable), run by an unprivileged user who writes only her data folder.

# The wheel: templates and compiled catalogs inside (build_steps.py), built once, here.
FROM python:3.12-slim AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
# Python writes no bytecode beside the installed code (pip compiled it at install time).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MAILLAGE_DATA_DIR=/var/lib/maillage
COPY --from=wheel /wheels /tmp/wheels
# Installed by root, so the code is root's and read-only to the user Maillage runs as.
RUN pip install --no-cache-dir "$(echo /tmp/wheels/maillage-*.whl)[server]" \
    && rm -rf /tmp/wheels \
    && useradd --system --home-dir /var/lib/maillage --create-home maillage
USER maillage
# Whatever a command writes in its current folder lands in the data folder too.
WORKDIR /var/lib/maillage
