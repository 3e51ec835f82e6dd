"""The command line: a thin click layer over the library calls in :mod:`toolkit.api`.

Every command speaks the language chosen once (``toolkit --lang en …``, the ``TOOLKIT_LANG``
variable, else the locale, Chinese when unsure). Every expected failure is a
:class:`toolkit.errors.ToolkitError`, turned into one line naming the file and an exit code in one
place (:meth:`ToolkitGroup.invoke`); a traceback here is a bug.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__, api
from .errors import OutputRefused, ToolkitError, exit_code, in_language
from .progress import Progress

LANGS = ("zh", "en")


def default_lang() -> str:
    """TOOLKIT_LANG, else the locale's language (LC_ALL, LC_MESSAGES, LANG, LANGUAGE): English only
    when the locale says English; Chinese when it says Chinese or nothing clear."""
    explicit = os.environ.get("TOOLKIT_LANG", "").strip().lower()
    if explicit in LANGS:
        return explicit
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var, "").strip().lower()
        if value and value not in ("c", "posix", "c.utf-8", "c.utf8"):
            return "en" if value.startswith("en") else "zh"
    return "zh"


def _lang(ctx: click.Context | None = None) -> str:
    ctx = ctx or click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("lang"):
            return str(ctx.obj["lang"])
        ctx = ctx.parent
    return default_lang()


def say(zh: str, en: str, err: bool = False) -> None:
    """One line in the chosen language."""
    click.echo(en if _lang() == "en" else zh, err=err)


def _error_line(zh: str, en: str) -> str:
    return f"error: {en}" if _lang() == "en" else f"错误：{zh}"


class ToolkitGroup(click.Group):
    """Turns the library's errors into one line and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ToolkitError as e:
            problems = getattr(e, "problems", None)
            where = getattr(e, "path", None) or getattr(e, "source", None)
            if problems and len(problems) > 1 and where:
                # a roster or schema with several bad lines: every one, so all can be fixed at once
                for p in problems:
                    click.echo(_error_line(f"{where}：{in_language(str(p), 'zh')}", f"{where}: {in_language(str(p), 'en')}"), err=True)
            else:
                click.echo(_error_line(e.message("zh"), e.message("en")), err=True)
            ctx.exit(exit_code(e))
        except OSError as e:
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            reason = e.strerror or str(e)
            click.echo(_error_line(f"{where}{reason}", f"{where}{reason}"), err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("已中断" if _lang(ctx) == "zh" else "interrupted", err=True)
            ctx.exit(130)


def _lang_option(f: Any) -> Any:
    return click.option("--lang", type=click.Choice(LANGS), default=None,
                        help="消息语言 zh|en（默认同 toolkit --lang）/ language of messages.")(f)


def _manifest_option(f: Any) -> Any:
    return click.option("--manifest", type=click.Path(dir_okay=False),
                        help="下发模板时的 manifest.csv：模板编号不属于所称单位（或从未下发）的报表被拒收 / "
                             "verify template ids against the issued templates.")(f)


def _previous_option(f: Any) -> Any:
    return click.option("--previous", "previous", metavar="PATH", type=click.Path(exists=True),
                        help="上年数据：上年的汇总表（.xlsx）、其 JSON 导出或上年报表所在的文件夹；据此核对跨年规则（prev）"
                             " / last year's summary workbook, its JSON export, or the folder of last year's returns.")(f)


def _say_absent(absent: list[tuple[str, str]]) -> None:
    """Agencies with no figures last year: listed (their cross-year checks do not apply), not errors."""
    if absent:
        names = "、".join(f"{name or code}（{code}）" for code, name in absent[:20]) + (f" 等 {len(absent)} 个" if len(absent) > 20 else "")
        names_en = ", ".join(f"{code} {name}".strip() for code, name in absent[:20]) + (f" and {len(absent) - 20} more" if len(absent) > 20 else "")
        say(f"上年数据中没有这些单位，跨年核对不适用：{names}", f"no figures last year (cross-year checks not applicable): {names_en}",
            err=True)


def _period_option(f: Any) -> Any:
    return click.option("--year", "year", metavar="PERIOD",
                        help="本次收集的报告期（默认取多数报表的）；其他报告期的报表被拒收 / the period collected.")(f)


def _set_lang(lang: str | None) -> str:
    ctx = click.get_current_context()
    if lang:
        ctx.ensure_object(dict)["lang"] = lang
    return _lang(ctx)


@click.group(cls=ToolkitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="toolkit")
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="消息语言：zh 中文（默认）或 en English；也可设环境变量 TOOLKIT_LANG。")
@click.pass_context
def main(ctx: click.Context, lang: str | None) -> None:
    """统计报表模板工具：由指标体系生成锁定的填报模板，回收时逐格审核，汇总成表。

    Spreadsheet templates for statistical reporting: generate locked Excel templates from an
    indicator schema, check the returned workbooks, merge them into a summary.
    """
    ctx.ensure_object(dict)["lang"] = lang or default_lang()


