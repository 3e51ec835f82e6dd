"""Last year's figures per agency, from whatever last year's collection left behind.

A cross-period rule (``prev(code)`` in a schema) and the 上年数 / 上年 columns need the same
agency's values of the previous period. An office keeps one of three things from last year:

- the summary workbook the toolkit wrote (its 明细 sheet: one row per agency, with a hidden row
  of indicator codes above the headings — read by those codes, never by position or label);
- the JSON export of that summary (``toolkit.export.consolidation_json``);
- the folder of last year's returns (checked again, without the period check).

All three become one :class:`Previous`: agency code → indicator code → value. A blank previous
value stays ``None``, and a rule reading it is "not applicable", never a false error.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import rules as rx
from .errors import InputProblem

__all__ = ["Previous", "PreviousProblem", "apply_previous", "load_previous"]

Values = dict[str, "float | None"]


class PreviousProblem(InputProblem):
    """Last year's figures cannot be used: unreadable, not written by the toolkit, another form."""


@dataclass
class Previous:
    """The previous period's figures of every agency found, and where they came from."""
    source: str
    kind: str                          # "summary" | "json" | "returns"
    form_id: str
    form_version: str
    period: str
    values: dict[str, Values] = field(default_factory=dict)   # agency code → indicator code → value
    names: dict[str, str] = field(default_factory=dict)       # agency code → name (for listings)
    totals: dict[str, float | None] = field(default_factory=dict)  # last year's consolidated totals (上年 columns)

    def of(self, agency_code: str) -> Values | None:
        """The agency's figures last year, or None when it did not report (or was not counted)."""
        return self.values.get(agency_code)

    def prev_values(self, agency_code: str) -> dict[str, float | None]:
        """The agency's figures keyed as ``prev(code)`` reads them (:func:`toolkit.rules.prev_key`)."""
        return {rx.prev_key(c): v for c, v in (self.of(agency_code) or {}).items()}

    def absent(self, results: Sequence[Any]) -> list[tuple[str, str]]:
        """(code, name) of every agency among the readable ``results`` with no figures last year."""
        out: dict[str, str] = {}
        for r in results:
            ident = r.identity
            if r.status != "rejected" and ident is not None and ident.agency_code and self.of(ident.agency_code) is None:
                out.setdefault(ident.agency_code, ident.agency_name)
        return list(out.items())

    def check_form(self, form_id: str, period: str = "") -> None:
        """Refuse figures of another form, or of a period that is not before ``period``."""
        if self.form_id and form_id and self.form_id != form_id:
            raise PreviousProblem(f"{self.source}：上年数据属于表单 {self.form_id}，本次是 {form_id}，无法对照",
                                  f"{self.source}: last year's figures are of form {self.form_id}, not {form_id}")
        a, b = _year(self.period), _year(period)
        if a is not None and b is not None and a >= b:
            raise PreviousProblem(f"{self.source}：上年数据是 {self.period} 的，本次收集的是 {period}，不是上一期",
                                  f"{self.source}: the figures given as last year's are for {self.period}; this collection is for {period}")


def _year(period: str) -> int | None:
    m = re.match(r"\s*(\d{4})", period or "")
    return int(m.group(1)) if m else None


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None or v == "":
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v).strip())
    except ValueError:
        return None


# ---------------------------------------------------------------------------- loading

def load_previous(path: str | os.PathLike[str], forms: Any = None, schema_dirs: Iterable[Any] = ()) -> Previous:
    """Last year's figures from a summary workbook, its JSON export, or a folder of returns.

    ``forms`` / ``schema_dirs`` are as for :func:`toolkit.check` (needed to read returns of a form
    of one's own). Raises :class:`PreviousProblem` (one line naming the file) when it cannot be used.
    """
    p = Path(path)
    if not p.exists():
        raise PreviousProblem(f"{p}：找不到上年数据（文件或文件夹不存在）", f"{p}: last year's figures not found (no such file or folder)")
    if p.is_dir():
        return _from_returns(p, forms, schema_dirs)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return _from_json(p)
    if suffix in (".xlsx", ".xlsm"):
        return _from_summary(p)
    raise PreviousProblem(f"{p}：上年数据应为汇总表（.xlsx）、其 JSON 导出或上年报表所在的文件夹",
                          f"{p}: give last year's summary workbook (.xlsx), its JSON export, or the folder of last year's returns")


