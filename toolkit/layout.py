"""Where everything of a form sits in the workbook — computed once, used by writer, reader and merger.

The template writer places labels, inputs and checks at these coordinates; the reader looks for
exactly these labels at exactly these cells to decide whether a workbook was tampered with, and
reads values from exactly these input cells; the summary writer lays its totals out the same way.
Nothing else in the toolkit decides a coordinate.

Coordinates are 0-based (row, column), as xlsxwriter and python-calamine use them.

Placement only: what the sheets, headings and marks are called is :mod:`toolkit.sheets`; how a
formula names a cell, and what a computed cell or a live check computes, is :mod:`toolkit.formulas`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from . import rules as rx
from .formulas import a1, area, on_sheet
from .messages import render_message
from .schema import Column, Form, RuleInstance, Table
from .sheets import CHECK_HEADING, CHECKS_SHEET, INSTRUCTIONS_SHEET, PREV_SHEET, PREVIOUS_HEADING

# Bumped whenever a change here moves any cell: a template carries the version it was laid out
# with, and the reader refuses another version with that reason rather than "the form was altered".
LAYOUT_VERSION = "1"
CHECK_FONT_SCALE = 9 / 11    # the check column's 9-point text against the 11-point widths are counted in
# Rows of the checks sheet before the first rule instance: title, summary, blank, headings.
CHECKS_FIRST_ROW = 4
# The 审核 sheet's column where an agency may explain a failed warning (审核说明), left of the hidden 通过.
EXPLANATION_COL = 5


@dataclass(frozen=True)
class Cell:
    sheet: str
    row: int
    col: int

    @cached_property
    def address(self) -> str:
        """The cell as people read it in a report: 三、收到和处理申请情况!H12."""
        return f"{self.sheet}!{a1(self.row, self.col)}"

    def ref(self, from_sheet: str | None = None) -> str:
        """The cell in a formula written on ``from_sheet``: absolute, sheet-qualified when elsewhere."""
        return on_sheet(self.sheet, a1(self.row, self.col, absolute=True), from_sheet)


@dataclass(frozen=True)
class Text:
    """A fixed text of the form (title, heading, label, unit); the reader checks each one."""
    row: int
    col: int
    text: str
    role: str  # title|table_title|heading|corner|label|unit|note|field|check
    merge_to: tuple[int, int] | None = None     # (last row, last col) when the text spans cells
    level: int = 0


@dataclass
class SheetLayout:
    name: str
    tables: list[Table]
    texts: list[Text] = field(default_factory=list)
    inputs: dict[str, tuple[int, int]] = field(default_factory=dict)     # code → cell (inputs and computed)
    fields: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # code → (row, col, last col)
    checks: dict[tuple[int, int], list[RuleInstance]] = field(default_factory=dict)  # check cell → instances
    table_frames: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)  # id → heading rows, data rows
    status_row: int = 2
    # A hidden column mirroring the pass/fail of every rule that reads this sheet, so the cell
    # colouring refers to its own sheet: .xls cannot keep a conditional format pointing elsewhere.
    mirror_col: int = 0
    mirrors: dict[str, int] = field(default_factory=dict)     # rule instance id → row in mirror_col
    last_col: int = 0                                         # the sheet's last column (checks end here)
    check_first: dict[str, int] = field(default_factory=dict)  # table id → first column of its check cells
    widths: dict[int, float] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)   # rows whose wrapped text needs more height
    landscape: bool = False
    repeat_rows: tuple[int, int] | None = None
    freeze: tuple[int, int] = (0, 0)
    period_row: int = 1
    previous: dict[str, tuple[int, int]] = field(default_factory=dict)  # code → its 上年数 cell (list tables)


def display_width(text: str) -> float:
    """Width in Excel character units: a CJK character is about two Latin ones."""
    return sum(2.0 if ord(ch) > 0x2E7F else 1.05 for ch in text)


def heading_width(label: str, many: bool = False) -> float:
    """A column wide enough for its heading to break between words, not inside them: up to four
    characters on one line, up to eight in two lines of four, longer ones in two even halves
    (``many`` columns: always two even halves, 结果/维持)."""
    n = display_width(label) / 2
    per_line = math.ceil(n / 2) if many or n > 8 else n if n <= 4 else 4
    return max(8.0, round(per_line * HEADING_CHAR + 1.5, 1))


HEADING_CHAR = 2.3   # a bold 11-point CJK character, in Excel width units


def _is_landscape(tables: Iterable[Table]) -> bool:
    tables = list(tables)
    if any(t.orientation == "landscape" for t in tables):
        return True
    if any(t.orientation == "portrait" for t in tables):
        return False
    return max(len(t.leaves) for t in tables) > 6


class Layout:
    """The placement of one form. Build it with :func:`layout_of` (cached per form)."""

    def __init__(self, form: Form):
        self.form = form
        self.sheets: list[SheetLayout] = []
        self.cells: dict[str, Cell] = {}
        self.field_cells: dict[str, Cell] = {}
        self.check_rows: dict[str, int] = {}    # instance id → row on the checks sheet
        # code → the hidden cell of its previous-period value (read by prev(code) in the live checks)
        prev_codes = dict.fromkeys(c for inst in form.instances for c in inst.prev_reads)
        self.prev_cells: dict[str, Cell] = {c: Cell(PREV_SHEET, i, 1) for i, c in enumerate(prev_codes)}
        self._place()

    # -- public helpers
    @property
    def sheet_names(self) -> list[str]:
        """Every visible sheet the template has, in order (hidden ones not included)."""
        return [s.name for s in self.sheets] + [CHECKS_SHEET, INSTRUCTIONS_SHEET]

    def ref(self, code: str, from_sheet: str | None = None, rename: Mapping[str, str] | None = None) -> str:
        """A formula reference to an indicator's cell; ``rename`` maps layout sheets to other sheet names."""
        c = self.cells[code]
        if rename:
            c = Cell(rename.get(c.sheet, c.sheet), c.row, c.col)
        return c.ref(from_sheet)

    def range_ref(self, start: str, end: str, from_sheet: str | None = None, rename: Mapping[str, str] | None = None) -> str:
        a, b = self.cells[start], self.cells[end]
        r0, r1 = sorted((a.row, b.row))
        c0, c1 = sorted((a.col, b.col))
        sheet = rename.get(a.sheet, a.sheet) if rename else a.sheet
        return on_sheet(sheet, area(r0, c0, r1, c1), from_sheet)

    def check_pass_ref(self, inst: RuleInstance, from_sheet: str | None) -> str:
        return Cell(CHECKS_SHEET, self.check_rows[inst.id], 4).ref(from_sheet)

    def check_result_ref(self, inst: RuleInstance, from_sheet: str | None) -> str:
        return Cell(CHECKS_SHEET, self.check_rows[inst.id], 3).ref(from_sheet)

    # -- placement
    def _place(self) -> None:
        groups: list[list[Table]] = []
        for t in self.form.tables:
            if groups and groups[-1][0].sheet == t.sheet:
                groups[-1].append(t)
            else:
                groups.append([t])
        anchors = self._anchors()
        for i, tables in enumerate(groups):
            self.sheets.append(self._place_sheet(tables, with_header=(i == 0), anchors=anchors))
        for i, inst in enumerate(self.form.instances):
            self.check_rows[inst.id] = CHECKS_FIRST_ROW + i
        for sl in self.sheets:
            sl.mirror_col = sl.last_col + 2
            for inst in self.form.instances:
                if any(self.cells[c].sheet == sl.name for c in inst.reads):
                    sl.mirrors[inst.id] = len(sl.mirrors)

    def _anchors(self) -> dict[str, list[RuleInstance]]:
        """Which row's check cell shows each rule: the row of the first code on its left side."""
        out: dict[str, list[RuleInstance]] = {}
        for inst in self.form.instances:
            left = rx.codes(inst.tree.left, self.form.expand) or list(inst.reads)
            ind = self.form.indicators[left[0]]
            anchor = ind.code if self.form.table(ind.table).kind == "list" else (self.form.table(ind.table).rows[ind.row].code or "")
            out.setdefault(f"{ind.table}:{anchor}", []).append(inst)
        return out

    def _place_sheet(self, tables: list[Table], with_header: bool, anchors: dict[str, list[RuleInstance]]) -> SheetLayout:
        sl = SheetLayout(name=tables[0].sheet, tables=tables)
        ncols = max(_data_columns(t) for t in tables)  # data columns
        sl.last_col = ncols  # the check column
        sl.landscape = _is_landscape(tables)
        title = self.form.title if with_header else f"{self.form.title}"
        sl.texts.append(Text(0, 0, title, "title", (0, sl.last_col)))
        sl.period_row = 1
        sl.status_row = 2
        row = 3
        if with_header:
            for f in self.form.header:
                sl.texts.append(Text(row, 0, f.label, "field"))
                last = max(1, ncols - 1)
                sl.fields[f.code] = (row, 1, last)
                self.field_cells[f.code] = Cell(sl.name, row, 1)
                row += 1
        label_width = 12.0
        for ti, t in enumerate(tables):
            row += 1  # a blank row before every table
            if t.section:
                sl.texts.append(Text(row, 0, t.section, "table_title", (row, sl.last_col)))
                row += 1
            if t.title:
                sl.texts.append(Text(row, 0, t.title, "table_title", (row, sl.last_col)))
                row += 1
            head_top = row
            depth = t.header_depth
            if t.kind == "list":
                for ci, text in enumerate(t.headings):
                    sl.texts.append(Text(row, ci, text, "heading"))
                if t.previous_column:
                    sl.texts.append(Text(row, PREVIOUS_COL, PREVIOUS_HEADING, "heading"))
            else:
                sl.texts.append(Text(row, 0, t.corner, "corner", (row + depth - 1, 0) if depth > 1 else None))
                self._place_columns(sl, t.columns, row, 1, depth)
            # the check cells fill the width right of the table's own columns
            first = _data_columns(t)
            sl.check_first[t.id] = first
            span = (row + depth - 1, sl.last_col) if depth > 1 or first < sl.last_col else None
            sl.texts.append(Text(row, first, CHECK_HEADING, "check", span))
            row += depth
            data_top = row
            for r in t.rows:
                label = with_unit(r.label, r.raw.get("unit")) if t.kind == "matrix" else r.label
                sl.texts.append(Text(row, 0, label, "label", level=r.level))
                label_width = max(label_width, display_width(r.label) + 2 * r.level)
                if t.kind == "list":
                    ind = self.form.indicators.get(r.code or "")
                    unit = ind.spec.unit if ind else (r.raw.get("unit") or "——")
                    sl.texts.append(Text(row, 1, unit, "unit"))
                    if t.previous_column and ind is not None and ind.spec.numeric:
                        sl.previous[ind.code] = (row, PREVIOUS_COL)
                for ci, leaf in enumerate(t.leaves):
                    code = t.cell_code(r, leaf)
                    if code is None or code not in self.form.indicators:
                        continue
                    col = 2 if t.kind == "list" else 1 + ci
                    sl.inputs[code] = (row, col)
                    self.cells[code] = Cell(sl.name, row, col)
                insts = anchors.get(f"{t.id}:{r.code}") if r.code else None
                if insts:
                    sl.checks[(row, first)] = insts
                row += 1
            sl.table_frames[t.id] = (head_top, data_top - 1, data_top, row - 1)
            if ti == 0:
                sl.repeat_rows = (head_top, data_top - 1)
                sl.freeze = (data_top, 1 if t.kind == "matrix" else 0)
            if t.note:
                sl.texts.append(Text(row, 0, t.note, "note", (row, sl.last_col)))
                row += 1
        sl.widths[0] = min(max(label_width * 1.05, 20.0), 60.0)
        for c in range(1, sl.last_col):
            sl.widths[c] = 8.0
        if all(t.kind == "list" for t in tables):
            sl.widths[1] = 8.0
            sl.widths[2] = 14.0
            if any(t.previous_column for t in tables):
                sl.widths[PREVIOUS_COL] = 12.0
        for t in tables:
            if t.kind == "matrix":
                for ci, leaf in enumerate(t.leaves):
                    # wide enough for the heading on two lines, within reason
                    want = leaf.width or heading_width(leaf.label, many=len(t.leaves) > 10)
                    sl.widths[1 + ci] = max(sl.widths.get(1 + ci, 0), want)
        sl.widths[sl.last_col] = _check_width(sl, sum(w for c, w in sl.widths.items() if 0 < c < sl.last_col))
        _fit_heights(sl)
        return sl

    def _place_columns(self, sl: SheetLayout, cols: tuple[Column, ...], row: int, col: int, depth: int) -> int:
        for c in cols:
            n = sum(1 for _ in c.leaves())
            last_row = row if c.children else row + depth - 1
            merge = (last_row, col + n - 1) if (last_row != row or n > 1) else None
            sl.texts.append(Text(row, col, with_unit(c.label, c.raw.get("unit")), "heading", merge))
            if c.children:
                self._place_columns(sl, c.children, row + 1, col, depth - 1)
            col += n
        return col