# ------------------------------------------------------------------------------------ outputs

OUTPUT_SUFFIXES = {"xlsx": (".xlsx",), "json": (".json",), "csv": (".csv",), "text": (".txt", ".log", "")}


def refuse_wrong_suffix(path: str | None, kind: str, option: str) -> None:
    """An output whose extension says another kind than what is written is refused: a summary
    named .csv would be opened by Excel as text and look broken."""
    if not path:
        return
    suffix = Path(path).suffix.lower()
    allowed = OUTPUT_SUFFIXES[kind]
    if suffix not in allowed:
        want = "、".join(s for s in allowed if s) or "（无扩展名）"
        want_en = ", ".join(s for s in allowed if s)
        raise OutputRefused(f"{path}：{option} 写出的是 {kind.upper()} 文件，文件名应以 {want} 结尾",
                            f"{path}: {option} writes a {kind.upper()} file; the name should end in {want_en}")


from .collection.cli import collect as _collect  # noqa: E402  (the store's commands live with the store)

main.add_command(_collect)


@main.command("serve", short_help="网页报送与看板 / serve on the web.")
@click.argument("db")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Server processes (PostgreSQL recommended for several).")
@click.option("--schema-dir", "schema_dirs", multiple=True, type=click.Path(file_okay=False, exists=True))
def serve_cmd(db: str, host: str, port: int, workers: int, schema_dirs: tuple[str, ...]) -> None:
    """Serve the store DB: agency upload pages (links from `toolkit collect links`), the office dashboard, the JSON API."""
    from .collection.cli import _one_line_errors
    from .web.serve import serve

    _one_line_errors(lambda lang=None: serve(db, host, port, workers, schema_dirs))()


# ------------------------------------------------------------------------------------ schema

@main.group("schema", short_help="查看与检查指标体系（表单定义）/ schemas.")
def schema_group() -> None:
    """查看与检查指标体系（表单定义）。Check, list and describe indicator schemas."""


@schema_group.command("list", short_help="列出随工具提供的表单 / shipped forms.")
def schema_list() -> None:
    """列出随工具提供的表单：编号、版本、名称。List the shipped forms."""
    from .schema import load_form, shipped_schemas

    for form_id, path in shipped_schemas().items():
        form = load_form(path)
        click.echo(f"{form_id}\t{form.version}\t{form.title}")


@schema_group.command("check", short_help="检查表单定义是否可用 / check schemas.")
@click.argument("files", nargs=-1, required=True)
def schema_check(files: tuple[str, ...]) -> None:
    """检查表单定义 FILES（文件路径或内置表单编号），每个问题一行；有问题时退出码为 1。

    Check schema FILES (paths or shipped ids); one line per problem, exit 1 when any has one.
    """
    from . import schema as schema_mod

    lang = _lang()
    bad = 0
    for name in files:
        try:
            path = schema_mod.resolve(name)
            doc = schema_mod.read_document(path)
            problems: list[Any] = list(schema_mod.check_document(doc))
        except schema_mod.SchemaError as e:
            problems = e.problems
            path = Path(name)
        if problems:
            bad += 1
            for p in problems:
                click.echo(f"{path}: {in_language(str(p), lang)}")
        else:
            form = schema_mod.load_form(doc, str(path))
            say(f"{path}：可用 — {form.id} {form.version}，{len(form.indicators)} 个指标，{len(form.instances)} 项审核",
                f"{path}: ok — {form.id} {form.version}, {len(form.indicators)} indicators, {len(form.instances)} rule checks")
    sys.exit(1 if bad else 0)


