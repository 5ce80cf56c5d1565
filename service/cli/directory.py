"""`maillage directory ...`: the directory in and out as Open Referral HSDS 3."""

from __future__ import annotations

import json
from pathlib import Path

import click

from service.cli.language import Command
from service.cli.language import Group
from service.cli.language import Option
from service.cli.language import _
from service.cli.language import _l
from service.cli.sessions import command_session
from service.standards.directory_import import KINDS
from service.standards.directory_import import ImportReport
from service.standards.directory_import import import_file
from service.standards.hsds import DirectoryFileError
from service.standards.hsds import export_directory
from service.standards.hsds import taxonomy_terms
from service.standards.tabular import write_package
from service.standards.taxonomy_map import TaxonomyMapError


@click.group(cls=Group, help=_l("Organizations, services and needs, in and out as Open Referral HSDS 3."))
def directory() -> None:
    pass


@directory.command(
    "import",
    cls=Command,
    help=_l(
        "Import FILE: an HSDS JSON list of organizations, or a CSV data package (folder or "
        "datapackage.json). Prints what was created, updated and refused (with the reason for each "
        "record); exits 1 if anything was refused. Running it twice changes nothing the second time."
    ),
)
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--dry-run",
    cls=Option,
    is_flag=True,
    help=_l("Check the file and say what would change; write nothing."),
)
def import_(file: Path, dry_run: bool) -> None:
    with command_session() as session:
        try:
            report = import_file(session, file, dry_run=dry_run)
        except (DirectoryFileError, TaxonomyMapError) as error:
            raise click.ClickException(_("nothing imported: %(error)s", error=error)) from None
    for line in report_lines(report):
        click.echo(line)
    if dry_run:
        click.echo(_("Dry run: nothing was written."))
    if report.refused:
        click.echo(
            _("%(count)s record(s) refused; the others were imported.", count=len(report.refused)), err=True
        )
        raise SystemExit(1)


def report_lines(report: ImportReport) -> list[str]:
    """The import's report in the command's language; each refusal as the checks word it (the file's
    field names, in English, like the protocol checker's)."""
    labels = {
        "need": _("needs:"),
        "organization": _("organizations:"),
        "service": _("services:"),
    }
    width = max(len(label) for label in labels.values()) + 1
    lines = []
    for kind in KINDS:
        counted = report.counts[kind]
        counts = _(
            "%(created)s created, %(updated)s updated, %(unchanged)s unchanged, %(refused)s refused",
            created=counted["created"],
            updated=counted["updated"],
            unchanged=counted["unchanged"],
            refused=sum(1 for refusal in report.refused if refusal.kind == kind),
        )
        lines.append(f"{labels[kind]:<{width}}{counts}")
    if report.refused:
        lines.append(_("Refused:"))
        lines += [f"  {refusal}" for refusal in report.refused]
    lines += [_("Note: %(note)s", note=note) for note in report.notes]
    if report.unmapped:
        lines.append(
            _("Taxonomy terms with no need in the mapping file (MAILLAGE_TAXONOMY_MAP), not imported:")
        )
        lines += [
            "  " + _("%(term)s (%(count)s service(s))", term=term, count=len(services))
            for term, services in sorted(report.unmapped.items())
        ]
    return lines


@directory.command(
    cls=Command,
    help=_l(
        "Write the directory as HSDS 3: a JSON list of organizations, or CSV files and datapackage.json."
    ),
)
@click.option(
    "--format",
    "format_",
    cls=Option,
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help=_l("One JSON file, or CSV files and datapackage.json."),
)
@click.option(
    "-o",
    "--output",
    cls=Option,
    type=click.Path(path_type=Path),
    help=_l("A file for JSON (standard output by default); a folder for CSV (required)."),
)
def export(format_: str, output: Path | None) -> None:
    if format_ == "csv" and output is None:
        raise click.UsageError(_("--format csv writes several files: give a folder with -o/--output"))
    with command_session() as session:
        organizations = export_directory(session)
        terms = taxonomy_terms(session)
    try:
        if format_ == "csv":
            write_package(output, organizations, terms)
        elif output is None:
            click.echo(json.dumps(organizations, indent=2, ensure_ascii=False))
            return
        else:
            output.write_text(json.dumps(organizations, indent=2, ensure_ascii=False) + "\n", "utf-8")
    except OSError as error:
        raise click.ClickException(
            _("cannot write %(file)s: %(error)s", file=output, error=error.strerror)
        ) from None
    click.echo(_("Wrote %(count)s organization(s) to %(file)s.", count=len(organizations), file=output))
