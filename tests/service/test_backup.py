"""Backups: the restore drill (make data, back up, drop the database, restore it, serve it), on
SQLite and PostgreSQL; a wrong key, a damaged or missing file refused cleanly; rotation."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from service import migrate
from service.app import create_app
from service.backups.errors import BackupCorrupt
from service.backups.errors import BackupMissing
from service.backups.errors import WrongDatabaseKind
from service.backups.errors import WrongKey
from service.backups.operations import make_backup
from service.backups.operations import read_manifest
from service.backups.operations import restore_backup
from service.backups.operations import rotate_backups
from service.backups.operations import rotation_months
from service.backups.sealed import CHUNK
from service.cli import main
from service.config import Settings
from service.config import settings
from service.db import Base
from service.db import make_engine
from service.directory.needs import seed_needs
from service.referrals.actors import Actor
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import read_person
from service.referrals.operations import record_consent
from service.referrals.operations import withdraw_consent
from tests.conftest import POSTGRES_URL
from tests.conftest import Clock
from tests.conftest import make_side
from tests.conftest import new_postgresql_database
from tests.conftest import sign_in

KEY = Fernet.generate_key().decode()
OTHER_KEY = Fernet.generate_key().decode()
NAME = "Prénom Fictif du Drill"
# What the drill compares: the tables a restore must give back row for row.
DRILLED = ("referrals", "referral_events", "consents", "outbox_messages", "audit_entries")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of the test's own: the drill commits, backs up and drops it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'drill.db'}"
        migrate.upgrade(url)
        yield url
    else:
        with new_postgresql_database() as url:
            yield url


def drill_settings(url: str, folder: Path, key: str = KEY) -> Settings:
    return Settings(database_url=url, data_dir=folder / "data", backup_key=key, env="development")


def make_referrals(
    engine: Engine, protocols, clock: Clock, town: str = "du Drill"
) -> tuple[list[int], Actor]:
    """Referrals moved through the domain operations: events, consents (one withdrawn), outbox
    rows and audit entries (her details read)."""
    with Session(engine, expire_on_commit=False) as session:
        seed_needs(session)
        sender = make_side(session, f"Centre de femmes Fictif {town}", clock.now)
        receiver = make_side(session, f"Maison Fictive {town}", clock.now)
        session.commit()
        ids = []
        for number in range(3):
            referral = open_referral(
                session,
                protocols,
                sender.caseworker,
                receiver_organization_id=receiver.organization.id,
                protocol_name="standard",
                need_codes=["shelter_emergency"],
                person=PersonDetails(name=NAME, phone=f"450-555-000{number}"),
                clock=clock,
            )
            record_consent(
                session, referral.id, sender.caseworker, method="verbal", shared_with="Maison", purpose="abri"
            )
            fire(session, protocols, referral.id, "send", sender.caseworker, clock=clock)
            clock.advance(hours=1)
            fire(session, protocols, referral.id, "acknowledge", receiver.caseworker, clock=clock)
            read_person(session, referral.id, receiver.caseworker, clock=clock)
            ids.append(referral.id)
        withdraw_consent(session, ids[-1], sender.caseworker, clock=clock)
        return ids, sender.caseworker


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    rows = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in connection.execute(query)]
    return rows


def drop(url: str) -> None:
    """The database is lost: a PostgreSQL database dropped and made again empty; SQLite's file gone."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for lost in path.parent.glob(f"{path.name}*"):
            lost.unlink()
        return
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def test_the_restore_drill_gives_back_every_row_and_the_app_serves_it(
    database_url, tmp_path, protocols, clock, monkeypatch
):
    config = drill_settings(database_url, tmp_path)
    engine = make_engine(database_url)
    ids, caseworker = make_referrals(engine, protocols, clock)
    before = snapshot(engine)
    engine.dispose()
    assert all(before[table] for table in DRILLED), "the drill needs a row in each table it compares"
    documents = config.documents_folder()
    (documents / "2026").mkdir(parents=True)
    (documents / "2026" / "attestation.txt").write_text("un document fictif", encoding="utf-8")

    backup = make_backup(config, clock)
    drop(database_url)
    shutil.rmtree(documents)
    restore_backup(backup, config)

    engine = make_engine(database_url)
    after = snapshot(engine)
    for table in DRILLED:
        assert after[table] == before[table], table
    assert after == before
    assert (documents / "2026" / "attestation.txt").read_text(encoding="utf-8") == "un document fictif"

    monkeypatch.setenv("MAILLAGE_ENV", "development")
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(config.data_dir))
    settings.cache_clear()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "CLOCK": clock,
        }
    )
    with Session(engine, expire_on_commit=False) as session:
        client = sign_in(app.test_client(), caseworker, session)
        page = client.get(f"/referrals/{ids[0]}")
    app.extensions["maillage.sessions"].kw["bind"].dispose()  # before the database is dropped
    settings.cache_clear()
    engine.dispose()
    assert page.status_code == 200
    assert NAME in page.text


