"""The ``pattern`` of a text field: a small, safe regular-expression subset matched in linear time.

A form's author writes ``"pattern": "1\\d{10}"`` for a mobile number or an e-mail shape. Python's
``re`` backtracks, so a careless pattern (``(a+)+b``, ``\\d*\\d*\\d*x``) can take exponential or
high-polynomial time on a hostile cell; the reader must never hang on a workbook. So the pattern is
parsed here into a fixed grammar and matched by simulating its Thompson automaton: time is at most
(text length × automaton size), both bounded.

The subset (always matched against the whole text; a leading ``^`` and trailing ``$`` are allowed
and mean nothing more):

* a literal character; ``\\`` before any of ``\\.^$|?*+()[]{}-/`` for the character itself
* ``.`` any character; ``\\d`` a digit 0-9; ``\\w`` a letter, digit or _ (ASCII);
  ``\\s`` a space or tab
* ``[...]`` a set with ranges (``[A-Z0-9._-]``), ``[^...]`` its complement
* ``( … )`` or ``(?: … )`` a group, ``|`` alternatives
* ``?``, ``*``, ``+``, ``{n}``, ``{n,}``, ``{n,m}`` (n, m ≤ 100) after a character, set or group

No back-references, look-arounds, lazy quantifiers or flags: nothing whose cost is not bounded.

Excel's data validation has no regular expressions; :func:`excel_condition` renders the patterns
it can express — fixed-length ones, a mobile number or a postal code — as a custom validation
formula. The reader checks every pattern, expressible or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

__all__ = ["MAX_TEXT", "Pattern", "PatternError", "compile_pattern", "excel_condition"]

MAX_REPEAT = 100
MAX_STATES = 3000
MAX_TEXT = 1000          # a longer text does not match (a field value is far shorter)
_SPECIAL = set("\\.^$|?*+()[]{}")
_ESCAPABLE = set("\\.^$|?*+()[]{}-/")


class PatternError(ValueError):
    """A pattern outside the subset, with the character where reading stopped (1-based)."""

    def __init__(self, message: str, position: int | None = None):
        where = f" at character {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}")


# ---------------------------------------------------------------------------- the tree

@dataclass(frozen=True)
class CharSet:
    ranges: tuple[tuple[int, int], ...]   # inclusive code-point ranges
    negated: bool = False

    def __contains__(self, ch: str) -> bool:
        o = ord(ch)
        return any(lo <= o <= hi for lo, hi in self.ranges) != self.negated


ANY = CharSet((), negated=True)
DIGIT = CharSet(((48, 57),))
WORD = CharSet(((48, 57), (65, 90), (95, 95), (97, 122)))
SPACE = CharSet(((9, 9), (32, 32)))


@dataclass(frozen=True)
class Cat:
    items: tuple[PNode, ...]


@dataclass(frozen=True)
class Alt:
    options: tuple[PNode, ...]


@dataclass(frozen=True)
class Repeat:
    node: PNode
    min: int
    max: int | None


PNode = CharSet | Cat | Alt | Repeat


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.i = 0

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def parse(self) -> PNode:
        if self.peek() == "^":
            self.i += 1
        node = self.alternation(top=True)
        if self.i < len(self.text):
            raise PatternError(f"unexpected {self.peek()!r}", self.i)
        return node

    def alternation(self, top: bool = False) -> PNode:
        options = [self.sequence(top)]
        while self.peek() == "|":
            self.i += 1
            options.append(self.sequence(top))
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def sequence(self, top: bool) -> PNode:
        items: list[PNode] = []
        while self.peek() not in ("", "|", ")"):
            if top and self.peek() == "$" and self.i == len(self.text) - 1:
                self.i += 1
                break
            items.append(self.quantified())
        return items[0] if len(items) == 1 else Cat(tuple(items))

    def quantified(self) -> PNode:
        start = self.i
        node = self.atom()
        ch = self.peek()
        if ch in ("?", "*", "+"):
            self.i += 1
            lo, hi = {"?": (0, 1), "*": (0, None), "+": (1, None)}[ch]
        elif ch == "{":
            lo, hi = self.braces()
        else:
            return node
        if self.peek() in ("?", "*", "+", "{"):
            raise PatternError("a quantifier cannot follow a quantifier (no lazy or possessive forms)", self.i)
        if isinstance(node, Cat) and not node.items:
            raise PatternError("nothing to repeat", start)
        return Repeat(node, lo, hi)

    def braces(self) -> tuple[int, int | None]:
        start = self.i
        end = self.text.find("}", self.i)
        if end < 0:
            raise PatternError("'{' without '}'", start)
        body = self.text[self.i + 1:end]
        self.i = end + 1
        lo_s, comma, hi_s = body.partition(",")
        try:
            lo = int(lo_s)
            hi = (int(hi_s) if hi_s.strip() else None) if comma else lo
        except ValueError:
            raise PatternError(f"'{{{body}}}' is not a count like {{3}}, {{2,}} or {{2,5}}", start) from None
        if lo < 0 or lo > MAX_REPEAT or (hi is not None and (hi < lo or hi > MAX_REPEAT)):
            raise PatternError(f"counts must be 0–{MAX_REPEAT} with the smaller first", start)
        return lo, hi

    def atom(self) -> PNode:
        ch = self.peek()
        pos = self.i
        if ch == "(":
            self.i += 1
            if self.text.startswith("?:", self.i):
                self.i += 2
            elif self.peek() == "?":
                raise PatternError("only plain groups ( … ) and (?: … ) are allowed", pos)
            node = self.alternation()
            if self.peek() != ")":
                raise PatternError("'(' without ')'", pos)
            self.i += 1
            return node
        if ch == "[":
            return self.charset()
        if ch == ".":
            self.i += 1
            return ANY
        if ch == "\\":
            return self.escape(in_set=False)
        if ch in _SPECIAL:
            raise PatternError(f"{ch!r} has a special meaning here; write \\{ch} for the character", pos)
        self.i += 1
        return CharSet(((ord(ch), ord(ch)),))

    def escape(self, in_set: bool) -> CharSet:
        pos = self.i
        self.i += 1
        ch = self.peek()
        if not ch:
            raise PatternError("'\\' at the end", pos)
        self.i += 1
        if ch == "d":
            return DIGIT
        if ch == "w":
            return WORD
        if ch == "s":
            return SPACE
        if ch in _ESCAPABLE:
            return CharSet(((ord(ch), ord(ch)),))
        raise PatternError(f"'\\{ch}' is not supported (known: \\d \\w \\s, or \\ before a special character)", pos)

    def charset(self) -> CharSet:
        pos = self.i
        self.i += 1
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            ch = self.peek()
            if not ch:
                raise PatternError("'[' without ']'", pos)
            if ch == "]" and not first:
                self.i += 1
                break
            first = False
            if ch == "\\":
                part = self.escape(in_set=True)
                if part.negated:
                    raise PatternError("a negated set inside a set", self.i)
                ranges.extend(part.ranges)
                continue
            self.i += 1
            lo = ord(ch)
            if self.peek() == "-" and self.i + 1 < len(self.text) and self.text[self.i + 1] != "]":
                self.i += 1
                hi_ch = self.peek()
                if hi_ch == "\\":
                    part = self.escape(in_set=True)
                    if len(part.ranges) != 1 or part.ranges[0][0] != part.ranges[0][1]:
                        raise PatternError("a range must end with one character", self.i)
                    hi = part.ranges[0][0]
                else:
                    self.i += 1
                    hi = ord(hi_ch)
                if hi < lo:
                    raise PatternError(f"the range {chr(lo)}-{chr(hi)} is backwards", self.i - 1)
                ranges.append((lo, hi))
            else:
                ranges.append((lo, lo))
        return CharSet(tuple(ranges), negated)


# ---------------------------------------------------------------------------- the automaton

class Pattern:
    """A compiled pattern: :meth:`fullmatch` runs in O(len(text) × states), never backtracking."""

    def __init__(self, source: str, tree: PNode):
        self.source = source
        self.tree = tree
        # state i: ("set", CharSet, next) | ("split", a, b) | ("match",)
        self.states: list[tuple] = [("match",)]
        self.start = self._emit(tree, 0)

    def _new(self, state: tuple) -> int:
        if len(self.states) >= MAX_STATES:
            raise PatternError(f"the pattern is too large (more than {MAX_STATES} steps once its counts are spelled out)")
        self.states.append(state)
        return len(self.states) - 1

    def _emit(self, node: PNode, nxt: int) -> int:
        """The start state of ``node`` followed by state ``nxt`` (built back to front)."""
        if isinstance(node, CharSet):
            return self._new(("set", node, nxt))
        if isinstance(node, Cat):
            for item in reversed(node.items):
                nxt = self._emit(item, nxt)
            return nxt
        if isinstance(node, Alt):
            starts = [self._emit(o, nxt) for o in node.options]
            s = starts[-1]
            for other in reversed(starts[:-1]):
                s = self._new(("split", other, s))
            return s
        if node.max is None:
            loop = self._new(("split", -1, nxt))
            body = self._emit(node.node, loop)
            self.states[loop] = ("split", body, nxt)
            cur = loop
        else:
            cur = nxt
            for _ in range(node.max - node.min):
                cur = self._new(("split", self._emit(node.node, cur), nxt))
        for _ in range(node.min):
            cur = self._emit(node.node, cur)
        return cur

    def _closure(self, states: list[int]) -> set[int]:
        seen: set[int] = set()
        stack = list(states)
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            st = self.states[s]
            if st[0] == "split":
                stack.append(st[1])
                stack.append(st[2])
        return seen

    def fullmatch(self, text: str) -> bool:
        if len(text) > MAX_TEXT:
            return False
        current = self._closure([self.start])
        for ch in text:
            moved = [st[2] for s in current if (st := self.states[s])[0] == "set" and ch in st[1]]
            if not moved:
                return False
            current = self._closure(moved)
        return 0 in current


@lru_cache(maxsize=256)
def compile_pattern(source: str) -> Pattern:
    """Parse and compile a pattern; raises PatternError naming what is outside the subset."""
    if not source:
        raise PatternError("the pattern is empty")
    return Pattern(source, _Parser(source).parse())


# ---------------------------------------------------------------------------- Excel

_EXCEL_LIMIT = 255     # Excel refuses a data-validation formula longer than this


def _positions(node: PNode) -> list[CharSet] | None:
    """The pattern as one character set per position, when it has a fixed length and no alternatives."""
    if isinstance(node, CharSet):
        return [node]
    if isinstance(node, Cat):
        out: list[CharSet] = []
        for item in node.items:
            part = _positions(item)
            if part is None:
                return None
            out.extend(part)
        return out
    if isinstance(node, Repeat) and node.max == node.min:
        part = _positions(node.node)
        return None if part is None else part * node.min
    return None


def _members(cs: CharSet) -> str | None:
    chars = "".join(chr(c) for lo, hi in cs.ranges for c in range(lo, hi + 1)) if sum(hi - lo + 1 for lo, hi in cs.ranges) <= 80 else None
    return chars


def excel_condition(source: str, cell: str) -> str | None:
    """A custom data-validation formula (no leading '=') true when ``cell`` matches, or None
    where Excel cannot say it within a validation formula's 255 characters."""
    pattern = compile_pattern(source)
    positions = _positions(pattern.tree)
    if not positions:
        return None
    parts = [f"LEN({cell})={len(positions)}"]

    def literal(cs: CharSet) -> str | None:
        single = not cs.negated and len(cs.ranges) == 1 and cs.ranges[0][0] == cs.ranges[0][1]
        return chr(cs.ranges[0][0]) if single else None

    i = 0
    while i < len(positions):
        cs = positions[i]
        j = i
        if literal(cs) is not None:   # a run of literal characters is one EXACT over the run
            while j + 1 < len(positions) and literal(positions[j + 1]) is not None:
                j += 1
            lit = "".join(literal(p) or "" for p in positions[i:j + 1])
            parts.append(f'EXACT(MID({cell},{i + 1},{j - i + 1}),"{lit.replace(chr(34), chr(34) * 2)}")')
            i = j + 1
            continue
        while j + 1 < len(positions) and positions[j + 1] == cs:
            j += 1
        n, start = j - i + 1, i + 1
        if cs != ANY:
            members = _members(cs)
            if members is None:
                return None
            quoted = members.replace('"', '""')
            found = f'ISNUMBER(FIND(MID({cell},ROW(${start}:${start + n - 1}),1),"{quoted}"))'
            parts.append(f"SUMPRODUCT(--{found})={0 if cs.negated else n}")
        i = j + 1
    formula = f"AND({','.join(parts)})"
    return formula if len(formula) + 1 <= _EXCEL_LIMIT else None
