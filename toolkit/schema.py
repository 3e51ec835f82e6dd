"""Load and check an indicator schema, producing the Form model every other module uses.

A schema is checked in two passes: the JSON Schema meta-schema (shape and types), then the
checks JSON Schema cannot express — duplicate codes, rules naming unknown codes, expressions that
do not parse, cycles among computed indicators, ``each`` rules over columns a table lacks. Every
problem carries a JSON pointer into the document and a plain sentence, so an office writing its
own form can find the line to fix.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema

from . import patterns
from . import rules as rx
from .errors import SchemaProblem

# The meta-schema and the shipped forms travel inside the package, so an installed wheel finds them.
FORMS = importlib.resources.files("toolkit").joinpath("forms")
SCHEMA_DIR = Path(str(FORMS))
META_SCHEMA_PATH = SCHEMA_DIR / "indicator-schema.json"
# Sheet names the template writer uses itself; a form may not take them.
RESERVED_SHEETS = ("填表说明", "审核", "退回说明", "_toolkit", "_lists", "_prev")
NUMERIC_TYPES = ("integer", "decimal")
PREFILL_SOURCES = ("agency.code", "agency.name", "agency.group", "period")
MESSAGE_PLACEHOLDERS = ("left", "right", "diff", "col", "row", "when_left", "when_right")
DASH_MODES = ("error", "blank")


# ---------------------------------------------------------------------------- problems

@dataclass(frozen=True)
class Problem:
    """One thing wrong with a schema: where (a JSON pointer) and what (a sentence)."""
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class SchemaError(SchemaProblem):
    """A schema that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.source = source
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "invalid schema"
        n = len(self.problems)
        more_en = f" (and {n - 1} more)" if n > 1 else ""
        more_zh = f"（另有 {n - 1} 处问题）" if n > 1 else ""
        super().__init__(f"{source}：表单定义不可用：{first}{more_zh}", f"{source}: {first}{more_en}")


# ---------------------------------------------------------------------------- the model

@dataclass(frozen=True)
class ValueSpec:
    """What values a cell accepts. Shared by header fields and indicators."""
    type: str = "integer"
    places: int = 2
    min: float | None = None
    max: float | None = None
    required: bool = False
    unit: str = ""
    help: str = ""
    choices: tuple[str, ...] = ()
    computed: str | None = None
    max_length: int | None = None
    pattern: str | None = None      # a text must match it whole (toolkit.patterns' safe subset)
    pattern_message: str = ""       # what the person is told when it does not
    dash: str = "error"             # "-" or "—" in a number cell: an error, or blank with a warning

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def shown_places(self) -> int:
        """Decimal places the value is shown and rounded with: ``places`` for a decimal, else 0."""
        return self.places if self.type == "decimal" else 0

    @property
    def lower(self) -> float | None:
        """Numbers default to ≥ 0: every count and amount on a statistics form is non-negative."""
        if self.min is None and self.numeric:
            return 0
        return self.min


_SPEC_KEYS = ("type", "places", "min", "max", "required", "unit", "help", "choices", "computed", "max_length",
              "pattern", "pattern_message", "dash")


def _merge_spec(base: ValueSpec, raw: Mapping[str, Any]) -> ValueSpec:
    kw = {k: raw[k] for k in _SPEC_KEYS if k in raw}
    if "choices" in kw:
        kw["choices"] = tuple(kw["choices"])
    return ValueSpec(**{**base.__dict__, **kw})


@dataclass(frozen=True)
class Field:
    """A header field, filled once per workbook (填报单位, 填报人 …)."""
    code: str
    label: str
    spec: ValueSpec
    prefill: str | None = None
    locked: bool = False
    pointer: str = ""


