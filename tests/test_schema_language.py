"""The schema language's additions of issue 17, tested without LibreOffice.

Patterns (a safe subset, differential against Python's ``re``), conditional rules (their Excel
rendering evaluated by the ``formulas`` engine against the Python check), numbers in messages by
places, guarded ratios, dashes, units in matrix headings, and ``schema check`` refusing what is
wrong with a JSON pointer. The LibreOffice side is tests/test_science_libreoffice.py.
"""

from __future__ import annotations

import copy
import json
import random
import re
import time
import warnings
from pathlib import Path
from typing import Any

import filled as F
import pytest

from toolkit import patterns
from toolkit import rules as rx
from toolkit.checks import run_rules
from toolkit.formulas import computed_formula, live_check
from toolkit.layout import layout_of
from toolkit.registry import Registry
from toolkit.schema import check_document, load_form
from toolkit.validate import check_file

SCHEMAS = Path(__file__).resolve().parent / "schemas"
FORM_PATH = SCHEMAS / "science-popularisation.json"

try:
    import formulas
except ImportError:  # pragma: no cover
    formulas = None
needs_formulas = pytest.mark.skipif(formulas is None, reason="needs the formulas package: pip install -e .[test]")


def document() -> dict[str, Any]:
    return json.loads(FORM_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def form():
    return load_form(FORM_PATH)


_compiled: dict[str, Any] = {}


def excel(formula: str, **cells: Any) -> Any:
    """The value of a formula by the ``formulas`` engine, cells given by name (A1=3); compiled once."""
    import numpy as np
    func = _compiled.get(formula)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if func is None:
            func = _compiled[formula] = formulas.Parser().ast("=" + formula)[1].compile()
        args = [np.array([[cells.get(name)]], dtype=object) for name in func.inputs]
        out = func(*args)
    out = np.asarray(out, dtype=object).ravel()[0] if isinstance(out, np.ndarray) else out
    return out.item() if hasattr(out, "item") else out


# ---------------------------------------------------------------------------- patterns

def random_pattern(rnd: random.Random, depth: int = 0, quantify: bool = True) -> str:
    """A pattern of the subset without a quantifier inside a quantified group: Python's ``re``,
    the referee here, itself takes exponential time on nested ones (ours does not: see below)."""
    atoms = ["a", "b", "\\d", "[ab]", "[^a]", ".", "\\.", "-", "[0-9a-c]"]
    q = rnd.choice(["", "", "?", "*", "+", "{2}", "{1,3}", "{0,}"]) if quantify else ""
    if depth > 2 or rnd.random() < 0.4:
        atom = rnd.choice(atoms)
    else:
        inner = quantify and not q
        atom = "(" + "|".join(random_pattern(rnd, depth + 1, inner) for _ in range(rnd.randint(1, 3))) + ")"
    rest = random_pattern(rnd, depth + 1, quantify) if depth < 2 and rnd.random() < 0.6 else ""
    return atom + q + rest


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_patterns_agree_with_python_re():
    """Our linear-time matcher says what Python's backtracking ``re`` says, on the subset."""
    rnd = random.Random(17)
    alphabet = "ab01.-x"
    checked = matched = 0
    for _ in range(300):
        source = random_pattern(rnd)
        ours = patterns.compile_pattern(source)
        theirs = re.compile(source)
        for _ in range(30):
            text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 7)))
            want = theirs.fullmatch(text) is not None
            assert ours.fullmatch(text) is want, (source, text)
            checked += 1
            matched += want
    assert checked == 9000 and 300 < matched < checked - 300


@pytest.mark.parametrize("source", [r"(a+)+b", r"(a|a)*b", r"\d*\d*\d*\d*\d*\d*x", r"(.*a){20}b"])
def test_catastrophic_patterns_take_linear_time(source):
    p = patterns.compile_pattern(source)
    start = time.perf_counter()
    assert p.fullmatch("a" * 900 if "\\d" not in source else "1" * 900) is False
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("source, why", [
    ("(a", "without ')'"), ("a{3,1}", "smaller first"), ("a**", "cannot follow"), ("(?=a)", "plain groups"),
    ("\\1", "not supported"), ("[z-a]", "backwards"), ("a{500}", "0–100"), ("*a", "special meaning"),
    ("(a{100}){100}", "too large"), ("[ab", "without ']'"),
])
def test_patterns_outside_the_subset_are_refused(source, why):
    with pytest.raises(patterns.PatternError, match=re.escape(why)):
        patterns.compile_pattern(source)


