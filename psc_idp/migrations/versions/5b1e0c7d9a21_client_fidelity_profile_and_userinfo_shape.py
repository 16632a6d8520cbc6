"""client fidelity profile and userinfo shape

Revision ID: 5b1e0c7d9a21
Revises: 970ae31e6acb
Create Date: 2026-11-30 23:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '5b1e0c7d9a21'
down_revision = '970ae31e6acb'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oidc_client', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fidelity_profile', sa.String(length=10), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('userinfo_shape', sa.String(length=10), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('oidc_client', schema=None) as batch_op:
        batch_op.drop_column('userinfo_shape')
        batch_op.drop_column('fidelity_profile')
