"""Plausible filled-in figures for any form: sample returns, tests and benchmarks.

The generator knows nothing about particular forms. It draws random counts for the inputs, then
repairs the rules: each rule side is linear in the indicators for every form we ship (sums and
differences), so a failing equality is fixed by moving one input by the difference, and a failing
inequality by moving one input just far enough. What cannot be repaired is left as it is.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from . import rules as rx
from .checks import evaluate_instance, with_computed
from .schema import Form


def _coefficients(form: Form, node: rx.Node, codes: list[str]) -> dict[str, float]:
    """How much ``node`` moves when each input moves by 1 (computed indicators followed through)."""
    base = rx.evaluate(node, with_computed(form, {}), form.expand)
    out = {}
    for c in codes:
        k = rx.evaluate(node, with_computed(form, {c: 1.0}), form.expand) - base
        if k:
            out[c] = k
    return out


def _inputs_behind(form: Form, codes: tuple[str, ...] | list[str]) -> list[str]:
    """The input indicators a list of codes depends on, computed ones expanded."""
    out: list[str] = []
    for c in codes:
        if c in form.computed:
            out.extend(x for x in _inputs_behind(form, rx.codes(form.computed[c], form.expand)) if x not in out)
        elif c not in out:
            out.append(c)
    return out


def random_figures(form: Form, seed: int | str = 0, scale: int = 50, blank_share: float = 0.15) -> dict[str, float | None]:
    """Inputs for every numeric indicator, consistent with the form's rules where repair allows."""
    rng = random.Random(seed)
    values: dict[str, float | None] = {}
    for ind in form.inputs:
        if not ind.spec.numeric:
            continue
        if rng.random() < blank_share:
            values[ind.code] = None
            continue
        hi = scale if ind.spec.max is None else min(scale, ind.spec.max)
        v: float = rng.randint(0, int(hi))
        if ind.spec.type == "decimal":
            v = round(v + rng.random(), ind.spec.places)
        values[ind.code] = float(v)
    return repair(form, values, rng)


def repair(form: Form, values: dict[str, float | None], rng: random.Random | None = None, rounds: int = 6) -> dict[str, float | None]:
    """Move inputs until every rule holds (as far as a linear repair can)."""
    rng = rng or random.Random(0)
    for _ in range(rounds):
        full = with_computed(form, values)
        broken = 0
        for inst in form.instances:
            res = evaluate_instance(form, inst, full)
            if not res.failed or res.left is None or res.right is None:
                continue
            broken += 1
            diff_node = rx.BinOp("-", inst.tree.left, inst.tree.right)
            candidates = list(reversed(_inputs_behind(form, inst.reads)))
            coeffs = _coefficients(form, diff_node, candidates)
            gap = res.left - res.right  # want: ==: 0; <=: <= 0; >=: >= 0
            op = inst.tree.op
            target = {"==": 0.0, "<=": min(gap, 0.0), "<": -1.0, ">=": max(gap, 0.0), ">": 1.0, "!=": gap + 1}[op]
            need = target - gap
            for c in candidates:
                k = coeffs.get(c)
                if not k:
                    continue
                cur = values.get(c) or 0.0
                new = cur + need / k
                if (new >= 0 and float(new).is_integer()) or (new >= 0 and form.indicators[c].spec.type == "decimal"):
                    values[c] = round(new, form.indicators[c].spec.places) if form.indicators[c].spec.type == "decimal" else new
                    full = with_computed(form, values)
                    break
        if not broken:
            break
    return values


def header_values(form: Form, agency_name: str = "", seed: int | str = 0) -> dict[str, Any]:
    """Plausible header answers (填报人, 联系电话, 填报日期) for the fields an agency types."""
    import datetime as dt
    rng = random.Random(seed)
    out: dict[str, Any] = {}
    people = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]
    for f in form.header:
        if f.prefill:
            continue
        if f.spec.type == "date":
            out[f.code] = dt.date(int(form.period_default or 2023) + 1, 1, rng.randint(5, 28))
        elif f.spec.type == "choice":
            out[f.code] = f.spec.choices[0]
        elif f.spec.type == "text":
            if "电话" in f.label:
                out[f.code] = f"0574-6{rng.randint(1000000, 9999999)}"
            else:
                out[f.code] = rng.choice(people)
        elif f.spec.numeric:
            out[f.code] = rng.randint(0, 9)
    return out


def as_inputs(form: Form, values: Mapping[str, Any]) -> dict[str, Any]:
    """Only what an agency types: computed indicators dropped (the template computes them)."""
    return {c: v for c, v in values.items() if c not in form.computed}