@dataclass(frozen=True)
class Column:
    """A matrix column heading; a leaf (no children) holds values and has a key."""
    label: str
    key: str | None = None
    children: tuple[Column, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    width: float | None = None
    pointer: str = ""

    def leaves(self) -> Iterator[Column]:
        if not self.children:
            yield self
        for c in self.children:
            yield from c.leaves()

    @property
    def depth(self) -> int:
        return 1 + max((c.depth for c in self.children), default=0)


@dataclass(frozen=True)
class Row:
    label: str
    code: str | None = None
    level: int = 0
    heading: bool = False
    skip: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    pointer: str = ""


@dataclass(frozen=True)
class Indicator:
    """One value of the form: a list row, or one cell of a matrix."""
    code: str
    label: str          # the label people see in reports: "（七）总计 / 自然人"
    spec: ValueSpec
    table: str
    row: int            # index into table.rows
    column: int         # index into table.leaves (0 for a list table)
    pointer: str

    @property
    def computed(self) -> bool:
        return self.spec.computed is not None


@dataclass(frozen=True)
class Table:
    id: str
    kind: str                      # "list" | "matrix"
    sheet: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...] = ()   # matrix: the column tree
    title: str = ""
    note: str = ""
    corner: str = ""
    headings: tuple[str, str, str] = ("统计指标", "单位", "统计数")
    orientation: str | None = None
    section: str = ""                  # a heading of the form above the title (二、主动公开政府信息情况)
    pointer: str = ""
    previous_column: bool = False      # a locked 上年数 column beside the inputs (list tables)

    @cached_property
    def leaves(self) -> tuple[Column, ...]:
        if self.kind == "list":
            return (Column(label=self.headings[2], key=None),)
        return tuple(leaf for c in self.columns for leaf in c.leaves())

    @cached_property
    def column_paths(self) -> dict[str, str]:
        """Each leaf key → the column's full heading, e.g. 行政诉讼·未经复议直接起诉·总计.

        A root heading over every column (申请人情况) says nothing about any one of them and is
        left out; without the path, table 四's three 总计 columns would read alike in reports.
        """
        out: dict[str, str] = {}

        def walk(cols: tuple[Column, ...], trail: list[str]) -> None:
            for c in cols:
                if c.children:
                    span_all = len(self.columns) == 1 and c is self.columns[0]
                    walk(c.children, trail if span_all else trail + [c.label])
                elif c.key:
                    out[c.key] = "·".join(trail + [c.label])
        walk(self.columns, [])
        return out

    @property
    def header_depth(self) -> int:
        return 1 if self.kind == "list" else max(c.depth for c in self.columns)

    def cell_code(self, row: Row, leaf: Column) -> str | None:
        """The indicator code at (row, leaf), or None where the cell holds no value."""
        if row.heading or row.code is None:
            return None
        if self.kind == "list":
            return row.code
        if leaf.key in row.skip:
            return None
        return f"{row.code}.{leaf.key}"


@dataclass(frozen=True)
class Rule:
    id: str
    expr: str
    message: str
    severity: str = "error"
    message_en: str | None = None
    explain: str | None = None
    explainable: bool | None = None   # may the agency justify a failure in 审核说明? (default: warnings only)
    tolerance: float = 0.0
    blank: str = "zero"
    each: str | None = None
    table: str | None = None
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    when: str | None = None
    pointer: str = ""


@dataclass(frozen=True)
class RuleInstance:
    """A rule applied once: the rule itself, or one column/row of an ``each`` rule."""
    rule: Rule
    tree: rx.Compare
    key: str | None = None           # the column key / row code it was applied to
    place_label: str | None = None   # that column's / row's label, for {col} / {row}
    reads: tuple[str, ...] = ()      # every code the rule reads, in order
    prev_reads: tuple[str, ...] = () # every code whose previous-period value it reads (prev(X))
    when: rx.Compare | None = None   # the condition of an "if … then …" rule
    # decimal places of {left}, {right}, {when_left}, {when_right} in messages (None: as General shows)
    places: tuple[int | None, int | None, int | None, int | None] = (None, None, None, None)

    @property
    def expression(self) -> rx.Compare | rx.Implies:
        """The whole rule as one tree (what the Python check and the Excel formula both render)."""
        return self.tree if self.when is None else rx.Implies(self.when, self.tree)

    @property
    def id(self) -> str:
        return f"{self.rule.id}[{self.key}]" if self.key else self.rule.id

    @property
    def explainable(self) -> bool:
        """A failure the agency may justify (审核说明): warnings unless the rule says no; never errors."""
        r = self.rule
        return r.severity == "warning" and r.explainable is not False

    @property
    def severity(self) -> str:
        return self.rule.severity


