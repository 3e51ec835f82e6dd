"""Templates through LibreOffice and back, as an agency would use them; the summary recalculated and printed.

An agency opens its template in LibreOffice Calc, types its figures cell by cell, pastes a block
copied from a spreadsheet of its own (Ctrl+V, or Paste Special → values only), and saves — as
.xlsx, or as .xls or .ods because that is what the program offers. Every saved file must come
back through :func:`toolkit.validate.check_file` with exactly the figures typed. After the save
the live checks are still formulas that LibreOffice recalculates to the Python rule engine's
verdicts, every input cell still carries a validation of the right kind (which LibreOffice's own
validation engine applies), and locked cells still refuse typing.

The summary workbook of the bundled sample returns recalculates in LibreOffice to the values the
writer cached, and every fill-in and 汇总· sheet prints one page wide on A4.

Typing is real key events into the document window (LibreOffice's own input handler, with its
protection and validity checks); pasting is Ctrl+V or Paste Special from the clipboard. How
LibreOffice is driven, and what headless LibreOffice 7.4 needs to stay up: tests/lo_worker.py and
tests/libreoffice.py. One soffice serves the whole session (the ``lo`` fixture of tests/conftest.py); skipped, naming the missing
program, where soffice, the Python-UNO bridge or poppler is absent.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libreoffice
import openpyxl
import pytest
from lo_template import AGENCY, PASSWORD, Snapshot, assert_matches_python, expected_inputs, read_ops, snapshot, template_file

from toolkit.checks import run_rules, with_computed
from toolkit.formulas import a1
from toolkit.layout import Layout, SheetLayout, layout_of
from toolkit.reader import open_workbook
from toolkit.schema import Form, load_form, resolve
from toolkit.styles import ERROR_FILL, WARNING_FILL
from toolkit.summary import SUMMARY_PREFIX, summary_sheet_name
from toolkit.template import TemplateRequest, identity_for
from toolkit.validate import Result, check_file

FORMATS = ("xlsx", "xls", "ods")
FORM_IDS = {"2021": "gov-info-disclosure-2021", "2017": "gov-info-disclosure-2017"}

# Typed into the header block, as a clerk would type them (the date is recognised as a date).
HEADER_TYPED = {"filler": "李四", "phone": "0574-62345678", "fill_date": "2024-01-31"}


@dataclass(frozen=True)
class Block:
    """A block of figures copied from another workbook and pasted with the cursor on ``first``."""
    first: str                                  # the code of the top-left input cell
    rows: tuple[tuple[Any, ...], ...]           # numbers; None is an empty cell
    mode: str                                   # "all" (Ctrl+V) | "values" (Paste Special → values only)


@dataclass(frozen=True)
class Filling:
    typed: dict[str, str]                       # code → the text typed into its cell
    blocks: tuple[Block, ...]
    breaks: dict[str, str]                      # typed afterwards: the figures no longer balance
    tries: dict[str, str]                       # typed into a reopened file: LibreOffice's validation refuses each
    locked: str                                 # a computed (locked) cell typed over in a reopened file


# Form B: every column of section 三 balances (一 + 二 = 三（七） + 四); section 三's items (三) are
# pasted as values, items (五) with Ctrl+V. Blank cells count as 0 in the rules.
FORM_B = Filling(
    typed={
        "B2_norm.made": "3", "B2_norm.repealed": "6", "B2_norm.valid": "14", "B2_permit.count": "54408",
        "B2_punish.count": "2086", "B2_force.count": "1272", "B2_fee.amount": "14722.49",
        "B3_new.np": "150", "B3_new.biz": "5", "B3_new.sci": "1", "B3_new.npo": "1", "B3_new.law": "1", "B3_new.other": "1",
        "B3_carry.np": "7", "B3_r1.np": "100", "B3_r1.biz": "2", "B3_r2.np": "10", "B3_r4_1.np": "12", "B3_r6_1.np": "1",
        "B3_next.np": "15", "B3_next.biz": "1",
        "B4.rv_keep": "1", "B4.rv_pending": "2", "B4.ld_keep": "2", "B4.ld_other": "1",
    },
    blocks=(
        Block("B3_r3_1.np", ((1, None, None, None, None, None),
                             (2, 1, None, None, None, None),
                             (None, None, 1, None, None, None),
                             (3, 0, 0, 0, 0, 0),
                             (None, None, None, None, None, None),
                             (1, None, None, None, None, 1),
                             (0, None, None, None, None, None),
                             (4, None, None, 1, None, None)), "values"),
        Block("B3_r5_1.np", ((2, None, None, None, None, None),
                             (5, None, None, None, None, None),
                             (None, 1, None, None, None, None),
                             (1, None, None, None, 1, None),
                             (0, 0, None, None, None, None)), "all"),
    ),
    breaks={"B3_carry.biz": "4"},               # 5 + 4 ≠ 4 + 1 in the 商业企业 column
    tries={"B2_rule.made": "无", "B2_rule.repealed": "1.5", "B2_rule.valid": "-3", "B2_fee.amount": "1.234"},
    locked="B3_new.total",
)

# Form A: items 1–8 of 三（三） pasted as values (the “其中” reasons within), the channels of
# 一（二） with Ctrl+V; 申请办结数 7 = 申请答复数 7.
FORM_A = Filling(
    typed={
        "A1_1": "100", "A1_1a": "33", "A1_1b": "33", "A2_2_1": "2", "A2_2_1a": "1",
        "A3_1_1": "2", "A3_1_3": "5", "A3_1_4": "1", "A3_2_1": "6", "A3_2_2": "1",
        "A4_1": "1", "A5_3": "2", "A7": "3.5", "A8_1": "1", "A8_2": "2", "A8_3_1": "0", "A8_3_2": "3",
        "A8_4": "12.25", "A9_3": "2",
    },
    blocks=(
        Block("A3_3_1", ((3,), (1,), (0,), (2,), (1,), (None,), (1,), (None,), (None,), (None,), (1,), (0,), (None,), (None,)),
              "values"),
        Block("A1_2_1", ((0,), (639,), (90,), (90,), (543,)), "all"),
    ),
    breaks={"A1_1a": "120"},                    # 规范性文件 120 > 主动公开 100: a warning
    tries={"A2_1": "无", "A4_2": "1.5", "A6": "-3", "A7": "1.234"},
    locked="A3_1",
)

FILLINGS = {"2021": FORM_B, "2017": FORM_A}

# What LibreOffice reports as com.sun.star.sheet.ValidationType for each kind of value
LO_VALIDATION = {"integer": {"WHOLE"}, "decimal": {"CUSTOM", "DECIMAL"}, "date": {"DATE"}, "text": {"TEXT_LEN"},
                 "choice": {"LIST"}}


# ---------------------------------------------------------------------------- what was typed

def cell_of(lay: Layout, code: str) -> tuple[str, str]:
    c = lay.cells[code]
    return c.sheet, a1(c.row, c.col)


def block_cells(form: Form, block: Block) -> dict[str, Any]:
    """code → value for every cell a block covers (each must be an input cell)."""
    lay = layout_of(form)
    top = lay.cells[block.first]
    sl = next(s for s in lay.sheets if s.name == top.sheet)
    at = {rc: code for code, rc in sl.inputs.items()}
    out: dict[str, Any] = {}
    for r, row in enumerate(block.rows):
        for c, v in enumerate(row):
            code = at.get((top.row + r, top.col + c))
            assert code is not None and not form.indicators[code].computed, (block.first, r, c)
            out[code] = v
    return out


def figures(form: Form, filling: Filling, broken: bool) -> dict[str, float | None]:
    """Every input indicator's figure after the typing and pasting (None where left blank)."""
    out: dict[str, float | None] = {code: None for code, ind in form.indicators.items() if not ind.computed}
    for block in filling.blocks:
        out.update({k: (None if v is None else float(v)) for k, v in block_cells(form, block).items()})
    out.update({k: float(v) for k, v in filling.typed.items()})
    if broken:
        out.update({k: float(v) for k, v in filling.breaks.items()})
    return out


