"""Opening a store: a SQLite file by default, PostgreSQL by URL; migrated to the current schema.

SQLite is set up for several processes at once: write-ahead logging (readers never wait for a
writer), a busy timeout (a second writer waits instead of failing), and ``BEGIN IMMEDIATE`` for
writing transactions, so two ``receive`` runs queue for the write lock at the start of a
transaction instead of deadlocking half-way through it. PostgreSQL needs none of this; its
transactions and unique constraints do the same job.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from .errors import CollectionError

BUSY_TIMEOUT_MS = 60_000


def url_of(db: str) -> str:
    """A path becomes a SQLite URL; ``sqlite:///…`` and ``postgresql://…`` URLs are taken as they are.

    ``postgresql://`` is routed to psycopg 3 (SQLAlchemy's default PostgreSQL driver is psycopg2).
    """
    if "://" not in db:
        return "sqlite:///" + str(Path(db).expanduser().resolve())
    url = make_url(db)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise CollectionError(f"{db}: 只支持 SQLite 文件或 postgresql:// 地址",
                              f"{db}: only a SQLite file or a postgresql:// URL is supported")
    return url.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(db: str, create: bool = False) -> Engine:
    """An engine for ``db``; a SQLite file that does not exist is an error unless ``create``."""
    url = url_of(db)
    path = sqlite_path(url)
    if path is not None:
        if not create and not path.is_file():
            raise CollectionError(f"{db}: 收集库不存在（请先运行 toolkit collect init）",
                                  f"{db}: no such store (run toolkit collect init first)")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None        # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")   # in WAL: durable at checkpoints, never corrupt
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine) -> None:
    """Bring the store to the newest schema (a no-op when it is there already)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    location = resources.files("toolkit.collection") / "migrations"
    cfg.set_main_option("script_location", str(location))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    if current == head:
        return
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_engine(db: str, create: bool = False) -> Engine:
    engine = make_engine(db, create=create)
    try:
        migrate(engine)
    except sa.exc.OperationalError as e:
        raise CollectionError(f"{db}: 无法打开收集库：{_first_line(e)}", f"{db}: cannot open the store: {_first_line(e)}") from None
    return engine


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e)
    return text.strip().splitlines()[0] if text.strip() else type(e).__name__
