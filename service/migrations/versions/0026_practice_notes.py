"""practice_notes, practice_note_versions and practice_note_needs: know-how shared between partners

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "practice_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("clientele", sa.String(length=500), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_practice_notes_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_notes")),
    )
    op.create_index(op.f("ix_practice_notes_organization_id"), "practice_notes", ["organization_id"])
    op.create_index(op.f("ix_practice_notes_updated_at"), "practice_notes", ["updated_at"])
    op.create_table(
        "practice_note_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("clientele", sa.String(length=500), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("need_codes", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_practice_note_versions_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["practice_notes.id"],
            name=op.f("fk_practice_note_versions_note_id_practice_notes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_note_versions")),
        sa.UniqueConstraint("note_id", "version", name=op.f("uq_practice_note_versions_note_id")),
    )
    op.create_table(
        "practice_note_needs",
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("need_code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["need_code"], ["needs.code"], name=op.f("fk_practice_note_needs_need_code_needs")
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["practice_notes.id"],
            name=op.f("fk_practice_note_needs_note_id_practice_notes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("note_id", "need_code", name=op.f("pk_practice_note_needs")),
    )


def downgrade() -> None:
    op.drop_table("practice_note_needs")
    op.drop_table("practice_note_versions")
    op.drop_index(op.f("ix_practice_notes_updated_at"), table_name="practice_notes")
    op.drop_index(op.f("ix_practice_notes_organization_id"), table_name="practice_notes")
    op.drop_table("practice_notes")