def test_a_backup_is_sealed_and_named_by_its_utc_time(database_url, tmp_path, protocols, clock):
    config = drill_settings(database_url, tmp_path)
    engine = make_engine(database_url)
    make_referrals(engine, protocols, clock)
    engine.dispose()
    backup = make_backup(config, clock)
    assert backup.parent == config.backups_folder()
    assert backup.name == f"maillage-{clock.now.strftime('%Y%m%dT%H%M%SZ')}.backup"
    assert NAME.encode() not in backup.read_bytes()
    assert NAME.encode("utf-16-le") not in backup.read_bytes()
    assert oct(backup.stat().st_mode & 0o777) == oct(0o600)
    assert [p.name for p in config.backups_folder().iterdir() if p.name != ".lock"] == [backup.name]
    assert read_manifest(backup, config).taken_at == clock.now


def test_a_wrong_key_a_damaged_or_missing_file_change_nothing(database_url, tmp_path, protocols, clock):
    config = drill_settings(database_url, tmp_path)
    engine = make_engine(database_url)
    make_referrals(engine, protocols, clock)
    backup = make_backup(config, clock)
    before = snapshot(engine)

    with pytest.raises(WrongKey):
        restore_backup(backup, drill_settings(database_url, tmp_path, key=OTHER_KEY))
    sealed = backup.read_bytes()
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(sealed[:200] + bytes([sealed[200] ^ 1]) + sealed[201:])
    with pytest.raises(BackupCorrupt):
        restore_backup(damaged, config)
    cut = tmp_path / "cut.backup"
    cut.write_bytes(sealed[: len(sealed) - 10])
    with pytest.raises(BackupCorrupt):
        restore_backup(cut, config)
    with pytest.raises(BackupMissing):
        restore_backup(tmp_path / "nowhere.backup", config)

    assert snapshot(engine) == before
    engine.dispose()


def test_a_restore_over_the_live_database_takes_it_back_to_the_backup(
    database_url, tmp_path, protocols, clock
):
    config = drill_settings(database_url, tmp_path)
    engine = make_engine(database_url)
    make_referrals(engine, protocols, clock)
    before = snapshot(engine)
    backup = make_backup(config, clock)
    clock.advance(days=1)
    make_referrals(engine, protocols, clock, town="de Lendemain")  # the day after, more work
    assert snapshot(engine) != before

    restore_backup(backup, config)
    assert snapshot(engine) == before
    engine.dispose()


