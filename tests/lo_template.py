"""Helpers for the LibreOffice template tests: filling operations, snapshots of the live checks, the Python verdicts they must match."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libreoffice
import pytest

from toolkit.checks import run_rules
from toolkit.formulas import a1
from toolkit.layout import CHECKS_FIRST_ROW, Layout, layout_of
from toolkit.roster import Agency
from toolkit.schema import Form
from toolkit.sheets import CHECKS_SHEET, NOT_APPLICABLE_MARK, PASS_MARK
from toolkit.template import TemplateRequest, build_template, check_cell_text

PASSWORD = "secret"


AGENCY = Agency("D001", "市发展和改革局", "政府部门", 2)


HEADER = {"filler": "张三", "phone": "0574-62345678"}


FILL_DATE = "2024-01-31"


# Form B: the county's published 2023 figures (docs: formats.md), completed so that every column
# balances: 一 + 二 = 三（七） + 四. Totals are formula cells and are not typed.
FORM_B_VALUES: dict[str, float] = {
    "B2_norm.made": 3, "B2_norm.repealed": 6, "B2_norm.valid": 14,
    "B2_permit.count": 54408, "B2_punish.count": 2086, "B2_force.count": 1272, "B2_fee.amount": 14722.49,
    "B3_new.np": 140, "B3_new.biz": 3, "B3_carry.np": 5,
    "B3_r1.np": 100, "B3_r1.biz": 2, "B3_r2.np": 10, "B3_r3_4.np": 3, "B3_r4_1.np": 12, "B3_r5_2.np": 5,
    "B3_next.np": 15, "B3_next.biz": 1,
    "B4.ld_keep": 2, "B4.ld_other": 1,
}


# a 上年结转 in the 商业企业 column the results do not account for: 3 + 4 ≠ 2 + 1
FORM_B_BREAK = {"B3_carry.biz": 4}


# Form A: the seed report's statistics table (市科协, 2017); blank where the report is blank.
FORM_A_VALUES: dict[str, float] = {
    "A1_1": 100, "A1_1a": 33, "A1_1b": 33,
    "A1_2_1": 0, "A1_2_2": 639, "A1_2_3": 90, "A1_2_4": 90, "A1_2_5": 543,
    "A2_1": 0, "A2_2_1": 0, "A2_2_1a": 0, "A2_2_2": 0, "A2_2_2a": 0, "A2_2_3": 0, "A2_2_4": 0, "A2_2_5": 0,
    "A3_1_1": 0, "A3_1_2": 0, "A3_1_3": 0, "A3_1_4": 0, "A3_2_1": 0, "A3_2_2": 0,
    "A3_3_1": 0, "A3_3_2": 0, "A3_3_3": 0, "A3_3_4": 0,
    "A3_3_4a": 0, "A3_3_4b": 0, "A3_3_4c": 0, "A3_3_4d": 0, "A3_3_4e": 0, "A3_3_4f": 0,
    "A3_3_5": 0, "A3_3_6": 0, "A3_3_7": 0, "A3_3_8": 0,
    "A4_1": 0, "A4_2": 0, "A4_3": 0, "A5_1": 0, "A5_2": 0, "A5_3": 0, "A6": 0, "A7": 0,
    "A8_1": 1, "A8_2": 2, "A8_3_1": 0, "A8_3_2": 3, "A9_3": 2,
}


# 其中：主动公开规范性文件数 larger than the 主动公开政府信息数 it is part of (a warning)
FORM_A_BREAK = {"A1_1a": 120}


def set_ops(lay: Layout, values: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for code, v in values.items():
        c = lay.cells[code]
        ops.append({"op": "set", "sheet": c.sheet, "cell": a1(c.row, c.col), "value": v})
    return ops


def header_ops(lay: Layout) -> list[dict[str, Any]]:
    def cell(code: str) -> tuple[str, str]:
        c = lay.field_cells[code]
        return c.sheet, a1(c.row, c.col)
    ops: list[dict[str, Any]] = []
    for code, text in HEADER.items():
        sheet, addr = cell(code)
        ops.append({"op": "set", "sheet": sheet, "cell": addr, "value": text})
    sheet, addr = cell("fill_date")
    ops.append({"op": "input", "sheet": sheet, "cell": addr, "text": FILL_DATE})  # as typed
    return ops


def read_ops(form: Form) -> list[dict[str, Any]]:
    """Read every check result, status line and computed cell."""
    lay = layout_of(form)
    last = CHECKS_FIRST_ROW + len(form.instances)
    ops: list[dict[str, Any]] = [{"op": "read", "sheet": CHECKS_SHEET, "range": f"D{CHECKS_FIRST_ROW + 1}:D{last}", "cells": ["A2"]}]
    for sl in lay.sheets:
        cells = [a1(sl.status_row, 0)] + [a1(r, c) for (r, c) in sl.checks]
        cells += [a1(*sl.inputs[code]) for code in form.computed if code in sl.inputs]
        ops.append({"op": "read", "sheet": sl.name, "cells": cells})
    return ops


@dataclass
class Snapshot:
    """What LibreOffice shows after recalculation."""
    checks: dict[str, str]                       # rule instance id → text in 审核!D
    status: str                                  # 审核!A2
    sheet_status: dict[str, str]                 # fill sheet → its status line
    check_cells: dict[tuple[str, str], str]      # (sheet, A1) → text in the 审核提示 column
    computed: dict[str, float] = field(default_factory=dict)


def snapshot(form: Form, results: list[Any]) -> Snapshot:
    lay = layout_of(form)
    checks_sheet, *sheets = results
    checks = {inst.id: checks_sheet[a1(lay.check_rows[inst.id], 3)]["string"] for inst in form.instances}
    snap = Snapshot(checks=checks, status=checks_sheet["A2"]["string"], sheet_status={}, check_cells={})
    for sl, got in zip(lay.sheets, sheets):
        snap.sheet_status[sl.name] = got[a1(sl.status_row, 0)]["string"]
        for (r, c) in sl.checks:
            snap.check_cells[(sl.name, a1(r, c))] = got[a1(r, c)]["string"]
        for code in form.computed:
            if code in sl.inputs:
                cell = got[a1(*sl.inputs[code])]
                assert cell["kind"] == "formula" and cell.get("error", 0) == 0, (code, cell)
                snap.computed[code] = cell["value"]
    return snap


def expected_status(results, missing: tuple[str, ...] = ()) -> str:
    errors = sum(1 for r in results if r.failed and r.instance.severity == "error")
    warnings = sum(1 for r in results if r.failed and r.instance.severity == "warning")
    if errors == 0 and not missing:
        return f"审核结果：{PASS_MARK} 全部通过" if warnings == 0 else f"审核结果：{PASS_MARK} 无错误，{warnings} 项提示请核实"
    ask = ("请填写：" + "、".join(missing) + ("；" if errors or warnings else "")) if missing else ""
    if errors:
        extra = f"、{warnings} 项提示" if warnings else ""
        return f"审核结果：✗ {ask}{errors} 项错误{extra}，见右侧「审核提示」列和「审核」表"
    return f"审核结果：✗ {ask}" + (f"{warnings} 项提示请核实" if warnings else "")


def assert_matches_python(form: Form, values: dict[str, Any], snap: Snapshot, missing: tuple[str, ...] = ()) -> list:
    """LibreOffice's live checks equal run_rules over the same values: statuses, messages, totals."""
    results = run_rules(form, values)
    lay = layout_of(form)
    want = {r.instance.id: (r.message() if r.failed else PASS_MARK if r.status == "pass" else NOT_APPLICABLE_MARK)
            for r in results}
    assert snap.checks == want
    assert snap.status == expected_status(results, missing)
    assert set(snap.sheet_status.values()) == {snap.status}
    by_id = {r.instance.id: r for r in results}
    for sl in lay.sheets:
        for (r, c), insts in sl.checks.items():
            fails = [by_id[i.id] for i in insts if by_id[i.id].failed]
            cell_want = check_cell_text([x.message() for x in fails])
            assert snap.check_cells[(sl.name, a1(r, c))] == cell_want, (sl.name, a1(r, c))
    computed = form.compute({k: v for k, v in values.items() if k not in form.computed})
    assert snap.computed == pytest.approx(computed)
    return results


