"""The simple-spelling grammar (toolkit.sheetxml.simple_span) stands in for four scans of the
general path: the plain-spelling check, the bounds count, the prefixed-formula search and the
error-value scan. It may only ever say "simple" of a part the general path accepts as plain,
within bounds, with the same formula cells and no error value; and RE2 and the standard
library's engine, which may both compile it, must give the same verdict.

The parts tried: the sheets of the fuzz corpus's base workbooks, their respelled mutants (the
differential fuzzer's), their hostile XML mutants (the fuzzer's), and hand-made edge cases.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from corpus import mutate
from corpus.respell import respelled
from toolkit import sheetxml
from toolkit.package import Rejected, SheetFacts, _check_sheet_bounds, _scan_sheet_xml

STDLIB = re.compile(sheetxml.SIMPLE_SHEET_DATA)


def _sheets(data: bytes) -> list[bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError, RuntimeError, KeyError):
        return []
    except Exception:           # a corrupt member: zlib.error, a bad CRC
        return []


def _parts() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for name, data in mutate.bases():
        out += [(f"{name} sheet {k}", p) for k, p in enumerate(_sheets(data))]
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            form_sheet = next(n for n in zf.namelist() if n.endswith("sheet1.xml"))
        for i in range(40):
            what, mutant = respelled(data, form_sheet, "grammar", i, set(), share=0.6)
            out += [(f"{name} respelt {i} ({what})", p) for p in _sheets(mutant)[:1]]
    for i in range(400):
        what, mutant = mutate.mutated("grammar", i)
        out += [(f"mutant {i} ({what})", p) for p in _sheets(mutant)]
    return out


PARTS = _parts()


def _general(data: bytes, span: tuple[int, int]) -> SheetFacts:
    sf = SheetFacts(member="x")
    _check_sheet_bounds(data, sf, "x", span, simple=False)
    _scan_sheet_xml(data, sf, span, simple=False)
    return sf


def test_simple_parts_are_plain_bounded_and_scan_the_same():
    simple = 0
    for name, data in PARTS:
        span = sheetxml.simple_span(data)
        if span is None:
            continue
        simple += 1
        assert sheetxml.plain_span(data) == span, name
        try:
            general = _general(data, span)
        except Rejected as e:            # pragma: no cover - the failure this test exists to catch
            pytest.fail(f"{name}: simple, but the general bounds refuse it: {e.en}")
        fast = SheetFacts(member="x")
        _check_sheet_bounds(data, fast, "x", span, simple=True)
        _scan_sheet_xml(data, fast, span, simple=True)
        assert not general.errors, name
        assert general.formulas.keys() == fast.formulas.keys(), name
        assert general.protected == fast.protected, name
    # the base sheets and most respelt parts with only attribute or value changes are simple
    assert simple > 100, simple


def test_re2_and_the_standard_library_agree():
    for name, data in PARTS:
        span = sheetxml.sheet_data_span(data)
        if span is None:
            continue
        assert (sheetxml._SIMPLE.fullmatch(data, *span) is None) == (STDLIB.fullmatch(data, *span) is None), name


def test_the_grammar_is_compiled_by_re2():
    """google-re2 is a dependency: the fast engine is the one in use."""
    assert type(sheetxml._SIMPLE).__module__.startswith("re2"), type(sheetxml._SIMPLE)


BASE = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:C2"/>'
        b'<sheetData>%s</sheetData><sheetProtection sheet="1"/></worksheet>')
GOOD = b'<row r="1" spans="1:3"><c r="A1" s="1" t="s"><v>0</v></c><c r="B1"><f>SUM(C1:C2)</f><v>3</v></c></row>'


@pytest.mark.parametrize("cells, simple", [
    (GOOD, True),
    (b"", True),
    (b'<row r="1"/>', True),
    (b'<row r="9999"><c r="CZ9999"><v>1</v></c></row>', True),
    (b'<row r="2"><c r="B2" t="inlineStr"><is><t>x y</t></is></c></row>', True),
    (b'<row r="2"><c r="B2" t="inlineStr"><is><r><rPr><b/><sz val="11"/></rPr><t>x</t></r></is></c></row>', True),
    # past CZ or row 9999: the bounds must count
    (b'<row r="1"><c r="DA1"><v>1</v></c></row>', False),
    (b'<row r="10000"><c r="A10000"><v>1</v></c></row>', False),
    (b'<row r="1"><c r="A10000"><v>1</v></c></row>', False),
    # an error value, a prefixed element, an attribute CT_Cell does not have
    (b'<row r="1"><c r="A1" t="e"><v>#DIV/0!</v></c></row>', False),
    (b'<row r="1"><x:c r="A1"><v>1</v></x:c></row>', False),
    (b'<row r="1"><c r="A1"><x:f>1+1</x:f><v>2</v></c></row>', False),
    (b'<row r="1"><c r="A1" foo="1"><v>1</v></c></row>', False),
    # spelling the general path must look at
    (b'<row r="1"><c r="A1" s=\'1\'><v>1</v></c></row>', False),
    (b'<row r="1"><c s="1" r="A1"><v>1</v></c></row>', False),
    (b'<row r="1"><c><v>1</v></c></row>', False),
    (b'<row><c r="A1"><v>1</v></c></row>', False),
    (b'<row r="1"><c r="A1"><v> 1</v></c></row>', False),
    (b'<row r="1"><c r="A1"> <v>1</v></c></row>', False),
    (b'<row r="1"><c r="A1"><v>&#49;</v></c></row>', False),
    (b'<row r="1"><c r="A1"><v><![CDATA[1]]></v></c></row>', False),
    (b'<row r="1"><c r="A1"><!-- x --><v>1</v></c></row>', False),
    (b'<row r="1"><c r="A1"><?pi x?><v>1</v></c></row>', False),
    (b'<row r="1"><c r="A1"><v>1</v><extLst/></c></row>', False),
])
def test_edge_cases(cells, simple):
    data = BASE % cells
    assert (sheetxml.simple_span(data) is not None) is simple
    assert (STDLIB.fullmatch(data, *sheetxml.sheet_data_span(data)) is not None) is (sheetxml._SIMPLE.fullmatch(data, *sheetxml.sheet_data_span(data)) is not None)


def test_a_comment_before_sheet_data_is_not_simple():
    data = BASE.replace(b"<dimension", b"<!-- hidden --><dimension") % GOOD
    assert sheetxml.simple_span(data) is None
    assert sheetxml.plain_span(data) is None