@schema_group.command("show", short_help="显示表单的表、行、列和规则 / outline.")
@click.argument("file")
def schema_show(file: str) -> None:
    """显示表单的表、行、列和审核规则。Print a readable outline of a schema."""
    from .outline import outline

    click.echo(outline(api.load_form(file)))


# ------------------------------------------------------------------------------------ template

@main.command("template", short_help="生成锁定的填报模板 / generate templates.")
@click.argument("schema")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="模板和 manifest.csv 的存放文件夹 / folder for the templates and manifest.csv.")
@click.option("--roster", type=click.Path(dir_okay=False),
              help="报送单位名单（CSV 或 XLSX，列：单位代码、单位名称[、分组]），每个单位一份模板。")
@click.option("--year", type=click.IntRange(1900, 2999), help="报告年度（默认取表单定义中的）/ reporting year.")
@click.option("--password", envvar="TOOLKIT_PASSWORD", show_envvar=True,
              help="工作表保护密码（其他用户可在 ps 中看到命令行：宜用环境变量或 --password-file）。默认沿用文件夹中 "
                   "manifest.csv 的密码，否则自动生成并写入其中 / protection password.")
@click.option("--password-file", type=click.File("r", encoding="utf-8-sig"),
              help="从文件第一行读取密码 / read the password from the first line of FILE.")
@click.option("--contact", help="联系人和电话，写入每份模板的填表说明 / whom agencies ask, printed in 填表说明.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="并行进程数（默认 CPU 核数）/ worker processes.")
@_previous_option
def template_cmd(schema: str, out_dir: str, roster: str | None, year: int | None, password: str | None,
                 password_file: Any, contact: str | None, jobs: int | None, previous: str | None) -> None:
    """由表单定义 SCHEMA（文件或内置编号）生成锁定的填报模板，每个单位一份，另写 manifest.csv。

    Generate locked Excel templates from SCHEMA (a file or a shipped id), one per agency.
    """
    from .guard import check_template_folder
    from .template import MANIFEST_NAME, template_output_names

    lang = _lang()
    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
    form = api.load_form(schema)
    agencies = api.load_roster(roster)
    last = api.load_previous(previous, [form]) if previous else None
    if last is not None and agencies:
        _say_absent([(a.code, a.name) for a in agencies if last.of(a.code) is None])
    check_template_folder(out_dir, template_output_names(form, agencies, year), MANIFEST_NAME, roster)
    n = len(agencies) if agencies else 1
    with Progress(n, "生成模板" if lang == "zh" else "writing", sys.stderr, lang) as bar:
        batch = api.make_templates(form, out_dir, agencies, year=year, password=password, jobs=jobs,
                                   progress=bar.advance, contact=contact or "", previous=last)
    where = batch.manifest
    say(f"已生成 {len(batch.rows)} 份 {form.title}（{form.id} {form.version}）模板，存放于 {out_dir}"
        f"（清单：{where}{'；自动生成的密码也在其中' if batch.password_generated else ''}）",
        f"wrote {len(batch.rows)} template(s) of {form.id} {form.version} to {out_dir} "
        f"(list in {where}{'; generated password in it' if batch.password_generated else ''})")


# ------------------------------------------------------------------------------------ check

@main.command("check", short_help="审核回收的报表 / check returned workbooks.")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True,
              help="报告格式 / report format.")
