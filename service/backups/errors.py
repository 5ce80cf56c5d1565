"""What can go wrong with a backup, each with a `code` the command line turns into a sentence.

No message carries a path's content, a row or a key: only what a person needs to fix it.
"""

from __future__ import annotations


class BackupError(Exception):
    """A backup could not be made or restored."""

    code = "backup"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail


class NoBackupKey(BackupError):
    """MAILLAGE_BACKUP_KEY is not set: backups are never written in clear."""

    code = "no_key"


class WrongKey(BackupError):
    """None of the configured keys opens this backup."""

    code = "wrong_key"


class BackupMissing(BackupError):
    """The backup file named does not exist."""

    code = "missing"


class BackupCorrupt(BackupError):
    """The file is not a Maillage backup, or it was cut short or altered."""

    code = "corrupt"


class WrongDatabaseKind(BackupError):
    """A backup of PostgreSQL restored into SQLite, or the reverse (`detail`: the backup's kind)."""

    code = "wrong_kind"


class ToolFailed(BackupError):
    """`pg_dump` or `pg_restore` is missing or failed (`detail`: what it said, without data)."""

    code = "tool_failed"