def _from_json(p: Path) -> Previous:
    try:
        doc = json.loads(p.read_text(encoding="utf-8-sig"))
        schema = doc["schema"]
        agencies = doc["agencies"]
        if not isinstance(agencies, list):
            raise TypeError("agencies")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise PreviousProblem(f"{p}：不是本工具导出的汇总 JSON（{type(e).__name__}）",
                              f"{p}: not a summary JSON written by toolkit ({type(e).__name__}: {e})") from None
    prev = Previous(str(p), "json", str(schema.get("id", "")), str(schema.get("version", "")), str(doc.get("period", "")))
    rows = [(str(a.get("code", "")), str(a.get("name", "")), bool(a.get("used")), a.get("values") or {})
            for a in agencies if isinstance(a, dict)]
    _take_rows(prev, rows)
    prev.totals = {c: _number(v) for c, v in (doc.get("totals") or {}).items()}
    return prev


def _take_rows(prev: Previous, rows: Sequence[tuple[str, str, bool, Mapping[str, Any]]]) -> None:
    """Per agency: the row counted in last year's totals; else one with figures (an invalid return)."""
    for code, name, used, values in sorted(rows, key=lambda r: not r[2]):
        if not code or code.startswith("?") or code in prev.values:
            continue
        numbers = {c: _number(v) for c, v in values.items()}
        if used or any(v is not None for v in numbers.values()):
            prev.values[code] = numbers
            prev.names[code] = name


def _from_summary(p: Path) -> Previous:
    from python_calamine import CalamineWorkbook

    from .summary import DETAIL_CODES, DETAIL_FIRST, DETAIL_SHEET, FIXED_CODES, TOTAL_LABEL

    try:
        wb = CalamineWorkbook.from_path(str(p))
        if DETAIL_SHEET not in wb.sheet_names:
            raise PreviousProblem(f"{p}：没有「{DETAIL_SHEET}」表，不是本工具生成的汇总表",
                                  f"{p}: has no {DETAIL_SHEET} sheet; not a summary workbook written by toolkit")
        grid = wb.get_sheet_by_name(DETAIL_SHEET).to_python(skip_empty_area=False)
    except PreviousProblem:
        raise
    except Exception as e:      # calamine raises its own types for damaged files
        raise PreviousProblem(f"{p}：无法读取上年汇总表（{type(e).__name__}）", f"{p}: cannot read last year's summary ({e})") from None
    head = grid[DETAIL_CODES] if len(grid) > DETAIL_CODES else []
    codes = [str(c).strip() if c is not None else "" for c in head]
    if codes[:len(FIXED_CODES)] != list(FIXED_CODES):
        raise PreviousProblem(f"{p}：「{DETAIL_SHEET}」表的指标代码行缺失或被改动，无法按代码读取",
                              f"{p}: the {DETAIL_SHEET} sheet's row of indicator codes is missing or altered")
    form_id, version, period = _summary_identity(p)
    prev = Previous(str(p), "summary", form_id, version, period)
    at = {c: j for j, c in enumerate(codes)}
    fixed = set(FIXED_CODES)
    rows = []
    ended = False
    for line in grid[DETAIL_FIRST:]:
        code = str(line[0]).strip() if line and line[0] is not None else ""
        if len(line) > 1 and str(line[1] or "").startswith(TOTAL_LABEL):
            prev.totals = {c: _number(line[j]) for c, j in at.items() if c and c not in fixed and j < len(line)}
        if not code:
            ended = True       # the detail ends at the blank row above the subtotals
        if ended:
            continue
        values = {c: line[j] for c, j in at.items() if c and c not in fixed and j < len(line)}
        rows.append((code, str(line[at["agency_name"]] or ""), str(line[at["used"]]).strip() == "是", values))
    _take_rows(prev, rows)
    return prev


