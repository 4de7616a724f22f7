"""Tests run against a real PostgreSQL: the server in DATABASE_URL, or the embedded one.

A fresh database is created for the session and dropped at the end; DATABASE_URL is pointed at
it so the code under test uses it exactly as in production.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Published formats and samples live beside the project (../shared/reference); LTC_REFERENCE overrides.
REFERENCE = Path(os.environ.get("LTC_REFERENCE") or Path(__file__).resolve().parents[1].parent / "shared" / "reference")
DATA_TABLES = ["raw.record", "quarantine.record", "register.person_link", "register.link_history", "register.merge", "register.review",
               "register.person", "register.linkage_model", "register.build_run",
               "audit.expectation_result", "audit.pipeline_run", "marts.mart_recipients_by_level",
               "marts.mart_data_quality",
               "audit.load_batch", "audit.source_watermark"]


@pytest.fixture(scope="session")
def pg_url():
    from etl import db

    admin = os.environ.get("DATABASE_URL") or db.embedded_server_url(db.var_dir() / "pgdata-test")
    with db.scratch_database("ltc_test", admin) as url:
        db.upgrade(url)
        yield url


@pytest.fixture
def clean_db(pg_url):
    """An empty register database (schema and reference data kept)."""
    return truncate_all(pg_url)


def truncate_all(pg_url):
    from etl import db

    with db.transaction(pg_url) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " RESTART IDENTITY CASCADE")
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'")
        for (t,) in cur.fetchall():
            cur.execute(f"TRUNCATE staging.{t} RESTART IDENTITY")
    return pg_url


@pytest.fixture(scope="session")
def region(tmp_path_factory):
    """A small generated region shared by the tests that only read it."""
    from etl.generate import generate

    out = tmp_path_factory.mktemp("region")
    counts = generate(out, persons=300, seed=11)
    return out, counts


def query(sql: str, params=None):
    from etl import db

    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def insert_staging(table: str, **values):
    """One row straight into staging.<table> (batch 1, a fresh locator): for hand-built fixtures."""
    import uuid

    values = {"batch_id": 1, "locator": uuid.uuid4().hex[:8], **values}
    query(f"INSERT INTO staging.{table} ({', '.join(values)}) VALUES ({', '.join(['%s'] * len(values))})",
          list(values.values()))
