"""ref.snils_is_valid from the one SQL form of the SNILS rule (etl.base.normalize.snils_valid_sql), so
the database's checks, the landing engine and the linkage features cannot disagree.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
from alembic import op

from etl.base import normalize

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE OR REPLACE FUNCTION ref.snils_is_valid(s text) RETURNS boolean"
               " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT " + normalize.snils_valid_sql("s") + " $$")


def downgrade() -> None:
    pass  # the rule itself is unchanged: the earlier body means the same