def expected_values(form: Form, numbers: dict[str, float | None]) -> dict[str, Any]:
    """Result.values as check_file must give them: integers as int, the header as typed."""
    full = with_computed(form, numbers)
    out: dict[str, Any] = {}
    for code, v in full.items():
        spec = form.indicators[code].spec
        out[code] = None if v is None else int(v) if spec.type == "integer" else v
    out.update(HEADER_TYPED)
    out.update({"agency_name": AGENCY.name, "agency_code": AGENCY.code})
    return out


def last_row(sl: SheetLayout) -> int:
    """The last row (0-based) the layout of a sheet uses."""
    return max([t.merge_to[0] if t.merge_to else t.row for t in sl.texts] + [r for r, _ in sl.inputs.values()])


def paste_modes(form: Form, filling: Filling) -> dict[str, str]:
    """code → paste mode of every pasted cell."""
    return {code: b.mode for b in filling.blocks for code in block_cells(form, b)}


# ---------------------------------------------------------------------------- the round trip

@dataclass
class Reopened:
    """One saved file opened again in LibreOffice, and what the toolkit reads from it."""
    path: Path
    result: Result
    snap: Snapshot
    validations: dict[str, dict[str, dict]]     # sheet → A1 → validation
    protection: dict[str, dict]                 # sheet → protection op result
    invalid_before: dict[str, list[str]]        # sheet → cells marked invalid as saved
    pdf: Path                                   # the sheet of the breaks, printed after recalculation
    keyed_tries: dict[str, dict] = field(default_factory=dict)     # code → the cell after typing key by key
    typed_locked: dict | None = None                               # the locked cell after typing over it
    entered_tries: dict[str, dict] = field(default_factory=dict)   # code → the cell after .uno:EnterString
    invalid_after: dict[str, list[str]] = field(default_factory=dict)


