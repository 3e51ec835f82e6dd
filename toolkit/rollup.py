"""A summary workbook read back as the submissions of the agencies it counts (summaries of summaries).

A city office receives its counties' summaries, not every agency's workbook. A summary the toolkit
wrote carries an identity like a template's (very hidden sheet and document properties, format
``toolkit-summary/1``): form, version, period, the office that made it, the codes of the agencies
it counts, and a sha256 digest of that identity and of the counted rows of its 明细 sheet.

Reading one is as suspicious as reading a return — the same package checks and worker isolation,
since it comes through :func:`toolkit.validate.check_file`. A summary is refused, with one line,
when its 明细 columns are not the form's, a counted figure is not a number, a computed figure or a
total on the 汇总 sheets does not equal what the counted rows add up to, the agencies in the
identity are not the counted rows, or the digest does not match (a figure and its total edited
together, or the identity edited in both copies). The digest is not a signature — whoever runs this
code can forge one — which is why every counted row also names, on the 来源 sheet, the sha256 of
the original return and of every summary it passed through.

What a summary contributes is its counted rows only (计入汇总 = 是), each as a ``Result`` of
kind ``"part"``; the higher merge decides afresh what counts (duplicates, roster, invalid).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .checks import evaluate_instance, with_computed
from .formulas import a1
from .identity import IDENTITY_FORMAT, SUMMARY_FORMAT, Identity
from .issues import Issue
from .layout import LAYOUT_VERSION, layout_of
from .package import Rejected
from .schema import Form
from .validate import Result

CHAIN_SEP = "  "     # a 经由 line is "sha256  file", as sha256sum prints it


@dataclass
class Record:
    """One counted agency as a summary's 明细 and 来源 hold it: the unit the digest is taken over."""
    code: str
    name: str
    group: str
    parent: str
    values: dict[str, Any]                    # header fields (text) and input indicators (numbers)
    chain: list[tuple[str, str]]              # (file, sha256): the original return first, the file that arrived last


def number(v: Any) -> int | float | None:
    """A figure as the digest sees it: a whole number as int (a spreadsheet stores every number as a
    float), a fraction to 15 significant digits (the workbook keeps 16, a typed 0.1 + 0.2 has 17)."""
    if v is None or v == "" or isinstance(v, bool):
        return None
    f = float(f"{float(v):.15g}")
    return int(f) if f.is_integer() and abs(f) < 2 ** 53 else f


def _text(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)


def digest(ident: Identity, records: Sequence[Record], form: Form) -> str:
    """sha256 over what the summary claims: its form, period, office, agencies and counted rows."""
    fields = [f.code for f in form.header if not f.prefill]
    inputs = [i.code for i in form.inputs if i.spec.numeric]
    body = {
        "identity": [ident.schema_id, ident.schema_version, ident.period, ident.office, ident.agencies],
        "rows": [[r.code, r.name, r.group, r.parent, [_text(r.values.get(c)) for c in fields],
                  [number(r.values.get(c)) for c in inputs], [list(x) for x in r.chain]] for r in records],
    }
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def chain_of(r: Result) -> list[tuple[str, str]]:
    """The files a submission's figures passed through, the original first and ``r.file`` last."""
    return [*r.sources, (r.file, r.sha256)]


def records_of(c: Any) -> list[Record]:
    """The counted rows of a consolidation, as the summary writes them."""
    return [Record(s.code, s.name, s.group, s.parent, dict(s.result.values), chain_of(s.result)) for s in c.used]


def collected_period(c: Any) -> str:
    """The period a consolidation is of: the one asked for, else the one most counted returns carry."""
    if c.period:
        return str(c.period)
    seen = Counter(s.result.identity.period for s in c.submissions
                   if s.status != "rejected" and s.result.identity and s.result.identity.period)
    return seen.most_common(1)[0][0] if seen else str(c.form.period_default or "")


def summary_identity(c: Any) -> Identity:
    """The identity written into a summary workbook (see the module docstring)."""
    from . import __version__

    form = c.form
    ident = Identity(format=SUMMARY_FORMAT, schema_id=form.id, schema_version=form.version, schema_hash=form.content_hash,
                     agency_code="", agency_name=c.office, agency_group="", period=collected_period(c),
                     template_id=uuid.uuid4().hex,
                     generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                     toolkit_version=__version__, layout_version=LAYOUT_VERSION, office=c.office,
                     agencies="\n".join(s.code for s in c.used))
    return dataclasses.replace(ident, detail_hash=digest(ident, records_of(c), form))


