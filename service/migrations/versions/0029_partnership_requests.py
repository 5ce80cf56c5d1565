"""Requests between partner organizations (loans, activities, presentations, sessions, mobilizations):
partnership_requests and their event log, mobilizations, and the signed links of the requests

Revision ID: 0029
Revises: 0028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mobilizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("answer_by", sa.Date(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_mobilizations_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_mobilizations_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobilizations")),
    )
    with op.batch_alter_table("mobilizations") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mobilizations_organization_id"), ["organization_id"], unique=False
        )
    op.create_table(
        "partnership_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=True),
        sa.Column("asking_organization_id", sa.Integer(), nullable=False),
        sa.Column("answering_organization_id", sa.Integer(), nullable=False),
        sa.Column("mobilization_id", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("happens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("protocol_name", sa.String(length=64), nullable=False),
        sa.Column("protocol_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_step", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["answering_organization_id"],
            ["organizations.id"],
            name=op.f("fk_partnership_requests_answering_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["asking_organization_id"],
            ["organizations.id"],
            name=op.f("fk_partnership_requests_asking_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_partnership_requests_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["mobilization_id"],
            ["mobilizations.id"],
            name=op.f("fk_partnership_requests_mobilization_id_mobilizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_partnership_requests_partnership_id_partnerships"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership_requests")),
    )
    with op.batch_alter_table("partnership_requests") as batch_op:
        for column in (
            "answering_organization_id",
            "asking_organization_id",
            "due_at",
            "mobilization_id",
            "partnership_id",
        ):
            batch_op.create_index(batch_op.f(f"ix_partnership_requests_{column}"), [column], unique=False)
    op.create_table(
        "partnership_request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_request_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=True),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_party", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_partnership_request_events_actor_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["partnership_request_id"],
            ["partnership_requests.id"],
            name=op.f("fk_partnership_request_events_partnership_request_id_partnership_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership_request_events")),
        sa.UniqueConstraint(
            "partnership_request_id", "seq", name=op.f("uq_partnership_request_events_partnership_request_id")
        ),
    )
    op.create_table(
        "partnership_request_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("partnership_request_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_partnership_request_links_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["partnership_request_id"],
            ["partnership_requests.id"],
            name=op.f("fk_partnership_request_links_partnership_request_id_partnership_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership_request_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_partnership_request_links_token_hash")),
    )
    with op.batch_alter_table("partnership_request_links") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partnership_request_links_partnership_request_id"),
            ["partnership_request_id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("partnership_request_links")
    op.drop_table("partnership_request_events")
    op.drop_table("partnership_requests")
    op.drop_table("mobilizations")
