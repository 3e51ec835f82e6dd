"""The store's tables, in SQLAlchemy Core: one description for SQLite and PostgreSQL alike.

The migrations in ``migrations/versions`` create exactly these tables; a test compares the two so
a column added here without a migration is caught.

* ``collections`` — one form × period × office being collected (several per store).
* ``agencies`` — the roster of a collection, in roster order, with the office's pin and 退回.
* ``templates`` — templates issued for a collection (their ids), so a return is matched to what was sent.
* ``blobs`` — file bytes, content-addressed by sha256: a file received twice is stored once.
* ``returns`` — every version received: who, when, the verdict, values and issues.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

collections = sa.Table(
    "collections", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("form_id", sa.String(200), nullable=False),
    sa.Column("form_version", sa.String(50), nullable=False),
    sa.Column("period", sa.String(50), nullable=False),
    sa.Column("office", sa.String(200), nullable=False, server_default=""),
    sa.Column("deadline", sa.Date, nullable=True),
    sa.Column("form_document", sa.JSON, nullable=True),   # the schema, so the store is self-contained
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("form_id", "period", "office", name="uq_collections_form_period_office"),
)

agencies = sa.Table(
    "agencies", metadata,
    sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("code", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("grp", sa.String(200), nullable=False, server_default=""),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("pinned_return_id", sa.Integer, nullable=True),
    sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("sent_back_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("sent_back_reason", sa.Text, nullable=True),
)

templates = sa.Table(
    "templates", metadata,
    sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("template_id", sa.String(200), primary_key=True),
    sa.Column("agency_code", sa.String(100), nullable=False),
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
)

blobs = sa.Table(
    "blobs", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

returns = sa.Table(
    "returns", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
    sa.Column("agency_code", sa.String(100), nullable=False),
    sa.Column("sha256", sa.String(64), sa.ForeignKey("blobs.sha256"), nullable=False),
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("sender", sa.String(500), nullable=False, server_default=""),
    sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),          # valid | invalid | rejected
    sa.Column("reason_zh", sa.Text, nullable=False, server_default=""),
    sa.Column("reason_en", sa.Text, nullable=False, server_default=""),
    sa.Column("n_errors", sa.Integer, nullable=False, server_default="0"),
    sa.Column("n_warnings", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fill_date", sa.String(10), nullable=True),        # the form's 填报日期, ISO
    sa.Column("template_id", sa.String(200), nullable=False, server_default=""),
    sa.Column("identity", sa.JSON, nullable=True),
    sa.Column("values", sa.JSON, nullable=False),
    sa.Column("issues", sa.JSON, nullable=False),
    sa.UniqueConstraint("collection_id", "sha256", name="uq_returns_collection_sha256"),
)
sa.Index("ix_returns_collection_agency", returns.c.collection_id, returns.c.agency_code)

# ---- the web service (migration 0002) -----------------------------------------------------------
# * ``agency_links`` — a personal link per agency and collection: only the sha256 of its token is
#   kept (the token itself is shown once, by ``collect links``), and a revoked link stays revoked.
# * ``web_settings`` — the office's password hash (argon2) and the key that signs session cookies,
#   kept in the store so every server process behind a proxy shares them.

agency_links = sa.Table(
    "agency_links", metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
    sa.Column("agency_code", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)
sa.Index("ix_agency_links_agency", agency_links.c.collection_id, agency_links.c.agency_code)

web_settings = sa.Table(
    "web_settings", metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
