"""The names of the workbook's own sheets and the fixed words written on them.

The template writer, the reader's tamper check, the summary writer and the 退回 copy must spell
each of these exactly alike (a reader finds the 审核 sheet by its name, a live check shows ✓ and
the 审核提示 column counts it), so each is written down once, here. Where these sheets, headings
and marks sit is :mod:`toolkit.layout`'s business; this module only says what they are called.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------- sheet names

CHECKS_SHEET = "审核"            # every rule instance, its live result and 审核说明
INSTRUCTIONS_SHEET = "填表说明"
IDENTITY_SHEET = "_toolkit"      # very hidden: the template's identity (form, agency, template id)
LISTS_SHEET = "_lists"           # hidden: choice lists too long for an inline data validation
# A hidden sheet holding last year's value of every code a prev() rule reads, so the live check
# can refer to it; blank where last year's figure is not known (the check then shows "—").
PREV_SHEET = "_prev"
# The first sheet of a 退回 copy (toolkit annotate): the problems, with links to their cells.
RETURN_SHEET = "退回说明"

# ---------------------------------------------------------------------------- headings and marks

PREVIOUS_HEADING = "上年数"      # a list table's column of last year's figures
CHECK_HEADING = "审核提示"       # the column of live checks right of every table
PASS_MARK = "✓"                  # a rule that holds
NOT_APPLICABLE_MARK = "—"        # a rule that does not apply (blank inputs, a condition not met)

# ---------------------------------------------------------------------------- the 审核 sheet

CHECKS_COLUMNS = ("序号", "规则", "级别", "结果", "通过")
# The column where an agency may explain a failed warning, and the most it may write there.
EXPLANATION_HEADING = "审核说明（提示确属实际情况的，请在此说明原因）"
EXPLANATION_MAX = 500