def test_a_backup_of_one_kind_of_database_is_not_restored_into_the_other(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    migrate.upgrade(url)
    backup = make_backup(drill_settings(url, tmp_path), clock)
    elsewhere = drill_settings("postgresql+psycopg://maillage@127.0.0.1:1/unreachable", tmp_path)
    with pytest.raises(WrongDatabaseKind):
        restore_backup(backup, elsewhere)


def test_the_key_can_be_changed_and_old_backups_still_open(database_url, tmp_path, clock):
    old = make_backup(drill_settings(database_url, tmp_path, key=OTHER_KEY), clock)
    both = drill_settings(database_url, tmp_path, key=f"{KEY},{OTHER_KEY}")
    assert restore_backup(old, both).taken_at == clock.now


def test_a_large_document_store_spans_many_sealed_chunks(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'large.db'}"
    migrate.upgrade(url)
    config = drill_settings(url, tmp_path)
    scan = config.documents_folder() / "scan.bin"
    scan.parent.mkdir(parents=True)
    content = bytes(range(256)) * (3 * CHUNK // 256 + 7)
    scan.write_bytes(content)
    backup = make_backup(config, clock)
    scan.unlink()
    restore_backup(backup, config)
    assert scan.read_bytes() == content


def cli(tmp_path: Path, url: str, *arguments: str, key: str = KEY):
    environment = {
        "MAILLAGE_DATABASE_URL": url,
        "MAILLAGE_DATA_DIR": str(tmp_path / "data"),
        "MAILLAGE_BACKUP_KEY": key,
        "MAILLAGE_ENV": "development",
    }
    settings.cache_clear()
    try:
        return CliRunner().invoke(main, ["--language", "fr", *arguments], env=environment)
    finally:
        settings.cache_clear()


def test_the_commands_back_up_and_restore_and_say_in_french_what_went_wrong(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    made = cli(tmp_path, url, "backup")
    assert made.exit_code == 0, made.output
    assert "Sauvegarde écrite" in made.output
    [backup] = (tmp_path / "data" / "backups").glob("maillage-*.backup")

    refused = cli(tmp_path, url, "restore", "--yes", str(backup), key=OTHER_KEY)
    assert refused.exit_code == 1
    assert "ne s’ouvre pas avec MAILLAGE_BACKUP_KEY" in refused.output  # noqa: RUF001 - French
    missing = cli(tmp_path, url, "restore", "--yes", str(tmp_path / "absente.backup"))
    assert "aucune sauvegarde" in missing.output
    (tmp_path / "junk.backup").write_bytes(b"not a backup at all")
    junk = cli(tmp_path, url, "restore", "--yes", str(tmp_path / "junk.backup"))
    assert "pas une sauvegarde complète" in junk.output
    no_key = cli(tmp_path, url, "backup", key="")
    assert "MAILLAGE_BACKUP_KEY" in no_key.output
    for result in (refused, missing, junk, no_key):
        assert result.exit_code == 1
        assert "Traceback" not in result.output

    restored = cli(tmp_path, url, "restore", "--yes", str(backup))
    assert restored.exit_code == 0, restored.output
    assert "restaurée" in restored.output


def test_rotation_deletes_the_backups_older_than_the_shortest_retention_only(
    session, network, tmp_path, clock
):
    network.legal_aid.organization.retention_months = 3
    session.commit()
    config = drill_settings("sqlite:///unused.db", tmp_path)
    months = rotation_months(session, config)
    assert months == 3

    folder = config.backups_folder()
    folder.mkdir(parents=True)
    names = {
        "maillage-20260826T140000Z.backup": "over three months old",
        "maillage-20260827T150000Z-2.backup": "exactly three months old",
        "maillage-20261001T000000Z.backup": "two months old",
        "maillage-20261127T150000Z.backup": "today's",
        "notes.txt": "not a backup",
        "maillage-latest.backup": "not named by a time",
    }
    for name in names:
        (folder / name).write_text(name, encoding="utf-8")

    deleted = rotate_backups(folder, clock.now, months)
    assert [p.name for p in deleted] == ["maillage-20260826T140000Z.backup"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(set(names) - {deleted[0].name})

    clock.advance(days=31)
    deleted = rotate_backups(folder, clock.now, months)
    assert [p.name for p in deleted] == ["maillage-20260827T150000Z-2.backup"]


def test_rotation_follows_the_regional_maximum_when_no_organization_chose_less(session, network, tmp_path):
    config = drill_settings("sqlite:///unused.db", tmp_path)
    assert rotation_months(session, config) == config.retention_months


def test_the_backup_command_rotates_with_the_time_it_is_taken(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'rotate.db'}"
    migrate.upgrade(url)
    config = drill_settings(url, tmp_path)
    first = make_backup(config, clock)
    clock.now = datetime(2027, 12, 1, tzinfo=UTC)
    second = make_backup(config, clock)
    assert rotate_backups(config.backups_folder(), clock.now, 12, keep=second) == [first]
    assert second.exists()


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("fr", "une information effacée de Maillage ne reste pas dans une sauvegarde plus longtemps"),
        ("en", "information erased from Maillage does not stay in a backup for longer than that period"),
    ],
)
def test_the_privacy_page_says_how_long_backups_keep_what_was_erased(client, language, said):
    page = client.get(f"/privacy/?lang={language}")
    assert page.status_code == 200
    assert said in unescape(page.text)
