"""Locked Excel templates from a form: one workbook per agency, built with xlsxwriter.

Everything that does not depend on the agency — formulas, cached results, validations, the
conditional formats of the live checks — is worked out once per form (:class:`TemplatePlan`)
and reused for every agency, which is what makes a thousand templates a matter of seconds.
Coordinates all come from :mod:`toolkit.layout`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import secrets
import string
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlsxwriter.worksheet import Worksheet

from . import __version__, patterns
from . import rules as rx
from .checks import RuleResult, run_rules
from .files import neutralise, safe_stem, unique_names, write_atomic, write_text_atomic
from .formulas import a1, area, computed_formula, live_check, on_sheet
from .identity import IDENTITY_FORMAT, PROPERTY_LIMIT, PROPERTY_PREFIX, Identity
from .layout import (
    CHECK_FONT_SCALE,
    CHECKS_FIRST_ROW,
    EXPLANATION_COL,
    LAYOUT_VERSION,
    PREVIOUS_COL,
    Layout,
    SheetLayout,
    display_width,
    layout_of,
)
from .messages import general_message, message_template, render_message
from .roster import Agency
from .schema import Form, RuleInstance, ValueSpec
from .sheets import (
    CHECK_HEADING,
    CHECKS_COLUMNS,
    CHECKS_SHEET,
    EXPLANATION_HEADING,
    EXPLANATION_MAX,
    IDENTITY_SHEET,
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    NOT_APPLICABLE_MARK,
    PASS_MARK,
    PREV_SHEET,
    RETURN_SHEET,
)
from .styles import Formats
from .validate import FoundCell
from .xlsx import ProtectedWorkbook

INLINE_LIST_LIMIT = 255
SEVERITY_ZH = {"error": "错误", "warning": "提示"}


def generate_password(length: int = 10) -> str:
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "0OIl1")
    return "".join(secrets.choice(alphabet) for _ in range(length))


# ---------------------------------------------------------------------------- the per-form plan

@dataclass
class _SheetPlan:
    formulas: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)            # computed cell → (formula, code)
    checks: dict[tuple[int, int], tuple[str, list[RuleInstance]]] = field(default_factory=dict)  # check column
    # conditional formats turning the cells of a failing rule red (error) or yellow (warning):
    # one per rule instance, over all the cells it reads on this sheet (severity, cells, criteria)
    highlights: list[tuple[str, list[tuple[int, int]], str]] = field(default_factory=list)
    # data validations, one per group of cells that accept the same values: (cells, options)
    validations: list[tuple[list[tuple[int, int]], dict[str, Any]]] = field(default_factory=list)
    # prefilled header fields, validated only where a template has no value to lock in them
    open_fields: dict[str, tuple[list[tuple[int, int]], dict[str, Any]]] = field(default_factory=dict)
    status: str = ""
    # data rows whose check cell must hold a failing rule's message: row → height (points)
    check_heights: dict[int, float] = field(default_factory=dict)
    status_height: float = 15.0


# Points a line of 11-point 宋体 takes in a wrapped cell (LibreOffice and Excel), and what a row adds.
LINE_HEIGHT = 14.5
ROW_PADDING = 3.0
WIDE_NUMBER = 1234567.0     # the widest figure a message is sized for


def text_lines(text: str, width: float) -> int:
    """Lines ``text`` wraps to in a cell ``width`` characters wide (CJK characters count two)."""
    usable = max(width - 1.5, 2.0)
    return sum(max(1, math.ceil(display_width(part) / usable)) for part in text.split("\n"))


def row_height(lines: int) -> float:
    return round(LINE_HEIGHT * max(lines, 1) + ROW_PADDING, 1)


@dataclass
class Cached:
    """The results every formula of a template shows for one set of values.

    Written as the formulas' cached results, so a program that reads without recalculating
    (python-calamine, a preview pane) sees what Excel would show, not stale zeros.
    """
    computed: dict[str, float | None]     # None: a guarded value that is undefined (shown blank)
    results: dict[str, RuleResult]

    @classmethod
    def of(cls, form: Form, values: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> Cached:
        numbers = {c: float(v) for c, v in values.items()
                   if c in form.indicators and isinstance(v, (int, float)) and not isinstance(v, bool)}
        computed = form.compute(numbers)
        prev = {rx.prev_key(c): float(v) for c, v in (previous or {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
        results = {r.instance.id: r for r in run_rules(form, {**numbers, **computed, **prev}, recompute=False)}
        return cls(computed=computed, results=results)

    def result_text(self, inst: RuleInstance) -> str:
        r = self.results[inst.id]
        return PASS_MARK if r.status == "pass" else NOT_APPLICABLE_MARK if r.status == "n/a" else r.message()

    def check_text(self, insts: list[RuleInstance]) -> str:
        return check_cell_text([self.results[i.id].message() for i in insts if self.results[i.id].failed])

    @property
    def status(self) -> str:
        return self.status_text(())

    def status_text(self, missing: Sequence[str]) -> str:
        """The status line: the Python twin of the formula :func:`status_formula` writes."""
        errors = sum(1 for r in self.results.values() if r.failed and r.instance.severity == "error")
        warnings = sum(1 for r in self.results.values() if r.failed and r.instance.severity == "warning")
        return status_line(errors, warnings, missing)


MORE_FAILED = "等 {n} 项不符，详见「" + CHECKS_SHEET + "」表"


def check_cell_text(messages: Sequence[str]) -> str:
    """The 审核提示 cell beside a row: ✓, the one failing rule's message, or the first and how many more
    (the cell stays one message tall; the 审核 sheet lists them all)."""
    if not messages:
        return PASS_MARK
    joined = "".join(f"{m}；" for m in messages)
    if len(messages) == 1:
        return joined
    return joined[:joined.index("；") + 1] + MORE_FAILED.format(n=len(messages))


def status_line(errors: int, warnings: int, missing: Sequence[str]) -> str:
    """审核结果：✓ 全部通过 only when no rule fails and every required field is filled in."""
    if errors == 0 and not missing:
        return f"审核结果：{PASS_MARK} 全部通过" if warnings == 0 else f"审核结果：{PASS_MARK} 无错误，{warnings} 项提示请核实"
    text = "审核结果：✗ "
    if missing:
        text += f"{MISSING_PROMPT}{'、'.join(missing)}" + ("；" if errors or warnings else "")
    if errors:
        extra = f"、{warnings} 项提示" if warnings else ""
        text += f"{errors} 项错误{extra}，见右侧「{CHECK_HEADING}」列和「{CHECKS_SHEET}」表"
    elif warnings:
        text += f"{warnings} 项提示请核实"
    return text


MISSING_PROMPT = "请填写："


def required_fields(form: Form) -> list[Any]:
    """The header fields a return must have filled in (填报人, 联系电话, 填报日期…)."""
    return [f for f in form.header if f.spec.required]


def missing_fields(form: Form, values: Mapping[str, Any], prefill: Mapping[str, str]) -> list[str]:
    """Labels of the required header fields a template leaves blank."""
    out = []
    for f in required_fields(form):
        v = (prefill.get(f.prefill or "") if f.prefill else None) or values.get(f.code)
        if v is None or v == "":
            out.append(f.label)
    return out


def status_formula(form: Form, lay: Layout) -> str:
    """The live status line: rules failing (from the 审核 sheet) and required fields left blank."""
    first, last = CHECKS_FIRST_ROW, CHECKS_FIRST_ROW + max(len(form.instances), 1) - 1
    sev = on_sheet(CHECKS_SHEET, area(first, 2, last, 2))     # 级别
    ok = on_sheet(CHECKS_SHEET, area(first, 4, last, 4))      # 通过
    errors = f'COUNTIFS({sev},"{SEVERITY_ZH["error"]}",{ok},FALSE)'
    warnings = f'COUNTIFS({sev},"{SEVERITY_ZH["warning"]}",{ok},FALSE)'
    cells = [(lay.field_cells[f.code].ref(None), f.label) for f in required_fields(form) if f.code in lay.field_cells]
    if not cells:
        return (f'="审核结果："&IF({errors}=0,IF({warnings}=0,"{PASS_MARK} 全部通过","{PASS_MARK} 无错误，"&{warnings}&" 项提示请核实"),'
                f'"✗ "&{errors}&" 项错误"&IF({warnings}>0,"、"&{warnings}&" 项提示","")&"，见右侧「{CHECK_HEADING}」列和「{CHECKS_SHEET}」表")')
    blank = "+".join(f'IF({ref}="",1,0)' for ref, _ in cells)
    names = "&".join(f'IF({ref}="","、{label}","")' for ref, label in cells)
    return (f'="审核结果："&IF(({errors})+({blank})=0,'
            f'IF({warnings}=0,"{PASS_MARK} 全部通过","{PASS_MARK} 无错误，"&{warnings}&" 项提示请核实"),'
            f'"✗ "&IF(({blank})>0,"{MISSING_PROMPT}"&MID({names},2,999)&IF(({errors})+({warnings})>0,"；",""),"")'
            f'&IF({errors}>0,{errors}&" 项错误"&IF({warnings}>0,"、"&{warnings}&" 项提示","")&"，见右侧「{CHECK_HEADING}」列和「{CHECKS_SHEET}」表",'
            f'IF({warnings}>0,{warnings}&" 项提示请核实","")))')


class TemplatePlan:
    """Everything about a form's template that is the same for every agency."""

    def __init__(self, form: Form):
        self.form = form
        self.layout: Layout = layout_of(form)
        self.blank = Cached.of(form, {})
        # choice lists too long for an inline validation live on a hidden sheet, one column each
        self.long_lists: list[ValueSpec] = []
        for _, spec in _all_specs(form):
            if spec.type == "choice" and sum(len(x) + 1 for x in spec.choices) > INLINE_LIST_LIMIT and spec not in self.long_lists:
                self.long_lists.append(spec)
        self.list_sources = {spec: "=" + on_sheet(LISTS_SHEET, area(1, j, len(spec.choices), j))
                             for j, spec in enumerate(self.long_lists)}
        self.check_rows = [(self.layout.check_rows[inst.id], inst, "=" + live_check(self.layout, inst, "zh", CHECKS_SHEET))
                           for inst in form.instances]
        self.status_formula = status_formula(form, self.layout)
        self.sheets = [self._plan_sheet(s) for s in self.layout.sheets]

    def _plan_sheet(self, sl: SheetLayout) -> _SheetPlan:
        plan = _SheetPlan()
        form, lay = self.form, self.layout
        groups: dict[tuple[ValueSpec, str], list[tuple[int, int]]] = {}
        for code, (row, col) in sl.inputs.items():
            ind = form.indicators[code]
            if ind.computed:
                plan.formulas[(row, col)] = ("=" + computed_formula(lay, code, sl.name), code)
            else:
                title = form.table(ind.table).rows[ind.row].label
                groups.setdefault((ind.spec, title), []).append((row, col))
        for f in form.header:
            if f.code in sl.fields and not (f.locked and f.prefill):
                row, col, _ = sl.fields[f.code]
                groups.setdefault((f.spec, f.label), []).append((row, col))
            elif f.code in sl.fields:
                # locked once filled from the roster; a blank template leaves it to the agency
                row, col, _ = sl.fields[f.code]
                plan.open_fields[f.code] = ([(row, col)], _validation(f.spec, f.label, a1(row, col), self.list_sources.get(f.spec)))
        for (spec, title), cells in groups.items():
            cells.sort()
            opts = _validation(spec, title, a1(*cells[0]), self.list_sources.get(spec))
            if len(cells) > 1:
                opts["multi_range"] = " ".join(a1(r, c) for r, c in cells)
            plan.validations.append((cells, opts))
        for severity in ("error", "warning"):
            for inst in form.instances:
                if inst.severity != severity:
                    continue
                cells = sorted((lay.cells[c].row, lay.cells[c].col) for c in inst.reads if lay.cells[c].sheet == sl.name)
                if cells:
                    mirror = a1(sl.mirrors[inst.id], sl.mirror_col, absolute=True)
                    plan.highlights.append((severity, cells, f"=NOT({mirror})"))
        for (row, col), insts in sl.checks.items():
            passes = [lay.check_pass_ref(i, sl.name) for i in insts]
            results = [lay.check_result_ref(i, sl.name) for i in insts]
            failing = "&".join(f'IF({p},"",{r}&"；")' for p, r in zip(passes, results))
            if len(insts) == 1:
                text = failing
            else:
                count = "+".join(f"IF({p},0,1)" for p in passes)
                more = MORE_FAILED.replace("{n}", '"&(' + count + ')&"')
                text = f'IF(({count})=1,{failing},LEFT({failing},FIND("；",{failing}))&"{more}")'
            plan.checks[(row, col)] = (f'=IF(AND({",".join(passes)}),"{PASS_MARK}",{text})', insts)
            # room for the longest message of the rules shown here (when several fail, the 审核 sheet lists them all)
            width = sum(sl.widths.get(c, 8.43) for c in range(col, sl.last_col + 1))
            more = MORE_FAILED.format(n=len(insts)) if len(insts) > 1 else ""
            lines = max(text_lines(render_message(i, WIDE_NUMBER, WIDE_NUMBER) + "；" + more, width / CHECK_FONT_SCALE) for i in insts)
            if lines > 1:
                plan.check_heights[row] = max(sl.heights.get(row, 0.0), row_height(lines))
        plan.status = self.status_formula
        worst = status_line(99, 99, [f.label for f in required_fields(form)])
        plan.status_height = row_height(text_lines(worst, sum(sl.widths.get(c, 8.43) for c in range(sl.last_col + 1))))
        return plan


