"""The summary workbook: consolidated form, detail, submissions, problems and sources.

The consolidated sheets use the template's own layout, so the summary prints like the form the
agencies filled in. Every total is a SUMIFS over the detail sheet (with its cached value written),
so anyone can audit a number in Excel: filter the detail sheet and the total follows.

The workbook is written in xlsxwriter's constant-memory mode (rows stream to disk as they are
written), so ten thousand agencies cost the detail rows and no more; cells are therefore emitted in
row order, which :class:`_RowOrdered` guarantees for the sheets laid out by coordinates.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


from .checks import RuleResult
from .layout import (CHECK_HEADING, PASS_MARK, SheetLayout, col_letter, layout_of,
                     quote_sheet)
from .merge import SUBMISSION_STATUS, Consolidation
from .schema import ValueSpec
from .files import atomic_path, sweep_dead_temps
from .styles import Formats
from .xlsx import FastWorkbook

DETAIL_SHEET = "明细"
STATUS_SHEET = "报送情况"
ISSUES_SHEET = "问题清单"
SOURCES_SHEET = "来源"
SUMMARY_PREFIX = "汇总·"
DETAIL_HEAD = 2          # heading row of the detail sheet
DETAIL_FIRST = 3         # first agency row
FIXED_COLUMNS = ("单位代码", "单位名称", "分组", "状态", "计入汇总", "文件")
USED_COL = 4             # column of 计入汇总 (是/否)
GROUP_COL = 2


def summary_sheet_name(name: str) -> str:
    return (SUMMARY_PREFIX + name)[:31]


class _RowOrdered:
    """Collects cell writes for one sheet and replays them in row order (constant-memory mode)."""

    def __init__(self, ws: Any):
        self.ws = ws
        self.ops: list[tuple[int, int, int, Callable[[], None]]] = []
        self.n = 0

    def add(self, row: int, col: int, fn: Callable[[], None]) -> None:
        self.ops.append((row, col, self.n, fn))
        self.n += 1

    def merge(self, r0: int, c0: int, r1: int, c1: int, text: str, fmt: Any) -> None:
        """A merged range, decomposed into per-cell writes so each lands in its own row's turn.

        xlsxwriter's merge_range writes all the range's cells at once, which constant-memory mode
        loses for rows already flushed; registering the range and writing its cells in order is
        what merge_range itself does, just spread over the rows.
        """
        self.ws.merge.append([r0, c0, r1, c1])
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) == (r0, c0):
                    self.add(r, c, lambda: self.ws.write_string(r0, c0, text, fmt))
                else:
                    self.add(r, c, lambda r=r, c=c: self.ws.write_blank(r, c, "", fmt))

    def flush(self) -> None:
        for _, _, _, fn in sorted(self.ops, key=lambda o: (o[0], o[1], o[2])):
            fn()


def write_summary(c: Consolidation, path: str | Path) -> None:
    """Write the summary workbook to ``path`` atomically (temporary file, then rename)."""
    with atomic_path(path, suffix=".xlsx") as tmp:
        _write(c, tmp)


def _detail_columns(c: Consolidation) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(header fields shown, indicators) as (code, label), in form order."""
    fields = [(f.code, f.label) for f in c.form.header if not f.prefill]
    inds = [(code, ind.label) for code, ind in c.form.indicators.items() if ind.spec.numeric]
    return fields, inds


ROWS_DIR_STEM = "toolkit-summary-"


def _write(c: Consolidation, path: str) -> None:
    # constant-memory mode keeps each sheet's rows in a temporary file until close(); in a folder
    # of their own they are removed even when writing fails midway
    sweep_dead_temps(tempfile.gettempdir(), ROWS_DIR_STEM)
    with tempfile.TemporaryDirectory(prefix=f"{ROWS_DIR_STEM}{os.getpid()}-", ignore_cleanup_errors=True) as rows_dir:
        _write_workbook(c, path, rows_dir)