@_lang_option
@click.option("--schema-dir", "schema_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="另外的表单定义文件夹（内置表单之外）/ extra folder of form schemas.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="报告写入文件而不显示 / write the report to FILE.")
@_manifest_option
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="并行进程数（默认 CPU 核数）/ worker processes.")
@_period_option
@_previous_option
def check_cmd(paths: tuple[str, ...], fmt: str, lang: str | None, schema_dirs: tuple[str, ...], output: str | None,
              manifest: str | None, jobs: int | None, year: str | None, previous: str | None) -> None:
    """审核回收的报表：识别表单与版本、逐格读取、检查每条规则、指出问题所在的格子。

    Check returned workbooks: recognise, extract, validate, explain. Exit 0 when every workbook is
    valid (warnings allowed), 1 when any is invalid or rejected.
    """
    from .guard import check_outputs

    lang = _set_lang(lang)
    last = api.load_previous(previous, None, schema_dirs) if previous else None
    with api.find_inputs(paths) as found:
        check_outputs({"-o/--output": output}, found.inputs(), manifest=manifest)
        refuse_wrong_suffix(output, fmt, "-o")
        with Progress(len(found.files), "审核" if lang == "zh" else "checking", sys.stderr, lang) as bar:
            results = api.check(found, schema_dirs=schema_dirs, jobs=jobs, progress=bar.advance, period=year,
                                manifest=manifest, previous=last)
    if last is not None:
        _say_absent(last.absent(results))
    text = api.write_report(results, output, fmt, lang)
    if output:
        from .report import summary_line
        click.echo(f"{output}: {summary_line(results, lang)}")
    else:
        click.echo(text, nl=False)
    sys.exit(0 if all(r.status == "valid" for r in results) else 1)


# ------------------------------------------------------------------------------------ 退回 and 催报

def _office_options(f: Any) -> Any:
    f = click.option("--deadline", help="重新报送的截止日期，写入退回说明和催报内容 / deadline to print.")(f)
    f = click.option("--contact", help="办公室联系人和电话，写入退回说明和催报内容 / the office's contact.")(f)
    return f


def _office(contact: str | None, deadline: str | None) -> Any:
    from .annotate import Office
    return Office(contact=contact or "", deadline=deadline or "")


def _annotate_and_say(results: list[Any], out_dir: str, schema_dirs: tuple[str, ...], office: Any, password: str | None,
                      lang: str) -> None:
    from .annotate import LIST_NAME, annotate

    done = annotate(results, out_dir, api.registry_of(None, schema_dirs), office, password, lang)
    copies = sum(1 for a in done if a.kind == "copy")
    notices = sum(1 for a in done if a.kind == "notice")
    say(f"已写出退回工作簿 {copies} 份、退回通知 {notices} 份到 {out_dir}（清单：{Path(out_dir) / LIST_NAME}）",
        f"wrote {copies} annotated workbook(s) and {notices} notice(s) to {out_dir} (list in {Path(out_dir) / LIST_NAME})")


def _remind_and_say(c: Any, output: str, csv_out: str | None, office: Any, message: str | None, lang: str) -> None:
    from .remind import reminders, write_reminders, write_reminders_csv

    rems = reminders(c, lang, office.deadline, office.contact, message)
    period = next((s.result.identity.period for s in c.submissions if s.result.identity and s.result.identity.period), "")
    write_reminders(rems, output, lang, c.form.title, f"{period}{c.form.period_label}" if period and lang == "zh" else period)
    if csv_out:
        write_reminders_csv(rems, csv_out, lang)
    say(f"{output}：{len(rems)} 个单位需要催报", f"{output}: {len(rems)} agencies to chase")


