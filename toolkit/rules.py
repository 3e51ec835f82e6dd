"""Rule and formula expressions: parse once, then evaluate, render as Excel, or list codes.

The same tree serves three uses so that the live check an agency sees in Excel and the check
the office runs on the returned file can never disagree in what they compute:

1. ``evaluate`` — Python values in, a number out (``compare`` for rules);
2. ``to_excel`` — an Excel formula, given where every indicator sits;
3. ``codes``    — the indicators an expression reads (for cell addresses in reports).

The parser is a small hand-written recursive descent over a fixed grammar: there is no
``eval`` and no way to reach Python from a schema.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Union

__all__ = [
    "ExpressionError", "NotApplicable", "Num", "Ref", "Prev", "Range", "Neg", "BinOp", "Call", "Compare", "Implies",
    "PREV_PREFIX", "prev_key", "prev_codes", "parse", "parse_comparison", "parse_rule", "parse_arithmetic", "codes", "evaluate", "to_excel",
    "format_number", "format_places", "has_division", "COMPARISONS",
]


class ExpressionError(ValueError):
    """An expression that does not parse, with the position where reading stopped."""

    def __init__(self, message: str, text: str = "", position: int | None = None):
        self.text = text
        self.position = position
        where = f" at character {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}")


class NotApplicable(Exception):
    """Raised while evaluating when a rule cannot be decided (a division by zero, a blank under ``skip``)."""


# ---------------------------------------------------------------------------- the tree

@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:
    code: str


@dataclass(frozen=True)
class Prev:
    """``prev(code)`` — the same agency's value of ``code`` in the previous period.

    It is read from the values under :func:`prev_key` (``"prev:" + code``), which the caller fills
    from last year's figures (see :mod:`toolkit.previous`); a blank or missing previous value makes
    the whole rule "not applicable" (:class:`NotApplicable`), never a failure.
    """
    code: str


PREV_PREFIX = "prev:"


def prev_key(code: str) -> str:
    """The key under which the previous period's value of ``code`` travels with this period's values."""
    return PREV_PREFIX + code


@dataclass(frozen=True)
class Range:
    """``A:B`` — every indicator in the rectangle from A to B; only allowed as a function argument."""
    start: str
    end: str


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str  # sum abs min max round
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True)
class Implies:
    """``if WHEN then THEN`` — a rule that applies only while WHEN holds ("A > 0 requires B > 0").

    Both parts are comparisons of arithmetic trees, so anything an arithmetic tree may hold (a
    later ``prev(code)`` call included) can appear on either side without a new kind of rule.
    """
    when: Compare
    then: Compare


Node = Union[Num, Ref, Prev, Range, Neg, BinOp, Call, Compare, Implies]

COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
FUNCTIONS = {"sum": (1, None), "abs": (1, 1), "min": (1, None), "max": (1, None), "round": (2, 2)}

# ---------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<bracket>\[[^\[\]]+\])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op>==|!=|<=|>=|<|>|=|\+|-|\*|/|\(|\)|,|:)
    """,
    re.VERBOSE,
)
# Typographic operators people paste from Word: accept them as their ASCII meaning.
_ALIASES = {"×": "*", "÷": "/", "−": "-", "≤": "<=", "≥": ">=", "≠": "!=", "（": "(", "）": ")", "，": ","}


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _ALIASES:
            out.append(("op", _ALIASES[ch], i))
            i += 1
            continue
        m = _TOKEN.match(text, i)
        if not m:
            raise ExpressionError(f"unexpected character {ch!r}", text, i)
        kind = m.lastgroup
        assert kind is not None     # every alternative of _TOKEN is a named group
        if kind != "space":
            value = m.group()
            if kind == "op" and value == "=":
                raise ExpressionError("use == to compare", text, i)
            out.append((kind, value, i))
        i = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, v, pos = self.take()
        if v != value or kind != "op":
            raise ExpressionError(f"expected {value!r}, found {v or 'the end'!r}", self.text, pos)

    def fail(self, what: str) -> ExpressionError:
        _kind, v, pos = self.peek()
        return ExpressionError(f"{what}, found {v or 'the end'!r}", self.text, pos)

    def keyword(self, word: str) -> bool:
        kind, v, _ = self.peek()
        nxt = self.toks[min(self.i + 1, len(self.toks) - 1)]
        return kind == "name" and v.lower() == word and not (nxt[0] == "op" and nxt[1] in ("(", ":"))

    def rule(self) -> Node:
        """A rule: one comparison, or ``if <comparison> then <comparison>``."""
        if not self.keyword("if"):
            return self.top()
        pos = self.take()[2]
        when = self.comparison()
        if not self.keyword("then"):
            raise self.fail("expected 'then' after the condition of 'if'")
        self.take()
        then = self.comparison()
        if self.peek()[0] != "end":
            raise self.fail("expected the end of the rule")
        if not isinstance(when, Compare) or not isinstance(then, Compare):
            raise ExpressionError("'if … then …' needs a comparison on both sides", self.text, pos)
        return Implies(when, then)

    def comparison(self) -> Node:
        node = self.arithmetic_or_comparison()
        if not isinstance(node, Compare):
            raise self.fail("expected a comparison (==, !=, <, <=, >, >=)")
        return node

    def arithmetic_or_comparison(self) -> Node:
        """An expression, compared with a second one when a comparison operator follows (only one)."""
        left = self.additive()
        kind, v, _pos = self.peek()
        if not (kind == "op" and v in COMPARISONS):
            return left
        self.take()
        right = self.additive()
        k2, v2, p2 = self.peek()
        if k2 == "op" and v2 in COMPARISONS:
            raise ExpressionError("only one comparison is allowed", self.text, p2)
        return Compare(v, left, right)

    def top(self) -> Node:
        if self.keyword("if") or self.keyword("then"):
            raise self.fail("'if … then …' is only allowed in a rule")
        node = self.arithmetic_or_comparison()
        if self.peek()[0] != "end":
            raise self.fail("expected an operator or the end")
        return node

    def additive(self) -> Node:
        node = self.term()
        while self.peek()[0] == "op" and self.peek()[1] in "+-" and self.peek()[1] != "":
            op = self.take()[1]
            node = BinOp(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            node = BinOp(op, node, self.unary())
        return node

    def unary(self) -> Node:
        kind, v, _pos = self.peek()
        if kind == "op" and v == "-":
            self.take()
            return Neg(self.unary())
        if kind == "op" and v == "+":
            self.take()
            return self.unary()
        return self.primary()

    def primary(self) -> Node:
        kind, v, _pos = self.peek()
        if kind == "number":
            self.take()
            return Num(float(v))
        if kind == "op" and v == "(":
            self.take()
            node = self.additive()
            self.expect(")")
            return node
        if kind == "name" and self.toks[self.i + 1][1] == "(" and self.toks[self.i + 1][0] == "op":
            return self.call()
        if kind in ("name", "bracket"):
            self.take()
            code = v[1:-1].strip() if kind == "bracket" else v
            if self.peek()[1] == ":" and self.peek()[0] == "op":
                raise ExpressionError("a range A:B is only allowed inside sum(), min() or max()", self.text, self.peek()[2])
            return Ref(code)
        raise self.fail("expected a number, an indicator code or '('")

    def call(self) -> Node:
        name, pos = self.take()[1:]
        low = name.lower()
        if low == "prev":
            return self.prev()
        if low not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name!r} (known: {', '.join(FUNCTIONS)}, prev)", self.text, pos)
        self.expect("(")
        args: list[Node] = []
        if self.peek()[1] != ")":
            while True:
                args.append(self.argument(low))
                if self.peek()[1] == ",":
                    self.take()
                    continue
                break
        self.expect(")")
        lo, hi = FUNCTIONS[low]
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}"
            raise ExpressionError(f"{low}() takes {want} argument(s), got {len(args)}", self.text, pos)
        if low == "round" and not isinstance(args[1], Num):
            raise ExpressionError("round(x, n): n must be a number", self.text, pos)
        return Call(low, tuple(args))

    def prev(self) -> Node:
        """``prev(code)``: one indicator code, nothing computed inside (last year's value of it)."""
        self.expect("(")
        kind, v, p = self.take()
        if kind not in ("name", "bracket"):
            raise ExpressionError("prev() takes one indicator code, e.g. prev(B3_next.total)", self.text, p)
        if self.peek()[0] == "op" and self.peek()[1] == ":":
            raise ExpressionError("prev() takes one indicator code, not a range", self.text, self.peek()[2])
        self.expect(")")
        return Prev(v[1:-1].strip() if kind == "bracket" else v)

    def argument(self, func: str) -> Node:
        kind, v, pos = self.peek()
        nxt = self.toks[min(self.i + 1, len(self.toks) - 1)]
        if kind in ("name", "bracket") and nxt[0] == "op" and nxt[1] == ":":
            if func not in ("sum", "min", "max"):
                raise ExpressionError(f"a range is not allowed in {func}()", self.text, pos)
            self.take()
            self.take()
            k2, v2, p2 = self.take()
            if k2 not in ("name", "bracket"):
                raise ExpressionError("a range ends with an indicator code", self.text, p2)
            start = v[1:-1].strip() if kind == "bracket" else v
            end = v2[1:-1].strip() if k2 == "bracket" else v2
            return Range(start, end)
        return self.additive()


