"""A returned workbook → recognised form, verified structure, typed values, and every problem.

The order matters: a file is first recognised (identity → the exact form edition), then its
structure is compared with the layout that form produces (a moved row would make every value
wrong, so tampering means *rejected*, not *invalid*), and only then are values extracted and the
rules run. Values are never guessed: text like “无” or “12件” is an error at its cell, never 0.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import rules as rx
from .checks import evaluate_instance, with_computed
from .formulas import a1
from .identity import SUMMARY_FORMAT, Identity
from .issues import Issue
from .layout import EXPLANATION_COL, LAYOUT_VERSION, Layout, SheetLayout, layout_of
from .package import Rejected
from .reader import RawWorkbook, open_workbook
from .registry import Registry
from .schema import Field, Form, ValueSpec
from .sheets import CHECKS_SHEET, EXPLANATION_MAX, IDENTITY_SHEET, PREV_SHEET, RETURN_SHEET
from .values import ABSURD, ErrorValue, Skip, json_value, parse_value, show

MAX_DIFFERENCES = 5
_EXTERNAL = re.compile(r"\[[^\]]*\]|\w+\|'?[^']*'?!|\bDDE\b|^'?[A-Za-z]:\\\\|https?://", re.I)


@dataclass(frozen=True)
class FoundCell:
    """An input cell as found: its value as the program showed it and the formula, if any."""
    value: Any
    formula: str | None = None
    error: str | None = None


@dataclass
class Result:
    """The outcome for one file — the unit every report and the merger work with."""
    file: str
    sha256: str = ""
    size: int = 0
    mtime: float = 0.0
    status: str = "rejected"             # valid | invalid | rejected
    reason_zh: str = ""                  # for rejected: one line
    reason_en: str = ""
    identity: Identity | None = None
    values: dict[str, Any] = field(default_factory=dict)   # indicator and header codes → typed values
    issues: list[Issue] = field(default_factory=list)
    # What the cells held where that is not simply the typed value (text, a formula, an error value):
    # code → FoundCell. A 退回 copy writes these back so the agency sees what it sent.
    found: dict[str, FoundCell] = field(default_factory=dict)
    # "return" (one agency's workbook), "summary" (a summary workbook the toolkit wrote: its counted
    # agencies are ``parts``) or "part" (one agency's figures as a summary carried them).
    kind: str = "return"
    parts: list[Result] = field(default_factory=list)
    # The files a part's figures passed through before ``file``, as (file, sha256), the original
    # return first; empty for a return read directly.
    sources: list[tuple[str, str]] = field(default_factory=list)
    # 审核说明 the agency gave for cross-period (prev) warnings, by rule instance id: those rules are
    # decided later, against last year's figures (toolkit.previous), where the workbook is not open
    prev_explanations: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def reason(self, lang: str = "zh") -> str:
        return self.reason_en if lang == "en" else self.reason_zh


def _file_facts(path: Path, result: Result) -> None:
    try:
        st = path.stat()
        result.size, result.mtime = st.st_size, st.st_mtime
        if path.is_file() and st.st_size <= 200 * 1024 * 1024:
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            result.sha256 = h.hexdigest()
    except OSError:
        pass


def check_file(path: str | Path, registry: Registry | None = None) -> Result:
    """Read, recognise, verify and validate one workbook. Never raises for a bad file."""
    p = Path(path)
    result = Result(file=str(path))
    _file_facts(p, result)
    registry = registry or Registry()
    try:
        raw = open_workbook(p)
        result.identity = raw.identity
        form = registry.get(raw.identity.schema_id, raw.identity.schema_version)
        if raw.identity.format == SUMMARY_FORMAT:
            result.kind = "summary"
        if raw.identity.layout_version != LAYOUT_VERSION:
            raise Rejected(f"模板由另一版本的工具生成（版式 {raw.identity.layout_version or '?'}，当前为 {LAYOUT_VERSION}），请使用当前下发的模板",
                           f"the template was laid out by another toolkit version (layout {raw.identity.layout_version or '?'}, "
                           f"this toolkit reads layout {LAYOUT_VERSION}); send the agency a current template")
        if raw.identity.schema_hash != form.content_hash:
            raise Rejected(f"模板与当前表单 {form.id} {form.version} 的定义不一致（内容校验值不同），请使用下发的最新模板",
                           f"the template was made from a different edition of {form.id} {form.version} (schema hash differs)")
        if result.kind == "summary":
            from .rollup import read_summary
            read_summary(raw, form, result)
        else:
            _validate(raw, form, result)
    except Rejected as e:
        result.status, result.reason_zh, result.reason_en = "rejected", e.zh, e.en
        result.values = {}
        result.parts = []
        return result
    except MemoryError:
        result.status, result.reason_zh, result.reason_en = "rejected", "文件过大，读取时内存不足", "out of memory while reading the file"
        return result
    result.status = "invalid" if result.errors else "valid"
    return result


def _validate(raw: RawWorkbook, form: Form, result: Result) -> None:
    lay = layout_of(form)
    _verify_sheets(raw, lay, result)
    _verify_texts(raw, lay)
    _package_warnings(raw, lay, result)
    numbers: dict[str, float | None] = {}
    cached_computed: dict[str, Any] = {}
    from_text: set[str] = set()    # numbers read from text: a spreadsheet's SUM skips them
    values_out = result.values
    for sl, computed_cells, input_cells in _input_plan(lay, form):
        grid = raw.grid(sl.name)
        n_rows = len(grid)
        facts = raw.facts.sheets.get(sl.name)
        special = facts.formulas.keys() | facts.errors.keys() if facts is not None else set()
        for code, row, col, address in computed_cells:
            cached_computed[code] = (_cell(grid, row, col), address)
        for item in input_cells:
            code, row, col, ref, spec, unbounded, integer, places = item.fast
            line = grid[row] if row < n_rows else ()
            value = line[col] if col < len(line) else ""
            # the common case — a plain number within bounds — needs no further thought
            if type(value) is float and unbounded and 0 <= value < ABSURD and ref not in special \
                    and (value.is_integer() or (places is not None and round(value, places) == value)):
                numbers[code] = value
                values_out[code] = int(value) if integer else value
                continue
            if value == "" and ref not in special and not spec.required:
                numbers[code] = None
                values_out[code] = None
                continue
            _remember(result, code, value, facts, row, col)
            value = _take_formula(value, facts, row, col, item.label, code, item.address, result)
            typed = parse_value(value, spec, item.label, code, item.address, result.issues)
            numbers[code] = typed
            if isinstance(value, str) and typed is not None:
                from_text.add(code)
            values_out[code] = json_value(typed, spec)
        for f in form.header:
            if f.code in sl.fields:
                row, col, _ = sl.fields[f.code]
                cell = f"{sl.name}!{a1(row, col)}"
                _remember(result, f.code, _cell(grid, row, col), facts, row, col)
                value = _take_formula(_cell(grid, row, col), facts, row, col, f.label, f.code, cell, result)
                typed = parse_value(value, f.spec, f.label, f.code, cell, result.issues)
                result.values[f.code] = json_value(typed, f.spec)
                _check_prefill(raw, f, typed, cell, result)
    values = with_computed(form, numbers)
    as_shown: dict[str, float | None] | None = None
    for code, (cached, cell) in cached_computed.items():
        ind = form.indicators[code]
        want = values[code]
        result.values[code] = json_value(want, ind.spec)
        if isinstance(cached, (int, float)) and not isinstance(cached, bool) and want is not None and abs(cached - want) > 1e-6:
            if from_text:
                # the program computed without the numbers stored as text (already warned about)
                if as_shown is None:
                    as_shown = with_computed(form, {**numbers, **{c: None for c in from_text}})
                shown = as_shown.get(code)
                if shown is not None and abs(cached - shown) <= 1e-6:
                    continue
            places = ind.spec.places if ind.spec.type == "decimal" else None
            result.issues.append(Issue("computed_mismatch", "error", {"label": ind.label, "raw": rx.format_places(cached, places),
                                                                      "value": rx.format_places(want, places)}, code=code, cell=cell))
    explanations: dict[str, str] | None = None
    for inst in form.instances:
        res = evaluate_instance(form, inst, values)
        if res.failed:
            cells = [lay.cells[c].address for c in inst.reads if c in lay.cells]
            left_codes = rx.codes(inst.tree.left, form.expand)
            rule_code = left_codes[0] if left_codes else None
            params: dict[str, Any] = {"message": res.message("zh"), "message_en": res.message("en"), "cells": cells}
            if inst.explainable:
                if explanations is None:
                    explanations = _explanations(raw, lay)
                if explanations.get(inst.id):
                    params["explanation"] = explanations[inst.id]
            result.issues.append(Issue("rule", inst.severity, params,
                                       code=rule_code, cell=lay.cells[rule_code].address if rule_code in lay.cells else None, rule=inst.id))
    if any(inst.prev_reads and inst.explainable for inst in form.instances):
        given = explanations if explanations is not None else _explanations(raw, lay)
        result.prev_explanations = {i.id: given[i.id] for i in form.instances if i.prev_reads and i.explainable and given.get(i.id)}


@dataclass(frozen=True)
class _InputCell:
    """An input cell of a layout with what the reading loop asks of it, worked out once per form."""
    fast: tuple[str, int, int, bytes, ValueSpec, bool, bool, int | None]  # code, row, col, ref, spec, no min/max, integer, places
    label: str
    address: str


_PLANS: dict[tuple[int, int], tuple[Layout, Form, list[tuple[SheetLayout, list[tuple[str, int, int, str]], list[_InputCell]]]]] = {}


def _input_plan(lay: Layout, form: Form) -> list[tuple[SheetLayout, list[tuple[str, int, int, str]], list[_InputCell]]]:
    """Per sheet: its computed cells (code, row, col, address) and its input cells, in layout order.

    The same few hundred cells are looked up for every workbook of a form; doing the lookups (the
    indicator, its spec, its reference as the sheet scan keys it) once keeps the per-file loop short.
    """
    hit = _PLANS.get((id(lay), id(form)))
    if hit is not None and hit[0] is lay and hit[1] is form:
        return hit[2]
    plan = []
    for sl in lay.sheets:
        computed: list[tuple[str, int, int, str]] = []
        inputs: list[_InputCell] = []
        for code, (row, col) in sl.inputs.items():
            ind = form.indicators[code]
            address = lay.cells[code].address
            if ind.computed:
                computed.append((code, row, col, address))
                continue
            spec = ind.spec
            inputs.append(_InputCell((code, row, col, _ref_bytes(row, col), spec, spec.min is None and spec.max is None,
                                      spec.type == "integer", spec.places if spec.type == "decimal" else None),
                                     ind.label, address))
        plan.append((sl, computed, inputs))
    if len(_PLANS) > 64:
        _PLANS.clear()
    _PLANS[(id(lay), id(form))] = (lay, form, plan)
    return plan


def _remember(result: Result, code: str, value: Any, facts: Any, row: int, col: int) -> None:
    """Keep what an input cell held when it is more than a plain number or blank."""
    ref = _ref_bytes(row, col)
    formula = facts.formula(ref) if facts is not None else None
    error = facts.errors.get(ref) if facts is not None else None
    if formula is not None or error is not None or not (value is None or value == "" or type(value) is float):
        result.found[code] = FoundCell(value=value, formula=formula, error=error)


def _explanations(raw: RawWorkbook, lay: Layout) -> dict[str, str]:
    """The 审核说明 the agency typed on the 审核 sheet, by rule instance id (blank ones left out)."""
    if CHECKS_SHEET not in raw.sheet_names:
        return {}
    facts = raw.facts.sheets.get(CHECKS_SHEET)
    if facts is not None and facts.explained is False:
        return {}                   # the package scan saw nothing in the column: no need to open the sheet
    grid = raw.grid(CHECKS_SHEET)
    out: dict[str, str] = {}
    for inst_id, row in lay.check_rows.items():
        text = _cell(grid, row, EXPLANATION_COL)
        if isinstance(text, float):
            text = rx.format_number(text)
        text = " ".join(str(text or "").split())[:EXPLANATION_MAX]
        if text:
            out[inst_id] = text
    return out


_PREFILL_IDENTITY = {"agency.code": "agency_code", "agency.name": "agency_name", "agency.group": "agency_group", "period": "period"}


def _check_prefill(raw: RawWorkbook, f: Field, typed: Any, cell: str, result: Result) -> None:
    """A prefilled (locked) header field must still say what the identity says: who reports."""
    attr = _PREFILL_IDENTITY.get(f.prefill or "")
    want = getattr(raw.identity, attr, "") if attr else ""
    if not want or typed is None:
        return
    got = _norm(typed if not isinstance(typed, (dt.date, dt.datetime)) else typed.isoformat()[:10])
    if got != _norm(want):
        result.issues.append(Issue("prefill_altered", "error", {"label": f.label, "raw": got[:40], "value": want},
                                   code=f.code, cell=cell))


_REFS: dict[tuple[int, int], bytes] = {}


def _ref_bytes(row: int, col: int) -> bytes:
    """(11, 2) → b"C12", the key the sheet scan uses (memoised: the same cells every workbook)."""
    ref = _REFS.get((row, col))
    if ref is None:
        ref = _REFS[(row, col)] = a1(row, col).encode()
    return ref


def _cell(grid: list[list[Any]], row: int, col: int) -> Any:
    if row < len(grid) and col < len(grid[row]):
        return grid[row][col]
    return ""


def _verify_sheets(raw: RawWorkbook, lay: Layout, result: Result) -> None:
    expected = lay.sheet_names
    names = raw.sheet_names
    missing = [s for s in expected if s not in names]
    if missing:
        extra = [s for s in names if s not in expected and not s.startswith("_")]
        hint = f"，多出「{extra[0]}」（可能被改名）" if extra else ""
        hint_en = f"; found {extra[0]!r} instead (renamed?)" if extra else ""
        raise Rejected(f"缺少工作表「{missing[0]}」{hint}", f"sheet {missing[0]!r} is missing{hint_en}")
    added = [s for s in names if s not in expected and s not in (IDENTITY_SHEET, "_lists", PREV_SHEET, RETURN_SHEET)]
    if added:
        raise Rejected(f"多出了工作表「{added[0]}」（模板的工作表不能增删）", f"an extra sheet {added[0]!r} was added")
    order = [s for s in names if s in expected]
    if order != expected:
        result.issues.append(Issue("sheet_order", "warning"))
    vis = raw.visibility.get(IDENTITY_SHEET)
    if vis == "visible":
        result.issues.append(Issue("identity_hidden", "warning"))
    if "sheet" not in raw.identity_sources:
        result.issues.append(Issue("identity_sheet_missing", "warning"))


def _norm(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFC", str(value)).strip()


def _verify_texts(raw: RawWorkbook, lay: Layout) -> None:
    period = raw.identity.period
    for sl in lay.sheets:
        grid = raw.grid(sl.name)
        diffs: list[tuple[int, int, str, str]] = []
        for t in sl.texts:
            value = grid[t.row][t.col] if t.row < len(grid) and t.col < len(grid[t.row]) else ""
            if value == t.text:
                continue
            found = _norm(value)
            if found != t.text.strip():
                diffs.append((t.row, t.col, t.text, found))
        if diffs:
            row, col, want, got = diffs[0]
            shifted = _find_label(grid, want, row)
            hint_zh = f"（该标签现在在第 {shifted + 1} 行，可能插入或删除了行）" if shifted is not None and shifted != row else ""
            hint_en = f" (that label is now on row {shifted + 1}: rows inserted or deleted?)" if shifted is not None and shifted != row else ""
            more = f"，另有 {len(diffs) - 1} 处不同" if len(diffs) > 1 else ""
            more_en = f"; {len(diffs) - 1} more difference(s)" if len(diffs) > 1 else ""
            raise Rejected(f"表格结构被改动：「{sl.name}」第 {row + 1} 行（{a1(row, col)}）应为“{want}”，实际为“{got}”{hint_zh}{more}",
                           f"the form was altered: {sl.name}!{a1(row, col)} row {row + 1}: expected {want!r}, found {got!r}{hint_en}{more_en}")
        merged = raw.merged.get(sl.name) or []
        inputs = set(sl.inputs.values())
        for (r0, c0), (r1, c1) in merged:
            area = (r1 - r0 + 1) * (c1 - c0 + 1)
            if area > 1:
                if area <= 4 * len(inputs):
                    covered = [(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1) if (r, c) in inputs]
                else:
                    covered = sorted((r, c) for (r, c) in inputs if r0 <= r <= r1 and c0 <= c <= c1)
                if covered:
                    r, c = covered[0]
                    raise Rejected(f"「{sl.name}」{a1(r0, c0)}:{a1(r1, c1)} 被合并，覆盖了填报格子 {a1(r, c)}",
                                   f"{sl.name}!{a1(r0, c0)}:{a1(r1, c1)} was merged over the input cell {a1(r, c)}")
        if period:
            found = _norm(_cell(grid, sl.period_row, 0))
            if found and period not in found:
                raise Rejected(f"「{sl.name}」的报告期被改动（应为 {period}，实际为“{found}”）",
                               f"the reporting period on {sl.name} was altered (expected {period}, found {found!r})")


def _find_label(grid: list[list[Any]], text: str, near: int = 0) -> int | None:
    """The row holding ``text`` in column A closest to ``near`` (a title may repeat further up)."""
    rows = [r for r, row in enumerate(grid[:2000]) if row and _norm(row[0]) == text.strip()]
    return min(rows, key=lambda r: abs(r - near)) if rows else None


def _package_warnings(raw: RawWorkbook, lay: Layout, result: Result) -> None:
    facts = raw.facts
    if facts.kind in ("xlsx", "xlsm"):
        for sl in lay.sheets:
            sf = facts.sheets.get(sl.name)
            if sf is not None and not sf.protected:
                result.issues.append(Issue("protection_removed", "warning", {"sheet": sl.name}, cell=f"{sl.name}!A1"))
        if facts.structure_locked is False:
            result.issues.append(Issue("structure_unlocked", "warning"))
    if facts.macros:
        result.issues.append(Issue("macros", "warning"))
    if facts.external_links:
        result.issues.append(Issue("external_links", "warning"))


def _take_formula(value: Any, facts: Any, row: int, col: int, label: str, code: str, cell: str, result: Result) -> Any:
    """Input cells should hold values; a typed formula gives its cached value, with a warning."""
    if facts is None:
        return value
    ref = _ref_bytes(row, col)
    err = facts.errors.get(ref)
    formula = facts.formula(ref)
    if formula is not None:
        shown = ("=" + formula)[:80]
        if _EXTERNAL.search(formula):
            result.issues.append(Issue("formula_external", "error", {"label": label, "formula": shown}, code=code, cell=cell))
            return Skip
        if err is None and (value == "" or value is None):
            result.issues.append(Issue("formula_no_value", "error", {"label": label, "formula": shown}, code=code, cell=cell))
            return Skip
        if err is None:
            result.issues.append(Issue("formula_cached", "warning", {"label": label, "formula": shown, "value": show(value)}, code=code, cell=cell))
    if err is not None:
        return ErrorValue(err)
    return value



def iter_workbooks(paths: list[str]) -> list[Path]:
    """Files named directly, and every workbook under the folders named (sorted, recursive).

    Only the files: :func:`toolkit.discover.find_inputs` also says why every other path is not
    read, and opens .zip archives (the commands use that)."""
    from .discover import find_inputs

    return find_inputs(paths, open_archives=False).files
