# The image docker-compose.yml runs for web, worker, beat and migrate: Maillage installed from its
# wheel (not editable), run by an unprivileged user who writes only her data folder.

# The wheel: templates and compiled catalogs inside (build_steps.py), built once, here.
# Debian trixie: its postgresql-client (17) dumps and restores the compose database (postgres:17).
FROM python:3.12-slim-trixie AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim-trixie
# Python writes no bytecode beside the installed code (pip compiled it at install time).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MAILLAGE_DATA_DIR=/var/lib/maillage
COPY --from=wheel /wheels /tmp/wheels
# The exact versions of the lock (runtime and gunicorn, hashes checked: `make lock` writes it, one
# resolution for Python 3.11 and up), then Maillage itself without dependencies of its own choosing.
COPY requirements/maillage.txt /tmp/requirements.txt
# Installed by root, so the code is root's and read-only to the user Maillage runs as.
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt \
    && pip install --no-cache-dir --no-deps /tmp/wheels/maillage-*.whl \
    && pip check \
    && rm -rf /tmp/wheels /tmp/requirements.txt \
    && useradd --system --home-dir /var/lib/maillage --create-home maillage \
    && install --directory --owner=maillage --mode=700 /var/lib/maillage-backups
# pg_dump and pg_restore of the database's major version, for `maillage backup` and `restore`.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client-17 \
    && rm -rf /var/lib/apt/lists/*
USER maillage
# Whatever a command writes in its current folder lands in the data folder too.
WORKDIR /var/lib/maillage