def parse(text: str) -> Node:
    """Parse an expression (arithmetic, or one comparison at the top)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty", str(text), 0)
    return _Parser(text).top()


def parse_comparison(text: str) -> Compare:
    node = parse(text)
    if not isinstance(node, Compare):
        raise ExpressionError("a rule must compare two sides (==, !=, <, <=, >, >=)", text, None)
    return node


def parse_rule(text: str) -> Compare | Implies:
    """Parse a rule: one comparison, or ``if <comparison> then <comparison>``."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty", str(text), 0)
    node = _Parser(text).rule()
    if not isinstance(node, (Compare, Implies)):
        raise ExpressionError("a rule must compare two sides (==, !=, <, <=, >, >=)", text, None)
    return node


def is_conditional(text: str) -> bool:
    """Whether a rule's text is an ``if … then …`` rule (it may still fail to parse)."""
    return bool(re.match(r"\s*if\b(?!\s*[(:])", text or "", re.I))


def parse_arithmetic(text: str) -> Node:
    node = parse(text)
    if isinstance(node, Compare):
        raise ExpressionError("a computed value cannot contain a comparison", text, None)
    return node


# ---------------------------------------------------------------------------- uses

RangeExpander = Callable[[str, str], Sequence[str]]


def codes(node: Node, expand: RangeExpander) -> list[str]:
    """Every indicator code the expression reads from this period's values, in order, without
    repeats (``prev(X)`` reads last year's X, not this workbook's: see :func:`prev_codes`)."""
    seen: dict[str, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Ref):
            seen.setdefault(n.code)
        elif isinstance(n, Range):
            for c in expand(n.start, n.end):
                seen.setdefault(c)
        elif isinstance(n, Neg):
            walk(n.operand)
        elif isinstance(n, (BinOp, Compare)):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Implies):
            walk(n.when)
            walk(n.then)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)

    walk(node)
    return list(seen)


