"""退回: a return with problems goes back to its agency as a workbook it can fix and send again.

The 退回 copy is the agency's own template made anew — same form, version, agency and period, a
new template id recorded as a revision of the original — with the agency's figures written back
exactly as they were found (text, formulas and all), so ``toolkit check`` on the copy, unchanged,
finds the same figures and the same problems. Each problem is marked at its cell (a fill colour and
a comment with the message and both sides' numbers), and a first sheet 退回说明 lists them in
Chinese with links to the cells, the office's contact and the deadline. A file that was rejected
(not a template, damaged, hostile) cannot be rebuilt: it gets a one-page notice instead.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter

from .files import neutralise, safe_stem, unique_names, write_atomic, write_text_atomic
from .formulas import a1, on_sheet
from .issues import Issue
from .layout import layout_of
from .registry import Registry
from .roster import Agency
from .schema import Form
from .validate import Result

NOTICE_SUFFIX = "_退回通知.xlsx"
COPY_SUFFIX = "_退回.xlsx"
LIST_NAME = "退回清单.csv"

_WORDS = {
    "zh": {"error": "错误", "warning": "提示", "explained": "提示（已说明）", "whole": "整份报表"},
    "en": {"error": "error", "warning": "warning", "explained": "warning (explained)", "whole": "whole return"},
}


@dataclass(frozen=True)
class Office:
    """Who the agency should call and by when: printed on every 退回 copy and notice."""
    contact: str = ""
    deadline: str = ""


@dataclass(frozen=True)
class Mark:
    """One problem at one cell of a fill sheet."""
    sheet: str
    row: int
    col: int
    severity: str
    text: str


@dataclass
class Annotation:
    """What :func:`toolkit.template.build_template` adds to make a template a 退回 copy: the cover
    sheet and the marks. Built here, applied there (``apply``), so the template writer stays one."""
    result: Result
    form: Form
    office: Office
    lang: str = "zh"
    marks: list[Mark] = field(default_factory=list)

    def apply(self, wb: Any, cover: Any, sheets: Mapping[str, Any], fm: Any, password: str) -> None:
        words = _WORDS[self.lang]
        error_fmt = wb.add_format({"bg_color": "#FF9999", "pattern": 1})
        warning_fmt = wb.add_format({"bg_color": "#FFD966", "pattern": 1})
        by_cell: dict[tuple[str, int, int], list[Mark]] = {}
        for m in self.marks:
            by_cell.setdefault((m.sheet, m.row, m.col), []).append(m)
        for (sheet, row, col), marks in by_cell.items():
            ws = sheets.get(sheet)
            if ws is None:
                continue
            worst = "error" if any(m.severity == "error" for m in marks) else "warning"
            text = "\n".join(f"【{words[m.severity]}】{m.text}" for m in marks)
            ws.write_comment(row, col, text[:2000], {"author": "审核", "x_scale": 2.4, "y_scale": 1.6 + 0.4 * len(marks)})
            # a format condition that always holds: the mark survives typing, and the cell keeps its
            # own number format, protection and validation
            ws.conditional_format(row, col, row, col, {"type": "formula", "criteria": "=TRUE",
                                                       "format": error_fmt if worst == "error" else warning_fmt})
        _write_cover(cover, wb, fm, self, password)
        cover.activate()


def _cell_of(form: Form, issue: Issue) -> tuple[str, int, int] | None:
    """(sheet, row, col) of the cell an issue points at, from the layout (never from parsing text)."""
    lay = layout_of(form)
    if issue.code and issue.code in lay.cells:
        c = lay.cells[issue.code]
        return c.sheet, c.row, c.col
    for sl in lay.sheets:
        if issue.code in sl.fields:
            row, col, _ = sl.fields[issue.code]
            return sl.name, row, col
    return None


def _issue_line(issue: Issue, lang: str) -> str:
    text = issue.message(lang)
    if issue.explained:
        text += f"（说明：{issue.explanation}）" if lang == "zh" else f" (explanation: {issue.explanation})"
    return text


def annotation_for(result: Result, form: Form, office: Office = Office(), lang: str = "zh") -> Annotation:
    ann = Annotation(result=result, form=form, office=office, lang=lang)
    for issue in result.issues:
        where = _cell_of(form, issue)
        if where is not None:
            ann.marks.append(Mark(*where, severity=issue.severity, text=_issue_line(issue, lang)))
    return ann


def _values_as_found(result: Result, form: Form) -> dict[str, Any]:
    """The figures to write back: what the cells held where that differs from the typed value."""
    out: dict[str, Any] = {}
    dates = {f.code for f in form.header if f.spec.type == "date"}
    for code, v in result.values.items():
        if code in form.indicators and form.indicators[code].computed:
            continue
        if code in dates and isinstance(v, str):
            try:
                v = dt.date.fromisoformat(v)
            except ValueError:
                pass
        out[code] = v
    for code, found in result.found.items():
        out[code] = found
    return out


def build_copy(result: Result, form: Form, office: Office = Office(), password: str = "", lang: str = "zh") -> bytes:
    """The bytes of the 退回 copy of one checked (not rejected) return."""
    from .template import TemplateRequest, build_template

    ident = result.identity
    assert ident is not None and result.status != "rejected"
    agency = Agency(code=ident.agency_code, name=ident.agency_name, group=ident.agency_group) if ident.agency_code else None
    year = int(ident.period) if ident.period.isdigit() else None
    explanations = {i.rule: i.explanation for i in result.issues if i.rule and i.explained}
    req = TemplateRequest(agency=agency, year=year, password=password, values=_values_as_found(result, form),
                          explanations=explanations, revision_of=ident.template_id,
                          annotation=annotation_for(result, form, office, lang))
    return build_template(form, req)


# ---------------------------------------------------------------------------- the cover sheet

def _write_cover(ws: Any, wb: Any, fm: Any, ann: Annotation, password: str) -> None:
    lang = ann.lang
    words = _WORDS[lang]
    r = ann.result
    ident = r.identity
    form = ann.form
    base = {"font_name": "宋体", "font_size": 11, "valign": "top", "text_wrap": True}
    border = {"border": 1, "border_color": "#808080"}
    title = wb.add_format({**base, "bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})
    text = wb.add_format(base)
    head = wb.add_format({**base, **border, "bold": True, "bg_color": "#DCE6F1", "align": "center"})
    cell = wb.add_format({**base, **border})
    link = wb.add_format({**base, **border, "font_color": "#0563C1", "underline": 1})
    sev = {"error": wb.add_format({**base, **border, "bg_color": "#FF9999", "align": "center"}),
           "warning": wb.add_format({**base, **border, "bg_color": "#FFD966", "align": "center"}),
           "explained": wb.add_format({**base, **border, "align": "center"})}
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 10)
    ws.set_column(2, 2, 16)
    ws.set_column(3, 3, 62)
    who = f"{ident.agency_name}（{ident.agency_code}）" if ident and ident.agency_code else (ident.agency_name if ident else "")
    period = f"{ident.period}{form.period_label}" if ident and ident.period else ""
    errors, warnings = len(r.errors), len(r.warnings)
    explained = sum(1 for i in r.warnings if i.explained)
    if lang == "en":
        lines = [f"Return of {who} for {period}, file {Path(r.file).name} (sha256 {r.sha256[:12]}…).",
                 f"The check found {errors} error(s) and {warnings} warning(s){f', {explained} explained' if explained else ''}.",
                 "Errors must be corrected. Check each warning; where the figure is right, explain why in the "
                 "审核说明 column of the 审核 sheet. The figures you sent are filled in; correct them in this "
                 "workbook and send it back. Cells with a problem are coloured and carry a comment."]
        heads = ("No.", "Level", "Cell", "Problem")
        title_text = f"{form.title} — returned for correction"
    else:
        lines = [f"{who}报送的{period}《{form.title}》（文件 {Path(r.file).name}，sha256 {r.sha256[:12]}…）经审核，"
                 f"发现错误 {errors} 个、提示 {warnings} 个{f'（其中 {explained} 个已说明）' if explained else ''}。",
                 "错误必须改正；提示请逐项核实，数字确属实际情况的，请在「审核」表的“审核说明”栏写明原因。",
                 "本工作簿已填入贵单位报送的数字，有问题的格子已标色并附批注；请直接在本工作簿中修改后重新报送。"]
        heads = ("序号", "级别", "位置", "问题")
        title_text = f"{form.title} — 退回说明"
    if ann.office.deadline:
        lines.append(("Please send it back by " if lang == "en" else "请于 ") + ann.office.deadline + ("." if lang == "en" else " 前重新报送。"))
    if ann.office.contact:
        lines.append(("Questions: " if lang == "en" else "如有疑问请联系：") + ann.office.contact)
    ws.merge_range(0, 0, 0, 3, title_text, title)
    ws.set_row(0, 30)
    row = 2
    for line in lines:
        ws.merge_range(row, 0, row, 3, line, text)
        ws.set_row(row, _height(line, 94))
        row += 1
    row += 1
    for j, h in enumerate(heads):
        ws.write_string(row, j, h, head)
    heading_row = row
    row += 1
    issues = sorted(r.issues, key=lambda i: (i.severity != "error", i.explained))
    for n, issue in enumerate(issues, 1):
        ws.write_number(row, 0, n, cell)
        key = "explained" if issue.explained else issue.severity
        ws.write_string(row, 1, words[key], sev[key])
        where = _cell_of(form, issue)
        if where is not None:
            sheet, rr, cc = where
            shown = f"{sheet}!{a1(rr, cc)}"
            ws.write_url(row, 2, "internal:" + on_sheet(sheet, a1(rr, cc)), link, shown)
        else:
            ws.write_string(row, 2, words["whole"], cell)
        line = _issue_line(issue, lang)
        ws.write_string(row, 3, line, cell)
        ws.set_row(row, _height(line, 60))
        row += 1
    ws.set_paper(9)
    ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.repeat_rows(heading_row)
    ws.hide_gridlines(2)
    ws.set_footer("&C第 &P 页，共 &N 页" if lang == "zh" else "&CPage &P of &N")
    ws.protect(password, {"select_locked_cells": True, "select_unlocked_cells": True})


def _height(text: str, width_chars: float) -> float:
    """Row height in points for ``text`` wrapped in a column ``width_chars`` wide (CJK counts two)."""
    from .layout import display_width
    lines = sum(max(1, -(-int(display_width(part)) // int(width_chars))) for part in text.split("\n"))
    return 15.0 * lines + 3


# ---------------------------------------------------------------------------- notices

def build_notice(result: Result, office: Office = Office(), lang: str = "zh") -> bytes:
    """A one-page workbook telling the sender why its file could not be read at all."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    ws = wb.add_worksheet("退回通知" if lang == "zh" else "Notice")
    base = {"font_name": "宋体", "font_size": 12, "valign": "top", "text_wrap": True}
    title = wb.add_format({**base, "bold": True, "font_size": 16, "align": "center"})
    text = wb.add_format(base)
    ws.set_column(0, 0, 90)
    name = Path(result.file).name
    if lang == "en":
        lines = [f"File: {name}", f"sha256: {result.sha256 or '-'}", f"Why it could not be accepted: {result.reason('en')}",
                 "Please fill in the template the office sent you (do not copy the table into another workbook, "
                 "do not insert or delete rows or sheets), save it as .xlsx and send it again."]
        heading = "Return not accepted"
    else:
        lines = [f"文件：{name}", f"sha256：{result.sha256 or '-'}", f"未能接收的原因：{result.reason('zh')}",
                 "请使用下发的模板填写（不要把表格复制到其他工作簿，不要增删行、列或工作表），保存为 .xlsx 后重新报送。"]
        heading = "报表退回通知"
    if office.deadline:
        lines.append(("Please send it by " if lang == "en" else "请于 ") + office.deadline + ("." if lang == "en" else " 前重新报送。"))
    if office.contact:
        lines.append(("Questions: " if lang == "en" else "如有疑问请联系：") + office.contact)
    ws.write_string(0, 0, heading, title)
    ws.set_row(0, 30)
    for i, line in enumerate(lines, 2):
        ws.write_string(i, 0, neutralise(line), text)
        ws.set_row(i, _height(line, 88))
    ws.set_paper(9)
    ws.fit_to_pages(1, 1)
    ws.hide_gridlines(2)
    wb.close()
    return buf.getvalue()