@dataclass
class Form:
    """A checked schema: everything the writer, the reader and the merger need to know."""
    id: str
    version: str
    title: str
    document: dict[str, Any]
    content_hash: str
    tables: tuple[Table, ...]
    header: tuple[Field, ...]
    rules: tuple[Rule, ...]
    indicators: dict[str, Indicator]
    computed: dict[str, rx.Node]          # code → parsed expression, in evaluation order
    instances: tuple[RuleInstance, ...]
    subtitle: str = ""
    period_kind: str = "year"
    period_label: str = "年度"
    period_default: int | None = None
    contact: str = ""
    instructions: tuple[str, ...] = ()
    source: str = ""
    # computed codes whose value can be undefined (a division, or reading such a code): code → the
    # undefined-able computed codes it reads. Such a value is blank when undefined and rounded to its places.
    guarded: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.version)

    def table(self, table_id: str) -> Table:
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(table_id)

    def expand(self, start: str, end: str) -> list[str]:
        """The codes in the rectangle start:end (same table), in form order."""
        key = ("range", start, end)
        if key not in self._memo:
            self._memo[key] = _expand_range(self, start, end)
        return self._memo[key]

    def compiled(self, node: rx.Node) -> rx.Compiled:
        """A parsed expression of this form as a fast closure (compiled once, kept)."""
        key = ("compiled", id(node))
        hit = self._memo.get(key)
        if hit is None or hit[0] is not node:
            hit = self._memo[key] = (node, rx.compile_node(node, self.expand))
        return hit[1]

    @property
    def inputs(self) -> list[Indicator]:
        return [i for i in self.indicators.values() if not i.computed]

    def compute(self, values: Mapping[str, float | None]) -> dict[str, float | None]:
        """Values of every computed indicator from the inputs (blank counts as 0).

        A guarded value (see ``guarded``) is None where it is undefined — a zero divisor, or an
        undefined computed value it reads — and otherwise rounded to its places, as the template's
        ``IFERROR(ROUND(…),"")`` shows it.
        """
        merged: dict[str, float | None] = dict(values)
        out: dict[str, float | None] = {}
        for code, tree in self.computed.items():
            deps = self.guarded.get(code)
            v: float | None
            if deps is None:
                try:
                    v = self.compiled(tree)(merged)
                except rx.NotApplicable:
                    v = 0.0
            elif any(merged.get(d) is None for d in deps):
                v = None
            else:
                try:
                    v = rx._excel_round(self.compiled(tree)(merged), self.indicators[code].spec.shown_places) + 0.0
                except rx.NotApplicable:
                    v = None
            merged[code] = v
            out[code] = v
        return out


# ---------------------------------------------------------------------------- loading

