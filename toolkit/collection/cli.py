"""``toolkit collect …``: a thin click group over :mod:`toolkit.collection`.

Every command opens the store named by DB (a SQLite file path, ``sqlite:///…`` or
``postgresql://…``), calls one library function and renders its result; a
:class:`CollectionError` becomes one line and exit 1.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from .errors import CollectionError

_LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
                     help="消息语言 zh|en（默认同 toolkit --lang）/ language of messages.")
_COLLECTION = click.option("--collection", "collection", default=None,
                           help="Which collection (id or form/period[/office]) when the store holds several.")
_SCHEMA_DIR = click.option("--schema-dir", "schema_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
                           help="Extra folder of form schemas (besides the shipped ones).")


def _one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A CollectionError (or a database that cannot be reached) is one line, exit 1 — never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sqlalchemy as sa

        from ..cli import _lang
        if not kwargs.get("lang"):
            kwargs["lang"] = _lang()     # the global toolkit --lang, TOOLKIT_LANG or the locale
        lang = kwargs["lang"]
        try:
            return fn(*args, **kwargs)
        except CollectionError as e:
            click.echo(("error: " if lang == "en" else "错误：") + e.message(lang), err=True)
            sys.exit(1)
        except sa.exc.SQLAlchemyError as e:
            text = str(getattr(e, "orig", None) or e).strip().splitlines()
            msg = text[0] if text else type(e).__name__
            click.echo((f"error: database: {msg}" if lang == "en" else f"错误：数据库：{msg}"), err=True)
            sys.exit(1)
    return wrapper


@click.group("collect", short_help="收集库：每份报表、每个版本 / the collection store.")
def collect() -> None:
    """收集库：记住每份报表和每个版本（SQLite 文件或 PostgreSQL）。

    A collection that remembers every return and version: SQLite file or PostgreSQL.
    """


@collect.command("init")
@click.argument("db")
@click.option("--form", "form", required=True, help="Form: a shipped id or a schema file.")
@click.option("--year", type=click.IntRange(1900, 2999), help="Reporting period (default: the form's).")
@click.option("--roster", required=True, type=click.Path(dir_okay=False, exists=True), help="Expected agencies (CSV or XLSX).")
@click.option("--office", default="", help="The collecting office, when one store serves several.")
@click.option("--deadline", type=click.DateTime(["%Y-%m-%d"]), help="报送截止日期 (YYYY-MM-DD); later arrivals are 迟报, absent ones 逾期.")
@click.option("--templates", "templates_dir", type=click.Path(file_okay=False), help="Also issue one template per agency into DIR, recording each template id.")
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def init_cmd(db: str, form: str, year: int | None, roster: str, office: str, deadline: dt.datetime | None,
             templates_dir: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """Create a collection in DB (the store is created when it does not exist)."""
    from ..roster import RosterError
    from . import init_collection

    try:
        coll = init_collection(db, form, year, roster, office=office, deadline=deadline.date() if deadline else None,
                               templates_dir=templates_dir, schema_dirs=schema_dirs)
    except RosterError as e:
        for p in e.problems:
            click.echo(f"error: {roster}: {p}", err=True)
        sys.exit(1)
    if lang == "en":
        click.echo(f"{db}: created collection {coll.key} (id {coll.id})" + (f"; templates in {templates_dir}" if templates_dir else ""))
    else:
        click.echo(f"{db}：已建立收集 {coll.key}（编号 {coll.id}）" + (f"；模板已写入 {templates_dir}" if templates_dir else ""))


@collect.command("receive")
@click.argument("db")
@click.argument("paths", nargs=-1, required=True)
@click.option("--sender", default="", help="Who sent the files (e-mail address, person), recorded with each version.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Worker processes (default: the machine's cores).")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def receive_cmd(db: str, paths: tuple[str, ...], sender: str, jobs: int | None, collection: str | None,
                schema_dirs: tuple[str, ...], lang: str) -> None:
    """Check the workbooks under PATHS and store every one, byte for byte (rejected ones too).

    Exit 0 when every file is in the store (whatever its verdict), 1 when one could not be stored.
    """
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        receipts = store.receive(list(paths), collection=collection, sender=sender, jobs=jobs,
                                 progress=lambda r: click.echo(r.message(lang)))
    stored = sum(r.outcome == "stored" for r in receipts)
    again = sum(r.outcome == "already" for r in receipts)
    failed = sum(r.outcome == "error" for r in receipts)
    if lang == "en":
        click.echo(f"{len(receipts)} file(s): {stored} stored, {again} received before, {failed} not stored")
    else:
        click.echo(f"共 {len(receipts)} 个文件：新保存 {stored}，此前已接收 {again}，未能保存 {failed}")
    sys.exit(1 if failed else 0)


@collect.command("status")
@click.argument("db")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of the screen.")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def status_cmd(db: str, fmt: str, output: str | None, collection: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """Per agency: 未报送 / 逾期 / 已报送有误 / 已退回 / 已通过, versions and last arrival."""
    from ..files import write_text_atomic
    from .outputs import status_csv, status_json, status_text
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        rep = store.status(collection)
    text = {"text": status_text, "json": status_json, "csv": status_csv}[fmt](rep, lang)
    if output:
        write_text_atomic(output, text)
    else:
        click.echo(text, nl=False)


@collect.command("history")
@click.argument("db")
@click.argument("agency")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def history_cmd(db: str, agency: str, fmt: str, collection: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """Every version AGENCY sent: hash, arrival, verdict, and the values that changed."""
    from .outputs import history_json, history_text
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        versions = store.history(agency, collection)
    click.echo(history_text(agency, versions, lang) if fmt == "text" else history_json(agency, versions), nl=False)


@collect.command("pin")
@click.argument("db")
@click.argument("agency")
@click.argument("version", required=False, type=click.IntRange(1))
@click.option("--clear", is_flag=True, help="Forget the pin: the latest valid version counts again.")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def pin_cmd(db: str, agency: str, version: int | None, clear: bool, collection: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """Make VERSION (a number from `history`) the one that counts for AGENCY."""
    from .store import Store

    if (version is None) != clear:
        raise click.UsageError("give either VERSION or --clear")
    with Store(db, schema_dirs=schema_dirs) as store:
        store.pin(agency, None if clear else version, collection)
    if clear:
        click.echo(f"{agency}: pin cleared" if lang == "en" else f"{agency}：已取消指定，按规则采用最新的有效版本")
    else:
        click.echo(f"{agency}: version #{version} counts" if lang == "en" else f"{agency}：已指定采用版本 #{version}")


@collect.command("sendback")
@click.argument("db")
@click.argument("agency")
@click.option("--reason", default="", help="Why (recorded and shown in status).")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def sendback_cmd(db: str, agency: str, reason: str, collection: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """Record that AGENCY's return was sent back (退回) for correction."""
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        store.send_back(agency, reason, collection)
    click.echo(f"{agency}: sent back" if lang == "en" else f"{agency}：已记录退回")


