"""What the store writes out: the summary workbook, exports, and the renderings of status and history.

The summary is :func:`toolkit.summary.write_summary` of the store's consolidation, so a summary
from the store and one from ``toolkit merge`` over the counted files are the same workbook.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..export import write_csv, write_json
from ..files import (
    atomic_path,
    neutralise,
    safe_stem,
    unique_names,
    write_atomic,
    write_text_atomic,
)
from ..summary import write_summary
from .model import AGENCY_STATUS, StatusReport, Version
from .store import Store


def summary(store: Store, out: str | Path, collection: str | int | None = None) -> Any:
    """Write the summary workbook of the versions that count; returns the consolidation."""
    c = store.consolidation(collection)
    write_summary(c, out)
    return c


def export(store: Store, out_dir: str | Path, collection: str | int | None = None) -> dict[str, Path]:
    """``values.json`` and ``values.csv`` of the versions that count (as ``merge --json/--csv``), and
    ``files/`` with every counted file byte for byte plus ``files/manifest.csv`` (name, agency, sha256)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c = store.consolidation(collection)
    write_json(c, out / "values.json")
    write_csv(c, out / "values.csv")
    used = c.used
    names = unique_names([safe_stem(f"{s.code}_{s.name}") for s in used], ".xlsx")
    # the folder is written beside its final place and renamed, so it is whole or absent
    files_dir = out / "files"
    with atomic_path(files_dir, suffix=".dir") as tmp:
        os.unlink(tmp)
        os.mkdir(tmp)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["file", "agency_code", "agency_name", "version", "sha256", "size"])
        for name, s in zip(names, used):
            data = store.blob(s.result.sha256)
            Path(tmp, name).write_bytes(data)
            version = s.result.file.split("/", 1)[0].lstrip("#")
            w.writerow([name, neutralise(s.code), neutralise(s.name), version, s.result.sha256, len(data)])
        Path(tmp, "manifest.csv").write_text("\ufeff" + buf.getvalue(), encoding="utf-8")
        if files_dir.exists():
            import shutil
            shutil.rmtree(files_dir)
    return {"json": out / "values.json", "csv": out / "values.csv", "files": files_dir}


# ---- renderings ---------------------------------------------------------------------------------

def _when(d: Any) -> str:
    return d.astimezone().strftime("%Y-%m-%d %H:%M:%S") if d else ""


def status_text(rep: StatusReport, lang: str = "zh") -> str:
    c = rep.collection
    counts = rep.counts()
    en = lang == "en"
    lines = [f"{c.key}（{c.form_id} {c.form_version}，{c.period}）" if not en else f"{c.key} ({c.form_id} {c.form_version}, {c.period})"]
    if c.deadline:
        lines.append(("deadline: " if en else "截止日期：") + c.deadline.isoformat())
    lines.append(("  ".join(f"{AGENCY_STATUS[k][1 if en else 0]} {n}" for k, n in counts.items() if n)) or "-")
    lines.append("")
    for a in rep.agencies:
        extra = []
        if a.versions:
            extra.append(f"{a.versions} version(s)" if en else f"{a.versions} 个版本")
        if a.counted_id:
            extra.append((f"counted #{a.counted_id}" if en else f"采用 #{a.counted_id}") + ("（pinned）" if en and a.pinned else "（指定）" if a.pinned else ""))
        if a.late:
            extra.append("late" if en else "迟报")
        if a.note and a.status != "passed":
            extra.append(a.note)
        lines.append(f"{a.code}\t{a.name}\t{a.label(lang)}\t{_when(a.last_arrival)}\t{'；'.join(extra) if not en else '; '.join(extra)}".rstrip())
    return "\n".join(lines) + "\n"


def status_csv(rep: StatusReport, lang: str = "zh") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["code", "name", "group", "status", "status_label", "versions", "last_arrival", "counted_version",
                "counted_sha256", "pinned", "late", "errors", "warnings", "note"])
    for a in rep.agencies:
        w.writerow([neutralise(a.code), neutralise(a.name), neutralise(a.group), a.status, a.label(lang), a.versions,
                    a.last_arrival.isoformat() if a.last_arrival else "", a.counted_id or "", a.counted_sha256,
                    "yes" if a.pinned else "no", "yes" if a.late else "no", a.errors, a.warnings, neutralise(a.note)])
    return "\ufeff" + buf.getvalue()


def status_json(rep: StatusReport, lang: str = "zh") -> str:
    return json.dumps(rep.to_json(lang), ensure_ascii=False, indent=2) + "\n"


