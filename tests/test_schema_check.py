"""`toolkit schema check`: every kind of broken schema is named with a JSON pointer and a sentence.

Each file in tests/schemas/broken/ holds exactly one mistake. EXPECTED says where the checker must
point and a fragment of what it must say — for the library (`read_document` + `check_document`)
and for the command line (`toolkit schema check FILE` prints `FILE: /pointer: message`, exits 1).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from toolkit import schema as sm
from toolkit.cli import main

BROKEN = Path(__file__).resolve().parent / "schemas" / "broken"
SHIPPED = ("gov-info-disclosure-2017", "gov-info-disclosure-2021")

# file name → (JSON pointer of the first problem, a fragment of its message)
EXPECTED: dict[str, tuple[str, str]] = {
    # duplicates
    "dup_code_list.json": ("/tables/0/rows/1/code", 'code "A" is used twice (also at /tables/0/rows/0/code)'),
    "dup_code_header_table.json": ("/tables/0/rows/0/code", 'code "A" is used twice (also at /header/0/code)'),
    "dup_column_key.json": ("/tables/0/columns/1/key", 'column key "x" is used twice in table "m"'),
    "dup_row_code_matrix.json": ("/tables/0/rows/1/code", 'row code "R1" is used twice in table "m"'),
    "dup_table_id.json": ("/tables/1/id", 'table id "t" is used twice (also at /tables/0/id)'),
    "dup_rule_id.json": ("/rules/1/id", 'rule id "r1" is used twice (also at /rules/0/id)'),
    # expressions in rules
    "rule_unknown_code.json": ("/rules/0/expr", 'unknown indicator code "Z"'),
    "rule_does_not_parse.json": ("/rules/0/expr", "'A + == B' does not parse"),
    "rule_not_comparison.json": ("/rules/0/expr", "a rule must compare two sides"),
    "rule_two_comparisons.json": ("/rules/0/expr", "only one comparison is allowed"),
    "rule_unclosed_call.json": ("/rules/0/expr", "'A == sum(B,' does not parse"),
    "rule_single_equals.json": ("/rules/0/expr", "use == to compare"),
    "range_outside_sum.json": ("/rules/0/expr", "a range is not allowed in abs()"),
    "unknown_function.json": ("/rules/0/expr", "unknown function 'avg'"),
    "range_two_tables.json": ("/rules/0/expr", 'range B:D spans two tables ("t" and "u")'),
    "text_in_arithmetic.json": ("/rules/0/expr", '"N" is a text indicator and cannot be used in arithmetic'),
    "range_covers_text.json": ("/rules/0/expr", 'covers "N", a text indicator'),
    "unknown_placeholder.json": ("/rules/0/message", "unknown placeholder {total}"),
    # computed indicators
    "computed_with_comparison.json": ("/tables/0/rows/1/computed", "a computed value cannot contain a comparison"),
    "computed_cycle.json": ("/tables/0/rows/0/computed", "cycle: A → B → A"),
    "computed_self_reference.json": ("/tables/0/rows/0/computed", "cycle: A → A"),
    "computed_unknown_code.json": ("/tables/0/rows/1/computed", 'unknown indicator code "W"'),
    "computed_text.json": ("/tables/0/rows/1", 'only numbers can be computed, not type "text"'),
    "header_computed.json": ("/header/0/computed", "a header field cannot be computed"),
    # each / only / except
    "each_column_over_list.json": ("/rules/0/each", '"each": "column" needs a matrix table; "t" is a list'),
    "each_unknown_table.json": ("/rules/0/table", 'there is no table "nosuch"'),
    "each_missing_col.json": ("/rules/0/expr", 'an "each": "column" rule must use {col}'),
    "row_without_each.json": ("/rules/0/expr", '{row} can only be used with "each": "row"'),
    "each_row_uses_col.json": ("/rules/0/expr", '{col} can only be used with "each": "column"'),
    "only_unknown_key.json": ("/rules/0/only/1", '"zz" is not a column key of table "m"'),
    "except_unknown_row.json": ("/rules/0/except/0", '"R9" is not a row code of table "m"'),
    # rows and columns
    "heading_row_with_code.json": ("/tables/0/rows/0/code", "a heading row holds no value"),
    "data_row_without_code.json": ("/tables/0/rows/0", 'row "甲" holds a value and needs a "code"'),
    "leaf_column_without_key.json": ("/tables/0/columns/1", 'column "Y" holds values and needs a "key"'),
    "heading_column_with_key.json": ("/tables/0/columns/0/key", "a column with children is a heading"),
    "skip_unknown_key.json": ("/tables/0/rows/0/skip", '"q" is not a column key of table "m"'),
    # value attributes
    "choice_without_choices.json": ("/tables/0/rows/0", 'a "choice" value needs a list of "choices"'),
    "choices_on_integer.json": ("/tables/0/rows/0", '"choices" only apply to type "choice"'),
    "min_greater_than_max.json": ("/tables/0/rows/0", "min 10 is greater than max 5"),
    # sheets
    "reserved_sheet.json": ("/tables/0/sheet", 'sheet name "审核" is reserved'),
    "sheet_case_clash.json": ("/tables/1/sheet", 'differs from "Data" only in case'),
    "sheet_not_contiguous.json": ("/tables/2/sheet", 'tables on sheet "S1" must follow each other'),
    # patterns and conditional rules (issue 17)
    "pattern_unclosed.json": ("/header/0/pattern", "is not a usable pattern: '(' without ')' at character 8"),
    "pattern_lookaround.json": ("/header/0/pattern", "only plain groups"),
    "pattern_on_integer.json": ("/tables/0/rows/0", '"pattern" only applies to type "text"'),
    "field_unknown_key.json": ("/header/0", "unknown key(s) ('shape' was unexpected)"),
    "conditional_unknown_code.json": ("/rules/0/expr", 'unknown indicator code "Z" in \'if Z > 0 then B > 0\''),
    "when_unknown_code.json": ("/rules/0/when", 'unknown indicator code "Z"'),
    "when_and_if.json": ("/rules/0/when", 'either as "when" or as "if … then …"'),
    "when_placeholder_without_condition.json": ("/rules/0/message", "{when_left} quotes the condition"),
    # shape (the meta-schema) and the file itself
    "bad_version.json": ("/version", "'1.0' has the wrong form"),
    "bad_id_capitals.json": ("/id", "'Broken-Example' has the wrong form"),
    "missing_tables.json": ("", "'tables' is required"),
    "unknown_top_level_key.json": ("", "unknown key(s) ('colour' was unexpected)"),
    "not_json.json": ("", "not valid JSON"),
    "json_array.json": ("", "a schema is a JSON object"),
}


def problems_of(path: Path) -> list[sm.Problem]:
    try:
        doc = sm.read_document(path)
    except sm.SchemaError as e:
        return e.problems
    return sm.check_document(doc)


def test_every_broken_file_has_an_expectation():
    files = {p.name for p in BROKEN.glob("*.json")}
    assert files == set(EXPECTED)
    assert len(files) >= 22


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_schema_library(name: str):
    pointer, fragment = EXPECTED[name]
    problems = problems_of(BROKEN / name)
    assert problems, f"{name} was accepted"
    first = problems[0]
    assert first.pointer == pointer, problems
    assert fragment in first.message, problems
    # load_form refuses it with the same problems
    with pytest.raises(sm.SchemaError) as info:
        sm.load_form(BROKEN / name)
    assert info.value.problems[0] == first


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_schema_cli(name: str):
    pointer, fragment = EXPECTED[name]
    path = str(BROKEN / name)
    result = CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["schema", "check", path])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.splitlines()
    prefix = f"{path}: {pointer or '/'}: "
    assert lines and lines[0].startswith(prefix), result.output
    assert fragment in lines[0][len(prefix):], result.output
    assert "Traceback" not in result.output


def test_cli_checks_several_files_and_fails_if_any_is_broken():
    ok = sm.shipped_schemas()[SHIPPED[0]]
    result = CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["schema", "check", str(ok), str(BROKEN / "dup_rule_id.json")])
    assert result.exit_code == 1
    assert f"{ok}: ok" in result.output
    assert "dup_rule_id.json: /rules/1/id: " in result.output


def test_cli_missing_file():
    result = CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["schema", "check", "no/such/form.json"])
    assert result.exit_code == 1
    assert result.output.startswith("no/such/form.json: /: cannot read the file")


# ---------------------------------------------------------------------------- shipped forms

@pytest.mark.parametrize("form_id", SHIPPED)
def test_shipped_schema_passes(form_id: str):
    path = sm.shipped_schemas()[form_id]
    assert sm.check_document(sm.read_document(path)) == []
    for arg in (str(path), form_id):  # a path or the id of a shipped form
        result = CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["schema", "check", arg])
        assert result.exit_code == 0, result.output
        assert f"ok — {form_id} 1.0.0" in result.output


def test_both_shipped_schemas_at_once():
    result = CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["schema", "check", *SHIPPED])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok — ") == 2


def test_shipped_form_counts():
    a = sm.load_form(sm.resolve(SHIPPED[0]))
    assert [t.id for t in a.tables] == ["main"]
    assert len(a.indicators) == 58
    assert len(a.instances) == len(a.rules) == 11
    b = sm.load_form(sm.resolve(SHIPPED[1]))
    assert [t.id for t in b.tables] == ["t2_1", "t2_5", "t2_6", "t2_8", "t3", "t4"]
    assert len(b.indicators) == 6 + 1 + 2 + 1 + 25 * 7 + 15
    # t3: 2 rules × 7 columns + 1 rule × 25 rows; t4: 3 single rules; across years: t3 carry-over
    # × 7 columns, t2_1 stock × 2 rows
    assert len(b.instances) == 2 * 7 + 25 + 3 + 7 + 2
    assert [i.id for i in b.instances if i.prev_reads] == [f"t3-carry-over[{c}]" for c in
                                                           ("np", "biz", "sci", "npo", "law", "other", "total")] + \
        ["t2-valid-stock[B2_rule]", "t2-valid-stock[B2_norm]"]


@pytest.mark.parametrize("form_id", SHIPPED)
def test_schema_show(form_id: str):
    form = sm.load_form(sm.resolve(form_id))
    result = CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["schema", "show", form_id])
    assert result.exit_code == 0, result.output
    out = result.output
    assert form.title in out and form_id in out
    assert f"{len(form.indicators)} indicators" in out
    assert f"{len(form.rules)} rules ({len(form.instances)} checks" in out
    for t in form.tables:
        n = sum(1 for i in form.indicators.values() if i.table == t.id)
        assert f"Table {t.id} [{t.kind}]" in out
        assert f"({n} indicators)" in out
    for r in form.rules:
        assert r.id in out


def test_schema_show_broken_file_is_one_line():
    result = CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["schema", "show", str(BROKEN / "dup_rule_id.json")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "/rules/1/id" in result.output


# ---------------------------------------------------------------------------- content hash

def _reordered(value):
    """The same JSON with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


