"""Differential fuzzer: the reader against LibreOffice, on the same cells spelt other ways.

Filled Form A templates are rewritten by tests/corpus/respell.py — attribute order, quotes, white
space, character references, CDATA, cells without ``r=``, shared strings made inline, figures
made formulas with and without a cached result — and every mutant is read by ``check_file`` and
opened in LibreOffice. The principle: for every input cell, the value the reader reports equals
what LibreOffice shows, or the file is not valid (a cell with an issue of its own is not
compared; a rejected file is not compared).

Environment: SPELLING_SEED (default 1), SPELLING_COUNT mutants (default 12: the CI budget). A long run::

    SPELLING_SEED=5 SPELLING_COUNT=400 python -m pytest -q tests/test_spelling_differential.py
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

import filled as F
from corpus.respell import respelled
from toolkit.layout import layout_of
from toolkit.registry import Registry
from toolkit.roster import Agency
from toolkit.samples import as_inputs, header_values, random_figures
from toolkit.sheetxml import canonical, is_plain
from toolkit.validate import check_file

SEED = os.environ.get("SPELLING_SEED", "1")
COUNT = int(os.environ.get("SPELLING_COUNT", "12"))
BATCH = 20


def _bases(folder: Path) -> list[tuple[Path, str, dict[str, str], set[str]]]:
    """Two filled Form A returns (figures, some blank, header texts): path, form sheet part,
    code → A1 of every input and typed header field, and those A1s."""
    form = F.form_a()
    lay = layout_of(form)
    out = []
    for i in range(2):
        values = {**as_inputs(form, random_figures(form, seed=f"spell-{i}")), **header_values(form, seed=i)}
        path = F.write(folder, f"base_{i}.xlsx", form, values, agency=Agency(code=f"S{i:02d}", name=f"拼写单位{i}", group="S"))
        sheet = lay.sheets[0].name
        refs = {ind.code: F.ref(form, ind.code) for ind in form.inputs if lay.cells[ind.code].sheet == sheet}
        refs.update({f.code: F.ref(form, f.code) for f in form.header if f.code in lay.sheets[0].fields
                     and f.spec.type in ("text", "integer", "decimal")})
        out.append((path, F.sheet_members(path)[sheet], refs, set(refs.values())))
    return out


def _lo_value(cell: dict) -> object:
    if cell["kind"] == "empty":
        return None
    if cell["kind"] == "text":
        return cell["string"]
    return cell["value"]


def _same(reader: object, shown: object) -> bool:
    if reader is None or reader == "":
        return shown is None or shown == ""
    if isinstance(reader, (int, float)) and not isinstance(reader, bool):
        return isinstance(shown, (int, float)) and abs(float(shown) - float(reader)) < 1e-9
    if isinstance(reader, (dt.date, dt.datetime)):
        return True
    return isinstance(shown, str) and str(reader).strip() == shown.strip()


def test_plain_spelling_is_a_fixed_point(tmp_path):
    """What the slow path writes is plain; a plain part is left as it is."""
    for path, member, _, cells in _bases(tmp_path):
        import zipfile
        data = zipfile.ZipFile(path).read(member)
        assert is_plain(data)
        for i in range(5):
            _, mutant = respelled(path.read_bytes(), member, SEED, i, cells)
            part = zipfile.ZipFile(__import__("io").BytesIO(mutant)).read(member)
            assert is_plain(canonical(part))


def test_reader_agrees_with_libreoffice(lo, tmp_path):
    registry = Registry()
    form = F.form_a()
    lay = layout_of(form)
    sheet = lay.sheets[0].name
    bases = _bases(tmp_path)
    mutants = []
    for i in range(COUNT):
        path, member, refs, cells = bases[i % len(bases)]
        name, data = respelled(path.read_bytes(), member, SEED, i, cells, share=0.6)
        out = tmp_path / f"mutant_{i:04d}.xlsx"
        out.write_bytes(data)
        mutants.append((name, out, refs))
    disagreements: list[str] = []
    compared = slow = 0
    for start in range(0, len(mutants), BATCH):
        batch = mutants[start:start + BATCH]
        ops = []
        for _, out, refs in batch:
            ops += [{"op": "open", "path": str(out)}, {"op": "read", "sheet": sheet, "cells": sorted(set(refs.values()))}]
        ops.append({"op": "close"})
        results = lo.run(ops, timeout=60 + 10 * len(batch))
        for k, (name, out, refs) in enumerate(batch):
            shown = results[2 * k + 1]
            r = check_file(out, registry)
            if r.status == "rejected":
                continue
            slow += 1
            own_issue = {i.code for i in r.issues if i.code}
            for code, a1 in refs.items():
                if code in own_issue:
                    continue
                compared += 1
                if not _same(r.values.get(code), _lo_value(shown[a1])):
                    disagreements.append(f"{name} {out.name} {code} {a1}: reader {r.values.get(code)!r}, "
                                         f"LibreOffice {shown[a1]} (status {r.status})")
    assert not disagreements, "\n".join(disagreements[:20])
    assert compared > COUNT * 10, f"only {compared} cells compared"