def prev_codes(node: Node) -> list[str]:
    """The codes whose previous-period value the expression reads (``prev(X)``), in order."""
    seen: dict[str, None] = {}
    for n in iter_nodes(node):
        if isinstance(n, Prev):
            seen.setdefault(n.code)
    return list(seen)


def _prev_value(values: Mapping[str, float | None], code: str) -> float:
    v = values.get(PREV_PREFIX + code)
    if v is None:
        raise NotApplicable(f"no previous value of {code}")
    return float(v)


def evaluate(node: Node, values: Mapping[str, float | None], expand: RangeExpander) -> float:
    """The value of an arithmetic tree; a missing or blank value counts as 0.

    Raises NotApplicable for a division by zero, so a rule over an empty denominator is
    neither passed nor failed — the Excel rendering shows the same "—".
    """
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        v = values.get(node.code)
        return 0.0 if v is None else float(v)
    if isinstance(node, Prev):
        return _prev_value(values, node.code)
    if isinstance(node, Neg):
        return -evaluate(node.operand, values, expand)
    if isinstance(node, BinOp):
        a = evaluate(node.left, values, expand)
        b = evaluate(node.right, values, expand)
        if node.op == "+":
            return a + b
        if node.op == "-":
            return a - b
        if node.op == "*":
            return a * b
        if b == 0:
            raise NotApplicable("division by zero")
        return a / b
    if isinstance(node, Call):
        if node.name == "round":
            x = evaluate(node.args[0], values, expand)
            n = int(node.args[1].value)  # type: ignore[union-attr]
            return _excel_round(x, n)
        items: list[float] = []
        for arg in node.args:
            if isinstance(arg, Range) or (isinstance(arg, Ref) and node.name in ("min", "max")):
                cells = expand(arg.start, arg.end) if isinstance(arg, Range) else [arg.code]
                # Excel's MIN/MAX leave out blank cells they are given by reference; SUM adds them as 0.
                if node.name in ("min", "max"):
                    items.extend(float(values[c]) for c in cells if values.get(c) is not None)  # type: ignore[arg-type]
                else:
                    items.extend(0.0 if values.get(c) is None else float(values[c]) for c in cells)  # type: ignore[arg-type]
            else:
                items.append(evaluate(arg, values, expand))
        if node.name == "sum":
            return math.fsum(items)
        if node.name == "abs":
            return abs(items[0])
        if not items:
            return 0.0
        return min(items) if node.name == "min" else max(items)
    raise TypeError(f"not an arithmetic node: {node!r}")


