"""accounts: TOTP secrets encrypted at rest (`service.accounts.encryption`)

Upgrading encrypts each secret with the keys configured then (MAILLAGE_TOTP_ENCRYPTION_KEY, or
the one derived from the secret key): run it with the settings the app will run with.
Downgrading decrypts them.

A token is longer than the old column: the column is replaced (add, fill, drop, rename) rather
than altered, which SQLite could only do by copying the users table, and that its foreign keys
refuse once anyone has signed in.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Callable
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.accounts.encryption import decrypt
from service.accounts.encryption import encrypt

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The column before and after: written out, as this migration must keep doing what it did.
PLAIN_LENGTH = 64
TOKEN_LENGTH = 255


def upgrade() -> None:
    _replace_column(sa.String(length=TOKEN_LENGTH), encrypt)


def downgrade() -> None:
    _replace_column(sa.String(length=PLAIN_LENGTH), decrypt)


def _replace_column(kind: sa.String, convert: Callable[[str], str]) -> None:
    """`users.totp_secret` as `kind`, each secret passed through `convert`."""
    op.add_column("users", sa.Column("totp_secret_new", kind, nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL")).all()
    if rows:
        bind.execute(
            sa.text("UPDATE users SET totp_secret_new = :secret WHERE id = :id"),
            [{"id": row.id, "secret": convert(row.totp_secret)} for row in rows],
        )
    op.drop_column("users", "totp_secret")
    op.alter_column("users", "totp_secret_new", new_column_name="totp_secret", existing_type=kind)
