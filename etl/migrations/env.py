"""Alembic environment: the URL comes from etl.base.db (DATABASE_URL or the embedded server)."""
from alembic import context
from sqlalchemy import create_engine, pool

from etl.base import db

# Several DAG tasks may upgrade at once on a fresh database: one at a time (transaction-scoped lock).
MIGRATION_LOCK = 7_162_024

config = context.config
url = config.attributes.get("url") or db.sqlalchemy_url()

engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, version_table_schema="audit", transaction_per_migration=False)
    with context.begin_transaction():
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        connection.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS audit")
        context.run_migrations()
engine.dispose()
