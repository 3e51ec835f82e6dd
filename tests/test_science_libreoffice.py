"""An unseen form through LibreOffice: template → fill → recalculate → save → check → merge.

tests/schemas/science-popularisation.json was written in the schema language without touching
code (issue 17). Here LibreOffice fills its template and shows what an agency sees: the live
checks (conditional rules included) must equal the Python checks word for word, numbers printed
with their indicators' places; a ratio over a blank divisor shows blank, never #DIV/0!; a
fixed-shape pattern (the mobile number) is a data validation LibreOffice enforces. The saved file
is then read back and merged by the toolkit, which must agree with what LibreOffice showed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from toolkit.checks import run_rules
from toolkit.formulas import a1
from toolkit.layout import CHECKS_FIRST_ROW, layout_of
from toolkit.sheets import CHECKS_SHEET, NOT_APPLICABLE_MARK, PASS_MARK
from toolkit.consolidation import consolidate
from toolkit.registry import Registry
from toolkit.roster import Agency
from toolkit.schema import Form, load_form
from toolkit.template import TemplateRequest, build_template
from toolkit.validate import check_file

SCHEMAS = Path(__file__).resolve().parent / "schemas"
FORM_PATH = SCHEMAS / "science-popularisation.json"
AGENCY = Agency(code="K01", name="某市科学技术协会", group="K")

HEADER = {"org_type": "科协系统", "filler": "李明", "phone": "0574-87654321",
          "mobile": "1381234567",            # ten digits: the template's validation marks it
          "email": "不是邮箱"}                # no shape Excel can check: the reader does
# Chosen to hit every item of the issue: float noise (100.6 − 100.1), whole amounts of a 2-place
# decimal (150 → 150.00), a ratio over a blank divisor (F4.h2), a conditional rule that fails
# (E1: 3 events, no participants) and one that does not apply (E2: no events).
VALUES: dict[str, Any] = {
    "P1": 10, "P2": 12, "P3": 3, "P4": 5, "P6": 40,
    "S1": 1, "S3": 120.5, "S4": 2.35,
    "F1.h1": 100.1, "F1.h2": 49.9, "F2.h1": 100.6, "F3.h1": 200,
    "E1.n": 3, "E1.cost": 1.5, "E2.n": 0, "E3.n": 2, "E3.people": 0.75, "E3.cost": 3.25,
}


@pytest.fixture(scope="module")
def form() -> Form:
    return load_form(FORM_PATH)


def _cell(form: Form, code: str) -> tuple[str, str]:
    lay = layout_of(form)
    c = lay.cells[code] if code in lay.cells else lay.field_cells[code]
    return c.sheet, a1(c.row, c.col)


def _reads(form: Form) -> list[dict[str, Any]]:
    lay = layout_of(form)
    last = CHECKS_FIRST_ROW + len(form.instances)
    ops: list[dict[str, Any]] = [{"op": "read", "sheet": CHECKS_SHEET, "range": f"D{CHECKS_FIRST_ROW + 1}:D{last}"}]
    for sl in lay.sheets:
        ops.append({"op": "read", "sheet": sl.name, "cells": [a1(*sl.inputs[c]) for c in form.computed if c in sl.inputs]})
    return ops


def _shown(form: Form, results: list[Any]) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    lay = layout_of(form)
    checks_sheet, *sheets = results
    checks = {inst.id: checks_sheet[a1(lay.check_rows[inst.id], 3)]["string"] for inst in form.instances}
    computed: dict[str, dict[str, Any]] = {}
    for sl, got in zip(lay.sheets, sheets, strict=False):
        for code in form.computed:
            if code in sl.inputs:
                computed[code] = got[a1(*sl.inputs[code])]
    return checks, computed


class Filled:
    def __init__(self, lo: Any, form: Form, tmp: Path):
        self.template = tmp / "template.xlsx"
        self.template.write_bytes(build_template(form, TemplateRequest(
            agency=AGENCY, password="pw", template_id="1" * 32, generated_at="2025-01-02T03:04:05+00:00")))
        self.saved = tmp / "filled.xlsx"
        reads = _reads(form)
        sets = []
        for code, v in {**HEADER, **VALUES}.items():
            sheet, cell = _cell(form, code)
            sets.append({"op": "set", "sheet": sheet, "cell": cell, "value": v})
        sheet, cell = _cell(form, "fill_date")
        sets.append({"op": "input", "sheet": sheet, "cell": cell, "text": "2025-01-20"})
        first_sheet = layout_of(form).sheets[0].name
        ops = [{"op": "open", "path": str(self.template)}, {"op": "calc"}, *reads, *sets, {"op": "calc"}, *reads,
               {"op": "invalid", "sheet": first_sheet},
               {"op": "save", "path": str(self.saved), "format": "xlsx"}, {"op": "close"}]
        results = lo.run(ops)
        n = len(reads)
        self.blank = _shown(form, results[2:2 + n])
        i = 2 + n + len(sets) + 1
        self.filled = _shown(form, results[i:i + n])
        self.invalid = results[i + n]


@pytest.fixture(scope="module")
def filled(lo, form, tmp_path_factory) -> Filled:
    return Filled(lo, form, tmp_path_factory.mktemp("science"))


def _python_checks(form: Form, values: dict[str, Any]) -> dict[str, str]:
    numbers = {c: float(v) for c, v in values.items() if c in form.indicators}
    return {r.instance.id: r.message() if r.failed else PASS_MARK if r.status == "pass" else NOT_APPLICABLE_MARK
            for r in run_rules(form, numbers)}


def test_blank_template_shows_blank_ratios_not_div0(filled, form):
    checks, computed = filled.blank
    for code in form.guarded:
        cell = computed[code]
        assert cell["kind"] == "formula" and cell["error"] == 0, (code, cell)
        assert cell["string"] == "", (code, cell)          # blank, not #DIV/0! and not a stale 0
    assert computed["F1.total"]["string"] == "0.00"         # an unguarded total is still a number
    assert checks == _python_checks(form, {})


def test_live_checks_equal_the_python_checks_word_for_word(filled, form):
    checks, _ = filled.filled
    want = _python_checks(form, VALUES)
    assert checks == want
    # what the issue asked for, as LibreOffice shows it
    assert checks["gov-within-raised[h1]"] == "上半年：政府拨款 100.60 万元，超过筹集额 100.10 万元，相差 0.50 万元"
    assert checks["spent-within-raised"] == "全年使用额 200.00 万元，超过筹集额的 1.2 倍（180.00 万元）"
    assert checks["workload"] == "有兼职人员 5 人，须填写其投入工作量（现为 0.0 人月）"
    assert checks["event-people[E1]"] == "科普讲座：举办 3 次，须填写参加人次（现为 0.00 万人次）"
    assert checks["event-people[E2]"] == NOT_APPLICABLE_MARK   # no events: the condition does not hold
    assert checks["event-people[E3]"] == PASS_MARK


def test_computed_values_equal_python_and_ratios_are_rounded(filled, form):
    _, computed = filled.filled
    numbers = {c: float(v) for c, v in VALUES.items()}
    want = form.compute(numbers)
    for code, value in want.items():
        cell = computed[code]
        assert cell["error"] == 0, (code, cell)
        if value is None:
            assert cell["string"] == "", code
        else:
            assert cell["value"] == pytest.approx(value, abs=1e-9), code
    assert want["P7"] == 30.0 and want["F4.h1"] == 199.8 and want["F4.h2"] == 0.0 and want["F4.total"] == 133.3


def test_the_mobile_pattern_is_a_validation_libreoffice_enforces(filled, form):
    _, mobile = _cell(form, "mobile")
    # the phone (two shapes, alternatives) and the e-mail have no Excel form: only the reader checks them
    assert filled.invalid == [mobile]


def test_the_saved_file_reads_back_as_libreoffice_showed_it(filled, form):
    r = check_file(filled.saved, Registry([SCHEMAS]))
    assert r.status == "invalid"
    # (LibreOffice drops the workbook's structure protection on saving .xlsx: a known warning)
    kinds = {(i.kind, i.code) for i in r.issues if i.kind not in ("rule", "structure_unlocked")}
    assert kinds == {("bad_pattern", "mobile"), ("bad_pattern", "email")}
    rule_messages = {i.rule: i.params["message"] for i in r.issues if i.kind == "rule"}
    checks, _ = filled.filled
    assert rule_messages == {k: v for k, v in checks.items() if v not in (PASS_MARK, NOT_APPLICABLE_MARK)}
    assert r.values["F4.h2"] == 0.0 and r.values["F4.total"] == 133.3 and r.values["P7"] == 30.0
    assert r.values["fill_date"] == dt.date(2025, 1, 20).isoformat()


def test_merge_recomputes_the_ratio_over_the_totals(filled, form, tmp_path):
    reg = Registry([SCHEMAS])
    other = tmp_path / "other.xlsx"
    values = {**HEADER, "mobile": "13812345678", "email": "kepu@example.cn", "F1.h2": 50.1, "F3.h2": 25}
    other.write_bytes(build_template(form, TemplateRequest(agency=Agency("K02", "某区科协", "K"), password="pw", values=values)))
    results = [check_file(filled.saved, reg), check_file(other, reg)]
    c = consolidate(results, form, include_invalid=True)
    assert c.totals["F1.h2"] == pytest.approx(100.0) and c.totals["F3.h2"] == 25
    assert c.totals["F4.h2"] == 25.0            # 25 / 100 × 100, over the totals, not an average of ratios
    assert c.totals["P7"] == 30.0


def test_libreoffice_validation_and_the_reader_agree_on_the_pattern(lo, filled, form):
    """The mobile-number validation formula, judged by LibreOffice, against the reader's matcher."""
    from toolkit import patterns

    sheet, mobile = _cell(form, "mobile")
    pattern = patterns.compile_pattern(form.header[[f.code for f in form.header].index("mobile")].spec.pattern or "")
    samples = ["13812345678", "1381234567", "138123456789", "23812345678", "1381234567x", "1 3812345678",
               "１３８１２３４５６７８", "13812.45678", "1381234567 ", "-1381234567", "1e100000000", "10000000000"]
    ops: list[dict[str, Any]] = [{"op": "open", "path": str(filled.template)}]
    for text in samples:
        ops += [{"op": "set", "sheet": sheet, "cell": mobile, "value": text}, {"op": "invalid", "sheet": sheet}]
    ops.append({"op": "close"})
    results = lo.run(ops)
    marked = {text: mobile in results[2 + 2 * i] for i, text in enumerate(samples)}
    assert marked == {text: not pattern.fullmatch(text) for text in samples}
    assert sum(marked.values()) == len(samples) - 2
