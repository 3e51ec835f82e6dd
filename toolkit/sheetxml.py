"""Cell XML read by its grammar, not by its spelling.

XML allows one cell to be written many ways: attributes in any order, single or double quotes,
white space and line breaks inside a tag, a cell without its ``r=`` reference, a value given as
character references (``&#49;&#53;``) or in a CDATA section. LibreOffice shows all of them as the
same figure; python-calamine reads some of them as blank (or as a different number), and the
formula scan of :mod:`toolkit.package` recognises only the spelling common writers use.

So a worksheet part is first checked, with a few C-speed scans up to the end of its
``<sheetData>``, for the *plain* spelling every common writer uses (xlsxwriter, Excel, LibreOffice,
WPS): every row and cell starting with its reference (``r="…"`` first, double-quoted), no white
space between elements or around a value, no CDATA, comments or character references. How the
other attributes are spaced and quoted does not matter (both parsers read attributes as XML does). A plain part is read as it is (the fast path: most files). Any
other part is parsed by a real XML parser (the standard library's, on a part whose prolog has
already been checked for a DOCTYPE) and written out again in the plain spelling, references
filled in the way a spreadsheet program infers them; the reader then reads that rewritten part.
Both the package checks and python-calamine see the same, plain, bytes.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

from .formulas import col_letter, col_number

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_M = "{" + MAIN_NS + "}"

# Anything a common writer never writes, and that the package scan or python-calamine might read
# differently from LibreOffice, sends a part to the XML parser. Each test is one C-speed scan.
# a cell start tag ("<c" then a space, ">" or "/") that is not '<c r="A1"' then a space or the tag's end
_BAD_CELL_START = re.compile(rb'<c(?=[ >/])(?! r="[A-Z]{1,3}[1-9][0-9]{0,6}"[ />])')
_ODD_ROW = re.compile(rb'<row(?! r="[1-9])')
# Line breaks, tabs and white space around a value or between elements: see _plain_text.
# How attributes are spaced and quoted is left to the parsers: python-calamine reads them by the
# rules of XML, and the package scan's patterns accept any spacing and either quote.
MAX_ELEMENTS = 3_000_000      # what the XML parser is given to build (about 1 GB at worst)


class SheetXmlError(ValueError):
    """A part that is not well-formed XML (the first line of the parser's message)."""


def sheet_data_span(data: bytes) -> tuple[int, int] | None:
    """Where the one ``<sheetData>`` of a worksheet part starts and ends (None: missing, repeated
    or unclosed). Every cell a parser reads is in between: python-calamine stops at its end."""
    start = data.find(b"<sheetData")
    if start < 0 or data.find(b"<sheetData", start + 10) >= 0:
        return None
    if data.startswith(b"<sheetData/>", start):
        return start, start + 12
    if not data.startswith(b"<sheetData>", start):
        return None
    end = data.find(b"</sheetData>", start)
    return (start, end + 12) if end >= 0 else None


# The plain spelling as a grammar of <sheetData>, for the common case: every row and cell starts with
# its reference, no cell lies past column CZ or row 9999 (so no sheet can span more than about a
# million cells, under the package's bound), cells carry only the attributes CT_Cell defines
# (s, t — never t="e", an error value —, cm, vm, ph), one space apart and double-quoted, children
# are <f>, <v> and <is> in that order and unprefixed, no text stands between elements, and no
# value starts or ends with white space. A part whose <sheetData> matches it needs none of the
# package's other scans of its cells: it is plain (is_plain), within bounds, and holds no error
# value and no prefixed element. Anything else takes the general path, as before.
_TEXT = rb'(?:[^ \t\n\r<](?:[^<]*[^ \t\n\r<])?)?'
_SIMPLE_CELL = (rb'<c r="[A-C]?[A-Z][1-9][0-9]{0,3}"'
                rb'(?: (?:s|cm|vm|ph)="[0-9]{1,9}"| t="(?:s|n|str|b|inlineStr|d)")* ?'
                rb'(?:/>|>'
                rb'(?:<f(?: [^<>/]*)?(?:/>|>' + _TEXT + rb'</f>))?'
                rb'(?:<v>' + _TEXT + rb'</v>)?'
                rb'(?:<is>(?:<t(?: [^<>/]*)?>' + _TEXT + rb'</t>'
                rb'|<r>(?:<rPr>(?:<[A-Za-z]+(?: [^<>/]*)?/>)*</rPr>)?<t(?: [^<>/]*)?>' + _TEXT + rb'</t></r>)+</is>)?'
                rb'</c>)')
_SIMPLE_ROW = rb'<row r="[1-9][0-9]{0,3}"(?: [^<>/]*)?(?:/>|>(?:' + _SIMPLE_CELL + rb')*</row>)'
SIMPLE_SHEET_DATA = rb'<sheetData(?:/>|>(?:' + _SIMPLE_ROW + rb')*</sheetData>)'


def _compile_simple() -> Any:
    """The grammar compiled by RE2 (google-re2: a DFA, one linear pass over the bytes, about three
    times faster here than the standard library's backtracking engine, and linear on hostile input
    too), or by the standard library where RE2 cannot be loaded: the same pattern, the same answer."""
    try:
        import re2
    except ImportError:             # pragma: no cover - google-re2 is a dependency
        return re.compile(SIMPLE_SHEET_DATA)
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1     # bytes are bytes, as for the standard library
    options.max_mem = 64 << 20
    return re2.compile(SIMPLE_SHEET_DATA, options)


_SIMPLE = _compile_simple()


def simple_span(data: bytes) -> tuple[int, int] | None:
    """Where the <sheetData> of a worksheet part is when it is plain *and* simple (the grammar
    above); None when the part needs the general path (:func:`plain_span`, then the package's
    bounds and error scans)."""
    span = sheet_data_span(data)
    if span is None or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    start, end = span
    if not _plain_text(data, start, end):
        return None
    # the grammar leaves no room for comments, CDATA or processing instructions in <sheetData>:
    # before it, they are looked for as plain_span does
    if data.find(b"!", 0, start) >= 0 and data.find(b"<!", 0, start) >= 0:
        return None
    return span if _SIMPLE.fullmatch(data, start, end) is not None else None


def _plain_text(data: bytes, start: int, end: int) -> bool:
    """The single-byte tests of the plain spelling (each a memchr), and the white-space pairs
    before <sheetData> (inside it, the grammar sees to them)."""
    if data.find(b"#", 0, end) >= 0 and data.find(b"&#", 0, end) >= 0:
        return False
    declared = data.find(b"?>", 0, 200) + 2 if data.startswith(b"<?") else 0
    if data.find(b"?", declared, end) >= 0 and data.find(b"<?", 5, end) >= 0:
        return False
    body = data.find(b">", data.find(b"<", 5 if data.startswith(b"<?") else 0))     # after the prolog
    if any(data.find(t, body, end) >= 0 for t in (b"\n", b"\t", b"\r")):
        return False
    return not any(data.find(t, body, start) >= 0 for t in (b"> ", b" <"))


def is_plain(data: bytes) -> bool:
    """Whether a worksheet part is spelt the way common writers spell it (see :func:`plain_span`)."""
    return plain_span(data) is not None


def plain_span(data: bytes) -> tuple[int, int] | None:
    """Where the <sheetData> of a worksheet part is, when the part is spelt the way common writers
    spell it (see the module docs); None when it is not.

    Every cell start tag (``<c`` then white space, ``>`` or ``/``) must be ``<c r="A1"`` followed by
    a space or the end of the tag, every row must start with its ``r``, and no white space may sit
    before a cell's children or around a value.

    Only the part up to the end of ``<sheetData>`` is looked at: what follows it (conditional
    formats, validations, merged ranges, protection, page set-up) holds no cell, and each scan
    here costs a pass over the bytes — about half of a form sheet's bytes are that tail.
    """
    span = sheet_data_span(data)
    if span is None or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    end = span[1]
    # comments, CDATA and DOCTYPE (<!) anywhere up to the end; the rest as simple_span tests them,
    # the white-space pairs here all the way to the end of <sheetData>
    if data.find(b"<!", 0, end) >= 0 or not _plain_text(data, end, end) or _ODD_ROW.search(data, 0, end):
        return None
    # no tab, line break or double space is left: a cell start tag is "<c " "<c>" or "<c/>"
    return span if _BAD_CELL_START.search(data, 0, end) is None else None


def _odd(data: bytes) -> bool:
    """Comments, CDATA, character references, processing instructions, UTF-16: never in a plain part.
    (Each pair is looked for only where its rare byte — ``!``, ``#``, ``?`` — occurs: a memchr.)"""
    declared = data.find(b"?>", 0, 200) + 2 if data.startswith(b"<?") else 0
    return (data.startswith((b"\xff\xfe", b"\xfe\xff"))
            or (b"!" in data and (b"<!--" in data or b"<![CDATA[" in data))
            or (b"#" in data and b"&#" in data)
            or (data.find(b"?", declared) >= 0 and data.find(b"<?", 5) >= 0))


def is_plain_strings(data: bytes) -> bool:
    """Whether a shared-strings part has nothing python-calamine might read differently."""
    return not _odd(data)


_REF = re.compile(r"\s*([A-Za-z]{1,3})([0-9]{1,7})\s*$")


def _parse(data: bytes) -> ET.Element:
    if data.count(b"<") > MAX_ELEMENTS:
        raise SheetXmlError(f"more than {MAX_ELEMENTS} XML elements")
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise SheetXmlError(str(e).splitlines()[0] if str(e) else "not well-formed") from None


def _serialise(root: ET.Element) -> bytes:
    # the main namespace as the default one, so the rewritten part reads like a written one
    ET.register_namespace("", MAIN_NS)
    ET.register_namespace("r", "http://schemas.openxmlformats.org/officeDocument/2006/relationships")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def canonical(data: bytes) -> bytes:
    """A worksheet part rewritten in the plain spelling: what it says, not how it said it.

    Every row and cell gets its reference (a missing one continues from the previous row or cell,
    as spreadsheet programs read it), ``r`` comes first, character references and CDATA become
    text, white space between elements goes, and a value's surrounding white space (which
    LibreOffice ignores in a number) is trimmed for every cell but a text one.
    """
    root = _parse(data)
    for sheet_data in root.iter(_M + "sheetData"):
        sheet_data.text = None
        last_row = 0
        for row in sheet_data:
            row.tail = None
            if row.tag != _M + "row":
                continue
            r = (row.get("r") or "").strip()
            last_row = int(r) if r.isdigit() and int(r) > 0 else last_row + 1
            _put_first(row, "r", str(last_row))
            row.text = None
            last_col = 0
            for c in row:
                c.tail = None
                if c.tag != _M + "c":
                    continue
                m = _REF.match(c.get("r") or "")
                if m:
                    last_col = col_number(m.group(1).upper())
                    if int(m.group(2)) != last_row:
                        # a cell's own row number wins over its row's (what calamine does too)
                        ref = f"{m.group(1).upper()}{int(m.group(2))}"
                    else:
                        ref = f"{col_letter(last_col - 1)}{last_row}"
                else:
                    last_col += 1
                    ref = f"{col_letter(last_col - 1)}{last_row}"
                _put_first(c, "r", ref)
                t = (c.get("t") or "n").strip()
                if c.get("t") is not None:
                    c.set("t", t)
                c.text = None
                for child in c:
                    child.tail = None
                    if child.tag == _M + "v" and child.text is not None and t != "str":
                        child.text = child.text.strip()
                    if child.tag == _M + "is":
                        child.text = None
                        for sub in child:
                            sub.tail = None
    return _serialise(root)


def canonical_strings(data: bytes) -> bytes:
    """A shared-strings part with character references and CDATA turned into plain text."""
    return _serialise(_parse(data))


def _put_first(el: ET.Element, name: str, value: str) -> None:
    rest = [(k, v) for k, v in el.attrib.items() if k != name]
    el.attrib.clear()
    el.set(name, value)
    for k, v in rest:
        el.set(k, v)