# ------------------------------------------------------------------------------------------ reading

def _refuse(zh: str, en: str) -> Rejected:
    return Rejected(f"汇总表被改动或不完整：{zh}", f"the summary workbook was altered or is incomplete: {en}")


def _grid(raw: Any, sheet: str) -> list[list[Any]]:
    if sheet not in raw.sheet_names:
        raise _refuse(f"缺少工作表「{sheet}」", f"the sheet {sheet!r} is missing")
    return raw.grid(sheet)


def _cell(grid: list[list[Any]], row: int, col: int) -> Any:
    return grid[row][col] if row < len(grid) and col < len(grid[row]) else ""


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def read_summary(raw: Any, form: Form, result: Result) -> None:
    """Check a summary workbook and fill ``result.parts`` with its counted agencies; raises Rejected."""
    from .consolidation import SUBMISSION_STATUS
    from .summary import DETAIL_CODES, DETAIL_FIRST, DETAIL_SHEET, FIXED_CODES, SOURCES_SHEET, detail_columns, summary_sheet_names

    ident = raw.identity
    fields, inds = detail_columns(form)
    want = [*FIXED_CODES, *(c for c, _ in fields), *(c for c, _ in inds)]
    grid = _grid(raw, DETAIL_SHEET)
    got = [str(v).strip() if v is not None else "" for v in (grid[DETAIL_CODES] if len(grid) > DETAIL_CODES else [])]
    got += [""] * max(0, len(want) - len(got))
    if got[:len(want)] != want or any(got[len(want):]):
        j = next((j for j, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), len(want))
        raise _refuse(f"「{DETAIL_SHEET}」的列被增删或移动（第 {j + 1} 列）", f"the columns of {DETAIL_SHEET} were changed (column {j + 1})")
    col = {code: j for j, code in enumerate(want)}
    input_codes = [i.code for i in form.inputs if i.spec.numeric]
    invalid_label = SUBMISSION_STATUS["invalid"]
    records: list[Record] = []
    lower_invalid: set[str] = set()
    row = DETAIL_FIRST
    while row < len(grid) and _cell(grid, row, 0) not in ("", None):
        if _cell(grid, row, col["used"]) == "是":
            code = str(_cell(grid, row, 0)).strip()
            values: dict[str, Any] = {}
            for c, _ in fields:
                values[c] = _text(_cell(grid, row, col[c]))
            for c in input_codes:
                v = _cell(grid, row, col[c])
                if not (v == "" or (isinstance(v, float) and not isinstance(v, bool))):
                    raise _refuse(f"「{DETAIL_SHEET}」{a1(row, col[c])} 应为数字，实际为“{str(v)[:40]}”",
                                  f"{DETAIL_SHEET}!{a1(row, col[c])} should be a number, found {str(v)[:40]!r}")
                values[c] = number(v)
            full = with_computed(form, {c: values[c] for c in input_codes})
            for c in form.computed:
                if c not in col:
                    continue
                shown = _cell(grid, row, col[c])
                if not _close(number(shown), full.get(c)) and not (shown == "" and full.get(c) in (None, 0)):
                    raise _refuse(f"「{DETAIL_SHEET}」{a1(row, col[c])} 显示 {shown}，按该单位各项计算应为 {full.get(c)}",
                                  f"{DETAIL_SHEET}!{a1(row, col[c])} shows {shown}; the agency's items give {full.get(c)}")
            values.update({c: full[c] for c in form.computed})
            records.append(Record(code, str(_cell(grid, row, col["agency_name"])), str(_cell(grid, row, col["agency_group"])),
                                  str(_cell(grid, row, col["agency_parent"])), values, []))
            if _cell(grid, row, col["status"]) == invalid_label:
                lower_invalid.add(code)
        row += 1
    codes = [r.code for r in records]
    twice = [c for c, n in Counter(codes).items() if n > 1]
    if twice:
        raise _refuse(f"单位 {twice[0]} 在「{DETAIL_SHEET}」中计入汇总两次", f"agency {twice[0]} is counted twice in {DETAIL_SHEET}")
    if codes != [c for c in ident.agencies.split("\n") if c]:
        raise _refuse(f"标识所列的单位与「{DETAIL_SHEET}」中计入汇总的单位不一致",
                      f"the agencies named in the identity are not the rows counted in {DETAIL_SHEET}")
    _check_totals(raw, form, records, summary_sheet_names(form))
    template_ids = _read_chains(_grid(raw, SOURCES_SHEET), records)
    if digest(ident, records, form) != ident.detail_hash:
        raise _refuse("标识或明细与校验值不符（数字或标识被改过）", "the identity or the detail does not match its digest (figures or identity edited)")
    result.parts = [_part(form, result, ident, r, r.code in lower_invalid, template_ids.get(r.code, "")) for r in records]


