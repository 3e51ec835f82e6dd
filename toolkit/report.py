"""Renderings of check results: text for people, JSON and CSV for other tools.

The results are data (:class:`toolkit.validate.Result` with its :class:`toolkit.issues.Issue`
list); every format here only renders them, in Chinese or English.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from .files import neutralise, safe_text
from .issues import Issue
from .validate import Result

STATUS_ZH = {"valid": "通过", "invalid": "有错误", "rejected": "拒收"}
SEVERITY = {"zh": {"error": "错误", "warning": "提示"}, "en": {"error": "error", "warning": "warning"}}
EXPLAINED = {"zh": "提示（已说明）", "en": "warning (explained)"}


def severity_label(i: Issue, lang: str = "zh") -> str:
    """错误 / 提示 / 提示（已说明）: a warning the agency justified in 审核说明 reads as such."""
    return EXPLAINED[lang] if i.explained else SEVERITY[lang][i.severity]


def issue_text(i: Issue, lang: str = "zh") -> str:
    """The issue's message, followed by the agency's explanation when it gave one."""
    if not i.explained:
        return i.message(lang)
    return f"{i.message(lang)}（说明：{i.explanation}）" if lang == "zh" else f"{i.message(lang)} (explanation: {i.explanation})"


def result_json(r: Result, lang: str = "zh") -> dict[str, Any]:
    ident = r.identity
    out: dict[str, Any] = {
        "file": r.file, "sha256": r.sha256, "status": r.status,
        "period": ident.period if ident and ident.schema_id else None,
        "schema": {"id": ident.schema_id, "version": ident.schema_version} if ident and ident.schema_id else None,
        "agency": {"code": ident.agency_code, "name": ident.agency_name} if ident and ident.schema_id else None,
        "values": r.values,
        "issues": [i.to_json(lang) for i in r.issues],
    }
    if r.status == "rejected":
        out["reason"] = r.reason(lang)
    if r.kind == "summary":     # a summary workbook: who made it and the agencies it counts
        out["kind"] = "summary"
        out["office"] = ident.office if ident else ""
        out["agencies"] = [{"code": p.identity.agency_code if p.identity else "", "name": p.identity.agency_name if p.identity else "",
                            "status": p.status, "sources": [{"file": f, "sha256": h} for f, h in p.sources],
                            "issues": [i.to_json(lang) for i in p.issues]} for p in r.parts]
    return out


def render_json(results: Sequence[Result], lang: str = "zh") -> str:
    return json.dumps([result_json(r, lang) for r in results], ensure_ascii=False, indent=2) + "\n"


def status_line(r: Result, lang: str = "zh") -> str:
    ident = r.identity
    who = f"{ident.agency_code} {ident.agency_name}".strip() if ident else ""
    if r.kind == "summary" and r.status != "rejected":
        office = ident.office if ident else ""
        who = (f"summary{' by ' + office if office else ''} of {len(r.parts)} agencies" if lang == "en"
               else f"{office}汇总表，{len(r.parts)} 个单位")
    if lang == "en":
        if r.status == "rejected":
            return f"{r.file}: rejected: {r.reason('en')}"
        counts = f"{len(r.errors)} error(s), {len(r.warnings)} warning(s)"
        return f"{r.file}: {r.status} ({who}; {counts})" if who else f"{r.file}: {r.status} ({counts})"
    if r.status == "rejected":
        return f"{r.file}: 拒收：{r.reason('zh')}"
    counts = f"{len(r.errors)} 个错误，{len(r.warnings)} 个提示"
    return f"{r.file}: {STATUS_ZH[r.status]}（{who + '；' if who else ''}{counts}）"


def render_text(results: Sequence[Result], lang: str = "zh") -> str:
    lines: list[str] = []
    for r in results:
        lines.append(status_line(r, lang))
        for i in r.issues:
            where = i.cell or "-"
            lines.append(f"  {severity_label(i, lang)}  {where}  {issue_text(i, lang)}")
        for p in r.parts:       # a summary's agencies: their problems, by agency code
            for i in p.issues:
                lines.append(f"  {severity_label(i, lang)}  {p.identity.agency_code if p.identity else '-'}  {issue_text(i, lang)}")
    periods = period_line(results, lang)
    if periods:
        lines.append(periods)
    lines.append(summary_line(results, lang))
    # a line break inside a message would forge a line of the report; a control character could
    # drive the terminal: both are shown escaped
    return "\n".join(safe_text(line) for line in lines) + "\n"


def period_line(results: Sequence[Result], lang: str = "zh") -> str:
    """本次收集：gov-info-disclosure-2021 2023 — the period each form's returns were checked against."""
    from .period import collection_periods
    periods = collection_periods(results)
    if not periods:
        return ""
    parts = [f"{form_id} {p}" for form_id, p in sorted(periods.items())]
    return ("period collected: " if lang == "en" else "本次收集的报告期：") + ("; " if lang == "en" else "；").join(parts)


def summary_line(results: Sequence[Result], lang: str = "zh") -> str:
    """The closing line: how many files, how many valid, invalid, rejected."""
    counts = {s: sum(1 for r in results if r.status == s) for s in ("valid", "invalid", "rejected")}
    if lang == "en":
        return f"{len(results)} file(s): {counts['valid']} valid, {counts['invalid']} invalid, {counts['rejected']} rejected"
    return f"共 {len(results)} 个文件：通过 {counts['valid']}，有错误 {counts['invalid']}，拒收 {counts['rejected']}"


CSV_HEADINGS = {"zh": ["文件", "单位代码", "单位名称", "状态", "级别", "位置", "规则", "指标", "说明"],
                "en": ["file", "agency_code", "agency_name", "status", "severity", "cell", "rule", "code", "message"]}


def render_csv(results: Sequence[Result], lang: str = "zh") -> str:
    """One row per issue (and one per rejected file), UTF-8 with BOM so Excel reads Chinese."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADINGS[lang])
    for r in results:
        ident = r.identity
        code, name = (ident.agency_code, ident.agency_name) if ident else ("", "")
        status = r.status if lang == "en" else STATUS_ZH[r.status]
        if r.status == "rejected":
            w.writerow([neutralise(safe_text(x)) for x in (r.file, code, name, status, SEVERITY[lang]["error"], "", "", "", r.reason(lang))])
        for i in r.issues:
            w.writerow([neutralise(safe_text(x or "")) for x in (r.file, code, name, status, severity_label(i, lang), i.cell, i.rule, i.code, issue_text(i, lang))])
    return "\ufeff" + buf.getvalue()
