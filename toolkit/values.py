"""Typed values from what a cell holds: numbers, dates, choices and text, as a clerk types them.

A cell can hold ``１２``, `` 12 ``, ``1,200``, a number stored as text, ``无``, ``12件``, a date where a
number belongs, an error value. Each is either read as the number it means (with a warning saying
how it was read) or is an error at its cell — never a silent 0. Kept apart from the reader
(:mod:`toolkit.validate`), which decides which cells to read and in what order.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from . import patterns
from . import rules as rx
from .issues import Issue
from .schema import ValueSpec

ABSURD = 1e12
# What statistical tables print for "no such item" (after NFKC: a full-width － is already "-").
DASHES = frozenset({"-", "--", "—", "——", "–", "―", "――", "‐", "‑", "─"})
_ERROR_VALUE = re.compile(r"^#(DIV/0!|N/A|VALUE!|REF!|NAME\?|NUM!|NULL!|GETTING_DATA|SPILL!|CALC!|FIELD!|BLOCKED!|UNKNOWN!|CONNECT!|BUSY!|PYTHON!)$", re.I)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


class _SkipType:
    pass


Skip = _SkipType()   # a cell whose value must not be read (its problem is already reported)


@dataclass(frozen=True)
class ErrorValue:
    text: str


def show(v: Any) -> str:
    if isinstance(v, float):
        return rx.format_number(v)
    return str(v)


def parse_value(value: Any, spec: ValueSpec, label: str, code: str, cell: str, issues: list[Issue]) -> Any:
    """The typed value of one cell, appending any problem to ``issues``; None for blank or unusable."""
    def problem(kind: str, severity: str = "error", **params: Any) -> None:
        issues.append(Issue(kind, severity, {"label": label, **params}, code=code, cell=cell))

    if value is Skip:
        return None
    if isinstance(value, ErrorValue):
        problem("error_value", raw=value.text)
        return None
    if isinstance(value, str) and _ERROR_VALUE.match(value.strip()):
        problem("error_value", raw=value.strip())
        return None
    if value is None or (isinstance(value, str) and not value.strip(" \t\r\n\u3000\u00a0")):
        if spec.required:
            problem("required")
        return None
    if spec.type in ("integer", "decimal"):
        return _parse_number(value, spec, problem)
    if spec.type == "date":
        return _parse_date(value, problem)
    text = show(value) if not isinstance(value, (dt.date, dt.datetime)) else value.isoformat()[:10]
    text = text.strip()
    if spec.type == "choice" and text not in spec.choices:
        problem("bad_choice", raw=text)
        return None
    if spec.max_length and len(text) > spec.max_length:
        problem("too_long", length=len(text), max_length=spec.max_length)
    if spec.pattern and not patterns.compile_pattern(spec.pattern).fullmatch(text):
        problem("bad_pattern", raw=text[:40], hint=f"；{spec.pattern_message}" if spec.pattern_message else "", pattern=spec.pattern)
    return text


def _parse_number(value: Any, spec: ValueSpec, problem: Any) -> float | None:
    if isinstance(value, bool):
        problem("bool_in_number", raw="TRUE" if value else "FALSE")
        return None
    if isinstance(value, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        problem("date_in_number", raw=str(value)[:19])
        return None
    if isinstance(value, str):
        raw = value
        hows: list[tuple[str, str]] = []
        s = raw.strip(" \t\r\n\u3000\u00a0")
        if s != raw:
            hows.append(("去掉首尾空格", "surrounding spaces removed"))
        n = unicodedata.normalize("NFKC", s).replace("\u2212", "-")
        if n in DASHES and spec.dash == "blank":
            # the statistical "no such item", where the form says so; otherwise an error below
            problem("dash_blank", "warning", raw=s)
            if spec.required:
                problem("required")
            return None
        if n != s:
            hows.append(("全角字符转为半角", "full-width characters converted"))
        if _THOUSANDS.fullmatch(n):
            n = n.replace(",", "")
            hows.append(("去掉千分位逗号", "thousands separators removed"))
        if not _NUMBER.fullmatch(n):
            problem("not_a_number", raw=raw.strip()[:40])
            return None
        number = float(n)
        hows.append(("文本型数字转为数值", "number stored as text"))
        how = "、".join(h for h, _ in hows)
        how_en = ", ".join(e for _, e in hows)
        if math.isfinite(number):
            problem("normalised", "warning", raw=raw[:40], value=rx.format_number(number), how=how, how_en=how_en)
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        problem("not_a_number", raw=str(value)[:40])
        return None
    if not math.isfinite(number):
        problem("not_finite", raw=str(value)[:40])
        return None
    shown = rx.format_number(number)
    if abs(number) >= ABSURD:
        problem("absurd", raw=shown)
        return None
    if spec.type == "integer" and not float(number).is_integer():
        if abs(number - round(number)) > 1e-9 * max(1.0, abs(number)):
            problem("not_integer", raw=shown)
            return None
        number = float(round(number))   # 11.000000000000002, a formula's binary rounding
    if spec.type == "decimal" and round(number, spec.places) != number and abs(round(number, spec.places) - number) > 1e-9:
        problem("too_many_places", raw=shown, places=spec.places)
    lower = spec.lower
    if lower is not None and number < lower:
        problem("below_min", raw=shown, min=rx.format_number(lower))
        return None
    if spec.max is not None and number > spec.max:
        problem("above_max", raw=shown, max=rx.format_number(spec.max))
        return None
    return number


_DATE_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def _parse_date(value: Any, problem: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 < value < 2958466:
        return (dt.datetime(1899, 12, 30) + dt.timedelta(days=float(value))).date()
    text = unicodedata.normalize("NFKC", str(value)).strip()
    m = _DATE_TEXT.fullmatch(text)
    if m:
        try:
            d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            d = None
        if d is not None:
            problem("normalised", "warning", raw=str(value)[:40], value=d.isoformat(), how="文本型日期", how_en="date stored as text")
            return d
    problem("bad_date", raw=str(value)[:40])
    return None


def json_value(v: Any, spec: ValueSpec) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and spec.type == "integer":
        return int(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()[:10]
    return v