_plans: dict[str, TemplatePlan] = {}


def plan_for(form: Form) -> TemplatePlan:
    plan = _plans.get(form.content_hash)
    if plan is None:
        plan = _plans[form.content_hash] = TemplatePlan(form)
    return plan


# ---------------------------------------------------------------------------- validation

def _validation(spec: ValueSpec, label: str, cell: str, list_source: str | None) -> dict[str, Any]:
    """The data validation of one input cell, with Chinese messages a clerk understands."""
    title = label[:32]
    lower = spec.lower
    if spec.type == "integer":
        v: dict[str, Any] = {"validate": "integer"}
        if spec.max is not None:
            v.update(criteria="between", minimum=int(lower or 0), maximum=int(spec.max))
            rng = f"{rx.format_number(lower or 0)} 到 {rx.format_number(spec.max)} 之间的"
        else:
            v.update(criteria=">=", value=int(lower or 0))
            rng = f"不小于 {rx.format_number(lower or 0)} 的"
        err = f"这里只能填写{rng}整数（不能填写文字、小数或负数）。没有发生请留空，不要填写“无”或“0件”。"
        default_help = f"填写{rng}整数；没有发生请留空。"
    elif spec.type == "decimal":
        lo = rx.format_number(lower) if lower is not None else None
        conds = [f"ISNUMBER({cell})"]
        if lower is not None:
            conds.append(f"{cell}>={lo}")
        if spec.max is not None:
            conds.append(f"{cell}<={rx.format_number(spec.max)}")
        conds.append(f"ROUND({cell},{spec.places})={cell}")
        v = {"validate": "custom", "value": f"=AND({','.join(conds)})"}
        unit = spec.unit or ""
        err = f"这里只能填写数字{('（' + unit + '）') if unit else ''}，最多 {spec.places} 位小数" + (f"，不小于 {lo}" if lo is not None else "") + "。没有发生请留空。"
        default_help = f"填写数字，最多 {spec.places} 位小数{('，单位：' + unit) if unit else ''}；没有发生请留空。"
    elif spec.type == "date":
        v = {"validate": "date", "criteria": "between", "minimum": dt.date(2000, 1, 1), "maximum": dt.date(2099, 12, 31)}
        err = "请填写日期，例如 2024-01-31。"
        default_help = "填写日期，例如 2024-01-31。"
    elif spec.type == "choice":
        inline = sum(len(c) + 1 for c in spec.choices) <= INLINE_LIST_LIMIT and all("," not in c for c in spec.choices)
        v = {"validate": "list", "source": list(spec.choices) if inline else list_source}
        err = "请从下拉列表中选择。"
        default_help = "从下拉列表中选择。"
    else:
        limit = spec.max_length or 255
        v = {"validate": "length", "criteria": "<=", "value": limit}
        err = f"内容太长：最多 {limit} 个字。"
        default_help = ""
        if spec.pattern:
            shape = patterns.excel_condition(spec.pattern, cell)
            err = spec.pattern_message or "格式不正确，请按说明填写。"
            default_help = spec.pattern_message
            if shape is not None:
                v = {"validate": "custom", "value": f"=AND(LEN({cell})<={limit},{shape})"}
    message = (spec.help or default_help)[:255]
    v.update(error_title="输入有误", error_message=err[:255], error_type="stop", ignore_blank=True)
    if message:
        v.update(input_title=title, input_message=message)
    return v


