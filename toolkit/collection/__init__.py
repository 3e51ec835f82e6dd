"""A collection that remembers: every return, every version, every period, in a real database.

The store is a SQLite file by default or a PostgreSQL database (SQLAlchemy Core, migrated by
Alembic). In two lines::

    from toolkit.collection import Store
    Store("collect.db").receive(["returns/"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CollectionError
from .model import (
    AGENCY_STATUS,
    AgencyState,
    CollectionInfo,
    Receipt,
    StatusReport,
    Version,
)

if TYPE_CHECKING:
    from .outputs import export, summary
    from .store import Store


def __getattr__(name: str) -> Any:
    """The store and its outputs load SQLAlchemy (a third of a second): only when asked for, so
    ``toolkit check`` and ``toolkit merge``, which never touch a database, start without it."""
    if name == "Store":
        from .store import Store
        return Store
    if name in ("export", "summary"):
        from . import outputs
        return getattr(outputs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AGENCY_STATUS",
    "AgencyState",
    "CollectionError",
    "CollectionInfo",
    "Receipt",
    "StatusReport",
    "Store",
    "Version",
    "export",
    "init_collection",
    "summary",
]


def init_collection(db: str, form: str, year: int | str | None, roster: str, office: str = "", deadline=None,
                    templates_dir: str | None = None, schema_dirs=()) -> CollectionInfo:
    """Create the store if needed and a collection in it (the library call behind ``collect init``).

    ``form`` is a shipped id or a schema file; ``templates_dir``, when given, receives one template per
    agency, and their ids are recorded so returns can be matched to what was sent.
    """
    from .. import schema as schema_mod
    from ..registry import Registry
    from ..roster import read_roster
    from .store import Store

    versions = Registry(schema_dirs).versions(form)
    loaded = Registry(schema_dirs).get(form, versions[-1]) if versions else schema_mod.load_form(schema_mod.resolve(form))
    agencies = read_roster(roster)
    period = str(year if year is not None else (loaded.period_default or ""))
    if not period:
        raise CollectionError("请用 --year 指定收集的年度", "name the period with --year")
    store = Store(db, create=True, schema_dirs=schema_dirs)
    try:
        coll = store.create_collection(loaded, period, agencies, office=office, deadline=deadline)
        if templates_dir:
            from ..template import generate_templates
            rows, _ = generate_templates(loaded, templates_dir, agencies, year=int(period) if period.isdigit() else None)
            store.record_templates(coll, [(r.template_id, r.agency_code, r.file) for r in rows])
        return coll
    finally:
        store.close()