def _excel_round(x: float, n: int) -> float:
    """Round half away from zero, as Excel's ROUND does (Python's round() rounds half to even)."""
    # Excel rounds the number as it shows it (15 significant digits): ROUND(1.005, 2) = 1.01,
    # ROUND(0.4999999999, 0) = 0.
    if not math.isfinite(x):
        return x
    try:
        with localcontext() as ctx:
            ctx.prec = 400
            d = Decimal(format(x, ".15g")).quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more places than the number has: nothing to round
        return x
    return math.copysign(float(d), x)


EPSILON = 1e-9


def holds(op: str, left: float, right: float, tolerance: float = 0.0) -> bool:
    """Whether ``left op right`` holds, allowing ``tolerance`` (and float noise) where it makes sense."""
    d = left - right
    if op == "==":
        return abs(d) <= tolerance + EPSILON
    if op == "!=":
        return abs(d) > tolerance + EPSILON
    if op == "<=":
        return d <= tolerance + EPSILON
    if op == ">=":
        return -d <= tolerance + EPSILON
    if op == "<":
        return d < tolerance - EPSILON if tolerance else d < -EPSILON
    if op == ">":
        return -d < tolerance - EPSILON if tolerance else -d < -EPSILON
    raise ValueError(op)


# ---------------------------------------------------------------------------- Excel