class Trip:
    """One form: fill the template in LibreOffice, save it three ways (consistent, then broken), reopen each."""

    def __init__(self, lo: libreoffice.LibreOffice, form: Form, filling: Filling, tmp: Path):
        self.form, self.filling, self.tmp = form, filling, tmp
        lay = self.lay = layout_of(form)
        self.numbers = {state: figures(form, filling, state == "broken") for state in ("filled", "broken")}
        self.saved = {(state, fmt): tmp / f"{state}.{fmt}" for state in ("filled", "broken") for fmt in FORMATS}
        self.break_sheet = cell_of(lay, next(iter(filling.breaks)))[0]
        reads = read_ops(form)
        rows = [{"op": "rows", "sheet": sl.name, "first": 1, "last": last_row(sl) + 1} for sl in lay.sheets]
        ops: list[dict[str, Any]] = [{"op": "open", "path": str(template_file(form, tmp))}, *rows]
        for code, text in HEADER_TYPED.items():
            c = lay.field_cells[code]
            ops.append({"op": "keys", "sheet": c.sheet, "cell": a1(c.row, c.col), "text": text})
        for code, text in filling.typed.items():
            sheet, addr = cell_of(lay, code)
            ops.append({"op": "keys", "sheet": sheet, "cell": addr, "text": text})
        for block in filling.blocks:
            sheet, addr = cell_of(lay, block.first)
            ops.append({"op": "paste", "sheet": sheet, "cell": addr, "rows": [list(r) for r in block.rows], "mode": block.mode})
        ops += [{"op": "calc"}, *reads, *rows]
        ops += [{"op": "save", "path": str(self.saved[("filled", fmt)]), "format": fmt} for fmt in FORMATS]
        for code, text in filling.breaks.items():
            sheet, addr = cell_of(lay, code)
            ops.append({"op": "keys", "sheet": sheet, "cell": addr, "text": text})
        ops += [{"op": "calc"}, *reads]
        ops += [{"op": "save", "path": str(self.saved[("broken", fmt)]), "format": fmt} for fmt in FORMATS]
        ops.append({"op": "close"})
        res = lo.run(ops)
        self.heights = {"blank": dict(zip([sl.name for sl in lay.sheets], res[1:1 + len(rows)]))}
        i = 1 + len(rows)
        n_typed = len(HEADER_TYPED) + len(filling.typed)
        self.typed_results = res[i:i + n_typed]
        i += n_typed
        self.paste_results = res[i:i + len(filling.blocks)]
        i += len(filling.blocks) + 1
        self.live = {"filled": snapshot(form, res[i:i + len(reads)])}
        i += len(reads)
        self.heights["filled"] = dict(zip([sl.name for sl in lay.sheets], res[i:i + len(rows)]))
        i += len(rows) + len(FORMATS) + len(filling.breaks) + 1
        self.live["broken"] = snapshot(form, res[i:i + len(reads)])
        self.reopened = {key: self._reopen(lo, key) for key in self.saved}

    def _reopen(self, lo: libreoffice.LibreOffice, key: tuple[str, str]) -> Reopened:
        state, fmt = key
        form, lay, path = self.form, self.lay, self.saved[key]
        reads = read_ops(form)
        pdf = path.with_suffix(f".{fmt}.pdf")
        ops: list[dict[str, Any]] = [{"op": "open", "path": str(path)}, {"op": "calc"}, *reads,
                                     {"op": "pdf", "path": str(pdf), "sheet": self.break_sheet}]
        for sl in lay.sheets:
            ops.append({"op": "validation", "sheet": sl.name, "cells": list(expected_inputs(form, sl))})
            ops.append({"op": "protection", "sheet": sl.name, "cells": [a1(*rc) for rc in sl.inputs.values()]})
            ops.append({"op": "invalid", "sheet": sl.name})
        tries = state == "filled"
        if tries:
            # typed key by key: LibreOffice's validation refuses each entry
            for code, text in self.filling.tries.items():
                sheet, addr = cell_of(lay, code)
                ops.append({"op": "keys", "sheet": sheet, "cell": addr, "text": text})
            # typing over a total: the protection refuses it
            sheet, addr = cell_of(lay, self.filling.locked)
            ops.append({"op": "keys", "sheet": sheet, "cell": addr, "text": "999"})
            # entered past the input handler (.uno:EnterString): in they go, and Detective ▸ Mark
            # Invalid Data marks exactly them
            for code, text in self.filling.tries.items():
                sheet, addr = cell_of(lay, code)
                ops.append({"op": "type", "sheet": sheet, "cell": addr, "text": text})
            ops += [{"op": "invalid", "sheet": sl.name} for sl in lay.sheets]
        ops.append({"op": "close"})
        res = lo.run(ops)
        i = 2
        snap = snapshot(form, res[i:i + len(reads)])
        i += len(reads) + 1
        validations, protection, invalid = {}, {}, {}
        for sl in lay.sheets:
            validations[sl.name], protection[sl.name], invalid[sl.name] = res[i:i + 3]
            i += 3
        out = Reopened(path=path, result=check_file(path), snap=snap, validations=validations, protection=protection,
                       invalid_before=invalid, pdf=pdf)
        if tries:
            n = len(self.filling.tries)
            out.keyed_tries = dict(zip(self.filling.tries, res[i:i + n]))
            out.typed_locked = res[i + n]
            i += n + 1
            out.entered_tries = dict(zip(self.filling.tries, res[i:i + n]))
            i += n
            out.invalid_after = {sl.name: res[i + k] for k, sl in enumerate(lay.sheets)}
        return out


