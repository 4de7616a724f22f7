"""Alembic environment: the URL comes from etl.db (DATABASE_URL or the embedded server)."""
from alembic import context
from sqlalchemy import create_engine, pool

from etl import db

config = context.config
url = config.attributes.get("url") or db.sqlalchemy_url()

engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, version_table_schema="audit")
    connection.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS audit")
    connection.commit()
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
