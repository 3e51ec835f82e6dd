"""Running a form's rules over a set of values — the Python side of the live checks.

Used by the reader (one workbook), by the merger (the consolidated totals) and by anyone holding
figures in a dict (``run_rules(form, {"B4.ld_keep": 2, …})``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import rules as rx
from .messages import render_message
from .schema import Form, RuleInstance


@dataclass(frozen=True)
class RuleResult:
    instance: RuleInstance
    status: str               # "pass" | "fail" | "n/a"
    left: float | None = None
    right: float | None = None
    when_left: float | None = None    # the condition's sides, for an "if … then …" rule
    when_right: float | None = None

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def message(self, lang: str = "zh") -> str:
        if self.left is None or self.right is None:
            return ""
        return render_message(self.instance, self.left, self.right, lang, self.when_left, self.when_right)


def with_computed(form: Form, values: Mapping[str, float | None]) -> dict[str, float | None]:
    """The values with every computed indicator (re)calculated from the inputs."""
    inputs = {c: v for c, v in values.items() if c not in form.computed}
    return {**inputs, **form.compute(inputs)}


def evaluate_instance(form: Form, inst: RuleInstance, values: Mapping[str, float | None]) -> RuleResult:
    """One rule over the values: "n/a" when a blank it skips, an undefined computed value or a
    zero divisor leaves it undecided, or when the condition of an "if … then …" rule does not hold."""
    skipped_when_blank, guarded, when, left_of, right_of = _prepared(form, inst)
    get = values.get
    if (skipped_when_blank and None in map(get, skipped_when_blank)) or (guarded and None in map(get, guarded)):
        return RuleResult(inst, "n/a")
    when_left = when_right = None
    try:
        if when is not None:
            when_left, when_right = when[0](values), when[1](values)
            if not rx.holds(when[2], when_left, when_right):
                return RuleResult(inst, "n/a", when_left=when_left, when_right=when_right)
        left = left_of(values)
        right = right_of(values)
    except rx.NotApplicable:
        return RuleResult(inst, "n/a")
    ok = rx.holds(inst.tree.op, left, right, inst.rule.tolerance)
    return RuleResult(inst, "pass" if ok else "fail", left, right, when_left, when_right)


def _prepared(form: Form, inst: RuleInstance) -> tuple[tuple[str, ...], tuple[str, ...], tuple[rx.Compiled, rx.Compiled, str] | None,
                                                       rx.Compiled, rx.Compiled]:
    """What evaluating an instance needs, worked out once per form: the input codes whose blank
    makes it "n/a" (``blank: skip``), the guarded computed codes it reads, and its compiled sides."""
    key = ("prepared", id(inst))
    hit = form._memo.get(key)
    if hit is None or hit[0] is not inst:
        skip = tuple(c for c in inst.reads if c not in form.computed) if inst.rule.blank == "skip" else ()
        guarded = tuple(c for c in inst.reads if c in form.guarded)
        when = (form.compiled(inst.when.left), form.compiled(inst.when.right), inst.when.op) if inst.when is not None else None
        hit = form._memo[key] = (inst, (skip, guarded, when, form.compiled(inst.tree.left), form.compiled(inst.tree.right)))
    return hit[1]


def run_rules(form: Form, values: Mapping[str, float | None], recompute: bool = True) -> list[RuleResult]:
    """Every rule instance of the form evaluated over ``values`` (computed ones recalculated first)."""
    vals = with_computed(form, values) if recompute else dict(values)
    return [evaluate_instance(form, inst, vals) for inst in form.instances]


def failures(form: Form, values: Mapping[str, float | None], recompute: bool = True) -> list[RuleResult]:
    return [r for r in run_rules(form, values, recompute) if r.failed]
