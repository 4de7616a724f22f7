"""Landing tables drop their per-row foreign keys to audit.load_batch.

A bulk load writes a whole batch at once; the row-by-row FK trigger cost as much as the insert itself
(about 3 µs a row in both raw and staging). The loader writes the batch row first in the same
transaction, and the staging checkpoint checks every staged and raw row against its batch.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _landing_tables(conn) -> list[tuple[str, str, str]]:
    return conn.exec_driver_sql("""
        SELECT n.nspname, t.relname, c.conname
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.contype = 'f' AND c.confrelid = 'audit.load_batch'::regclass
          AND n.nspname IN ('raw', 'staging', 'quarantine')""").fetchall()


def upgrade() -> None:
    for schema, table, con in _landing_tables(op.get_bind()):
        op.execute(f'ALTER TABLE {schema}.{table} DROP CONSTRAINT "{con}"')


def downgrade() -> None:
    conn = op.get_bind()
    for schema, table in conn.exec_driver_sql(
            "SELECT table_schema, table_name FROM information_schema.columns WHERE column_name = 'batch_id'"
            " AND table_schema IN ('raw', 'staging', 'quarantine')").fetchall():
        op.execute(f"ALTER TABLE {schema}.{table} ADD FOREIGN KEY (batch_id) REFERENCES audit.load_batch"
                   " ON DELETE CASCADE")