# ---------------------------------------------------------------------------- writing

@dataclass(frozen=True)
class TemplateRequest:
    """What varies between two templates of the same form."""
    agency: Agency | None = None
    year: int | None = None
    password: str = ""
    template_id: str = ""
    generated_at: str = ""
    values: Mapping[str, Any] | None = None   # figures already filled in (sample returns, tests, benchmarks, 退回 copies)
    explanations: Mapping[str, str] | None = None   # 审核说明 already given, by rule instance id
    revision_of: str = ""                  # the template id a 退回 copy is a revision of
    annotation: Any = None                 # a toolkit.annotate.Annotation: marks problems, adds 退回说明
    previous: Mapping[str, Any] | None = None   # the agency's figures of the previous period, by code (上年数, prev())
    contact: str = ""                          # whom agencies ask (填表说明 三、联系方式); the form's own when empty


def identity_for(form: Form, req: TemplateRequest) -> Identity:
    a = req.agency
    return Identity(
        format=IDENTITY_FORMAT, schema_id=form.id, schema_version=form.version, schema_hash=form.content_hash,
        agency_code=a.code if a else "", agency_name=a.name if a else "", agency_group=a.group if a else "",
        period=str(req.year or form.period_default or ""), template_id=req.template_id or uuid.uuid4().hex,
        generated_at=req.generated_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        toolkit_version=__version__, layout_version=LAYOUT_VERSION, revision_of=req.revision_of,
    )


