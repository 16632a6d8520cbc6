"""attempt budget (keyed attempt counters: anonymous one-time codes)

Revision ID: a7c3e91f4b20
Revises: 5b1e0c7d9a21
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c3e91f4b20'
down_revision = '5b1e0c7d9a21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attempt_budget',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.Column('window_ends', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_attempt_budget'))
    )
    with op.batch_alter_table('attempt_budget', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempt_budget_window_ends'), ['window_ends'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attempt_budget', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attempt_budget_window_ends'))
    op.drop_table('attempt_budget')
