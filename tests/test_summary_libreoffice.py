"""The summary workbook in a real spreadsheet program: LibreOffice recalculates every formula.

Each total of the 汇总· sheets is a SUMIFS over 明细 (or the form's own formula over those totals),
and 明细 ends with SUMIFS subtotals per group; the writer stores each formula's result as its
cached value. LibreOffice recalculates the whole workbook, and every formula cell must come out
exactly as cached — so what the office sees in Excel is what the JSON and the CSV say.

One soffice for this module (tests/libreoffice.py); skipped, naming the missing program, where
soffice or the Python-UNO bridge is absent.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import libreoffice
import openpyxl
import pytest
from merge_data import FORM_A, FORM_B, ROSTER, SAMPLES, form_of, make_return, numeric_codes

from toolkit.consolidation import merge
from toolkit.formulas import a1
from toolkit.layout import layout_of
from toolkit.roster import Agency, read_roster
from toolkit.summary import summary_sheet_name, write_summary


def formula_cells(path: Path) -> dict[str, dict[str, float]]:
    """Every formula cell of the workbook → its cached value (sheet → address → value)."""
    formulas = openpyxl.load_workbook(path)
    values = openpyxl.load_workbook(path, data_only=True)
    out: dict[str, dict[str, float]] = {}
    for ws in formulas.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    out.setdefault(ws.title, {})[c.coordinate] = values[ws.title][c.coordinate].value
    return out


def recalculated_differences(lo, path: Path, cached: dict[str, dict[str, float]]) -> list[tuple]:
    """Formula cells whose value after LibreOffice's calculateAll differs from the cached one."""
    sheets = list(cached)
    ops: list[dict] = [{"op": "open", "path": str(path)}, {"op": "calc"}]
    ops += [{"op": "read", "sheet": s, "cells": list(cached[s])} for s in sheets]
    ops.append({"op": "close"})
    results = lo.run(ops)
    wrong = []
    for s, got in zip(sheets, results[2:2 + len(sheets)]):
        for addr, want in cached[s].items():
            g = got[addr]
            if g["kind"] != "formula" or g.get("error") or not isinstance(want, (int, float)) \
                    or abs(g["value"] - want) > 1e-6 * max(1.0, abs(want)):
                wrong.append((s, addr, want, g["value"], g.get("error"), g["formula"]))
    return wrong


@pytest.mark.parametrize("form_id,include_invalid", [(FORM_A, False), (FORM_B, False), (FORM_B, True)],
                         ids=["form-a", "form-b", "form-b-include-invalid"])
def test_recalculated_totals_equal_cached(lo, tmp_path, form_id, include_invalid):
    form = form_of(form_id)
    c = merge([str(SAMPLES[form_id])], roster=read_roster(ROSTER), include_invalid=include_invalid)
    path = tmp_path / "summary.xlsx"
    write_summary(c, path)
    cached = formula_cells(path)
    # every total of the form is a formula with a cached number
    lay = layout_of(form)
    for code in numeric_codes(form):
        cell = lay.cells[code]
        v = cached[summary_sheet_name(cell.sheet)][a1(cell.row, cell.col)]
        assert isinstance(v, (int, float)) and abs(v - c.totals[code]) <= 1e-6, code
    assert "明细" in cached                                    # the group subtotals and the grand total

    wrong = recalculated_differences(lo, path, cached)
    assert not wrong, wrong[:10]
    assert sum(len(v) for v in cached.values()) >= len(numeric_codes(form))


def test_group_subtotals_with_awkward_group_names(lo, tmp_path):
    """Group names are SUMIFS criteria in 明细's subtotals: read literally, never as operators or wildcards."""
    form = form_of(FORM_A)
    groups = ["=x", "部门*", "部门A", "<5", "-2", "a~b", "问?", 'say "hi"', "@g"]
    for i, g in enumerate(groups):
        make_return(form, tmp_path / "in", f"D{i:03}.xlsx", Agency(f"D{i:03}", f"单位{i}", g), seed=i)
    c = merge([str(tmp_path / "in")], jobs=2)
    assert c.groups == groups and len(c.used) == len(groups)
    path = tmp_path / "summary.xlsx"
    write_summary(c, path)
    cached = formula_cells(path)
    assert len(cached["明细"]) == (len(groups) + 1) * len(numeric_codes(form))     # subtotals + grand total
    wrong = recalculated_differences(lo, path, cached)
    assert not wrong, wrong[:10]


# ---------------------------------------------------------------------------- printed

