"""`maillage protocols ...`: check, list, show and draw referral protocols."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from service.cli.language import Command
from service.cli.language import Group
from service.cli.language import Option
from service.cli.language import _
from service.cli.language import _l
from service.cli.language import current_language
from service.cli.language import in_language
from service.protocols import protocol_library
from workflows.diagram import mermaid
from workflows.diagram import svg
from workflows.durations import Duration
from workflows.errors import ProtocolError
from workflows.errors import ProtocolNotFound
from workflows.loader import ProtocolLibrary
from workflows.loader import check_files
from workflows.protocol import Protocol


@click.group(cls=Group, help=_l("Referral protocols: the files in workflows/protocols/."))
def protocols() -> None:
    pass


@protocols.command(
    cls=Command, help=_l("Check protocol FILES; print each problem as FILE:LINE: FIELD: PROBLEM.")
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    problems = check_files(files)
    # The problems stay as the checker words them (English, FILE:LINE: FIELD: PROBLEM): editors and
    # scripts read them.
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise SystemExit(1)
    click.echo(_("%(count)s protocol file(s) OK.", count=len(files)))


@protocols.command("list", cls=Command, help=_l("The loaded protocols and their versions."))
def list_() -> None:
    library = _library()
    for protocol in library.latest(subject=None):  # a request to join's too
        versions = ", ".join(str(v) for v in library.versions(protocol.name))
        click.echo(f"{protocol.name:<14} v{versions:<6} {protocol.spec.title.fr} / {protocol.spec.title.en}")


VERSION_HELP = _l("A given version; the newest by default.")
LANGUAGE_HELP = _l("The protocol's language: fr or en; the command's language by default.")


@protocols.command(cls=Command, help=_l("States, deadlines, transitions and notifications of protocol NAME."))
@click.argument("name")
@click.option("--version", "version", cls=Option, type=int, help=VERSION_HELP)
@click.option("--language", cls=Option, type=click.Choice(["fr", "en"]), help=LANGUAGE_HELP)
def show(name: str, version: int | None, language: str | None) -> None:
    click.echo(describe(_get(name, version), language or current_language()))


@protocols.command(cls=Command, help=_l("A picture of protocol NAME: Mermaid text, or a standalone SVG."))
@click.argument("name")
@click.option(
    "--format",
    "format_",
    cls=Option,
    type=click.Choice(["mermaid", "svg"]),
    default="mermaid",
    show_default=True,
    help=_l("Mermaid text, or a standalone SVG."),
)
@click.option("--version", "version", cls=Option, type=int, help=VERSION_HELP)
@click.option("--language", cls=Option, type=click.Choice(["fr", "en"]), help=LANGUAGE_HELP)
@click.option(
    "-o",
    "--output",
    cls=Option,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_l("Write to a file."),
)
def diagram(name: str, format_: str, version: int | None, language: str | None, output: Path | None) -> None:
    protocol = _get(name, version)
    language = language or current_language()
    picture = mermaid(protocol, language) if format_ == "mermaid" else svg(protocol, language)
    if output is None:
        click.echo(picture)
        return
    try:
        output.write_text(picture, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(
            _("cannot write %(file)s: %(error)s", file=output, error=error.strerror)
        ) from None
    click.echo(_("Wrote %(file)s.", file=output))


def _library() -> ProtocolLibrary:
    try:
        return protocol_library()
    except ProtocolError as error:
        raise click.ClickException(
            _("the protocol files have problems:\n%(problems)s", problems=error)
        ) from None


def _get(name: str, version: int | None) -> Protocol:
    try:
        return _library().get(name, version)
    except ProtocolNotFound as error:
        if error.version is None:
            message = _("no protocol named %(name)s", name=error.name)
        else:
            message = _(
                "no protocol named %(name)s version %(version)s", name=error.name, version=error.version
            )
        listing = _("`maillage protocols list` shows the loaded ones")
        raise click.ClickException(f"{message}; {listing}") from None


def describe(protocol: Protocol, language: str = "fr") -> str:
    """A protocol as readable text tables, its words in `language` (the codes as the file writes them)."""
    # The table's own words follow the protocol's language, which `show --language` may choose.
    _ = partial(in_language, language)
    spec = protocol.spec
    kinds = {"reminder": _("reminder"), "escalation": _("escalation")}
    lines = [
        _(
            "%(title)s (%(name)s, version %(version)s)",
            title=spec.title.in_language(language),
            name=protocol.name,
            version=protocol.version,
        ),
        spec.description.in_language(language),
        "",
        _("STATES"),
    ]
    for name, state in protocol.states.items():
        marks = [
            m for m, on in ((_("initial"), name == protocol.initial), (_("terminal"), state.terminal)) if on
        ]
        waits = _("waits on %(party)s", party=state.waits_on) if state.waits_on else ""
        lines.append(_row(name, state.title.in_language(language), ", ".join(marks) or waits))
        if state.deadline:
            deadline = _("deadline: %(title)s", title=state.deadline.title.in_language(language))
            lines.append(f"{'':16}{deadline}")
            for step in state.deadline.steps:
                notify = ", ".join(f"{n.template} → {n.to}" for n in step.notify)
                kind = kinds.get(step.kind, step.kind)
                if step.from_field is not None:
                    # Counted from one of the request's dates, before or after it.
                    offset = protocol.duration(step.after, None)
                    duration = str(Duration(abs(offset.amount), offset.unit))
                    words = (
                        _(
                            "%(duration)s before %(field)s: %(kind)s; %(notify)s",
                            duration=duration,
                            field=step.from_field,
                            kind=kind,
                            notify=notify,
                        )
                        if offset.amount < 0
                        else _(
                            "%(duration)s after %(field)s: %(kind)s; %(notify)s",
                            duration=duration,
                            field=step.from_field,
                            kind=kind,
                            notify=notify,
                        )
                    )
                    lines.append(f"{'':18}{words}")
                    continue
                after = str(protocol.duration(step.after, None))
                if step.after in spec.parameters:
                    after = _("%(duration)s (parameter %(parameter)s)", duration=after, parameter=step.after)
                notify = ", ".join(f"{n.template} → {n.to}" for n in step.notify)
                kind = kinds.get(step.kind, step.kind)
                lines.append(
                    f"{'':18}"
                    + _("after %(after)s: %(kind)s; %(notify)s", after=after, kind=kind, notify=notify)
                )
    lines += ["", _("TRANSITIONS")]
    for t in protocol.transitions:
        by = _("by %(parties)s", parties=", ".join(sorted(t.parties)))
        lines.append(_row(t.trigger, f"{', '.join(t.sources)} → {t.dest}", by))
        details = [_("guards: %(guards)s", guards=", ".join(t.guards))] if t.guards else []
        if t.reason:
            details.append(_("reason from: %(reasons)s", reasons=", ".join(protocol.reasons[t.reason])))
        if t.comment != "optional":
            details.append(_("comment: %(comment)s", comment=t.comment))
        details += [
            _("notifies %(to)s (%(template)s)", to=n.to, template=n.template) for n in t.notifications
        ]
        lines += [f"{'':18}{d}" for d in details]
    if spec.parameters:
        lines += ["", _("PARAMETERS (an agreement may set them)")]
        for name, p in spec.parameters.items():
            lines.append(_row(name, p.title.in_language(language), f"{p.default} [{p.min} .. {p.max}]"))
    return "\n".join(lines)


def _row(first: str, second: str, third: str) -> str:
    return f"  {first:<22} {second:<40} {third}".rstrip()
