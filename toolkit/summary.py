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
import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .checks import RuleResult, run_rules
from .consolidation import SUBMISSION_STATUS, Consolidation, _totals
from .files import atomic_path, sweep_dead_temps
from .formulas import a1, area, col_letter, computed_formula, exact_criterion, growth, on_sheet, sumifs
from .identity import PROPERTY_LIMIT, PROPERTY_PREFIX
from .layout import PREVIOUS_COL, SheetLayout, display_width, layout_of
from .schema import Form, ValueSpec
from .sheets import CHECK_HEADING, IDENTITY_SHEET, PASS_MARK
from .styles import Formats
from .xlsx import FastWorkbook

DETAIL_SHEET = "明细"
STATUS_SHEET = "报送情况"
ISSUES_SHEET = "问题清单"
SOURCES_SHEET = "来源"
SUMMARY_PREFIX = "汇总·"
DETAIL_CODES = 2         # row of the indicator codes on the detail sheet (hidden: for machines)
DETAIL_GROUP = 3         # heading row: the row of the form (or section) an indicator belongs to
DETAIL_HEAD = 4          # heading row: the column of the form (or the indicator itself)
DETAIL_FIRST = 5         # first agency row
FIXED_COLUMNS = ("单位代码", "单位名称", "分组", "状态", "计入汇总", "文件", "上级单位")
USED_COL = 4             # column of 计入汇总 (是/否)
GROUP_COL = 2
PARENT_COL = 6           # column of 上级单位


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
                    self.add(r, c, partial(self.ws.write_blank, r, c, "", fmt))

    def flush(self) -> None:
        for _, _, _, fn in sorted(self.ops, key=lambda o: (o[0], o[1], o[2])):
            fn()


def write_summary(c: Consolidation, path: str | Path, by_group: bool = False) -> None:
    """Write the summary workbook to ``path`` atomically (temporary file, then rename).

    ``by_group``: besides the whole total, one set of 汇总 sheets in the form's layout per roster
    group (each total a SUMIFS over that group's rows of 明细).
    """
    with atomic_path(path, suffix=".xlsx") as tmp:
        _write(c, tmp, by_group)


def _detail_columns(c: Consolidation) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return detail_columns(c.form)


def detail_columns(form: Form) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(header fields shown, indicators) as (code, label), in form order: the 明细 columns after
    FIXED_COLUMNS (toolkit.rollup reads a summary back by them)."""
    fields = [(f.code, f.label) for f in form.header if not f.prefill]
    inds = [(code, ind.label) for code, ind in form.indicators.items() if ind.spec.numeric]
    return fields, inds


def summary_sheet_names(form: Form) -> dict[str, str]:
    """The 汇总 sheet of each sheet of the form's layout (legal, distinct sheet names)."""
    taken: set[str] = set()
    return {sl.name: _sheet_name(summary_sheet_name(sl.name), taken) for sl in layout_of(form).sheets}


ROWS_DIR_STEM = "toolkit-summary-"


def _write(c: Consolidation, path: str, by_group: bool = False) -> None:
    # constant-memory mode keeps each sheet's rows in a temporary file until close(); in a folder
    # of their own they are removed even when writing fails midway
    sweep_dead_temps(tempfile.gettempdir(), ROWS_DIR_STEM)
    with tempfile.TemporaryDirectory(prefix=f"{ROWS_DIR_STEM}{os.getpid()}-", ignore_cleanup_errors=True) as rows_dir:
        _write_workbook(c, path, rows_dir, by_group)


def period_text(c: Consolidation) -> str:
    """The period the counted returns report on ("2021年度"): their identities' most common period."""
    seen = Counter(s.result.identity.period for s in c.submissions
                   if s.status != "rejected" and s.result.identity and s.result.identity.period)
    period = c.period or (seen.most_common(1)[0][0] if seen else str(c.form.period_default or ""))
    return f"{period}{c.form.period_label}" if period else ""


def _heading_text(c: Consolidation, what: str) -> str:
    """The line that names a sheet: form title, period and what the sheet is."""
    period = period_text(c)
    return f"{c.form.title}{f'（{period}）' if period else ''}　{what}"