def _write_workbook(c: Consolidation, path: str, rows_dir: str) -> None:
    form = c.form
    lay = layout_of(form)
    wb = FastWorkbook(path, {"constant_memory": True, "strings_to_numbers": False,
                             "strings_to_formulas": False, "strings_to_urls": False, "tmpdir": rows_dir})
    fm = Formats(wb)
    wb.set_properties({"title": f"{form.title} 汇总", "subject": f"{form.id} {form.version}", "author": "toolkit"})
    rename = {sl.name: summary_sheet_name(sl.name) for sl in lay.sheets}
    fields, inds = _detail_columns(c)
    ind_col = {code: len(FIXED_COLUMNS) + len(fields) + i for i, (code, _) in enumerate(inds)}
    n_rows = len(c.submissions)
    last_detail = DETAIL_FIRST + max(n_rows, 1) - 1
    used_range = f"{quote_sheet(DETAIL_SHEET)}!${col_letter(USED_COL)}${DETAIL_FIRST + 1}:${col_letter(USED_COL)}${last_detail + 1}"

    def total_formula(code: str) -> str:
        col = col_letter(ind_col[code])
        return f'=SUMIFS({quote_sheet(DETAIL_SHEET)}!${col}${DETAIL_FIRST + 1}:${col}${last_detail + 1},{used_range},"是")'

    failed = c.failed_rules
    failed_codes: set[str] = {code for r in failed for code in r.instance.reads}
    for sl in lay.sheets:
        ws = wb.add_worksheet(rename[sl.name])
        _write_form_sheet(ws, sl, c, lay, fm, rename, total_formula, failed, failed_codes)
    _write_detail(wb.add_worksheet(DETAIL_SHEET), c, fm, fields, inds, ind_col)
    _write_status(wb.add_worksheet(STATUS_SHEET), c, fm)
    _write_issues(wb.add_worksheet(ISSUES_SHEET), c, fm)
    _write_sources(wb.add_worksheet(SOURCES_SHEET), c, fm)
    wb.close()


def _write_form_sheet(ws: Any, sl: SheetLayout, c: Consolidation, lay: Any, fm: Formats, rename: dict[str, str],
                      total_formula: Callable[[str], str], failed: list[RuleResult], failed_codes: set[str]) -> None:
    form = c.form
    out = _RowOrdered(ws)
    for col, width in sl.widths.items():
        ws.set_column(col, col, width)
    for row, height in sl.heights.items():
        ws.set_row(row, height)
    title_fmt = {"title": fm.title, "table_title": fm.table_title, "corner": fm.corner, "unit": fm.unit,
                 "note": fm.note, "field": fm.field_label}
    for t in sl.texts:
        if t.role == "field":
            continue  # the header block belongs to one agency; the summary has its own lines there
        fmt = fm.label(t.level, False) if t.role == "label" else title_fmt.get(t.role, fm.heading)
        text = f"{form.title}（汇总）" if t.role == "title" else t.text
        if t.merge_to and t.merge_to != (t.row, t.col):
            out.merge(t.row, t.col, t.merge_to[0], t.merge_to[1], text, fmt)
        else:
            out.add(t.row, t.col, lambda t=t, text=text, fmt=fmt: ws.write_string(t.row, t.col, text, fmt))
    used = len(c.used)
    expected = len(c.roster) if c.roster is not None else None
    left_out = len(c.submissions) - used
    notes = ([f"名单共 {expected} 个", f"未报送 {len(c.missing)} 个"] if expected is not None else []) \
        + ([f"另有 {left_out} 份报表未计入，见「{STATUS_SHEET}」"] if left_out else [])
    scope = f"汇总 {used} 个单位" + (f"（{'，'.join(notes)}）" if notes else "")
    out.merge(sl.period_row, 0, sl.period_row, sl.last_col, scope, fm.period)
    verdict = (f"汇总数审核：{PASS_MARK} 全部通过" if not failed else
               f"汇总数审核：✗ {len(failed)} 项不符，见右侧「{CHECK_HEADING}」列")
    out.merge(sl.status_row, 0, sl.status_row, sl.last_col, verdict, fm.status)
    # header block rows: say when and from what the summary was made
    info = [("汇总时间", dt.datetime.now().strftime("%Y-%m-%d %H:%M")), ("表单", f"{form.id} {form.version}"),
            ("计入汇总", f"{used} 份"), ("未计入", f"{len(c.submissions) - used} 份")]
    field_rows = sorted({r for (r, _, _) in sl.fields.values()})
    for (row, (label, value)) in zip(field_rows, info):
        last = max(1, sl.last_col - 1)
        out.add(row, 0, lambda row=row, label=label: ws.write_string(row, 0, label, fm.field_label))
        out.merge(row, 1, row, last, value, fm.value(ValueSpec(type="text"), locked=True))
    flagged = fm.wb.add_format({**fm.base, **fm.border, "bg_color": "#FFC7CE", "font_color": "#9C0006", "align": "right"})
    by_anchor: dict[tuple[int, int], list[str]] = {}
    failed_ids = {r.instance.id: r for r in failed}
    for cell, insts in sl.checks.items():
        msgs = [failed_ids[i.id].message() for i in insts if i.id in failed_ids]
        by_anchor[cell] = msgs
    for code, (row, col) in sl.inputs.items():
        ind = form.indicators[code]
        fmt = flagged if code in failed_codes else fm.value(ind.spec, locked=True)
        value = c.totals.get(code, 0.0)
        value = "" if value is None else value   # a ratio over nothing is blank, as in the template
        if ind.computed:
            formula = "=" + lay.computed_formula(code, rename[sl.name], rename)
        elif ind.spec.numeric:
            formula = total_formula(code)
        else:
            out.add(row, col, lambda row=row, col=col, fmt=fmt: ws.write_blank(row, col, None, fmt))
            continue
        out.add(row, col, lambda row=row, col=col, formula=formula, fmt=fmt, value=value: ws.write_formula(row, col, formula, fmt, value))
    for t in sl.tables:
        _, _, data_top, _ = sl.table_frames[t.id]
        for r_index, r in enumerate(t.rows):
            row = data_top + r_index
            for ci, leaf in enumerate(t.leaves if t.kind == "matrix" else t.leaves[:1]):
                col = 2 if t.kind == "list" else 1 + ci
                code = t.cell_code(r, leaf)
                if code is None or code not in form.indicators:
                    out.add(row, col, lambda row=row, col=col: ws.write_blank(row, col, None, fm.blocked))
            first = sl.check_first[t.id]
            msgs = by_anchor.get((row, first))
            text = ("；".join(msgs) if msgs else PASS_MARK) if (row, first) in sl.checks else ""
            if first < sl.last_col:
                out.merge(row, first, row, sl.last_col, text, fm.check)
            else:
                out.add(row, first, lambda row=row, first=first, text=text: ws.write_string(row, first, text, fm.check))
    out.flush()
    ws.set_paper(9)
    if sl.landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    if sl.repeat_rows:
        ws.repeat_rows(*sl.repeat_rows)
    ws.freeze_panes(*sl.freeze)
    ws.hide_gridlines(2)


