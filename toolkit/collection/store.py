"""The collection store's library API: create a collection, receive returns, and read it back.

Every received file is checked by the same reader in the same isolated workers as ``toolkit
check`` (:func:`toolkit.runner.check_many`), and what counts is decided by the same rules as
``toolkit merge`` (:func:`toolkit.merge.consolidate`); this module only remembers.

File bytes live in the database (table ``blobs``), not in a folder beside it: the bytes and the
row that describes them are written in one transaction, so a killed process or a full disk leaves
either the whole return or nothing — a folder cannot take part in a transaction, and a
PostgreSQL store has no folder "beside" it that every server could see.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..consolidation import Consolidation, _fill_date, consolidate
from ..identity import Identity
from ..issues import Issue
from ..package import Rejected
from ..registry import Registry
from ..roster import Agency
from ..runner import check_many
from ..schema import Form, load_form
from ..validate import Result, iter_workbooks
from . import tables as t
from .db import open_engine
from .errors import CollectionError
from .model import AgencyState, Change, CollectionInfo, Receipt, StatusReport, Version

BATCH_FILES = 32        # files stored per transaction at most …
BATCH_SECONDS = 1.0     # … and never held back longer than this


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(d: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives back naive datetimes; everything in the store is UTC."""
    if d is None:
        return None
    return d.replace(tzinfo=dt.UTC) if d.tzinfo is None else d.astimezone(dt.UTC)