def _created(generated_at: str) -> dt.datetime:
    """The document's 创建时间 is the identity's generation time, so one request always gives the
    same bytes (the fuzzer's workbooks, and a re-issued template, are reproducible)."""
    try:
        when = dt.datetime.fromisoformat(generated_at)
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)   # xlsxwriter writes it as UTC ("…Z")
    except (ValueError, OverflowError):   # a caller's text that is no time, or one at the calendar's edge
        when = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return when.replace(microsecond=0)


def build_template(form: Form, req: TemplateRequest) -> bytes:
    """The bytes of one template workbook."""
    plan = plan_for(form)
    lay = plan.layout
    ident = identity_for(form, req)
    cache = Cached.of(form, req.values or {}, req.previous) if req.values or req.previous else plan.blank
    values = req.values or {}
    buf = io.BytesIO()
    wb = ProtectedWorkbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False})
    wb.structure_password = req.password
    fm = Formats(wb)
    year = req.year or form.period_default
    period_text = f"（{year}{form.period_label}）" if year else ""
    wb.set_properties({"title": form.title, "subject": f"{form.id} {form.version}", "author": "toolkit",
                       "created": _created(ident.generated_at),
                       "comments": "由统计报表模板工具生成。请只在浅黄色格子中填写，不要增删行列或改动表名。"})
    for k, v in ident.items():
        wb.set_custom_property(PROPERTY_PREFIX + k, v[:PROPERTY_LIMIT], "text")

    cover_ws = wb.add_worksheet(RETURN_SHEET) if req.annotation is not None else None
    sheets: list[tuple[SheetLayout, Worksheet]] = [(sl, wb.add_worksheet(sl.name)) for sl in lay.sheets]
    checks_ws = wb.add_worksheet(CHECKS_SHEET)
    instr_ws = wb.add_worksheet(INSTRUCTIONS_SHEET)
    if plan.long_lists:
        lists_sheet = wb.add_worksheet(LISTS_SHEET)
        for j, spec in enumerate(plan.long_lists):
            for i, choice in enumerate(spec.choices):
                lists_sheet.write_string(i + 1, j, choice)
        lists_sheet.hide()
        lists_sheet.protect(req.password)
    id_ws = wb.add_worksheet(IDENTITY_SHEET)
    if lay.prev_cells:
        _write_prev_sheet(wb.add_worksheet(PREV_SHEET), lay, req.previous or {}, req.password)

    prefill = {"agency.code": ident.agency_code, "agency.name": ident.agency_name,
               "agency.group": ident.agency_group, "period": ident.period}
    status = cache.status_text(missing_fields(form, values, prefill))
    for (sl, ws), sp in zip(sheets, plan.sheets):
        _write_fill_sheet(ws, sl, sp, plan, cache, values, fm, period_text, prefill, req.password, status, req.previous)
    _write_checks_sheet(checks_ws, plan, cache, fm, req.password, status, req.explanations)
    _write_instructions(instr_ws, form, plan, fm, req.password, req.contact or form.contact)
    for i, (k, v) in enumerate(ident.items()):
        id_ws.write_string(i, 0, k)
        id_ws.write_string(i, 1, v)
    id_ws.very_hidden()
    id_ws.protect(req.password)
    if req.annotation is not None:
        req.annotation.apply(wb, cover_ws, {sl.name: ws for sl, ws in sheets}, fm, req.password)
    else:
        sheets[0][1].activate()
    wb.close()
    return buf.getvalue()