def pdf_page_text(pdf: Path, page: int) -> str:
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.fixture(scope="module")
def printed_sample(lo, tmp_path_factory) -> tuple[Path, dict[str, tuple[int, int]], Any]:
    """The bundled sample's summary printed to PDF by LibreOffice: (pdf, sheet → first and last page, consolidation)."""
    tmp = tmp_path_factory.mktemp("printed")
    c = merge([str(libreoffice.SAMPLE_RETURNS)], roster=read_roster(libreoffice.SAMPLE_ROSTER), jobs=1)
    xlsx = tmp / "summary.xlsx"
    write_summary(c, xlsx)
    pdf = tmp / "summary.pdf"
    results = lo.run([{"op": "open", "path": str(xlsx)}, {"op": "calc"}, {"op": "pdf", "path": str(pdf)}, {"op": "close"}])
    counts = results[2]["pages"]
    ranges, first = {}, 1
    for sheet, n in counts.items():
        if sheet == "_toolkit":          # the summary's own identity: hidden, never printed
            assert n == 0
            continue
        ranges[sheet] = (first, first + n - 1)
        first += n
    return pdf, ranges, c


def test_sample_summary_prints_in_at_most_30_pages(printed_sample):
    pdf, ranges, c = printed_sample
    sizes = libreoffice.pdf_page_sizes(pdf)
    assert len(sizes) <= 30, ranges
    assert all(sorted((round(w), round(h))) == [595, 842] for w, h in sizes)        # A4 throughout
    # every sheet prints: the 汇总 sheets one page each, the lists fitted to the page width
    for sheet, (a, b) in ranges.items():
        assert b >= a, sheet
        if sheet.startswith("汇总·"):
            assert a == b, (sheet, ranges[sheet])


def test_every_detail_page_carries_agency_names_and_headings(printed_sample):
    pdf, ranges, c = printed_sample
    a, b = ranges["明细"]
    assert b - a >= 2                         # the indicators run over several pages across
    names = [s.name for s in c.submissions]
    for page in range(a, b + 1):
        text = pdf_page_text(pdf, page)
        assert "单位名称" in text, page
        shown = [n for n in names if n in text]
        assert len(shown) >= len(set(names)) - 1, (page, set(names) - set(shown))
        assert "明细" in text and c.form.title in text, page         # title and period in the page header
        assert "年度" in text
        assert "B3_" not in text and "B2_" not in text, page          # no codes printed, Chinese headings


def test_period_title_and_signatures_on_the_summary_sheets(printed_sample):
    pdf, ranges, c = printed_sample
    for sheet, (a, b) in ranges.items():
        text = pdf_page_text(pdf, a)
        assert c.form.title in text and "年度" in text, sheet
        if sheet != "来源":                                               # (which lists each file's form id)
            assert c.form.id not in text, sheet                        # a title, not an id
        if sheet.startswith("汇总·"):
            for who in ("单位负责人", "审核人", "填表人", "报出日期"):
                assert who in text, (sheet, who)


@pytest.mark.parametrize("sheet,last_heading", [("报送情况", "说明"), ("问题清单", "文件")])
def test_list_sheets_fit_their_columns_to_the_page(printed_sample, sheet, last_heading):
    """Every page of the list carries its first and last column: nothing printed on a page of its own."""
    pdf, ranges, c = printed_sample
    a, b = ranges[sheet]
    for page in range(a, b + 1):
        text = pdf_page_text(pdf, page)
        assert "单位代码" in text and last_heading in text, (sheet, page)
    if sheet == "问题清单":
        text = "".join(pdf_page_text(pdf, p) for p in range(a, b + 1))
        assert "联系电话" in text and "填报人" in text


def test_by_group_summary_sheets(lo, tmp_path):
    """write_summary(by_group=True): one set of 汇总 sheets per roster group, each total that group's SUMIFS."""
    c = merge([str(libreoffice.SAMPLE_RETURNS)], roster=read_roster(libreoffice.SAMPLE_ROSTER), jobs=1)
    path = tmp_path / "summary.xlsx"
    write_summary(c, path, by_group=True)
    form = c.form
    lay = layout_of(form)
    names = openpyxl.load_workbook(path, read_only=True).sheetnames
    cached = formula_cells(path)
    groups = [g for g in c.groups]
    assert len(groups) >= 2
    whole = {code: 0.0 for code in numeric_codes(form)}
    for g in groups:
        sheets = [n for n in names if n.startswith(f"汇总·{g}·")]
        assert len(sheets) == len(lay.sheets), (g, names)
        members = [s for s in c.used if s.group == g]
        for code in numeric_codes(form):
            cell = lay.cells[code]
            sheet = next(n for n in sheets if n.endswith(cell.sheet[:31 - len(f"汇总·{g}·")]))
            want = sum(v for s in members if isinstance(v := s.result.values.get(code), (int, float)))
            if code in form.computed:
                continue
            got = cached[sheet][a1(cell.row, cell.col)]
            assert abs(got - want) < 1e-6, (g, code, got, want)
            whole[code] += got
    for code in numeric_codes(form):
        if code not in form.computed:
            assert abs(whole[code] - c.totals[code]) < 1e-6, code       # the groups add up to the whole
    wrong = recalculated_differences(lo, path, cached)
    assert not wrong, wrong[:10]