def _print_setup(ws: Any, width: float, heading: str, fit: bool = True, landscape: bool | None = None,
                 repeat_rows: tuple[int, int] | None = None, repeat_cols: tuple[int, int] | None = None,
                 scale: int | None = None, side_margin: float = 0.5) -> None:
    """A4, landscape when the columns are wide, fitted to the page width; title and page numbers on every page."""
    ws.set_paper(9)
    if landscape is None:
        landscape = width > PORTRAIT_WIDTH
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    if fit:
        ws.fit_to_pages(1, 0)
    elif scale:
        ws.set_print_scale(scale)
    ws.set_margins(left=side_margin, right=side_margin, top=0.75, bottom=0.6)
    ws.set_header("&C&9" + heading.replace("&", "&&"), {"margin": 0.3})
    ws.set_footer("&C&9第 &P 页，共 &N 页", {"margin": 0.3})
    if repeat_rows:
        ws.repeat_rows(*repeat_rows)
    if repeat_cols:
        ws.repeat_columns(*repeat_cols)


# Column widths (Excel character units) that fit an A4 page upright at 100 %; wider sheets lie down.
PORTRAIT_WIDTH = 100.0
SIGNATURES = ("单位负责人：", "审核人：", "填表人：", "报出日期：")


def _sheet_name(name: str, taken: set[str]) -> str:
    """A legal, unused sheet name (31 characters, none of []:*?/\\)."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31]
    out, n = clean, 2
    while out in taken:
        suffix = f"({n})"
        out, n = clean[:31 - len(suffix)] + suffix, n + 1
    taken.add(out)
    return out


def _write_workbook(c: Consolidation, path: str, rows_dir: str, by_group: bool = False) -> None:
    form = c.form
    lay = layout_of(form)
    wb = FastWorkbook(path, {"constant_memory": True, "strings_to_numbers": False,
                             "strings_to_formulas": False, "strings_to_urls": False, "tmpdir": rows_dir})
    fm = Formats(wb)
    period = period_text(c)
    wb.set_properties({"title": f"{form.title} 汇总", "subject": f"{form.title}（{period}）汇总 — {form.id} {form.version}",
                       "author": "toolkit"})
    rename = summary_sheet_names(form)
    taken = set(rename.values())
    fields, inds = _detail_columns(c)
    ind_col = {code: len(FIXED_COLUMNS) + len(fields) + i for i, (code, _) in enumerate(inds)}
    n_rows = len(c.submissions)
    last_detail = DETAIL_FIRST + max(n_rows, 1) - 1

    def detail_column(col: int) -> str:
        """A column of the detail's agency rows, as a form sheet names it."""
        return on_sheet(DETAIL_SHEET, area(DETAIL_FIRST, col, last_detail, col))

    used_range, group_range = detail_column(USED_COL), detail_column(GROUP_COL)

    def total_formula(code: str, group: str | None = None) -> str:
        by = [(group_range, exact_criterion(group))] if group is not None else []
        return "=" + sumifs(detail_column(ind_col[code]), (used_range, "是"), *by)

    used = len(c.used)
    expected = len(c.roster) if c.roster is not None else None
    left_out = len(c.submissions) - used
    notes = ([f"名单共 {expected} 个", f"未报送 {len(c.missing)} 个"] if expected is not None else []) \
        + ([f"另有 {left_out} 份报表未计入，见「{STATUS_SHEET}」"] if left_out else [])
    scope = f"汇总 {used} 个单位" + (f"（{'，'.join(notes)}）" if notes else "")
    info = [("填报单位（盖章）", ""), ("报告期", period), ("汇总范围", f"计入汇总 {used} 份，未计入 {left_out} 份"),
            ("汇总时间", dt.datetime.now().strftime("%Y-%m-%d %H:%M")), ("表单版本", f"{form.version}")]
    for sl in lay.sheets:
        ws = wb.add_worksheet(rename[sl.name])
        _write_form_sheet(ws, sl, c, lay, fm, rename, total_formula, c.failed_rules, c.totals,
                          f"{form.title}（汇总）", f"{period}　{scope}" if period else scope, info, _heading_text(c, "汇总"),
                          previous=c.previous_totals)
    if by_group:
        for g in c.groups:
            members = [s for s in c.used if s.group == g]
            totals = _totals(form, [s.result for s in members])
            failed = [r for r in run_rules(form, totals, recompute=False) if r.failed]
            g_rename = {sl.name: _sheet_name(f"{SUMMARY_PREFIX}{g}·{sl.name}", taken) for sl in lay.sheets}
            g_scope = f"{g}：汇总 {len(members)} 个单位"
            g_info = [("填报单位（盖章）", ""), ("报告期", period), ("汇总范围", f"{g}，计入汇总 {len(members)} 份"),
                      ("汇总时间", info[3][1]), ("表单版本", f"{form.version}")]
            for sl in lay.sheets:
                ws = wb.add_worksheet(g_rename[sl.name])
                _write_form_sheet(ws, sl, c, lay, fm, g_rename, partial(total_formula, group=g), failed, totals,
                                  f"{form.title}（{g}汇总）", f"{period}　{g_scope}" if period else g_scope, g_info,
                                  _heading_text(c, f"{g}汇总"))
    _write_detail(wb.add_worksheet(DETAIL_SHEET), c, fm, fields, inds, ind_col)
    _write_status(wb.add_worksheet(STATUS_SHEET), c, fm)
    _write_issues(wb.add_worksheet(ISSUES_SHEET), c, fm)
    _write_sources(wb.add_worksheet(SOURCES_SHEET), c, fm)
    _write_identity(wb, c)
    wb.close()


