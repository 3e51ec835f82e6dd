"""Cell formats shared by the template and the summary workbook, so both look like the same form.

xlsxwriter formats belong to one workbook, so :class:`Formats` is made per workbook; the colours
and fonts are defined once here.
"""

from __future__ import annotations

from typing import Any

import xlsxwriter

from .schema import ValueSpec

FONT = "宋体"
INPUT_FILL = "#FFF8DC"
COMPUTED_FILL = "#EDEDED"
HEADING_FILL = "#DCE6F1"
ERROR_FILL = "#FFC7CE"
WARNING_FILL = "#FFEB9C"

class Formats:
    """The cell formats of one workbook (xlsxwriter formats belong to a workbook)."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.wb = wb
        base = {"font_name": FONT, "font_size": 11, "valign": "vcenter"}
        self.base = base
        border = {"border": 1, "border_color": "#808080"}
        self.title = wb.add_format({**base, "bold": True, "font_size": 16, "align": "center"})
        self.title_left = wb.add_format({**base, "bold": True, "font_size": 16})
        self.period = wb.add_format({**base, "align": "center"})
        self.status = wb.add_format({**base, "bold": True, "font_color": "#7F4F00"})
        self.table_title = wb.add_format({**base, "bold": True, "font_size": 12})
        self.heading = wb.add_format({**base, **border, "bold": True, "align": "center", "text_wrap": True, "bg_color": HEADING_FILL})
        self.corner = wb.add_format({**base, **border, "align": "left", "text_wrap": True, "bg_color": HEADING_FILL, "font_size": 9})
        self.unit = wb.add_format({**base, **border, "align": "center"})
        self.note = wb.add_format({**base, "italic": True, "font_size": 9, "text_wrap": True})
        self.note_line = wb.add_format({**base, "italic": True, "font_size": 9})
        self.blocked = wb.add_format({**base, **border, "bg_color": COMPUTED_FILL})
        self.field_label = wb.add_format({**base, **border, "bold": True, "bg_color": HEADING_FILL})
        self.check = wb.add_format({**base, **border, "text_wrap": True, "font_color": "#006100", "font_size": 9, "indent": 1})
        self.check_failed = wb.add_format({"font_color": "#9C0006", "bold": True})
        self.error = wb.add_format({"bg_color": ERROR_FILL, "font_color": "#9C0006"})
        self.warning = wb.add_format({"bg_color": WARNING_FILL, "font_color": "#7F4F00"})
        self.wrap = wb.add_format({**base, "text_wrap": True, "valign": "top"})
        self.bold = wb.add_format({**base, "bold": True})
        self.checks_heading = wb.add_format({**base, **border, "bold": True, "bg_color": HEADING_FILL, "align": "center"})
        self.checks_cell = wb.add_format({**base, **border, "text_wrap": True})
        self.checks_number = wb.add_format({**base, **border, "align": "center"})
        self.status_wrap = wb.add_format({**base, "bold": True, "font_color": "#7F4F00", "text_wrap": True})
        self._labels: dict[tuple[int, bool], Any] = {}
        self._values: dict[tuple[str, int, bool, bool], Any] = {}
        self.border = border

    def label(self, level: int, heading: bool) -> Any:
        key = (level, heading)
        if key not in self._labels:
            self._labels[key] = self.wb.add_format({**self.base, **self.border, "indent": level, "text_wrap": True, "bold": heading})
        return self._labels[key]

    def value(self, spec: ValueSpec, computed: bool = False, locked: bool = False) -> Any:
        key = (spec.type, spec.places, computed, locked)
        if key not in self._values:
            fmt: dict[str, Any] = {**self.base, **self.border}
            if spec.type == "integer":
                fmt["num_format"] = "0"
            elif spec.type == "decimal":
                fmt["num_format"] = "0." + "0" * spec.places if spec.places else "0"
            elif spec.type == "date":
                fmt["num_format"] = "yyyy-mm-dd"
            elif spec.type == "text":
                fmt["num_format"] = "@"
            if computed or locked:
                fmt["bg_color"] = COMPUTED_FILL
                fmt["locked"] = True
            else:
                fmt["bg_color"] = INPUT_FILL
                fmt["locked"] = False
            if spec.type in ("integer", "decimal"):
                fmt["align"] = "right"
            self._values[key] = self.wb.add_format(fmt)
        return self._values[key]