def _write_prev_sheet(ws: Worksheet, lay: Layout, previous: Mapping[str, Any], password: str) -> None:
    """Last year's value of every code a prev() rule reads: the live checks refer to these cells.
    A value not known is left blank, which the check shows as "—" (not applicable)."""
    for code, cell in lay.prev_cells.items():
        ws.write_string(cell.row, 0, code)
        v = previous.get(code)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            ws.write_number(cell.row, cell.col, v)
    ws.hide()
    ws.protect(password)


def _all_specs(form: Form) -> Iterable[tuple[str, ValueSpec]]:
    for f in form.header:
        yield f.code, f.spec
    for code, ind in form.indicators.items():
        yield code, ind.spec


def _protect(ws: Worksheet, password: str) -> None:
    ws.protect(password, {"select_locked_cells": True, "select_unlocked_cells": True,
                          "format_columns": True, "format_rows": True})


def _write_fill_sheet(ws: Worksheet, sl: SheetLayout, sp: _SheetPlan, plan: TemplatePlan, cache: Cached,
                      values: Mapping[str, Any], fm: Formats,
                      period_text: str, prefill: dict[str, str], password: str, status: str,
                      previous: Mapping[str, Any] | None = None) -> None:
    form = plan.form
    previous = previous or {}
    for col, width in sl.widths.items():
        ws.set_column(col, col, width)
    for row, height in sl.heights.items():
        ws.set_row(row, height)
    # every data row gets an explicit height, so a long check message typed into being does not
    # make LibreOffice grow the row (and the printed page) while the agency fills in
    for t in sl.tables:
        _, _, data_top, data_bottom = sl.table_frames[t.id]
        for row in range(data_top, data_bottom + 1):
            if row in sp.check_heights:
                ws.set_row(row, sp.check_heights[row])
            elif row not in sl.heights:
                ws.set_row(row, 16)  # (xlsxwriter writes no height at all for the default 15)
    # fixed texts
    for fixed in sl.texts:
        if fixed.role == "title":
            fmt = fm.title
        elif fixed.role == "table_title":
            fmt = fm.table_title
        elif fixed.role in ("heading", "check"):
            fmt = fm.heading
        elif fixed.role == "corner":
            fmt = fm.corner
        elif fixed.role == "label":
            fmt = fm.label(fixed.level, False)
        elif fixed.role == "unit":
            fmt = fm.unit
        elif fixed.role == "note":
            fmt = fm.note
        elif fixed.role == "field":
            fmt = fm.field_label
        else:
            fmt = fm.heading
        if fixed.merge_to and fixed.merge_to != (fixed.row, fixed.col):
            ws.merge_range(fixed.row, fixed.col, fixed.merge_to[0], fixed.merge_to[1], fixed.text, fmt)
        else:
            ws.write_string(fixed.row, fixed.col, fixed.text, fmt)
    ws.merge_range(sl.period_row, 0, sl.period_row, sl.last_col, period_text, fm.period)
    ws.merge_range(sl.status_row, 0, sl.status_row, sl.last_col, "", fm.status_wrap)
    ws.write_formula(sl.status_row, 0, sp.status, fm.status_wrap, status)
    if sp.status_height > 16:
        ws.set_row(sl.status_row, sp.status_height)
    ws.set_row(0, 30)
    # header fields
    for f in form.header:
        if f.code not in sl.fields:
            continue
        row, col, last = sl.fields[f.code]
        value = (prefill.get(f.prefill or "") if f.prefill else None) or values.get(f.code)
        locked = bool(f.locked and f.prefill and prefill.get(f.prefill))
        fmt = fm.value(f.spec, locked=locked)
        if last > col:
            ws.merge_range(row, col, row, last, "", fmt)
        _write_value(ws, row, col, value, fmt)
        if not locked and f.code in sp.open_fields:
            cells, opts = sp.open_fields[f.code]
            ws.data_validation(row, col, row, col, dict(opts))
    # table bodies: blocked cells for headings/skips, inputs, computed
    for t in sl.tables:
        _head_top, _head_bottom, data_top, data_bottom = sl.table_frames[t.id]
        for r_index, r in enumerate(t.rows):
            row = data_top + r_index
            ncols = 1 if t.kind == "list" else len(t.leaves)
            for ci in range(ncols):
                col = 2 if t.kind == "list" else 1 + ci
                code = t.cell_code(r, t.leaves[ci])
                if code is None or code not in form.indicators:
                    ws.write_blank(row, col, None, fm.blocked)
                    continue
                ind = form.indicators[code]
                if (row, col) in sp.formulas:
                    formula, _ = sp.formulas[(row, col)]
                    shown = cache.computed.get(code, 0.0)
                    ws.write_formula(row, col, formula, fm.value(ind.spec, computed=True), "" if shown is None else shown)
                else:
                    _write_value(ws, row, col, values.get(code), fm.value(ind.spec))
            if t.kind == "list" and t.previous_column:
                _write_previous_cell(ws, row, form, r.code, sl, previous, fm)
            first = sl.check_first[t.id]
            if first < sl.last_col:
                ws.merge_range(row, first, row, sl.last_col, "", fm.check)
            if (row, first) in sp.checks:
                formula, insts = sp.checks[(row, first)]
                ws.write_formula(row, first, formula, fm.check, cache.check_text(insts))
            else:
                ws.write_blank(row, first, None, fm.check)
    for t in sl.tables:
        _, _, data_top, data_bottom = sl.table_frames[t.id]
        first = sl.check_first[t.id]
        ref = f"{a1(data_top, first)}"
        ws.conditional_format(data_top, first, data_bottom, first, {
            "type": "formula", "criteria": f'=AND(LEN({ref})>0,{ref}<>"{PASS_MARK}")', "format": fm.check_failed})
    by_id = {i.id: i for i in plan.form.instances}
    ws.set_column(sl.mirror_col, sl.mirror_col, 6, None, {"hidden": True})
    for inst_id, mrow in sl.mirrors.items():
        inst = by_id[inst_id]
        ws.write_formula(mrow, sl.mirror_col, "=" + plan.layout.check_pass_ref(inst, sl.name), fm.blocked,
                         not cache.results[inst_id].failed)
    for cells, opts in sp.validations:
        ws.data_validation(cells[0][0], cells[0][1], cells[0][0], cells[0][1], dict(opts))
    for severity, cells, criteria in sp.highlights:
        opts = {"type": "formula", "criteria": criteria, "format": fm.error if severity == "error" else fm.warning}
        if severity == "error":
            opts["stop_if_true"] = True
        if len(cells) > 1:
            opts["multi_range"] = " ".join(a1(r, c) for r, c in cells)
        ws.conditional_format(cells[0][0], cells[0][1], cells[0][0], cells[0][1], opts)
    # page set-up
    ws.set_paper(9)
    if sl.landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    if sl.repeat_rows:
        ws.repeat_rows(*sl.repeat_rows)
    ws.freeze_panes(*sl.freeze)
    ws.hide_gridlines(2)
    ws.set_footer("&C第 &P 页，共 &N 页")
    first_input = min(sl.inputs.values()) if sl.inputs else (0, 0)
    ws.set_selection(first_input[0], first_input[1], first_input[0], first_input[1])
    _protect(ws, password)