def _write_identity(wb: Any, c: Consolidation) -> None:
    """The summary's identity, as a template carries its own (a very hidden sheet and document
    properties), so a higher-level merge recognises and checks it (toolkit.rollup)."""
    from .rollup import summary_identity

    ident = summary_identity(c)
    ws = wb.add_worksheet(IDENTITY_SHEET)
    for i, (k, v) in enumerate(ident.items()):
        ws.write_string(i, 0, k)
        ws.write_string(i, 1, v)
        wb.set_custom_property(PROPERTY_PREFIX + k, v[:PROPERTY_LIMIT], "text")
    ws.very_hidden()


def _write_form_sheet(ws: Any, sl: SheetLayout, c: Consolidation, lay: Any, fm: Formats, rename: dict[str, str],
                      total_formula: Callable[[str], str], failed: list[RuleResult], totals: dict[str, float | None],
                      title: str, scope: str, info: list[tuple[str, str]], heading: str,
                      previous: dict[str, float | None] | None = None) -> None:
    form = c.form
    failed_codes: set[str] = {code for r in failed for code in r.instance.reads}
    out = _RowOrdered(ws)
    for col, width in sl.widths.items():
        ws.set_column(col, col, width)
    for row, height in sl.heights.items():
        ws.set_row(row, height)
    title_fmt = {"title": fm.title, "table_title": fm.table_title, "corner": fm.corner, "unit": fm.unit,
                 "note": fm.note, "field": fm.field_label}
    bottom = 0
    for fixed in sl.texts:
        bottom = max(bottom, fixed.merge_to[0] if fixed.merge_to else fixed.row)
        if fixed.role == "field":
            continue  # the header block belongs to one agency; the summary has its own lines there
        fmt = fm.label(fixed.level, False) if fixed.role == "label" else title_fmt.get(fixed.role, fm.heading)
        text = title if fixed.role == "title" else fixed.text
        if fixed.merge_to and fixed.merge_to != (fixed.row, fixed.col):
            out.merge(fixed.row, fixed.col, fixed.merge_to[0], fixed.merge_to[1], text, fmt)
        else:
            out.add(fixed.row, fixed.col, partial(ws.write_string, fixed.row, fixed.col, text, fmt))
    out.merge(sl.period_row, 0, sl.period_row, sl.last_col, scope, fm.period)
    verdict = (f"汇总数审核：{PASS_MARK} 全部通过" if not failed else
               f"汇总数审核：✗ {len(failed)} 项不符，见右侧「{CHECK_HEADING}」列")
    out.merge(sl.status_row, 0, sl.status_row, sl.last_col, verdict, fm.status)
    # header block rows: who reports, for what period, when and from what the summary was made
    field_rows = sorted({r for (r, _, _) in sl.fields.values()})
    for (row, (label, value)) in zip(field_rows, info):
        last = max(1, sl.last_col - 1)
        out.add(row, 0, partial(ws.write_string, row, 0, label, fm.field_label))
        out.merge(row, 1, row, last, value, fm.value(ValueSpec(type="text"), locked=True))
    flagged = fm.wb.add_format({**fm.base, **fm.border, "bg_color": "#FFC7CE", "font_color": "#9C0006", "align": "right"})
    by_anchor: dict[tuple[int, int], list[str]] = {}
    failed_ids = {r.instance.id: r for r in failed}
    for cell, insts in sl.checks.items():
        cell_msgs = [failed_ids[i.id].message() for i in insts if i.id in failed_ids]
        by_anchor[cell] = cell_msgs
    for code, (row, col) in sl.inputs.items():
        ind = form.indicators[code]
        fmt = flagged if code in failed_codes else fm.value(ind.spec, locked=True)
        total = totals.get(code, 0.0)
        cached: float | str = "" if total is None else total   # a ratio over nothing is blank, as in the template
        if ind.computed:
            formula = "=" + computed_formula(lay, code, rename[sl.name], rename)
        elif ind.spec.numeric:
            formula = total_formula(code)
        else:
            out.add(row, col, partial(ws.write_blank, row, col, None, fmt))
            continue
        out.add(row, col, partial(ws.write_formula, row, col, formula, fmt, cached))
    for t in sl.tables:
        _, _, data_top, data_bottom = sl.table_frames[t.id]
        bottom = max(bottom, data_bottom)
        for r_index, r in enumerate(t.rows):
            row = data_top + r_index
            for ci, leaf in enumerate(t.leaves if t.kind == "matrix" else t.leaves[:1]):
                col = 2 if t.kind == "list" else 1 + ci
                leaf_code = t.cell_code(r, leaf)
                if leaf_code is None or leaf_code not in form.indicators:
                    out.add(row, col, partial(ws.write_blank, row, col, None, fm.blocked))
            first = sl.check_first[t.id]
            msgs = by_anchor.get((row, first))
            text = ("；".join(msgs) if msgs else PASS_MARK) if (row, first) in sl.checks else ""
            if first < sl.last_col:
                out.merge(row, first, row, sl.last_col, text, fm.check)
            else:
                out.add(row, first, partial(ws.write_string, row, first, text, fm.check))
    _previous_columns(ws, out, sl, fm, totals, previous)
    # the signatures under the form: one line when the page is wide enough, two otherwise
    width = sum(sl.widths.get(col, 8.43) for col in range(sl.last_col + 1))
    blank = "＿" * 5 + "　　"
    parts = [f"{s}{blank}" if s != "报出日期：" else f"{s}　　年　　月　　日" for s in SIGNATURES]
    lines = ["".join(parts)] if display_width("".join(parts)) <= width else ["".join(parts[:2]), "".join(parts[2:])]
    sign = fm.wb.add_format({**fm.base, "valign": "bottom"})
    for i, line in enumerate(lines):
        row = bottom + 2 + i
        ws.set_row(row, 30)
        out.merge(row, 0, row, sl.last_col, line, sign)
    out.flush()
    _print_setup(ws, width, heading, landscape=sl.landscape,
                 repeat_rows=sl.repeat_rows)
    ws.center_horizontally()
    ws.freeze_panes(*sl.freeze)
    ws.hide_gridlines(2)