def test_excel_renders_fixed_shapes_only():
    assert patterns.excel_condition(r"1\d{10}", "B9") is not None
    assert patterns.excel_condition(r"\d{6}", "B9") is not None
    # 统一社会信用代码: fixed, but its two 31-letter sets spelled out pass Excel's 255-character limit
    assert patterns.excel_condition(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}", "B9") is None
    assert patterns.excel_condition(r"[a-z]+@[a-z]+\.cn", "B9") is None       # variable length
    assert patterns.excel_condition(r"0\d{3}|1\d{10}", "B9") is None           # alternatives


def test_pattern_and_header_checks_in_the_reader(form, tmp_path):
    reg = Registry([SCHEMAS])
    good = F.write(tmp_path, "good.xlsx", form, {"org_type": "企业", "filler": "李明", "phone": "13812345678",
                                                "mobile": "13812345678", "email": "kepu@example.cn"})
    r = check_file(good, reg)
    assert r.status == "valid", [i.message() for i in r.issues]
    bad = F.write(tmp_path, "bad.xlsx", form, {"org_type": "企业", "filler": "李明", "phone": "电话 123",
                                              "mobile": "13812345678", "email": "不是邮箱"})
    r = check_file(bad, reg)
    found = {(i.kind, i.code): i for i in r.issues}
    assert set(found) == {("bad_pattern", "phone"), ("bad_pattern", "email")}
    issue = found[("bad_pattern", "email")]
    assert issue.severity == "error" and issue.cell == F.cell(form, "email").address
    assert issue.message() == "「电子邮箱」格式不正确：“不是邮箱”；请填写电子邮箱，如 kepu@example.cn"
    assert "does not have the required form" in issue.message("en")


# ---------------------------------------------------------------------------- conditional rules

def test_if_then_and_when_are_one_tree():
    a = rx.parse_rule("if A > 0 then B > 0")
    assert a == rx.Implies(rx.Compare(">", rx.Ref("A"), rx.Num(0)), rx.Compare(">", rx.Ref("B"), rx.Num(0)))
    assert rx.codes(a, lambda s, e: []) == ["A", "B"]
    assert rx.parse_rule("B >= A") == rx.Compare(">=", rx.Ref("B"), rx.Ref("A"))
    # a code called "if" still works where a code is expected; keywords only lead a rule
    assert rx.parse_rule("[if] > 0") == rx.Compare(">", rx.Ref("if"), rx.Num(0))
    for text, msg in [("if A then B > 0", "expected a comparison"), ("if A > 0 B > 0", "expected 'then'"),
                      ("if A > 0 then B", "expected a comparison"), ("if A > 0 then B > 0 then C > 0", "expected the end")]:
        with pytest.raises(rx.ExpressionError, match=msg):
            rx.parse_rule(text)
    with pytest.raises(rx.ExpressionError, match="only allowed in a rule"):
        rx.parse_arithmetic("if A > 0 then B > 0")


@needs_formulas
@pytest.mark.slow          # differential: 400 random conditional rules through the formulas engine
def test_conditional_rule_excel_agrees_with_python():
    """The shape the live check uses, IF(when, IF(then, ✓, message), —), against the Python decision."""
    rnd = random.Random(5)
    checked = 0
    for _ in range(400):
        a, b = rnd.choice([0, 1, 2.5, -1]), rnd.choice([0, 0.004, 3, 1e-10])
        op1, op2 = rnd.choice(rx.COMPARISONS), rnd.choice(rx.COMPARISONS)
        tree = rx.parse_rule(f"if A {op1} 1 then B {op2} 0.004")
        values = {"A": a, "B": b}
        when = rx.holds(tree.when.op, rx.evaluate(tree.when.left, values, None), rx.evaluate(tree.when.right, values, None))
        then = rx.holds(tree.then.op, rx.evaluate(tree.then.left, values, None), rx.evaluate(tree.then.right, values, None))
        py = "na" if not when else "pass" if then else "fail"

        def side(node):
            return rx.to_excel(node, lambda c: c + "1", None)
        formula = (f'IF({rx.excel_holds(tree.when.op, side(tree.when.left), side(tree.when.right))},'
                   f'IF({rx.excel_holds(tree.then.op, side(tree.then.left), side(tree.then.right))},"pass","fail"),"na")')
        assert excel(formula, A1=a, B1=b) == py, (tree, values, formula)
        checked += 1
    assert checked == 400


