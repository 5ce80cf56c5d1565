"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 07:29:52.414128

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "needs",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("group", sa.String(length=32), nullable=False),
        sa.Column("label_fr", sa.String(length=200), nullable=False),
        sa.Column("label_en", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_needs")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("mandate", sa.Text(), nullable=False),
        sa.Column("territory", sa.String(length=200), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("accessibility", sa.Text(), nullable=False),
        sa.Column("hours", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("referral_email", sa.String(length=254), nullable=False),
        sa.Column("capacity_status", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "capacity_status IN ('open', 'waitlist', 'full')",
            name=op.f("ck_organizations_capacity_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("name", name=op.f("uq_organizations_name")),
    )
    op.create_table(
        "partnerships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_organization_id", sa.Integer(), nullable=False),
        sa.Column("second_organization_id", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("formal", sa.Boolean(), nullable=False),
        sa.Column("review_every_months", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "first_organization_id < second_organization_id", name=op.f("ck_partnerships_ordered_pair")
        ),
        sa.ForeignKeyConstraint(
            ["first_organization_id"],
            ["organizations.id"],
            name=op.f("fk_partnerships_first_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["second_organization_id"],
            ["organizations.id"],
            name=op.f("fk_partnerships_second_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnerships")),
    )
    with op.batch_alter_table("partnerships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partnerships_first_organization_id"), ["first_organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_partnerships_second_organization_id"), ["second_organization_id"], unique=False
        )

    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_services_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_users_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("protocol_name", sa.String(length=64), nullable=False),
        sa.Column("protocol_version", sa.Integer(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("sender_organization_id", sa.Integer(), nullable=False),
        sa.Column("receiver_organization_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("redirected_from_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_step", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_referrals_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["receiver_organization_id"],
            ["organizations.id"],
            name=op.f("fk_referrals_receiver_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["redirected_from_id"], ["referrals.id"], name=op.f("fk_referrals_redirected_from_id_referrals")
        ),
        sa.ForeignKeyConstraint(
            ["sender_organization_id"],
            ["organizations.id"],
            name=op.f("fk_referrals_sender_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referrals_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_referrals_receiver_organization_id"), ["receiver_organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_referrals_sender_organization_id"), ["sender_organization_id"], unique=False
        )

    op.create_table(
        "service_needs",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("need_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["need_code"], ["needs.code"], name=op.f("fk_service_needs_need_code_needs")),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_needs_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", "need_code", name=op.f("pk_service_needs")),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("shared_with", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_consents_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_consents_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_referral_id"), ["referral_id"], unique=False)

    op.create_table(
        "referral_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
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
        sa.Column("target_organization_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_referral_events_actor_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_events_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_organization_id"],
            ["organizations.id"],
            name=op.f("fk_referral_events_target_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_events")),
        sa.UniqueConstraint("referral_id", "seq", name=op.f("uq_referral_events_referral_id")),
    )
    op.create_table(
        "referral_needs",
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("need_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["need_code"], ["needs.code"], name=op.f("fk_referral_needs_need_code_needs")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_needs_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("referral_id", "need_code", name=op.f("pk_referral_needs")),
    )
    op.create_table(
        "referral_people",
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("contact_preferences", sa.Text(), nullable=False),
        sa.Column("safety_constraints", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_people_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_referral_people")),
    )
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("recipient_party", sa.String(length=32), nullable=True),
        sa.Column("recipient_organization_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["referral_events.id"], name=op.f("fk_outbox_messages_event_id_referral_events")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_organization_id"],
            ["organizations.id"],
            name=op.f("fk_outbox_messages_recipient_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"], name=op.f("fk_outbox_messages_referral_id_referrals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_messages_dedupe_key")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_messages_pending", ["status", "available_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_messages_referral_id"), ["referral_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_referral_id"))
        batch_op.drop_index("ix_outbox_messages_pending")

    op.drop_table("outbox_messages")
    op.drop_table("referral_people")
    op.drop_table("referral_needs")
    op.drop_table("referral_events")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_referral_id"))

    op.drop_table("consents")
    op.drop_table("service_needs")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_sender_organization_id"))
        batch_op.drop_index(batch_op.f("ix_referrals_receiver_organization_id"))
        batch_op.drop_index(batch_op.f("ix_referrals_due_at"))

    op.drop_table("referrals")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_organization_id"))

    op.drop_table("users")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_organization_id"))

    op.drop_table("services")
    with op.batch_alter_table("partnerships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partnerships_second_organization_id"))
        batch_op.drop_index(batch_op.f("ix_partnerships_first_organization_id"))

    op.drop_table("partnerships")
    op.drop_table("organizations")
    op.drop_table("needs")
