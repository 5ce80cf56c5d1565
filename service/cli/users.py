"""`maillage users ...`: accounts of the people who sign in."""

from __future__ import annotations

import difflib
import secrets

import click
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.mfa import reset_mfa
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.operations import AccountProblem
from service.accounts.operations import active_sessions
from service.accounts.operations import create_user
from service.accounts.operations import deactivate_user
from service.accounts.passwords import MIN_LENGTH
from service.cli.sessions import command_session
from service.directory.models import Organization


@click.group()
def users() -> None:
    """People who sign in: caseworkers, coordinators, partner contacts, the regional admin."""


@users.command()
@click.option("--email", required=True, help="Her email: she signs in with it.")
@click.option("--org", "organization", help="Her organization, by name or id (none for a regional admin).")
@click.option("--role", required=True, help=f"One of: {', '.join(Role)}.")
@click.option("--name", default="", help="Her name as colleagues see it (default: the email's first part).")
@click.option("--language", default="fr", show_default=True, help="fr or en: the language of her pages.")
@click.option("--generate", is_flag=True, help="Make up a strong password and print it, instead of asking.")
def create(email: str, organization: str | None, role: str, name: str, language: str, generate: bool) -> None:
    """Create an account; asks for the password twice (hidden) unless --generate."""
    if role not in set(Role):
        raise click.ClickException(f"there is no role {role!r}; the roles are: {', '.join(Role)}")
    with command_session() as session:
        organization_id = _organization_id(session, organization) if organization else None
        if generate:
            password = secrets.token_urlsafe(15)
        else:
            password = click.prompt(
                f"Password (at least {MIN_LENGTH} characters)", hide_input=True, confirmation_prompt=True
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
        where = f" at {session.get(Organization, organization_id).name}" if organization_id else ""
        click.echo(f"Account created: {user.email}, {user.role}{where}.")
    if generate:
        click.echo(f"Password: {password}")
        click.echo("It is shown only this once: give it to her by a safe channel.")


@users.command()
@click.option("--email", required=True, help="The email she signs in with.")
def deactivate(email: str) -> None:
    """Close an account: she can no longer sign in, and is signed out everywhere at once."""
    with command_session() as session:
        user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"there is no account with the email {email}")
        ended = len(active_sessions(session, user.id))
        deactivate_user(session, user.id)
        click.echo(f"Account deactivated: {user.email}; {ended} open session(s) ended.")


@users.command("reset-mfa")
@click.option("--email", required=True, help="The email she signs in with.")
def reset_mfa_command(email: str) -> None:
    """Forget her two-step sign-in (lost phone and recovery codes); she sets up a new one."""
    with command_session() as session:
        user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"there is no account with the email {email}")
        reset_mfa(session, user)
        click.echo(f"Two-step sign-in reset for {user.email}: she sets it up again at her next sign-in.")


def _organization_id(session: Session, given: str) -> int:
    """The organization a person named by id or by name (any case); a clear error otherwise."""
    text = given.strip()
    if text.isdigit():
        found = session.get(Organization, int(text))
        if found is None:
            raise click.ClickException(f"there is no organization with id {text}")
        return found.id
    found_id = session.scalar(select(Organization.id).where(func.lower(Organization.name) == text.lower()))
    if found_id is not None:
        return found_id
    names = list(session.scalars(select(Organization.name).order_by(Organization.name)))
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    hint = f"; did you mean: {', '.join(close)}?" if close else "; give its exact name or its id"
    raise click.ClickException(f"there is no organization named {text!r}{hint}")
