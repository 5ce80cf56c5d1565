"""`maillage`: the one command line entry point."""

from __future__ import annotations

import click

from service.cli.db import db
from service.cli.demo import demo
from service.cli.directory import directory
from service.cli.protocols import protocols
from service.cli.run import run
from service.cli.users import users
from service.cli.worker import beat
from service.cli.worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Maillage: referral protocols between community organizations."""


main.add_command(beat)
main.add_command(db)
main.add_command(demo)
main.add_command(directory)
main.add_command(protocols)
main.add_command(run)
main.add_command(users)
main.add_command(worker)