def content_hash(document: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a schema: keys sorted, no spaces, UTF-8."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_validator: jsonschema.protocols.Validator | None = None


def _meta_validator() -> jsonschema.protocols.Validator:
    global _validator
    if _validator is None:
        meta = json.loads(FORMS.joinpath("indicator-schema.json").read_text(encoding="utf-8"))
        _validator = jsonschema.Draft202012Validator(meta)
    return _validator


def _pointer(parts: Sequence[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def read_document(path: str | Path) -> dict[str, Any]:
    """Read a schema file as JSON, turning every way it can fail into a SchemaError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SchemaError(str(path), [Problem("", f"cannot read the file: {e.strerror or e}")]) from None
    if len(raw) > 5_000_000:
        raise SchemaError(str(path), [Problem("", "the file is larger than 5 MB; a form schema is far smaller")])
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SchemaError(str(path), [Problem("", "the file is not UTF-8 text")]) from None
    except json.JSONDecodeError as e:
        raise SchemaError(str(path), [Problem("", f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")]) from None
    if not isinstance(doc, dict):
        raise SchemaError(str(path), [Problem("", "a schema is a JSON object {…}")])
    return doc


def load_form(source: str | Path | Mapping[str, Any], name: str | None = None) -> Form:
    """A Form from a path or a parsed document; raises SchemaError listing every problem."""
    if isinstance(source, Mapping):
        doc = dict(source)
        label = name or "<schema>"
    else:
        doc = read_document(source)
        label = name or str(source)
    key = content_hash(doc)
    built = _BUILT.get(key)
    if built is None:
        form, problems = _build(doc)
        if problems or form is None:
            raise SchemaError(label, problems)
        built = _BUILT[key] = form
        while len(_BUILT) > 32:
            _BUILT.pop(next(iter(_BUILT)))
    return replace(built, source=label)


# Forms already built, by the content hash of their document. Checking a document against the
# meta-schema and building it costs 0.1–0.3 s; a library caller's ``check_file`` without a
# registry, every registry of a long-running server and each test would pay it again for the same
# bytes. A Form is not changed once built (its ``_memo`` only caches what it computes), so the
# copies handed out share everything but their ``source``.
_BUILT: dict[str, Form] = {}


def check_document(doc: Mapping[str, Any]) -> list[Problem]:
    """Every problem with a schema document (empty when it is usable)."""
    return _build(doc)[1]


def _build(doc: Mapping[str, Any]) -> tuple[Form | None, list[Problem]]:
    errors = sorted(_meta_validator().iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        return None, [Problem(_pointer(e.absolute_path), _plain_jsonschema_message(e)) for e in errors]
    return _Builder(doc).build()


def _plain_jsonschema_message(e: jsonschema.ValidationError) -> str:
    if e.validator == "pattern":
        return f"{e.instance!r} has the wrong form (expected to match {e.validator_value})"
    if e.validator == "required":
        return e.message.replace("is a required property", "is required")
    if e.validator == "unevaluatedProperties" or e.validator == "additionalProperties":
        return e.message.replace("Unevaluated properties are not allowed", "unknown key(s)").replace(
            "Additional properties are not allowed", "unknown key(s)")
    return e.message


class _Builder:
    """Turns a shape-valid document into a Form, collecting the problems the meta-schema cannot see."""

    def __init__(self, doc: Mapping[str, Any]):
        self.doc = doc
        self.problems: list[Problem] = []
        self.code_at: dict[str, str] = {}       # code → pointer of its first definition
        self.indicators: dict[str, Indicator] = {}
        self.header: list[Field] = []
        self.tables: list[Table] = []

    def problem(self, pointer: str, message: str) -> None:
        self.problems.append(Problem(pointer, message))

    def claim(self, code: str, pointer: str, what: str = "code") -> bool:
        if code in self.code_at:
            self.problem(pointer, f'{what} "{code}" is used twice (also at {self.code_at[code]})')
            return False
        self.code_at[code] = pointer
        return True

    # -- pieces
    def build(self) -> tuple[Form | None, list[Problem]]:
        doc = self.doc
        for i, raw in enumerate(doc.get("header", [])):
            self.add_field(raw, f"/header/{i}")
        sheets_seen: dict[str, str] = {}
        table_ids: dict[str, str] = {}
        last_sheet: str | None = None
        for ti, raw in enumerate(doc["tables"]):
            ptr = f"/tables/{ti}"
            if raw["id"] in table_ids:
                self.problem(f"{ptr}/id", f'table id "{raw["id"]}" is used twice (also at {table_ids[raw["id"]]}/id)')
            table_ids.setdefault(raw["id"], ptr)
            sheet = raw["sheet"]
            if sheet in RESERVED_SHEETS:
                self.problem(f"{ptr}/sheet", f'sheet name "{sheet}" is reserved for the toolkit ({", ".join(RESERVED_SHEETS)})')
            folded = sheet.casefold()
            if folded in sheets_seen and sheets_seen[folded] != sheet:
                self.problem(f"{ptr}/sheet", f'sheet name "{sheet}" differs from "{sheets_seen[folded]}" only in case; Excel treats them as one sheet')
            elif folded in sheets_seen and last_sheet != sheet:
                self.problem(f"{ptr}/sheet", f'tables on sheet "{sheet}" must follow each other; another sheet comes between')
            sheets_seen.setdefault(folded, sheet)
            last_sheet = sheet
            self.tables.append(self.add_table(raw, ptr))
        computed = self.check_computed()
        guarded = self.guard_computed(computed)
        rules, instances = self.add_rules()
        if self.problems:
            return None, self.problems
        period = doc.get("period", {})
        form = Form(
            id=doc["id"], version=doc["version"], title=doc["title"], document=dict(doc),
            content_hash=content_hash(doc), tables=tuple(self.tables), header=tuple(self.header),
            rules=tuple(rules), indicators=self.indicators, computed=computed, instances=tuple(instances),
            subtitle=doc.get("subtitle", ""), period_kind=period.get("kind", "year"),
            period_label=period.get("label", "年度"), period_default=period.get("default"),
            contact=doc.get("contact", ""), instructions=tuple(doc.get("instructions", ())),
            guarded=guarded,
        )
        return form, []

    def guard_computed(self, computed: Mapping[str, rx.Node]) -> dict[str, tuple[str, ...]]:
        """Computed codes that can be undefined: they divide, or read one that can (in evaluation order)."""
        fake = Form(id="", version="", title="", document={}, content_hash="", tables=tuple(self.tables),
                    header=(), rules=(), indicators=self.indicators, computed={}, instances=())
        guarded: dict[str, tuple[str, ...]] = {}
        for code, tree in computed.items():
            deps = tuple(d for d in rx.codes(tree, fake.expand) if d in guarded)
            if deps or rx.has_division(tree):
                guarded[code] = deps
        return guarded

    def places_of(self, node: rx.Node) -> int | None:
        """How many decimals a side of a rule is shown with in a message: its decimals' places;
        2 for a side that divides or scales by a fraction; None (as General shows) for whole numbers."""
        places = [self.indicators[c].spec.shown_places for n in rx.iter_nodes(node) if isinstance(n, rx.Ref)
                  for c in [n.code] if c in self.indicators and self.indicators[c].spec.type == "decimal"]
        fake = Form(id="", version="", title="", document={}, content_hash="", tables=tuple(self.tables),
                    header=(), rules=(), indicators=self.indicators, computed={}, instances=())
        for n in rx.iter_nodes(node):
            if isinstance(n, rx.Range) and n.start in self.indicators and n.end in self.indicators:
                for c in fake.expand(n.start, n.end):
                    if self.indicators[c].spec.type == "decimal":
                        places.append(self.indicators[c].spec.shown_places)
        if places:
            return max(places)
        if rx.has_division(node) or any(isinstance(n, rx.Num) and not float(n.value).is_integer() for n in rx.iter_nodes(node)):
            return 2
        return None

    def check_spec(self, spec: ValueSpec, ptr: str) -> None:
        if spec.type == "choice" and not spec.choices:
            self.problem(ptr, 'a "choice" value needs a list of "choices"')
        if spec.choices and spec.type != "choice":
            self.problem(ptr, f'"choices" only apply to type "choice", not "{spec.type}"')
        if spec.min is not None and spec.max is not None and spec.min > spec.max:
            self.problem(ptr, f"min {spec.min} is greater than max {spec.max}")
        if spec.computed is not None and not spec.numeric:
            self.problem(ptr, f'only numbers can be computed, not type "{spec.type}"')
        if spec.pattern is not None:
            if spec.type != "text":
                self.problem(ptr, f'"pattern" only applies to type "text", not "{spec.type}"')
            else:
                try:
                    patterns.compile_pattern(spec.pattern)
                except patterns.PatternError as e:
                    self.problem(f"{ptr}/pattern", f"{spec.pattern!r} is not a usable pattern: {e}")
        elif spec.pattern_message:
            self.problem(f"{ptr}/pattern_message", '"pattern_message" needs a "pattern"')

    def add_field(self, raw: Mapping[str, Any], ptr: str) -> None:
        spec = _merge_spec(ValueSpec(type="text"), raw)
        if spec.computed is not None:
            self.problem(f"{ptr}/computed", "a header field cannot be computed")
        self.check_spec(spec, ptr)
        self.claim(raw["code"], f"{ptr}/code")
        self.header.append(Field(code=raw["code"], label=raw["label"], spec=spec, prefill=raw.get("prefill"),
                                 locked=bool(raw.get("locked", False)), pointer=ptr))

    def add_column(self, raw: Mapping[str, Any], ptr: str) -> Column:
        children = tuple(self.add_column(c, f"{ptr}/children/{i}") for i, c in enumerate(raw.get("children", ())))
        if children and "key" in raw:
            self.problem(f"{ptr}/key", "a column with children is a heading and holds no value: remove its key")
        if not children and "key" not in raw:
            self.problem(ptr, f'column "{raw["label"]}" holds values and needs a "key"')
        if children and any(k in raw for k in _SPEC_KEYS):
            self.problem(ptr, "a heading column holds no value: put value attributes on its leaf columns")
        return Column(label=raw["label"], key=raw.get("key"), children=children, raw=raw,
                      width=raw.get("width"), pointer=ptr)

    def add_table(self, raw: Mapping[str, Any], ptr: str) -> Table:
        base = _merge_spec(ValueSpec(dash=self.doc.get("dash", "error")), raw.get("defaults", {}))
        self.check_spec(base, f"{ptr}/defaults")
        kind = raw["kind"]
        columns: tuple[Column, ...] = ()
        if kind == "matrix":
            columns = tuple(self.add_column(c, f"{ptr}/columns/{i}") for i, c in enumerate(raw["columns"]))
        hd = raw.get("headings", {})
        rows = []
        for ri, r in enumerate(raw["rows"]):
            rp = f"{ptr}/rows/{ri}"
            heading = bool(r.get("heading", False))
            if heading and "code" in r:
                self.problem(f"{rp}/code", "a heading row holds no value: remove its code or its \"heading\"")
            if not heading and "code" not in r:
                self.problem(rp, f'row "{r["label"]}" holds a value and needs a "code" (or "heading": true)')
            if heading and any(k in r for k in _SPEC_KEYS if k != "unit"):
                self.problem(rp, "a heading row holds no value: remove its value attributes")
            if kind == "list" and "code" in r:
                self.claim(r["code"], f"{rp}/code")
            rows.append(Row(label=r["label"], code=r.get("code"), level=r.get("level", 0), heading=heading,
                            skip=tuple(r.get("skip", ())), raw=r, pointer=rp))
        table = Table(
            id=raw["id"], kind=kind, sheet=raw["sheet"], rows=tuple(rows), columns=columns,
            title=raw.get("title", ""), note=raw.get("note", ""), corner=raw.get("corner", ""),
            headings=(hd.get("label", "统计指标"), hd.get("unit", "单位"), hd.get("value", "统计数")),
            orientation=raw.get("orientation"), pointer=ptr, section=raw.get("section", ""),
            previous_column=bool(raw.get("previous_column", False)),
        )
        if table.previous_column and kind != "list":
            self.problem(f"{ptr}/previous_column", "a 上年数 column is for list tables; a matrix cannot show one beside every cell")
        if kind == "matrix":
            keys: dict[str, str] = {}
            for leaf in table.leaves:
                if leaf.key is None:
                    continue
                if leaf.key in keys:
                    self.problem(f"{leaf.pointer}/key", f'column key "{leaf.key}" is used twice in table "{table.id}" (also at {keys[leaf.key]}/key)')
                keys.setdefault(leaf.key, leaf.pointer)
            row_codes: dict[str, str] = {}
            for row in rows:
                if row.code is None:
                    continue
                if row.code in row_codes:
                    self.problem(f"{row.pointer}/code", f'row code "{row.code}" is used twice in table "{table.id}" (also at {row_codes[row.code]}/code)')
                row_codes.setdefault(row.code, row.pointer)
                for s in row.skip:
                    if s not in keys:
                        self.problem(f"{row.pointer}/skip", f'"{s}" is not a column key of table "{table.id}"')
        for ri, row in enumerate(table.rows):
            for ci, leaf in enumerate(table.leaves):
                code = table.cell_code(row, leaf) if leaf.key or kind == "list" else None
                if code is None:
                    continue
                spec = base if kind == "list" else _merge_spec(base, leaf.raw)
                spec = _merge_spec(spec, row.raw)
                if kind == "matrix" and row.raw.get("computed") is None and leaf.raw.get("computed") is not None:
                    spec = ValueSpec(**{**spec.__dict__, "computed": leaf.raw["computed"]})
                if spec.computed:
                    spec = ValueSpec(**{**spec.__dict__, "computed": spec.computed.replace("{row}", row.code or "").replace("{col}", leaf.key or "")})
                label = row.label if kind == "list" else f"{row.label} / {table.column_paths.get(leaf.key or '', leaf.label)}"
                cptr = row.pointer if kind == "list" else f"{row.pointer} × {leaf.pointer}"
                if kind == "matrix":
                    if code in self.code_at:
                        self.problem(f"{row.pointer}/code", f'code "{code}" (row × column) is used twice (also at {self.code_at[code]})')
                        continue
                    self.code_at[code] = cptr
                self.check_spec(spec, row.pointer if kind == "list" else cptr)
                self.indicators[code] = Indicator(code=code, label=label, spec=spec, table=table.id, row=ri, column=ci, pointer=cptr)
        return table

    # -- expressions
    def parse_in(self, text: str, ptr: str, comparison: bool) -> rx.Node | None:
        try:
            tree = rx.parse_rule(text) if comparison else rx.parse_arithmetic(text)
        except rx.ExpressionError as e:
            self.problem(ptr, f"{text!r} does not parse: {e}")
            return None
        ok = True
        for node in rx.iter_nodes(tree):
            names = ([node.code] if isinstance(node, (rx.Ref, rx.Prev)) else
                     [node.start, node.end] if isinstance(node, rx.Range) else [])
            for name in names:
                if name not in self.indicators:
                    hint = " (header fields are text and cannot be used in rules)" if any(f.code == name for f in self.header) else ""
                    self.problem(ptr, f'unknown indicator code "{name}" in {text!r}{hint}')
                    ok = False
                elif not self.indicators[name].spec.numeric:
                    self.problem(ptr, f'"{name}" is a {self.indicators[name].spec.type} indicator and cannot be used in arithmetic')
                    ok = False
            if ok and isinstance(node, rx.Range):
                a, b = self.indicators[node.start], self.indicators[node.end]
                if a.table != b.table:
                    self.problem(ptr, f'range {node.start}:{node.end} spans two tables ("{a.table}" and "{b.table}")')
                    ok = False
                    continue
                r0, r1 = sorted((a.row, b.row))
                c0, c1 = sorted((a.column, b.column))
                for inner in self.indicators.values():  # a text cell inside the rectangle cannot be summed either
                    if (inner.table == a.table and r0 <= inner.row <= r1 and c0 <= inner.column <= c1
                            and not inner.spec.numeric):
                        self.problem(ptr, f'range {node.start}:{node.end} covers "{inner.code}", a {inner.spec.type} indicator that cannot be used in arithmetic')
                        ok = False
        return tree if ok else None

    def check_computed(self) -> dict[str, rx.Node]:
        trees: dict[str, rx.Node] = {}
        for code, ind in self.indicators.items():
            if ind.spec.computed is None:
                continue
            tree = self.parse_in(ind.spec.computed, f"{ind.pointer}/computed", comparison=False)
            if tree is not None and rx.prev_codes(tree):
                self.problem(f"{ind.pointer}/computed", "prev() is only allowed in rules: a computed value is this period's alone")
                tree = None
            if tree is not None:
                trees[code] = tree
        if self.problems:
            return {}
        # order by dependency; a cycle is a problem
        fake = Form(id="", version="", title="", document={}, content_hash="", tables=tuple(self.tables),
                    header=(), rules=(), indicators=self.indicators, computed={}, instances=())
        deps = {c: [d for d in rx.codes(t, fake.expand) if d in trees] for c, t in trees.items()}
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(c: str, path: list[str]) -> None:
            if state.get(c) == 2:
                return
            if state.get(c) == 1:
                cycle = path[path.index(c):] + [c]
                self.problem(f"{self.indicators[c].pointer}/computed", "computed indicators depend on each other in a cycle: " + " → ".join(cycle))
                return
            state[c] = 1
            for d in deps[c]:
                visit(d, path + [c])
            state[c] = 2
            order.append(c)

        for c in trees:
            visit(c, [])
        return {c: trees[c] for c in order}

    def add_rules(self) -> tuple[list[Rule], list[RuleInstance]]:
        rules: list[Rule] = []
        instances: list[RuleInstance] = []
        ids: dict[str, str] = {}
        tables = {t.id: t for t in self.tables}
        fake = Form(id="", version="", title="", document={}, content_hash="", tables=tuple(self.tables),
                    header=(), rules=(), indicators=self.indicators, computed={}, instances=())
        for i, raw in enumerate(self.doc.get("rules", [])):
            ptr = f"/rules/{i}"
            rule = Rule(id=raw["id"], expr=raw["expr"], message=raw["message"], severity=raw.get("severity", "error"),
                        message_en=raw.get("message_en"), explain=raw.get("explain"), explainable=raw.get("explainable"),
                        tolerance=float(raw.get("tolerance", 0)), blank=raw.get("blank", "zero"),
                        each=raw.get("each"), table=raw.get("table"), only=tuple(raw.get("only", ())),
                        exclude=tuple(raw.get("except", ())), when=raw.get("when"), pointer=ptr)
            if rule.explainable and rule.severity == "error":
                self.problem(f"{ptr}/explainable", "an error cannot be explained away: only a warning may be explainable")
            if rule.id in ids:
                self.problem(f"{ptr}/id", f'rule id "{rule.id}" is used twice (also at {ids[rule.id]}/id)')
            ids.setdefault(rule.id, ptr)
            conditional = rule.when is not None or rx.is_conditional(rule.expr)
            for prop in ("message", "message_en"):
                text = raw.get(prop) or ""
                for ph in re.findall(r"\{([^{}]*)\}", text):
                    if ph not in MESSAGE_PLACEHOLDERS:
                        self.problem(f"{ptr}/{prop}", f'unknown placeholder {{{ph}}} (known: {", ".join("{" + p + "}" for p in MESSAGE_PLACEHOLDERS)})')
                    elif ph.startswith("when_") and not conditional:
                        self.problem(f"{ptr}/{prop}", f'{{{ph}}} quotes the condition of an "if … then …" rule (or its "when"); this rule has none')
            places: list[tuple[str | None, str | None]] = [(None, None)]
            if rule.each:
                table = tables.get(rule.table or "")
                if table is None:
                    self.problem(f"{ptr}/table", f'there is no table "{rule.table}"')
                    continue
                if rule.each == "column":
                    if table.kind != "matrix":
                        self.problem(f"{ptr}/each", f'"each": "column" needs a matrix table; "{table.id}" is a list')
                        continue
                    known = [(leaf.key, leaf.label) for leaf in table.leaves]
                    what = "column key"
                else:
                    known = [(r.code, r.label) for r in table.rows if not r.heading]
                    what = "row code"
                names = [k for k, _ in known]
                for prop, lst in (("only", rule.only), ("except", rule.exclude)):
                    for j, k in enumerate(lst):
                        if k not in names:
                            self.problem(f"{ptr}/{prop}/{j}", f'"{k}" is not a {what} of table "{table.id}"')
                places = [(k, lbl) for k, lbl in known if (not rule.only or k in rule.only) and k not in rule.exclude]
                token = "{col}" if rule.each == "column" else "{row}"
                if token not in rule.expr:
                    self.problem(f"{ptr}/expr", f'an "each": "{rule.each}" rule must use {token} in its expression')
                    continue
            both = rule.expr + " " + (rule.when or "")
            other = "{row}" if rule.each == "column" else "{col}"
            if not rule.each and "{row}" in both and "{col}" not in both:
                other = "{row}"  # name the placeholder the expression uses
            if other in both or (not rule.each and ("{col}" in both or "{row}" in both)):
                self.problem(f"{ptr}/expr", f'{other} can only be used with "each": "{"row" if other == "{row}" else "column"}"')
                continue
            rules.append(rule)
            for key, lbl in places:
                text = rule.expr
                when_text: str | None = rule.when
                if key is not None:
                    token = "{col}" if rule.each == "column" else "{row}"
                    text = text.replace(token, key)
                    when_text = when_text.replace(token, key) if when_text is not None else None
                before = len(self.problems)
                tree = self.parse_in(text, f"{ptr}/expr", comparison=True)
                when: rx.Node | None = None
                if tree is not None and when_text is not None:
                    if isinstance(tree, rx.Implies):
                        self.problem(f"{ptr}/when", 'give the condition either as "when" or as "if … then …" in "expr", not both')
                        tree = None
                    else:
                        when = self.parse_in(when_text, f"{ptr}/when", comparison=True)
                        if when is None:
                            tree = None
                        elif not isinstance(when, rx.Compare):
                            self.problem(f"{ptr}/when", '"when" is one comparison, without "if … then"')
                            tree = None
                if tree is None:
                    if rule.each and len(self.problems) > before and key is not None:
                        # name the column/row the expansion failed on
                        last = self.problems.pop()
                        self.problem(last.pointer, f'{last.message} (applied to {rule.each} "{key}")')
                    break
                if isinstance(tree, rx.Implies):
                    when, tree = tree.when, tree.then
                assert isinstance(tree, rx.Compare) and (when is None or isinstance(when, rx.Compare))
                whole = tree if when is None else rx.Implies(when, tree)
                shown = (self.places_of(tree.left), self.places_of(tree.right),
                         self.places_of(when.left) if when is not None else None,
                         self.places_of(when.right) if when is not None else None)
                instances.append(RuleInstance(rule=rule, tree=tree, key=key, place_label=lbl,
                                              reads=tuple(rx.codes(whole, fake.expand)), when=when, places=shown,
                                              prev_reads=tuple(rx.prev_codes(whole))))
        return rules, instances


def _expand_range(form: Form, start: str, end: str) -> list[str]:
    a, b = form.indicators[start], form.indicators[end]
    if a.table != b.table:
        raise rx.ExpressionError(f"range {start}:{end} spans two tables")
    table = form.table(a.table)
    r0, r1 = sorted((a.row, b.row))
    c0, c1 = sorted((a.column, b.column))
    out = []
    for ri in range(r0, r1 + 1):
        for ci in range(c0, c1 + 1):
            code = table.cell_code(table.rows[ri], table.leaves[ci])
            if code is not None and code in form.indicators:
                out.append(code)
    return out


# ---------------------------------------------------------------------------- shipped forms

def shipped_schemas() -> dict[str, Path]:
    """The forms shipped in toolkit/forms/, by id (the meta-schema is not one)."""
    out: dict[str, Path] = {}
    for p in sorted(SCHEMA_DIR.glob("*.json")):
        if p == META_SCHEMA_PATH:
            continue
        out[p.stem] = p
    return out


SCHEMA_PATH_VARIABLE = "TOOLKIT_SCHEMA_PATH"


def env_schema_dirs() -> list[Path]:
    """Folders of an office's own forms named in $TOOLKIT_SCHEMA_PATH (separated like PATH)."""
    raw = os.environ.get(SCHEMA_PATH_VARIABLE, "")
    return [Path(d) for d in raw.split(os.pathsep) if d.strip() and Path(d).is_dir()]


def resolve(name_or_path: str | Path) -> Path:
    """A schema path from a path, the id of a shipped form, or a form in $TOOLKIT_SCHEMA_PATH."""
    p = Path(name_or_path)
    if p.suffix.lower() == ".json" or p.exists():
        return p
    ships = shipped_schemas()
    if str(name_or_path) in ships:
        return ships[str(name_or_path)]
    for d in env_schema_dirs():
        if (d / f"{name_or_path}.json").is_file():
            return d / f"{name_or_path}.json"
    raise SchemaError(str(name_or_path), [Problem("", f'no such file, and no shipped form with that id (shipped: {", ".join(ships) or "none"}); '
                                              f'a form of your own: give its path, or name its folder in ${SCHEMA_PATH_VARIABLE}')])
