"""`maillage demo`: a fictional network to try Maillage with."""

from __future__ import annotations

import os

import click

from service.cli.db import upgrade
from service.cli.sessions import command_session
from service.config import settings
from service.demo import DEMO_TOTP_SECRET
from service.demo import Login
from service.demo import load_demo
from service.protocols import protocol_library


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Load a fictional Laval-like network and print the logins (once; running it again adds nothing)."""
    # As `maillage run` does: a laptop is in development unless told otherwise. The demo's two-step
    # secrets are encrypted with a key derived from the development secret key (`encryption`).
    os.environ.setdefault("MAILLAGE_ENV", "development")
    settings.cache_clear()
    ctx.invoke(upgrade)
    with command_session() as session:
        result = load_demo(session, protocol_library())
    if result.already_loaded:
        click.echo("The demo network is already loaded; nothing was added.")
    else:
        click.echo(
            f"Demo network loaded: {result.organizations} fictional organizations, "
            f"{result.referrals} referrals in every state of every protocol."
        )
    click.echo("")
    click.echo(logins_table(result.logins))
    click.echo("")
    # Never printed outside development.
    if settings().env == "development":
        click.echo(
            "Coordinators, privacy officers and the regional admin also type a code (two-step sign-in):\n"
            f"add the demo key {DEMO_TOTP_SECRET} once to an authenticator app on your phone, or print\n"
            "the current code with: .venv/bin/python -c "
            f"\"import pyotp; print(pyotp.TOTP('{DEMO_TOTP_SECRET}').now())\""
        )
    click.echo(f"Maillage's address: {settings().base_url} (start it with `maillage run`).")


def logins_table(logins: list[Login]) -> str:
    """The demo accounts, one per line, in aligned columns."""
    rows = [("email", "password", "role", "organization")]
    rows += [(login.email, login.password, login.role, login.organization or "-") for login in logins]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(row[i].ljust(widths[i]) for i in range(3)), row[3]]) for row in rows]
    return "\n".join(lines)