def _write_previous_cell(ws: Worksheet, row: int, form: Form, code: str | None, sl: SheetLayout,
                         previous: Mapping[str, Any], fm: Formats) -> None:
    """One cell of a list table's 上年数 column: last year's figure, locked and grey (for reference only)."""
    if code is None or code not in sl.previous:
        ws.write_blank(row, PREVIOUS_COL, None, fm.blocked)
        return
    v = previous.get(code)
    fmt = fm.value(form.indicators[code].spec, locked=True)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        ws.write_number(row, PREVIOUS_COL, v, fmt)
    else:
        ws.write_blank(row, PREVIOUS_COL, None, fmt)


def _write_value(ws: Worksheet, row: int, col: int, value: Any, fmt: Any) -> None:
    """A filled-in value as a spreadsheet program would store it (text stays text).

    A :class:`~toolkit.validate.FoundCell` (what a return's cell held: a formula with its cached
    result, an error value) is written back as it was, for 退回 copies.
    """
    if isinstance(value, FoundCell):
        _write_found(ws, row, col, value, fmt)
    elif value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, fmt)
    elif isinstance(value, (dt.date, dt.datetime)):
        ws.write_datetime(row, col, value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _write_found(ws: Worksheet, row: int, col: int, found: FoundCell, fmt: Any) -> None:
    value = found.value
    if found.formula is not None:
        cached: Any = found.error if found.error is not None else ("" if value is None else value)
        ws.write_formula(row, col, "=" + found.formula, fmt, cached)
    elif found.error is not None:
        ws.write_formula(row, col, "=" + _ERROR_FORMULAS.get(found.error.upper(), "NA()"), fmt, found.error)
    else:
        _write_value(ws, row, col, value, fmt)


# formulas whose result is that error value in every spreadsheet program
_ERROR_FORMULAS = {"#DIV/0!": "1/0", "#VALUE!": '"a"+1', "#NUM!": "SQRT(-1)", "#N/A": "NA()"}


CHECKS_WIDTHS = (5.0, 46.0, 6.0, 46.0, 8.0)    # 序号, 规则, 级别, 结果, 通过 (hidden)
EXPLANATION_WIDTH = 26.0     # 审核说明, right of the hidden 通过


def rule_description(inst: RuleInstance) -> str:
    """What a rule checks, in the form's words, for a clerk: never its internal id."""
    desc = inst.rule.explain or message_template(inst).split("{")[0].strip().rstrip("：:") or "勾稽关系"
    if inst.place_label and inst.place_label not in desc:
        desc = f"{desc}（{inst.place_label}）"
    return desc


def _checks_rows(plan: TemplatePlan) -> list[tuple[str, float]]:
    """(description, row height) of every rule instance: tall enough for the description and the longest message."""
    key = "_checks_rows"
    cached = plan.__dict__.get(key)
    if cached is None:
        cached = []
        for _, inst, _ in plan.check_rows:
            desc = rule_description(inst)
            lines = max(text_lines(desc, CHECKS_WIDTHS[1]),
                        text_lines(render_message(inst, WIDE_NUMBER, WIDE_NUMBER), CHECKS_WIDTHS[3]))
            cached.append((desc, row_height(lines)))
        plan.__dict__[key] = cached
    return cached


def _write_checks_sheet(ws: Worksheet, plan: TemplatePlan, cache: Cached, fm: Formats, password: str, status: str,
                        explanations: Mapping[str, str] | None = None) -> None:
    form = plan.form
    for j, w in enumerate(CHECKS_WIDTHS):
        ws.set_column(j, j, w, None, {"hidden": True} if j == 4 else None)
    ws.set_column(EXPLANATION_COL, EXPLANATION_COL, EXPLANATION_WIDTH)
    explain_fmt = fm.value(ValueSpec(type="text"))
    ws.set_row(0, 24)
    ws.merge_range(0, 0, 0, 3, f"{form.title} — 自动审核", fm.title)
    ws.set_row(1, row_height(text_lines(status, sum(CHECKS_WIDTHS[:4])) + 1))
    ws.merge_range(1, 0, 1, 3, "", fm.status_wrap)
    ws.write_formula(1, 0, plan.status_formula, fm.status_wrap, status)
    ws.merge_range(2, 0, 2, 3, "本表随填报内容自动更新：「✓」为通过，「—」为暂不适用，其余为需要核对的问题。", fm.note)
    for j, h in enumerate(CHECKS_COLUMNS):
        ws.write_string(CHECKS_FIRST_ROW - 1, j, h, fm.checks_heading)
    if any(inst.explainable for _, inst, _ in plan.check_rows):
        ws.write_string(CHECKS_FIRST_ROW - 1, EXPLANATION_COL, EXPLANATION_HEADING, fm.checks_heading)
    for i, ((row, inst, formula), (desc, height)) in enumerate(zip(plan.check_rows, _checks_rows(plan))):
        res = cache.results[inst.id]
        ws.set_row(row, height)
        ws.write_number(row, 0, i + 1, fm.checks_number)
        ws.write_string(row, 1, desc, fm.checks_cell)
        ws.write_string(row, 2, SEVERITY_ZH[inst.severity], fm.checks_number)
        ws.write_formula(row, 3, formula, fm.checks_cell, cache.result_text(inst))
        ws.write_formula(row, 4, f'=OR(D{row + 1}="{PASS_MARK}",D{row + 1}="{NOT_APPLICABLE_MARK}")', fm.checks_cell, res.status != "fail")
        if inst.explainable:
            text = (explanations or {}).get(inst.id, "")
            ws.write_string(row, EXPLANATION_COL, text, explain_fmt) if text else ws.write_blank(row, EXPLANATION_COL, None, explain_fmt)
            ws.data_validation(row, EXPLANATION_COL, row, EXPLANATION_COL, {
                "validate": "length", "criteria": "<=", "value": EXPLANATION_MAX,
                "error_title": "说明太长", "error_message": f"审核说明最多 {EXPLANATION_MAX} 字。"})
    if plan.check_rows:
        first, last = CHECKS_FIRST_ROW, CHECKS_FIRST_ROW + len(plan.check_rows) - 1
        ws.conditional_format(first, 3, last, 3, {"type": "formula", "criteria": f'=AND($E{first + 1}=FALSE,$C{first + 1}="错误")', "format": fm.error})
        ws.conditional_format(first, 3, last, 3, {"type": "formula", "criteria": f"=$E{first + 1}=FALSE", "format": fm.warning})
    ws.freeze_panes(CHECKS_FIRST_ROW, 0)
    ws.set_paper(9)
    ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    explainable = any(inst.explainable for _, inst, _ in plan.check_rows)
    ws.print_area(0, 0, CHECKS_FIRST_ROW + max(len(plan.check_rows), 1) - 1, EXPLANATION_COL if explainable else 3)
    ws.repeat_rows(CHECKS_FIRST_ROW - 1)
    ws.set_footer("&C第 &P 页，共 &N 页")
    _protect(ws, password)


INSTRUCTIONS_WIDTH = 78.0   # one column that LibreOffice does not shrink to the page: it must fit A4 upright as it is


def instruction_lines(form: Form, contact: str = "") -> list[tuple[str, str]]:
    """The 填表说明 sheet as (kind, text): what the template does, then the form's own advice, its rules
    and whom to ask. What the template does is said here once, from what it is; a form's
    instructions only add what is particular to it."""
    has_computed = bool(form.computed)
    lines: list[tuple[str, str]] = [("title", f"{form.title} — 填表说明"), ("blank", ""), ("heading", "一、怎样填写")]
    general = [
        "浅黄色格子是填写区，其余格子已锁定" + ("；灰色格子为自动计算的合计，不需要填写" if has_computed else "") + "。",
        ("数字格子只填阿拉伯数字，不要填写“无”、单位或文字；没有发生的事项请留空，也可填“—”（按“无此项”读取）。"
         if form.document.get("dash") == "blank" else
         "数字格子只填阿拉伯数字，不要填写“无”、“—”、“/”、单位或其他文字；没有发生的事项请留空。"),
        f"表头的{'、'.join(f.label for f in form.header if f.spec.required and not f.prefill)}必须填写。"
        if any(f.spec.required and not f.prefill for f in form.header) else "",
        "请不要插入或删除行列、修改表名或标签，也不要另存为其他格式；请保存为 .xlsx 后报送。",
        f"各表右侧「{CHECK_HEADING}」列和「{CHECKS_SHEET}」表随填写自动核对下列规则；报送前请确认表头的审核结果没有“✗”。",
    ]
    items = [t for t in [*general, *form.instructions] if t]
    lines += [("item", f"{i}. {text}") for i, text in enumerate(items, 1)]
    lines += [("blank", ""), ("heading", "二、审核规则")]
    for r in form.rules:
        text = r.explain or general_message(r)
        each = {"column": "（每一列分别检查）", "row": "（每一行分别检查）"}.get(r.each or "", "")
        if each and ("每一列" in text or "每一行" in text):
            each = ""
        lines.append(("item", f"【{SEVERITY_ZH[r.severity]}】{text}{each}"))
    if contact:
        lines += [("blank", ""), ("heading", "三、联系方式"), ("item", contact)]
    lines += [("blank", ""), ("note", f"表单版本 {form.version}")]
    return lines


def _write_instructions(ws: Worksheet, form: Form, plan: TemplatePlan, fm: Formats, password: str, contact: str = "") -> None:
    ws.set_column(0, 0, INSTRUCTIONS_WIDTH)
    styles = {"title": fm.title_left, "heading": fm.bold, "item": fm.wrap, "note": fm.note}
    for i, (kind, text) in enumerate(instruction_lines(form, contact)):
        if not text:
            continue
        if kind == "item":
            lines = text_lines(text, INSTRUCTIONS_WIDTH)
            if lines > 1:
                ws.set_row(i, row_height(lines))
        elif kind == "title":
            ws.set_row(i, 24)
        ws.write_string(i, 0, text, styles[kind])
    ws.set_paper(9)
    ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.6, right=0.6, top=0.7, bottom=0.7)
    ws.hide_gridlines(2)
    _protect(ws, password)


