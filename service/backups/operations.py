"""Make a backup, restore one, and delete those older than the retention period.

A backup is one file, `maillage-<UTC time>.backup`, in the backups folder: a tar archive of the
database's copy, the document store (when there is one) and a small manifest, sealed with the
backup key (`service.backups.sealed`). It appears whole or not at all (written aside, then
renamed), and the clear copy of the database it is made from lives only in a private folder
that is removed once sealed (or at the next backup, if this one was killed).

Rotation: the retention purge erases a woman's data a number of months after her referral is
closed; a backup older than that period may hold data erased since. Backups older than the
shortest period any organization chose (never over the regional maximum) are deleted, so that
no backup keeps what the purge erased for longer than that period.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.fernet import MultiFernet
from sqlalchemy.orm import Session

from service.backups import database
from service.backups.errors import BackupCorrupt
from service.backups.errors import BackupError
from service.backups.errors import BackupMissing
from service.backups.errors import NoBackupKey
from service.backups.errors import WrongDatabaseKind
from service.backups.sealed import SealedReader
from service.backups.sealed import SealedWriter
from service.clock import Clock
from service.clock import utcnow
from service.config import Settings
from service.referrals.retention import retention_cutoff
from service.referrals.retention import retention_months_of

FORMAT = 1
MANIFEST = "manifest.json"
DOCUMENTS = "documents"
_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^maillage-(?P<taken_at>\d{8}T\d{6}Z)(?:-\d+)?\.backup$")
_WORK_PREFIX = ".unsealed-"
_PARTIAL_PREFIX = ".partial-"


@dataclass(frozen=True)
class Manifest:
    """What a backup says of itself."""

    kind: str
    taken_at: datetime
    has_documents: bool


def backup_cipher(config: Settings) -> MultiFernet:
    """The backup keys: the first seals, each opens (put a new key in front to change it)."""
    if not config.backup_key:
        raise NoBackupKey()
    return MultiFernet([Fernet(key.strip().encode("ascii")) for key in config.backup_key.split(",")])


def taken_at(path: Path) -> datetime | None:
    """When the backup at `path` was taken, from its name; None for a file that is not one."""
    named = _NAME.match(path.name)
    if named is None:
        return None
    return datetime.strptime(named["taken_at"], _TIME_FORMAT).replace(tzinfo=UTC)


def make_backup(config: Settings, clock: Clock = utcnow) -> Path:
    """Back up the database and the document store into a new sealed file; its path."""
    cipher = backup_cipher(config)
    folder = config.backups_folder()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = clock()
    with _only_backup(folder), tempfile.TemporaryDirectory(dir=folder, prefix=_WORK_PREFIX) as work:
        copy = database.dump(config.resolved_database_url(), Path(work))
        documents = config.documents_folder()
        manifest = {
            "format": FORMAT,
            "kind": database.kind_of(config.resolved_database_url()),
            "taken_at": now.astimezone(UTC).isoformat(),
            "documents": documents.is_dir(),
        }
        target = _new_name(folder, now)
        partial = folder / f"{_PARTIAL_PREFIX}{target.name}"
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            sealed = SealedWriter(out, cipher)
            with tarfile.open(fileobj=sealed, mode="w|") as archive:  # type: ignore[call-overload]
                _add_bytes(archive, MANIFEST, json.dumps(manifest).encode())
                archive.add(copy, arcname=copy.name)
                if documents.is_dir():
                    archive.add(documents, arcname=DOCUMENTS)
            sealed.close()
            out.flush()
            os.fsync(out.fileno())
        partial.rename(target)
    return target


def read_manifest(path: Path, config: Settings) -> Manifest:
    """Open the backup at `path` through to its end (a check that it is whole) and say what it holds."""
    with _opened(path, config) as work:
        return _manifest(work)


def restore_backup(path: Path, config: Settings) -> Manifest:
    """Replace the database and the document store by those of the backup at `path`.

    The whole file is opened and checked before anything is replaced: a wrong key or a damaged
    file changes nothing."""
    url = config.resolved_database_url()
    with _opened(path, config) as work:
        manifest = _manifest(work)
        if manifest.kind != database.kind_of(url):
            raise WrongDatabaseKind(manifest.kind)
        if manifest.kind == database.SQLITE:
            config.data_dir.mkdir(parents=True, exist_ok=True)
        database.restore(url, work / database.FILE_NAMES[manifest.kind])
        if manifest.has_documents:
            documents = config.documents_folder()
            shutil.rmtree(documents, ignore_errors=True)
            shutil.copytree(work / DOCUMENTS, documents)
    return manifest


def rotation_months(session: Session, config: Settings) -> int:
    """The shortest retention period of all organizations, in months (the regional maximum at most)."""
    periods = retention_months_of(session, config.retention_months).values()
    return min(periods, default=config.retention_months)


def rotate_backups(folder: Path, now: datetime, months: int, *, keep: Path | None = None) -> list[Path]:
    """Delete the backups in `folder` taken more than `months` months before `now`; those deleted.

    Only files named as backups are touched; `keep` (the one just made) never is."""
    cutoff = retention_cutoff(now, months)
    expired = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        when = taken_at(path)
        if when is not None and when < cutoff and path != keep:
            path.unlink()
            expired.append(path)
    return expired


@contextmanager
def _opened(path: Path, config: Settings) -> Iterator[Path]:
    """The backup's content, unsealed into a private folder removed on the way out."""
    if not path.is_file():
        raise BackupMissing(str(path))
    cipher = backup_cipher(config)
    with tempfile.TemporaryDirectory(prefix=_WORK_PREFIX) as work, path.open("rb") as source:
        sealed = SealedReader(source, cipher)
        try:
            with tarfile.open(fileobj=sealed, mode="r|") as archive:  # type: ignore[call-overload]
                archive.extractall(work, filter="data")
        except (tarfile.TarError, EOFError):
            raise BackupCorrupt("archive") from None
        sealed.read()  # through to the sealed end: a file cut short is refused here
        yield Path(work)


def _manifest(work: Path) -> Manifest:
    try:
        written = json.loads((work / MANIFEST).read_text(encoding="utf-8"))
        if written["format"] != FORMAT:
            raise BackupCorrupt(f"format {written['format']}")
        manifest = Manifest(
            kind=written["kind"],
            taken_at=datetime.fromisoformat(written["taken_at"]),
            has_documents=bool(written["documents"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupCorrupt("manifest") from None
    if manifest.kind not in database.FILE_NAMES or not (work / database.FILE_NAMES[manifest.kind]).is_file():
        raise BackupCorrupt("database copy")
    if manifest.has_documents and not (work / DOCUMENTS).is_dir():
        raise BackupCorrupt("documents")
    return manifest


def _new_name(folder: Path, now: datetime) -> Path:
    stamp = now.astimezone(UTC).strftime(_TIME_FORMAT)
    target, number = folder / f"maillage-{stamp}.backup", 1
    while target.exists():  # two backups within a second: both kept
        number += 1
        target = folder / f"maillage-{stamp}-{number}.backup"
    return target


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = 0o600
    archive.addfile(member, io.BytesIO(data))


@contextmanager
def _only_backup(folder: Path) -> Iterator[None]:
    """One backup at a time in `folder`; what a killed one left unsealed is removed first."""
    with (folder / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError("another backup is running") from None
        for leftover in folder.iterdir():
            if leftover.name.startswith(_WORK_PREFIX):
                shutil.rmtree(leftover, ignore_errors=True)
            elif leftover.name.startswith(_PARTIAL_PREFIX):
                leftover.unlink()
        yield