def test_conditional_rules_in_the_form(form):
    by_id = {i.id: i for i in form.instances}
    inst = by_id["venue-area"]                      # "when" + "expr"
    assert inst.when == rx.parse_rule("S1 > 0") and inst.tree == rx.parse_rule("S2 > 0")
    assert inst.reads == ("S1", "S2")
    results = {r.instance.id: r for r in run_rules(form, {"S1": 2, "P4": 0})}
    assert results["venue-area"].failed
    assert results["venue-area"].message() == "有科技馆 2 个，须填写建筑面积（现为 0.00 平方米）"
    assert results["workload"].status == "n/a"      # no part-time staff: the rule does not apply
    results = {r.instance.id: r for r in run_rules(form, {"S1": 2, "S2": 1500})}
    assert results["venue-area"].status == "pass"
    assert [i.id for i in form.instances if i.rule.id == "event-people"] == [f"event-people[E{k}]" for k in (1, 2, 3, 4)]
    formula = live_check(layout_of(form), by_id["event-people[E1]"])
    assert formula.startswith('IFERROR(IF(-(') and '"—"),"—")' in formula


# ---------------------------------------------------------------------------- numbers in messages

@pytest.mark.parametrize("x, places, text", [
    (0.499999999999773, 2, "0.50"), (-0.12299999999999, 2, "-0.12"), (150, 2, "150.00"), (-0.001, 2, "0.00"),
    (1.005, 2, "1.01"), (2.5, 0, "3"), (-2.5, 0, "-3"), (805, None, "805"), (14722.49, None, "14722.49"), (7, 1, "7.0"),
])
def test_format_places(x, places, text):
    assert rx.format_places(x, places) == text


@needs_formulas
@pytest.mark.slow          # differential: 310 numbers × 4 places through the formulas engine
def test_format_places_agrees_with_excel_text():
    rnd = random.Random(3)
    xs = [0.499999999999773, -0.12299999999999, 150, -0.001, 1.005, 2.675, 0.125, -0.125, 1e-12, 99999.995]
    xs += [round(rnd.uniform(-1000, 1000), rnd.randint(0, 6)) for _ in range(300)]
    for places in (0, 1, 2, 3):
        formula = rx.excel_text_places("A1", places)
        for x in xs:
            # near a .5 tie that binary cannot hold, formulas rounds the binary value and Excel (and
            # the toolkit) the number as shown — ROUND(1.005, 2): 1.00 vs 1.01 (see test_rules.py)
            frac = abs(x) * 10 ** places % 1
            if abs(frac - 0.5) < 1e-7 and frac != 0.5:
                continue
            assert excel(formula, A1=x) == rx.format_places(x, places), (x, places, formula)


def test_messages_use_the_places_of_what_they_quote(form):
    results = {r.instance.id: r for r in run_rules(form, {"F1.h1": 100.1, "F2.h1": 100.6, "F1.h2": 50, "F3.h1": 200})}
    assert results["gov-within-raised[h1]"].message() == "上半年：政府拨款 100.60 万元，超过筹集额 100.10 万元，相差 0.50 万元"
    assert results["spent-within-raised"].message() == "全年使用额 200.00 万元，超过筹集额的 1.2 倍（180.12 万元）"
    results = {r.instance.id: r for r in run_rules(form, {"P1": 3, "P2": 5})}
    assert results["p2-within-p1"].message() == "中级职称及以上 5 人，超过专职人员 3 人"   # whole numbers stay whole


# ---------------------------------------------------------------------------- guarded ratios