PREVIOUS_COL = 3   # a list table's 上年数 column, right of 统计数


def _data_columns(t: Table) -> int:
    """How many columns a table's labels and values take (its check cells start right of them)."""
    if t.kind == "list":
        return 4 if t.previous_column else 3
    return 1 + len(t.leaves)


def _check_width(sl: SheetLayout, data_width: float) -> float:
    """The check column: wide enough for the longest message of a rule shown there on one line
    (a lying page takes up to 80 characters, an upright one 56; longer ones wrap)."""
    longest = max((display_width(render_message(i, 1234567, 1234567)) * CHECK_FONT_SCALE + 3
                   for insts in sl.checks.values() for i in insts), default=20.0)
    cap = (80.0 if data_width <= 100 else 30.0) if sl.landscape else 56.0
    return float(min(max(longest, 20.0), cap))


def with_unit(label: str, unit: str | None) -> str:
    """A matrix heading or row label with the unit its own cells are measured in: 面积（平方米）.

    A list table has a unit column; a matrix shows a unit set on a column or a row in its heading
    (a unit given only in the table's ``defaults`` belongs in the table's title or note).
    """
    return f"{label}（{unit}）" if unit else label


def _fit_heights(sl: SheetLayout) -> None:
    """Row heights for wrapped labels and headings, which Excel does not grow by itself on open."""
    import math
    for t in sl.texts:
        if t.role in ("title", "table_title", "note") or not t.text:
            continue
        last_row, last_col = t.merge_to or (t.row, t.col)
        width = sum(sl.widths.get(c, 8.43) for c in range(t.col, last_col + 1)) - 1 - 2 * t.level
        lines = math.ceil(display_width(t.text) / max(width, 4))
        rows = last_row - t.row + 1
        per_row = 15.0 * lines / rows
        if lines > 1 and per_row > 15:
            for r in range(t.row, last_row + 1):
                sl.heights[r] = max(sl.heights.get(r, 15.0), per_row)


_cache: dict[tuple[str, str, str], Layout] = {}


def layout_of(form: Form) -> Layout:
    """The layout of a form; computed once per (id, version, hash) and shared."""
    key = (form.id, form.version, form.content_hash)
    lay = _cache.get(key)
    if lay is None or (lay.form is not form and lay.form.content_hash != form.content_hash):
        lay = Layout(form)
        _cache[key] = lay
    return lay
