"""The SQL models under sql/: intermediate views (re)created in place, marts and worklists built in
schema `build`, published atomically after the marts checkpoint, with their access rules.

The SQL means the same on PostgreSQL and DuckDB; a build computes the marts in DuckDB
(etl/models/martengine.py) unless LTC_MARTS_ENGINE=postgres, and PostgreSQL keeps every model as a view.

Configuration tables (KPI formulas and parameters, coverage base and targets, package caps by level
with their validity, typing groups → levels) are loaded from their CSV files under sql/seeds/ (or
LTC_CONFIG_DIR) at every build and before every checkpoint: the files are the configuration.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from etl.base import settings
from etl.models import catalog
from etl.models.catalog import SQL_DIR, natural_keys  # noqa: F401 (the models' face)

# What the catalogue found (etl/models/catalog.py: sql/**/*.sql and the YAML beside), named for the
# callers; creation order from the references.
CURRENT = catalog.named("current")
INTERMEDIATE = catalog.named("current", "intermediate")   # views in schema register
MARTS = catalog.named("marts", "worklists")                # built in schema build, then published
# Computed once per marts build and read by many marts (dbt's materialized='table'): tables in the
# DuckDB build (etl/models/martengine.py); views like the rest in PostgreSQL.
MATERIALIZED = {n for n in INTERMEDIATE if catalog.models()[n].materialized == "table"}
# Marts PostgreSQL computes itself in either engine (their YAML says why); a materialized model they read
# comes from DuckDB as a temporary table.
IN_POSTGRES = [n for n in MARTS if catalog.models()[n].engine == "postgres"]
# Every rule of the care model is one of these files, each row with its validity where it has one
# (docs/marts.md, «Правила как данные»).
CONFIG_TABLES = {"ref.kpi_definition": "kpi_definition.csv", "ref.kpi_parameter": "kpi_parameter.csv",
                 "ref.coverage_target": "coverage_target.csv", "ref.coverage_base": "coverage_base.csv",
                 "ref.care_package_rule": "care_package_rule.csv", "ref.typing_group_level": "typing_group_level.csv",
                 "ref.care_rule": "care_rule.csv", "ref.care_schedule_limit": "care_schedule_limit.csv",
                 "ref.working_age": "working_age.csv", "ref.identification_channel": "identification_channel.csv",
                 "ref.priority_category": "priority_category.csv", "ref.care_service": "care_service.csv",
                 "ref.plan_indicator": "plan_indicator.csv", "ref.plan": "plan.csv",
                 "ref.egisso_code": "egisso_code.csv"}


def model_sql(name: str) -> str:
    """The CREATE VIEW statement of a register model."""
    return catalog.models()[name].view_sql()


def mart_sql(name: str) -> str:
    """The SELECT of a mart or worklist."""
    return catalog.models()[name].select


def published_schema(name: str) -> str:
    return catalog.models()[name].schema


def apply_views(cur) -> None:
    """(Re)create the intermediate views whose definition changed (a hash in each view's comment), and
    every view depending on them, so a changed definition (even its columns) takes effect. The hash
    covers the columns of the tables the views read too: PostgreSQL expands `s.*` once, when a view is
    made, so a column a migration adds to a staging table (the card's e-mail, the supplement's ИППСУ)
    reached no view of an upgraded database until the view was made again (seen: the ЕГИССО export
    failing on "column r.email does not exist" after migration 0023)."""
    import hashlib

    cur.execute("SELECT pg_advisory_xact_lock(hashtext('ltc_views'))")  # tasks run in parallel
    cur.execute("SELECT string_agg(table_schema || '.' || table_name || '.' || column_name || ':' || data_type, ','"
                " ORDER BY table_schema, table_name, ordinal_position) FROM information_schema.columns"
                " WHERE table_schema IN ('staging', 'ref', 'audit')")
    tables = cur.fetchone()[0] or ""
    changed = False
    for name in INTERMEDIATE:
        text = model_sql(name)
        digest = hashlib.sha256((text + tables).encode()).hexdigest()[:16]
        cur.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (f"register.{name}",))
        current = cur.fetchone()[0]
        if not changed and current == f"sql:{digest}":
            continue
        changed = True  # everything after a changed view is recreated: it may depend on it
        # (a materialized view is what earlier versions made of the heaviest models)
        cur.execute(f"DROP MATERIALIZED VIEW IF EXISTS register.{name} CASCADE" if _is_matview(cur, name)
                    else f"DROP VIEW IF EXISTS register.{name} CASCADE")
        cur.execute(text)
        cur.execute(f"COMMENT ON VIEW register.{name} IS 'sql:{digest}'")


def _is_matview(cur, name: str) -> bool:
    cur.execute("SELECT 1 FROM pg_matviews WHERE schemaname = 'register' AND matviewname = %s", (name,))
    return cur.fetchone() is not None


def config_dir() -> Path:
    return settings.current().config_dir or SQL_DIR / "seeds"


def config_path(filename: str) -> Path:
    """A configuration file in LTC_CONFIG_DIR; one a folder made before that file existed lacks is the
    packaged one (and the log says so)."""
    path = config_dir() / filename
    if not path.exists():
        import logging

        logging.getLogger(__name__).warning("%s not in %s: the packaged one applies", filename, config_dir())
        path = SQL_DIR / "seeds" / filename
    return path


def _config_file(filename: str) -> tuple[list[str], list[list[str | None]]]:
    with open(config_path(filename), encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), [[v if v != "" else None for v in row.values()] for row in reader]


def load_configuration(cur) -> dict:
    """Make the configuration tables what their CSV files say; returns the rows per table. A table
    already equal to its file is not written, so a build inside a snapshot that another process has
    just configured (refresh_configuration) writes nothing and cannot collide with it."""
    from etl.base import db

    files = {table: _config_file(filename) for table, filename in CONFIG_TABLES.items()}
    changed = []
    for table, (columns, rows) in files.items():
        cast = ", ".join(f"{c}::text" for c in columns)
        cur.execute(f"SELECT {cast} FROM {table}")
        if sorted(map(tuple, cur.fetchall()), key=repr) != sorted(map(tuple, rows), key=repr):
            changed.append(table)
    for table in reversed([t for t in CONFIG_TABLES if t in changed]):
        cur.execute(f"DELETE FROM {table}")
    for table in changed:
        db.copy_rows(cur, table, *files[table])
    return {table: len(rows) for table, (_, rows) in files.items()}


def refresh_configuration() -> dict:
    """load_configuration in a transaction of its own, one process at a time: what each step calls
    before it reads the rules (the register build, every checkpoint, the marts build)."""
    from etl.base import db

    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('ltc_configuration'))")
        return load_configuration(cur)


def build_mart(cur, name: str, schema: str, read_as: dict[str, str] | None = None) -> int:
    """Materialise a mart's query as `schema.name` in PostgreSQL (a build schema, before the gate lets
    it out); `read_as` reads a model from another table (one DuckDB shipped)."""
    text = mart_sql(name)
    for model, table in (read_as or {}).items():
        text = re.sub(rf"\bregister\.{model}\b", table, text)
    cur.execute(f"DROP TABLE IF EXISTS {schema}.{name}")
    cur.execute(f"CREATE TABLE {schema}.{name} AS {text}")
    cur.execute(f"SELECT count(*) FROM {schema}.{name}")
    return cur.fetchone()[0]


def engine() -> str:
    """LTC_MARTS_ENGINE: duckdb (default) or postgres (every model in PostgreSQL: the reference, for
    small regions and for checking the other)."""
    return settings.current().marts_engine


def build_all(cur, schema: str = "build", engine_name: str | None = None) -> dict[str, int]:
    """Views, configuration, then every mart into `schema`: rows per mart.

    Called first in its transaction, the build reads one snapshot (REPEATABLE READ): a load committing
    meanwhile cannot land between the tables copied to DuckDB, nor between two marts."""
    import psycopg2.extensions

    from etl.models import martengine, periods

    if cur.connection.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    # PostgreSQL's own joins and sorts over person-months: memory instead of temporary files
    cur.execute("SET LOCAL work_mem = '256MB'")
    apply_views(cur)
    load_configuration(cur)
    if (engine_name or engine()) == "postgres":
        counts = {name: build_mart(cur, name, schema) for name in MARTS}
    else:
        in_duckdb = [m for m in MARTS if m not in IN_POSTGRES]
        shipped = [m for m in martengine.models_read(IN_POSTGRES) if m in MATERIALIZED]
        counts = martengine.build(cur, in_duckdb, schema, shipped)
        for name in IN_POSTGRES:
            counts[name] = build_mart(cur, name, schema, {m: f"pg_temp.{m}" for m in shipped})
    if periods.apply(cur, schema):  # closed months keep their accepted figures; a change opens a revision
        for name in periods.PERIOD_MARTS:
            cur.execute(f"SELECT count(*) FROM {schema}.{name}")
            counts[name] = cur.fetchone()[0]
    return {name: counts[name] for name in MARTS}


class NotValidated(RuntimeError):
    """The marts build in schema build has not passed its own marts checkpoint: it is not published."""
    carries_no_values = True


def stamp_build(cur, run_id: str) -> int:
    """Record the build just made into schema build (in its transaction): the one to validate next."""
    cur.execute("INSERT INTO audit.marts_build (run_id) VALUES (%s) RETURNING build_id", (run_id,))
    return cur.fetchone()[0]


def latest_build(cur) -> int | None:
    cur.execute("SELECT max(build_id) FROM audit.marts_build")
    return cur.fetchone()[0]


def mark_validated(cur, build_id: int | None, run_id: str) -> None:
    """The marts checkpoint passed on `build_id`, the latest build when it began; if another build has
    replaced it meanwhile, what was checked was partly the other one: nothing is marked."""
    cur.execute("UPDATE audit.marts_build SET validated_by = %s, validated_at = now() WHERE build_id = %s"
                " AND build_id = (SELECT max(build_id) FROM audit.marts_build)", (run_id, build_id))
    if cur.rowcount != 1:
        raise NotValidated(f"the marts build changed while run {run_id} validated it (build {build_id} is no "
                           "longer the latest): validate again")


def check_validated(cur, run_id: str) -> None:
    """Before a publication: the latest build (locked for the transaction) passed its marts checkpoint."""
    cur.execute("SELECT build_id, run_id, validated_by, published_at FROM audit.marts_build"
                " ORDER BY build_id DESC LIMIT 1 FOR UPDATE")
    row = cur.fetchone()
    if row is None or row[3] is not None:
        return  # nothing built, or published already (a re-run of the publication publishes nothing)
    build_id, built_by, validated_by, _ = row
    if validated_by is None:
        raise NotValidated(f"marts build {build_id} (run {built_by}) has not passed the marts checkpoint: "
                           "not published — validate it, or build again")
    cur.execute("UPDATE audit.marts_build SET published_by = %s, published_at = now() WHERE build_id = %s",
                (run_id, build_id))


def publish_mart(cur, name: str, schema: str) -> int:
    """Replace the published table by the validated build in one transaction (readers see old or new),
    with its grants and row-level security. The build table is consumed."""
    from etl.models import access

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