# ---------------------------------------------------------------------------- many templates

@dataclass(frozen=True)
class ManifestRow:
    agency_code: str
    agency_name: str
    agency_group: str
    file: str
    sha256: str
    template_id: str


MANIFEST_NAME = "manifest.csv"


def template_file_names(agencies: Sequence[Agency], form: Form) -> list[str]:
    stems = [safe_stem(f"{a.code}_{a.name}") for a in agencies]
    return unique_names(stems, ".xlsx")


def template_output_names(form: Form, agencies: Sequence[Agency] | None = None, year: int | None = None) -> list[str]:
    """The file names generate_templates writes (for checking the output folder before writing)."""
    if agencies:
        return list(template_file_names(agencies, form))
    return [safe_stem(f"{form.id}_{year or form.period_default or ''}_blank") + ".xlsx"]


def generate_templates(form: Form, out_dir: str | Path, agencies: Sequence[Agency] | None = None,
                       year: int | None = None, password: str | None = None, jobs: int = 1,
                       progress: Any = None, contact: str = "",
                       previous: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[list[ManifestRow], str]:
    """Write one template per agency (or one blank template) and a manifest; returns rows and password.

    ``previous`` (agency code → last year's figures by indicator code) fills each agency's 上年数
    column and the values its prev() checks compare with."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # re-running into a folder keeps the password its manifest holds, unless a new one is asked for
    kept = _manifest_password(out / MANIFEST_NAME) if password is None else None
    pw = password if password is not None else kept or generate_password()
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    if agencies:
        names = template_file_names(agencies, form)
        requests = [TemplateRequest(agency=a, year=year, password=pw, generated_at=stamp, contact=contact,
                                    previous=(previous or {}).get(a.code)) for a in agencies]
    else:
        names = [safe_stem(f"{form.id}_{year or form.period_default or ''}_blank") + ".xlsx"]
        requests = [TemplateRequest(agency=None, year=year, password=pw, generated_at=stamp, contact=contact)]
    rows: list[ManifestRow] = []
    work = list(zip(names, requests))
    if jobs > 1 and len(work) > 50:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        # chunks of about 50: few enough hand-offs to stay fast, often enough to show progress
        size = max(10, min(50, len(work) // (jobs * 4) or 1))
        chunks = [work[i:i + size] for i in range(0, len(work), size)]
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_write_many, form.document, form.source, str(out), chunk) for chunk in chunks]
            for fut in as_completed(futures):
                done = fut.result()
                rows.extend(done)
                if progress:
                    progress(len(done))
        order = {n: i for i, n in enumerate(names)}
        rows.sort(key=lambda r: order[r.file])
    else:
        for name, req in work:
            rows.append(_write_one(form, out, name, req))
            if progress:
                progress(1)
    write_manifest(out / MANIFEST_NAME, rows, pw, password is None)
    return rows, pw


def _write_many(document: dict, source: str, out: str, chunk: list[tuple[str, TemplateRequest]]) -> list[ManifestRow]:
    from .schema import load_form
    form = load_form(document, source)
    return [_write_one(form, Path(out), name, req) for name, req in chunk]


def _write_one(form: Form, out: Path, name: str, req: TemplateRequest) -> ManifestRow:
    req = TemplateRequest(agency=req.agency, year=req.year, password=req.password,
                          template_id=req.template_id or uuid.uuid4().hex, generated_at=req.generated_at, contact=req.contact,
                          previous=req.previous)
    data = build_template(form, req)
    write_atomic(out / name, data)
    a = req.agency
    return ManifestRow(agency_code=a.code if a else "", agency_name=a.name if a else "", agency_group=a.group if a else "",
                       file=name, sha256=hashlib.sha256(data).hexdigest(), template_id=req.template_id)


def _manifest_password(path: Path) -> str | None:
    from .guard import manifest_rows
    for row in manifest_rows(path):
        if row.get("password"):
            return row["password"]
    return None


def write_manifest(path: Path, rows: Sequence[ManifestRow], password: str, generated: bool) -> None:
    """manifest.csv: UTF-8 with BOM so Excel opens the Chinese names correctly."""
    import csv
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["agency_code", "agency_name", "agency_group", "file", "sha256", "template_id", "password"])
    for r in rows:
        # only a generated password is written down: one the user chose stays where the user keeps it
        w.writerow([neutralise(r.agency_code), neutralise(r.agency_name), neutralise(r.agency_group), neutralise(r.file),
                    r.sha256, r.template_id, password if generated else ""])
    write_text_atomic(path, "\ufeff" + buf.getvalue())
