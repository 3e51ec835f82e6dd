"""The web service through Starlette's TestClient: the agency's page, the office, the API, and
every refusal the issue names (another agency's token, forged or missing CSRF, an oversized upload,
a path-like file name, a hostile workbook) with its status code — and what the store holds after."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import shutil
import warnings
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from collection_pg import pg_server, pg_url  # noqa: F401  (fixtures)
from web_fixtures import D001, D002, D004, PASSWORD, Site, corrected_d002, csrf_of, make_site

warnings.filterwarnings("ignore", message=".*httpx.*")

from starlette.testclient import TestClient  # noqa: E402

from toolkit.cli import main  # noqa: E402
from toolkit.collection import Store  # noqa: E402
from toolkit.collection import tables as t  # noqa: E402
from toolkit.report import result_json  # noqa: E402
from toolkit.validate import check_file  # noqa: E402
from toolkit.web import app as web_app  # noqa: E402
from toolkit.web import create_app  # noqa: E402


@pytest.fixture(scope="session")
def made_site(tmp_path_factory) -> Site:
    """The sample collection's store, made once: migrations, 54 links and the office password's
    argon2 hash (deliberately slow) cost about a second, the same for every test."""
    return make_site(str(tmp_path_factory.mktemp("site") / "collect.db"))


@pytest.fixture()
def site(made_site, tmp_path) -> Site:
    """A fresh copy of that store for each test (its own file: what one test stores, no other sees)."""
    db = tmp_path / "collect.db"
    for suffix in ("", "-wal"):              # the store is closed, so the WAL is normally checkpointed away
        if Path(made_site.db + suffix).exists():
            shutil.copyfile(made_site.db + suffix, str(db) + suffix)
    return Site(str(db), dict(made_site.links))


@pytest.fixture()
def client(site):
    with TestClient(create_app(site.db)) as c:
        yield c


def _returns(db: str) -> list[dict]:
    with Store(db) as s, s.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t.returns.c.id, t.returns.c.agency_code, t.returns.c.file_name,
                                                        t.returns.c.status, t.returns.c.sha256)).mappings()]


def _upload(client, token, path_or_bytes, name=None, csrf=None, **kw):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    if csrf is None:
        csrf = csrf_of(client.get(f"/a/{token}").text)
    fields = {} if csrf is False else {"csrf": csrf}
    return client.post(f"/a/{token}/upload", data=fields, files={"file": (name or "return.xlsx", data, "application/octet-stream")}, **kw)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# ---- the agency's page ----------------------------------------------------------------------

def test_agency_page_shows_name_deadline_status_in_chinese_and_english(client, site):
    page = _text(client.get(f"/a/{site.links['D002']}").text)
    assert "D002 市经济和信息化局" in page and "2099-01-15" in page and "未报送" in page and "上传并检查" in page
    assert "政府信息公开工作年度报告统计表" in page and "gov-info-disclosure-2021" not in page    # a title, not an id
    en = client.get(f"/a/{site.links['D002']}?lang=en")
    assert "not received" in en.text and "Upload and check" in en.text
    assert "not received" in client.get(f"/a/{site.links['D002']}").text      # remembered (a cookie)
    client.cookies.clear()
    assert "not received" in client.get(f"/a/{site.links['D002']}", headers={"accept-language": "en-GB,en;q=0.8"}).text
    assert "未报送" in client.get(f"/a/{site.links['D002']}", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert client.get(f"/a/{site.links['D002']}").headers["referrer-policy"] == "no-referrer"


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_upload_with_errors_shows_each_at_its_cell_and_gives_the_annotated_copy(client, site):
    tok = site.links["D002"]
    r = _upload(client, tok, D002, name=D002.name)
    assert r.status_code == 200
    page = _text(r.text)
    expected = check_file(D002)
    assert expected.status == "invalid" and expected.errors
    for issue in expected.issues:
        assert issue.cell in page and issue.message("zh") in page
    assert "已报送有误" in page and "历次上传" in page
    rid = _returns(site.db)[0]["id"]
    copy = client.get(f"/a/{tok}/copy/{rid}")
    assert copy.status_code == 200 and copy.headers["content-disposition"].startswith("attachment")
    wb = openpyxl.load_workbook(io.BytesIO(copy.content))
    assert wb.sheetnames[0] == "退回说明"
    assert any(expected.issues[0].message("zh") in str(c.value) for row in wb["退回说明"].iter_rows() for c in row if c.value)


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_corrected_upload_passes_and_history_keeps_both(client, site, tmp_path):
    tok = site.links["D002"]
    _upload(client, tok, D002)
    r = _upload(client, tok, corrected_d002(tmp_path))
    assert r.status_code == 200
    page = _text(r.text)
    assert "已通过" in page and page.count("#") >= 2
    assert [x["status"] for x in _returns(site.db)] == ["invalid", "valid"]


def test_template_download_is_the_agencys_own(client, site, tmp_path):
    r = client.get(f"/a/{site.links['D003']}/template")
    assert r.status_code == 200 and "D003" in r.headers["content-disposition"]
    path = tmp_path / "t.xlsx"
    path.write_bytes(r.content)
    ident = check_file(path).identity
    assert ident is not None and ident.agency_code == "D003" and ident.period == "2023"
    with Store(site.db) as s, s.engine.connect() as conn:      # recorded, so the return is matched to it
        assert conn.execute(sa.select(t.templates.c.agency_code).where(t.templates.c.template_id == ident.template_id)).scalar() == "D003"


# ---- refusals -----------------------------------------------------------------------------------

def test_unknown_and_revoked_tokens_are_404(client, site):
    assert client.get("/a/not-a-token").status_code == 404
    assert "链接无效" in client.get("/a/not-a-token").text
    with Store(site.db) as store:
        from toolkit.collection.access import revoke
        assert revoke(store, "D005") == 1
    assert client.get(f"/a/{site.links['D005']}").status_code == 404
    assert _upload(client, site.links["D005"], D001, csrf="x").status_code == 404


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_another_agencys_token_sees_and_sends_nothing_of_the_other(client, site):
    _upload(client, site.links["D002"], D002)
    rid = _returns(site.db)[0]["id"]
    # D001's link cannot fetch D002's annotated copy, nor see its version
    assert client.get(f"/a/{site.links['D001']}/copy/{rid}").status_code == 404
    assert "市经济和信息化局" not in client.get(f"/a/{site.links['D001']}?v={rid}").text
    # D001's link cannot send D002's return: refused, nothing stored
    before = _returns(site.db)
    r = _upload(client, site.links["D001"], D002)
    assert r.status_code == 422 and "不是贵单位的" in r.text
    assert _returns(site.db) == before
    # nor with D002's page's CSRF token
    r = _upload(client, site.links["D001"], D001, csrf=csrf_of(client.get(f"/a/{site.links['D002']}").text))
    assert r.status_code == 403 and _returns(site.db) == before


def test_missing_or_forged_csrf_is_403_and_nothing_stored(client, site):
    tok = site.links["D001"]
    assert _upload(client, tok, D001, csrf=False).status_code == 403
    assert _upload(client, tok, D001, csrf="0" * 64).status_code == 403
    assert _returns(site.db) == []


def test_oversized_upload_is_413_while_receiving_and_nothing_stored(client, site, monkeypatch):
    monkeypatch.setattr(web_app, "MAX_UPLOAD", 50_000)
    tok = site.links["D001"]
    csrf = csrf_of(client.get(f"/a/{tok}").text)
    r = _upload(client, tok, D001.read_bytes() + b"\0" * 60_000, csrf=csrf)
    assert r.status_code == 413
    # a body that lies about its length is cut off while it arrives, too
    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.xlsx\"\r\n\r\n"
        for _ in range(100):
            yield b"\0" * 1000
    r = client.post(f"/a/{tok}/upload", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413
    r = client.post("/api/v1/returns", headers={"authorization": f"Bearer {tok}"}, files={"file": ("x.xlsx", b"\0" * 60_000)})
    assert r.status_code == 413 and r.json()["status"] == 413
    assert _returns(site.db) == []


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_path_like_file_name_never_reaches_the_file_system(client, site, tmp_path):
    target = tmp_path / "escaped.xlsx"
    name = "../" * 12 + str(target).lstrip("/")
    r = _upload(client, site.links["D001"], D001, name=name)
    assert r.status_code == 200
    assert not target.exists()
    [row] = _returns(site.db)
    assert row["file_name"] == "escaped.xlsx" and "/" not in row["file_name"]
    r = _upload(client, site.links["D002"], D002, name="..\\..\\evil.xlsx.exe")
    assert r.status_code == 200 and _returns(site.db)[-1]["file_name"] == "evil.xlsx.xlsx"


@pytest.mark.parametrize("hostile", ["truncated", "not_a_workbook", "rejected_sample"])
def test_hostile_workbook_is_422_stored_as_rejected_under_the_sender_only(client, site, hostile):
    data = {"truncated": D001.read_bytes()[: D001.stat().st_size // 2],
            "not_a_workbook": b"code,name\nD001,<script>alert(1)</script>\n",
            "rejected_sample": D004.read_bytes()}[hostile]
    r = _upload(client, site.links["D003"], data, name="<script>.xlsx")
    assert r.status_code == 422
    assert "<script>alert" not in r.text and "拒收" in r.text
    [row] = _returns(site.db)
    assert row["agency_code"] == "D003" and row["status"] == "rejected"
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    with Store(site.db) as store:           # the office sees who sent it: 已报送有误, not 不在名单
        rep = store.status()
    assert rep.counts()["unknown"] == 0 and next(a for a in rep.agencies if a.code == "D003").status == "invalid"
    copy = client.get(f"/a/{site.links['D003']}/copy/{row['id']}")
    assert copy.status_code == 200 and "_%E9%80%80%E5%9B%9E%E9%80%9A%E7%9F%A5.xlsx" in copy.headers["content-disposition"]   # _退回通知.xlsx


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_rate_limit_per_token(site, monkeypatch):
    with TestClient(create_app(site.db)) as c:
        c.app.state.web.upload_limit.count = 2
        tok = site.links["D001"]
        csrf = csrf_of(c.get(f"/a/{tok}").text)
        codes = [_upload(c, tok, D001, csrf=csrf).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert _upload(c, site.links["D002"], D002).status_code == 200      # another link is not slowed down


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_requests_are_logged_without_tokens(client, site, caplog):
    caplog.set_level(logging.INFO, logger="toolkit.web")
    tok = site.links["D001"]
    _upload(client, tok, D001)
    client.get("/api/v1/status", auth=("office", PASSWORD))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/a/***/upload" in text and tok not in text and PASSWORD not in text


# ---- the API ---------------------------------------------------------------------------------

def test_api_returns_answers_the_check_json(client, site):
    r = client.post("/api/v1/returns", headers={"authorization": f"Bearer {site.links['D002']}"},
                    files={"file": (D002.name, D002.read_bytes())})
    assert r.status_code == 200
    expected = json.loads(json.dumps(result_json(check_file(D002)), default=str))
    got = r.json()
    assert got["file"] == D002.name
    assert {k: v for k, v in got.items() if k != "file"} == {k: v for k, v in expected.items() if k != "file"}
    # the same object as `toolkit check --format json` prints for the file
    cli = json.loads(CliRunner().invoke(main, ["check", str(D002), "--format", "json"]).output)[0]
    assert {k: v for k, v in got.items() if k != "file"} == {k: v for k, v in cli.items() if k != "file"}


def test_api_refuses_without_a_valid_bearer(client, site):
    assert client.post("/api/v1/returns", files={"file": ("a.xlsx", D001.read_bytes())}).status_code == 401
    r = client.post("/api/v1/returns", headers={"authorization": "Bearer nope"}, files={"file": ("a.xlsx", D001.read_bytes())})
    assert r.status_code == 401 and "error" in r.json()
    r = client.post("/api/v1/returns", headers={"authorization": f"Bearer {site.links['D001']}"}, files={"other": ("a.xlsx", D001.read_bytes())})
    assert r.status_code == 400
    assert _returns(site.db) == []


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_api_status_is_the_cli_status_json(client, site):
    _upload(client, site.links["D002"], D002)
    assert client.get("/api/v1/status").status_code == 401
    assert client.get("/api/v1/status", auth=("office", "wrong password")).status_code == 401
    r = client.get("/api/v1/status", auth=("office", PASSWORD))
    assert r.status_code == 200
    cli = json.loads(CliRunner().invoke(main, ["collect", "status", site.db, "--format", "json"]).output)
    got = r.json()
    got.pop("as_of"), cli.pop("as_of")
    assert got == cli


# ---- the office ----------------------------------------------------------------------------------

def _login(client, password=PASSWORD):
    page = client.get("/office/login")
    return client.post("/office/login", data={"csrf": csrf_of(page.text), "password": password}, follow_redirects=False)


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_office_login_session_cookie_and_csrf(client, site):
    r = client.get("/office", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/office/login"
    assert _login(client, "wrong password").status_code == 401
    client.get("/office/login")
    assert client.post("/office/login", data={"password": PASSWORD}, follow_redirects=False).status_code == 403
    assert client.post("/office/login", data={"password": PASSWORD, "csrf": "f" * 64}, follow_redirects=False).status_code == 403
    r = _login(client)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("samesite", "SameSite") and "Max-Age" in cookie
    assert "Secure" not in cookie              # plain http on loopback; behind https it is set
    page = _text(client.get("/office").text)
    assert "报送情况" in page and "D029" in page and "未报送" in page


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_behind_https_cookies_are_secure_and_logout_needs_csrf(site):
    with TestClient(create_app(site.db), base_url="https://tongji.example") as c:
        r = _login(c)
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
        page = c.get("/office").text
        assert c.post("/office/logout", data={"csrf": "0" * 64}, follow_redirects=False).status_code == 403
        r = c.post("/office/logout", data={"csrf": csrf_of(page)}, follow_redirects=False)
        assert r.status_code == 303
        assert c.get("/office", follow_redirects=False).status_code == 303          # logged out


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_dashboard_filters_history_pin_and_downloads(client, site, tmp_path):
    _upload(client, site.links["D002"], D002)
    _upload(client, site.links["D002"], corrected_d002(tmp_path))
    _upload(client, site.links["D001"], D001)
    _login(client)
    page = client.get("/office?status=passed").text
    assert "row-D001" in page and "row-D002" in page and "row-D003" not in page
    by_group = client.get("/office?group=政府部门").text
    assert "row-D001" in by_group and "row-T001" not in by_group
    count = client.get("/office/count.json").json()
    assert count["counts"]["passed"] == 2 and count["total"] == len(site.links)
    assert count["counts"]["missing"] == len(site.links) - 2
    hist = _text(client.get("/office/agency/D002").text)
    assert "#1" in hist and "#2" in hist and "相比的变化" in hist
    rows = _returns(site.db)
    valid = next(x for x in rows if x["agency_code"] == "D002" and x["status"] == "valid")
    sid_csrf = csrf_of(client.get("/office/agency/D002").text)
    assert client.post("/office/agency/D002/pin", data={"version": str(valid["id"])}, follow_redirects=False).status_code == 403
    assert client.post("/office/agency/D002/pin", data={"version": str(valid["id"]), "csrf": "0" * 64}, follow_redirects=False).status_code == 403
    r = client.post("/office/agency/D002/pin", data={"version": str(valid["id"]), "csrf": sid_csrf}, follow_redirects=False)
    assert r.status_code == 303 and "已指定" in client.get("/office/agency/D002").text
    for what, magic in (("summary.xlsx", b"PK"), ("remind.xlsx", b"PK"), ("issues.csv", "\ufeff".encode())):
        d = client.get(f"/office/download/{what}")
        assert d.status_code == 200 and d.content.startswith(magic), what
    assert client.get("/office/download/..%2F..%2Fetc%2Fpasswd").status_code == 404
    f = client.get(f"/office/version/{valid['id']}/file")
    assert hashlib.sha256(f.content).hexdigest() == valid["sha256"]
    assert client.get(f"/office/version/{rows[0]['id']}/copy").status_code == 200


def test_office_pages_refuse_without_a_session(client, site):
    for url in ("/office/count.json", "/office/download/summary.xlsx", "/office/version/1/file", "/office/version/1/copy"):
        assert client.get(url).status_code == 401, url
    assert client.post("/office/agency/D001/pin", data={"version": "1"}).status_code == 401
    client.cookies.set("toolkit_office", "abc.def.ghi")        # a forged session
    forged = client.get("/office", follow_redirects=False)
    client.cookies.clear()
    assert forged.status_code == 303


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_links_and_passwd_commands(tmp_path):
    import datetime as dt

    from web_fixtures import FORM, ROSTER, YEAR

    from toolkit.collection import init_collection
    db = str(tmp_path / "c.db")
    init_collection(db, FORM, YEAR, str(ROSTER), deadline=dt.date(2099, 1, 1))
    out = tmp_path / "links.csv"
    r = CliRunner().invoke(main, ["collect", "links", db, "--base-url", "https://tj.example/", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8-sig")
    urls = re.findall(r"https://tj\.example/a/([\w-]+)", text)
    assert len(urls) == 54 and len(set(urls)) == 54 and all(len(u) >= 40 for u in urls)
    with Store(db) as s, s.engine.connect() as conn:
        stored = {h for (h,) in conn.execute(sa.select(t.agency_links.c.token_sha256))}
    assert not any(u in stored for u in urls)           # only hashes are kept
    assert {hashlib.sha256(u.encode()).hexdigest() for u in urls} <= stored
    r = CliRunner().invoke(main, ["collect", "passwd", db], env={"TOOLKIT_OFFICE_PASSWORD": "short"})
    assert r.exit_code == 1 and "密码太短" in r.output
    r = CliRunner().invoke(main, ["collect", "passwd", db], env={"TOOLKIT_OFFICE_PASSWORD": PASSWORD})
    assert r.exit_code == 0
    with Store(db) as s, s.engine.connect() as conn:
        h = conn.execute(sa.select(t.web_settings.c.value).where(t.web_settings.c.key == "office_password")).scalar()
    assert h.startswith("$argon2") and PASSWORD not in h


@pytest.mark.slow          # a fresh interpreter, to see what importing the CLI loads
def test_check_does_not_import_the_web_stack():
    import subprocess
    import sys
    code = "import sys; from toolkit.cli import main; print(any(m.split('.')[0] in ('starlette','uvicorn','jinja2','argon2') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_standing_check_pool_survives_a_dead_worker():
    """A worker that dies costs nothing but a re-check of its file alone (the verdict is the file's own)."""
    import os
    import signal

    from toolkit.collection.checkpool import CheckPool

    pool = CheckPool(jobs=1)
    try:
        assert pool.check(D001).status == "valid"
        for p in list(pool._get()._processes.values()):      # the worker dies, as a native crash would kill it
            os.kill(p.pid, signal.SIGKILL)
        assert pool.check(D002).status == "invalid"
        assert pool.check(D001).status == "valid"            # and a new pool serves the next upload
    finally:
        pool.close()


def test_the_web_on_postgresql(pg_url):  # noqa: F811  (the fixture)
    """The same upload, result and status on a PostgreSQL store (several server processes need one)."""
    site = make_site(pg_url)
    with TestClient(create_app(site.db)) as c:
        r = _upload(c, site.links["D002"], D002)
        assert r.status_code == 200 and "二、主动公开情况!B13" in r.text
        r = c.post("/api/v1/returns", headers={"authorization": f"Bearer {site.links['D001']}"}, files={"file": (D001.name, D001.read_bytes())})
        assert r.status_code == 200 and r.json()["status"] == "valid"
        got = c.get("/api/v1/status", auth=("office", PASSWORD)).json()
        assert got["counts"]["passed"] == 1 and got["counts"]["invalid"] == 1
        assert _upload(c, site.links["D001"], D002).status_code == 422


def test_serve_on_a_missing_store_is_one_line(tmp_path):
    r = CliRunner().invoke(main, ["serve", str(tmp_path / "nope.db")])
    assert r.exit_code == 1 and "收集库不存在" in r.output and "Traceback" not in r.output