PREVIOUS_HEADINGS = ("上年", "增减%")


def _previous_columns(ws: Any, out: _RowOrdered, sl: SheetLayout, fm: Formats, totals: dict[str, float | None],
                      previous: dict[str, float | None] | None) -> None:
    """Last year's totals beside this year's, for every table with one value per row (a list, or a
    matrix of one column): a table whose schema has a 上年数 column shows them there, any other
    gains a 上年 column right of the check column; 增减% follows, a live formula, blank where last
    year's total is blank or zero. Without last year's figures only the 上年数 cells are drawn (blank)."""
    prev_col, pct_col = sl.last_col + 1, sl.last_col + 2
    grey = fm.wb.add_format({**fm.base, **fm.border, "bg_color": "#EDEDED", "align": "right", "num_format": "General"})
    pct = fm.wb.add_format({**fm.base, **fm.border, "align": "right", "num_format": "0.0%"})
    if previous is not None:
        ws.set_column(prev_col, prev_col, 12.0)
        ws.set_column(pct_col, pct_col, 9.0)
    for t in sl.tables:
        own = t.kind == "list" and t.previous_column      # the form's own 上年数 column
        head_top, head_bottom, data_top, _ = sl.table_frames[t.id]
        if own:
            for r_index, r in enumerate(t.rows):
                row = data_top + r_index
                if r.code not in sl.previous:
                    out.add(row, PREVIOUS_COL, partial(ws.write_blank, row, PREVIOUS_COL, None, fm.blocked))
                elif previous is None or previous.get(r.code) is None:
                    out.add(row, PREVIOUS_COL, partial(ws.write_blank, row, PREVIOUS_COL, None, grey))
                else:
                    out.add(row, PREVIOUS_COL, partial(ws.write_number, row, PREVIOUS_COL, previous[r.code], grey))
        if previous is None or (t.kind != "list" and len(t.leaves) != 1):
            continue
        headings = [(pct_col, PREVIOUS_HEADINGS[1])] if own else list(zip((prev_col, pct_col), PREVIOUS_HEADINGS))
        for j, text in headings:
            if head_bottom > head_top:
                out.merge(head_top, j, head_bottom, j, text, fm.heading)
            else:
                out.add(head_top, j, partial(ws.write_string, head_top, j, text, fm.heading))
        for r_index, r in enumerate(t.rows):
            code = t.cell_code(r, t.leaves[0])
            if code is None or code not in sl.inputs:
                continue
            row = data_top + r_index
            here = a1(row, sl.inputs[code][1], True)
            last = previous.get(code)
            prev_ref = a1(row, PREVIOUS_COL if own else prev_col, True)
            cur = totals.get(code)
            cached: Any = "" if last is None or last == 0 or cur is None else (cur - last) / last
            if not own:
                if last is None:
                    out.add(row, prev_col, partial(ws.write_blank, row, prev_col, None, grey))
                else:
                    out.add(row, prev_col, partial(ws.write_number, row, prev_col, last, grey))
            formula = "=" + growth(here, prev_ref)
            out.add(row, pct_col, partial(ws.write_formula, row, pct_col, formula, pct, cached))


