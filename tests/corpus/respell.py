"""Filled templates rewritten in other XML spellings, for the differential fuzzer.

The same cells, the same values — only the spelling of the XML changes, the way XML allows and
some writer (or a person with a text editor) might: attribute order, single or double quotes,
white space and line breaks inside tags and between elements, a value given as character
references or in a CDATA section, a cell without its ``r=`` reference, a shared string made an
inline string or a formula-less ``t="str"``, a figure given as a formula with and without its
cached result, a comment between a cell's children. tests/test_spelling_differential.py compares
what ``toolkit check`` reads with what LibreOffice shows for each mutant.

:func:`respelled` is deterministic: ``respelled(base, seed, index)`` makes the same file again.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from xml.etree import ElementTree as ET

_CELL = re.compile(rb'<c r="([A-Z]+)([0-9]+)"((?: [\w:]+="[^"]*")*)(?:/>|>(.*?)</c>)', re.S)
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_F = re.compile(rb'<f((?: [\w:]+="[^"]*")*)(?:/>|>(.*?)</f>)', re.S)
_V = re.compile(rb"<v>(.*?)</v>", re.S)
_IS = re.compile(rb"<is>.*?</is>", re.S)
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def shared_strings(data: bytes) -> list[str]:
    root = ET.fromstring(data)
    return ["".join(t.text or "" for t in si.iter(_NS + "t")) for si in root.iter(_NS + "si")]


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(b: bytes) -> str:
    return b.decode().replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")


def _space(rng: random.Random) -> str:
    return rng.choice([" ", " ", "  ", "\n", "\t", "\r\n  ", " \n\t"])


def _gap(rng: random.Random) -> str:
    """White space between elements (none, mostly)."""
    return rng.choice(["", "", "", "\n", "  ", "\n    "])


def _spell_text(rng: random.Random, text: str) -> str:
    """Character data in another spelling: references, CDATA, a mixture."""
    how = rng.choice(["plain", "refs", "hexrefs", "cdata", "mixed", "entities"])
    if how == "plain" or not text:
        return _xml_text(text)
    if how == "refs":
        return "".join(f"&#{ord(ch)};" for ch in text)
    if how == "hexrefs":
        return "".join(f"&#x{ord(ch):x};" for ch in text)
    if how == "cdata" and "]]>" not in text:
        return f"<![CDATA[{text}]]>"
    if how == "entities":
        return "".join({"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;"}.get(ch, ch) for ch in text)
    cut = rng.randrange(len(text) + 1)
    head, tail = text[:cut], text[cut:]
    return _xml_text(head) + (f"<![CDATA[{tail}]]>" if tail and "]]>" not in tail else _xml_text(tail))


def _attrs(rng: random.Random, attrs: list[tuple[str, str]]) -> str:
    attrs = list(attrs)
    if rng.random() < 0.6:
        rng.shuffle(attrs)
    out = ""
    for k, v in attrs:
        q = rng.choice(['"', "'"])
        eq = rng.choice(["=", "=", " = ", "=\n"])
        val = v if rng.random() < 0.8 else "".join(f"&#{ord(ch)};" for ch in v)
        out += _space(rng) + k + eq + q + val.replace(q, "&quot;" if q == '"' else "&apos;") + q
    return out + rng.choice(["", "", " ", "\n"])


def respell_cell(rng: random.Random, col: str, row: str, attrs: list[tuple[str, str]], inner: bytes | None,
                 strings: list[str], drop_ref: bool) -> str:
    """One cell written another way; what it holds stays the same (up to a formula for a number)."""
    a = [(k.decode(), v.decode()) for k, v in attrs]
    a = [(k, v) for k, v in a if k != "r"]
    if not drop_ref:
        a.insert(0, ("r", f"{col}{row}"))
    t = dict(a).get("t", "n")
    children = ""
    if inner is not None:
        f = _F.search(inner)
        v = _V.search(inner)
        value = _unescape(v.group(1)) if v else None
        if t == "s" and value is not None and f is None and rng.random() < 0.5:
            text = strings[int(value)]
            kind = rng.choice(["inlineStr", "str"])
            a = [(k, vv) for k, vv in a if k != "t"] + [("t", kind)]
            if kind == "inlineStr":
                children = f"<is>{_gap(rng)}<t xml:space=\"preserve\">{_spell_text(rng, text)}</t>{_gap(rng)}</is>"
            else:
                children = f"<v>{_spell_text(rng, text)}</v>"
        else:
            if f is not None:
                fa = f.group(1).decode()
                children += f"<f{fa}>{f.group(2).decode() if f.group(2) is not None else ''}</f>" if f.group(2) is not None else f"<f{fa}/>"
            elif t == "n" and value not in (None, "") and rng.random() < 0.2:
                children += f"<f>{value}</f>"
                if rng.random() < 0.3:             # a formula without its cached result
                    value = None
            if value is not None:
                pad = rng.choice(["", "", " ", "\n "]) if t in ("n", "s", "b") else ""
                children += _gap(rng) + f"<v>{pad}{_spell_text(rng, value)}{pad}</v>"
            if _IS.search(inner):
                children += _IS.search(inner).group(0).decode()
        if rng.random() < 0.1:
            children = "<!-- respelled -->" + children
    tag = rng.choice(["c", "c"])
    if children:
        return f"<{tag}{_attrs(rng, a)}>{_gap(rng)}{children}{_gap(rng)}</{tag}>"
    return f"<{tag}{_attrs(rng, a)}/>"


def respell_sheet(rng: random.Random, data: bytes, strings: list[str], share: float,
                  cells: set[str] | None = None) -> bytes:
    """Every cell (in ``cells``, or any) respelled with probability ``share``."""
    out = bytearray()
    pos = 0
    prev: tuple[str, int] | None = None
    for m in _CELL.finditer(data):
        col, row = m.group(1).decode(), m.group(2).decode()
        out += data[pos:m.start()]
        pos = m.end()
        here = (row, _col_number(col))
        chosen = (cells is None or f"{col}{row}" in cells) and rng.random() < share
        if chosen:
            # a cell may go without its reference only where a reader would infer the same one
            follows = prev is not None and prev[0] == row and prev[1] == here[1] - 1 or prev is None or prev[0] != row and here[1] == 1
            drop = follows and rng.random() < 0.25
            out += respell_cell(rng, col, row, _ATTR.findall(m.group(3)), m.group(4), strings, drop).encode()
        else:
            out += m.group(0)
        prev = here
    out += data[pos:]
    return bytes(out)


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def respelled(base: bytes, sheet_member: str, seed: int | str, index: int, cells: set[str] | None = None,
              share: float = 0.5) -> tuple[str, bytes]:
    """(description, package bytes): ``base`` with cells of ``sheet_member`` respelled."""
    rng = random.Random(f"{seed}:{index}")
    zin = zipfile.ZipFile(io.BytesIO(base))
    strings = shared_strings(zin.read("xl/sharedStrings.xml"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == sheet_member:
                data = respell_sheet(rng, data, strings, share, cells)
            zout.writestr(info, data)
    return f"respelled({seed!r}, {index})", buf.getvalue()
