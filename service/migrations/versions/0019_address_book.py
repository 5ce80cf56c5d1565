"""The address book: contact_people (staff of partner organizations, by the organization that wrote
them), partnership_contacts (a partnership's contacts named from a book), and
audit_entries.contact_person_id

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_organization_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["book_organization_id"],
            ["organizations.id"],
            name=op.f("fk_contact_people_book_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_contact_people_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_people")),
    )
    with op.batch_alter_table("contact_people") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_people_book_organization_id"), ["book_organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contact_people_organization_id"), ["organization_id"], unique=False
        )
    op.create_table(
        "partnership_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("contact_person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_person_id"],
            ["contact_people.id"],
            name=op.f("fk_partnership_contacts_contact_person_id_contact_people"),
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_partnership_contacts_partnership_id_partnerships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership_contacts")),
        sa.UniqueConstraint(
            "partnership_id", "contact_person_id", name=op.f("uq_partnership_contacts_partnership_id")
        ),
    )
    with op.batch_alter_table("partnership_contacts") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partnership_contacts_contact_person_id"), ["contact_person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_partnership_contacts_partnership_id"), ["partnership_id"], unique=False
        )
    with op.batch_alter_table("audit_entries") as batch_op:
        batch_op.add_column(sa.Column("contact_person_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_entries_contact_person_id_contact_people"),
            "contact_people",
            ["contact_person_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_audit_entries_contact_person_id_contact_people"), type_="foreignkey"
        )
        batch_op.drop_column("contact_person_id")
    with op.batch_alter_table("partnership_contacts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_partnership_contacts_partnership_id"))
        batch_op.drop_index(batch_op.f("ix_partnership_contacts_contact_person_id"))
    op.drop_table("partnership_contacts")
    with op.batch_alter_table("contact_people") as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_people_organization_id"))
        batch_op.drop_index(batch_op.f("ix_contact_people_book_organization_id"))
    op.drop_table("contact_people")
