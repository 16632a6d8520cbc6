"""CPx cards, the emulated IGC-Santé's register of certificates, RFC 8705 client settings,
structure-staff identities (national ids up to 64 characters, no RPPS number)

Revision ID: d1a9c3e5f7b2
Revises: c4e8a2d61f37
Create Date: 2026-12-01 02:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'd1a9c3e5f7b2'
down_revision = 'c4e8a2d61f37'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('issued_certificate',
    sa.Column('serial', sa.String(length=40), nullable=False),
    sa.Column('authority', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=False),
    sa.Column('not_after', sa.DateTime(), nullable=False),
    sa.Column('card_serial', sa.String(length=20), nullable=True),
    sa.Column('client_id', sa.String(length=200), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revocation_reason', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_issued_certificate')),
    sa.UniqueConstraint('sha256', name=op.f('uq_issued_certificate_sha256'))
    )
    with op.batch_alter_table('issued_certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issued_certificate_authority'), ['authority'])
        batch_op.create_index(batch_op.f('ix_issued_certificate_card_serial'), ['card_serial'])
        batch_op.create_index(batch_op.f('ix_issued_certificate_client_id'), ['client_id'])
    op.create_table('card',
    sa.Column('serial', sa.String(length=20), nullable=False),
    sa.Column('card_type', sa.String(length=3), nullable=False),
    sa.Column('professional_id', sa.Integer(), nullable=False),
    sa.Column('national_id', sa.String(length=64), nullable=False),
    sa.Column('structure_technical_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=False),
    sa.Column('not_after', sa.DateTime(), nullable=False),
    sa.Column('auth_cert_serial', sa.String(length=40), nullable=False),
    sa.Column('sign_cert_serial', sa.String(length=40), nullable=False),
    sa.Column('folder', sa.String(length=500), nullable=False),
    sa.Column('replaced_by', sa.String(length=20), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['professional_id'], ['professional.id'],
                            name=op.f('fk_card_professional_id_professional')),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_card'))
    )
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_professional_id'), ['professional_id'])
        batch_op.create_index(batch_op.f('ix_card_national_id'), ['national_id'])
    with op.batch_alter_table('oidc_client', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tls_client_auth_subject_dn', sa.String(length=500),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('tls_client_auth_san', sa.String(length=500),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('tls_client_certificate_bound_access_tokens',
                                      sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('professional', schema=None) as batch_op:
        batch_op.alter_column('national_id', existing_type=sa.String(length=20),
                              type_=sa.String(length=64), existing_nullable=False)
        batch_op.alter_column('rpps', existing_type=sa.String(length=11), nullable=True)
    # the e-CPS codes sent to a staff member name their national id (5+SIRET/… is 25+ chars)
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.alter_column('national_id', existing_type=sa.String(length=20),
                              type_=sa.String(length=64), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.alter_column('national_id', existing_type=sa.String(length=64),
                              type_=sa.String(length=20), existing_nullable=False)
    with op.batch_alter_table('professional', schema=None) as batch_op:
        batch_op.alter_column('rpps', existing_type=sa.String(length=11), nullable=False)
        batch_op.alter_column('national_id', existing_type=sa.String(length=64),
                              type_=sa.String(length=20), existing_nullable=False)
    with op.batch_alter_table('oidc_client', schema=None) as batch_op:
        batch_op.drop_column('tls_client_certificate_bound_access_tokens')
        batch_op.drop_column('tls_client_auth_san')
        batch_op.drop_column('tls_client_auth_subject_dn')
    op.drop_table('card')
    op.drop_table('issued_certificate')
