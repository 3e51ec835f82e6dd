"""Problems found in a returned workbook, as data first; text, JSON and CSV are renderings of it.

Every kind of problem has a message template in Chinese (for the clerk) and English (for the
technical person), filled from the issue's parameters — the frictionless habit of errors as data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# kind → (Chinese template, English template). {label} is the indicator's label, {raw} what was found.
TEMPLATES: dict[str, tuple[str, str]] = {
    "required": ("「{label}」必须填写", "{label}: required, but blank"),
    "not_a_number": ("「{label}」应填数字，实际填的是“{raw}”；没有发生请留空", "{label}: expected a number, found {raw!r}; leave it blank if there is nothing to report"),
    "error_value": ("「{label}」是错误值 {raw}，请改为数字", "{label}: the cell holds the error value {raw}"),
    "date_in_number": ("「{label}」应填数字，实际是日期 {raw}", "{label}: expected a number, found the date {raw}"),
    "bool_in_number": ("「{label}」应填数字，实际是逻辑值 {raw}", "{label}: expected a number, found the logical value {raw}"),
    "not_integer": ("「{label}」应为整数，实际为 {raw}", "{label}: expected a whole number, found {raw}"),
    "too_many_places": ("「{label}」最多 {places} 位小数，实际为 {raw}", "{label}: at most {places} decimal places, found {raw}"),
    "below_min": ("「{label}」不能小于 {min}，实际为 {raw}", "{label}: must not be less than {min}, found {raw}"),
    "above_max": ("「{label}」不能大于 {max}，实际为 {raw}", "{label}: must not be greater than {max}, found {raw}"),
    "absurd": ("「{label}」数值 {raw} 大得不合常理，请核实", "{label}: the value {raw} is implausibly large"),
    "not_finite": ("「{label}」不是有效数字（{raw}）", "{label}: not a finite number ({raw})"),
    "normalised": ("「{label}」填写的“{raw}”已按 {value} 读取（{how}），请核实", "{label}: {raw!r} was read as {value} ({how_en})"),
    "formula_cached": ("「{label}」填的是公式 {formula}，已取其计算结果 {value}；请直接填写数字", "{label}: holds the formula {formula}; its cached result {value} was used"),
    "formula_no_value": ("「{label}」填的是公式 {formula}，但没有计算结果，请直接填写数字", "{label}: holds the formula {formula} with no cached result"),
    "formula_external": ("「{label}」的公式引用了其他文件或外部数据（{formula}），请直接填写数字", "{label}: the formula refers to another file or external data ({formula})"),
    "computed_mismatch": ("「{label}」是自动计算的格子，表中显示 {raw}，按各项计算应为 {value}（公式可能被改动）", "{label}: computed cell shows {raw}, but the items add up to {value} (the formula may have been altered)"),
    "prefill_altered": ("「{label}」是预先填好的（{value}），已被改为“{raw}”；请使用下发的模板", "{label}: prefilled as {value!r} but changed to {raw!r}"),
    "bad_date": ("「{label}」应填日期，实际为“{raw}”", "{label}: expected a date, found {raw!r}"),
    "bad_choice": ("「{label}」只能从下拉列表中选择，实际为“{raw}”", "{label}: {raw!r} is not one of the allowed choices"),
    "bad_pattern": ("「{label}」格式不正确：“{raw}”{hint}", "{label}: {raw!r} does not have the required form ({pattern})"),
    "dash_blank": ("「{label}」填的是“{raw}”，已按“无此项”留空读取，请核实", "{label}: {raw!r} was read as blank (no such item)"),
    "too_long": ("「{label}」内容太长（{length} 字，最多 {max_length} 字）", "{label}: text too long ({length} characters, at most {max_length})"),
    "protection_removed": ("工作表「{sheet}」的保护已被取消（数值仍已读取）", "sheet {sheet}: protection was removed (values were still read)"),
    "structure_unlocked": ("工作簿结构保护未保留（用 LibreOffice 或 WPS 保存时常见，无需处理；数值已正常读取）",
                           "the workbook structure protection was not kept (usual after a LibreOffice or WPS save; values were read)"),
    "macros": ("文件含有宏（未运行）；请另存为 .xlsx 报送", "the workbook contains macros (not run); save it as .xlsx"),
    "external_links": ("文件含有指向其他文件的外部链接（未读取）", "the workbook has links to other files (not followed)"),
    "sheet_order": ("工作表顺序被调整过", "the sheets were reordered"),
    "identity_hidden": ("标识表的隐藏状态被改动过", "the identity sheet's visibility was changed"),
    "identity_sheet_missing": ("隐藏的标识表已被删除（仅凭文档属性识别了模板）", "the hidden identity sheet was removed (the template was recognised from the document properties only)"),
    "rule": ("{message}", "{message_en}"),
    "lower_invalid": ("该单位的报表有错误，{office}按 --include-invalid 将其计入了下级汇总", "the agency's return had errors; {office} counted it in its summary with --include-invalid"),
}


@dataclass
class Issue:
    """One problem at one place. ``cell`` is what a clerk types into Excel's Name Box: 统计表!C12."""
    kind: str
    severity: str                       # "error" | "warning"
    params: dict[str, Any] = field(default_factory=dict)
    code: str | None = None
    cell: str | None = None
    rule: str | None = None

    def message(self, lang: str = "zh") -> str:
        zh, en = TEMPLATES[self.kind]
        return (en if lang == "en" else zh).format_map(_Defaulting(self.params))

    @property
    def explanation(self) -> str:
        """The agency's 审核说明 for a failed warning ("" when none was given or none may be)."""
        return str(self.params.get("explanation") or "")

    @property
    def explained(self) -> bool:
        return self.severity == "warning" and bool(self.explanation)

    def to_json(self, lang: str = "zh") -> dict[str, Any]:
        out = {"severity": self.severity, "kind": self.kind, "rule": self.rule, "code": self.code,
               "cell": self.cell, "message": self.message(lang)}
        if self.explained:
            out["explanation"] = self.explanation
        return out


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return ""
