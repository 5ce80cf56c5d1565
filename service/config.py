"""Settings, read from `MAILLAGE_*` environment variables."""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path
from typing import Any
from typing import Literal

from cryptography.fernet import Fernet
from platformdirs import user_data_path
from pydantic import Field
from pydantic import field_validator
from pydantic_settings import BaseSettings
from pydantic_settings import SettingsConfigDict


class Settings(BaseSettings):
    # A refused value is not repeated in the error: it may be a key or a password.
    model_config = SettingsConfigDict(env_prefix="MAILLAGE_", hide_input_in_errors=True)

    env: Literal["development", "production"] = "production"
    """`development` relaxes what a laptop cannot provide (HTTPS cookies, a set secret key)."""

    # Not relative to the current folder: `maillage` run from anywhere finds the same database.
    data_dir: Path = Field(default_factory=lambda: user_data_path("maillage", appauthor=False))
    """Where the embedded default keeps its SQLite database and mailbox: the user's data folder
    (`~/.local/share/maillage` on Linux, `$XDG_DATA_HOME/maillage` when that is set)."""

    database_url: str | None = None
    """SQLAlchemy URL; the embedded default is SQLite in `data_dir`."""

    protocols_dir: Path | None = None
    """Folder of protocol files; the shipped ones by default."""

    secret_key: str | None = None
    """Signs cookies and links; required outside development."""

    totp_encryption_key: str | None = None
    """Encrypts the secrets of two-step sign-in (TOTP) in the database: a Fernet key, or several
    separated by commas, newest first (the first encrypts, each decrypts: put a new key in front
    to rotate). Unset, a key derived from the secret key (HKDF-SHA256) is used; that key is always
    tried last, so what it encrypted still opens once this is set. Make a key with `python -c "from
    cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`."""

    backup_key: str | None = None
    """Seals the backups `maillage backup` writes (a key of their own, never the secret key's): a
    Fernet key, or several separated by commas, newest first (the first seals, each opens: put a
    new key in front to change it). Unset, `maillage backup` refuses to run. Keep it apart from
    the backups: whoever holds both reads every woman's data. Made as the TOTP key is."""

    backup_dir: Path | None = None
    """Where `maillage backup` writes its files; `data_dir/backups` by default. Better on another
    disk or machine (a mounted share): a backup beside the database dies with its disk."""

    base_url: str = "http://127.0.0.1:5000"
    """The address people reach Maillage at, for links in emails."""

    ratelimit_storage_url: str | None = None
    """Where attempts (sign-in, signed links) are counted, e.g. `redis://redis:6379/1`; unset, the
    broker's Redis when there is one, else the memory of each process (the embedded default)."""

    proxy_hops: int = 0
    """How many reverse proxies stand in front of the web app (each adds `X-Forwarded-For`).
    0 trusts no forwarded header; set it to 1 behind one proxy, or every visitor shares
    the proxy's address, and one rate-limit counter."""

    session_idle_minutes: int = 30
    """A session unused this long ends (OWASP ASVS 3.3.2)."""

    session_max_hours: int = 12
    """A session ends this long after sign-in, used or not."""

    reauth_minutes: int = 5
    """Sensitive acts (exports, erasure, the emergency path) ask for her password again (and her code)
    when she last proved who she is longer ago than this (OWASP ASVS 3.7.1)."""

    signed_link_days: int = 7
    """How long a partner's signed link stays valid."""

    broker_url: str | None = None
    """Celery's broker, e.g. `redis://redis:6379/0`; the embedded default is a folder in `data_dir`."""

    queue: str = "maillage"
    """The Celery queue the worker's tasks go through (tests use one of their own)."""

    broker_key_prefix: str = ""
    """A prefix for every key Celery writes in Redis, for deployments (or test runs) sharing one."""

    smtp_url: str | None = None
    """`smtp://host:25`, `smtp+starttls://user:password@host:587` or `smtps://...`;
    unset, emails are written as `.eml` files into `data_dir/mailbox` (the embedded mailbox)."""

    mail_from: str = "Maillage <maillage@localhost>"
    """The From address of every email."""

    relay_interval: float = 5.0
    """Seconds between two passes of the outbox relay (beat)."""

    ready_beat_seconds: float = 120.0
    """`/readyz` fails ("beat") when the relay, which beat sends every `relay_interval` and a
    worker runs, last ran longer ago than this: beat or every worker is down."""

    ready_outbox_minutes: float = 10.0
    """`/readyz` fails ("outbox") when the oldest email waiting to be sent was written longer ago
    than this: emails are not leaving (no worker, no beat, a mail server refusing them)."""

    log_format: Literal["plain", "json"] = "plain"
    """`json`: every log line of the web app, its server (gunicorn, waitress) and the worker is one
    JSON object (time, level, logger, message, request_id), for a log collector; `plain`: text."""

    sweep_interval: float = 60.0
    """Seconds between two deadline sweeps (beat); 0 turns the sweep off."""

    outbox_lease_seconds: float = 120.0
    """How long a relayed message stays claimed before the relay publishes it again."""

    outbox_batch_size: int = 50
    """Messages per send task: they share one SMTP connection."""

    periodic_interval: float = 3600.0
    """Seconds between two runs of the periodic jobs (digest, reviews, consent expiry, retention),
    each of which does its work once per period whatever the interval; 0 turns them off."""

    task_time_limits: dict[str, tuple[float, float]] = {}
    """Soft and hard time limits in seconds of some worker tasks, replacing those of
    `worker.app.TIME_LIMITS`, as JSON: `{"maillage.send_batch": [100, 120]}`. At the soft limit a
    task stops cleanly and its work is taken up again later; at the hard one its process is killed."""

    beat_lock_seconds: int = 30
    """How long beat's lock in Redis lasts unless the running beat renews it (it does several times
    within that time): a second beat waits, and takes over about this long after the first died."""

    metrics_token: str | None = None
    """Turns on `/metrics` for Prometheus: it answers only `Authorization: Bearer <this token>`
    (anything else gets a 404). Unset, there is no `/metrics`. Under gunicorn's several workers,
    also set `PROMETHEUS_MULTIPROC_DIR` (README.md, "Metrics")."""

    digest_hour: int = 7
    """The hour (Montréal time) from which each day's digest is sent."""

    retention_months: int = 12
    """Months after a referral is closed before the woman's personal data in it is erased: the
    regional maximum; each organization may choose a shorter period (`service.privacy`)."""

    privacy_officer_name: str = ""
    """The platform operator's person in charge of the protection of personal information
    (Law 25), named on the public privacy page."""

    privacy_officer_email: str = ""
    """How to reach the platform operator's privacy officer, shown on the privacy page."""

    hosting_location: str = "Québec, Canada"
    """Where the servers and the data are, as the privacy page says."""

    max_request_bytes: int = 1024 * 1024
    """The largest request body a page takes (its forms); a larger one is refused (413) unread."""

    max_api_request_bytes: int = 256 * 1024
    """The largest JSON body the API takes; a referral is a few kilobytes."""

    import_max_bytes: int = 5 * 1024 * 1024
    """The largest spreadsheet (CSV or XLSX) the directory's import takes: thousands of rows."""

    document_max_bytes: int = 10 * 1024 * 1024
    """The largest document (PDF, JPEG, PNG) attached to a referral; a larger one is refused unread."""

    documents_url: str | None = None
    """Where the documents attached to referrals are kept, encrypted: a folder (the default,
    `data_dir/documents`, which `maillage backup` includes) or an S3-compatible store as
    `s3://bucket/prefix` (install `maillage[s3]`; its keys and endpoint in
    `MAILLAGE_DOCUMENTS_STORAGE_OPTIONS`, or the usual `AWS_*` variables). Backing up a bucket is
    the bucket's own business (versioning, replication)."""

    documents_storage_options: dict[str, Any] = {}
    """Options of the store named by `documents_url`, as JSON, e.g. `{"endpoint_url":
    "https://s3.example.org", "key": "...", "secret": "..."}` (s3fs's `S3FileSystem` options)."""

    document_encryption_key: str | None = None
    """Encrypts the documents attached to referrals: a Fernet key, or several separated by commas,
    newest first (the first encrypts, each decrypts). Unset, a key derived from the secret key
    (HKDF-SHA256) is used, always tried last: set one in production, so that changing the secret
    key does not make every document unreadable. Made as the TOTP key is."""

    taxonomy_map: Path | None = None
    """A YAML file of other taxonomies' terms (211's...) and the needs they mean, added over the
    shipped `service/standards/taxonomy_map.yaml` (copy it to start); the imports read both."""

    @field_validator("task_time_limits")
    @classmethod
    def _soft_under_hard(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        """A soft limit is what lets a task end cleanly: it must come before the hard one."""
        for task, (soft, hard) in value.items():
            if not 0 < soft < hard:
                raise ValueError(
                    f"{task}: give [soft, hard] in seconds, the soft limit above 0 and below the hard one"
                )
        return value

    @field_validator("beat_lock_seconds")
    @classmethod
    def _lock_renewable(cls, value: int) -> int:
        if value < 3:
            raise ValueError("beat's lock must last 3 seconds or more, so that beat can renew it in time")
        return value

    @field_validator("totp_encryption_key", "backup_key", "document_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: str | None) -> str | None:
        """Refuse to start with a key that is not one: no secret could be read or written."""
        if value is None or not value.strip():
            return None  # unset, or set to nothing (`${MAILLAGE_TOTP_ENCRYPTION_KEY:-}`)
        for key in value.split(","):
            try:
                Fernet(key.strip().encode("ascii"))
            except ValueError:  # binascii.Error and UnicodeEncodeError among them
                raise ValueError(
                    "each key must be a Fernet key (32 bytes in url-safe base64), separated by commas: "
                    'make one with `python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"`'
                ) from None
        return value

    def resolved_secret_key(self) -> str | None:
        """The secret key; unset in development, the one made once and kept in `data_dir` (the
        app makes and reads the same file); unset in production, None."""
        if self.secret_key:
            return self.secret_key
        if self.env != "development":
            return None
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
            path.chmod(0o600)
        return path.read_text(encoding="utf-8").strip()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'maillage.db').resolve()}"

    def resolved_ratelimit_storage_url(self) -> str:
        """Counts shared by every web process when Redis is at hand: a limit per process is no limit."""
        if self.ratelimit_storage_url:
            return self.ratelimit_storage_url
        if self.broker_url and self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return "memory://"

    def broker_folder(self) -> Path:
        """Where the embedded broker (kombu's filesystem transport) keeps its messages."""
        return (self.data_dir / "broker").resolve()

    def backups_folder(self) -> Path:
        """Where `maillage backup` writes, and rotation deletes, the sealed backups."""
        return (self.backup_dir or self.data_dir / "backups").resolve()

    def documents_folder(self) -> Path:
        """The document store's folder by default (`documents_url` unset): the documents attached to
        referrals, encrypted, under `data_dir` and backed up with the database."""
        return (self.data_dir / "documents").resolve()

    def mailbox_folder(self) -> Path:
        """Where the embedded mailbox keeps the emails it receives, one `.eml` file each."""
        return (self.data_dir / "mailbox").resolve()


@cache
def settings() -> Settings:
    return Settings()