@collect.command("summary")
@click.argument("db")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The summary workbook to write (.xlsx).")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def summary_cmd(db: str, output: str, collection: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """The same summary workbook as `toolkit merge`, from the versions that count."""
    from .outputs import summary
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        c = summary(store, output, collection)
    if lang == "en":
        click.echo(f"{output}: {len(c.used)} agency return(s) in the totals, {len(c.missing)} missing")
    else:
        click.echo(f"{output}：{len(c.used)} 份计入汇总，未报送 {len(c.missing)} 个单位")


@collect.command("export")
@click.argument("db")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for values.json, values.csv and files/.")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def export_cmd(db: str, out_dir: str, collection: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """JSON and CSV of the current values, and the counted files with a manifest."""
    from .outputs import export
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        paths = export(store, out_dir, collection)
    click.echo(f"{out_dir}: " + ", ".join(str(p) for p in paths.values()))


@collect.command("links")
@click.argument("db")
@click.option("--base-url", required=True, help="Where the server is reached, e.g. https://tongji.example.gov.cn")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the links to a CSV file instead of the screen.")
@click.option("--agency", "agencies", multiple=True, help="Only this agency (repeatable); its older link is revoked.")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def links_cmd(db: str, base_url: str, output: str | None, agencies: tuple[str, ...], collection: str | None,
              schema_dirs: tuple[str, ...], lang: str) -> None:
    """A personal upload link per agency (older links of the same agencies stop working).

    Only a hash of each link is kept in the store: keep the CSV; running again makes new links.
    """
    import csv
    import io

    from ..files import neutralise, write_text_atomic
    from .access import issue_links
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        links = issue_links(store, collection, list(agencies) or None)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["code", "name", "group", "url"])
    for x in links:
        w.writerow([neutralise(x.agency_code), neutralise(x.agency_name), neutralise(x.agency_group), x.url(base_url)])
    if output:
        write_text_atomic(output, "\ufeff" + buf.getvalue())
        click.echo(f"{output}: {len(links)} link(s)" if lang == "en" else f"{output}：{len(links)} 个单位的报送链接")
    else:
        click.echo(buf.getvalue(), nl=False)


@collect.command("revoke")
@click.argument("db")
@click.argument("agency")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def revoke_cmd(db: str, agency: str, collection: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """Make AGENCY's upload link stop working."""
    from .access import revoke
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        n = revoke(store, agency, collection)
    click.echo(f"{agency}: {n} link(s) revoked" if lang == "en" else f"{agency}：已收回 {n} 个链接")


