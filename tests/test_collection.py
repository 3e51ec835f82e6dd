"""The collection store, every command, against SQLite and a real PostgreSQL server.

Each test runs twice: on a SQLite file and on a fresh PostgreSQL database (tests/collection_pg.py
starts a throwaway server when TOOLKIT_TEST_PG_URL is not set). The bundled sample returns are the
fixtures; what the store says is compared with what ``toolkit merge`` and ``toolkit check`` say of
the same files, never with numbers written into the test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from collection_pg import pg_server, pg_url  # noqa: F401  (fixtures)

from toolkit.cli import main
from toolkit.collection import CollectionError, Store, export, init_collection, summary
from toolkit.consolidation import merge
from toolkit.registry import Registry
from toolkit.roster import read_roster
from toolkit.validate import check_file

ROOT = Path(__file__).resolve().parent.parent
RETURNS = ROOT / "workbooks" / "returns-2021"
ROSTER = ROOT / "workbooks" / "sample-roster.csv"
FORM = "gov-info-disclosure-2021"
YEAR = 2023          # the period the bundled sample templates carry


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "collect.db")
    return request.getfixturevalue("pg_url")


def _init(db: str, year: int = YEAR, deadline=None) -> None:
    init_collection(db, FORM, year, str(ROSTER), deadline=deadline)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_receive_everything_and_agree_with_merge(db, tmp_path):
    _init(db)
    with Store(db) as store:
        receipts = store.receive([str(RETURNS)], jobs=2, sender="office@example.org")
        files = sorted(RETURNS.glob("*.xlsx"))
        assert [r.outcome for r in receipts] == ["stored"] * len(files)
        # every file's bytes are in the store, byte for byte, under its sha256
        for f, r in zip(files, receipts):
            assert r.sha256 == _sha(f)
            assert store.blob(r.sha256) == f.read_bytes()
        c_store = store.consolidation()
        c_merge = merge([str(RETURNS)], roster=read_roster(ROSTER), jobs=2)
        assert c_store.totals == c_merge.totals
        assert c_store.counts() == c_merge.counts()
        used = lambda c: sorted((s.code, s.result.sha256) for s in c.used)
        assert used(c_store) == used(c_merge)
        # the status agrees with the check verdicts of the files themselves
        registry = Registry()                       # one for the 42 reads (a new one loads the form's schema again)
        verdicts = {r.identity.agency_code: r.status for r in (check_file(f, registry) for f in files)}
        rep = store.status()
        states = {a.code: a for a in rep.agencies}
        roster = read_roster(ROSTER)
        for a in roster:
            st = states[a.code]
            if a.code not in verdicts:
                assert st.status == "missing" and st.versions == 0
            elif a.code == "D005":                      # two versions, both valid
                assert st.status == "passed" and st.versions == 2
            else:
                assert st.status == ("passed" if verdicts[a.code] == "valid" else "invalid"), a.code
        strangers = [a for a in rep.agencies if a.status == "unknown"]
        assert [a.code for a in strangers] == [c for c in verdicts if c not in {a.code for a in roster}]
        assert all(a.last_arrival is not None for a in rep.agencies if a.versions)


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_receive_is_idempotent_and_content_addressed(db, tmp_path):
    _init(db)
    one = RETURNS / "D001_市发展和改革局.xlsx"
    copy = tmp_path / "renamed copy.xlsx"
    shutil.copy(one, copy)
    with Store(db) as store:
        first = store.receive([str(one)])
        again = store.receive([str(one), str(copy)])
        assert first[0].outcome == "stored"
        assert [r.outcome for r in again] == ["already", "already"]
        assert {r.return_id for r in first + again} == {first[0].return_id}
        assert len(store.history("D001")) == 1
        # a second collection (another period) in the same store shares the stored bytes
    init_collection(db, FORM, YEAR - 1, str(ROSTER))
    with Store(db) as store:
        colls = store.collections()
        assert len(colls) == 2
        # the 2023 return is routed to the 2023 collection by its identity
        routed = store.receive([str(one)])
        assert routed[0].outcome == "already" and routed[0].collection.endswith(str(YEAR))
        forced = store.receive([str(one)], collection=f"{FORM}/{YEAR - 1}")
        assert forced[0].outcome == "stored" and forced[0].status == "rejected"
        import sqlalchemy as sa

        from toolkit.collection import tables as t
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.blobs)).scalar() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(t.returns)).scalar() == 2
        # the wrong-period version is kept, with a reason naming both periods
        v = store.history("D001", collection=f"{FORM}/{YEAR - 1}")[0]
        assert v.status == "rejected" and str(YEAR) in v.reason and str(YEAR - 1) in v.reason


def test_history_shows_exactly_the_values_that_changed(db):
    _init(db)
    a, b = RETURNS / "D005_市公安局.xlsx", RETURNS / "D005_市公安局（更正）.xlsx"
    with Store(db) as store:
        store.receive([str(a)])
        store.receive([str(b)])
        versions = store.history("D005")
    va, vb = check_file(a).values, check_file(b).values
    expected = {k for k in set(va) | set(vb) if va.get(k) != vb.get(k)}
    assert expected, "the sample's correction changes some values"
    assert [v.sha256 for v in versions] == [_sha(a), _sha(b)]
    assert versions[0].changes == [] and versions[0].compared_with is None
    assert versions[1].compared_with == versions[0].id
    assert {ch.code for ch in versions[1].changes} == expected
    for ch in versions[1].changes:
        assert (ch.before, ch.after) == (va.get(ch.code), vb.get(ch.code))
    assert [v.counted for v in versions] == [False, True]


def test_pin_changes_what_counts_and_refuses_invalid(db):
    _init(db)
    a, b = RETURNS / "D005_市公安局.xlsx", RETURNS / "D005_市公安局（更正）.xlsx"
    bad = RETURNS / "D002_市经济和信息化局.xlsx"
    with Store(db) as store:
        store.receive([str(a), str(b), str(bad)], jobs=2)
        first = store.history("D005")[0]
        store.pin("D005", first.id)
        c = store.consolidation()
        assert [s.result.sha256 for s in c.used if s.code == "D005"] == [_sha(a)]
        assert store.status().agencies[4].counted_id == first.id
        only_a = merge([str(a)], jobs=1)
        assert c.totals == only_a.totals
        with pytest.raises(CollectionError):
            store.pin("D002", store.history("D002")[0].id)
        with pytest.raises(CollectionError):
            store.pin("D005", 999999)
        store.pin("D005", None)
        assert [s.result.sha256 for s in store.consolidation().used if s.code == "D005"] == [_sha(b)]


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_later_invalid_version_does_not_displace_a_valid_one(db, tmp_path):
    """D003's sample has errors; sent after D001's valid file under D001's … no: use one agency's own
    valid and invalid files — D005 valid, then D005 with a planted error (a copy of D002's problem)."""
    _init(db)
    valid = RETURNS / "D005_市公安局.xlsx"
    invalid = _planted_error(tmp_path, RETURNS / "D005_市公安局（更正）.xlsx")
    assert check_file(invalid).status == "invalid"
    with Store(db) as store:
        store.receive([str(valid)])
        store.receive([str(invalid)])
        st = {a.code: a for a in store.status().agencies}["D005"]
        assert st.status == "invalid"                          # the latest arrival has errors …
        assert st.counted_sha256 == _sha(valid)                # … the earlier valid one still counts
        store.send_back("D005", "请更正")
        st = {a.code: a for a in store.status().agencies}["D005"]
        assert st.status == "sent_back" and st.note == "请更正"


def _planted_error(tmp_path: Path, src: Path) -> Path:
    """A copy of a return with text typed into a number cell, edited with openpyxl (keeps the template's identity)."""
    out = tmp_path / src.name.replace(".xlsx", "_err.xlsx")
    from toolkit import load_form
    from toolkit.formulas import a1
    from toolkit.layout import layout_of
    lay = layout_of(load_form("gov-info-disclosure-2021"))
    first = min((c for c in lay.cells.values() if c.sheet == "二、主动公开情况"), key=lambda c: (c.row, c.col))
    wb = openpyxl.load_workbook(src)
    ws = wb["二、主动公开情况"]
    ws[a1(first.row, first.col)] = "无"       # the first input cell of the sheet, wherever the layout puts it
    wb.save(out)
    return out


def test_deadline_overdue_and_late(db):
    import datetime as dt
    _init(db, deadline=dt.date(2024, 1, 31))
    with Store(db) as store:
        store.receive([str(RETURNS / "D001_市发展和改革局.xlsx")])
        before = store.status(now=dt.datetime(2024, 1, 20, tzinfo=dt.UTC))
        after = store.status(now=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    assert {a.status for a in before.agencies if a.code != "D001"} == {"missing"}
    assert {a.status for a in after.agencies if a.code != "D001"} == {"overdue"}
    d001 = [a for a in after.agencies if a.code == "D001"][0]
    assert d001.status == "passed" and d001.late      # received (now) after the 2024 deadline


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_summary_and_export_from_the_store(db, tmp_path):
    _init(db)
    with Store(db) as store:
        store.receive([str(RETURNS)], jobs=2)
        c = summary(store, tmp_path / "汇总.xlsx")
        paths = export(store, tmp_path / "export")
    merged = merge([str(RETURNS)], roster=read_roster(ROSTER), jobs=2)
    from toolkit.summary import write_summary
    write_summary(merged, tmp_path / "merge.xlsx")
    ws_store = openpyxl.load_workbook(tmp_path / "汇总.xlsx", read_only=True)
    ws_merge = openpyxl.load_workbook(tmp_path / "merge.xlsx", read_only=True)
    assert ws_store.sheetnames == ws_merge.sheetnames
    first = ws_store.sheetnames[0]
    # the form-shaped total sheets are identical cell for cell
    rows = lambda wb, name: [tuple(r) for r in wb[name].iter_rows(values_only=True)]
    assert rows(ws_store, first) == rows(ws_merge, first)
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["totals"] == {k: v for k, v in merged.totals.items() if k in data["totals"]}
    manifest = list(csv.DictReader(io.StringIO((paths["files"] / "manifest.csv").read_text(encoding="utf-8-sig"))))
    assert len(manifest) == len(c.used)
    for m in manifest:
        f = paths["files"] / m["file"]
        assert hashlib.sha256(f.read_bytes()).hexdigest() == m["sha256"]
        assert any(_sha(src) == m["sha256"] for src in RETURNS.glob("*.xlsx"))


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_cli_commands(db, tmp_path):
    run = CliRunner().invoke
    r = run(main, ["collect", "init", db, "--form", FORM, "--year", str(YEAR), "--roster", str(ROSTER)])
    assert r.exit_code == 0, r.output
    r = run(main, ["collect", "receive", db, str(RETURNS / "D005_市公安局.xlsx"), str(RETURNS / "D005_市公安局（更正）.xlsx"),
                   str(RETURNS / "D004_市科学技术局.xlsx"), "--sender", "张三"])
    assert r.exit_code == 0, r.output
    assert "拒收" in r.output and "已接收为版本" in r.output
    r = run(main, ["collect", "status", db, "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    by = {a["code"]: a for a in doc["agencies"]}
    assert by["D005"]["status"] == "passed" and by["D005"]["versions"] == 2
    assert by["D004"]["status"] == "invalid" and by["D004"]["status_label"] == "已报送有误"
    assert doc["counts"]["missing"] == len(read_roster(ROSTER)) - 2
    r = run(main, ["collect", "status", db, "--format", "csv", "--lang", "en"])
    rows = list(csv.DictReader(io.StringIO(r.output.lstrip("\ufeff"))))
    assert {x["code"]: x["status_label"] for x in rows}["D004"] == "received with errors"
    r = run(main, ["collect", "status", db])
    assert "已通过 1" in r.output and "已报送有误 1" in r.output
    r = run(main, ["collect", "history", db, "D005"])
    assert r.exit_code == 0 and "张三" in r.output and "个数值不同" in r.output
    first = json.loads(run(main, ["collect", "history", db, "D005", "--format", "json"]).output)["versions"][0]["id"]
    r = run(main, ["collect", "pin", db, "D005", str(first)])
    assert r.exit_code == 0 and f"#{first}" in r.output
    r = run(main, ["collect", "summary", db, "-o", str(tmp_path / "s.xlsx")])
    assert r.exit_code == 0 and (tmp_path / "s.xlsx").is_file()
    r = run(main, ["collect", "export", db, "-o", str(tmp_path / "exp")])
    assert r.exit_code == 0 and (tmp_path / "exp" / "files" / "manifest.csv").is_file()
    # bad input: one line, non-zero, no traceback
    for args in (["collect", "history", db, "NOPE"], ["collect", "pin", db, "D005", "99999"],
                 ["collect", "init", db, "--form", FORM, "--year", str(YEAR), "--roster", str(ROSTER)]):
        r = run(main, args)
        assert r.exit_code == 1 and r.output.count("\n") == 1 and "Traceback" not in r.output, (args, r.output)


def test_cli_missing_store_is_one_line(tmp_path):
    r = CliRunner().invoke(main, ["collect", "status", str(tmp_path / "none.db")])
    assert r.exit_code == 1 and "收集库不存在" in r.output and not (tmp_path / "none.db").exists()
    r = CliRunner().invoke(main, ["collect", "status", "mysql://x/y", "--lang", "en"])
    assert r.exit_code == 1 and "only a SQLite file or a postgresql:// URL" in r.output


def test_migrations_create_exactly_the_tables(db):
    """The Alembic migrations and the SQLAlchemy table descriptions agree (a column added to one
    without the other is caught)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from toolkit.collection.tables import metadata

    _init(db)
    with Store(db) as store, store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


@pytest.mark.slow  # slow: over a second of whole-roster work; the quick run keeps smaller tests of the same command
def test_init_issues_templates_and_records_their_ids(tmp_path):
    """`init --templates` writes one template per agency and the store remembers each template id;
    a template filled in as it was sent is received and counted for its agency."""
    import sqlalchemy as sa

    from toolkit.collection import tables as t
    from toolkit.template import MANIFEST_NAME

    db = str(tmp_path / "c.db")
    out = tmp_path / "templates"
    r = CliRunner().invoke(main, ["collect", "init", db, "--form", FORM, "--year", "2024", "--roster", str(ROSTER),
                                  "--templates", str(out)])
    assert r.exit_code == 0, r.output
    manifest = list(csv.DictReader(io.StringIO((out / MANIFEST_NAME).read_text(encoding="utf-8-sig"))))
    with Store(db) as store, store.engine.connect() as conn:
        recorded = {row.template_id: row.agency_code for row in conn.execute(sa.select(t.templates))}
    assert len(recorded) == len(read_roster(ROSTER)) == len([m for m in manifest if m.get("template_id")])
    first = next(m for m in manifest if m.get("template_id"))
    assert recorded[first["template_id"]] == first["agency_code"]
    # an unfilled template is a (blank) return of its agency for 2024: received and routed by its identity
    with Store(db) as store:
        rec = store.receive([str(out / first["file"])])[0]
    assert rec.outcome == "stored" and rec.agency_code == first["agency_code"]
