"""The summary workbook in a real spreadsheet program: LibreOffice recalculates every formula.

Each total of the 汇总· sheets is a SUMIFS over 明细 (or the form's own formula over those totals),
and 明细 ends with SUMIFS subtotals per group; the writer stores each formula's result as its
cached value. LibreOffice recalculates the whole workbook, and every formula cell must come out
exactly as cached — so what the office sees in Excel is what the JSON and the CSV say.

One soffice for this module (tests/libreoffice.py); skipped, naming the missing program, where
soffice or the Python-UNO bridge is absent.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

import libreoffice
from test_merge import FORM_A, FORM_B, ROSTER, SAMPLES, form_of, make_return, numeric_codes
from toolkit.layout import a1, layout_of
from toolkit.consolidation import merge
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