@pytest.fixture(scope="module", params=list(FORM_IDS))
def trip(request, lo, tmp_path_factory) -> Trip:
    form = load_form(resolve(FORM_IDS[request.param]))
    return Trip(lo, form, FILLINGS[request.param], tmp_path_factory.mktemp(f"trip-{request.param}"))


# ---------------------------------------------------------------------------- the figures

def test_the_fillings_balance_and_the_breaks_break():
    for year, filling in FILLINGS.items():
        form = load_form(resolve(FORM_IDS[year]))
        assert not set(filling.typed) & set(paste_modes(form, filling)), "a cell is either typed or pasted"
        assert not [r.instance.id for r in run_rules(form, figures(form, filling, False)) if r.failed]
        assert [r for r in run_rules(form, figures(form, filling, True)) if r.failed]
        assert all(not form.indicators[c].computed for c in [*filling.typed, *filling.breaks, *filling.tries])
        assert form.indicators[filling.locked].computed


def test_typing_and_pasting_land_in_the_cells(trip):
    lay, form = trip.lay, trip.form
    typed = dict(zip([*HEADER_TYPED, *trip.filling.typed], trip.typed_results))
    for code, text in HEADER_TYPED.items():
        got = typed[code]
        if next(f for f in form.header if f.code == code).spec.type == "date":
            assert got["kind"] == "value" and got["string"] == text, (code, got)   # a real date
        else:
            assert got["kind"] == "text" and got["string"] == text, (code, got)
    for code, text in trip.filling.typed.items():
        assert typed[code]["kind"] == "value" and typed[code]["value"] == pytest.approx(float(text)), (code, typed[code])
    for block, got in zip(trip.filling.blocks, trip.paste_results):
        for code, v in block_cells(form, block).items():
            cell = got[cell_of(lay, code)[1]]
            if v is None:
                assert cell["kind"] == "empty", (code, cell)
            else:
                assert cell["kind"] == "value" and cell["value"] == v, (code, cell)


