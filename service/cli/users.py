"""`maillage users ...`: accounts of the people who sign in."""

from __future__ import annotations

import difflib
import secrets

import click
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts import team
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.operations import AccountProblem
from service.accounts.operations import create_user
from service.accounts.passwords import MIN_LENGTH
from service.cli.language import Command
from service.cli.language import Group
from service.cli.language import Option
from service.cli.language import _
from service.cli.language import _l
from service.cli.language import role_name
from service.cli.sessions import command_session
from service.directory.models import Organization


@click.group(
    cls=Group, help=_l("People who sign in: caseworkers, coordinators, partner contacts, the regional admin.")
)
def users() -> None:
    pass


@users.command(
    cls=Command, help=_l("Create an account; asks for the password twice (hidden) unless --generate.")
)
@click.option("--email", cls=Option, required=True, help=_l("Her email: she signs in with it."))
@click.option(
    "--org",
    "organization",
    cls=Option,
    help=_l("Her organization, by name or id (none for a regional admin)."),
)
@click.option(
    "--role",
    cls=Option,
    required=True,
    help=_l(
        "Her role, by its code: caseworker, coordinator, partner_contact, privacy_officer, regional_admin."
    ),
)
@click.option(
    "--name",
    cls=Option,
    default="",
    help=_l("Her name as colleagues see it (default: the email's first part)."),
)
@click.option(
    "--language", cls=Option, default="fr", show_default=True, help=_l("fr or en: the language of her pages.")
)
@click.option(
    "--generate",
    cls=Option,
    is_flag=True,
    help=_l("Make up a strong password and print it, instead of asking."),
)
def create(email: str, organization: str | None, role: str, name: str, language: str, generate: bool) -> None:
    if role not in set(Role):
        roles = ", ".join(f"{code} ({role_name(code)})" for code in Role)
        raise click.ClickException(
            _("there is no role %(role)r; the roles are: %(roles)s", role=role, roles=roles)
        )
    with command_session() as session:
        organization_id = _organization_id(session, organization) if organization else None
        if generate:
            password = secrets.token_urlsafe(15)
        else:
            password = click.prompt(
                _("Password (at least %(length)s characters)", length=MIN_LENGTH),
                hide_input=True,
                confirmation_prompt=_("Repeat the password"),
            )
        try:
            user = create_user(
                session,
                email=email,
                name=name,
                role=role,
                organization_id=organization_id,
                password=password,
                language=language,
            )
        except AccountProblem as problem:
            raise click.ClickException(str(problem)) from None
        if organization_id:
            organization_name = session.get(Organization, organization_id).name
            click.echo(
                _(
                    "Account created: %(email)s, %(role)s at %(organization)s.",
                    email=user.email,
                    role=role_name(user.role),
                    organization=organization_name,
                )
            )
        else:
            click.echo(
                _("Account created: %(email)s, %(role)s.", email=user.email, role=role_name(user.role))
            )
    if generate:
        click.echo(_("Password: %(password)s", password=password))
        click.echo(_("It is shown only this once: give it to her by a safe channel."))


@users.command(
    cls=Command, help=_l("Close an account: she can no longer sign in, and is signed out everywhere at once.")
)
@click.option("--email", cls=Option, required=True, help=_l("The email she signs in with."))
def deactivate(email: str) -> None:
    with command_session() as session:
        user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if user is None:
            raise click.ClickException(_("there is no account with the email %(email)s", email=email))
        # The team page's operation: audited, her sessions ended, and she is told by email.
        ended = team.deactivate(session, team.command_line_actor(user.organization_id), user.id)
        click.echo(
            _(
                "Account deactivated: %(email)s; %(ended)s open session(s) ended.",
                email=user.email,
                ended=ended,
            )
        )


@users.command(
    "reset-mfa",
    cls=Command,
    help=_l("Forget her two-step sign-in (lost phone and recovery codes); she sets up a new one."),
)
@click.option("--email", cls=Option, required=True, help=_l("The email she signs in with."))
def reset_mfa_command(email: str) -> None:
    with command_session() as session:
        user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if user is None:
            raise click.ClickException(_("there is no account with the email %(email)s", email=email))
        team.reset_two_step(session, team.command_line_actor(user.organization_id), user.id)
        click.echo(
            _(
                "Two-step sign-in reset for %(email)s: she sets it up again at her next sign-in.",
                email=user.email,
            )
        )


def _organization_id(session: Session, given: str) -> int:
    """The organization a person named by id or by name (any case); a clear error otherwise."""
    text = given.strip()
    if text.isdigit():
        found = session.get(Organization, int(text))
        if found is None:
            raise click.ClickException(_("there is no organization with id %(id)s", id=text))
        return found.id
    found_id = session.scalar(select(Organization.id).where(func.lower(Organization.name) == text.lower()))
    if found_id is not None:
        return found_id
    names = list(session.scalars(select(Organization.name).order_by(Organization.name)))
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    if close:
        raise click.ClickException(
            _(
                "there is no organization named %(name)r; did you mean: %(close)s?",
                name=text,
                close=", ".join(close),
            )
        )
    raise click.ClickException(
        _("there is no organization named %(name)r; give its exact name or its id", name=text)
    )
