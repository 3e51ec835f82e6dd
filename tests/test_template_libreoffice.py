"""Templates in a real spreadsheet program: LibreOffice fills, recalculates and saves them.

The live checks are Excel formulas written by toolkit.layout; here LibreOffice calculates them and
the results must equal toolkit.checks.run_rules over the same figures — same failing rule
instances, same message text. Then the workbook LibreOffice saves must still carry the
protection, the validations and the identity the reader relies on.

One soffice runs for the whole session (tests/libreoffice.py); the tests are skipped, naming the
missing program, where soffice or the Python-UNO bridge is absent.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.cell.cell import MergedCell
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.protection import hash_password

import libreoffice
from toolkit.checks import run_rules
from toolkit.identity import PROPERTY_PREFIX, Identity
from toolkit.layout import (CHECKS_FIRST_ROW, CHECKS_SHEET, IDENTITY_SHEET, NOT_APPLICABLE_MARK, PASS_MARK, PREV_SHEET,
                            Layout, a1, layout_of)
from toolkit.roster import Agency
from toolkit.schema import Form, load_form, resolve
from toolkit.template import TemplateRequest, build_template, check_cell_text, identity_for

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


# ---------------------------------------------------------------------------- session
# ``lo``, the session's one LibreOffice, is a fixture of tests/conftest.py.


# ---------------------------------------------------------------------------- helpers

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


@pytest.fixture(scope="module")
def form_b() -> Form:
    return load_form(resolve("gov-info-disclosure-2021"))


@pytest.fixture(scope="module")
def form_a() -> Form:
    return load_form(resolve("gov-info-disclosure-2017"))


@pytest.fixture(scope="module")
def run_b(lo, form_b, tmp_path_factory) -> Run:
    return Run(lo, form_b, FORM_B_VALUES, FORM_B_BREAK, tmp_path_factory.mktemp("lo-2021"))


@pytest.fixture(scope="module")
def run_a(lo, form_a, tmp_path_factory) -> Run:
    return Run(lo, form_a, FORM_A_VALUES, FORM_A_BREAK, tmp_path_factory.mktemp("lo-2017"))


# ---------------------------------------------------------------------------- the figures themselves

def test_the_sample_figures_are_consistent_and_the_breaks_break(form_a, form_b):
    for form, values, broken in ((form_b, FORM_B_VALUES, FORM_B_BREAK), (form_a, FORM_A_VALUES, FORM_A_BREAK)):
        assert not any(code in form.computed for code in values), "only inputs are typed"
        assert not [r.instance.id for r in run_rules(form, values) if r.failed]
        assert [r for r in run_rules(form, {**values, **broken}) if r.failed]


# ---------------------------------------------------------------------------- (a)–(c) live checks

def test_blank_template_asks_for_the_required_fields_in_libreoffice(run_b, run_a):
    """No rule fails on a blank template, but it is not 全部通过: 填报人, 联系电话 and 填报日期 are still blank."""
    for run in (run_b, run_a):
        assert set(run.blank.checks.values()) <= {PASS_MARK, NOT_APPLICABLE_MARK}
        assert "全部通过" not in run.blank.status
        assert run.blank.status == "审核结果：✗ 请填写：填报人、联系电话、填报日期"
        assert_matches_python(run.form, {}, run.blank, ("填报人", "联系电话", "填报日期"))


def test_form_b_consistent_figures_pass(run_b, form_b):
    snap = run_b.filled
    assert set(snap.checks.values()) <= {PASS_MARK, NOT_APPLICABLE_MARK}, {k: v for k, v in snap.checks.items() if v != PASS_MARK}
    assert snap.status == "审核结果：✓ 全部通过"
    assert all(s.endswith("全部通过") for s in snap.sheet_status.values())
    # LibreOffice's totals are the Python ones: 143 new requests, 130 handled, 3 lawsuits
    assert snap.computed["B3_new.total"] == 143
    assert snap.computed["B3_r7.np"] == 130
    assert snap.computed["B4.ld_total"] == 3
    assert_matches_python(form_b, FORM_B_VALUES, snap)


def test_form_b_broken_identity_is_reported_with_both_numbers(run_b, form_b):
    snap = run_b.broken
    msg = snap.checks["t3-balance[biz]"]
    assert msg.startswith("商业企业：") and "7" in msg and "3" in msg and "≠" in msg, msg
    assert msg == "商业企业：本年新收 + 上年结转 7 ≠ 办理结果总计 + 结转下年度 3"
    results = assert_matches_python(form_b, run_b.broken_values, snap)
    failing_lo = {k for k, v in snap.checks.items() if v not in (PASS_MARK, NOT_APPLICABLE_MARK)}
    failing_py = {r.instance.id for r in results if r.failed}
    assert failing_lo == failing_py
    assert "t3-balance[biz]" in failing_lo
    assert snap.status.startswith(f"审核结果：✗ {len(failing_py)} 项错误")
    # the row of 一、本年新收 shows the problem right beside the figures
    lay = layout_of(form_b)
    sl = next(s for s in lay.sheets if "B3_new.np" in s.inputs)
    row = sl.inputs["B3_new.np"][0]
    assert msg + "；" in snap.check_cells[(sl.name, a1(row, sl.last_col))]


def test_form_a_seed_figures_pass(run_a, form_a):
    snap = run_a.filled
    assert set(snap.checks.values()) <= {PASS_MARK, NOT_APPLICABLE_MARK}
    assert snap.status == "审核结果：✓ 全部通过"
    assert snap.computed["A8_3"] == 3
    assert_matches_python(form_a, FORM_A_VALUES, snap)


def test_form_a_broken_part_is_a_warning(run_a, form_a):
    snap = run_a.broken
    results = assert_matches_python(form_a, run_a.broken_values, snap)
    failing = [r for r in results if r.failed]
    assert [r.instance.id for r in failing] == ["A1_1a-le"]
    assert "120" in snap.checks["A1_1a-le"] and "100" in snap.checks["A1_1a-le"]
    assert snap.status == "审核结果：✓ 无错误，1 项提示请核实"


def test_header_fields_take_text_and_a_typed_date(run_b):
    filler, phone, date = run_b.header
    assert filler["string"] == HEADER["filler"] and phone["string"] == HEADER["phone"]
    assert date["kind"] == "value" and date["string"] == FILL_DATE  # a real date, shown as yyyy-mm-dd


# ---------------------------------------------------------------------------- protection as LibreOffice sees it

def test_libreoffice_sees_protected_sheets_and_unlocked_inputs(lo, form_b, tmp_path):
    lay = layout_of(form_b)
    path = template_file(form_b, tmp_path)
    ops: list[dict[str, Any]] = [{"op": "open", "path": str(path)}, {"op": "info"}]
    for sl in lay.sheets:
        cells = [a1(*rc) for rc in sl.inputs.values()] + [a1(t.row, t.col) for t in sl.texts]
        cells += [a1(*sl.fields[f][:2]) for f in sl.fields]
        ops.append({"op": "protection", "sheet": sl.name, "cells": cells})
    ops.append({"op": "close"})
    info, *prot = lo.run(ops)[1:-1]
    assert all(s["protected"] for s in info["sheets"]), info["sheets"]
    hidden = [s["name"] for s in info["sheets"] if not s["visible"]]
    assert hidden == [IDENTITY_SHEET, PREV_SHEET]       # 2021: last year's figures for the cross-year checks
    for sl, got in zip(lay.sheets, prot):
        assert got["sheet_protected"]
        for code, rc in sl.inputs.items():
            assert got["cells"][a1(*rc)]["locked"] == form_b.indicators[code].computed, (sl.name, code)
        for t in sl.texts:
            assert got["cells"][a1(t.row, t.col)]["locked"], (sl.name, t.text)
        for f in form_b.header:
            if f.code in sl.fields:
                assert got["cells"][a1(*sl.fields[f.code][:2])]["locked"] == bool(f.locked and f.prefill), f.code


def test_typing_is_refused_on_locked_cells_but_not_through_the_api(lo, form_b, tmp_path):
    """Typing (the dispatcher, as a person would) honours protection; the UNO cell API does not.

    LibreOffice 7.4 headless aborts on the *second* refused keystroke of a process (it tries to show
    a message box), so this is the only test that types into a locked cell.
    """
    lay = layout_of(form_b)
    path = template_file(form_b, tmp_path)
    total = lay.cells["B3_new.total"]
    total_addr = a1(total.row, total.col)
    new = lay.cells["B3_new.np"]
    np_addr = a1(new.row, new.col)
    results = lo.run([
        {"op": "open", "path": str(path)},
        {"op": "type", "sheet": total.sheet, "cell": np_addr, "text": "12"},
        {"op": "type", "sheet": total.sheet, "cell": total_addr, "text": "999"},
        {"op": "set", "sheet": total.sheet, "cell": total_addr, "value": 5},
        {"op": "close"},
    ])
    typed_input, typed_locked, api_locked = results[1:4]
    assert typed_input["kind"] == "value" and typed_input["value"] == 12
    assert typed_locked["kind"] == "formula" and typed_locked["formula"].upper().startswith("=SUM(")
    assert typed_locked["value"] == 12  # refused: still the total of the row
    # the API writes anyway, so the worker must only ever write input cells
    assert api_locked["kind"] == "value" and api_locked["value"] == 5


# ---------------------------------------------------------------------------- (d) after LibreOffice saves

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


@pytest.fixture(params=["2021", "2017"])
def saved_run(request, run_b, run_a) -> Run:
    return run_b if request.param == "2021" else run_a


def test_libreoffice_xlsx_keeps_sheet_protection_and_unlocked_inputs(saved_run):
    form = saved_run.form
    wb = openpyxl.load_workbook(saved_run.saved["xlsx"])
    lay = layout_of(form)
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title
        # LibreOffice writes the legacy hash in lower case (daa7 for DAA7)
        assert (ws.protection.password or "").upper() == hash_password(PASSWORD), ws.title
    for sl in lay.sheets:
        ws = wb[sl.name]
        unlocked = {c.coordinate for row in ws.iter_rows() for c in row
                    if not c.protection.locked and not isinstance(c, MergedCell)}
        assert unlocked == set(expected_inputs(form, sl)), (sl.name, sorted(unlocked ^ set(expected_inputs(form, sl))))


def test_libreoffice_xlsx_keeps_validations(saved_run):
    form = saved_run.form
    wb = openpyxl.load_workbook(saved_run.saved["xlsx"])
    for sl in layout_of(form).sheets:
        ws = wb[sl.name]
        by_cell: dict[str, list] = {}
        for dv in ws.data_validations.dataValidation:
            for rng in dv.sqref.ranges:
                c0, r0, c1, r1 = range_boundaries(rng.coord)
                for r in range(r0, r1 + 1):
                    for c in range(c0, c1 + 1):
                        by_cell.setdefault(a1(r - 1, c - 1), []).append(dv)
        for addr, spec in expected_inputs(form, sl).items():
            dvs = by_cell.get(addr, [])
            assert len(dvs) == 1 and dvs[0].type in DV_TYPES[spec.type], (sl.name, addr, [d.type for d in dvs])
            assert dvs[0].showErrorMessage, (sl.name, addr)


def test_libreoffice_xlsx_keeps_identity(saved_run):
    form = saved_run.form
    want = identity_for(form, TemplateRequest(agency=AGENCY, password=PASSWORD, template_id="0" * 32,
                                              generated_at="2024-01-02T03:04:05+00:00"))
    wb = openpyxl.load_workbook(saved_run.saved["xlsx"])
    ws = wb[IDENTITY_SHEET]
    assert ws.sheet_state in ("veryHidden", "hidden")  # LibreOffice has no "very hidden"
    from_sheet = Identity.from_mapping({r[0]: r[1] for r in ws.iter_rows(values_only=True)})
    props = {p.name[len(PROPERTY_PREFIX):]: p.value for p in wb.custom_doc_props if p.name.startswith(PROPERTY_PREFIX)}
    assert from_sheet == want
    assert Identity.from_mapping(props) == want


def test_libreoffice_xlsx_keeps_the_figures(run_b, form_b):
    wb = openpyxl.load_workbook(run_b.saved["xlsx"], data_only=True)
    lay = layout_of(form_b)
    for code, v in FORM_B_VALUES.items():
        c = lay.cells[code]
        assert wb[c.sheet].cell(c.row + 1, c.col + 1).value == pytest.approx(v), code
    head = lay.field_cells
    sheet = wb[head["filler"].sheet]
    assert sheet.cell(head["filler"].row + 1, head["filler"].col + 1).value == HEADER["filler"]
    assert sheet.cell(head["phone"].row + 1, head["phone"].col + 1).value == HEADER["phone"]
    assert str(sheet.cell(head["fill_date"].row + 1, head["fill_date"].col + 1).value)[:10] == FILL_DATE
    assert sheet.cell(head["agency_name"].row + 1, head["agency_name"].col + 1).value == AGENCY.name
    # the cached results LibreOffice wrote are its own calculation
    checks = wb[CHECKS_SHEET]
    assert checks["A2"].value == "审核结果：✓ 全部通过"


def test_libreoffice_xlsx_keeps_broken_check_message(run_b, form_b):
    wb = openpyxl.load_workbook(run_b.saved_broken, data_only=True)
    row = layout_of(form_b).check_rows["t3-balance[biz]"]
    assert wb[CHECKS_SHEET].cell(row + 1, 4).value == run_b.broken.checks["t3-balance[biz]"]


def test_libreoffice_xlsx_structure_protection_is_reported_when_lost(saved_run):
    """Excel keeps <workbookProtection lockStructure>; LibreOffice 7.4 neither imports nor exports it.

    Whatever the program did, the reader must tell the truth about the saved file: still readable
    (valid), and a warning when the structure lock is gone.
    """
    from toolkit.validate import check_file

    wb = openpyxl.load_workbook(saved_run.saved["xlsx"])
    locked = bool(wb.security is not None and wb.security.lockStructure)
    result = check_file(saved_run.saved["xlsx"])
    assert result.status == "valid", (result.reason("en"), [i.message("en") for i in result.issues])
    assert any(i.kind == "structure_unlocked" for i in result.issues) == (not locked)


def test_xls_and_ods_saves_keep_protection_and_identity(lo, run_b):
    ops: list[dict[str, Any]] = []
    for fmt in ("xls", "ods"):
        ops += [{"op": "open", "path": str(run_b.saved[fmt])}, {"op": "info"}, {"op": "close"}]
    results = lo.run(ops)
    for info in (results[1], results[4]):
        assert all(s["protected"] for s in info["sheets"])
        assert [s["name"] for s in info["sheets"] if not s["visible"]] == [IDENTITY_SHEET, PREV_SHEET]
        assert info["properties"][PROPERTY_PREFIX + "agency_code"] == AGENCY.code
        assert info["properties"][PROPERTY_PREFIX + "schema_id"] == run_b.form.id


# ---------------------------------------------------------------------------- pictures

def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_render_pictures(lo, tmp_path, form_b):
    written = libreoffice.render_pictures(tmp_path, lo=lo)
    names = [p.name for p in written]
    assert names == ["template-2017.png", "template-2021-sheet2.png", "template-2021-sheet3.png", "template-2021-sheet4.png"]
    landscape = {f"template-2021-sheet{i + 2}.png": sl.landscape for i, sl in enumerate(layout_of(form_b).sheets)}
    for p in written:
        w, h = png_size(p)
        assert min(w, h) > 500, (p.name, w, h)
        if p.name in landscape:
            assert (w > h) == landscape[p.name], (p.name, w, h)  # the page orientation survives LibreOffice