def test_content_hash_stable_under_key_order():
    doc = sm.read_document(sm.resolve(SHIPPED[1]))
    h = sm.content_hash(doc)
    assert len(h) == 64 and int(h, 16) >= 0
    other = _reordered(doc)
    assert list(other) != list(doc)
    assert sm.content_hash(other) == h
    # white space in the file does not matter either
    assert sm.content_hash(json.loads(json.dumps(doc, indent=4, ensure_ascii=True))) == h
    assert sm.load_form(doc).content_hash == h == sm.load_form(other).content_hash


def test_content_hash_changes_with_a_label():
    doc = sm.read_document(sm.resolve(SHIPPED[1]))
    changed = copy.deepcopy(doc)
    changed["tables"][4]["rows"][0]["label"] += "（含）"
    assert sm.content_hash(changed) != sm.content_hash(doc)
    reordered_rows = copy.deepcopy(doc)
    rows = reordered_rows["tables"][0]["rows"]
    rows[0], rows[1] = rows[1], rows[0]
    assert sm.content_hash(reordered_rows) != sm.content_hash(doc)  # list order is significant


def test_a_form_is_built_once_per_content_and_each_load_keeps_its_own_source(tmp_path):
    """Building a form (meta-schema check included) costs a tenth of a second or more; the same
    bytes loaded again, from anywhere, reuse it. A changed document is built anew."""
    import json

    from toolkit.schema import load_form, resolve

    a = load_form(resolve("gov-info-disclosure-2021"))
    dup = tmp_path / "copy.json"
    dup.write_text(resolve("gov-info-disclosure-2021").read_text(encoding="utf-8"), encoding="utf-8")
    b = load_form(dup)
    assert b.indicators is a.indicators and b.instances is a.instances
    assert b.source == str(dup) and a.source != b.source
    doc = json.loads(dup.read_text(encoding="utf-8"))
    doc["title"] = doc["title"] + "（修订）"
    c = load_form(doc, "changed")
    assert c.indicators is not a.indicators and c.title.endswith("（修订）") and c.content_hash != a.content_hash