def test_a_ratio_over_nothing_is_blank_everywhere(form, tmp_path):
    assert set(form.guarded) == {"P7", "F4.h1", "F4.h2", "F4.total"}
    computed = form.compute({"P3": 2})
    assert computed["P7"] is None and computed["F4.total"] is None and computed["F1.total"] == 0.0
    assert form.compute({"P1": 3, "P3": 1})["P7"] == 33.3           # rounded to its places, not 33.333…
    lay = layout_of(form)
    sheet = lay.cells["P7"].sheet
    assert computed_formula(lay, "P7", sheet) == f'IFERROR(ROUND({lay.ref("P3", sheet)}/{lay.ref("P1", sheet)}*100,1),"")'
    r = check_file(F.write(tmp_path, "r.xlsx", form, {"org_type": "企业", "filler": "李", "phone": "13812345678", "P3": 2}),
                   Registry([SCHEMAS]))
    assert r.values["P7"] is None and r.values["F4.h1"] is None
    assert not [i for i in r.issues if i.kind == "computed_mismatch"]


def test_a_rule_over_an_undefined_ratio_does_not_apply():
    doc = document()
    doc["rules"].append({"id": "ratio-cap", "expr": "P7 <= 100", "message": "占比 {left}% 超过 100%"})
    f = load_form(doc)
    results = {r.instance.id: r for r in run_rules(f, {})}
    assert results["ratio-cap"].status == "n/a"
    assert f'{layout_of(f).ref("P7", "一、科普人员")}=""' in live_check(layout_of(f), next(i for i in f.instances if i.id == "ratio-cap"), from_sheet="一、科普人员")
    results = {r.instance.id: r for r in run_rules(f, {"P1": 1, "P3": 2})}
    assert results["ratio-cap"].message() == "占比 200.0% 超过 100%"


# ---------------------------------------------------------------------------- dashes

@pytest.mark.parametrize("typed", ["-", "—", "——", "－", "–", " — "])
def test_a_dash_is_blank_with_a_warning_where_the_form_says_so(form, tmp_path, typed):
    r = check_file(F.write(tmp_path, "d.xlsx", form, {"org_type": "企业", "filler": "李", "phone": "13812345678", "S5": typed}),
                   Registry([SCHEMAS]))
    assert r.status == "valid"
    (issue,) = [i for i in r.issues if i.code == "S5"]
    assert (issue.kind, issue.severity) == ("dash_blank", "warning") and r.values["S5"] is None


def test_a_dash_stays_an_error_where_the_form_does_not_say_so(tmp_path):
    doc = document()
    doc["tables"][1]["rows"][4]["dash"] = "error"      # S5 overrides the form's "dash": "blank"
    doc["id"] = "science-popularisation-strict"
    f = load_form(doc)
    reg = Registry()
    reg.add(f)
    r = check_file(F.write(tmp_path, "d.xlsx", f, {"org_type": "企业", "filler": "李", "phone": "13812345678", "S5": "—"}), reg)
    assert r.status == "invalid" and [(i.kind, i.code) for i in r.issues] == [("not_a_number", "S5")]


# ---------------------------------------------------------------------------- units in matrices

def test_matrix_units_are_in_headings_and_row_labels(form):
    lay = layout_of(form)
    texts = {t.text for sl in lay.sheets for t in sl.texts}
    assert {"举办次数（次）", "参加人次（万人次）", "活动经费（万元）"} <= texts
    assert {"科普经费筹集额（万元）", "经费使用率（%）"} <= texts
    # the official forms, whose matrices give units only in "defaults", are laid out as before
    b = layout_of(F.form_b())
    assert not [t.text for sl in b.sheets for t in sl.texts if t.text.endswith("（件）")]


# ---------------------------------------------------------------------------- schema check

def _problems(change) -> list[tuple[str, str]]:
    doc = copy.deepcopy(document())
    change(doc)
    return [(p.pointer, p.message) for p in check_document(doc)]


