"""calendar_feeds: secret, revocable calendar addresses; public_events: the regional calendar

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_calendar_feeds_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_calendar_feeds_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["users.id"], name=op.f("fk_calendar_feeds_revoked_by_id_users")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_calendar_feeds_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    op.create_index(op.f("ix_calendar_feeds_organization_id"), "calendar_feeds", ["organization_id"])
    op.create_index(op.f("ix_calendar_feeds_user_id"), "calendar_feeds", ["user_id"])
    op.create_table(
        "public_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("clientele", sa.String(length=500), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_public_events_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_public_events_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_events")),
    )
    op.create_index(op.f("ix_public_events_organization_id"), "public_events", ["organization_id"])
    op.create_index(op.f("ix_public_events_starts_at"), "public_events", ["starts_at"])
    op.create_table(
        "public_event_needs",
        sa.Column("public_event_id", sa.Integer(), nullable=False),
        sa.Column("need_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["need_code"], ["needs.code"], name=op.f("fk_public_event_needs_need_code_needs")
        ),
        sa.ForeignKeyConstraint(
            ["public_event_id"],
            ["public_events.id"],
            name=op.f("fk_public_event_needs_public_event_id_public_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("public_event_id", "need_code", name=op.f("pk_public_event_needs")),
    )


def downgrade() -> None:
    op.drop_table("public_event_needs")
    op.drop_index(op.f("ix_public_events_starts_at"), table_name="public_events")
    op.drop_index(op.f("ix_public_events_organization_id"), table_name="public_events")
    op.drop_table("public_events")
    op.drop_index(op.f("ix_calendar_feeds_user_id"), table_name="calendar_feeds")
    op.drop_index(op.f("ix_calendar_feeds_organization_id"), table_name="calendar_feeds")
    op.drop_table("calendar_feeds")
