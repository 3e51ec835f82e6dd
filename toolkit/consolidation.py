"""Many agencies' checked workbooks → one consolidation: totals, per-agency detail, who is missing.

Reading is :mod:`toolkit.runner`'s job and laying out the summary is :mod:`toolkit.summary`'s;
this module decides what counts: which workbook stands for an agency when two arrived, which are
left out of the totals, and what the roster expected.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .checks import RuleResult, run_rules, with_computed
from .errors import MergeRefused, NoWorkbooks
from .registry import Registry
from .roster import Agency
from .schema import Form
from .validate import Result

# What happened to each agency / workbook, as the office says it.
SUBMISSION_STATUS = {
    "valid": "通过",
    "warnings": "通过（有提示）",
    "invalid": "有错误",
    "rejected": "拒收",
    "missing": "未报送",
    "duplicate": "重复报送（未采用）",
    "unknown": "不在名单",
}


class MergeError(MergeRefused):
    """A merge that must not go ahead (e.g. mixed form versions); one line saying why."""


@dataclass
class Submission:
    """One workbook that arrived, and what the merge made of it."""
    result: Result
    code: str
    name: str
    group: str = ""
    status: str = "valid"        # key of SUBMISSION_STATUS
    used: bool = False           # counted in the totals
    note: str = ""
    fill_date: dt.date | None = None
    parent: str = ""             # the county (上级单位) it belongs to: the roster's, else the office whose summary carried it

    @property
    def label(self) -> str:
        return SUBMISSION_STATUS[self.status]


@dataclass
class Consolidation:
    form: Form
    submissions: list[Submission]
    totals: dict[str, float | None]
    missing: list[Agency] = field(default_factory=list)
    roster: list[Agency] | None = None
    rule_results: list[RuleResult] = field(default_factory=list)
    rejected_unrecognised: list[Result] = field(default_factory=list)
    period: str = ""              # the period collected (returns of another period are rejected)
    previous_totals: dict[str, float | None] | None = None   # last year's totals (merge with previous=)
    previous_absent: list[tuple[str, str]] = field(default_factory=list)  # (code, name) with no figures last year
    office: str = ""              # who made this summary (merge --office), written into its identity

    @property
    def parents(self) -> list[str]:
        """The 上级单位 the roster names or the lower summaries came from, in order of appearance."""
        seen: dict[str, None] = {}
        for a in self.roster or ():
            if a.parent:
                seen.setdefault(a.parent)
        for s in self.submissions:
            if s.parent:
                seen.setdefault(s.parent)
        return list(seen)

    def counts_by_parent(self) -> dict[str, dict[str, int]]:
        """Per 上级单位: how many agencies the roster lists, how many are counted, how many are missing."""
        out: dict[str, dict[str, int]] = {p: {"expected": 0, "used": 0, "missing": 0} for p in self.parents}
        for a in self.roster or ():
            if a.parent:
                out[a.parent]["expected"] += 1
        for s in self.used:
            if s.parent:
                out[s.parent]["used"] += 1
        for a in self.missing:
            if a.parent:
                out[a.parent]["missing"] += 1
        return out

    @property
    def used(self) -> list[Submission]:
        return [s for s in self.submissions if s.used]

    @property
    def failed_rules(self) -> list[RuleResult]:
        return [r for r in self.rule_results if r.failed]

    @property
    def groups(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.submissions:
            if s.group:
                seen.setdefault(s.group)
        return list(seen)

    def counts(self) -> dict[str, int]:
        c = Counter(s.status for s in self.submissions)
        c["missing"] = len(self.missing)
        return {k: c.get(k, 0) for k in SUBMISSION_STATUS}


def read_all(paths: Sequence[str], registry: Registry, schema_dirs: Sequence[str] = (), jobs: int | None = None,
             progress: Callable[[Result], None] | None = None) -> list[Result]:
    """Every workbook under ``paths`` checked, and every path not read as a rejected entry."""
    from .discover import check_found, find_inputs

    with find_inputs(list(paths)) as found:
        return check_found(found, registry, schema_dirs=schema_dirs, jobs=jobs, progress=progress)


def choose_form(results: Sequence[Result], registry: Registry) -> Form:
    """The form edition the merge adds up: the form most returns are of.

    A file of another form, or of a form this toolkit does not know, is not a reason to refuse the
    merge: it is a rejected return, listed by name (see :func:`consolidate`). Only a real mixture
    of editions (versions) of the merged form is refused, naming the files of the minority edition.
    """
    readable = [r for r in results if r.identity is not None and r.identity.schema_id and r.status != "rejected"]
    if not readable:
        readable = [r for r in results if r.identity is not None and r.identity.schema_id]
    if not readable:
        raise MergeError("没有找到由本工具生成的报表（每个文件在识别表单之前就被拒收了）",
                         "no workbook generated by toolkit was found (every file was rejected before its form could be recognised)")
    forms = Counter(r.identity.schema_id for r in readable if r.identity is not None)
    form_id = sorted(forms.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    # every file naming this form counts, even one rejected because its version is unknown here
    same = [r for r in results if r.identity is not None and r.identity.schema_id == form_id]
    editions = Counter(r.identity.schema_version for r in same if r.identity is not None)
    if len(editions) > 1:
        (version, _), *minority = sorted(editions.items(), key=lambda kv: (-kv[1], kv[0]))
        others = {v for v, _ in minority}
        names = [Path(r.file).name for r in same if r.identity is not None and r.identity.schema_version in others]
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        shown_zh = "、".join(names[:10]) + (f" 等 {len(names)} 个" if len(names) > 10 else "")
        listing = "; ".join(f"{form_id} {v}: {n} file(s)" for v, n in sorted(editions.items(), key=lambda kv: -kv[1]))
        listing_zh = "；".join(f"{form_id} {v}：{n} 份" for v, n in sorted(editions.items(), key=lambda kv: -kv[1]))
        raise MergeError(f"这些报表属于 {form_id} 的不同版本（{listing_zh}）；其他版本的文件：{shown_zh}。请每次只汇总同一版本",
                         f"the workbooks are of different versions of {form_id} — {listing}. The files of the other "
                         f"version(s): {shown}. Merge one edition at a time.")
    from .package import Rejected
    try:
        return registry.get(form_id, version if len(editions) > 1 else next(iter(editions)))
    except Rejected as e:
        raise MergeError(e.zh, e.en) from None


def _foreign(form: Form, r: Result) -> str:
    """Why a workbook of another form cannot count in this merge ('' when it is of this form)."""
    ident = r.identity
    if r.status == "rejected" or ident is None or not ident.schema_id or ident.schema_id == form.id:
        return ""
    return f"这是另一种表单（{ident.schema_id} {ident.schema_version}）的报表，不属于本次汇总的 {form.id} {form.version}"


def _fill_date(form: Form, r: Result) -> dt.date | None:
    for f in form.header:
        if f.spec.type == "date":
            v = r.values.get(f.code)
            if isinstance(v, str):
                try:
                    return dt.date.fromisoformat(v)
                except ValueError:
                    return None
    return None


def _agency_name_value(form: Form, r: Result) -> str:
    for f in form.header:
        if f.prefill == "agency.name":
            v = r.values.get(f.code)
            if v:
                return str(v)
    return ""


def consolidate(results: Sequence[Result], form: Form, roster: Sequence[Agency] | None = None,
                include_invalid: bool = False, pinned: Collection[str] = (), prefer_valid: bool = False) -> Consolidation:
    """Decide what counts and add it up. The same inputs always give the same totals.

    ``pinned`` (files) and ``prefer_valid`` are for a collection that keeps every version: the
    office may pin the version that counts, and a later version with errors does not displace an
    earlier valid one.
    """
    by_code = {a.code: a for a in roster} if roster is not None else {}
    subs: list[Submission] = []
    unrecognised: list[Result] = []
    for r in _expanded(sorted(results, key=lambda r: r.file)):
        foreign = _foreign(form, r)
        if foreign:     # a return of another form: rejected here, by name, whatever it holds
            ident = r.identity
            assert ident is not None    # _foreign names a form only from an identity
            r = dataclasses.replace(r, status="rejected", reason_zh=foreign, values={}, issues=[],
                                    reason_en=f"a return of another form ({ident.schema_id} {ident.schema_version}), "
                                              f"not of {form.id} {form.version} merged here")
            unrecognised.append(r)
        ident = r.identity
        if ident is None or not ident.schema_id:
            unrecognised.append(r)
        code = ident.agency_code if ident and ident.agency_code else ""
        name = ident.agency_name if ident and ident.agency_name else _agency_name_value(form, r)
        if r.kind == "summary":      # a summary that could not be read, or counts no one: one rejected line
            code, name = "", f"{name or '?'}（汇总表）"
            if r.status != "rejected":
                r = dataclasses.replace(r, status="rejected", reason_zh="这份汇总表没有计入汇总的单位，没有可汇总的数字",
                                        reason_en="the summary counts no agency; there is nothing in it to add up")
        if not code:
            code = f"?{name}" if name else f"?{Path(r.file).name}"
        agency = by_code.get(code)
        group = agency.group if agency else (ident.agency_group if ident else "")
        parent = agency.parent if agency and agency.parent else _carried_by(r)
        sub = Submission(result=r, code=code, name=agency.name if agency else name, group=group, parent=parent)
        sub.fill_date = _fill_date(form, r) if r.status != "rejected" else None
        if r.status == "rejected":
            sub.status, sub.note = "rejected", r.reason("zh")
        elif r.status == "invalid":
            sub.status = "invalid"
            sub.used = include_invalid
            sub.note = "已按 --include-invalid 计入汇总" if include_invalid else f"{len(r.errors)} 个错误，未计入汇总"
        else:
            sub.status = "warnings" if r.warnings else "valid"
            sub.used = True
        if roster is not None and agency is None:
            sub.note = (sub.note + "；" if sub.note else "") + "该单位不在名单中，未计入汇总"
            if sub.status != "rejected":
                sub.status, sub.used = "unknown", False
        subs.append(sub)
    _resolve_duplicates(subs, pinned, prefer_valid)
    arrived = {s.code for s in subs}
    missing = [a for a in roster if a.code not in arrived] if roster is not None else []
    totals = _totals(form, [s.result for s in subs if s.used])
    rule_results = run_rules(form, totals, recompute=False)
    order = {a.code: i for i, a in enumerate(roster)} if roster is not None else {}
    subs.sort(key=lambda s: (order.get(s.code, len(order)), s.code, s.result.file))
    return Consolidation(form=form, submissions=subs, totals=totals, missing=missing, roster=list(roster) if roster is not None else None,
                         rule_results=rule_results, rejected_unrecognised=unrecognised)


def _carried_by(r: Result) -> str:
    """Whose summary carried an agency's figures: its office, or (made without --office) its file name."""
    if r.kind != "part":
        return ""
    return r.identity.office if r.identity and r.identity.office else Path(r.file).stem


