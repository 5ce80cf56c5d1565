"""`maillage`: the one command line entry point."""

from __future__ import annotations

import click

from service.cli.backup import backup
from service.cli.backup import restore
from service.cli.db import db
from service.cli.demo import demo
from service.cli.directory import directory
from service.cli.language import ENVIRONMENT
from service.cli.language import Group
from service.cli.language import _l
from service.cli.language import choose_language
from service.cli.protocols import protocols
from service.cli.run import run
from service.cli.users import users
from service.cli.worker import beat
from service.cli.worker import worker


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=_l("Maillage: referral protocols between community organizations."),
)
@click.option(
    "--language",
    type=click.Choice(["fr", "en"]),
    envvar=ENVIRONMENT,
    is_eager=True,
    expose_value=False,
    callback=choose_language,
    help=_l("The language of messages: fr (the default) or en; also MAILLAGE_LANGUAGE."),
)
def main() -> None:
    pass


main.add_command(backup)
main.add_command(beat)
main.add_command(db)
main.add_command(demo)
main.add_command(directory)
main.add_command(protocols)
main.add_command(restore)
main.add_command(run)
main.add_command(users)
main.add_command(worker)
