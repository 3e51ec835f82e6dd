"""The reporting period of a collection, and returns of another period.

Every template carries its period in its identity (the year it was made for). A return made from
last year's template looks perfectly valid, and summed into this year's totals it is a silent,
serious error. So a collection has one period — the one asked for, or else the one most returns
of that form carry — and a return of another period is rejected, naming both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from .validate import Result


def _key(r: Result) -> tuple[str, str] | None:
    ident = r.identity
    if r.status == "rejected" or ident is None or not ident.schema_id or not ident.period:
        return None
    return ident.schema_id, ident.period


def collection_periods(results: Iterable[Result], wanted: str | int | None = None) -> dict[str, str]:
    """The period being collected, per form id: ``wanted`` when given, else the period most
    returns of that form carry (a tie goes to the later period: last year's stragglers are the
    usual minority)."""
    counts: dict[str, Counter[str]] = {}
    for r in results:
        k = _key(r)
        if k is not None:
            counts.setdefault(k[0], Counter())[k[1]] += 1
    if wanted is not None and str(wanted).strip():
        return {form_id: str(wanted).strip() for form_id in counts}
    return {form_id: max(c.items(), key=lambda kv: (kv[1], kv[0]))[0] for form_id, c in counts.items()}


def refuse_other_periods(results: Sequence[Result], periods: dict[str, str], label: str | dict[str, str] = "年度") -> list[Result]:
    """Turn every return whose period is not its form's collection period into a rejected one
    (in place; values are dropped so nothing of it can reach a total). Returns those results."""
    refused = []
    for r in results:
        k = _key(r)
        if k is None or k[0] not in periods or k[1] == periods[k[0]]:
            continue
        want = periods[k[0]]
        unit = label.get(k[0], "年度") if isinstance(label, dict) else label
        r.status = "rejected"
        r.reason_zh = f"这是 {k[1]} {unit}的报表，本次收集的是 {want} {unit}；请用本{unit}下发的模板填报"
        r.reason_en = f"this return is for {k[1]}; the collection is for {want}. Use this period's template"
        r.values = {}
        r.issues = []
        refused.append(r)
    return refused


def period_text(period: str, label: str = "年度", lang: str = "zh") -> str:
    """2023年度 / period 2023."""
    if not period:
        return ""
    return f"period {period}" if lang == "en" else f"{period}{label}"
