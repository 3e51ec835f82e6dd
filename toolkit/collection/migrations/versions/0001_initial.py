"""The first store: collections, agencies, issued templates, content-addressed blobs, returns.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("form_id", sa.String(200), nullable=False),
        sa.Column("form_version", sa.String(50), nullable=False),
        sa.Column("period", sa.String(50), nullable=False),
        sa.Column("office", sa.String(200), nullable=False, server_default=""),
        sa.Column("deadline", sa.Date, nullable=True),
        sa.Column("form_document", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("form_id", "period", "office", name="uq_collections_form_period_office"),
    )
    op.create_table(
        "agencies",
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
    op.create_table(
        "templates",
        sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("template_id", sa.String(200), primary_key=True),
        sa.Column("agency_code", sa.String(100), nullable=False),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "returns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agency_code", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("blobs.sha256"), nullable=False),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("sender", sa.String(500), nullable=False, server_default=""),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason_zh", sa.Text, nullable=False, server_default=""),
        sa.Column("reason_en", sa.Text, nullable=False, server_default=""),
        sa.Column("n_errors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("n_warnings", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fill_date", sa.String(10), nullable=True),
        sa.Column("template_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("identity", sa.JSON, nullable=True),
        sa.Column("values", sa.JSON, nullable=False),
        sa.Column("issues", sa.JSON, nullable=False),
        sa.UniqueConstraint("collection_id", "sha256", name="uq_returns_collection_sha256"),
    )
    op.create_index("ix_returns_collection_agency", "returns", ["collection_id", "agency_code"])


def downgrade() -> None:
    op.drop_index("ix_returns_collection_agency", table_name="returns")
    for name in ("returns", "blobs", "templates", "agencies", "collections"):
        op.drop_table(name)
