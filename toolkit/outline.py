"""A readable outline of a form, for ``toolkit schema show``."""

from __future__ import annotations

from .schema import Column, Form


def _column_lines(col: Column, depth: int) -> list[str]:
    key = f"  [{col.key}]" if col.key else ""
    extra = ", ".join(f"{k} {col.raw[k]}" for k in ("unit", "type", "places", "computed") if k in col.raw)
    out = [f"{'  ' * depth}- {col.label}{key}{f'  ({extra})' if extra else ''}"]
    for c in col.children:
        out.extend(_column_lines(c, depth + 1))
    return out


def outline(form: Form) -> str:
    lines = [f"{form.title}  ({form.id} {form.version})",
             f"content hash {form.content_hash[:16]}…",
             f"{len(form.indicators)} indicators ({len(form.inputs)} input, {len(form.computed)} computed), "
             f"{len(form.rules)} rules ({len(form.instances)} checks once applied to every column/row)", ""]
    if form.header:
        lines.append("Header fields:")
        for f in form.header:
            extra = ", ".join(x for x in (f.spec.type, "required" if f.spec.required else "",
                                          f"pattern {f.spec.pattern}" if f.spec.pattern else "",
                                          f"prefilled from {f.prefill}" if f.prefill else "",
                                          "locked" if f.locked else "") if x)
            lines.append(f"  {f.code:<14} {f.label}  ({extra})")
        lines.append("")
    for t in form.tables:
        n = sum(1 for i in form.indicators.values() if i.table == t.id)
        lines.append(f"Table {t.id} [{t.kind}] on sheet 「{t.sheet}」 — {t.title or ''} ({n} indicators)")
        if t.kind == "matrix":
            lines.append("  columns:")
            for c in t.columns:
                lines.extend(_column_lines(c, 2))
        lines.append("  rows:")
        for r in t.rows:
            ind = "  " * r.level
            if r.heading:
                lines.append(f"    {'':<14} {ind}{r.label}")
            else:
                ind_code = r.code if t.kind == "list" else f"{r.code}.{t.leaves[0].key}"
                spec = form.indicators.get(ind_code) if ind_code is not None else None
                own_unit = r.raw.get("unit") if t.kind == "matrix" else (spec.spec.unit if spec is not None else "")
                unit = f" [{own_unit}]" if own_unit else ""
                row_comp = r.raw.get("computed") if t.kind == "matrix" else (spec.spec.computed if spec is not None else None)
                comp = f" = {row_comp}" if row_comp else ""
                lines.append(f"    {r.code:<14} {ind}{r.label}{unit}{comp}")
        lines.append("")
    if form.rules:
        lines.append("Rules:")
        for rule in form.rules:
            each = f" (each {rule.each} of {rule.table})" if rule.each else ""
            if rule.only:
                each += f" only {', '.join(rule.only)}"
            if rule.exclude:
                each += f" except {', '.join(rule.exclude)}"
            expr = f"if {rule.when} then {rule.expr}" if rule.when else rule.expr
            lines.append(f"  {rule.id} [{rule.severity}]{each}: {expr}")
    return "\n".join(lines)
