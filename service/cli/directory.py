"""`maillage directory ...`: the directory in and out as Open Referral HSDS 3."""

from __future__ import annotations

import json
from pathlib import Path

import click

from service.cli.sessions import command_session
from service.standards.directory_import import import_file
from service.standards.hsds import DirectoryFileError
from service.standards.hsds import export_directory
from service.standards.hsds import taxonomy_terms
from service.standards.tabular import write_package


@click.group()
def directory() -> None:
    """Organizations, services and needs, in and out as Open Referral HSDS 3."""


@directory.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change; write nothing.")
def import_(file: Path, dry_run: bool) -> None:
    """Import FILE: an HSDS JSON list of organizations, or a CSV data package (folder or datapackage.json).

    Prints what was created, updated and refused (with the reason for each
    record); exits 1 if anything was refused. Running it twice changes nothing
    the second time.
    """
    with command_session() as session:
        try:
            report = import_file(session, file, dry_run=dry_run)
        except DirectoryFileError as error:
            raise click.ClickException(f"nothing imported: {error}") from None
    for line in report.lines():
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was written.")
    if report.refused:
        click.echo(f"{len(report.refused)} record(s) refused; the others were imported.", err=True)
        raise SystemExit(1)


@directory.command()
@click.option("--format", "format_", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="A file for JSON (standard output by default); a folder for CSV (required).",
)
def export(format_: str, output: Path | None) -> None:
    """Write the directory as HSDS 3: a JSON list of organizations, or CSV files and datapackage.json."""
    if format_ == "csv" and output is None:
        raise click.UsageError("--format csv writes several files: give a folder with -o/--output")
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
        raise click.ClickException(f"cannot write {output}: {error.strerror}") from None
    click.echo(f"Wrote {len(organizations)} organization(s) to {output}.")