# ---------------------------------------------------------------------------- many returns

@dataclass
class Annotated:
    """What :func:`annotate` wrote for one return (``kind`` is "copy", "notice" or "" for none)."""
    result: Result
    kind: str
    path: Path | None
    template_id: str = ""


def annotate(results: Sequence[Result], out_dir: str | os.PathLike[str], registry: Registry | None = None,
             office: Office = Office(), password: str | None = None, lang: str = "zh",
             include_warnings: bool = True) -> list[Annotated]:
    """Write a 退回 copy for every return with errors (and, by default, unexplained warnings), a
    notice for every rejected file, and 退回清单.csv listing them; valid clean returns get nothing.
    """
    from .template import generate_password

    registry = registry or Registry()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pw = password if password is not None else generate_password()
    todo: list[tuple[Result, str]] = []
    for r in results:
        if r.status == "rejected":
            todo.append((r, "notice"))
        elif r.errors or (include_warnings and any(not i.explained for i in r.warnings)):
            todo.append((r, "copy"))
    stems = [_stem(r) for r, _ in todo]
    names = unique_names(stems, "")
    done: list[Annotated] = []
    for (r, kind), name in zip(todo, names):
        if kind == "notice":
            path = out / (name + NOTICE_SUFFIX)
            write_atomic(path, build_notice(r, office, lang))
            done.append(Annotated(r, kind, path))
            continue
        ident = r.identity
        assert ident is not None
        form = registry.get(ident.schema_id, ident.schema_version)
        data = build_copy(r, form, office, pw, lang)
        path = out / (name + COPY_SUFFIX)
        write_atomic(path, data)
        done.append(Annotated(r, kind, path, template_id=_template_id(data)))
    done += [Annotated(r, "", None) for r in results if not any(a.result is r for a in done)]
    _write_list(out / LIST_NAME, done, pw if password is None else "", lang)
    return done


