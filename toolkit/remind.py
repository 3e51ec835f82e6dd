"""催报: who still owes the office a usable return, how to reach them, and what to tell them.

From a consolidation (what arrived, checked, against the roster) this lists every agency that is
missing, whose file was rejected, or whose return has errors — with the contacts the roster
carries, the reason in one line, what to do, and optionally a ready-to-send message text. The
toolkit never sends anything itself: the list is printed, or pasted into the office's own mail
or SMS tool.
"""

from __future__ import annotations

import csv
import io
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

from .consolidation import Consolidation, Submission
from .files import atomic_path, neutralise, write_text_atomic
from .roster import Agency

# What is wrong, by the agency's best return (a valid one anywhere means nothing is owed).
STATUS = {
    "missing": ("未报送", "missing"),
    "rejected": ("文件被拒收", "file rejected"),
    "invalid": ("报表有错误", "return has errors"),
}
DEFAULT_MESSAGE = {
    "zh": "{单位名称}：您好！{原因}。{需要做的}{截止}如有疑问请联系{联系方式}。",
    "en": "{name}: {reason}. {action} {deadline_sentence}Questions: {office_contact}.",
}


@dataclass(frozen=True)
class Reminder:
    """One agency to chase: who, why, what to do, how to reach it, and the text to send."""
    agency: Agency
    status: str                  # key of STATUS
    reason: str                  # one line, in the chosen language
    action: str
    files: tuple[str, ...] = ()
    message: str = ""


def _first_problem(s: Submission, lang: str) -> str:
    errors = s.result.errors
    if not errors:
        return ""
    first = errors[0]
    where = f"{first.cell}：" if first.cell and lang == "zh" else (f"{first.cell}: " if first.cell else "")
    return where + first.message(lang)


def reminders(c: Consolidation, lang: str = "zh", deadline: str = "", office_contact: str = "",
              message: str | None = None) -> list[Reminder]:
    """Every agency of the roster that is missing, rejected or has errors, in roster order.

    ``message`` is a template for the text to send (``{单位名称}``/``{name}``, ``{情况}``/``{status}``,
    ``{原因}``/``{reason}``, ``{需要做的}``/``{action}``, ``{截止}``/``{deadline}``, ``{联系方式}``/
    ``{office_contact}``); None uses the built-in one.
    """
    if c.roster is None:
        return []
    by_code: dict[str, list[Submission]] = {}
    for s in c.submissions:
        by_code.setdefault(s.code, []).append(s)
    title = c.form.title
    out: list[Reminder] = []
    for agency in c.roster:
        subs = by_code.get(agency.code, [])
        if any(s.status in ("valid", "warnings") or (s.used and s.status == "invalid") for s in subs):
            continue
        files = tuple(Path(s.result.file).name for s in subs)
        invalid = [s for s in subs if s.status == "invalid"]
        if invalid:
            s = invalid[0]
            n = len(s.result.errors)
            status = "invalid"
            if lang == "en":
                reason = f"{n} error(s) in {Path(s.result.file).name}, e.g. {_first_problem(s, 'en')}"
                action = "Correct the return as the 退回 notes say and send it again."
            else:
                reason = f"{Path(s.result.file).name} 有 {n} 个错误，如 {_first_problem(s, 'zh')}"
                action = "请按退回说明改正后重新报送。"
        elif subs:
            s = subs[0]
            status = "rejected"
            if lang == "en":
                reason = f"{Path(s.result.file).name} could not be accepted: {s.result.reason('en')}"
                action = "Fill in the template the office sent, save it as .xlsx and send it again."
            else:
                reason = f"{Path(s.result.file).name} 无法接收：{s.result.reason('zh')}"
                action = "请使用下发的模板填写，保存为 .xlsx 后重新报送。"
        else:
            status = "missing"
            reason = "no return has arrived" if lang == "en" else "尚未收到贵单位的报表"
            action = f"Please send the {title}." if lang == "en" else f"请报送《{title}》。"
        text = _message(message, lang, agency, status, reason, action, deadline, office_contact)
        out.append(Reminder(agency=agency, status=status, reason=" ".join(reason.split()), action=action, files=files,
                            message=text))
    return out


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _message(template: str | None, lang: str, a: Agency, status: str, reason: str, action: str, deadline: str,
             office_contact: str) -> str:
    status_text = STATUS[status][1 if lang == "en" else 0]
    fields = {
        "单位名称": a.name, "name": a.name, "单位代码": a.code, "code": a.code, "联系人": a.contact, "contact": a.contact,
        "情况": status_text, "status": status_text, "原因": reason, "reason": reason, "需要做的": action, "action": action,
        "截止": f"请于 {deadline} 前完成。" if deadline else "", "deadline": deadline,
        "deadline_sentence": f"Deadline: {deadline}. " if deadline else "",
        "联系方式": office_contact or "本办", "office_contact": office_contact or "the office",
    }
    text = template if template is not None else DEFAULT_MESSAGE["en" if lang == "en" else "zh"]
    return text.format_map(_Lenient(fields))


