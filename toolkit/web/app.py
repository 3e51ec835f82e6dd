"""Routes: the agency's page (``/a/<token>``), the office (``/office``), the API (``/api/v1``).

Every handler resolves who is asking (a link token, an office session or password) before it
touches the store, and answers with a page or JSON built from the store's own data. Blocking
store calls run in threads, and checks in at most ``CHECKS`` at a time (each check is a worker
process; more at once would only make every upload slower on a small machine).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..collection import access
from ..collection.errors import CollectionError
from ..collection.model import AGENCY_STATUS
from ..collection.store import Store, UploadRefused
from .security import LOGIN_COOKIE, SESSION_COOKIE, SESSION_SECONDS, Keys, RateLimit, mask_path, read_multipart

log = logging.getLogger("toolkit.web")

MAX_UPLOAD = int(os.environ.get("TOOLKIT_WEB_MAX_UPLOAD", 20 * 1024 * 1024))   # bytes of one request body
UPLOADS_PER_MINUTE = int(os.environ.get("TOOLKIT_WEB_RATE", 30))               # per agency link
CHECKS = max(1, int(os.environ.get("TOOLKIT_WEB_CHECKS", os.cpu_count() or 1)))

STATIC = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}
VERDICT = {"valid": ("已通过", "passed"), "invalid": ("有错误", "has errors"), "rejected": ("拒收", "rejected")}
ERRORS = {
    400: ("请求有误", "bad request"), 401: ("请先登录", "please log in"), 403: ("无权访问或表单已过期，请刷新页面后重试", "forbidden, or the form expired: reload the page and try again"),
    404: ("链接无效或已被收回，请联系统计部门", "this link is not valid or was revoked; ask the office"),
    405: ("不支持的请求方法", "method not allowed"), 413: ("文件太大", "the file is too large"),
    415: ("请以表单上传文件", "send the file as a multipart form"), 422: ("无法接收", "not accepted"),
    429: ("上传过于频繁，请稍后再试", "too many uploads; try again in a minute"), 500: ("服务器内部错误", "internal error"),
}


def create_app(db: str, schema_dirs: tuple[str, ...] = ()) -> Starlette:
    store = Store(db, schema_dirs=schema_dirs)
    web = Web(store)
    routes = [
        Route("/", web.home), Route("/static/{name}", web.static), Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/a/{token}", web.agency_page), Route("/a/{token}/upload", web.agency_upload, methods=["POST"]),
        Route("/a/{token}/template", web.agency_template), Route("/a/{token}/copy/{rid:int}", web.agency_copy),
        Route("/office/login", web.login, methods=["GET", "POST"]), Route("/office/logout", web.logout, methods=["POST"]),
        Route("/office", web.dashboard), Route("/office/count.json", web.count),
        Route("/office/agency/{code}", web.office_agency), Route("/office/agency/{code}/pin", web.office_pin, methods=["POST"]),
        Route("/office/version/{rid:int}/file", web.office_file), Route("/office/version/{rid:int}/copy", web.office_copy),
        Route("/office/download/{what}", web.office_download),
        Route("/api/v1/returns", web.api_returns, methods=["POST"]), Route("/api/v1/status", web.api_status),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: web.http_error, Exception: web.server_error},
                    lifespan=_closing(store))
    app.add_middleware(_LogAndHeaders)
    app.state.web = web
    return app


def create_app_from_env() -> Starlette:
    """For ``uvicorn --workers N`` (an import string): the store named by TOOLKIT_WEB_DB."""
    return create_app(os.environ["TOOLKIT_WEB_DB"], tuple(p for p in os.environ.get("TOOLKIT_WEB_SCHEMA_DIRS", "").split(os.pathsep) if p))


def _closing(store: Store) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        app.state.web.pool.close()
        store.close()
    return lifespan


class _LogAndHeaders:
    """Log every request without secrets (the link token masked, no query, no headers) and add the
    headers every answer should carry: no sniffing, no framing, and no Referer — a link token must
    not leak to another site through it."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.monotonic(), [0]

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                            (b"referrer-policy", b"no-referrer"),
                            (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            client = (scope.get("client") or ("-",))[0]
            log.info("%s %s %s %d %.0fms", client, scope["method"], mask_path(scope["path"]), status[0], (time.monotonic() - start) * 1000)


def _lang(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in ("zh", "en"):
        return q
    c = request.cookies.get("lang")
    if c in ("zh", "en"):
        return c
    accept = request.headers.get("accept-language", "").lower()
    first = accept.split(",")[0].strip()
    return "en" if first.startswith("en") else "zh"


def _download(data: bytes, name: str, media: str) -> Response:
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in name)
    return Response(data, media_type=media, headers={
        "content-disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
        "cache-control": "no-store"})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Web:
    def __init__(self, store: Store):
        self.store = store
        self.keys = Keys(access.secret_key(store))
        self.upload_limit = RateLimit(UPLOADS_PER_MINUTE)
        self.login_limit = RateLimit(10)
        self.checks = anyio.CapacityLimiter(CHECKS)
        from ..collection.checkpool import CheckPool

        self.pool = CheckPool(store.schema_dirs, CHECKS)
        self.jinja = Environment(loader=PackageLoader("toolkit.web", "templates"), autoescape=select_autoescape(["html"]))

    # ---- rendering -------------------------------------------------------------------------

    def page(self, request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        lang = _lang(request)

        def t(zh: str, en: str) -> str:
            return en if lang == "en" else zh

        def when(d: Any) -> str:
            return d.astimezone().strftime("%Y-%m-%d %H:%M") if d else ""

        from ..report import issue_text, severity_label

        other = "zh" if lang == "en" else "en"
        ctx.setdefault("sev", lambda i: severity_label(i, lang))
        ctx.setdefault("issue_text", lambda i: issue_text(i, lang))
        html = self.jinja.get_template(name).render(t=t, lang=lang, when=when, other_lang=other, path=request.url.path,
                                                    status_label=lambda s: t(*AGENCY_STATUS[s]),
                                                    verdict=lambda s: t(*VERDICT[s]), **ctx)
        resp = HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
        if request.query_params.get("lang") in ("zh", "en"):
            resp.set_cookie("lang", lang, max_age=365 * 86400, httponly=True, samesite="lax", secure=_https(request))
        return resp

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = exc.status_code
        zh, en = ERRORS.get(code, ("请求失败", "request failed"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in ("", _default_phrase(code)) else ""
        lang = _lang(request)
        msg = (en if lang == "en" else zh) + (f": {detail}" if detail and lang == "en" else f"：{detail}" if detail else "")
        headers = getattr(exc, "headers", None)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": msg, "status": code}, status_code=code, headers=headers)
        return self.page(request, "error.html", status=code, message=msg, code=code)

    async def server_error(self, request: Request, exc: Exception) -> Response:
        log.error("%s %s: %s: %s", request.method, mask_path(request.url.path), type(exc).__name__, str(exc)[:200])
        return await self.http_error(request, HTTPException(500))

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/office", status_code=303)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:              # a fixed list: no request path reaches the file system
            raise HTTPException(404)
        data = (resources.files("toolkit.web") / "static" / name).read_bytes()
        return Response(data, media_type=STATIC[name], headers={"cache-control": "max-age=3600"})

    # ---- agencies ----------------------------------------------------------------------------

    async def _link(self, token: str) -> access.Link:
        link = await anyio.to_thread.run_sync(access.link_for_token, self.store, token)
        if link is None:
            raise HTTPException(404)
        return link

    def _agency_csrf(self, token: str) -> str:
        return self.keys.mac("agency", access.token_hash(token))

    def _agency_view(self, link: access.Link, version: int | None) -> dict[str, Any]:
        try:
            history = self.store.history(link.agency_code, link.collection.id)
        except CollectionError:         # nothing received yet
            history = []
        state = next((a for a in self.store.status(link.collection.id).agencies if a.code == link.agency_code), None)
        shown = None
        if history:
            rid = version if version in {v.id for v in history} else history[-1].id
            _, r = self.store.stored_result(rid, link.collection.id)
            shown = {"id": rid, "result": r}
        title = self.store.form(link.collection).title      # the form's title, not its id, for the clerk
        return {"link": link, "history": list(reversed(history)), "state": state, "shown": shown, "form_title": title}

    async def agency_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        link = await self._link(token)
        v = request.query_params.get("v")
        ctx = await anyio.to_thread.run_sync(self._agency_view, link, int(v) if v and v.isdigit() else None)
        return self.page(request, "agency.html", token=token, csrf=self._agency_csrf(token), **ctx)

    async def _receive(self, request: Request, token: str) -> Any:
        """The form of an upload request, within the rate limit of its link and the size limit."""
        if not self.upload_limit.allow(access.token_hash(token)):
            raise HTTPException(429, headers={"retry-after": "60"})
        return await read_multipart(request, MAX_UPLOAD)

    async def _store_upload(self, link: access.Link, upload: Any, sender: str) -> tuple[Any, Any]:
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, detail="")
        data = await upload.read()
        if not data:
            raise HTTPException(400)
        name = upload.filename or ""
        async with self.checks:
            return await anyio.to_thread.run_sync(lambda: self.store.receive_upload(data, name, link.collection.id, link.agency_code, sender, self.pool))

    async def agency_upload(self, request: Request) -> Response:
        token = request.path_params["token"]
        link = await self._link(token)
        form = await self._receive(request, token)
        if not self.keys.check("agency", access.token_hash(token), form.get("csrf")):
            raise HTTPException(403)
        lang = _lang(request)
        try:
            rec, r = await self._store_upload(link, form.get("file"), f"web:{link.agency_code}")
        except UploadRefused as e:
            raise HTTPException(422, detail=e.message(lang)) from None
        except CollectionError as e:
            raise HTTPException(422, detail=e.message(lang)) from None
        ctx = await anyio.to_thread.run_sync(self._agency_view, link, rec.return_id)
        return self.page(request, "agency.html", status=422 if r.status == "rejected" else 200, token=token,
                         csrf=self._agency_csrf(token), just=rec, **ctx)

    async def agency_template(self, request: Request) -> Response:
        link = await self._link(request.path_params["token"])

        def build() -> bytes:
            from ..roster import Agency
            from ..template import TemplateRequest, build_template, identity_for

            form = self.store.form(link.collection)
            period = link.collection.period
            req = TemplateRequest(agency=Agency(link.agency_code, link.agency_name, link.agency_group),
                                  year=int(period) if period.isdigit() else None, password=access.template_password(self.store))
            ident = identity_for(form, req)
            req = TemplateRequest(**{**req.__dict__, "template_id": ident.template_id, "generated_at": ident.generated_at})
            data = build_template(form, req)
            name = f"{link.agency_code}_{link.agency_name}.xlsx"
            self.store.record_templates(link.collection, [(ident.template_id, link.agency_code, name)])
            return data

        data = await anyio.to_thread.run_sync(build)
        return _download(data, f"{link.agency_code}_{link.agency_name}.xlsx", XLSX)

    def _copy(self, coll_id: int, rid: int, agency: str | None, lang: str) -> tuple[bytes, str]:
        """The 退回 copy of one version (or the notice, for a rejected file); 404 for another agency's."""
        from ..annotate import Office, build_copy, build_notice

        try:
            code, stored = self.store.stored_result(rid, coll_id)
        except CollectionError:
            raise HTTPException(404) from None
        if agency is not None and code != agency:
            raise HTTPException(404)
        coll = self.store.collection(coll_id)
        office = Office(deadline=coll.deadline.isoformat() if coll.deadline else "")
        stem = Path(stored.file).stem
        if stored.status == "rejected":
            return build_notice(stored, office, lang), f"{stem}_退回通知.xlsx"
        r = self.store.recheck(rid, coll_id)
        if r.status == "rejected" or r.identity is None:
            return build_notice(r, office, lang), f"{stem}_退回通知.xlsx"
        return build_copy(r, self.store.form(coll), office, access.template_password(self.store), lang), f"{stem}_退回.xlsx"

    async def agency_copy(self, request: Request) -> Response:
        link = await self._link(request.path_params["token"])
        async with self.checks:
            data, name = await anyio.to_thread.run_sync(self._copy, link.collection.id, request.path_params["rid"], link.agency_code, _lang(request))
        return _download(data, name, XLSX)

    # ---- the office ----------------------------------------------------------------------------

    def _session(self, request: Request) -> str | None:
        return self.keys.session(request.cookies.get(SESSION_COOKIE))

    def _office(self, request: Request) -> str:
        sid = self._session(request)
        if sid is None:
            raise _Redirect("/office/login")
        return sid

    async def login(self, request: Request) -> Response:
        pre = self.keys.session(request.cookies.get(LOGIN_COOKIE), max_age=3600)
        if request.method == "GET" or pre is None:
            cookie, pre = self.keys.new_session()
            resp = self.page(request, "login.html", csrf=self.keys.mac("login", pre), failed=False,
                             no_password=not access.has_password(self.store), status=200 if request.method == "GET" else 403)
            resp.set_cookie(LOGIN_COOKIE, cookie, max_age=3600, httponly=True, samesite="strict", secure=_https(request), path="/office")
            return resp
        form = await read_multipart(request, 64 * 1024) if "multipart" in request.headers.get("content-type", "") else await request.form(max_files=0, max_fields=5)
        if not self.keys.check("login", pre, form.get("csrf")):
            raise HTTPException(403)
        client = (request.client.host if request.client else "-")
        if not self.login_limit.allow(client):
            raise HTTPException(429, headers={"retry-after": "60"})
        password = form.get("password")
        ok = isinstance(password, str) and await anyio.to_thread.run_sync(access.check_password, self.store, password)
        if not ok:
            return self.page(request, "login.html", status=401, csrf=self.keys.mac("login", pre), failed=True,
                             no_password=not access.has_password(self.store))
        cookie, _ = self.keys.new_session()
        done = RedirectResponse("/office", status_code=303)
        done.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="strict", secure=_https(request))
        done.delete_cookie(LOGIN_COOKIE, path="/office")
        return done

    async def logout(self, request: Request) -> Response:
        sid = self._session(request)
        form = await request.form(max_files=0, max_fields=5)
        if sid is None or not self.keys.check("office", sid, form.get("csrf")):
            raise HTTPException(403)
        resp = RedirectResponse("/office/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    def _collection(self, request: Request) -> Any:
        ref = request.query_params.get("c") or None
        try:
            return self.store.collection(ref) if ref else self.store.collections()[0]
        except (CollectionError, IndexError):
            raise HTTPException(404) from None

    async def dashboard(self, request: Request) -> Response:
        try:
            sid = self._office(request)
        except _Redirect as r:
            return r.response()
        coll = self._collection(request)
        rep = await anyio.to_thread.run_sync(self.store.status, coll.id)
        group, status = request.query_params.get("group", ""), request.query_params.get("status", "")
        shown = [a for a in rep.agencies if (not group or a.group == group) and (not status or a.status == status)]
        groups = list(dict.fromkeys(a.group for a in rep.agencies if a.group))
        return self.page(request, "dashboard.html", rep=rep, coll=coll, shown=shown, groups=groups, group=group, status_filter=status,
                         statuses=list(AGENCY_STATUS), counts=rep.counts(), csrf=self.keys.mac("office", sid),
                         collections=self.store.collections())

    async def count(self, request: Request) -> Response:
        if self._session(request) is None:
            raise HTTPException(401)
        coll = self._collection(request)
        rep = await anyio.to_thread.run_sync(self.store.status, coll.id)
        return JSONResponse({"counts": rep.counts(), "total": len(rep.agencies), "as_of": rep.as_of.isoformat()},
                            headers={"cache-control": "no-store"})

    async def office_agency(self, request: Request) -> Response:
        try:
            sid = self._office(request)
        except _Redirect as r:
            return r.response()
        coll = self._collection(request)
        code = request.path_params["code"]
        try:
            history = await anyio.to_thread.run_sync(self.store.history, code, coll.id)
        except CollectionError:
            raise HTTPException(404) from None
        rep = await anyio.to_thread.run_sync(self.store.status, coll.id)
        state = next((a for a in rep.agencies if a.code == code), None)
        return self.page(request, "office_agency.html", coll=coll, code=code, state=state, history=list(reversed(history)),
                         csrf=self.keys.mac("office", sid))

    async def office_pin(self, request: Request) -> Response:
        sid = self._session(request)
        if sid is None:
            raise HTTPException(401)
        form = await request.form(max_files=0, max_fields=5)
        if not self.keys.check("office", sid, form.get("csrf")):
            raise HTTPException(403)
        coll = self._collection(request)
        code = request.path_params["code"]
        v = form.get("version")
        version = int(v) if isinstance(v, str) and v.isdigit() else None
        try:
            await anyio.to_thread.run_sync(self.store.pin, code, version, coll.id)
        except CollectionError as e:
            raise HTTPException(422, detail=e.message(_lang(request))) from None
        return RedirectResponse(f"/office/agency/{quote(code)}?c={coll.id}", status_code=303)

    async def office_file(self, request: Request) -> Response:
        if self._session(request) is None:
            raise HTTPException(401)
        coll = self._collection(request)
        try:
            _, stored = await anyio.to_thread.run_sync(self.store.stored_result, request.path_params["rid"], coll.id)
            data = await anyio.to_thread.run_sync(self.store.blob, stored.sha256)
        except CollectionError:
            raise HTTPException(404) from None
        return _download(data, stored.file, "application/octet-stream")

    async def office_copy(self, request: Request) -> Response:
        if self._session(request) is None:
            raise HTTPException(401)
        coll = self._collection(request)
        async with self.checks:
            data, name = await anyio.to_thread.run_sync(self._copy, coll.id, request.path_params["rid"], None, _lang(request))
        return _download(data, name, XLSX)

    async def office_download(self, request: Request) -> Response:
        if self._session(request) is None:
            raise HTTPException(401)
        coll = self._collection(request)
        what, lang = request.path_params["what"], _lang(request)
        if what not in ("summary.xlsx", "issues.csv", "remind.xlsx"):
            raise HTTPException(404)

        def build() -> tuple[bytes, str, str]:
            c = self.store.consolidation(coll.id)
            with tempfile.TemporaryDirectory(prefix="toolkit-web-") as tmp:
                if what == "summary.xlsx":
                    from ..summary import write_summary

                    write_summary(c, Path(tmp, "s.xlsx"))
                    return Path(tmp, "s.xlsx").read_bytes(), f"汇总_{coll.period}.xlsx", XLSX
                if what == "remind.xlsx":
                    from ..remind import reminders, write_reminders

                    rems = reminders(c, lang, deadline=coll.deadline.isoformat() if coll.deadline else "")
                    write_reminders(rems, Path(tmp, "r.xlsx"), lang)
                    return Path(tmp, "r.xlsx").read_bytes(), f"催报清单_{coll.period}.xlsx", XLSX
            from ..report import render_csv

            text = render_csv([s.result for s in c.submissions], lang)
            return ("\ufeff" + text if not text.startswith("\ufeff") else text).encode("utf-8"), f"问题清单_{coll.period}.csv", "text/csv; charset=utf-8"

        data, name, media = await anyio.to_thread.run_sync(build)
        return _download(data, name, media)

    # ---- the API ---------------------------------------------------------------------------------

    async def api_returns(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        link = await anyio.to_thread.run_sync(access.link_for_token, self.store, token) if token else None
        if link is None:
            raise HTTPException(401, headers={"www-authenticate": "Bearer"})
        form = await self._receive(request, token)
        lang = _lang(request)
        try:
            rec, r = await self._store_upload(link, form.get("file"), f"api:{link.agency_code}")
        except CollectionError as e:
            raise HTTPException(422, detail=e.message(lang)) from None
        from ..report import result_json

        body = json.loads(json.dumps(result_json(r, lang), ensure_ascii=False, default=str))
        return JSONResponse(body, status_code=422 if r.status == "rejected" else 200,
                            headers={"x-toolkit-version": str(rec.return_id or ""), "x-toolkit-outcome": rec.outcome})

    async def api_status(self, request: Request) -> Response:
        if self._session(request) is None:
            auth = request.headers.get("authorization", "")
            password = ""
            if auth[:6].lower() == "basic ":
                try:
                    password = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8").partition(":")[2]
                except (ValueError, UnicodeDecodeError):
                    password = ""
            client = request.client.host if request.client else "-"
            if not password or not self.login_limit.allow(client) or not await anyio.to_thread.run_sync(access.check_password, self.store, password):
                raise HTTPException(401, headers={"www-authenticate": 'Basic realm="toolkit"'})
        coll = self._collection(request)
        from ..collection.outputs import status_json

        rep = await anyio.to_thread.run_sync(self.store.status, coll.id)
        return Response(status_json(rep, _lang(request)), media_type="application/json; charset=utf-8")


class _Redirect(Exception):
    def __init__(self, to: str):
        self.to = to

    def response(self) -> Response:
        return RedirectResponse(self.to, status_code=303)


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def _default_phrase(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""

