"""Totals and detail for other tools: JSON and CSV, with agencies' text neutralised."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .consolidation import SUBMISSION_STATUS, Consolidation
from .files import neutralise, write_text_atomic


def consolidation_json(c: Consolidation) -> dict[str, Any]:
    form = c.form
    return {
        "schema": {"id": form.id, "version": form.version, "hash": form.content_hash},
        "period": c.period,
        "office": c.office,
        "totals": {code: c.totals.get(code) for code, ind in form.indicators.items() if ind.spec.numeric},
        "rules_failed_on_totals": [{"rule": r.instance.id, "message": r.message()} for r in c.failed_rules],
        "counts": c.counts(),
        "agencies": [
            {"code": s.code, "name": s.name, "group": s.group, "status": s.status, "used": s.used,
             "file": s.result.file, "sha256": s.result.sha256, "note": s.note, "parent": s.parent,
             "sources": [{"file": f, "sha256": h} for f, h in s.result.sources],
             "values": s.result.values if s.result.status != "rejected" else {}}
            for s in c.submissions
        ],
        "missing": [{"code": a.code, "name": a.name, "group": a.group, "parent": a.parent} for a in c.missing],
    }


def write_json(c: Consolidation, path: str | Path) -> None:
    """Totals, counts and every agency's values as JSON (UTF-8), written atomically."""
    write_text_atomic(path, json.dumps(consolidation_json(c), ensure_ascii=False, indent=2, default=str) + "\n")


STATUS_EN = {
    "valid": "valid",
    "warnings": "valid (with warnings)",
    "invalid": "has errors",
    "rejected": "rejected",
    "missing": "missing",
    "duplicate": "sent twice (not used)",
    "unknown": "not on the roster",
}
CSV_HEADINGS = {
    "zh": ("单位代码", "单位名称", "分组", "状态", "计入汇总", "文件", "合计", "是", "否"),
    "en": ("agency code", "agency name", "group", "status", "counted", "file", "total", "yes", "no"),
    "codes": ("agency_code", "agency_name", "group", "status", "used", "file", "TOTAL", "yes", "no"),
}


def status_text(status: str, lang: str = "zh") -> str:
    """A submission status as people read it: 通过 / valid (with warnings) / …."""
    return STATUS_EN[status] if lang == "en" else SUBMISSION_STATUS[status]


def write_csv(c: Consolidation, path: str | Path, lang: str = "zh", codes: bool = False) -> None:
    """One row per agency that sent a workbook, one column per indicator (UTF-8 with BOM for Excel).

    Headings and statuses are in ``lang`` ("zh" or "en"): the indicators by their labels
    (规章 / 本年制发件数). ``codes=True`` writes the machine form instead: indicator codes, status
    keys (valid, invalid, …), yes/no and TOTAL, whatever the language.
    """
    form = c.form
    inds = [(code, ind) for code, ind in form.indicators.items() if ind.spec.numeric]
    key = "codes" if codes else ("en" if lang == "en" else "zh")
    *fixed, total, yes, no = CSV_HEADINGS[key]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([*fixed, *(code if codes else neutralise(ind.label) for code, ind in inds)])
    for s in c.submissions:
        vals = s.result.values if s.result.status != "rejected" else {}
        status = s.status if codes else status_text(s.status, lang)
        w.writerow([neutralise(s.code), neutralise(s.name), neutralise(s.group), status, yes if s.used else no,
                    neutralise(Path(s.result.file).name), *("" if vals.get(code) is None else vals[code] for code, _ in inds)])
    w.writerow([total, "", "", "", "", "", *(c.totals.get(code, "") for code, _ in inds)])
    write_text_atomic(path, "\ufeff" + buf.getvalue())