CellRef = Callable[[str], str]
RangeRef = Callable[[str, str], str]
_EXCEL_OP = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def to_excel(node: Node, cell: CellRef, cells: RangeRef, prev: CellRef | None = None) -> str:
    """Render an arithmetic tree as an Excel formula body (no leading '=').

    ``prev(code)`` renders as ``prev(code)`` gives it: the reference to a cell holding last year's
    value (the template's hidden reference cells); without ``prev`` it cannot be rendered.
    """
    if isinstance(node, Num):
        return format_number(node.value)
    if isinstance(node, Ref):
        return cell(node.code)
    if isinstance(node, Prev):
        if prev is None:
            raise ExpressionError(f"prev({node.code}) needs a cell holding the previous value")
        return prev(node.code)
    if isinstance(node, Range):
        return cells(node.start, node.end)
    if isinstance(node, Neg):
        return f"-{_wrap(node.operand, cell, cells, 3, prev)}"
    if isinstance(node, BinOp):
        prec = 1 if node.op in "+-" else 2
        left = _wrap(node.left, cell, cells, prec, prev)
        right = _wrap(node.right, cell, cells, prec + 1, prev)  # a-(b-c) keeps its parentheses
        return f"{left}{node.op}{right}"
    if isinstance(node, Call):
        return f"{node.name.upper()}({','.join(to_excel(a, cell, cells, prev) for a in node.args)})"
    if isinstance(node, Compare):
        return f"{to_excel(node.left, cell, cells, prev)}{_EXCEL_OP[node.op]}{to_excel(node.right, cell, cells, prev)}"
    if isinstance(node, Implies):
        return f"IF({to_excel(node.when, cell, cells, prev)},{to_excel(node.then, cell, cells, prev)},TRUE)"
    raise TypeError(node)


def _precedence(node: Node) -> int:
    if isinstance(node, BinOp):
        return 1 if node.op in "+-" else 2
    if isinstance(node, Neg):
        return 3
    return 4


def _wrap(node: Node, cell: CellRef, cells: RangeRef, need: int, prev: CellRef | None = None) -> str:
    text = to_excel(node, cell, cells, prev)
    return f"({text})" if _precedence(node) < need else text


def excel_holds(op: str, left: str, right: str, tolerance: float = 0.0) -> str:
    """The Excel condition matching :func:`holds` exactly, over two rendered sides."""
    d = f"({left})-({right})"
    tol = format_number(tolerance + EPSILON)
    if op == "==":
        return f"ABS({d})<={tol}"
    if op == "!=":
        return f"ABS({d})>{tol}"
    if op == "<=":
        return f"{d}<={tol}"
    if op == ">=":
        return f"-({d})<={tol}"
    strict = format_number(tolerance - EPSILON) if tolerance else format_number(-EPSILON)
    if op == "<":
        return f"{d}<{strict}"
    if op == ">":
        return f"-({d})<{strict}"
    raise ValueError(op)


def format_number(x: float) -> str:
    """A number as people read it and as Excel's General format shows it: 805, 14722.49, 0.3."""
    if isinstance(x, bool):
        x = int(x)
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = format(float(x), ".15g")
    if "e" in text:
        mant, exp = text.split("e")
        return f"{mant}E{int(exp):+d}"
    return text


def format_places(x: float, places: int | None) -> str:
    """A number with exactly ``places`` decimals, rounded as Excel's TEXT(x, "0.00") shows it.

    ``None`` keeps :func:`format_number` (integer sides: what the General format shows). No
    float noise (0.499999999999773 → 0.50) and no lost places (150 → 150.00 for 万元 with 2 places).
    """
    if places is None:
        return format_number(x)
    if not math.isfinite(x):
        return format_number(x)
    r = _excel_round(float(x), places) + 0.0   # + 0.0: no "-0.00"
    if r == 0:
        r = 0.0
    return f"{r:.{places}f}"


def excel_text_places(body: str, places: int | None) -> str:
    """The Excel twin of :func:`format_places` over a rendered formula body."""
    if places is None:
        return f"({body})"
    fmt = "0" if places == 0 else "0." + "0" * places
    return f'TEXT(ROUND({body},{places})+0,"{fmt}")'  # +0: no "-0.00"