def test_typing_leaves_the_rows_as_high_as_designed(trip):
    """Filling in the form must not reshape it. Rows the template leaves at the default height are
    "optimal height" rows: when a figure is typed, LibreOffice (like Excel's autofit) grows the row to
    fit its tallest wrapped cell — the 审核提示 cell, which at that moment may hold a long message of
    the still-unbalanced rule — and the row stays that tall after the figures balance."""
    grown = {}
    for sheet, before in trip.heights["blank"].items():
        after = trip.heights["filled"][sheet]
        for row, b in before.items():
            # a line's worth of slack: LibreOffice's optimal height for the fallback CJK font is
            # 0.8 mm taller than Excel's 15 pt default — that is no reshaping
            if after[row]["height"] > 1.5 * b["height"] and after[row]["height"] - b["height"] > 300:
                grown[f"{sheet}!{row}"] = (b["height"], after[row]["height"], b["optimal"])
    assert not grown, f"rows grown by typing (1/100 mm before, after, optimal): {grown}"


def test_live_checks_while_typing_match_python(trip):
    assert set(trip.live["filled"].checks.values()) <= {"✓", "—"}
    for state in ("filled", "broken"):
        assert_matches_python(trip.form, trip.numbers[state], trip.live[state])


# ---------------------------------------------------------------------------- (1) read back by the toolkit

@pytest.mark.parametrize("fmt", FORMATS)
def test_saved_file_reads_back_with_exactly_the_figures_typed(trip, fmt):
    got = trip.reopened[("filled", fmt)].result
    assert got.status == "valid", (fmt, got.reason("en"), [(i.kind, i.cell, i.message("en")) for i in got.errors])
    want = expected_values(trip.form, trip.numbers["filled"])
    assert got.values == want, {k: (got.values.get(k), v) for k, v in want.items() if got.values.get(k) != v}
    # LibreOffice drops the workbook's structure lock (Excel's <workbookProtection>) on every save;
    # the reader says so for .xlsx and raises nothing else
    assert {i.kind for i in got.warnings} <= {"structure_unlocked"}, [i.message("en") for i in got.warnings]
    if fmt == "xlsx":
        assert "structure_unlocked" in {i.kind for i in got.warnings}


