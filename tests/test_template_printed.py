"""Templates as a clerk sees them on paper: LibreOffice prints them to PDF, and the pages are read back.

A blank template and one filled in with figures that break several rules are printed; from the
word boxes of ``pdftotext -bbox-layout`` no two text lines of the 审核 sheet (or of any other
sheet) may overlap, no text may run past the page, the blank template's status line must ask for
the required fields instead of saying 全部通过, and 填表说明 must fit one page and say each thing once.

Skipped, naming the missing program, where LibreOffice is absent (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import libreoffice
import pytest
from lo_template import AGENCY, FORM_B_VALUES

from toolkit.layout import layout_of
from toolkit.schema import Form, load_form, resolve
from toolkit.sheets import CHECKS_SHEET, INSTRUCTIONS_SHEET
from toolkit.template import TemplateRequest, build_template, instruction_lines

FORM_B = "gov-info-disclosure-2021"
FORM_A = "gov-info-disclosure-2017"
HEADER_VALUES = {"filler": "张三", "phone": "0574-62345678"}
# figures that break many rules at once, several on the same row (一、本年新收 anchors seven of them)
FORM_B_BROKEN = {**FORM_B_VALUES, "B3_new.np": 1400000, "B3_new.biz": 3000, "B3_carry.biz": 4, "B3_new.sci": 7,
                 "B3_new.law": 9, "B3_r1.np": 1000, "B4.rv_keep": 12345, "B4.ld_keep": 9}


class Printed:
    """One template printed: the PDF and each sheet's pages."""

    def __init__(self, lo: Any, form: Form, req: TemplateRequest, tmp: Path, name: str):
        self.form = form
        xlsx = tmp / f"{name}.xlsx"
        xlsx.write_bytes(build_template(form, req))
        self.pdf = tmp / f"{name}.pdf"
        results = lo.run([{"op": "open", "path": str(xlsx)}, {"op": "calc"}, {"op": "pdf", "path": str(self.pdf)},
                          {"op": "close"}])
        self.pages: dict[str, list[int]] = {}
        first = 1
        for sheet, n in results[2]["pages"].items():
            self.pages[sheet] = list(range(first, first + n))
            first += n

    def text(self, sheet: str) -> str:
        return "".join(libreoffice.pdf_text(self.pdf, p) for p in self.pages[sheet])


@pytest.fixture(scope="module")
def printed(lo, tmp_path_factory) -> dict[str, Printed]:
    tmp = tmp_path_factory.mktemp("printed-templates")
    b, a = load_form(resolve(FORM_B)), load_form(resolve(FORM_A))
    return {
        "blank-b": Printed(lo, b, TemplateRequest(password=""), tmp, "blank-b"),
        "blank-a": Printed(lo, a, TemplateRequest(password=""), tmp, "blank-a"),
        "broken-b": Printed(lo, b, TemplateRequest(agency=AGENCY, password="", values={**FORM_B_BROKEN, **HEADER_VALUES}),
                            tmp, "broken-b"),
    }


@pytest.mark.parametrize("which", ["blank-b", "blank-a", "broken-b"])
def test_no_two_text_lines_overlap_on_any_page(printed, which):
    """Row heights fit their text: wrapped rule texts and messages never run into the next row."""
    p = printed[which]
    assert p.pages[CHECKS_SHEET], p.pages
    for sheet, pages in p.pages.items():
        for page in pages:
            lines = libreoffice.pdf_text_lines(p.pdf, page)
            assert lines, (sheet, page)
            assert not libreoffice.overlapping_lines(lines), (which, sheet, page, libreoffice.overlapping_lines(lines)[:5])
            width = libreoffice.pdf_page_sizes(p.pdf)[page - 1][0]
            assert all(0 <= x0 and x1 <= width for x0, _, x1, _, _ in lines), (which, sheet, page)   # nothing off the page


def test_the_checks_sheet_of_a_return_with_errors_shows_every_message_without_ids(printed):
    p = printed["broken-b"]
    text = p.text(CHECKS_SHEET)
    assert "≠" in text and "本年新收" in text
    for inst in p.form.instances:
        assert inst.id not in text                      # t3-balance[np] is no business of the clerk
    assert "审核结果：✗" in text


@pytest.mark.parametrize("which", ["blank-b", "blank-a"])
def test_a_blank_template_does_not_read_all_passed(printed, which):
    p = printed[which]
    first = next(iter(p.pages))
    text = libreoffice.pdf_text(p.pdf, p.pages[first][0])
    assert "全部通过" not in text and "全部通过" not in p.text(CHECKS_SHEET)
    status = next(line for line in text.splitlines() if "审核结果" in line)
    for label in ("填报单位（盖章）", "填报人", "联系电话", "填报日期"):
        assert label in status, status


def test_every_section_heading_of_form_b_is_printed(printed):
    p = printed["blank-b"]
    lay = layout_of(p.form)
    want = {0: "二、主动公开政府信息情况", 1: "三、收到和处理政府信息公开申请情况", 2: "四、政府信息公开行政复议、行政诉讼情况"}
    for i, heading in want.items():
        assert heading in p.text(lay.sheets[i].name).replace(" ", ""), heading


@pytest.mark.parametrize("which", ["blank-b", "blank-a"])
def test_instructions_fit_one_page_and_say_each_thing_once(printed, which):
    p = printed[which]
    assert len(p.pages[INSTRUCTIONS_SHEET]) == 1
    printed_text = p.text(INSTRUCTIONS_SHEET).replace(" ", "").replace("\n", "")
    items = [t for kind, t in instruction_lines(p.form) if kind == "item"]
    for t in items:
        assert t.replace(" ", "") in printed_text, t            # every line whole on the page, not cut at the margin
    # one source: the input colour is named once and never as 白色; no topic is said twice
    assert "白色" not in printed_text and printed_text.count("浅黄色") == 1
    for topic in ("插入", "留空", "保留2位小数", "联系电话见"):
        assert printed_text.count(topic) <= 1, topic
    assert len(set(items)) == len(items)


def test_render_checks_and_summary_pictures(lo, tmp_path):
    """The README's pictures of the 审核 sheet and of printed summary pages render (python tests/libreoffice.py)."""
    from lo_template import png_size
    paths = [libreoffice.render_checks_picture(tmp_path, lo=lo), *libreoffice.render_summary_print_pictures(tmp_path, lo=lo)]
    assert [p.name for p in paths] == ["checks-2021.png", "summary-2021-detail.png", "summary-2021-issues.png"]
    for p in paths:
        w, h = png_size(p)
        assert min(w, h) > 500, (p.name, w, h)
