"""Totals and detail for other tools: JSON and CSV, with agencies' text neutralised."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .files import neutralise, write_text_atomic
from .consolidation import Consolidation


def consolidation_json(c: Consolidation) -> dict[str, Any]:
    form = c.form
    return {
        "schema": {"id": form.id, "version": form.version, "hash": form.content_hash},
        "period": c.period,
        "totals": {code: c.totals.get(code) for code, ind in form.indicators.items() if ind.spec.numeric},
        "rules_failed_on_totals": [{"rule": r.instance.id, "message": r.message()} for r in c.failed_rules],
        "counts": c.counts(),
        "agencies": [
            {"code": s.code, "name": s.name, "group": s.group, "status": s.status, "used": s.used,
             "file": s.result.file, "sha256": s.result.sha256, "note": s.note,
             "values": s.result.values if s.result.status != "rejected" else {}}
            for s in c.submissions
        ],
        "missing": [{"code": a.code, "name": a.name, "group": a.group} for a in c.missing],
    }


def write_json(c: Consolidation, path: str | Path) -> None:
    """Totals, counts and every agency's values as JSON (UTF-8), written atomically."""
    write_text_atomic(path, json.dumps(consolidation_json(c), ensure_ascii=False, indent=2, default=str) + "\n")


def write_csv(c: Consolidation, path: str | Path) -> None:
    """One row per agency that sent a workbook, one column per indicator (UTF-8 with BOM for Excel)."""
    form = c.form
    codes = [code for code, ind in form.indicators.items() if ind.spec.numeric]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["agency_code", "agency_name", "group", "status", "used", "file", *codes])
    for s in c.submissions:
        vals = s.result.values if s.result.status != "rejected" else {}
        w.writerow([neutralise(s.code), neutralise(s.name), neutralise(s.group), s.status, "yes" if s.used else "no",
                    neutralise(Path(s.result.file).name), *("" if vals.get(code) is None else vals[code] for code in codes)])
    w.writerow(["TOTAL", "", "", "", "", "", *(c.totals.get(code, "") for code in codes)])
    write_text_atomic(path, "\ufeff" + buf.getvalue())