@collect.command("passwd")
@click.argument("db")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True), help="Read the password from FILE (first line) instead of asking.")
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def passwd_cmd(db: str, password_file: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """Set the office's password for the web dashboard (stored as an argon2 hash; logs every session out).

    Asked for twice at the terminal, or read from TOOLKIT_OFFICE_PASSWORD or --password-file.
    """
    import os
    from pathlib import Path

    from .access import set_password
    from .store import Store

    if password_file:
        password = Path(password_file).read_text(encoding="utf-8").splitlines()[0] if Path(password_file).read_text(encoding="utf-8") else ""
    elif os.environ.get("TOOLKIT_OFFICE_PASSWORD"):
        password = os.environ["TOOLKIT_OFFICE_PASSWORD"]
    else:
        password = click.prompt("Password" if lang == "en" else "密码", hide_input=True, confirmation_prompt=True)
    with Store(db, schema_dirs=schema_dirs) as store:
        set_password(store, password)
    click.echo(f"{db}: office password set" if lang == "en" else f"{db}：已设置统计部门登录密码")


@collect.command("annotate")
@click.argument("db")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="退回工作簿的存放文件夹 / folder for the annotated copies.")
@click.option("--deadline", help="重新报送的截止日期 / deadline to print.")
@click.option("--contact", help="办公室联系人和电话 / the office's contact.")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def annotate_cmd(db: str, out_dir: str, deadline: str | None, contact: str | None, collection: str | None,
                 schema_dirs: tuple[str, ...], lang: str) -> None:
    """为最新一版有问题的单位写退回工作簿（被拒收的写退回通知）/ 退回 copies of the latest versions with problems."""
    from ..annotate import Office
    from .outputs import annotate
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        done = annotate(store, out_dir, collection, Office(contact or "", deadline or ""), lang)
    copies = sum(1 for a in done if a.kind == "copy")
    notices = sum(1 for a in done if a.kind == "notice")
    click.echo(f"{out_dir}: {copies} annotated workbook(s), {notices} notice(s)" if lang == "en"
               else f"{out_dir}：退回工作簿 {copies} 份，退回通知 {notices} 份")


@collect.command("remind")
@click.argument("db")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="催报清单（.xlsx）/ the reminder list.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), help="另写 CSV / also write CSV.")
@click.option("--roster", type=click.Path(dir_okay=False, exists=True),
              help="带联系人、联系电话、电子邮箱列的名单 / a roster with contact columns.")
@click.option("--deadline", help="截止日期 / deadline to print.")
@click.option("--contact", help="办公室联系人和电话 / the office's contact.")
@_COLLECTION
@_SCHEMA_DIR
@_LANG
@_one_line_errors
def remind_cmd(db: str, output: str, csv_out: str | None, roster: str | None, deadline: str | None, contact: str | None,
               collection: str | None, schema_dirs: tuple[str, ...], lang: str) -> None:
    """写催报清单：未报送、被拒收和有错误的单位 / the reminder list of the collection."""
    from ..annotate import Office
    from .outputs import remind
    from .store import Store

    with Store(db, schema_dirs=schema_dirs) as store:
        rems = remind(store, output, collection, Office(contact or "", deadline or ""), lang, roster, csv_out)
    click.echo(f"{output}: {len(rems)} agencies to chase" if lang == "en" else f"{output}：{len(rems)} 个单位需要催报")
