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


def _load_roster(path: str) -> list:
    """The roster's agencies, or every problem on its own line and exit 1 (nothing is written)."""
    from .roster import RosterError, read_roster

    try:
        return read_roster(path)
    except RosterError as e:
        for p in e.problems:
            click.echo(f"error: {path}: {p}", err=True)
        sys.exit(1)


from .collection.cli import collect as _collect  # noqa: E402  (the store's commands live with the store)

main.add_command(_collect)


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
@click.option("--password", help="Sheet protection password (default: generated, written to manifest.csv).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Worker processes (default: the machine's cores).")
def template_cmd(schema: str, out_dir: str, roster: str | None, year: int | None, password: str | None, jobs: int | None) -> None:
    """Generate locked Excel templates (填报模板) from SCHEMA (a file or a shipped id)."""
    import os

    from .template import MANIFEST_NAME, generate_templates

    form = schema_mod.load_form(schema_mod.resolve(schema))
    agencies = _load_roster(roster) if roster else None
    rows, pw = generate_templates(form, out_dir, agencies, year=year, password=password, jobs=jobs or os.cpu_count() or 1)
    click.echo(f"wrote {len(rows)} template(s) of {form.id} {form.version} to {out_dir} "
               f"(list in {Path(out_dir) / MANIFEST_NAME}{'' if password else '; generated password in it'})")


@main.command("check")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of messages.")
@click.option("--schema-dir", "schema_dirs", multiple=True, type=click.Path(file_okay=False, exists=True), help="Extra folder of form schemas (besides the shipped ones).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE instead of the screen.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Worker processes (default: the machine's cores).")
def check_cmd(paths: tuple[str, ...], fmt: str, lang: str, schema_dirs: tuple[str, ...], output: str | None, jobs: int | None) -> None:
    """Check returned workbooks (回收的填报表): recognise, extract, validate, explain.

    Exit 0 when every workbook is valid (warnings allowed), 1 when any is invalid or rejected.
    """
    from .files import write_text_atomic
    from .registry import Registry
    from .report import render_csv, render_json, render_text
    from .runner import check_many
    from .validate import iter_workbooks

    files = iter_workbooks(list(paths))
    if not files:
        raise click.UsageError("no workbooks (.xlsx .xlsm .xls .ods) found under the given paths")
    registry = Registry(schema_dirs)
    results = check_many(files, registry, schema_dirs=schema_dirs, jobs=jobs)
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
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Worker processes (default: the machine's cores).")
def merge_cmd(paths: tuple[str, ...], output: str, roster: str | None, json_out: str | None, csv_out: str | None,
              include_invalid: bool, schema_dirs: tuple[str, ...], jobs: int | None) -> None:
    """Merge returned workbooks under PATHS into one summary workbook (汇总).

    Every workbook is checked; invalid and rejected ones are left out of the totals and listed.
    """
    from .export import write_csv, write_json
    from .merge import MergeError, choose_form, consolidate
    from .runner import check_many
    from .registry import Registry
    from .summary import write_summary
    from .validate import iter_workbooks

    agencies = _load_roster(roster) if roster else None
    registry = Registry(schema_dirs)
    # a summary written into the folder it summarises is not one of the returns next time
    outputs = {Path(p).resolve() for p in (output, json_out, csv_out) if p}
    files = [f for f in iter_workbooks(list(paths)) if f.resolve() not in outputs]
    if not files:
        raise click.UsageError("no workbooks (.xlsx .xlsm .xls .ods) found under the given paths")
    err = click.get_text_stream("stderr")
    if err.isatty():
        with click.progressbar(length=len(files), label="reading", file=err) as bar:
            results = check_many(files, registry, schema_dirs=schema_dirs, jobs=jobs, progress=lambda r: bar.update(1))
    else:
        results = check_many(files, registry, schema_dirs=schema_dirs, jobs=jobs)
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