def _expanded(results: Sequence[Result]) -> list[Result]:
    """Every return, and in place of each readable summary the agencies it counts (its parts)."""
    out: list[Result] = []
    for r in results:
        if r.kind == "summary" and r.status != "rejected" and r.parts:
            out.extend(r.parts)
        else:
            out.append(r)
    return out


def _resolve_duplicates(subs: list[Submission], pinned: Collection[str] = (), prefer_valid: bool = False) -> None:
    """Two workbooks from one agency: the later by 填报日期, then by file time, is used (a pinned one always)."""
    by_code: dict[str, list[Submission]] = {}
    for s in subs:
        if s.status in ("valid", "warnings", "invalid") or (s.status == "rejected" and not s.code.startswith("?")):
            by_code.setdefault(s.code, []).append(s)
    for _code, group in by_code.items():
        if len(group) < 2:
            continue
        usable = ([s for s in group if s.result.file in pinned]
                  or (prefer_valid and [s for s in group if s.status in ("valid", "warnings")])
                  or [s for s in group if s.status != "rejected"] or group)
        winner = max(usable, key=lambda s: (s.fill_date or dt.date.min, s.result.mtime, s.result.file))
        for s in group:
            if s is winner or s.status == "rejected":
                if s is winner:
                    others = [_where(o) for o in group if o is not s]
                    s.note = (s.note + "；" if s.note else "") + f"同一单位另有 {len(others)} 份：{'、'.join(others)}；本份较新，已采用"
                continue
            s.status, s.used = "duplicate", False
            s.note = f"同一单位另有较新的一份（{_where(winner)}），本份未采用"


