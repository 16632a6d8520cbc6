"""RPPS+ identity keys: one person per identity, one waiting request per person

``professional.identity_key`` (unique; NULL for every person RPPS+ has not created or
matched) and ``rpps_plus_registration.identity_key`` (unique among the ``submitted`` rows,
a partial index on both backends). Both are SHA-256 of the matching data
(``psc_idp/rpps_plus/identity.py``). Waiting registrations get their key here; if the old race
left two waiting requests for one person, only the oldest gets it (the other keeps NULL and
can still be decided). Persons get theirs lazily, when a validation creates or matches them.

Unique *indexes*, not constraints: on SQLite ``CREATE UNIQUE INDEX`` needs no table rebuild.

Revision ID: 6018b2e6828d
Revises: 36756c8c259e
Create Date: 2026-12-06 21:58:58.943981
"""
import hashlib
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '6018b2e6828d'
down_revision = '36756c8c259e'
branch_labels = None
depends_on = None

WAITING = sa.text("status = 'submitted'")


def _fold(text: str) -> str:
    """A copy of ``rpps_plus.form.fold`` as of this revision (migrations do not follow code)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("’", "'").upper().split())


def _key(family_name, given_names, birth_date, birth_place_code):
    words = (given_names or "").split()
    if birth_date is None or not words or not (family_name or "").strip():
        return None
    day = birth_date[:10] if isinstance(birth_date, str) else birth_date.isoformat()
    parts = (_fold(family_name), _fold(words[0]), day, birth_place_code or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table('professional', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_key', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_professional_identity_key'), ['identity_key'],
                              unique=True)

    with op.batch_alter_table('rpps_plus_registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_key', sa.String(length=64), nullable=True))

    bind = op.get_bind()
    registration = sa.table('rpps_plus_registration', sa.column('id', sa.Integer),
                            sa.column('status', sa.String), sa.column('family_name', sa.String),
                            sa.column('given_names', sa.String),
                            sa.column('birth_date', sa.Date),
                            sa.column('birth_place_code', sa.String),
                            sa.column('identity_key', sa.String))
    seen = set()
    rows = bind.execute(sa.select(registration.c.id, registration.c.family_name,
                                  registration.c.given_names, registration.c.birth_date,
                                  registration.c.birth_place_code)
                        .where(registration.c.status == 'submitted')
                        .order_by(registration.c.id)).all()
    for row in rows:
        key = _key(row.family_name, row.given_names, row.birth_date, row.birth_place_code)
        if key is None or key in seen:
            continue
        seen.add(key)
        bind.execute(sa.update(registration).where(registration.c.id == row.id)
                     .values(identity_key=key))

    with op.batch_alter_table('rpps_plus_registration', schema=None) as batch_op:
        batch_op.create_index('uq_rpps_plus_registration_waiting_identity', ['identity_key'],
                              unique=True, sqlite_where=WAITING, postgresql_where=WAITING)


def downgrade() -> None:
    with op.batch_alter_table('rpps_plus_registration', schema=None) as batch_op:
        batch_op.drop_index('uq_rpps_plus_registration_waiting_identity',
                            sqlite_where=WAITING, postgresql_where=WAITING)
        batch_op.drop_column('identity_key')

    with op.batch_alter_table('professional', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_professional_identity_key'))
        batch_op.drop_column('identity_key')
