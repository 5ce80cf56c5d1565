"""`maillage demo`: a fictional network to try Maillage with."""

from __future__ import annotations

import os

import click

from service.cli.db import upgrade
from service.cli.language import Command
from service.cli.language import _
from service.cli.language import _l
from service.cli.language import role_name
from service.cli.sessions import command_session
from service.config import settings
from service.demo import DEMO_TOTP_SECRET
from service.demo import Login
from service.demo import load_demo
from service.protocols import protocol_library


@click.command(
    cls=Command,
    help=_l(
        "Load a fictional Laval-like network and print the logins (once; running it again adds nothing)."
    ),
)
@click.pass_context
def demo(ctx: click.Context) -> None:
    # As `maillage run` does: a laptop is in development unless told otherwise. The demo's two-step
    # secrets are encrypted with a key derived from the development secret key (`encryption`).
    os.environ.setdefault("MAILLAGE_ENV", "development")
    settings.cache_clear()
    ctx.invoke(upgrade)
    with command_session() as session:
        result = load_demo(session, protocol_library())
    if result.already_loaded:
        click.echo(_("The demo network is already loaded; nothing was added."))
    else:
        click.echo(
            _(
                "Demo network loaded: %(organizations)s fictional organizations, "
                "%(referrals)s referrals in every state of every protocol.",
                organizations=result.organizations,
                referrals=result.referrals,
            )
        )
    click.echo("")
    click.echo(logins_table(result.logins))
    click.echo("")
    # Never printed outside development.
    if settings().env == "development":
        click.echo(
            _(
                "Coordinators, privacy officers and the regional admin also type a code (two-step sign-in):\n"
                "add the demo key %(key)s once to an authenticator app on your phone, or print\n"
                "the current code with: %(command)s",
                key=DEMO_TOTP_SECRET,
                command=f".venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{DEMO_TOTP_SECRET}').now())\"",  # noqa: E501
            )
        )
    if os.environ.get("MAILLAGE_BASE_URL"):
        click.echo(
            _("Maillage's address: %(address)s (start it with `maillage run`).", address=settings().base_url)
        )
    else:
        # Where it will answer is `maillage run`'s to say (`make run PORT=...`): it prints the address.
        click.echo(_("Start Maillage with `maillage run`: it prints the address to open."))


def logins_table(logins: list[Login]) -> str:
    """The demo accounts, one per line, in aligned columns."""
    rows = [(_("Email"), _("Password"), _("Role"), _("Organization"))]
    rows += [
        (login.email, login.password, role_name(login.role), login.organization or "-") for login in logins
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(row[i].ljust(widths[i]) for i in range(3)), row[3]]) for row in rows]
    return "\n".join(lines)
