"""`maillage protocols ...`: check, list, show and draw referral protocols."""

from __future__ import annotations

from pathlib import Path

import click

from service.protocols import protocol_library
from workflows.diagram import mermaid
from workflows.diagram import svg
from workflows.errors import ProtocolError
from workflows.errors import ProtocolNotFound
from workflows.loader import ProtocolLibrary
from workflows.loader import check_files
from workflows.protocol import Protocol


@click.group()
def protocols() -> None:
    """Referral protocols: the files in workflows/protocols/."""


@protocols.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Check protocol FILES; print each problem as FILE:LINE: FIELD: PROBLEM."""
    problems = check_files(files)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"{len(files)} protocol file(s) OK.")


@protocols.command("list")
def list_() -> None:
    """The loaded protocols and their versions."""
    library = _library()
    for protocol in library.latest():
        versions = ", ".join(str(v) for v in library.versions(protocol.name))
        click.echo(f"{protocol.name:<14} v{versions:<6} {protocol.spec.title.fr} / {protocol.spec.title.en}")


@protocols.command()
@click.argument("name")
@click.option("--version", "version", type=int, help="A given version; the newest by default.")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def show(name: str, version: int | None, language: str) -> None:
    """States, deadlines, transitions and notifications of protocol NAME."""
    click.echo(describe(_get(name, version), language))


@protocols.command()
@click.argument("name")
@click.option(
    "--format", "format_", type=click.Choice(["mermaid", "svg"]), default="mermaid", show_default=True
)
@click.option("--version", "version", type=int, help="A given version; the newest by default.")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def diagram(name: str, format_: str, version: int | None, language: str, output: Path | None) -> None:
    """A picture of protocol NAME: Mermaid text, or a standalone SVG."""
    protocol = _get(name, version)
    picture = mermaid(protocol, language) if format_ == "mermaid" else svg(protocol, language)
    if output is None:
        click.echo(picture)
        return
    try:
        output.write_text(picture, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"cannot write {output}: {error.strerror}") from None
    click.echo(f"Wrote {output}.")


def _library() -> ProtocolLibrary:
    try:
        return protocol_library()
    except ProtocolError as error:
        raise click.ClickException(f"the protocol files have problems:\n{error}") from None


def _get(name: str, version: int | None) -> Protocol:
    try:
        return _library().get(name, version)
    except ProtocolNotFound as error:
        raise click.ClickException(str(error)) from None


def describe(protocol: Protocol, language: str = "fr") -> str:
    """A protocol as readable text tables."""
    spec = protocol.spec
    lines = [
        f"{spec.title.in_language(language)} ({protocol.name}, version {protocol.version})",
        spec.description.in_language(language),
        "",
        "STATES",
    ]
    for name, state in protocol.states.items():
        marks = [m for m, on in (("initial", name == protocol.initial), ("terminal", state.terminal)) if on]
        waits = f"waits on {state.waits_on}" if state.waits_on else ""
        lines.append(_row(name, state.title.in_language(language), ", ".join(marks) or waits))
        if state.deadline:
            lines.append(f"{'':16}deadline: {state.deadline.title.in_language(language)}")
            for step in state.deadline.steps:
                after = str(protocol.duration(step.after, None))
                if step.after in spec.parameters:
                    after += f" (parameter {step.after})"
                notify = ", ".join(f"{n.template} → {n.to}" for n in step.notify)
                lines.append(f"{'':18}after {after}: {step.kind}; {notify}")
    lines += ["", "TRANSITIONS"]
    for t in protocol.transitions:
        lines.append(
            _row(t.trigger, f"{', '.join(t.sources)} → {t.dest}", f"by {', '.join(sorted(t.parties))}")
        )
        details = [f"guards: {', '.join(t.guards)}"] if t.guards else []
        if t.reason:
            details.append(f"reason from: {', '.join(protocol.reasons[t.reason])}")
        if t.comment != "optional":
            details.append(f"comment: {t.comment}")
        details += [f"notifies {n.to} ({n.template})" for n in t.notifications]
        lines += [f"{'':18}{d}" for d in details]
    if spec.parameters:
        lines += ["", "PARAMETERS (an agreement may set them)"]
        for name, p in spec.parameters.items():
            lines.append(_row(name, p.title.in_language(language), f"{p.default} [{p.min} .. {p.max}]"))
    return "\n".join(lines)


def _row(first: str, second: str, third: str) -> str:
    return f"  {first:<22} {second:<40} {third}".rstrip()
