"""A rule's message with its numbers filled in: the words a failed check shows.

A failed rule shows the same words in three places: the live check of a template (an Excel
formula, :func:`toolkit.formulas.excel_message`), the Python check of a return
(:meth:`toolkit.checks.RuleResult.message`, also the cached result of that formula) and the
填表说明's list of rules. All three start from the rule's message template as this module splits
and fills it, so they cannot drift apart.
"""

from __future__ import annotations

import re

from . import rules as rx
from .schema import Rule, RuleInstance


def message_template(inst: RuleInstance, lang: str = "zh") -> str:
    """The message of a rule instance with {col}/{row} filled in; {left}/{right}/{diff} remain."""
    rule = inst.rule
    if lang == "en":
        text = rule.message_en or f"rule {rule.id} fails: {{left}} {inst.tree.op} {{right}} does not hold"
    else:
        text = rule.message
    label = inst.place_label or ""
    return text.replace("{col}", label).replace("{row}", label)


def general_message(rule: Rule) -> str:
    """A rule's message for every place it applies, without numbers (the 填表说明's list of rules)."""
    return rule.message.replace("{left}", "…").replace("{right}", "…").replace("{diff}", "…").replace("{col}", "各列").replace("{row}", "各行")


def _places(inst: RuleInstance, placeholder: str) -> int | None:
    """Decimal places a message shows a side with: the places of the indicators it reads."""
    left, right, when_left, when_right = inst.places
    if placeholder == "diff":
        return None if left is None and right is None else max(left or 0, right or 0)
    return {"left": left, "right": right, "when_left": when_left, "when_right": when_right}[placeholder]


def message_parts(inst: RuleInstance, lang: str = "zh") -> list[tuple[str, str | None, int | None]]:
    """The message as (literal text, placeholder after it or None, decimal places of that side):
    what both renderings — :func:`render_message` and :func:`toolkit.formulas.excel_message` — fill in."""
    text = message_template(inst, lang)
    out: list[tuple[str, str | None, int | None]] = []
    pos = 0
    for m in re.finditer(r"\{(left|right|diff|when_left|when_right)\}", text):
        out.append((text[pos:m.start()], m.group(1), _places(inst, m.group(1))))
        pos = m.end()
    out.append((text[pos:], None, None))
    return out


def render_message(inst: RuleInstance, left: float, right: float, lang: str = "zh",
                   when_left: float | None = None, when_right: float | None = None) -> str:
    """The message with both sides' numbers: the Python twin of :func:`toolkit.formulas.excel_message`."""
    sides = {"left": left, "right": right, "diff": left - right, "when_left": when_left, "when_right": when_right}
    out = []
    for literal, ph, places in message_parts(inst, lang):
        out.append(literal)
        if ph is not None:
            value = sides[ph]
            out.append("" if value is None else rx.format_places(value, places))
    return "".join(out)
