"""`maillage`: the one command line entry point."""

from __future__ import annotations

import click

from service.cli.db import db
from service.cli.protocols import protocols


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Maillage: referral protocols between community organizations."""


main.add_command(db)
main.add_command(protocols)
