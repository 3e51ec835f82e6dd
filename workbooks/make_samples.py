"""Regenerate the bundled example templates and sample returns (deterministic).

    python workbooks/make_samples.py

Sample returns are what agencies send back: most consistent, some with mistakes, one agency
twice, one not on the roster, several missing — the cases a merge must handle. Form A uses the
seed report's real figures for 市科学技术协会; Form B uses the county's published 2023 figures.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from toolkit.checks import failures  # noqa: E402
from toolkit.files import write_atomic  # noqa: E402
from toolkit.roster import Agency, read_roster  # noqa: E402
from toolkit.samples import as_inputs, header_values, random_figures  # noqa: E402
from toolkit.schema import load_form, resolve  # noqa: E402
from toolkit.template import TemplateRequest, build_template, generate_templates  # noqa: E402

STAMP = "2024-01-05T09:00:00+00:00"

# The seed report's table (2017, 余姚市科学技术协会); blank cells of the original stay absent.
SEED_2017 = {
    "A1_1": 100, "A1_1a": 33, "A1_1b": 33, "A1_2_1": 0, "A1_2_2": 639, "A1_2_3": 90, "A1_2_4": 90, "A1_2_5": 543,
    "A2_1": 0, "A2_2_1": 0, "A2_2_1a": 0, "A2_2_2": 0, "A2_2_2a": 0, "A2_2_3": 0, "A2_2_4": 0, "A2_2_5": 0,
    "A3_1_1": 0, "A3_1_2": 0, "A3_1_3": 0, "A3_1_4": 0, "A3_2_1": 0, "A3_2_2": 0,
    "A3_3_1": 0, "A3_3_2": 0, "A3_3_3": 0, "A3_3_4": 0, "A3_3_4a": 0, "A3_3_4b": 0, "A3_3_4c": 0, "A3_3_4d": 0,
    "A3_3_4e": 0, "A3_3_4f": 0, "A3_3_5": 0, "A3_3_6": 0, "A3_3_7": 0, "A3_3_8": 0,
    "A4_1": 0, "A4_2": 0, "A4_3": 0, "A5_1": 0, "A5_2": 0, "A5_3": 0, "A6": 0, "A7": 0,
    "A8_1": 1, "A8_2": 2, "A8_3_1": 0, "A8_3_2": 3, "A9_3": 2,
}

# The county's published 2023 figures (formats.md); table 三 beyond the first row is not published.
COUNTY_2023 = {
    "B2_rule.made": 3, "B2_rule.repealed": 6, "B2_rule.valid": 14, "B2_permit.count": 54408,
    "B2_punish.count": 2086, "B2_force.count": 1272, "B2_fee.amount": 14722.49,
    "B3_new.np": 140, "B3_new.biz": 3, "B3_r1.np": 120, "B3_r1.biz": 3, "B3_r4_1.np": 20,
    "B4.ld_keep": 2, "B4.ld_other": 1,
}


# ---------------------------------------------------------------------------- plausible figures
# What a year of one agency looks like (Form B): new applications mostly from natural persons, a few
# from companies and lawyers; small carry-overs in and out (a few per cent); about half disclosed,
# a fifth 本机关不掌握, the rest spread thin; reviews and lawsuits rare. Sizes by kind of agency.
APPLICANTS = {"np": (1.0, 1.0), "biz": (0.03, 0.15), "sci": (0.0, 0.01), "npo": (0.0, 0.02), "law": (0.0, 0.05), "other": (0.0, 0.04)}
OUTCOMES = {"B3_r1": 45, "B3_r2": 8, "B3_r3_1": 0.2, "B3_r3_2": 1, "B3_r3_3": 0.5, "B3_r3_4": 1, "B3_r3_5": 1, "B3_r3_6": 2,
            "B3_r3_7": 0.2, "B3_r3_8": 1, "B3_r4_1": 20, "B3_r4_2": 4, "B3_r4_3": 2, "B3_r5_1": 3, "B3_r5_2": 2,
            "B3_r5_3": 0.3, "B3_r5_4": 0.5, "B3_r5_5": 0.5, "B3_r6_1": 2, "B3_r6_2": 0.2, "B3_r6_3": 1}
SIZES = {"政府部门": (5, 15, 40, 90, 250), "乡镇街道": (2, 5, 10, 25), "其他单位": (0, 1, 3)}


def figures_2021(rng: random.Random, group: str) -> dict:
    """One agency's plausible Form B figures; every rule of the form holds."""
    size = rng.choice(SIZES.get(group, (5, 20)))
    v: dict = {}
    outcomes, weights = list(OUTCOMES), list(OUTCOMES.values())
    for col, (lo, hi) in APPLICANTS.items():
        new = round(size * rng.uniform(lo, hi) * rng.uniform(0.7, 1.3))
        carry = round(new * rng.uniform(0.0, 0.08))
        handled_all = new + carry
        nxt = round(handled_all * rng.uniform(0.0, 0.08))
        counts = dict.fromkeys(outcomes, 0)
        for o in rng.choices(outcomes, weights, k=handled_all - nxt):
            counts[o] += 1
        v[f"B3_new.{col}"], v[f"B3_carry.{col}"], v[f"B3_next.{col}"] = new, carry, nxt
        for o, n in counts.items():
            v[f"{o}.{col}"] = n
    department = group == "政府部门"
    v["B2_rule.made"] = rng.choice((0, 0, 0, 0, 1)) if department else 0
    v["B2_rule.repealed"] = rng.choice((0, 0, 0, 1)) if department else 0
    v["B2_rule.valid"] = v["B2_rule.made"] + (rng.randint(0, 6) if department else 0)
    v["B2_norm.made"] = rng.randint(0, 12 if department else 3)
    v["B2_norm.repealed"] = rng.randint(0, 5 if department else 1)
    v["B2_norm.valid"] = v["B2_norm.made"] + rng.randint(3, 60 if department else 12)
    v["B2_permit.count"] = rng.choice((0, 0, rng.randint(20, 300), rng.randint(300, 6000))) if department else rng.randint(0, 40)
    v["B2_punish.count"] = rng.choice((0, 0, rng.randint(5, 120), rng.randint(100, 1500))) if department else rng.randint(0, 30)
    v["B2_force.count"] = rng.choice((0, 0, 0, rng.randint(1, 200))) if department else rng.randint(0, 5)
    v["B2_fee.amount"] = rng.choice((None, None, 0, round(rng.uniform(0.5, 300), 2))) if department else None
    for g, chance in (("rv", 0.5), ("ld", 0.25), ("lr", 0.15)):
        if rng.random() < chance and department:
            for k in ("keep", "fix", "other", "pending"):
                v[f"B4.{g}_{k}"] = rng.choice((0, 0, 0, 1, 1, 2, 3)) if k == "keep" else rng.choice((0, 0, 0, 0, 1))
        else:
            for k in ("keep", "fix", "other", "pending"):
                v[f"B4.{g}_{k}"] = 0
    return v