def template_file(form: Form, tmp: Path) -> Path:
    p = tmp / f"{form.id}.xlsx"
    p.write_bytes(build_template(form, TemplateRequest(agency=AGENCY, password=PASSWORD,
                                                       template_id="0" * 32, generated_at="2024-01-02T03:04:05+00:00")))
    return p


class Run:
    """One LibreOffice job over one template: fill, check, save, break one identity, check, save."""

    def __init__(self, lo: libreoffice.LibreOffice, form: Form, values: dict[str, Any], broken: dict[str, Any], tmp: Path):
        self.form, self.values, self.tmp = form, values, tmp
        self.broken_values = {**values, **broken}
        lay = layout_of(form)
        self.template = template_file(form, tmp)
        self.saved = {fmt: tmp / f"filled.{fmt}" for fmt in ("xlsx", "xls", "ods")}
        self.saved_broken = tmp / "broken.xlsx"
        reads = read_ops(form)
        ops = [{"op": "open", "path": str(self.template)}, {"op": "calc"}, *reads,
               *header_ops(lay), *set_ops(lay, values), {"op": "calc"}, *reads,
               *({"op": "save", "path": str(p), "format": fmt} for fmt, p in self.saved.items()),
               *set_ops(lay, broken), {"op": "calc"}, *reads,
               {"op": "save", "path": str(self.saved_broken), "format": "xlsx"},
               {"op": "close"}]
        results = lo.run(ops)
        n = len(reads)
        i = 2
        self.blank = snapshot(form, results[i:i + n])
        i += n
        self.header = results[i:i + len(HEADER) + 1]
        i += len(HEADER) + 1 + len(values) + 1
        self.filled = snapshot(form, results[i:i + n])
        i += n + len(self.saved) + len(broken) + 1
        self.broken = snapshot(form, results[i:i + n])


def expected_inputs(form: Form, sl) -> dict[str, Any]:
    out = {}
    for code, (row, col) in sl.inputs.items():
        if not form.indicators[code].computed:
            out[a1(row, col)] = form.indicators[code].spec
    for f in form.header:
        if f.code in sl.fields and not (f.locked and f.prefill):
            out[a1(*sl.fields[f.code][:2])] = f.spec
    return out


DV_TYPES = {"integer": {"whole"}, "decimal": {"custom", "decimal"}, "date": {"date"}, "text": {"textLength"}, "choice": {"list"}}


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])