def iter_nodes(node: Node) -> Iterable[Node]:
    yield node
    if isinstance(node, Neg):
        yield from iter_nodes(node.operand)
    elif isinstance(node, (BinOp, Compare)):
        yield from iter_nodes(node.left)
        yield from iter_nodes(node.right)
    elif isinstance(node, Implies):
        yield from iter_nodes(node.when)
        yield from iter_nodes(node.then)
    elif isinstance(node, Call):
        for a in node.args:
            yield from iter_nodes(a)


def has_division(node: Node) -> bool:
    """Whether the tree divides: its value can be undefined (a zero divisor) and need not be whole."""
    return any(isinstance(n, BinOp) and n.op == "/" for n in iter_nodes(node))


Compiled = Callable[[Mapping[str, "float | None"]], float]


def compile_node(node: Node, expand: RangeExpander) -> Compiled:
    """The tree as nested Python closures — :func:`evaluate` without the per-call tree walk.

    Reading workbooks is the hot path of every merge, and every rule runs for every workbook;
    ranges are expanded once here instead of on every evaluation. Semantics are exactly
    :func:`evaluate`'s (the tests hold the two to each other); no source text is generated.
    """
    if isinstance(node, Num):
        value = node.value
        return lambda v: value
    if isinstance(node, Ref):
        code = node.code

        def ref(v: Mapping[str, float | None]) -> float:
            x = v.get(code)
            return 0.0 if x is None else float(x)
        return ref
    if isinstance(node, Prev):
        pcode = node.code
        return lambda v: _prev_value(v, pcode)
    if isinstance(node, Neg):
        inner = compile_node(node.operand, expand)
        return lambda v: -inner(v)
    if isinstance(node, BinOp):
        a, b = compile_node(node.left, expand), compile_node(node.right, expand)
        if node.op == "+":
            return lambda v: a(v) + b(v)
        if node.op == "-":
            return lambda v: a(v) - b(v)
        if node.op == "*":
            return lambda v: a(v) * b(v)

        def divide(v: Mapping[str, float | None]) -> float:
            d = b(v)
            if d == 0:
                raise NotApplicable("division by zero")
            return a(v) / d
        return divide
    if isinstance(node, Call):
        if node.name == "round":
            x = compile_node(node.args[0], expand)
            n = int(node.args[1].value)  # type: ignore[union-attr]
            return lambda v: _excel_round(x(v), n)
        parts: list[tuple[str, tuple[str, ...] | Compiled]] = []   # the tag tells which; mypy cannot narrow by it, hence the ignores below
        for arg in node.args:
            if isinstance(arg, Range) or (isinstance(arg, Ref) and node.name in ("min", "max")):
                parts.append(("cells", tuple(expand(arg.start, arg.end)) if isinstance(arg, Range) else (arg.code,)))
            else:
                parts.append(("expr", compile_node(arg, expand)))
        name = node.name
        if name == "sum" and all(kind == "cells" for kind, _ in parts):
            cells = tuple(c for _, group in parts for c in group)  # type: ignore[union-attr]

            def sum_cells(v: Mapping[str, float | None]) -> float:
                xs = list(map(v.get, cells))         # C-speed: this runs hundreds of times per workbook
                if None in xs:
                    return math.fsum([x for x in xs if x is not None])      # a blank counts as 0
                return math.fsum(xs)  # type: ignore[arg-type]
            return sum_cells

        def call(v: Mapping[str, float | None]) -> float:
            items: list[float] = []
            for kind, payload in parts:
                if kind == "cells":
                    if name in ("min", "max"):
                        items.extend(float(x) for c in payload if (x := v.get(c)) is not None)  # type: ignore[union-attr]
                    else:
                        items.extend(0.0 if (x := v.get(c)) is None else float(x) for c in payload)  # type: ignore[union-attr]
                else:
                    items.append(payload(v))  # type: ignore[operator]
            if name == "sum":
                return math.fsum(items)
            if name == "abs":
                return abs(items[0])
            if not items:
                return 0.0
            return min(items) if name == "min" else max(items)
        return call
    raise TypeError(f"not an arithmetic node: {node!r}")