def _write_detail(ws: Any, c: Consolidation, fm: Formats, fields: list[tuple[str, str]], inds: list[tuple[str, str]],
                  ind_col: dict[str, int]) -> None:
    form = c.form
    ncols = len(FIXED_COLUMNS) + len(fields) + len(inds)
    ws.write_string(0, 0, f"{form.title} — 各单位明细（“计入汇总”为“是”的行合计即汇总表数字）", fm.table_title)
    ws.set_row(DETAIL_HEAD, 48)
    ws.set_column(0, 0, 10)
    ws.set_column(1, 1, 24)
    ws.set_column(2, 3, 12)
    ws.set_column(4, 4, 8)
    ws.set_column(5, 5, 28)
    ws.set_column(6, ncols - 1, 12)
    for j, h in enumerate(FIXED_COLUMNS):
        ws.write_string(DETAIL_HEAD, j, h, fm.heading)
    for i, (code, label) in enumerate(fields):
        ws.write_string(DETAIL_HEAD, len(FIXED_COLUMNS) + i, label, fm.heading)
    for code, label in inds:
        ws.write_string(DETAIL_HEAD, ind_col[code], f"{code}\n{label}", fm.heading)
    num = fm.wb.add_format({**fm.base, "num_format": "General"})
    for k, s in enumerate(c.submissions):
        row = DETAIL_FIRST + k
        r = s.result
        ws.write_string(row, 0, s.code)
        ws.write_string(row, 1, s.name)
        ws.write_string(row, 2, s.group)
        ws.write_string(row, 3, s.label)
        ws.write_string(row, USED_COL, "是" if s.used else "否")
        ws.write_string(row, 5, Path(r.file).name)
        if r.status == "rejected":
            continue
        for i, (code, _) in enumerate(fields):
            v = r.values.get(code)
            if v is not None:
                ws.write_string(row, len(FIXED_COLUMNS) + i, str(v))
        for code, _ in inds:
            v = r.values.get(code)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(row, ind_col[code], v, num)
    last = DETAIL_FIRST + max(len(c.submissions), 1) - 1
    ws.autofilter(DETAIL_HEAD, 0, last, ncols - 1)
    ws.freeze_panes(DETAIL_FIRST, 2)
    # per-group subtotals and the grand total, below the detail rows
    row = last + 2
    used_rng = f"${col_letter(USED_COL)}${DETAIL_FIRST + 1}:${col_letter(USED_COL)}${last + 1}"
    group_rng = f"${col_letter(GROUP_COL)}${DETAIL_FIRST + 1}:${col_letter(GROUP_COL)}${last + 1}"
    groups = c.groups
    bold = fm.bold
    for g in groups:
        ws.write_string(row, 1, f"小计：{g}", bold)
        for code, _ in inds:
            col = col_letter(ind_col[code])
            total = sum(s.result.values.get(code) or 0 for s in c.used if s.group == g)
            ws.write_formula(row, ind_col[code], f'=SUMIFS({col}${DETAIL_FIRST + 1}:{col}${last + 1},{group_rng},"{_q(_criterion(g))}",{used_rng},"是")', bold, total)
        row += 1
    ws.write_string(row, 1, "合计（计入汇总）", bold)
    for code, _ in inds:
        col = col_letter(ind_col[code])
        ws.write_formula(row, ind_col[code], f'=SUMIFS({col}${DETAIL_FIRST + 1}:{col}${last + 1},{used_rng},"是")', bold, c.totals.get(code, 0.0))