def figures_2017(form, rng: random.Random, group: str, seed: str) -> dict:
    """Form A: the generic figures, scaled to the kind of agency."""
    return random_figures(form, seed=seed, scale={"政府部门": 60, "乡镇街道": 20}.get(group, 5))


def figures(form, rng: random.Random, agency: Agency, seed: str) -> dict:
    if form.id == "gov-info-disclosure-2021":
        return figures_2021(random.Random(seed), agency.group)
    return figures_2017(form, rng, agency.group, seed)


def _request(form, agency: Agency | None, values: dict, date: dt.date) -> TemplateRequest:
    header = header_values(form, seed=agency.code if agency else "x")
    header.update({k: v for k, v in header.items()})
    for f in form.header:
        if f.spec.type == "date":
            header[f.code] = date
    return TemplateRequest(agency=agency, year=form.period_default, password="sample",
                           template_id=f"sample-{agency.code if agency else 'blank'}", generated_at=STAMP,
                           values={**as_inputs(form, values), **header})


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def _tamper_label(path: Path, old: str, new: str) -> None:
    """Edit one label in the shared strings, as an agency typing over a locked label would."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/sharedStrings.xml":
                data = data.replace(old.encode(), new.encode(), 1)
            dst.writestr(info, data)
    tmp.replace(path)


def build(form_id: str, out: Path, roster: list[Agency], take: int, real: dict, real_code: str, seed: int) -> None:
    form = load_form(resolve(form_id))
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    chosen = roster[:take]
    base = dt.date(int(form.period_default) + 1, 1, 10)
    names = {}
    for i, a in enumerate(chosen):
        values = dict(real) if a.code == real_code else figures(form, rng, a, f"{seed}-{a.code}")
        names[a.code] = out / f"{a.code}_{a.name}.xlsx"
        _write(names[a.code], build_template(form, _request(form, a, values, base + dt.timedelta(days=i % 15))))
    inputs = [i.code for i in form.inputs if i.spec.numeric]
    # 1. a number cell answered with text
    a = chosen[1]
    values = figures(form, rng, a, f"{seed}-{a.code}")
    values[inputs[0]] = "无"
    _write(names[a.code], build_template(form, _request(form, a, values, base)))
    # 2. an accounting identity broken (an error where the form has one that typing can break —
    #    Form A's identities are all computed totals — else a warning)
    a = chosen[2]
    values = figures(form, rng, a, f"{seed}-{a.code}")
    for severity in ("error", "warning"):
        broken = None
        for inst in (i for i in form.instances if i.severity == severity):
            for victim in (c for c in inst.reads if c not in form.computed):
                trial = {**values, victim: (values.get(victim) or 0) + 7}
                if any(r.instance is inst for r in failures(form, trial)):
                    broken = trial
                    break
            if broken:
                break
        if broken:
            values = broken
            break
    _write(names[a.code], build_template(form, _request(form, a, values, base)))
    # 3. a label typed over: the file is rejected
    a = chosen[3]
    label = next(t.text for sl in __import__("toolkit.layout", fromlist=["x"]).layout_of(form).sheets for t in sl.texts if t.role == "label" and len(t.text) > 4)
    _tamper_label(names[a.code], label, label[:-1] + "（改）")
    # 4. the same agency twice: a corrected resubmission with a later 填报日期
    a = chosen[4]
    values = figures(form, rng, a, f"{seed}-{a.code}-v2")
    _write(out / f"{a.code}_{a.name}（更正）.xlsx", build_template(form, _request(form, a, values, base + dt.timedelta(days=20))))
    # 5. an agency that is not on the roster
    stranger = Agency(code="X901", name="市某某服务中心", group="其他单位")
    _write(out / "X901_市某某服务中心.xlsx", build_template(form, _request(form, stranger, figures(form, rng, stranger, "stranger"), base)))


def main() -> None:
    roster = read_roster(HERE / "sample-roster.csv")
    build("gov-info-disclosure-2021", HERE / "returns-2021", roster, take=40, real=COUNTY_2023, real_code="D029", seed=2021)
    build("gov-info-disclosure-2017", HERE / "returns-2017", roster, take=12, real={}, real_code="", seed=2017)
    # the seed's own agency (市科学技术协会 = O001) with its real 2017 figures
    form = load_form(resolve("gov-info-disclosure-2017"))
    o001 = next(a for a in roster if a.code == "O001")
    _write(HERE / "returns-2017" / "O001_市科学技术协会.xlsx", build_template(form, _request(form, o001, SEED_2017, dt.date(2018, 3, 29))))
    for form_id in ("gov-info-disclosure-2017", "gov-info-disclosure-2021"):
        out = HERE / "templates" / form_id
        if out.exists():
            shutil.rmtree(out)
        generate_templates(load_form(resolve(form_id)), out, roster[:3], password="sample", jobs=1)
    print("sample workbooks written under", HERE)


if __name__ == "__main__":
    main()
