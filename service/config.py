"""Settings, read from `MAILLAGE_*` environment variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic_settings import BaseSettings
from pydantic_settings import SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILLAGE_")

    data_dir: Path = Path("instance")
    """Where the embedded default keeps its SQLite database and mailbox."""

    database_url: str | None = None
    """SQLAlchemy URL; the embedded default is SQLite in `data_dir`."""

    protocols_dir: Path | None = None
    """Folder of protocol files; the shipped ones by default."""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'maillage.db').resolve()}"


@cache
def settings() -> Settings:
    return Settings()
