"""`maillage backup` and `maillage restore`: sealed copies of the database and the document store."""

from __future__ import annotations

from pathlib import Path

import click

from service.backups.errors import BackupCorrupt
from service.backups.errors import BackupError
from service.backups.errors import BackupMissing
from service.backups.errors import NoBackupKey
from service.backups.errors import ToolFailed
from service.backups.errors import WrongDatabaseKind
from service.backups.errors import WrongKey
from service.backups.operations import make_backup
from service.backups.operations import restore_backup
from service.backups.operations import rotate_backups
from service.backups.operations import rotation_months
from service.cli.language import Command
from service.cli.language import Option
from service.cli.language import _
from service.cli.language import _l
from service.cli.sessions import command_session
from service.clock import utcnow
from service.config import settings


@click.command(
    cls=Command,
    help=_l(
        "Back up the database and the document store into one file sealed with MAILLAGE_BACKUP_KEY, "
        "then delete the backups older than the shortest retention period of the organizations."
    ),
)
def backup() -> None:
    config = settings()
    try:
        written = make_backup(config, utcnow)
        with command_session() as session:
            months = rotation_months(session, config)
        deleted = rotate_backups(config.backups_folder(), utcnow(), months, keep=written)
    except BackupError as error:
        raise click.ClickException(explain(error)) from None
    except OSError as error:
        raise click.ClickException(_unreadable(error)) from None
    click.echo(_("Backup written: %(path)s", path=written))
    click.echo(
        _("%(count)s backups older than %(months)s months deleted.", count=len(deleted), months=months)
    )


@click.command(
    cls=Command,
    help=_l(
        "Replace the database and the document store by those of a backup. The whole backup is "
        "checked first: a wrong key or a damaged file changes nothing."
    ),
)
@click.argument("backup_file", type=click.Path(path_type=Path))
@click.option("--yes", cls=Option, is_flag=True, help=_l("Do not ask before replacing the database."))
def restore(backup_file: Path, yes: bool) -> None:
    config = settings()
    if not yes and not click.confirm(
        _("Replace the current database by the backup %(name)s?", name=backup_file.name), default=False
    ):
        raise click.ClickException(_("Nothing was restored."))
    try:
        manifest = restore_backup(backup_file, config)
    except BackupError as error:
        raise click.ClickException(explain(error)) from None
    except OSError as error:
        raise click.ClickException(_unreadable(error)) from None
    taken = manifest.taken_at.strftime("%Y-%m-%d %H:%M UTC")
    click.echo(_("Backup of %(taken)s restored.", taken=taken))
    click.echo(_("If it was made by an older version of Maillage, run `maillage db upgrade` now."))


def explain(error: BackupError) -> str:
    """What went wrong, in the command's language, and how to fix it."""
    if isinstance(error, NoBackupKey):
        return _(
            "no backup key: set MAILLAGE_BACKUP_KEY (make one with "
            '`python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
            ") and keep it apart from the backups"
        )
    if isinstance(error, WrongKey):
        return _(
            "this backup does not open with MAILLAGE_BACKUP_KEY: it was sealed with another key; "
            "put that key in MAILLAGE_BACKUP_KEY (after the current one, separated by a comma)"
        )
    if isinstance(error, BackupMissing):
        return _("there is no backup file at %(path)s", path=error.detail)
    if isinstance(error, BackupCorrupt):
        return _(
            "this file is not a whole Maillage backup (damaged, cut short or altered); "
            "nothing was restored: take an older backup"
        )
    if isinstance(error, WrongDatabaseKind):
        return _(
            "this backup is of a %(kind)s database, and MAILLAGE_DATABASE_URL names another kind",
            kind=error.detail,
        )
    if isinstance(error, ToolFailed):
        return _("the database could not be copied: %(detail)s", detail=error.detail)
    return _("the backup could not be made: %(detail)s", detail=error.detail)


def _unreadable(error: OSError) -> str:
    return _(
        "%(path)s could not be read or written (%(reason)s)",
        path=error.filename or "?",
        reason=error.strerror or type(error).__name__,
    )