@main.command("annotate", short_help="为有问题的报表写退回工作簿 / 退回 copies.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="退回工作簿和退回清单的存放文件夹 / folder for the annotated copies.")
@_lang_option
@click.option("--password", help="退回工作簿的保护密码（默认自动生成，写入退回清单）/ protection password.")
@click.option("--schema-dir", "schema_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="另外的表单定义文件夹 / extra folder of form schemas.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="并行进程数（默认 CPU 核数）/ worker processes.")
@_office_options
def annotate_cmd(paths: tuple[str, ...], out_dir: str, lang: str | None, password: str | None, schema_dirs: tuple[str, ...],
                 jobs: int | None, contact: str | None, deadline: str | None) -> None:
    """为每份有错误或提示的报表写一份退回工作簿：原模板、原数字、问题格标色加批注，首页为退回说明；
    被拒收的文件写一页退回通知。

    Write, for every return with problems, a workbook the agency can fix and send back (its own
    template with its figures, every problem marked at its cell, a 退回说明 first sheet); a
    rejected file gets a one-page notice instead.
    """
    lang = _set_lang(lang)
    with api.find_inputs(paths) as found, Progress(len(found.files), "审核" if lang == "zh" else "checking", sys.stderr, lang) as bar:
        results = api.check(found, schema_dirs=schema_dirs, jobs=jobs, progress=bar.advance)
    _annotate_and_say(results, out_dir, schema_dirs, _office(contact, deadline), password, lang)


@main.command("remind", short_help="写催报清单 / the reminder list.")
@click.argument("roster", type=click.Path(dir_okay=False, exists=True))
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="催报清单工作簿（.xlsx）/ the reminder list to write.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="另写 CSV / also write CSV.")
@click.option("--message", "message_file", type=click.Path(dir_okay=False, exists=True),
              help="催报内容模板（文本文件，占位符如 {单位名称}、{原因}、{截止}）/ message template file.")
@click.option("--schema-dir", "schema_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="另外的表单定义文件夹 / extra folder of form schemas.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="并行进程数（默认 CPU 核数）/ worker processes.")
@_office_options
def remind_cmd(roster: str, paths: tuple[str, ...], output: str, csv_out: str | None, message_file: str | None,
               schema_dirs: tuple[str, ...], jobs: int | None, contact: str | None, deadline: str | None) -> None:
    """列出未报送、文件被拒收和报表有错误的单位，附联系人、原因和要做的事，写成可打印的催报清单。

    List the agencies of ROSTER that are missing, rejected or have errors among the returns under
    PATHS, with their contacts, the reason and what to do (never sent by the toolkit).
    """
    from .remind import check_message_template

    lang = _lang()
    refuse_wrong_suffix(output, "xlsx", "-o")
    refuse_wrong_suffix(csv_out, "csv", "--csv")
    message = None
    if message_file:
        from .files import read_text_file
        message = check_message_template(read_text_file(message_file), message_file)
    from .guard import check_outputs

    agencies = api.load_roster(roster)
    with api.find_inputs(paths) as found:
        check_outputs({"-o/--output": output, "--csv": csv_out}, found.inputs(), roster=roster)
        with Progress(len(found.files), "读取" if lang == "zh" else "reading", sys.stderr, lang) as bar:
            c = api.merge(found, roster=agencies, schema_dirs=schema_dirs, jobs=jobs, progress=bar.advance)
    _remind_and_say(c, output, csv_out, _office(contact, deadline), message, lang)


# ------------------------------------------------------------------------------------ merge

@main.command("merge", short_help="汇总回收的报表 / merge into a summary.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="要写出的汇总工作簿（.xlsx）/ the summary workbook to write.")
@click.option("--roster", type=click.Path(dir_okay=False),
              help="应报单位名单（CSV 或 XLSX）：列出未报送和不在名单的单位 / expected agencies.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="另写合计与明细 JSON / also write JSON.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="另写明细 CSV（UTF-8 带 BOM）/ also write CSV.")
@click.option("--by-group", is_flag=True, help="另按名单分组各出一套汇总表 / one set of 汇总 sheets per roster group.")
@click.option("--codes", is_flag=True, help="CSV 用指标代码和英文状态作列名（供程序读取）/ machine headings in --csv.")
@click.option("--include-invalid", is_flag=True, help="有错误的报表也计入合计（会标出）/ count invalid returns too.")
@click.option("--schema-dir", "schema_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="另外的表单定义文件夹 / extra folder of form schemas.")
@_manifest_option
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="并行进程数（默认 CPU 核数）/ worker processes.")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False),
              help="另为每份有问题的报表写退回工作簿到此文件夹 / also write 退回 copies here.")
@click.option("--remind", "remind_out", type=click.Path(dir_okay=False),
              help="另写催报清单（.xlsx，需 --roster）/ also write the reminder list.")
@click.option("--office", "office_name", default="",
              help="汇总单位名称，写入汇总表标识（上级汇总时作为其各单位的上级单位）/ who makes this summary.")