def _check_totals(raw: Any, form: Form, records: list[Record], names: dict[str, str]) -> None:
    """Every total on the 汇总 sheets equals what the counted rows add up to."""
    from .consolidation import _totals

    totals = _totals(form, [Result(file="", values=r.values) for r in records])
    for sl in layout_of(form).sheets:
        sheet = names[sl.name]
        grid = _grid(raw, sheet)
        for code, (row, col) in sl.inputs.items():
            if not form.indicators[code].spec.numeric:
                continue
            shown, want = _cell(grid, row, col), totals.get(code)
            ok = (shown == "" and want is None) if want is None else (isinstance(shown, float) and _close(shown, want))
            if not ok:
                raise _refuse(f"「{sheet}」{a1(row, col)} 的汇总数为 {shown if shown != '' else '空'}，「明细」计入汇总的各单位相加为 {number(want)}",
                              f"{sheet}!{a1(row, col)} shows {shown!r}, the counted rows of the detail add up to {number(want)}")


def _read_chains(grid: list[list[Any]], records: list[Record]) -> dict[str, str]:
    """Each counted agency's chain of files, from the 来源 sheet (its headings on row 2); returns
    the template id of each agency's original return, as that sheet names it."""
    head = [str(v).strip() for v in (grid[1] if len(grid) > 1 else [])]
    need = ("文件", "sha256", "单位代码", "计入汇总", "原始文件", "原始 sha256", "经由")
    if any(h not in head for h in need):
        raise _refuse("「来源」的列被改动", "the columns of the 来源 sheet were changed")
    j = {h: head.index(h) for h in need}
    chains: dict[str, list[tuple[str, str]]] = {}
    template_ids: dict[str, str] = {}
    for line in grid[2:]:
        def get(h: str, line: list[Any] = line) -> str:
            return str(line[j[h]]) if j[h] < len(line) and line[j[h]] is not None else ""
        if get("计入汇总") != "是":
            continue
        origin = (get("原始文件"), get("原始 sha256"))
        via = [(f, h) for h, _, f in (x.partition(CHAIN_SEP) for x in get("经由").split("\n") if x)]
        here = (get("文件"), get("sha256"))
        chains[get("单位代码")] = [origin, *via] + ([here] if here != origin else [])
        if "模板编号" in head:
            template_ids[get("单位代码")] = str(line[head.index("模板编号")] or "") if head.index("模板编号") < len(line) else ""
    for r in records:
        if r.code not in chains:
            raise _refuse(f"「来源」中没有单位 {r.code} 的来源", f"the 来源 sheet names no source for agency {r.code}")
        r.chain = chains[r.code]
    return template_ids


def _part(form: Form, summary: Result, ident: Identity, rec: Record, lower_invalid: bool, template_id: str = "") -> Result:
    """One counted agency of a summary as a submission: its figures, checked again by the form's rules."""
    issues: list[Issue] = []
    if lower_invalid:
        issues.append(Issue("lower_invalid", "error", {"office": ident.office or "下级"}))
    for inst in form.instances:
        res = evaluate_instance(form, inst, rec.values)
        if res.failed:
            issues.append(Issue("rule", inst.severity, {"message": res.message("zh"), "message_en": res.message("en"), "cells": []},
                                rule=inst.id))
    part_ident = dataclasses.replace(ident, format=IDENTITY_FORMAT, agency_code=rec.code, agency_name=rec.name,
                                     agency_group=rec.group, template_id=template_id, agencies="", detail_hash="")
    return Result(file=summary.file, sha256=summary.sha256, size=summary.size, mtime=summary.mtime,
                  status="invalid" if any(i.severity == "error" for i in issues) else "valid",
                  identity=part_ident, values=dict(rec.values), issues=issues, kind="part", sources=list(rec.chain))
