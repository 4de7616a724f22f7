"""The marts computed by DuckDB over a snapshot of their inputs, shipped into PostgreSQL tables.

Why: a marts build in PostgreSQL hashes and sorts tens of millions of person-months several times
over (190–290 s at 1 M persons × 12 months on 2 cores; ≈ 46 s this way: bench/marts.py); DuckDB runs the same SQL columnar and in
parallel. The model SQL under sql/ is written to mean the same on both engines (integer division is
switched on here as PostgreSQL has it; ratios are rounded in integers; no engine-specific functions),
so PostgreSQL keeps every model as a view — what the loader's checks and analysts query — and each
mart's PostgreSQL table is created from the mart's own SQL WITH NO DATA: its column types are
PostgreSQL's, whichever engine filled it. tests/test_mart_engines.py builds a region on both and compares.

A build: the columns DuckDB's plan of the marts reads, of the tables they read, are copied out of
PostgreSQL (COPY TO, in the caller's transaction: one snapshot when it is REPEATABLE READ) into an
in-memory DuckDB database while DuckDB reads the previous table; the intermediates are created there
when a mart first needs them (those of sqlmodels.MATERIALIZED as tables), and each mart, once computed,
is copied into its build table through a pipe while DuckDB computes the next.
Models that a PostgreSQL mart reads (int_kpi_measure) are shipped as temporary tables of the transaction.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from etl.base import duckpipe, scratch, settings
from etl.models import catalog

log = logging.getLogger(__name__)

_QUALIFIED = re.compile(r"\b(staging|register|ref|audit|build)\.([a-z_][a-z0-9_]*)\b")
# PostgreSQL type (format_type) → DuckDB type; anything else travels as text.
_TYPES = {"text": "VARCHAR", "character varying": "VARCHAR", "integer": "INTEGER", "bigint": "BIGINT",
          "smallint": "SMALLINT", "boolean": "BOOLEAN", "date": "DATE", "double precision": "DOUBLE", "real": "FLOAT",
          "numeric": "DECIMAL(38, 10)", "timestamp with time zone": "TIMESTAMPTZ",
          "timestamp without time zone": "TIMESTAMP"}


def _names(sql: str) -> list[tuple[str, str]]:
    """(schema, name) of the tables and models a SQL text names — in its code, not in its comments."""
    return _QUALIFIED.findall(re.sub(r"--[^\n]*", "", sql))


def _duck_type(pg_type: str) -> str:
    m = re.fullmatch(r"numeric\((\d+),(\d+)\)", pg_type)
    if m:
        return f"DECIMAL({min(int(m.group(1)), 38)}, {m.group(2)})"
    return _TYPES.get(pg_type, "VARCHAR")


def _register_models() -> list[str]:
    return catalog.named("current", "intermediate")


def _models_named(texts: list[str]) -> set[str]:
    return {name for text in texts for schema, name in _names(text)
            if schema == "register" and name in _register_models()}


def models_read(marts: list[str]) -> list[str]:
    """The intermediate models the marts read themselves, in creation order."""
    found = _models_named([catalog.sql_text(m) for m in marts])
    return [m for m in _register_models() if m in found]


def models_needed(marts: list[str], models: list[str] = ()) -> list[str]:
    """The intermediate models the marts (and `models`) read, directly or through other intermediates,
    `models` included, in creation order."""
    needed: set[str] = set()
    found = _models_named([catalog.sql_text(m) for m in marts]) | set(models)
    while found:
        needed |= found
        found = _models_named([catalog.models()[m].view_sql() for m in found]) - needed
    return [m for m in _register_models() if m in needed]


def _inputs(cur, models: list[str], marts: list[str], shipped: list[str] = ()) -> dict[str, list[tuple[str, str]]]:
    """The tables the models and marts read → the (column, PostgreSQL type) they read of each; of a
    source entity, what the models read of its current version (the current layer selects s.*:
    planned whole it would ask for every staging column), unless it is `shipped` to PostgreSQL whole.

    DuckDB plans every mart over empty copies of the tables, and its projection pushdown tells the
    columns each table scan needs (optimizers that would prune scans of empty tables or fold filters
    into them are off for this planning only): only those travel."""
    texts = [catalog.models()[m].view_sql() for m in models] + [catalog.sql_text(m) for m in marts]
    tables = dict.fromkeys(f"{s}.{n}" for text in texts for s, n in _names(text)
                           if s != "build" and n not in _register_models())
    columns = {}
    for table in tables:
        cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass"
                    " AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,))
        columns[table] = cur.fetchall()
    with duckdb.connect(":memory:") as con:
        _prepare(con)
        con.execute("SET disabled_optimizers = 'statistics_propagation,empty_result_pullup,filter_pushdown,"
                    "join_filter_pushdown,late_materialization,row_group_pruner'")
        for table, cols in columns.items():
            con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {_duck_type(k)}' for c, k in cols)})")
        for name in models:
            con.execute(catalog.models()[name].view_sql())
        used: dict[str, set[str]] = {}
        for name in marts:
            con.execute(f"CREATE VIEW build.{name} AS {catalog.sql_text(name)}")
        for query in [f"SELECT * FROM build.{m}" for m in marts] + [f"SELECT * FROM register.{m}" for m in models
                                                                 if m not in catalog.named("current") or m in shipped]:
            plan = json.loads(con.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchall()[0][1])
            _scans(plan, used)
    return {table: [(c, k) for c, k in cols if c in used.get(table, ())]
            for table, cols in columns.items() if used.get(table)}


def _scans(nodes: list[dict], used: dict[str, set[str]]) -> None:
    for node in nodes:
        info = node.get("extra_info") or {}
        if "Table" in info:
            table = ".".join(info["Table"].replace('"', "").split(".")[-2:])  # (catalog.schema.table, quoted)
            projected = info.get("Projections") or []
            used.setdefault(table, set()).update([projected] if isinstance(projected, str) else projected)
        _scans(node.get("children") or [], used)


def _export(cur, table: str, columns: list[tuple[str, str]], path: Path) -> tuple[Path, int]:
    return path, duckpipe.export(cur, f"SELECT {', '.join(c for c, _ in columns)} FROM {table}", path)


def _connect(tmp: Path) -> duckdb.DuckDBPyConnection:
    memory = settings.current().marts_duckdb_memory_mb
    con = duckdb.connect(":memory:", config={
        "threads": os.cpu_count() or 2, "memory_limit": f"{memory}MB", "temp_directory": str(tmp / "spill"),
        "preserve_insertion_order": False})
    _prepare(con)
    return con


def _prepare(con) -> None:
    con.execute("SET integer_division = true")  # as PostgreSQL: 7 / 2 = 3
    for schema in ("staging", "register", "ref", "audit", "build"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


def _ship(con, cur, query: str, target: str, create: str, pipe: Path) -> int:
    """Create `target` in PostgreSQL (`create`: a CTAS ... WITH NO DATA of the model's own SQL) and fill it
    with the rows of the DuckDB query, column for column by name, through a pipe (etl/base/duckpipe.py)."""
    cur.execute(create)
    cur.execute(f"SELECT * FROM {target} LIMIT 0")
    columns = ", ".join(d.name for d in cur.description)
    # FREEZE: the table is new in this transaction, its rows need no visibility hints later
    return duckpipe.copy_into_postgres(con, cur, f"SELECT {columns} FROM ({query}) q", target, columns, pipe,
                                       freeze=True)


def build(cur, marts: list[str], schema: str, ship_models: list[str]) -> dict[str, int]:
    """Compute `marts` in DuckDB into PostgreSQL tables `schema.<mart>`; ship the intermediate models
    `ship_models` as temporary tables pg_temp.<model> for PostgreSQL marts. Rows per mart.

    Each mart goes into PostgreSQL, in a thread, as soon as DuckDB has it, while DuckDB computes the
    next (whose models are created when first needed)."""
    models = models_needed(marts, ship_models)
    inputs = _inputs(cur, models, marts, ship_models)
    counts: dict[str, int] = {}
    created: set[str] = set()
    t0 = time.perf_counter()
    with scratch.folder("marts") as tmp, _connect(Path(tmp)) as con:
        tmp = Path(tmp)
        # PostgreSQL writes the next table while DuckDB reads the last one
        with ThreadPoolExecutor(1) as pool:
            exported = [(table, cols, pool.submit(_export, cur, table, cols, tmp / f"in{i}.csv"))
                        for i, (table, cols) in enumerate(inputs.items())]
            for table, cols, done in exported:
                path, rows = done.result()
                duckpipe.load(con, table, {c: _duck_type(t) for c, t in cols}, path, rows)
                path.unlink()
        t1 = time.perf_counter()

        def create(names: list[str]) -> None:
            for name in names:
                if name in created:
                    continue
                model = catalog.models()[name]
                text = model.table_sql() if model.materialized == "table" else model.view_sql()
                t = time.perf_counter()
                log.debug("creating %s", name)
                con.execute(text)
                log.debug("%s created in %.1f s", name, time.perf_counter() - t)
                created.add(name)

        # the PostgreSQL cursor belongs to the shipping thread until it is done
        with ThreadPoolExecutor(1) as shipper:
            shipped = []
            for name in marts:
                create(models_needed([name]))
                t = time.perf_counter()
                con.execute(f"CREATE TABLE build.{name} AS {catalog.sql_text(name)}")
                log.debug("%s computed in %.1f s", name, time.perf_counter() - t)
                shipped.append((name, shipper.submit(
                    _ship, con.cursor(), cur, f"SELECT * FROM build.{name}", f"{schema}.{name}",
                    f"DROP TABLE IF EXISTS {schema}.{name}; CREATE TABLE {schema}.{name} AS "
                    f"{catalog.sql_text(name)} WITH NO DATA", tmp / f"{name}.pipe")))
            create(models_needed([], ship_models))
            t2 = time.perf_counter()
            for name, done in shipped:
                counts[name] = done.result()
        t3 = time.perf_counter()
        for name in ship_models:
            _ship(con, cur, f"SELECT * FROM register.{name}", f"pg_temp.{name}",
                  f"DROP TABLE IF EXISTS pg_temp.{name}; CREATE TEMP TABLE {name} ON COMMIT DROP AS "
                  f"SELECT * FROM register.{name} WITH NO DATA", tmp / f"{name}.pipe")
    log.info("marts in DuckDB: inputs %.1f s, models %.1f s, PostgreSQL's copy-in done %.1f s later, the rest %.1f s",
             t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3)
    return counts