@pytest.mark.parametrize("fmt", FORMATS)
def test_saved_file_keeps_the_identity(trip, fmt):
    got = trip.reopened[("filled", fmt)].result
    want = identity_for(trip.form, TemplateRequest(agency=AGENCY, password=PASSWORD, template_id="0" * 32,
                                                   generated_at="2024-01-02T03:04:05+00:00"))
    assert got.identity == want
    # the very hidden sheet survives every format (as a hidden one); the document properties
    # survive too (test_template_libreoffice), but the reader looks for them in .xlsx only
    sources = open_workbook(trip.saved[("filled", fmt)]).identity_sources
    assert sources == (["sheet", "properties"] if fmt == "xlsx" else ["sheet"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_broken_figures_read_back_with_the_rules_python_runs(trip, fmt):
    got = trip.reopened[("broken", fmt)].result
    numbers = trip.numbers["broken"]
    assert got.values == expected_values(trip.form, numbers)
    failing = [r for r in run_rules(trip.form, numbers) if r.failed]
    rule_issues = [i for i in got.issues if i.kind == "rule"]
    assert [(i.rule, i.severity, i.params["message"]) for i in rule_issues] == \
           [(r.instance.id, r.instance.severity, r.message()) for r in failing]
    assert got.status == ("invalid" if any(r.instance.severity == "error" for r in failing) else "valid")


# ---------------------------------------------------------------------------- (2) live checks after the save

@pytest.mark.parametrize("state", ["filled", "broken"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_reopened_file_recalculates_to_the_python_verdicts(trip, fmt, state):
    """The check formulas survive the conversion: LibreOffice recalculates the reopened file to run_rules."""
    reopened = trip.reopened[(state, fmt)]
    results = assert_matches_python(trip.form, trip.numbers[state], reopened.snap)
    assert reopened.snap == trip.live[state]      # and to exactly what it showed before saving
    failing_lo = {k for k, v in reopened.snap.checks.items() if v not in ("✓", "—")}
    assert failing_lo == {r.instance.id for r in results if r.failed}


@pytest.mark.parametrize("fmt", FORMATS)
def test_reopened_file_colours_the_cells_of_a_failing_rule(trip, fmt):
    """The conditional formats survive too: printed after recalculation, the consistent file shows no
    error or warning fill; the broken one shows the fill of the failing rule's severity on its cells.

    An input cell's highlight is a formula on the 审核 sheet's pass column, NOT('审核'!$E$5). The
    .xls format (BIFF8) cannot hold a reference to another sheet in a conditional format, so saving
    as .xls turns it into NOT($E$5) — a cell of the form's own sheet — and every highlighted input
    shows red in a consistent file. A same-sheet condition (e.g. on the row's 审核提示 cell) would
    survive every format."""
    severity = {r.instance.severity for r in run_rules(trip.form, trip.numbers["broken"]) if r.failed}
    assert len(severity) == 1
    fill = ERROR_FILL if severity == {"error"} else WARNING_FILL
    counts = {}
    for state in ("filled", "broken"):
        pdf = trip.reopened[(state, fmt)].pdf
        _, _, pixels = libreoffice.pdf_page_pixels(pdf, 1, dpi=36, gray=False)
        counts[state] = {colour: libreoffice.count_colour(pixels, colour) for colour in (ERROR_FILL, WARNING_FILL)}
    assert counts["filled"] == {ERROR_FILL: 0, WARNING_FILL: 0}, \
        f"a consistent {fmt} file shows error/warning fills (pixels at 36 dpi): {counts['filled']}"
    other = WARNING_FILL if fill == ERROR_FILL else ERROR_FILL
    assert counts["broken"][fill] > 100 and counts["broken"][other] == 0, counts


# ---------------------------------------------------------------------------- (3) validation and protection after the save

@pytest.mark.parametrize("fmt", FORMATS)
def test_every_input_cell_keeps_a_validation_of_its_kind(trip, fmt):
    """After reopening: the validation LibreOffice holds for every input cell is of the cell's kind, stops
    the entry and shows the Chinese message — except on cells pasted with Ctrl+V, where the paste
    replaced the cell's attributes, validation included (as in Excel; Paste Special → values keeps it)."""
    form, lay = trip.form, trip.lay
    pasted = paste_modes(form, trip.filling)
    plain = {cell_of(lay, c) for c, m in pasted.items() if m == "all"}
    for state in ("filled", "broken"):
        reopened = trip.reopened[(state, fmt)]
        for sl in lay.sheets:
            for addr, spec in expected_inputs(form, sl).items():
                v = reopened.validations[sl.name][addr]
                if (sl.name, addr) in plain:
                    assert v["type"] == "ANY", (fmt, sl.name, addr, v)
                    continue
                assert v["type"] in LO_VALIDATION[spec.type], (fmt, sl.name, addr, v)
                assert v["alert"] == "STOP" and v["show_error"] and v["error_message"], (fmt, sl.name, addr, v)
    assert plain, "a block is pasted with Ctrl+V"


@pytest.mark.parametrize("fmt", FORMATS)
def test_libreoffice_validation_refuses_what_the_template_forbids(trip, fmt):
    """In the reopened file, typing 无, 1.5 or -3 into a whole-number cell, or three decimal places
    into a money cell, is refused: the cell keeps what it held. Entered past the input handler
    (.uno:EnterString, as a macro would), the entries land — and LibreOffice's own validation
    engine (Detective ▸ Mark Invalid Data) marks exactly those cells, and none of the figures typed."""
    reopened = trip.reopened[("filled", fmt)]
    numbers = trip.numbers["filled"]
    assert all(marks == [] for marks in reopened.invalid_before.values()), reopened.invalid_before
    for code, got in reopened.keyed_tries.items():
        before = numbers[code]
        if before is None:
            assert got["kind"] == "empty", (fmt, code, got)
        else:
            assert got["kind"] == "value" and got["value"] == pytest.approx(before), (fmt, code, got)
    for code, got in reopened.entered_tries.items():
        text = trip.filling.tries[code]
        assert got["string"] == text or got["kind"] == "value" and got["value"] == pytest.approx(float(text)), (fmt, code, got)
    want: dict[str, list[str]] = {sl.name: [] for sl in trip.lay.sheets}
    for code in trip.filling.tries:
        sheet, addr = cell_of(trip.lay, code)
        want[sheet].append(addr)
    got = {sheet: sorted(marks) for sheet, marks in reopened.invalid_after.items()}
    assert got == {sheet: sorted(cells) for sheet, cells in want.items()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_reopened_file_keeps_locked_cells_locked(trip, fmt):
    form, lay = trip.form, trip.lay
    reopened = trip.reopened[("filled", fmt)]
    for sl in lay.sheets:
        prot = reopened.protection[sl.name]
        assert prot["sheet_protected"], (fmt, sl.name)
        for code, rc in sl.inputs.items():
            assert prot["cells"][a1(*rc)]["locked"] == form.indicators[code].computed, (fmt, sl.name, code)
    # typing over a total is refused: the cell still holds its formula and the figures' sum
    got = reopened.typed_locked
    assert got is not None and got["kind"] == "formula", got
    assert got["value"] == pytest.approx(with_computed(form, trip.numbers["filled"])[trip.filling.locked])


# ---------------------------------------------------------------------------- the summary workbook

@dataclass
class Printed:
    sheet: str
    layout: SheetLayout
    printed: dict
    pdf: Path


@pytest.fixture(scope="module")
def summary(lo, tmp_path_factory) -> dict[str, Any]:
    """The bundled sample returns merged (toolkit merge workbooks/returns-2021 --roster …), opened in
    LibreOffice: every 汇总· formula before and after recalculation, and each 汇总· sheet printed."""
    if shutil.which("pdfinfo") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdfinfo, pdftoppm) is not installed")
    tmp = tmp_path_factory.mktemp("summary")
    path = libreoffice.sample_summary(tmp / "summary-2021.xlsx")
    form = load_form(resolve("gov-info-disclosure-2021"))
    sheets = [(summary_sheet_name(sl.name), sl) for sl in layout_of(form).sheets]
    ops: list[dict[str, Any]] = [{"op": "open", "path": str(path)}]
    ops += [{"op": "formulas", "sheet": name} for name, _ in sheets]
    ops.append({"op": "calc"})
    ops += [{"op": "formulas", "sheet": name} for name, _ in sheets]
    for i, (name, _) in enumerate(sheets):
        ops += [{"op": "printed", "sheet": name}, {"op": "pdf", "path": str(tmp / f"summary-{i}.pdf"), "sheet": name}]
    ops.append({"op": "close"})
    res = lo.run(ops)
    n = len(sheets)
    loaded = dict(zip([s for s, _ in sheets], res[1:1 + n]))
    recalculated = dict(zip([s for s, _ in sheets], res[2 + n:2 + 2 * n]))
    printed = [Printed(name, sl, res[2 + 2 * n + 2 * i], tmp / f"summary-{i}.pdf") for i, (name, sl) in enumerate(sheets)]
    return {"path": path, "form": form, "loaded": loaded, "recalculated": recalculated, "printed": printed, "lo": lo, "tmp": tmp}


def test_summary_formulas_recalculate_to_the_cached_values(summary):
    """Every formula cell of every 汇总· sheet: LibreOffice's recalculation equals the value the writer cached."""
    cached = openpyxl.load_workbook(summary["path"], data_only=True, read_only=True)
    total = 0
    for sheet, after in summary["recalculated"].items():
        assert sheet.startswith(SUMMARY_PREFIX)
        assert set(after) == set(summary["loaded"][sheet])
        ws = cached[sheet]
        grid = {c.coordinate: c.value for row in ws.iter_rows() for c in row if hasattr(c, "coordinate")}
        wrong = []
        for addr, cell in after.items():
            assert cell.get("error", 0) == 0, (sheet, addr, cell)
            want = grid.get(addr)
            got = cell["value"] if isinstance(want, (int, float)) else cell["string"]
            if (got != pytest.approx(want)) if isinstance(want, (int, float)) else got != (want or ""):
                wrong.append((addr, want, got, cell["formula"][:80]))
        assert not wrong, (sheet, wrong[:5])
        total += len(after)
    assert total >= 175 + 10 + 15   # every indicator of the form is a formula


# ---------------------------------------------------------------------------- printing: one page wide on A4

A4 = (595.3, 841.9)


def assert_fits_page_width(p: Printed) -> None:
    """Fit to one page wide, any number of pages tall; every page shows every column, in order down the
    rows, on A4 in the sheet's orientation; the ink stays inside the page's margins, centred."""
    sl, printed = p.layout, p.printed
    assert (printed["scale_to_pages_x"], printed["scale_to_pages_y"]) == (1, 0), (p.sheet, printed)
    assert printed["landscape"] == sl.landscape, p.sheet
    pages = printed["pages"]
    assert pages, p.sheet
    last = last_row(sl)
    next_row = 0
    for page in pages:
        c0, r0, c1, r1 = page["range"]
        assert (c0, c1) == (0, sl.last_col), (p.sheet, page)          # the full width on every page
        assert r0 == next_row, (p.sheet, page)                        # the rows in order, none twice
        next_row = r1 + 1
    assert next_row > last, (p.sheet, next_row, last)
    sizes = libreoffice.pdf_page_sizes(p.pdf)
    assert len(sizes) == len(pages), (p.sheet, len(sizes), len(pages))   # the PDF holds exactly these pages
    for w, h in sizes:
        want = (A4[1], A4[0]) if sl.landscape else A4
        assert (w, h) == pytest.approx(want, abs=1), (p.sheet, w, h)
    for n in range(1, len(sizes) + 1):
        width, height, pixels = libreoffice.pdf_page_gray(p.pdf, n, dpi=36)
        box = libreoffice.ink_box(width, height, pixels)
        assert box is not None, (p.sheet, n)
        left, _, right, _ = box
        margin = 0.4 * 36                                             # every margin is at least 0.5 inch
        assert left >= margin and width - 1 - right >= margin, (p.sheet, n, box, width)
        assert abs(left - (width - 1 - right)) <= 0.05 * width, (p.sheet, n, box, width)   # centred


def test_summary_sheets_print_one_page_wide(summary):
    assert [p.sheet for p in summary["printed"]] == list(summary["recalculated"])
    for p in summary["printed"]:
        assert_fits_page_width(p)


@pytest.fixture(scope="module")
def template_prints(lo, tmp_path_factory) -> list[Printed]:
    if shutil.which("pdfinfo") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdfinfo, pdftoppm) is not installed")
    tmp = tmp_path_factory.mktemp("template-prints")
    out: list[Printed] = []
    for year, form_id in FORM_IDS.items():
        form = load_form(resolve(form_id))
        lay = layout_of(form)
        path = template_file(form, tmp)
        ops: list[dict[str, Any]] = [{"op": "open", "path": str(path)}, {"op": "calc"}]
        for i, sl in enumerate(lay.sheets):
            ops += [{"op": "printed", "sheet": sl.name}, {"op": "pdf", "path": str(tmp / f"{year}-{i}.pdf"), "sheet": sl.name}]
        ops.append({"op": "close"})
        res = lo.run(ops)
        out += [Printed(sl.name, sl, res[2 + 2 * i], tmp / f"{year}-{i}.pdf") for i, sl in enumerate(lay.sheets)]
    return out


def test_template_sheets_print_one_page_wide(template_prints):
    assert len(template_prints) == 4
    for p in template_prints:
        assert_fits_page_width(p)


def test_render_summary_picture(summary, tmp_path):
    from lo_template import png_size
    png = libreoffice.render_summary_picture(tmp_path, lo=summary["lo"], summary=summary["path"])
    assert png.name == "summary-2021.png"
    w, h = png_size(png)
    assert w > h and min(w, h) > 500, (w, h)      # section 三 is printed landscape