def _stem(r: Result) -> str:
    ident = r.identity
    if ident and ident.agency_code:
        return safe_stem(f"{ident.agency_code}_{ident.agency_name}")
    return safe_stem(Path(r.file).stem)


def _template_id(data: bytes) -> str:
    """The template id written into a copy (read back from its own document properties)."""
    import re
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("docProps/custom.xml").decode("utf-8")
    m = re.search(r'name="toolkit\.template_id"[^>]*>\s*<vt:lpwstr>([0-9a-f]+)<', xml)
    return m.group(1) if m else ""


def _write_list(path: Path, done: Sequence[Annotated], generated_password: str, lang: str) -> None:
    import csv
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if lang == "en":
        w.writerow(["file", "agency_code", "agency_name", "status", "errors", "warnings", "written", "template_id", "password"])
    else:
        w.writerow(["文件", "单位代码", "单位名称", "状态", "错误数", "提示数", "退回文件", "新模板标识", "密码"])
    status_zh = {"valid": "通过", "invalid": "有错误", "rejected": "拒收"}
    for a in done:
        r = a.result
        ident = r.identity
        w.writerow([neutralise(x) for x in (
            Path(r.file).name, ident.agency_code if ident else "", ident.agency_name if ident else "",
            r.status if lang == "en" else status_zh.get(r.status, r.status), str(len(r.errors)), str(len(r.warnings)),
            a.path.name if a.path else "", a.template_id, generated_password if a.kind == "copy" else "")])
    write_text_atomic(path, "\ufeff" + buf.getvalue())
