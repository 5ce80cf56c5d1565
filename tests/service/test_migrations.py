"""The Alembic migrations build exactly the schema the models describe, and carry the data over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import text

from service import migrate
from service.config import settings
from service.db import make_engine
from service.models import Base
from tests.conftest import new_postgresql_database


# SQLite cannot reflect an index's expressions, such as the keys of ix_referrals_*_listed (newest sent
# first): it leaves them out of the comparison; PostgreSQL's run compares them.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_the_migrated_database_matches_the_models(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, migrated to the newest schema: this test moves it back and forth."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'maillage.db'}"
        migrate.upgrade(url)
        yield url
    else:
        with new_postgresql_database() as url:
            yield url


def test_totp_secrets_are_encrypted_on_upgrade_and_decrypted_on_downgrade(fresh_url, monkeypatch):
    key = Fernet.generate_key()
    monkeypatch.setenv("MAILLAGE_TOTP_ENCRYPTION_KEY", key.decode())
    settings.cache_clear()
    config = migrate.alembic_config(fresh_url)
    engine = make_engine(fresh_url)
    try:
        command.downgrade(config, "0011")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, password_hash, language, active, created_at,"
                    " totp_secret) VALUES (:id, :email, 'Fictive', 'regional_admin', 'x', 'fr', true, :at,"
                    " :secret)"
                ),
                [
                    {
                        "id": 1,
                        "email": "one@example.org",
                        "at": datetime.now(UTC),
                        "secret": "JBSWY3DPEHPK3PXP",
                    },
                    {"id": 2, "email": "two@example.org", "at": datetime.now(UTC), "secret": None},
                ],
            )
            # Someone signed in: a row refers to hers, as in any database in use.
            connection.execute(
                text(
                    "INSERT INTO user_sessions (token_hash, user_id, created_at, last_seen_at)"
                    " VALUES ('a hash', 1, :at, :at)"
                ),
                {"at": datetime.now(UTC)},
            )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            stored = dict(connection.execute(text("SELECT id, totp_secret FROM users")).all())
        assert stored[2] is None
        assert "JBSWY3DPEHPK3PXP" not in stored[1]
        assert Fernet(key).decrypt(stored[1].encode()) == b"JBSWY3DPEHPK3PXP"

        command.downgrade(config, "0011")
        with engine.connect() as connection:
            stored = dict(connection.execute(text("SELECT id, totp_secret FROM users")).all())
        assert stored == {1: "JBSWY3DPEHPK3PXP", 2: None}
    finally:
        engine.dispose()
        settings.cache_clear()


def test_audit_entries_are_kept_when_they_gain_and_lose_the_api_key_column(fresh_url):
    config = migrate.alembic_config(fresh_url)
    engine = make_engine(fresh_url)
    entries = "SELECT id, action, user_id FROM audit_entries ORDER BY id"
    try:
        command.downgrade(config, "0012")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, name, role, password_hash, language, active, created_at)"
                    " VALUES (1, 'one@example.org', 'Fictive', 'regional_admin', 'x', 'fr', true, :at)"
                ),
                {"at": datetime.now(UTC)},
            )
            # An entry naming her: on SQLite the upgrade copies the table, under its foreign keys.
            connection.execute(
                text("INSERT INTO audit_entries (at, action, user_id) VALUES (:at, :action, :user_id)"),
                [
                    {"at": datetime.now(UTC), "action": "sign_in.succeeded", "user_id": 1},
                    {"at": datetime.now(UTC), "action": "sign_in.failed", "user_id": None},
                ],
            )
            before = connection.execute(text(entries)).all()
        command.upgrade(config, "head")
        with engine.connect() as connection:
            assert connection.execute(text(entries)).all() == before
            assert connection.execute(text("SELECT api_key_id FROM audit_entries")).scalars().all() == [
                None,
                None,
            ]
        command.downgrade(config, "0012")
        with engine.connect() as connection:
            assert connection.execute(text(entries)).all() == before
    finally:
        engine.dispose()
