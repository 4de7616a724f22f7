"""The SQL models under sql/: intermediate views (re)created in place, marts and worklists built in
schema `build`, published atomically after the marts checkpoint, with their access rules.

Configuration tables (KPI formulas and parameters, coverage base and targets) are loaded from their
CSV files under sql/seeds/ (or LTC_CONFIG_DIR) at every build: the files are the configuration.
"""
from __future__ import annotations

import csv
import os
from contextlib import contextmanager
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
# Creation order matters where a view reads another.
INTERMEDIATE = ["int_person_record", "int_recipient_person", "int_supplement", "int_supplement_month",
                "int_delivery_month", "int_person_key", "int_identification", "int_person_pathway",
                "int_package_month", "int_kpi_measure"]
MARTS = ["mart_recipients_by_level", "mart_identification_funnel", "mart_package_execution_recipient",
         "mart_package_execution_provider", "mart_coverage", "mart_kpi", "mart_rental_points", "mart_care_school",
         "mart_data_quality", "worklist_reassessment_due", "worklist_under_delivery"]
CONFIG_TABLES = {"ref.kpi_definition": "kpi_definition.csv", "ref.kpi_parameter": "kpi_parameter.csv",
                 "ref.coverage_target": "coverage_target.csv", "ref.coverage_base": "coverage_base.csv"}


def sql_text(layer: str, name: str) -> str:
    return (SQL_DIR / layer / f"{name}.sql").read_text(encoding="utf-8")


def published_schema(name: str) -> str:
    return "worklist" if name.startswith("worklist_") else "marts"


# Computed once per marts build and read by many marts (dbt's materialized='table' for intermediates);
# refreshed by refresh_materialized() at the start of every build. Indexes serve the marts' joins.
# (No indexes: the marts read them whole, by hash joins; an index on 12 M rows costs more than it saves.)
MATERIALIZED = {"int_supplement_month": [], "int_package_month": [], "int_kpi_measure": []}
# Models grouping millions of person-months: a parallel sort groups them faster than a hash table that
# spills. Measured at 1 M persons × 12 months (bench/marts.py): int_package_month 41 → 28–31 s,
# int_kpi_measure 26 → 20 s, recipients by level 41 → 33 s, execution per recipient 46 → 42 s.
SORTED_GROUPING = {"int_package_month", "int_kpi_measure", "mart_recipients_by_level",
                   "mart_package_execution_recipient"}


def _definition(name: str) -> str:
    text = sql_text("intermediate", name)
    if name in MATERIALIZED:
        text = text.replace(f"CREATE VIEW register.{name} AS", f"CREATE MATERIALIZED VIEW register.{name} AS", 1)
        text = text.rstrip().rstrip(";") + " WITH NO DATA;"
    return text


def apply_views(cur) -> None:
    """(Re)create the intermediate views whose definition changed (a hash in each view's comment), and
    every view depending on them, so a changed definition (even its columns) takes effect. Unchanged
    views are left alone: a materialized one keeps its data."""
    import hashlib

    cur.execute("SELECT pg_advisory_xact_lock(hashtext('ltc_views'))")  # tasks run in parallel
    changed = False
    for name in INTERMEDIATE:
        text = _definition(name)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        cur.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (f"register.{name}",))
        current = cur.fetchone()[0]
        if not changed and current == f"sql:{digest}":
            continue
        changed = True  # everything after a changed view is recreated: it may depend on it
        cur.execute(f"DROP MATERIALIZED VIEW IF EXISTS register.{name} CASCADE" if _is_matview(cur, name)
                    else f"DROP VIEW IF EXISTS register.{name} CASCADE")
        cur.execute(text)
        kind = "MATERIALIZED VIEW" if name in MATERIALIZED else "VIEW"
        cur.execute(f"COMMENT ON {kind} register.{name} IS 'sql:{digest}'")
        for i, cols in enumerate(MATERIALIZED.get(name, [])):
            cur.execute(f"CREATE INDEX {name}_{i} ON register.{name} ({cols})")


def _is_matview(cur, name: str) -> bool:
    cur.execute("SELECT 1 FROM pg_matviews WHERE schemaname = 'register' AND matviewname = %s", (name,))
    return cur.fetchone() is not None


def refresh_materialized(cur) -> None:
    """Recompute the materialized intermediates, in dependency order."""
    for name in INTERMEDIATE:
        if name in MATERIALIZED:
            with _grouping(cur, name):
                cur.execute(f"REFRESH MATERIALIZED VIEW register.{name}")
            cur.execute(f"ANALYZE register.{name}")


@contextmanager
def _grouping(cur, name: str):
    """Sort-based grouping for the models in SORTED_GROUPING, for that statement only."""
    if name not in SORTED_GROUPING:
        yield
        return
    cur.execute("SET LOCAL enable_hashagg = off")
    yield
    cur.execute("RESET enable_hashagg")  # (on an error the rollback undoes the SET LOCAL)


def config_dir() -> Path:
    return Path(os.environ.get("LTC_CONFIG_DIR") or SQL_DIR / "seeds")


def load_configuration(cur) -> dict:
    """Replace the configuration tables by their CSV files; returns rows loaded per table."""
    from etl import db

    counts = {}
    for table in reversed(list(CONFIG_TABLES)):
        cur.execute(f"DELETE FROM {table}")
    for table, filename in CONFIG_TABLES.items():
        with open(config_dir() / filename, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            rows = [[v if v != "" else None for v in row.values()] for row in reader]
            counts[table] = db.copy_rows(cur, table, reader.fieldnames, rows)
    return counts


def build_mart(cur, name: str, schema: str) -> int:
    """Materialise a mart's query as `schema.name` (a build schema, before the gate lets it out)."""
    cur.execute(f"DROP TABLE IF EXISTS {schema}.{name}")
    with _grouping(cur, name):
        cur.execute(f"CREATE TABLE {schema}.{name} AS {sql_text('marts', name)}")
    cur.execute(f"SELECT count(*) FROM {schema}.{name}")
    return cur.fetchone()[0]


def build_all(cur, schema: str = "build") -> dict[str, int]:
    """Views, configuration, materialized intermediates, then every mart into `schema`: rows per mart."""
    # big hash joins and sorts over person-months: give them memory instead of temporary files
    cur.execute("SET LOCAL work_mem = '256MB'")
    apply_views(cur)
    load_configuration(cur)
    refresh_materialized(cur)
    return {name: build_mart(cur, name, schema) for name in MARTS}


def publish_mart(cur, name: str, schema: str) -> int:
    """Replace the published table by the validated build in one transaction (readers see old or new),
    with its grants and row-level security. The build table is consumed."""
    from etl import access

    target = published_schema(name)
    cur.execute("SELECT to_regclass(%s)", (f"{schema}.{name}",))
    if cur.fetchone()[0] is None:  # published already (a re-run of the publication): nothing to do
        cur.execute(f"SELECT count(*) FROM {target}.{name}")
        return cur.fetchone()[0]
    cur.execute(f"DROP TABLE IF EXISTS {target}.{name}")
    # the validated build table itself moves (no copy of millions of rows); published_at is a
    # constant default, which PostgreSQL adds without rewriting the table
    cur.execute(f"ALTER TABLE {schema}.{name} SET SCHEMA {target}")
    cur.execute(f"ALTER TABLE {target}.{name} ADD COLUMN published_at timestamptz NOT NULL DEFAULT now()")
    access.protect(cur, target, name)
    cur.execute(f"SELECT count(*) FROM {target}.{name}")
    return cur.fetchone()[0]