def _detail_headings(c: Consolidation, inds: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(upper, lower) heading of each indicator column: the form's row (or section) and its column (or row)."""
    form = c.form
    out = []
    for code, label in inds:
        ind = form.indicators[code]
        t = form.table(ind.table)
        row = t.rows[ind.row]
        if t.kind == "matrix":
            upper = t.title if len(t.rows) == 1 and len(t.leaves) > 3 and t.title else row.label
            lower = label.split(" / ", 1)[1] if " / " in label else t.leaves[ind.column].label
        else:
            upper = next((r.label for r in reversed(t.rows[:ind.row + 1]) if r.level == 0), t.title or row.label)
            lower = row.label if upper != row.label else "合计"
        out.append((upper, lower))
    return out


def _lines(text: str, width: float) -> int:
    """How many lines ``text`` wraps to in a column ``width`` characters wide (hard line breaks count)."""
    return sum(max(1, math.ceil(display_width(part) / max(width - 1, 1))) for part in text.split("\n"))


def _write_detail(ws: Any, c: Consolidation, fm: Formats, fields: list[tuple[str, str]], inds: list[tuple[str, str]],
                  ind_col: dict[str, int]) -> None:
    form = c.form
    ncols = len(FIXED_COLUMNS) + len(fields) + len(inds)
    border = {**fm.base, **fm.border}
    head_fmt = fm.wb.add_format({**border, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#DCE6F1", "font_size": 9})
    upper_fmt = fm.wb.add_format({**border, "bold": True, "align": "left", "text_wrap": True, "bg_color": "#DCE6F1", "font_size": 9})
    code_fmt = fm.wb.add_format({**fm.base, "font_size": 8, "font_color": "#808080"})
    txt = fm.wb.add_format({**border, "font_size": 9})
    num = fm.wb.add_format({**border, "num_format": "General", "font_size": 9})
    bold = fm.wb.add_format({**border, "bold": True, "font_size": 9})
    bold_num = fm.wb.add_format({**border, "bold": True, "font_size": 9, "num_format": "General"})
    names = [s.name for s in c.submissions] or [""]
    files = [Path(s.result.file).name for s in c.submissions] or [""]
    widths = [7.0, min(max(max(display_width(n) for n in names) + 1, 10.0), 24.0), 9.0, 9.0, 5.0,
              min(max(max(display_width(f) for f in files) / 2 + 1, 12.0), 20.0), 10.0]
    for code, label in fields:
        spec = next(f.spec for f in form.header if f.code == code)
        widths.append(11.0 if spec.type == "date" else 13.0 if "电话" in label else 9.0)
    headings = _detail_headings(c, inds)
    for (code, _), _heading in zip(inds, headings):
        t = form.table(form.indicators[code].table)
        widths.append(7.0 if t.kind == "matrix" else 9.0)
    for j, w in enumerate(widths):
        ws.set_column(j, j, w)
    # row 0 title, row 1 how to read it, then the codes (hidden, for machines) and two heading rows
    # columns A:B repeat on every printed page, so only a short name sits there; the long lines start at C
    ws.write_string(0, 0, DETAIL_SHEET, fm.table_title)
    ws.write_string(0, 2, _heading_text(c, "各单位明细"), fm.table_title)
    ws.write_string(1, 2, "“计入汇总”为“是”的行相加即汇总表的数字；表末为各分组小计和合计。", fm.note_line)
    ws.set_row(DETAIL_CODES, None, None, {"hidden": True})
    lower_lines = max([_lines(h, widths[j]) for j, h in enumerate(FIXED_COLUMNS)]
                      + [_lines(lower, widths[ind_col[code]]) for (code, _), (_, lower) in zip(inds, headings)])
    out = _RowOrdered(ws)
    for j, h in enumerate(FIXED_COLUMNS):
        out.add(DETAIL_CODES, j, partial(ws.write_string, DETAIL_CODES, j, FIXED_CODES[j], code_fmt))
        out.merge(DETAIL_GROUP, j, DETAIL_HEAD, j, h, head_fmt)
    for i, (code, label) in enumerate(fields):
        j = len(FIXED_COLUMNS) + i
        out.add(DETAIL_CODES, j, partial(ws.write_string, DETAIL_CODES, j, code, code_fmt))
        out.merge(DETAIL_GROUP, j, DETAIL_HEAD, j, label, head_fmt)
    # the upper heading spans the columns that share it
    spans: list[tuple[str, int, int]] = []
    for (code, _), (upper, _) in zip(inds, headings):
        j = ind_col[code]
        if spans and spans[-1][0] == upper and spans[-1][2] == j - 1:
            spans[-1] = (upper, spans[-1][1], j)
        else:
            spans.append((upper, j, j))
    upper_lines = 1
    for upper, j0, j1 in spans:
        upper_lines = max(upper_lines, _lines(upper, sum(widths[j0:j1 + 1])))
        if j1 > j0:
            out.merge(DETAIL_GROUP, j0, DETAIL_GROUP, j1, upper, upper_fmt)
        else:
            out.add(DETAIL_GROUP, j0, partial(ws.write_string, DETAIL_GROUP, j0, upper, upper_fmt))
    for (code, _), (_, lower) in zip(inds, headings):
        j = ind_col[code]
        out.add(DETAIL_CODES, j, partial(ws.write_string, DETAIL_CODES, j, code, code_fmt))
        out.add(DETAIL_HEAD, j, partial(ws.write_string, DETAIL_HEAD, j, lower, head_fmt))
    ws.set_row(DETAIL_GROUP, 12.0 * min(upper_lines, 6) + 3)
    ws.set_row(DETAIL_HEAD, 12.0 * min(lower_lines, 12) + 3)
    out.flush()
    for k, s in enumerate(c.submissions):
        row = DETAIL_FIRST + k
        r = s.result
        ws.write_string(row, 0, s.code, txt)
        ws.write_string(row, 1, s.name, txt)
        ws.write_string(row, 2, s.group, txt)
        ws.write_string(row, 3, s.label, txt)
        ws.write_string(row, USED_COL, "是" if s.used else "否", txt)
        ws.write_string(row, 5, Path(r.file).name, txt)
        ws.write_string(row, 6, s.parent, txt)
        if r.status == "rejected":
            continue
        for i, (code, _) in enumerate(fields):
            v = r.values.get(code)
            if v is not None:
                ws.write_string(row, len(FIXED_COLUMNS) + i, str(v), txt)
        for code, _ in inds:
            v = r.values.get(code)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(row, ind_col[code], v, num)
    last = DETAIL_FIRST + max(len(c.submissions), 1) - 1
    ws.autofilter(DETAIL_HEAD, 0, last, ncols - 1)
    ws.freeze_panes(DETAIL_FIRST, 2)
    # per-group subtotals and the grand total, below the detail rows
    row = last + 2
    used_rng = area(DETAIL_FIRST, USED_COL, last, USED_COL)
    group_rng = area(DETAIL_FIRST, GROUP_COL, last, GROUP_COL)
    parent_rng = area(DETAIL_FIRST, PARENT_COL, last, PARENT_COL)
    # one subtotal row per group, then one per parent unit: (label, the detail column it sums by, key)
    subtotals = [(f"小计：{g}", group_rng, "group", g) for g in c.groups] + \
                [(f"小计（上级单位）：{p}", parent_rng, "parent", p) for p in c.parents]
    for label, by_rng, attr, key in subtotals:
        ws.write_string(row, 1, label, bold)
        for code, _ in inds:
            col = col_letter(ind_col[code])
            total = sum(s.result.values.get(code) or 0 for s in c.used if getattr(s, attr) == key)
            ws.write_formula(row, ind_col[code], "=" + sumifs(f"{col}${DETAIL_FIRST + 1}:{col}${last + 1}", (by_rng, exact_criterion(key)), (used_rng, "是")),
                             bold_num, total)
        row += 1
    ws.write_string(row, 1, TOTAL_LABEL, bold)
    for code, _ in inds:
        col = col_letter(ind_col[code])
        ws.write_formula(row, ind_col[code], "=" + sumifs(f"{col}${DETAIL_FIRST + 1}:{col}${last + 1}", (used_rng, "是")), bold_num, c.totals.get(code, 0.0))
    # printed: upright when the agencies fit one page down, the names and headings on every page
    _print_setup(ws, sum(widths), _heading_text(c, "各单位明细"), fit=False, landscape=row > DETAIL_PORTRAIT_ROWS,
                 repeat_rows=(DETAIL_CODES, DETAIL_HEAD), repeat_cols=(0, 1), scale=DETAIL_SCALE, side_margin=0.3)
    ws.print_across()


DETAIL_SCALE = 70          # per cent: 9-point figures print at about 6 points
DETAIL_PORTRAIT_ROWS = 75  # more rows than this: landscape (more columns a page, fewer rows)
TOTAL_LABEL = "合计（计入汇总）"   # the grand-total row under the detail (last year's totals are read from it)
FIXED_CODES = ("agency_code", "agency_name", "agency_group", "status", "used", "file", "agency_parent")


def _write_status(ws: Any, c: Consolidation, fm: Formats) -> None:
    widths = (9, 22, 9, 12, 24, 6, 6, 44)
    for j, w in enumerate(widths):
        ws.set_column(j, j, w)
    wrap = fm.wb.add_format({**fm.base, **fm.border, "text_wrap": True, "font_size": 10})
    cell = fm.wb.add_format({**fm.base, **fm.border, "font_size": 10})
    ws.write_string(0, 0, _heading_text(c, "报送情况"), fm.table_title)
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
    by_parent = c.counts_by_parent()
    if by_parent:       # completeness per county (上级单位), then the agencies one by one
        for j, h in enumerate(("上级单位", "名单单位数", "计入汇总", "未报送")):
            ws.write_string(row, j, h, fm.heading)
        row += 1
        for p, n in by_parent.items():
            ws.write_string(row, 0, p, cell)
            for j, key in enumerate(("expected", "used", "missing"), start=1):
                ws.write_number(row, j, n[key], cell)
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
            ws.write_string(row, j, v, wrap if j == 4 else cell)
        ws.write_number(row, 5, len(r.errors) + (1 if r.status == "rejected" else 0), cell)
        ws.write_number(row, 6, len(r.warnings), cell)
        ws.write_string(row, 7, s.note, wrap)
        row += 1
    for a in c.missing:
        for j, v in enumerate((a.code, a.name, a.group, SUBMISSION_STATUS["missing"], "", "", "", "")):
            ws.write_string(row, j, v, cell)
        row += 1
    ws.autofilter(first, 0, max(row - 1, first), len(head) - 1)
    ws.freeze_panes(first + 1, 0)
    _print_setup(ws, sum(widths), _heading_text(c, "报送情况"), repeat_rows=(first, first))


def _list_sheet(ws: Any, fm: Formats, title: str, columns: tuple[tuple[str, float], ...]) -> tuple[str, ...]:
    """A title on row 1 and headed, sized columns on row 2: the frame of every list sheet."""
    for j, (_h, w) in enumerate(columns):
        ws.set_column(j, j, w)
    ws.write_string(0, 0, title, fm.table_title)
    for j, (h, _) in enumerate(columns):
        ws.write_string(1, j, h, fm.heading)
    return tuple(h for h, _ in columns)


def _contact_fields(c: Consolidation) -> list[str]:
    """The header fields a person typed to say who to call: text fields not filled from the roster."""
    return [f.code for f in c.form.header if not f.prefill and f.spec.type == "text"][:2]


def _write_issues(ws: Any, c: Consolidation, fm: Formats) -> None:
    contacts = _contact_fields(c)
    labels = {f.code: f.label for f in c.form.header}
    contact_cols = tuple((labels[code], 13.0 if "电话" in labels[code] else 8.0) for code in contacts)
    columns = (("单位代码", 8.0), ("单位名称", 20.0), *contact_cols, ("位置", 22.0), ("级别", 5.0), ("说明", 54.0),
               ("文件", 20.0), ("规则", 14.0))
    head = _list_sheet(ws, fm, _heading_text(c, "问题清单"), columns)
    ws.set_column(len(columns) - 1, len(columns) - 1, 14.0, None, {"hidden": True})   # the rule's id: for machines
    ws.set_row(1, 18)
    wrap = fm.wb.add_format({**fm.base, **fm.border, "text_wrap": True, "font_size": 10, "valign": "top"})
    row = 2
    for s in c.submissions:
        r = s.result
        name = Path(r.file).name
        who = tuple("" if r.status == "rejected" or r.values.get(code) is None else str(r.values.get(code)) for code in contacts)
        if r.status == "rejected":
            for j, v in enumerate((s.code, s.name, *who, "", "拒收", r.reason("zh"), name, "")):
                ws.write_string(row, j, v, wrap)
            row += 1
        for i in r.issues:
            for j, v in enumerate((s.code, s.name, *who, i.cell or "", "错误" if i.severity == "error" else "提示",
                                   i.message("zh"), name, i.rule or "")):
                ws.write_string(row, j, v, wrap)
            row += 1
    ws.autofilter(1, 0, max(row - 1, 1), len(head) - 1)
    ws.freeze_panes(2, 0)
    _print_setup(ws, sum(w for _, w in columns[:-1]), _heading_text(c, "问题清单"), repeat_rows=(1, 1))


def _origin(r: Any) -> tuple[str, str, str]:
    """(original file, its sha256, the summaries between it and this file as "sha256  file" lines)."""
    from .rollup import CHAIN_SEP, chain_of

    chain = chain_of(r)
    (o_file, o_sha), via = chain[0], chain[1:-1]
    return o_file, o_sha, "\n".join(f"{h}{CHAIN_SEP}{f}" for f, h in via)


def _write_sources(ws: Any, c: Consolidation, fm: Formats) -> None:
    columns = (("文件", 36), ("sha256", 66), ("大小（字节）", 12), ("修改时间", 20), ("表单", 26), ("版本", 8), ("模板编号", 34),
               ("单位代码", 12), ("状态", 16), ("计入汇总", 8), ("原始文件", 36), ("原始 sha256", 66), ("经由", 66))
    head = _list_sheet(ws, fm, _heading_text(c, "数据来源（每个数字都来自下列文件）"), columns)
    cell = fm.wb.add_format({**fm.base, **fm.border, "font_size": 9})
    row = 2
    for s in c.submissions:
        r = s.result
        ident = r.identity
        mtime = dt.datetime.fromtimestamp(r.mtime).strftime("%Y-%m-%d %H:%M:%S") if r.mtime else ""
        vals = (r.file, r.sha256, None, mtime, ident.schema_id if ident else "", ident.schema_version if ident else "",
                ident.template_id if ident else "", s.code, s.label, "是" if s.used else "否", *_origin(r))
        for j, v in enumerate(vals):
            if j == 2:
                ws.write_number(row, j, r.size, cell)
            else:
                ws.write_string(row, j, v or "", cell)
        row += 1
    ws.autofilter(1, 0, max(row - 1, 1), len(head) - 1)
    ws.freeze_panes(2, 0)
    _print_setup(ws, sum(w for _, w in columns), _heading_text(c, "数据来源"), repeat_rows=(1, 1))