def _where(s: Submission) -> str:
    """The file a submission came in, and for an agency a summary carried, whose summary it was."""
    name = Path(s.result.file).name
    ident = s.result.identity
    if s.result.kind == "part":
        return f"{name}，{ident.office if ident and ident.office else '下级'}汇总表中的一行"
    return name


def _totals(form: Form, results: Sequence[Result]) -> dict[str, float | None]:
    """Sum every numeric input over the used workbooks, then recompute computed indicators."""
    totals = {ind.code: 0.0 for ind in form.inputs if ind.spec.numeric}
    # one pass over each workbook's own values (the same additions in the same order as summing
    # code by code, but a workbook with few values — a collection's status — costs little)
    for r in results:
        for code, v in r.values.items():
            if code in totals and isinstance(v, (int, float)) and not isinstance(v, bool):
                totals[code] += v
    sums = {code: round(total, 10) for code, total in totals.items()}
    full = with_computed(form, sums)
    # a guarded computed value (a ratio over nothing) stays None: blank, not 0
    return {c: (v if v is not None or c in form.guarded else 0.0) for c, v in full.items()}


def merge(paths: Sequence[str], registry: Registry | None = None, roster: Sequence[Agency] | None = None,
          include_invalid: bool = False, schema_dirs: Sequence[str] = (), jobs: int | None = None,
          progress: Callable[[Result], None] | None = None) -> Consolidation:
    """Read every workbook under ``paths`` and consolidate them (the library call behind ``toolkit merge``)."""
    registry = registry or Registry(schema_dirs)
    results = read_all(paths, registry, schema_dirs, jobs, progress)
    if not results:
        raise NoWorkbooks(paths)
    form = choose_form(results, registry)
    return consolidate(results, form, roster, include_invalid)
