"""Excel formula text: A1 references, and the formulas the toolkit writes into workbooks.

:mod:`toolkit.layout` decides where every cell sits; this module decides how a formula names those
cells (``'三、收到和处理申请情况'!$H$12``) and what a computed cell, a live check or a summary total
says in Excel. Formula text out, nothing else: a form's formulas ask its layout only where a cell
is, and nothing here opens or writes a workbook, so a formula can be read — and tested — on its own. The Python twins of these formulas are :meth:`Form.compute`
(computed cells), :func:`toolkit.checks.evaluate_instance` (live checks) and
:mod:`toolkit.messages` (the message a failed check shows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from . import rules as rx
from .messages import message_parts
from .sheets import CHECKS_SHEET, NOT_APPLICABLE_MARK, PASS_MARK

if TYPE_CHECKING:
    from .layout import Layout
    from .schema import RuleInstance

# ---------------------------------------------------------------------------- A1 references


def col_letter(col: int) -> str:
    """A 0-based column as Excel letters: 0 → A, 26 → AA."""
    s = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


def col_number(letters: str) -> int:
    """Excel column letters as a 1-based column number: A → 1, AA → 27 (``col_letter(n - 1)`` back)."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def a1(row: int, col: int, absolute: bool = False) -> str:
    """A 0-based (row, column) in A1 notation: H12, or $H$12 when ``absolute``."""
    d = "$" if absolute else ""
    return f"{d}{col_letter(col)}{d}{row + 1}"


def area(first_row: int, first_col: int, last_row: int, last_col: int) -> str:
    """An absolute range: $B$5:$D$9."""
    return f"{a1(first_row, first_col, True)}:{a1(last_row, last_col, True)}"


def quote_sheet(name: str) -> str:
    """A sheet name as it must appear in a formula: quoted unless plainly alphanumeric."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    return "'" + name.replace("'", "''") + "'"


def on_sheet(sheet: str, local: str, from_sheet: str | None = None) -> str:
    """A cell or range of ``sheet`` as a formula on ``from_sheet`` names it: bare on its own sheet,
    sheet-qualified elsewhere."""
    return local if from_sheet == sheet else f"{quote_sheet(sheet)}!{local}"


# ---------------------------------------------------------------------------- small pieces


def text_literal(text: str) -> str:
    """A text constant in a formula: "…", with its quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def exact_criterion(text: str) -> str:
    """A SUMIFS criterion matching exactly ``text``: never read as an operator (<5, =x) or a wildcard (部门*)."""
    return "=" + text.replace("~", "~~").replace("*", "~*").replace("?", "~?")


def sumifs(sum_range: str, *criteria: tuple[str, str]) -> str:
    """SUMIFS over ``sum_range`` where every (range, text) of ``criteria`` matches."""
    return f"SUMIFS({sum_range}{''.join(f',{rng},{text_literal(text)}' for rng, text in criteria)})"


def growth(here: str, previous: str) -> str:
    """The change against last year as a fraction; blank where last year's figure is blank or zero."""
    return f'IF(OR({previous}="",{previous}=0,{here}=""),"",({here}-{previous})/{previous})'


# ---------------------------------------------------------------------------- a form's formulas


def expression(lay: Layout, node: rx.Node, from_sheet: str | None = None, rename: Mapping[str, str] | None = None) -> str:
    """An arithmetic tree as an Excel formula body, with the layout's cell references."""
    return rx.to_excel(node, lambda c: lay.ref(c, from_sheet, rename), lambda a, b: lay.range_ref(a, b, from_sheet, rename),
                       lambda c: lay.prev_cells[c].ref(from_sheet))


def computed_formula(lay: Layout, code: str, from_sheet: str | None = None, rename: Mapping[str, str] | None = None) -> str:
    """The formula body of a computed indicator; a guarded one (it divides) is rounded to its
    places and blank — not #DIV/0! — where undefined, exactly as :meth:`Form.compute` says."""
    form = lay.form
    body = expression(lay, form.computed[code], from_sheet, rename)
    deps = form.guarded.get(code)
    if deps is None:
        return body
    places = form.indicators[code].spec.shown_places
    body = f'IFERROR(ROUND({body},{places}),"")'
    if deps:
        blank = ",".join(f'{lay.ref(d, from_sheet, rename)}=""' for d in deps)
        body = f'IF(OR({blank}),"",{body})'
    return body


def excel_message(inst: RuleInstance, sides: Mapping[str, str], lang: str = "zh") -> str:
    """A failed rule's message as an Excel text expression, each side shown from its formula
    (``sides``: placeholder → formula body): the Excel twin of :func:`toolkit.messages.render_message`."""
    parts: list[str] = []
    for literal, ph, places in message_parts(inst, lang):
        if literal:
            parts.append(text_literal(literal))
        if ph is not None and ph in sides:
            parts.append(rx.excel_text_places(sides[ph], places))
    return "&".join(parts) or '""'


def live_check(lay: Layout, inst: RuleInstance, lang: str = "zh", from_sheet: str | None = CHECKS_SHEET) -> str:
    """The live check of one rule instance: ✓, the message with both sides' numbers, or — (not
    applicable). The Python twin is :func:`toolkit.checks.evaluate_instance`."""
    form = lay.form
    tree = inst.tree
    left = expression(lay, tree.left, from_sheet)
    right = expression(lay, tree.right, from_sheet)
    cond = rx.excel_holds(tree.op, left, right, inst.rule.tolerance)
    sides = {"left": left, "right": right, "diff": f"({left})-({right})"}
    if inst.when is not None:
        sides["when_left"] = expression(lay, inst.when.left, from_sheet)
        sides["when_right"] = expression(lay, inst.when.right, from_sheet)
    body = f'IF({cond},"{PASS_MARK}",{excel_message(inst, sides, lang)})'
    if inst.when is not None:
        when = rx.excel_holds(inst.when.op, sides["when_left"], sides["when_right"])
        body = f'IF({when},{body},"{NOT_APPLICABLE_MARK}")'
    body = f'IFERROR({body},"{NOT_APPLICABLE_MARK}")'
    undefined = [lay.ref(c, from_sheet) for c in inst.reads if c in form.guarded]
    if undefined:
        body = f'IF(OR({",".join(f"{u}={chr(34) * 2}" for u in undefined)}),"{NOT_APPLICABLE_MARK}",{body})'
    if inst.rule.blank == "skip":
        blanks = [lay.ref(c, from_sheet) for c in inst.reads if not form.indicators[c].computed]
        if blanks:
            body = f'IF(OR({",".join(f"ISBLANK({b})" for b in blanks)}),"{NOT_APPLICABLE_MARK}",{body})'
    if inst.prev_reads:   # last year's figure not known (or blank): not applicable, as in Python
        unknown = [lay.prev_cells[c].ref(from_sheet) for c in inst.prev_reads]
        body = f'IF(OR({",".join(f"ISBLANK({u})" for u in unknown)}),"{NOT_APPLICABLE_MARK}",{body})'
    return body
