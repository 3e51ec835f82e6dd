"""The identity a template carries, end to end: written twice, read from either, versions refused."""

from __future__ import annotations

import toolkit.template as template_mod
from toolkit.identity import PROPERTY_LIMIT
from toolkit.roster import Agency
from toolkit.schema import load_form, resolve
from toolkit.template import TemplateRequest, build_template
from toolkit.validate import check_file


def _form():
    return load_form(resolve("gov-info-disclosure-2017"))


def test_a_long_agency_name_survives_the_property_limit(tmp_path):
    name = "长" * (PROPERTY_LIMIT + 40)
    path = tmp_path / "long.xlsx"
    path.write_bytes(build_template(_form(), TemplateRequest(agency=Agency("X1", name), password="")))
    result = check_file(path)
    assert result.status != "rejected", result.reason("en")
    assert result.identity.agency_name == name  # the sheet copy keeps the whole name


def test_a_template_of_another_layout_version_is_refused_with_that_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(template_mod, "LAYOUT_VERSION", "0")
    path = tmp_path / "old.xlsx"
    path.write_bytes(build_template(_form(), TemplateRequest(agency=Agency("X1", "单位"), password="")))
    result = check_file(path)
    assert result.status == "rejected"
    assert "layout 0" in result.reason("en") and "current template" in result.reason("en")
