"""Settings, read from `MAILLAGE_*` environment variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings
from pydantic_settings import SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILLAGE_")

    env: Literal["development", "production"] = "production"
    """`development` relaxes what a laptop cannot provide (HTTPS cookies, a set secret key)."""

    data_dir: Path = Path("instance")
    """Where the embedded default keeps its SQLite database and mailbox."""

    database_url: str | None = None
    """SQLAlchemy URL; the embedded default is SQLite in `data_dir`."""

    protocols_dir: Path | None = None
    """Folder of protocol files; the shipped ones by default."""

    secret_key: str | None = None
    """Signs cookies and links; required outside development."""

    base_url: str = "http://127.0.0.1:5000"
    """The address people reach Maillage at, for links in emails."""

    ratelimit_storage_url: str = "memory://"
    """Where sign-in attempts are counted: memory, or redis://... when several processes serve."""

    session_idle_minutes: int = 30
    """A session unused this long ends (OWASP ASVS 3.3.2)."""

    session_max_hours: int = 12
    """A session ends this long after sign-in, used or not."""

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

    sweep_interval: float = 60.0
    """Seconds between two deadline sweeps (beat); 0 turns the sweep off."""

    outbox_lease_seconds: float = 120.0
    """How long a relayed message stays claimed before the relay publishes it again."""

    outbox_batch_size: int = 50
    """Messages per send task: they share one SMTP connection."""

    periodic_interval: float = 3600.0
    """Seconds between two runs of the periodic jobs (digest, reviews, consent expiry, retention),
    each of which does its work once per period whatever the interval; 0 turns them off."""

    digest_hour: int = 7
    """The hour (Montréal time) from which each day's digest is sent."""

    retention_months: int = 12
    """Months after a referral is closed before the woman's personal data in it is erased."""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'maillage.db').resolve()}"

    def broker_folder(self) -> Path:
        """Where the embedded broker (kombu's filesystem transport) keeps its messages."""
        return (self.data_dir / "broker").resolve()

    def mailbox_folder(self) -> Path:
        """Where the embedded mailbox keeps the emails it receives, one `.eml` file each."""
        return (self.data_dir / "mailbox").resolve()


@cache
def settings() -> Settings:
    return Settings()