def history_text(agency: str, versions: Sequence[Version], lang: str = "zh") -> str:
    en = lang == "en"
    verdict = {"valid": ("通过", "valid"), "invalid": ("有错误", "invalid"), "rejected": ("拒收", "rejected")}
    lines = [f"{agency}: {len(versions)} version(s)" if en else f"{agency}：{len(versions)} 个版本"]
    for v in versions:
        flags = []
        if v.counted:
            flags.append("counted" if en else "采用")
        if v.pinned:
            flags.append("pinned" if en else "指定")
        word = verdict[v.status][1 if en else 0]
        if v.status == "invalid":
            word += f" ({v.errors} error(s))" if en else f"（{v.errors} 个错误）"
        if v.status == "rejected":
            word += f": {v.reason}" if en else f"：{v.reason}"
        lines.append(f"#{v.id}  {_when(v.arrived_at)}  {v.sha256[:12]}  {word}  {v.file_name}"
                     + (f"  [{', '.join(flags)}]" if flags else "") + (f"  {v.sender}" if v.sender else ""))
        if v.compared_with is not None:
            if not v.changes:
                lines.append(f"    same values as #{v.compared_with}" if en else f"    与 #{v.compared_with} 相比数值无变化")
            else:
                lines.append(f"    {len(v.changes)} value(s) changed since #{v.compared_with}:" if en
                             else f"    与 #{v.compared_with} 相比 {len(v.changes)} 个数值不同：")
                for ch in v.changes:
                    lines.append(f"      {ch.code}  {ch.label}: {_show(ch.before)} → {_show(ch.after)}")
    return "\n".join(lines) + "\n"


def history_json(agency: str, versions: Sequence[Version]) -> str:
    return json.dumps({"agency": agency, "versions": [v.to_json() for v in versions]}, ensure_ascii=False, indent=2, default=str) + "\n"


def _show(v: Any) -> str:
    return "（空）" if v is None else str(v)


__all__ = [
    "export",
    "history_json",
    "history_text",
    "status_csv",
    "status_json",
    "status_text",
    "summary",
    "write_atomic",
    "write_text_atomic",
]


def latest_versions(c: Any) -> dict[str, Any]:
    """Each agency's latest arrival (the highest version number), whatever its verdict."""
    latest: dict[str, Any] = {}
    for s in c.submissions:
        rid = int(s.result.file.split("/", 1)[0].lstrip("#") or 0)
        if s.code not in latest or rid > latest[s.code][0]:
            latest[s.code] = (rid, s)
    return {code: s for code, (_, s) in latest.items()}


def annotate(store: Store, out_dir: str | Path, collection: str | int | None = None, office: Any = None,
             lang: str = "zh", password: str | None = None) -> list[Any]:
    """退回 copies (and notices) for every agency whose latest version has problems.

    The stored bytes are read again by the same isolated reader, so the copy carries what the
    agency's cells held (text, formulas), not only the typed values kept in the store.
    """
    import tempfile

    from ..annotate import Office
    from ..annotate import annotate as write_annotated
    from ..api import check

    c = store.consolidation(collection)
    coll = store.collection(collection)
    form = store.form(coll)
    todo = [s for s in latest_versions(c).values()
            if s.result.status in ("invalid", "rejected") or any(not i.explained for i in s.result.warnings)]
    results = []
    with tempfile.TemporaryDirectory(prefix="toolkit-annotate-") as tmp:
        for i, s in enumerate(todo):
            name = Path(s.result.file).name or "return.xlsx"
            folder = Path(tmp, str(i))
            folder.mkdir()
            path = folder / name
            path.write_bytes(store.blob(s.result.sha256))
            [r] = check([path], forms=[form], check_period=False)
            r.file = name
            results.append(r)
        return write_annotated(results, out_dir, registry=None if not results else _registry_with(form),
                               office=office or Office(), password=password, lang=lang)


def _registry_with(form: Any) -> Any:
    from ..registry import Registry
    reg = Registry()
    reg.add(form)
    return reg


def remind(store: Store, output: str | Path, collection: str | int | None = None, office: Any = None,
           lang: str = "zh", roster: str | Path | None = None, csv_out: str | Path | None = None,
           message: str | None = None) -> list[Any]:
    """The 催报清单 of the collection: missing, rejected and erroneous agencies by their latest
    state; contacts come from ``roster`` (a roster file with 联系人/联系电话/电子邮箱 columns)."""
    from dataclasses import replace

    from ..remind import reminders, write_reminders, write_reminders_csv
    from ..roster import read_roster

    c = store.consolidation(collection)
    if roster is not None:
        contacts = {a.code: a for a in read_roster(roster)}
        c.roster = [replace(a, contact=contacts[a.code].contact, phone=contacts[a.code].phone, email=contacts[a.code].email)
                    if a.code in contacts else a for a in (c.roster or [])]
    deadline = getattr(office, "deadline", "") or ""
    contact = getattr(office, "contact", "") or ""
    rems = reminders(c, lang, deadline, contact, message)
    write_reminders(rems, output, lang, c.form.title, c.period)
    if csv_out:
        write_reminders_csv(rems, csv_out, lang)
    return rems