def check_message_template(text: str, source: str) -> str:
    """A message template fit to use, or :class:`~toolkit.errors.InputProblem` naming ``source``."""
    from .errors import InputProblem
    try:
        for _, name, _, _ in string.Formatter().parse(text):
            if name is not None and (name == "" or name.isdigit()):
                raise ValueError("positional field")
        text.format_map(_Lenient({}))
    except (ValueError, IndexError, AttributeError) as e:
        raise InputProblem(f"{source}：催报内容模板写法有误（{e}）；用 {{单位名称}}、{{原因}} 这样的占位符",
                           f"{source}: the message template is malformed ({e}); use placeholders such as {{name}}, {{reason}}") from None
    return text


HEADINGS = {
    "zh": ("序号", "单位代码", "单位名称", "分组", "情况", "原因", "需要做的", "联系人", "联系电话", "电子邮箱", "催报内容"),
    "en": ("No.", "Code", "Agency", "Group", "Status", "Reason", "What to do", "Contact", "Phone", "E-mail", "Message"),
}
WIDTHS = (5, 9, 20, 10, 10, 40, 24, 8, 14, 20, 44)


def write_reminders(rems: Sequence[Reminder], path: str | os.PathLike[str], lang: str = "zh", title: str = "",
                    period: str = "") -> None:
    """The 催报清单 as a printable workbook: A4 landscape, fitted to the width, headings on every page."""
    heads = HEADINGS["en" if lang == "en" else "zh"]
    with atomic_path(path, suffix=".xlsx") as tmp:
        wb = xlsxwriter.Workbook(tmp, {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False})
        ws = wb.add_worksheet("催报清单" if lang != "en" else "Reminders")
        base = {"font_name": "宋体", "font_size": 10, "valign": "top", "text_wrap": True}
        title_fmt = wb.add_format({**base, "bold": True, "font_size": 14, "align": "center"})
        head = wb.add_format({**base, "bold": True, "border": 1, "bg_color": "#DCE6F1", "align": "center"})
        cell = wb.add_format({**base, "border": 1})
        status_fmt = {k: wb.add_format({**base, "border": 1, "bg_color": c}) for k, c in
                      (("missing", "#FFC7CE"), ("rejected", "#FFC7CE"), ("invalid", "#FFEB9C"))}
        for j, w in enumerate(WIDTHS):
            ws.set_column(j, j, w)
        heading = (f"{title} 催报清单" if lang != "en" else f"{title} reminders").strip()
        if period:
            heading += f"（{period}）" if lang != "en" else f" ({period})"
        ws.merge_range(0, 0, 0, len(heads) - 1, heading, title_fmt)
        ws.set_row(0, 24)
        counts = {k: sum(1 for r in rems if r.status == k) for k in STATUS}
        if lang == "en":
            line = f"{len(rems)} agencies to chase: {counts['missing']} missing, {counts['rejected']} rejected, {counts['invalid']} with errors."
        else:
            line = f"共 {len(rems)} 个单位需要催报：未报送 {counts['missing']}，文件被拒收 {counts['rejected']}，报表有错误 {counts['invalid']}。"
        ws.merge_range(1, 0, 1, len(heads) - 1, line, wb.add_format(base))
        for j, h in enumerate(heads):
            ws.write_string(3, j, h, head)
        for i, r in enumerate(rems):
            row = 4 + i
            a = r.agency
            values = (str(i + 1), a.code, a.name, a.group, STATUS[r.status][1 if lang == "en" else 0], r.reason, r.action,
                      a.contact, a.phone, a.email, r.message)
            for j, v in enumerate(values):
                if j == 0:
                    ws.write_number(row, j, i + 1, cell)
                else:
                    ws.write_string(row, j, neutralise(v), status_fmt[r.status] if j == 4 else cell)
            longest = max(_lines(r.reason, WIDTHS[5]), _lines(r.message, WIDTHS[10]), _lines(a.name, WIDTHS[2]))
            ws.set_row(row, 13.5 * longest + 2)
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(3)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        ws.set_footer("&C第 &P 页，共 &N 页" if lang != "en" else "&CPage &P of &N")
        ws.freeze_panes(4, 3)
        wb.close()


def _lines(text: str, width: int) -> int:
    from .layout import display_width
    return max(1, -(-int(display_width(text) + 1) // max(1, int(width * 1.1))))


def reminders_csv(rems: Sequence[Reminder], lang: str = "zh") -> str:
    """The same list as CSV (UTF-8 with BOM for Excel; formula-like text neutralised)."""
    heads = HEADINGS["en" if lang == "en" else "zh"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(heads)
    for i, r in enumerate(rems):
        a = r.agency
        w.writerow([str(i + 1)] + [neutralise(v) for v in (a.code, a.name, a.group, STATUS[r.status][1 if lang == "en" else 0],
                                                             r.reason, r.action, a.contact, a.phone, a.email, r.message)])
    return "\ufeff" + buf.getvalue()


def write_reminders_csv(rems: Sequence[Reminder], path: str | os.PathLike[str], lang: str = "zh") -> None:
    write_text_atomic(path, reminders_csv(rems, lang))
