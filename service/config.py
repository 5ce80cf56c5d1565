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

    signed_link_days: int = 7
    """How long a partner's signed link stays valid."""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'maillage.db').resolve()}"


@cache
def settings() -> Settings:
    return Settings()