class Store:
    """One open store (a SQLite file or a PostgreSQL database), migrated to the current schema."""

    def __init__(self, db: str, create: bool = False, schema_dirs: Sequence[str] = ()):
        self.db = db
        self.engine: Engine = open_engine(db, create=create)
        self.schema_dirs = tuple(schema_dirs)
        self._forms: dict[int, Form] = {}

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- collections -------------------------------------------------------------------------

    def collections(self) -> list[CollectionInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.collections).order_by(t.collections.c.id)).mappings().all()
        return [_info(r) for r in rows]

    def collection(self, ref: str | int | None = None) -> CollectionInfo:
        """The collection named by ``ref`` (id or form/period[/office]); the only one when ``ref`` is None."""
        found = self.collections()
        if not found:
            raise CollectionError(f"{self.db}: 库中还没有收集（请先运行 toolkit collect init）",
                                  f"{self.db}: the store holds no collection yet (run toolkit collect init)")
        if ref is None or ref == "":
            if len(found) == 1:
                return found[0]
            names = "、".join(c.key for c in found)
            raise CollectionError(f"{self.db}: 库中有多个收集（{names}），请用 --collection 指定",
                                  f"{self.db}: the store holds several collections ({', '.join(c.key for c in found)}); name one with --collection")
        for c in found:
            if str(ref) in (str(c.id), c.key):
                return c
        raise CollectionError(f"{self.db}: 没有名为 {ref} 的收集（已有：{'、'.join(c.key for c in found)}）",
                              f"{self.db}: no collection {ref} (there are: {', '.join(c.key for c in found)})")

    def create_collection(self, form: Form, period: str, agencies: Sequence[Agency], office: str = "",
                          deadline: dt.date | None = None) -> CollectionInfo:
        if not agencies:
            raise CollectionError("名单中没有单位", "the roster lists no agency")
        now = _now()
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(t.collections.c.id).where(
                t.collections.c.form_id == form.id, t.collections.c.period == period, t.collections.c.office == office)).first()
            if exists:
                key = "/".join(p for p in (form.id, period, office) if p)
                raise CollectionError(f"{self.db}: 收集 {key} 已经存在", f"{self.db}: the collection {key} exists already")
            cid = conn.execute(t.collections.insert().values(
                form_id=form.id, form_version=form.version, period=period, office=office, deadline=deadline,
                form_document=form.document, created_at=now)).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(t.agencies.insert(), [{"collection_id": cid, "code": a.code, "name": a.name, "grp": a.group,
                                                "position": i} for i, a in enumerate(agencies)])
        return self.collection(cid)

    def record_templates(self, coll: CollectionInfo, rows: Sequence[tuple[str, str, str]]) -> None:
        """Remember issued templates as (template id, agency code, file name)."""
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(t.templates.insert(), [{"collection_id": coll.id, "template_id": tid, "agency_code": code,
                                                 "file_name": name, "issued_at": now} for tid, code, name in rows])

    def form(self, coll: CollectionInfo) -> Form:
        """The collection's form: the shipped or --schema-dir edition, else the copy kept in the store."""
        if coll.id not in self._forms:
            registry = Registry(self.schema_dirs)
            try:
                self._forms[coll.id] = registry.get(coll.form_id, coll.form_version)
            except Rejected:            # not shipped nor in --schema-dir: the copy kept in the store
                with self.engine.connect() as conn:
                    doc = conn.execute(sa.select(t.collections.c.form_document).where(t.collections.c.id == coll.id)).scalar()
                if not doc:
                    raise CollectionError(f"找不到表单 {coll.form_id} {coll.form_version}（请用 --schema-dir 指定）",
                                          f"form {coll.form_id} {coll.form_version} not found (use --schema-dir)") from None
                self._forms[coll.id] = load_form(doc, f"<{self.db}: {coll.form_id}>")
        return self._forms[coll.id]

    def agencies(self, coll: CollectionInfo) -> list[Agency]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.agencies).where(t.agencies.c.collection_id == coll.id)
                                .order_by(t.agencies.c.position)).mappings().all()
        return [Agency(code=r["code"], name=r["name"], group=r["grp"], line=r["position"] + 2) for r in rows]

    # ---- receiving ---------------------------------------------------------------------------

    def receive(self, paths: Sequence[str], collection: str | int | None = None, sender: str = "",
                jobs: int | None = None, progress: Callable[[Receipt], None] | None = None) -> list[Receipt]:
        """Check every workbook under ``paths`` in isolated workers and store each as it is checked.

        Files are stored as their checks finish, a few at a time (at most BATCH_FILES files or
        BATCH_SECONDS), each batch in one transaction, so a run killed half-way keeps what it had
        stored and a retry stores only the rest (a file already in the collection, byte for byte,
        is recognised by its sha256 and not checked or stored again).
        """
        colls = self.collections()
        if not colls:
            self.collection(None)   # raises: no collection yet
        fixed = self.collection(collection) if collection not in (None, "") else None
        files = all_files = iter_workbooks(list(paths))
        if not files:
            raise CollectionError("在给定路径下没有找到工作簿（.xlsx .xlsm .xls .ods）",
                                  "no workbooks (.xlsx .xlsm .xls .ods) found under the given paths")
        receipts: dict[str, Receipt] = {}
        target = fixed or (colls[0] if len(colls) == 1 else None)
        if target is not None:
            # a retry after a kill: files already in the collection, byte for byte, are not checked again
            files = self._skip_known(files, target, receipts, progress)
        with self._worker_schemas(colls) as schema_dirs:
            registry = Registry(schema_dirs)

            pending: list[tuple[Receipt, Result, dict[str, Any] | None, bytes]] = []
            started = [0.0]

            def flush() -> None:
                self._write_batch(pending)
                for rec, *_ in pending:
                    if progress:
                        progress(rec)
                pending.clear()

            def store_one(r: Result) -> None:
                rec, row, data = self._prepare(r, colls, fixed, sender)
                receipts[r.file] = rec
                if not pending:
                    started[0] = time.monotonic()
                pending.append((rec, r, row, data))
                if len(pending) >= BATCH_FILES or time.monotonic() - started[0] > BATCH_SECONDS:
                    flush()

            if files:
                check_many(files, registry, schema_dirs=schema_dirs, jobs=jobs, progress=store_one)
            flush()
        return [receipts[str(f)] for f in all_files]

    def _skip_known(self, files: list[Path], coll: CollectionInfo, receipts: dict[str, Receipt],
                    progress: Callable[[Receipt], None] | None) -> list[Path]:
        hashes = {}
        for f in files:
            try:
                hashes[f] = _file_sha256(f)
            except OSError:
                pass
        with self.engine.connect() as conn:
            known = dict(conn.execute(sa.select(t.returns.c.sha256, t.returns.c.id).where(
                t.returns.c.collection_id == coll.id, t.returns.c.sha256.in_(set(hashes.values())))).all()) if hashes else {}
        rest = []
        for f in files:
            rid = known.get(hashes.get(f, ""))
            if rid is None:
                rest.append(f)
                continue
            rec = Receipt(file=str(f), outcome="already", collection=coll.key, return_id=rid, sha256=hashes[f])
            rec.message_zh = f"{f}: 此前已接收（版本 #{rid}，内容完全相同），未重复保存"
            rec.message_en = f"{f}: received before (version #{rid}, identical bytes); not stored again"
            receipts[str(f)] = rec
            if progress:
                progress(rec)
        return rest

    @contextmanager
    def _worker_schemas(self, colls: Sequence[CollectionInfo]) -> Iterator[tuple[str, ...]]:
        """The schema folders the reader's workers need: --schema-dir plus the forms kept in the store."""
        with tempfile.TemporaryDirectory(prefix="toolkit-collect-") as tmp:
            known = set(Registry(self.schema_dirs).known())
            extra = False
            for c in colls:
                if (c.form_id, c.form_version) in known:
                    continue
                form = self.form(c)
                Path(tmp, f"{c.id}.json").write_text(json.dumps(form.document, ensure_ascii=False), encoding="utf-8")
                extra = True
            yield self.schema_dirs + ((tmp,) if extra else ())

    def _route(self, r: Result, colls: Sequence[CollectionInfo], fixed: CollectionInfo | None) -> CollectionInfo | None:
        if fixed is not None:
            return fixed
        ident = r.identity
        if ident is not None and ident.schema_id:
            same = [c for c in colls if c.form_id == ident.schema_id and c.period == ident.period]
            if len(same) == 1:
                return same[0]
            same_form = [c for c in colls if c.form_id == ident.schema_id]
            if len(same_form) == 1:
                return same_form[0]
        return colls[0] if len(colls) == 1 else None

    def _prepare(self, r: Result, colls: Sequence[CollectionInfo], fixed: CollectionInfo | None,
                 sender: str) -> tuple[Receipt, dict[str, Any] | None, bytes]:
        """The row to store for one checked file (None, with the reason in the receipt, when it cannot be)."""
        name = Path(r.file).name
        rec = Receipt(file=r.file, outcome="error", sha256=r.sha256)
        coll = self._route(r, colls, fixed)
        if coll is None:
            rec.message_zh = f"{r.file}: 无法判断属于哪个收集，请用 --collection 指定（未保存）"
            rec.message_en = f"{r.file}: cannot tell which collection it belongs to; name one with --collection (not stored)"
            return rec, None, b""
        rec.collection = coll.key
        try:
            data = Path(r.file).read_bytes()
        except OSError as e:
            rec.message_zh = f"{r.file}: 无法读取：{e.strerror or e}（未保存）"
            rec.message_en = f"{r.file}: cannot read: {e.strerror or e} (not stored)"
            return rec, None, b""
        sha = hashlib.sha256(data).hexdigest()
        if r.sha256 and sha != r.sha256:
            rec.message_zh = f"{r.file}: 文件在检查期间被改动，请重新接收（未保存）"
            rec.message_en = f"{r.file}: the file changed while it was being checked; receive it again (not stored)"
            return rec, None, b""
        rec.sha256 = sha
        _check_against(r, coll)
        form = self.form(coll) if r.status != "rejected" else None
        fill = _fill_date(form, r) if form is not None else None
        ident = r.identity
        code = ident.agency_code if ident and ident.agency_code else ""
        if not code:
            code = f"?{ident.agency_name}" if ident and ident.agency_name else f"?{name}"
        rec.agency_code, rec.status = code, r.status
        row = {
            "collection_id": coll.id, "agency_code": code, "sha256": sha, "file_name": name, "sender": sender,
            "arrived_at": _now(), "status": r.status, "reason_zh": r.reason_zh, "reason_en": r.reason_en,
            "n_errors": len(r.errors), "n_warnings": len(r.warnings), "fill_date": fill.isoformat() if fill else None,
            "template_id": ident.template_id if ident else "",
            "identity": dict(ident.items()) if ident else None,
            "values": json.loads(json.dumps(r.values, default=str)),
            "issues": [_issue_json(i) for i in r.issues],
        }
        return rec, row, data

    def _write_batch(self, batch: Sequence[tuple[Receipt, Result, dict[str, Any] | None, bytes]]) -> None:
        """Store a few checked files in one transaction: each return whole (bytes and row) or not at all.

        A transaction per handful of files rather than per file: on PostgreSQL every commit waits
        for the disk, and on SQLite every commit takes the write lock anew.
        """
        todo = [(rec, r, row, data) for rec, r, row, data in batch if row is not None]
        if not todo:
            return
        with self.engine.begin() as conn:
            for rec, _r, row, data in todo:
                assert row is not None
                conn.execute(_insert_ignore(conn, t.blobs, ["sha256"]).values(sha256=row["sha256"], size=len(data), data=data))
                new = conn.execute(_insert_ignore(conn, t.returns, ["collection_id", "sha256"]).values(**row)
                                   .returning(t.returns.c.id)).scalar()
                if new is not None:
                    rec.return_id, rec.outcome = new, "stored"
                else:
                    rec.return_id = conn.execute(sa.select(t.returns.c.id).where(
                        t.returns.c.collection_id == row["collection_id"], t.returns.c.sha256 == row["sha256"])).scalar_one()
                    rec.outcome = "already"
        for rec, r, _row, _data in todo:
            _describe(rec, r)

    def receive_upload(self, data: bytes, name: str, collection: str | int | None, agency: str,
                       sender: str = "", pool: Any = None) -> tuple[Receipt, Result]:
        """Check one uploaded file for ``agency`` and store it; the web's (and the API's) receive.

        The same isolated worker and limits as :meth:`receive`. The file name is the sender's word
        only: it is reduced to a safe base name (:func:`upload_name`) before it is written, in a
        fresh temporary folder. A return made from another agency's template is refused
        (:class:`UploadRefused`, nothing stored); an unreadable one is stored as rejected, filed
        under ``agency`` (the office sees what arrived, as with ``collect receive``). ``pool``, a
        :class:`toolkit.collection.checkpool.CheckPool`, keeps workers between uploads.
        """
        coll = self.collection(collection)
        safe = upload_name(name)
        with tempfile.TemporaryDirectory(prefix="toolkit-upload-") as tmp, self._worker_schemas([coll]) as schema_dirs:
            path = Path(tmp, safe)
            path.write_bytes(data)
            if pool is not None and tuple(schema_dirs) == tuple(pool.schema_dirs):
                r = pool.check(path)
            else:
                [r] = check_many([path], Registry(schema_dirs), schema_dirs=schema_dirs, jobs=1)
            _check_against(r, coll)
            ident = r.identity
            if r.status != "rejected" and ident is not None and ident.agency_code and ident.agency_code != agency:
                raise UploadRefused(f"这是 {ident.agency_code} {ident.agency_name} 的报表，不是贵单位的（未保存）",
                                    f"this is the return of {ident.agency_code} {ident.agency_name}, not yours (not stored)")
            rec, row, stored = self._prepare(r, [coll], coll, sender)
        r.file = rec.file = safe
        if row is None:
            raise CollectionError(rec.message_zh, rec.message_en)
        row["agency_code"] = rec.agency_code = agency
        if not row["identity"] or row["identity"].get("agency_code") != agency:
            # an unreadable file (or one whose identity cannot be trusted) still came from a known
            # sender: file it under that agency, so its status says 已报送有误 (with the reason)
            # rather than 不在名单 or another agency's
            names = {a.code: a.name for a in self.agencies(coll)}
            blank = {f.name: "" for f in dataclasses.fields(Identity)}
            row["identity"] = {**blank, **(row["identity"] or {}), "agency_code": agency, "agency_name": names.get(agency, "")}
        self._write_batch([(rec, r, row, stored)])
        return rec, r

    def stored_result(self, return_id: int, collection: str | int | None = None) -> tuple[str, Result]:
        """One stored version as a check result (values and issues as they were found), with its agency."""
        coll = self.collection(collection)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.returns).where(t.returns.c.collection_id == coll.id, t.returns.c.id == return_id)).mappings().first()
        if row is None:
            raise CollectionError(f"没有版本 #{return_id}", f"no version #{return_id}")
        r = Result(file=row["file_name"], sha256=row["sha256"], status=row["status"], reason_zh=row["reason_zh"],
                   reason_en=row["reason_en"], identity=Identity(**row["identity"]) if row["identity"] else None)
        r.values = dict(row["values"])
        r.issues = [Issue(**i) for i in row["issues"]]
        return row["agency_code"], r

    def recheck(self, return_id: int, collection: str | int | None = None) -> Result:
        """Read a stored version again, in an isolated worker (for the 退回 copy, which needs what the
        cells held exactly, not only the typed values kept in the store)."""
        coll = self.collection(collection)
        _, stored = self.stored_result(return_id, coll.id)
        with tempfile.TemporaryDirectory(prefix="toolkit-recheck-") as tmp, self._worker_schemas([coll]) as schema_dirs:
            path = Path(tmp, upload_name(stored.file))
            path.write_bytes(self.blob(stored.sha256))
            [r] = check_many([path], Registry(schema_dirs), schema_dirs=schema_dirs, jobs=1)
        _check_against(r, coll)
        r.file = stored.file
        return r

    # ---- reading back ------------------------------------------------------------------------

    def _results(self, coll: CollectionInfo, full: bool) -> tuple[list[Result], dict[str, dict[str, Any]]]:
        """Stored versions as check results (``full``: with values and issues; else only what the
        merge rules look at), plus each version's row keyed by the result's file name."""
        form = self.form(coll)
        date_code = next((f.code for f in form.header if f.spec.type == "date"), None)
        cols = [t.returns.c.id, t.returns.c.agency_code, t.returns.c.sha256, t.returns.c.file_name, t.returns.c.sender,
                t.returns.c.arrived_at, t.returns.c.status, t.returns.c.reason_zh, t.returns.c.reason_en,
                t.returns.c.n_errors, t.returns.c.n_warnings, t.returns.c.fill_date, t.returns.c.identity]
        if full:
            cols += [t.returns.c["values"], t.returns.c.issues, t.blobs.c.size]
        q = sa.select(*cols).where(t.returns.c.collection_id == coll.id).order_by(t.returns.c.id)
        if full:
            q = q.join(t.blobs, t.blobs.c.sha256 == t.returns.c.sha256)
        results, rows = [], {}
        names = [c.key for c in cols]
        with self.engine.connect() as conn:
            fetched = conn.execute(q).all()
        for tup in fetched:
            row = dict(zip(names, tup))
            row["arrived_at"] = arrived = _utc(row["arrived_at"])
            r = Result(file=version_file(row["id"], row["file_name"]), sha256=row["sha256"],
                       mtime=arrived.timestamp() if arrived else 0.0, status=row["status"],
                       reason_zh=row["reason_zh"], reason_en=row["reason_en"],
                       identity=Identity(**row["identity"]) if row["identity"] else None)
            if full:
                r.values = dict(row["values"])
                r.issues = [Issue(**i) for i in row["issues"]]
                r.size = row["size"]
            else:
                if date_code and row["fill_date"]:
                    r.values = {date_code: row["fill_date"]}
                r.issues = [Issue("rule", "error")] * row["n_errors"] + [Issue("rule", "warning")] * row["n_warnings"]
            results.append(r)
            rows[r.file] = row
        return results, rows

    def _pins(self, coll: CollectionInfo) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.agencies).where(t.agencies.c.collection_id == coll.id)
                                .order_by(t.agencies.c.position)).mappings().all()
        return {r["code"]: dict(r) for r in rows}

    def consolidation(self, collection: str | int | None = None, full: bool = True) -> Consolidation:
        """The versions that count, consolidated exactly as ``toolkit merge`` would (pins honoured;
        a later version with errors does not displace an earlier valid one)."""
        coll = self.collection(collection)
        return self._consolidate(coll, full)[0]

    def _consolidate(self, coll: CollectionInfo, full: bool) -> tuple[Consolidation, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        results, rows = self._results(coll, full)
        agencies_rows = self._pins(coll)
        pinned_ids = {a["pinned_return_id"] for a in agencies_rows.values() if a["pinned_return_id"]}
        pinned_files = {f for f, row in rows.items() if row["id"] in pinned_ids}
        roster = [Agency(code=a["code"], name=a["name"], group=a["grp"]) for a in agencies_rows.values()]
        c = consolidate(results, self.form(coll), roster, pinned=pinned_files, prefer_valid=True)
        return c, rows, agencies_rows

    def status(self, collection: str | int | None = None, now: dt.datetime | None = None) -> StatusReport:
        """Per agency: 未报送 / 逾期 / 已报送有误 / 已退回 / 已通过 (and 不在名单 for strangers)."""
        coll = self.collection(collection)
        now = _utc(now) or _now()
        c, rows, agencies_rows = self._consolidate(coll, full=False)
        by_code: dict[str, list[Any]] = {}
        for s in c.submissions:
            by_code.setdefault(s.code, []).append(s)
        deadline_passed = coll.deadline is not None and now.date() > coll.deadline
        states: list[AgencyState] = []
        for code, a in agencies_rows.items():
            subs = by_code.pop(code, [])
            states.append(_agency_state(code, a["name"], a["grp"], subs, rows, a, coll, deadline_passed))
        for code, subs in by_code.items():     # not on the roster, or not recognisable at all
            st = _agency_state(code, subs[0].name, subs[0].group, subs, rows, None, coll, deadline_passed)
            st.status = "unknown"
            states.append(st)
        return StatusReport(collection=coll, agencies=states, as_of=now)

    def history(self, agency: str, collection: str | int | None = None) -> list[Version]:
        """Every version one agency sent, oldest first, each with the values that changed since the
        version before it that could be read."""
        coll = self.collection(collection)
        form = self.form(coll)
        c, rows, agencies_rows = self._consolidate(coll, full=False)   # which version counts
        mine = [row["id"] for row in rows.values() if row["agency_code"] == agency]
        with self.engine.connect() as conn:                             # values only for this agency
            values = {i: v for i, v in conn.execute(sa.select(t.returns.c.id, t.returns.c["values"])
                                                    .where(t.returns.c.id.in_(mine))).all()} if mine else {}
        if agency not in agencies_rows and not any(s.code == agency for s in c.submissions):
            raise CollectionError(f"收集 {coll.key} 中没有单位 {agency}", f"no agency {agency} in the collection {coll.key}")
        pin = (agencies_rows.get(agency) or {}).get("pinned_return_id")
        labels = {code: ind.label for code, ind in form.indicators.items()}
        labels.update({f.code: f.label for f in form.header})
        out: list[Version] = []
        previous: tuple[int, dict[str, Any]] | None = None
        subs = sorted((s for s in c.submissions if s.code == agency), key=lambda s: rows[s.result.file]["id"])
        for s in subs:
            row, r = rows[s.result.file], s.result
            v = Version(id=row["id"], sha256=r.sha256, file_name=row["file_name"], sender=row["sender"],
                        arrived_at=_utc(row["arrived_at"]) or _now(), status=r.status, reason=r.reason_zh,
                        errors=len(r.errors), warnings=len(r.warnings), fill_date=row["fill_date"],
                        counted=s.used, pinned=row["id"] == pin)
            if r.status != "rejected":
                now = dict(values.get(row["id"]) or {})
                if previous is not None:
                    v.compared_with = previous[0]
                    before = previous[1]
                    for code in list(dict.fromkeys([*before, *now])):
                        if before.get(code) != now.get(code):
                            v.changes.append(Change(code, labels.get(code, code), before.get(code), now.get(code)))
                previous = (row["id"], now)
            out.append(v)
        return out

    # ---- the office's decisions ----------------------------------------------------------------

    def pin(self, agency: str, version: int | None, collection: str | int | None = None) -> None:
        """Make ``version`` the one that counts for ``agency`` (None: back to the rule)."""
        coll = self.collection(collection)
        with self.engine.begin() as conn:
            if not conn.execute(sa.select(t.agencies.c.code).where(t.agencies.c.collection_id == coll.id,
                                                                  t.agencies.c.code == agency)).first():
                raise CollectionError(f"收集 {coll.key} 的名单中没有单位 {agency}", f"no agency {agency} on the roster of {coll.key}")
            if version is not None:
                row = conn.execute(sa.select(t.returns.c.agency_code, t.returns.c.status).where(
                    t.returns.c.collection_id == coll.id, t.returns.c.id == version)).first()
                if row is None or row.agency_code != agency:
                    raise CollectionError(f"单位 {agency} 没有版本 #{version}", f"agency {agency} has no version #{version}")
                if row.status != "valid":
                    raise CollectionError(f"版本 #{version} 未通过检查，不能指定为采用版本",
                                          f"version #{version} did not pass the check; it cannot be pinned")
            conn.execute(t.agencies.update().where(t.agencies.c.collection_id == coll.id, t.agencies.c.code == agency)
                         .values(pinned_return_id=version, pinned_at=_now() if version is not None else None))

    def send_back(self, agency: str, reason: str = "", collection: str | int | None = None) -> None:
        """Record that the office sent the agency's return back (退回); a new arrival supersedes it."""
        coll = self.collection(collection)
        with self.engine.begin() as conn:
            n = conn.execute(t.agencies.update().where(t.agencies.c.collection_id == coll.id, t.agencies.c.code == agency)
                             .values(sent_back_at=_now(), sent_back_reason=reason)).rowcount
        if not n:
            raise CollectionError(f"收集 {coll.key} 的名单中没有单位 {agency}", f"no agency {agency} on the roster of {coll.key}")

    def blob(self, sha256: str) -> bytes:
        with self.engine.connect() as conn:
            data = conn.execute(sa.select(t.blobs.c.data).where(t.blobs.c.sha256 == sha256)).scalar()
        if data is None:
            raise CollectionError(f"库中没有内容 {sha256}", f"no blob {sha256} in the store")
        return bytes(data)


class UploadRefused(CollectionError):
    """An upload that must not be stored (another agency's return)."""


UPLOAD_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


def upload_name(name: str) -> str:
    """A sender's file name made harmless: the last path part only, a safe stem, a workbook suffix
    (the reader looks at the content, so the suffix is only a label)."""
    from ..files import safe_stem

    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    suffix = "." + suffix.lower() if dot else ""
    if not dot:
        stem = base
    if suffix not in UPLOAD_SUFFIXES:
        suffix = ".xlsx"
    return safe_stem(stem or "upload", max_bytes=120) + suffix


def _describe(rec: Receipt, r: Result) -> None:
    rid, code = rec.return_id, rec.agency_code
    if rec.outcome == "stored":
        verdict_zh = {"valid": "通过", "invalid": f"有错误（{len(r.errors)} 个）", "rejected": f"拒收：{r.reason_zh}"}[r.status]
        verdict_en = {"valid": "valid", "invalid": f"invalid ({len(r.errors)} error(s))", "rejected": f"rejected: {r.reason_en}"}[r.status]
        rec.message_zh = f"{r.file}: 已接收为版本 #{rid}（{code}，{verdict_zh}）"
        rec.message_en = f"{r.file}: stored as version #{rid} ({code}, {verdict_en})"
    else:
        rec.message_zh = f"{r.file}: 此前已接收（版本 #{rid}，内容完全相同），未重复保存"
        rec.message_en = f"{r.file}: received before (version #{rid}, identical bytes); not stored again"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def version_file(rid: int, name: str) -> str:
    """The name a stored version goes by in a consolidation: unique (the version number) and readable."""
    return f"#{rid}/{name}"


def _check_against(r: Result, coll: CollectionInfo) -> None:
    """A return of another form, edition or period is kept, but as rejected, naming both."""
    ident = r.identity
    if r.status == "rejected" or ident is None or not ident.schema_id:
        return
    zh = en = ""
    if ident.schema_id != coll.form_id or ident.schema_version != coll.form_version:
        zh = f"这是 {ident.schema_id} {ident.schema_version} 的报表，本次收集的是 {coll.form_id} {coll.form_version}"
        en = f"this is a return of {ident.schema_id} {ident.schema_version}; the collection is of {coll.form_id} {coll.form_version}"
    elif ident.period and ident.period != coll.period:
        zh = f"这是 {ident.period} 年度的报表，本次收集的是 {coll.period} 年度"
        en = f"this is a return for {ident.period}; the collection is for {coll.period}"
    if zh:
        r.status, r.reason_zh, r.reason_en = "rejected", zh, en
        r.values, r.issues = {}, []


def _insert_ignore(conn: Connection, table: sa.Table, keys: list[str]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING, in the connection's own dialect (SQLAlchemy builds both)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)


def _issue_json(i: Issue) -> dict[str, Any]:
    return {"kind": i.kind, "severity": i.severity, "params": json.loads(json.dumps(i.params, default=str)),
            "code": i.code, "cell": i.cell, "rule": i.rule}


def _info(r: Any) -> CollectionInfo:
    return CollectionInfo(id=r["id"], form_id=r["form_id"], form_version=r["form_version"], period=r["period"],
                          office=r["office"], deadline=r["deadline"], created_at=_utc(r["created_at"]) or _now())


def _agency_state(code: str, name: str, group: str, subs: list[Any], rows: dict[str, dict[str, Any]],
                  agency_row: dict[str, Any] | None, coll: CollectionInfo, deadline_passed: bool) -> AgencyState:
    st = AgencyState(code=code, name=name, group=group, status="missing", versions=len(subs))
    if not subs:
        st.status = "overdue" if deadline_passed else "missing"
        return st
    latest = max(subs, key=lambda s: rows[s.result.file]["id"])
    latest_row = rows[latest.result.file]
    st.last_arrival = _utc(latest_row["arrived_at"])
    st.errors = latest_row["n_errors"] + (1 if latest_row["status"] == "rejected" else 0)
    st.warnings = latest_row["n_warnings"]
    counted = next((s for s in subs if s.used), None)
    if counted is not None:
        row = rows[counted.result.file]
        st.counted_id, st.counted_sha256 = row["id"], row["sha256"]
    st.pinned = bool(agency_row and agency_row["pinned_return_id"])
    st.late = bool(coll.deadline and st.last_arrival and st.last_arrival.date() > coll.deadline)
    sent_back = _utc(agency_row["sent_back_at"]) if agency_row else None
    if latest_row["status"] == "valid":
        st.status = "passed"
    elif sent_back is not None and st.last_arrival is not None and sent_back >= st.last_arrival:
        st.status, st.note = "sent_back", agency_row.get("sent_back_reason") or "" if agency_row else ""
    else:
        st.status = "invalid"
        st.note = latest_row["reason_zh"] or f"{latest_row['n_errors']} 个错误"
    if st.pinned:
        st.status = "passed"
    return st