def _summary_identity(p: Path) -> tuple[str, str, str]:
    """Form id, version and period from the summary's document properties ("… — id version")."""
    try:
        with zipfile.ZipFile(p) as z:
            core = z.read("docProps/core.xml").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return "", "", ""
    m = re.search(r"<dc:subject>(.*?)</dc:subject>", core, re.S)
    subject = m.group(1) if m else ""
    ident = re.search(r"—\s*(\S+)\s+(\S+)\s*$", subject)
    period = re.search(r"（(\d{4}[^）]*)）", subject)
    return (ident.group(1) if ident else "", ident.group(2) if ident else "", period.group(1) if period else "")


def _from_returns(p: Path, forms: Any, schema_dirs: Iterable[Any]) -> Previous:
    from .api import check, registry_of
    from .consolidation import choose_form, consolidate
    from .period import collection_periods

    registry = registry_of(forms, schema_dirs)
    results = check([p], registry, check_period=False)
    form = choose_form(results, registry)
    c = consolidate(results, form, None, include_invalid=True)
    prev = Previous(str(p), "returns", form.id, form.version, collection_periods(results).get(form.id, ""))
    rows = [(s.code, s.name, s.used, s.result.values) for s in c.submissions
            if s.result.status != "rejected" and s.status != "duplicate"]
    _take_rows(prev, [(code, name, used, {k: v for k, v in vals.items() if k in form.indicators}) for code, name, used, vals in rows])
    prev.totals = dict(c.totals)
    return prev


# ---------------------------------------------------------------------------- using

def apply_previous(results: Sequence[Any], previous: Previous, registry: Any) -> list[tuple[str, str]]:
    """Run every prev() rule of each return against its agency's figures of last year (in place).

    A rule failing adds a rule issue just as the reader's own checks do (with both numbers in its
    message) and turns a valid return with a failed error rule invalid. Applying twice (check, then
    merge of those results) gives the same issues once. Returns the agencies of the returns that
    had no figures last year, as (code, name): listed, not errors.
    """
    from .checks import evaluate_instance, with_computed
    from .issues import Issue
    from .layout import layout_of

    absent: list[tuple[str, str]] = []
    checked_forms: set[str] = set()
    for r in results:
        ident = r.identity
        if r.status == "rejected" or ident is None or not ident.schema_id:
            continue
        try:
            form = registry.get(ident.schema_id, ident.schema_version)
        except Exception:       # an unknown form was already rejected by the reader
            continue
        if form.id not in checked_forms:
            previous.check_form(form.id, ident.period)
            checked_forms.add(form.id)
        insts = [i for i in form.instances if i.prev_reads]
        if not insts:
            continue
        ids = {i.id for i in insts}
        r.issues = [i for i in r.issues if not (i.kind == "rule" and i.rule in ids)]
        last = previous.of(ident.agency_code)
        if last is None:
            absent.append((ident.agency_code, ident.agency_name))
            r.status = "invalid" if r.errors else "valid"
            continue
        numbers = {c: _number(v) for c, v in r.values.items() if c in form.indicators and form.indicators[c].spec.numeric}
        values = {**with_computed(form, numbers), **previous.prev_values(ident.agency_code)}
        lay = layout_of(form)
        for inst in insts:
            res = evaluate_instance(form, inst, values)
            if not res.failed:
                continue
            left = rx.codes(inst.tree.left, form.expand)
            code = left[0] if left else None
            cells = [lay.cells[c].address for c in inst.reads if c in lay.cells]
            params: dict[str, Any] = {"message": res.message("zh"), "message_en": res.message("en"), "cells": cells}
            if inst.explainable and getattr(r, "prev_explanations", {}).get(inst.id):
                params["explanation"] = r.prev_explanations[inst.id]     # the agency's 审核说明
            r.issues.append(Issue("rule", inst.severity, params,
                                  code=code, cell=lay.cells[code].address if code in lay.cells else None, rule=inst.id))
        r.status = "invalid" if r.errors else "valid"
    return absent
