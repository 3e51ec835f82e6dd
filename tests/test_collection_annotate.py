"""退回 and 催报 from a collection: the latest version with problems of each agency is written back
as its annotated copy (read again from the stored bytes), and the 催报清单 follows the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import toolkit
from toolkit.cli import main

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "workbooks" / "sample-roster.csv"
RETURNS = ROOT / "workbooks" / "returns-2021"


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_collect_annotate_and_remind(tmp_path):
    runner = CliRunner(env={"TOOLKIT_LANG": "zh"})
    db = tmp_path / "c.db"
    for args in (["collect", "init", str(db), "--form", "gov-info-disclosure-2021", "--year", "2023", "--roster", str(ROSTER)],
                 ["collect", "receive", str(db), str(RETURNS)]):
        r = runner.invoke(main, args)
        assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["collect", "annotate", str(db), "-o", str(tmp_path / "back"), "--deadline", "2月10日"])
    assert r.exit_code == 0, r.output
    assert r.output.strip().endswith("退回工作簿 2 份，退回通知 1 份")
    copies = sorted((tmp_path / "back").glob("*_退回.xlsx"))
    # the copies read back with the very figures and problems of the files received
    originals = {res.identity.agency_code: res for res in toolkit.check(RETURNS) if res.identity and res.status == "invalid"}
    for back in toolkit.check(copies):
        o = originals[back.identity.agency_code]
        assert back.values == o.values
        assert [(i.kind, i.cell, i.message()) for i in back.issues] == [(i.kind, i.cell, i.message()) for i in o.issues]
        assert back.identity.revision_of == o.identity.template_id
    r = runner.invoke(main, ["collect", "remind", str(db), "-o", str(tmp_path / "r.xlsx"), "--roster", str(ROSTER),
                             "--csv", str(tmp_path / "r.csv")])
    assert r.exit_code == 0, r.output
    c = toolkit.merge(RETURNS, roster=ROSTER)
    expected = {a.code for a in c.roster} - {s.code for s in c.submissions if s.status in ("valid", "warnings")}
    rows = (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert {line.split(",")[1] for line in rows} == expected
    assert all(line.split(",")[8] for line in rows), "every agency's phone from the roster"
