"""The command line: a thin click layer over the library.

Every command turns expected failures (bad schema, unreadable roster, hostile workbook) into one
line naming the file and a non-zero exit; a traceback here is a bug.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from . import schema as schema_mod
from .outline import outline


class ToolkitGroup(click.Group):
    """Catches the library's own errors so the user sees one line, not a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except schema_mod.SchemaError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)
        except OSError as e:
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            click.echo(f"error: {where}{e.strerror or e}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=ToolkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="toolkit")
def main() -> None:
    """Spreadsheet templates for statistical reporting (统计报表模板工具).

    Generate locked Excel templates from an indicator schema, read filled ones back with
    validation, and merge them into a summary.
    """


def _refuse_clash(check, lang: str = "zh") -> None:  # type: ignore[no-untyped-def]
    """Run an output-path check (toolkit.guard); a clash is one line and exit 1, before any work."""
    from .guard import Clash

    try:
        check()
    except Clash as e:
        click.echo(f"error: {e.message(lang)}", err=True)
        sys.exit(1)


def _nothing_to_read(found) -> str:  # type: ignore[no-untyped-def]
    """The usage error when nothing under the paths is a workbook, naming what was found instead."""
    from .files import safe_text

    text = "no workbooks (.xlsx .xlsm .xls .ods) found under the given paths"
    if found.skipped:
        text += "; not read: " + "; ".join(f"{s.path}: {s.en}" for s in found.skipped[:5])
        text += f" (and {len(found.skipped) - 5} more)" if len(found.skipped) > 5 else ""
    return safe_text(text)


def _load_manifest(path: str | None) -> dict | None:
    """--manifest: template id → agency code, or one line and exit 1 (nothing is read)."""
    if not path:
        return None
    from .issued import ManifestError, read_issued

    try:
        return read_issued(path)
    except ManifestError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


def _verify_issued(results: list, issued: dict | None) -> None:
    if issued is not None:
        from .issued import verify_issued
        verify_issued(results, issued)


def _load_roster(path: str) -> list:
    """The roster's agencies, or every problem on its own line and exit 1 (nothing is written)."""
    from .roster import RosterError, read_roster

    try:
        return read_roster(path)
    except RosterError as e:
        for p in e.problems:
            click.echo(f"error: {path}: {p}", err=True)
        sys.exit(1)


@main.group("schema")
def schema_group() -> None:
    """Check and describe indicator schemas (指标体系)."""


@schema_group.command("check")
@click.argument("files", nargs=-1, required=True)
def schema_check(files: tuple[str, ...]) -> None:
    """Check schema FILES (paths or shipped ids); exit 1 when any has a problem."""
    bad = 0
    for name in files:
        try:
            path = schema_mod.resolve(name)
            doc = schema_mod.read_document(path)
            problems = schema_mod.check_document(doc)
        except schema_mod.SchemaError as e:
            problems = e.problems
            path = Path(name)
        if problems:
            bad += 1
            for p in problems:
                click.echo(f"{path}: {p}")
        else:
            form = schema_mod.load_form(doc, str(path))
            click.echo(f"{path}: ok — {form.id} {form.version}, {len(form.indicators)} indicators, "
                       f"{len(form.instances)} rule checks")
    sys.exit(1 if bad else 0)


@schema_group.command("show")
@click.argument("file")
def schema_show(file: str) -> None:
    """Print a readable outline of a schema: tables, rows, columns, rules."""
    form = schema_mod.load_form(schema_mod.resolve(file))
    click.echo(outline(form))


@main.command("template")
@click.argument("schema")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the templates and manifest.csv.")
@click.option("--roster", type=click.Path(dir_okay=False), help="CSV or XLSX with columns code, name[, group]: one template per agency.")
@click.option("--year", type=click.IntRange(1900, 2999), help="Reporting year (default: the schema's).")
@click.option("--password", envvar="TOOLKIT_PASSWORD", show_envvar=True,
              help="Sheet protection password (visible to other users in `ps`: prefer the environment variable or "
                   "--password-file). Default: the one in the folder's manifest.csv, else a generated one written there.")
@click.option("--password-file", type=click.File("r", encoding="utf-8-sig"), help="Read the password from the first line of FILE.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Worker processes (default: the machine's cores).")
def template_cmd(schema: str, out_dir: str, roster: str | None, year: int | None, password: str | None, password_file, jobs: int | None) -> None:  # type: ignore[no-untyped-def]
    """Generate locked Excel templates (填报模板) from SCHEMA (a file or a shipped id)."""
    import os

    from .guard import check_template_folder
    from .template import MANIFEST_NAME, generate_templates, template_output_names

    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
    form = schema_mod.load_form(schema_mod.resolve(schema))
    agencies = _load_roster(roster) if roster else None
    _refuse_clash(lambda: check_template_folder(out_dir, template_output_names(form, agencies, year), MANIFEST_NAME, roster))
    rows, pw = generate_templates(form, out_dir, agencies, year=year, password=password, jobs=jobs or os.cpu_count() or 1)
    click.echo(f"wrote {len(rows)} template(s) of {form.id} {form.version} to {out_dir} "
               f"(list in {Path(out_dir) / MANIFEST_NAME}{'' if password else '; generated password in it'})")


@main.command("check")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of messages.")
@click.option("--schema-dir", "schema_dirs", multiple=True, type=click.Path(file_okay=False, exists=True), help="Extra folder of form schemas (besides the shipped ones).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE instead of the screen.")
@click.option("--manifest", "manifest", type=click.Path(dir_okay=False), help="The manifest.csv of the issued templates: reject a return whose template id was issued to another agency (or never).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Worker processes (default: the machine's cores).")
def check_cmd(paths: tuple[str, ...], fmt: str, lang: str, schema_dirs: tuple[str, ...], output: str | None, manifest: str | None, jobs: int | None) -> None:
    """Check returned workbooks (回收的填报表): recognise, extract, validate, explain.

    Exit 0 when every workbook is valid (warnings allowed), 1 when any is invalid or rejected.
    Every path under PATHS that is not read is listed with its reason; .zip archives are opened.
    """
    from .files import write_text_atomic
    from .registry import Registry
    from .report import render_csv, render_json, render_text
    from .discover import check_found, find_inputs
    from .guard import check_outputs

    with find_inputs(list(paths)) as found:
        if not found.files:
            raise click.UsageError(_nothing_to_read(found))
        _refuse_clash(lambda: check_outputs({"-o/--output": output}, found.inputs(), manifest=manifest), lang)
        issued = _load_manifest(manifest)
        registry = Registry(schema_dirs)
        results = check_found(found, registry, schema_dirs=schema_dirs, jobs=jobs)
        _verify_issued(results, issued)
    text = {"text": render_text, "json": render_json, "csv": render_csv}[fmt](results, lang)
    if output:
        write_text_atomic(output, text)
    else:
        click.echo(text, nl=False)
    sys.exit(0 if all(r.status == "valid" for r in results) else 1)


@main.command("merge")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The summary workbook to write (.xlsx).")
@click.option("--roster", type=click.Path(dir_okay=False), help="Expected agencies (CSV or XLSX): lists who is missing and who is unknown.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write totals and detail as JSON.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="Also write the detail as CSV (UTF-8 with BOM).")
@click.option("--include-invalid", is_flag=True, help="Count workbooks with errors in the totals (they are marked).")
@click.option("--schema-dir", "schema_dirs", multiple=True, type=click.Path(file_okay=False, exists=True), help="Extra folder of form schemas.")
@click.option("--manifest", "manifest", type=click.Path(dir_okay=False), help="The manifest.csv of the issued templates: reject a return whose template id was issued to another agency (or never).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Worker processes (default: the machine's cores).")
def merge_cmd(paths: tuple[str, ...], output: str, roster: str | None, json_out: str | None, csv_out: str | None,
              include_invalid: bool, schema_dirs: tuple[str, ...], manifest: str | None, jobs: int | None) -> None:
    """Merge returned workbooks under PATHS into one summary workbook (汇总).

    Every workbook is checked; invalid and rejected ones are left out of the totals and listed,
    as is every path that is not read (with its reason); .zip archives are opened. An output
    naming an input, the roster or another output is refused before anything is read.
    """
    from .discover import check_found, find_inputs
    from .export import write_csv, write_json
    from .guard import check_outputs, drop_previous_outputs
    from .merge import MergeError, choose_form, consolidate
    from .registry import Registry
    from .summary import write_summary

    outputs = {"-o/--output": output, "--json": json_out, "--csv": csv_out}
    found = find_inputs(list(paths))
    try:
        # a summary written into the folder it summarises is not one of the returns next time;
        # an output naming a return, the roster or another output is refused before any work
        found.files = drop_previous_outputs(found.files, outputs, paths)
        _refuse_clash(lambda: check_outputs(outputs, found.inputs(), roster=roster, manifest=manifest))
        agencies = _load_roster(roster) if roster else None
        issued = _load_manifest(manifest)
        registry = Registry(schema_dirs)
        if not found.files:
            raise click.UsageError(_nothing_to_read(found))
        err = click.get_text_stream("stderr")
        if err.isatty():
            with click.progressbar(length=len(found.files), label="reading", file=err) as bar:
                results = check_found(found, registry, schema_dirs=schema_dirs, jobs=jobs, progress=lambda r: bar.update(1))
        else:
            results = check_found(found, registry, schema_dirs=schema_dirs, jobs=jobs)
        _verify_issued(results, issued)
    finally:
        found.cleanup()
    try:
        form = choose_form(results, registry)
    except MergeError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    c = consolidate(results, form, agencies, include_invalid)
    write_summary(c, output)
    if json_out:
        write_json(c, json_out)
    if csv_out:
        write_csv(c, csv_out)
    counts = c.counts()
    parts = [f"{n} {label}" for key, label in (("valid", "valid"), ("warnings", "valid with warnings"), ("invalid", "invalid"),
                                                 ("rejected", "rejected"), ("duplicate", "duplicate"), ("unknown", "not on the roster"),
                                                 ("missing", "missing")) if (n := counts[key])]
    click.echo(f"{output}: {len(c.used)} of {len(c.submissions)} workbook(s) in the totals ({', '.join(parts)})")
    if c.failed_rules:
        click.echo(f"warning: the totals break {len(c.failed_rules)} rule(s); see the summary sheets", err=True)