@_office_options
@_period_option
@_previous_option
def merge_cmd(paths: tuple[str, ...], output: str, roster: str | None, json_out: str | None, csv_out: str | None,
              by_group: bool, codes: bool, include_invalid: bool, schema_dirs: tuple[str, ...], manifest: str | None, jobs: int | None, annotate_dir: str | None,
              remind_out: str | None, office_name: str, contact: str | None, deadline: str | None, year: str | None,
              previous: str | None) -> None:
    """汇总 PATHS 下回收的报表，写出汇总工作簿：合计、各单位明细、报送情况、问题清单、来源。

    Merge returned workbooks under PATHS into one summary workbook. Every workbook is checked;
    invalid and rejected ones are left out of the totals and listed. A summary workbook written
    by this command is an input too (a city merging its counties' summaries): it is checked and
    stands for the agencies it counted.
    """
    lang = _lang()
    if remind_out and not roster:
        raise click.UsageError("--remind 需要 --roster（催报要知道应报单位）/ --remind needs --roster")
    from .guard import check_outputs, drop_previous_outputs

    outputs = {"-o/--output": output, "--json": json_out, "--csv": csv_out, "--remind": remind_out}
    with api.find_inputs(paths) as found:
        # a summary written into the folder it summarises is not one of the returns next time;
        # an output naming a return, the roster or another output is refused before any work
        found.files = drop_previous_outputs(found.files, outputs, paths)
        check_outputs(outputs, found.inputs(), roster=roster, manifest=manifest)
        for path, kind, option in ((output, "xlsx", "-o"), (json_out, "json", "--json"), (csv_out, "csv", "--csv"),
                                   (remind_out, "xlsx", "--remind")):
            refuse_wrong_suffix(path, kind, option)
        agencies = api.load_roster(roster)
        last = api.load_previous(previous, None, schema_dirs) if previous else None
        with Progress(len(found.files), "读取" if lang == "zh" else "reading", sys.stderr, lang) as bar:
            c = api.merge(found, roster=agencies, include_invalid=include_invalid, schema_dirs=schema_dirs, jobs=jobs,
                          progress=bar.advance, period=year, manifest=manifest, office=office_name, previous=last)
    api.write_summary(c, output, by_group=by_group)
    if json_out:
        api.write_json(c, json_out)
    if csv_out:
        api.write_csv(c, csv_out, lang=lang, codes=codes)
    click.echo(merge_summary_line(c, output, lang))
    if last is not None:
        _say_absent(c.previous_absent)
    office = _office(contact, deadline)
    if annotate_dir:
        # an agency a lower summary carried is that office's to send back, not this one's
        _annotate_and_say([s.result for s in c.submissions if s.result.kind != "part"], annotate_dir, schema_dirs, office, None, lang)
    if remind_out:
        _remind_and_say(c, remind_out, None, office, None, lang)
    if c.failed_rules:
        say(f"提示：合计数不符合 {len(c.failed_rules)} 条审核规则，详见汇总表",
            f"warning: the totals break {len(c.failed_rules)} rule(s); see the summary sheets", err=True)


MERGE_COUNTS = (("valid", "通过", "valid"), ("warnings", "通过（有提示）", "valid with warnings"),
                ("invalid", "有错误", "invalid"), ("rejected", "拒收", "rejected"),
                ("duplicate", "重复报送", "duplicate"), ("unknown", "不在名单", "not on the roster"),
                ("missing", "未报送", "missing"))


def merge_summary_line(c: Any, output: str, lang: str) -> str:
    counts = c.counts()
    if lang == "en":
        parts = [f"{n} {en}" for key, _, en in MERGE_COUNTS if (n := counts[key])]
        period = f"; period {c.period}" if c.period else ""
        return f"{output}: {len(c.used)} of {len(c.submissions)} workbook(s) in the totals ({', '.join(parts)}){period}"
    parts = [f"{zh} {n}" for key, zh, _ in MERGE_COUNTS if (n := counts[key])]
    period = f"{c.period}{c.form.period_label}" if c.period else ""
    return f"{output}：{period}{len(c.submissions)} 份报表中 {len(c.used)} 份计入合计（{'，'.join(parts)}）"