def test_schema_check_refuses_what_is_wrong_with_a_pointer():
    got = _problems(lambda d: d["header"][4].update(pattern="0\\d{2,3}-(\\d{7,8}"))
    assert got and got[0][0] == "/header/4/pattern" and "without ')'" in got[0][1]
    got = _problems(lambda d: d["header"][4].update(colour="red"))
    assert got == [("/header/4", "unknown key(s) ('colour' was unexpected)")] or got[0][0] == "/header/4"
    got = _problems(lambda d: d["rules"][2].update(expr="if P4 > 0 then P55 > 0"))
    assert got == [("/rules/2/expr", "unknown indicator code \"P55\" in 'if P4 > 0 then P55 > 0'")]
    got = _problems(lambda d: d["rules"][3].update(when="S9 > 0"))
    assert got == [("/rules/3/when", "unknown indicator code \"S9\" in 'S9 > 0'")]
    got = _problems(lambda d: d["rules"][0].update(message="{when_left} {left}"))
    assert [p for p, _ in got] == ["/rules/0/message"]
    got = _problems(lambda d: d["rules"][3].update(expr="if S1 > 0 then S2 > 0"))
    assert [p for p, _ in got] == ["/rules/3/when"]
    got = _problems(lambda d: d["tables"][0]["rows"][0].update(pattern="\\d+"))
    assert got == [("/tables/0/rows/0", '"pattern" only applies to type "text", not "integer"')]
    got = _problems(lambda d: d.update(dash="maybe"))
    assert [p for p, _ in got] == ["/dash"]


# ---------------------------------------------------------------------------- documentation

def _meta_keys(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out.update(value)
            _meta_keys(value, out)
    elif isinstance(node, list):
        for item in node:
            _meta_keys(item, out)
    return out


def test_every_key_of_the_meta_schema_is_documented():
    root = Path(__file__).resolve().parent.parent
    meta = json.loads((root / "toolkit" / "forms" / "indicator-schema.json").read_text(encoding="utf-8"))
    doc = (root / "docs" / "schema-language.md").read_text(encoding="utf-8")
    keys = _meta_keys(meta, set()) - {"$schema"}
    assert len(keys) > 40
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert not missing, f"keys of the meta-schema not documented in docs/schema-language.md: {missing}"


# ---------------------------------------------------------------------------- discoverability

def test_own_forms_are_found_through_the_environment(form, tmp_path, monkeypatch):
    from toolkit.schema import resolve
    book = F.write(tmp_path, "own.xlsx", form, {"org_type": "企业", "filler": "李", "phone": "13812345678"})
    r = check_file(book, Registry())
    assert r.status == "rejected"
    assert "--schema-dir" in r.reason("zh") and "TOOLKIT_SCHEMA_PATH" in r.reason("zh")
    assert "--schema-dir" in r.reason("en")
    monkeypatch.setenv("TOOLKIT_SCHEMA_PATH", str(SCHEMAS))
    assert check_file(book, Registry()).status == "valid"
    assert resolve("science-popularisation") == SCHEMAS / "science-popularisation.json"


def test_schema_show_names_units_conditions_and_only_lists(form):
    from toolkit.outline import outline
    text = outline(form)
    assert "- 参加人次  [people]  (unit 万人次, type decimal, places 2)" in text
    assert "F4             经费使用率 [%] = F3.{col} / F1.{col} * 100" in text
    assert "venue-area [error]: if S1 > 0 then S2 > 0" in text
    assert "(each column of funds) only h1, h2:" in text and "except E9:" in text
    assert "phone          联系电话  (text, required, pattern 0\\d{2,3}-\\d{7,8}|1\\d{10})" in text


def test_a_computed_mismatch_prints_amounts_with_their_places(form, tmp_path):
    book = F.write(tmp_path, "m.xlsx", form, {"org_type": "企业", "filler": "李", "phone": "13812345678",
                                             "F1.h1": 100.1, "F1.h2": 49.9})
    lay = layout_of(form)
    c = lay.cells["F1.total"]
    tampered = F.set_cached(book, c.sheet, c.address.split("!")[1], 150.5)
    r = check_file(tampered, Registry([SCHEMAS]))
    (issue,) = [i for i in r.issues if i.kind == "computed_mismatch"]
    assert "表中显示 150.50，按各项计算应为 150.00" in issue.message()
