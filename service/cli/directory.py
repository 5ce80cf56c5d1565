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
from service.config import settings
from service.directory.sheet_columns import FIELDS
from service.directory.sheet_columns import IGNORED
from service.directory.sheet_columns import guess_mapping
from service.directory.sheet_columns import header_key
from service.directory.sheet_import import SheetPlan
from service.directory.sheet_import import commit_plan
from service.directory.sheet_import import plan_import
from service.directory.sheet_reading import SheetError
from service.directory.sheet_reading import read_sheet
from service.directory.sheet_wording import field_label
from service.directory.sheet_wording import file_error_text
from service.directory.sheet_wording import outcome_text
from service.directory.sheet_wording import problem_text
from service.standards.directory_import import KINDS
from service.standards.directory_import import ImportReport
from service.standards.directory_import import import_file
from service.standards.hsds import DirectoryFileError
from service.standards.hsds import export_directory
from service.standards.hsds import taxonomy_terms
from service.standards.tabular import write_package
from service.standards.taxonomy_map import TaxonomyMapError
from service.standards.taxonomy_map import configured_map


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


@directory.command(
    "import-sheet",
    cls=Command,
    help=_l(
        "Import organizations, their services and contact people from a spreadsheet FILE (CSV or XLSX, "
        "one row per service; the first row names the columns). Columns are guessed from their headers; "
        "--mapping corrects one. Everything is imported, or nothing when a row is refused (each refusal is "
        "printed with its row, field and reason; exit 1). Importing the same file again changes nothing."
    ),
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dry-run",
    cls=Option,
    is_flag=True,
    help=_l("Check the file and say what would change; write nothing."),
)
@click.option(
    "--mapping",
    "mappings",
    cls=Option,
    multiple=True,
    metavar="HEADER=FIELD",
    help=_l(
        "Send the column HEADER to FIELD, e.g. name, referral_email, service_name, service_needs, "
        "contact_email (empty: do not import it); repeatable."
    ),
)
def import_sheet(file: Path, dry_run: bool, mappings: tuple[str, ...]) -> None:
    limit = settings().import_max_bytes
    try:
        with file.open("rb") as source:
            sheet = read_sheet(source.read(limit + 1), file.name, max_bytes=limit)
    except SheetError as error:
        raise click.ClickException(
            _("nothing imported: %(error)s", error=file_error_text(error, _))
        ) from None
    except OSError as error:
        raise click.ClickException(
            _("cannot read %(file)s: %(error)s", file=file, error=error.strerror)
        ) from None
    mapping = _mapping(sheet.headers, mappings)
    with command_session() as session:
        try:
            plan = plan_import(session, sheet, mapping, configured_map())
        except TaxonomyMapError as error:
            raise click.ClickException(_("nothing imported: %(error)s", error=error)) from None
        if not dry_run:
            commit_plan(session, plan)
    for line in sheet_report_lines(plan, sheet.headers, mapping):
        click.echo(line)
    if plan.refused:
        click.echo(_("%(count)s problem(s): nothing was imported.", count=len(plan.refused)), err=True)
        raise SystemExit(1)
    click.echo(_("Dry run: nothing was written.") if dry_run else _("Imported."))


def _mapping(headers: list[str], mappings: tuple[str, ...]) -> list[str]:
    mapping = guess_mapping(headers)
    for given in mappings:
        header, separator, name = given.partition("=")
        name = name.strip()
        columns = [index for index, found in enumerate(headers) if header_key(found) == header_key(header)]
        if not separator or not columns:
            raise click.UsageError(
                _(
                    "--mapping %(given)s: no column of the file is headed %(header)s",
                    given=given,
                    header=header,
                )
            )
        if name not in (*FIELDS, IGNORED):
            raise click.UsageError(
                _(
                    "--mapping %(given)s: %(name)s is not a field; fields: %(fields)s",
                    given=given,
                    name=name,
                    fields=", ".join(FIELDS),
                )
            )
        for index in columns:
            mapping[index] = name
    return mapping


def sheet_report_lines(plan: SheetPlan, headers: list[str], mapping: list[str]) -> list[str]:
    """The import's columns, changes row by row, refusals and unmapped categories, in the command's words."""
    lines = [_("Columns:")]
    for header, name in zip(headers, mapping, strict=True):
        target = field_label(name, _) if name else _("(not imported)")
        lines.append(f"  {header or '?'} -> {target}")
    for change in plan.shown_changes:
        kinds = {"organization": _("organization"), "service": _("service"), "contact": _("contact person")}
        kind = kinds[change.kind]
        lines.append(
            _(
                "Row %(line)s: %(kind)s %(name)s: %(outcome)s",
                line=change.line,
                kind=kind,
                name=change.name,
                outcome=outcome_text(change.outcome, _),
            )
        )
    for kind, label in (
        ("organization", _("organizations:")),
        ("service", _("services:")),
        ("contact", _("contact people (in their organization's address book):")),
    ):
        counts = _(
            "%(created)s created, %(updated)s updated, %(unchanged)s unchanged",
            created=plan.count(kind, "created"),
            updated=plan.count(kind, "updated"),
            unchanged=plan.count(kind, "unchanged"),
        )
        lines.append(f"{label} {counts}")
    if plan.refused:
        lines.append(_("Refused:"))
        lines += [f"  {problem_text(problem, _, headers)}" for problem in plan.refused]
    if plan.unmapped:
        lines.append(_("Categories with no need of Maillage (not imported):"))
        lines += [
            "  " + _("%(term)s, row(s) %(lines)s", term=term, lines=", ".join(map(str, rows[:20])))
            for term, rows in sorted(plan.unmapped.items())
        ]
    return lines