def _q(text: str) -> str:
    return text.replace('"', '""')


def _criterion(text: str) -> str:
    """A SUMIFS criterion matching exactly ``text``: never read as an operator (<5, =x) or a wildcard (部门*)."""
    return "=" + text.replace("~", "~~").replace("*", "~*").replace("?", "~?")


def _write_status(ws: Any, c: Consolidation, fm: Formats) -> None:
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 26)
    ws.set_column(2, 3, 14)
    ws.set_column(4, 4, 36)
    ws.set_column(5, 6, 8)
    ws.set_column(7, 7, 60)
    ws.write_string(0, 0, "报送情况", fm.table_title)
    counts = c.counts()
    row = 1
    expected = len(c.roster) if c.roster is not None else None
    ws.write_string(row, 0, "名单单位数" if expected is not None else "收到文件数", fm.field_label)
    ws.write_number(row, 1, expected if expected is not None else len(c.submissions))
    row += 1
    for key, label in SUBMISSION_STATUS.items():
        ws.write_string(row, 0, label, fm.field_label)
        ws.write_number(row, 1, counts[key])
        row += 1
    row += 1
    head = ("单位代码", "单位名称", "分组", "状态", "文件", "错误数", "提示数", "说明")
    for j, h in enumerate(head):
        ws.write_string(row, j, h, fm.heading)
    first = row
    row += 1
    for s in c.submissions:
        r = s.result
        vals = (s.code, s.name, s.group, s.label, Path(r.file).name)
        for j, v in enumerate(vals):
            ws.write_string(row, j, v)
        ws.write_number(row, 5, len(r.errors) + (1 if r.status == "rejected" else 0))
        ws.write_number(row, 6, len(r.warnings))
        ws.write_string(row, 7, s.note)
        row += 1
    for a in c.missing:
        for j, v in enumerate((a.code, a.name, a.group, SUBMISSION_STATUS["missing"], "")):
            ws.write_string(row, j, v)
        row += 1
    ws.autofilter(first, 0, max(row - 1, first), len(head) - 1)
    ws.freeze_panes(first + 1, 0)


def _list_sheet(ws: Any, fm: Formats, title: str, columns: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    """A title on row 1 and headed, sized columns on row 2: the frame of every list sheet."""
    for j, (h, w) in enumerate(columns):
        ws.set_column(j, j, w)
    ws.write_string(0, 0, title, fm.table_title)
    for j, (h, _) in enumerate(columns):
        ws.write_string(1, j, h, fm.heading)
    return tuple(h for h, _ in columns)


def _write_issues(ws: Any, c: Consolidation, fm: Formats) -> None:
    head = _list_sheet(ws, fm, "问题清单", (("单位代码", 12), ("单位名称", 24), ("文件", 30), ("位置", 26), ("级别", 8),
                                        ("说明", 80), ("规则", 18)))
    row = 2
    for s in c.submissions:
        r = s.result
        name = Path(r.file).name
        if r.status == "rejected":
            for j, v in enumerate((s.code, s.name, name, "", "拒收", r.reason("zh"), "")):
                ws.write_string(row, j, v)
            row += 1
        for i in r.issues:
            for j, v in enumerate((s.code, s.name, name, i.cell or "", "错误" if i.severity == "error" else "提示", i.message("zh"), i.rule or "")):
                ws.write_string(row, j, v)
            row += 1
    ws.autofilter(1, 0, max(row - 1, 1), len(head) - 1)
    ws.freeze_panes(2, 0)


def _write_sources(ws: Any, c: Consolidation, fm: Formats) -> None:
    head = _list_sheet(ws, fm, "数据来源（每个数字都来自下列文件）", (
        ("文件", 36), ("sha256", 66), ("大小（字节）", 12), ("修改时间", 20), ("表单", 26), ("版本", 8), ("模板编号", 34),
        ("单位代码", 12), ("状态", 16), ("计入汇总", 8)))
    row = 2
    for s in c.submissions:
        r = s.result
        ident = r.identity
        mtime = dt.datetime.fromtimestamp(r.mtime).strftime("%Y-%m-%d %H:%M:%S") if r.mtime else ""
        vals = (r.file, r.sha256, None, mtime, ident.schema_id if ident else "", ident.schema_version if ident else "",
                ident.template_id if ident else "", s.code, s.label, "是" if s.used else "否")
        for j, v in enumerate(vals):
            if j == 2:
                ws.write_number(row, j, r.size)
            else:
                ws.write_string(row, j, v or "")
        row += 1
    ws.autofilter(1, 0, max(row - 1, 1), len(head) - 1)
    ws.freeze_panes(2, 0)
