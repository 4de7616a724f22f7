"""A ТКЦ may cover several municipalities (issue 18, item 6): ref.tkc_role holds one row per login role
and municipality (it held one municipality per role). The row-level security policies already read
"oktmo IN (the role's municipalities)", so the published marts need no change.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE ref.tkc_role DROP CONSTRAINT tkc_role_pkey;
    ALTER TABLE ref.tkc_role ADD PRIMARY KEY (role_name, oktmo);
    COMMENT ON TABLE ref.tkc_role IS 'The municipalities each ТКЦ login role sees (one row a municipality)';
    """)


def downgrade() -> None:
    op.execute("""
    DELETE FROM ref.tkc_role t WHERE EXISTS (SELECT 1 FROM ref.tkc_role o
        WHERE o.role_name = t.role_name AND o.oktmo < t.oktmo);
    ALTER TABLE ref.tkc_role DROP CONSTRAINT tkc_role_pkey;
    ALTER TABLE ref.tkc_role ADD PRIMARY KEY (role_name);
    """)
