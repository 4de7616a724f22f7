"""The marts built by DuckDB (the default engine) are the marts PostgreSQL builds from the same SQL:
same columns, same types, same rows — on a generated region run through the pipeline, plus rows
made to trip the differences between the engines (ratios that round on a tie, text that needs
quoting on the way between them, '' against NULL)."""
import datetime as dt
import math

import pytest

from etl.base import db
from etl.landing import load
from etl.orchestration import pipeline
from etl import register
from etl.models import sqlmodels
from etl.devtools.generate import generate
from tests.conftest import insert_staging, query


def _hostile_rows():
    d = dt.date
    # 1001 of 2000 minutes: the ratio 0.5005 rounds to 0.501 (binary floating point gives 0.5)
    insert_staging("optima_recipient", export_id="X", recipient_id="XR1", surname='О\'Нил, "Кэп"\nвторая строка',
            first_name="", patronymic=None, sex="F", birth_date=d(1941, 2, 3), oktmo="20701000",
            identified_channel="other", identified_date=d(2024, 1, 5), status="receiving")
    insert_staging("optima_assessment", export_id="X", assessment_id="XA1", recipient_id="XR1", assessment_date=d(2023, 1, 10),
            care_level=1)
    insert_staging("optima_supplement", export_id="X", supplement_id="XS1", recipient_id="XR1", care_level=1,
            minutes_per_week=700, provider_id='П;"1"', start_date=d(2024, 3, 1), end_date=d(2024, 3, 20))
    insert_staging("optima_care_report", export_id="X", report_id="XC1", supplement_id="XS1", recipient_id="XR1",
            month=d(2024, 3, 1), service_code="hygiene", minutes_delivered=1001)
    # then in force to the data's end with nothing delivered: on the worklists, whose names travel too
    insert_staging("optima_supplement", export_id="X", supplement_id="XS2", recipient_id="XR1", care_level=1,
            minutes_per_week=700, provider_id="", start_date=d(2024, 3, 21))


def _hostile_worklist_rows():
    """A person on each worklist of the screens, named to need quoting: a generated region of this size
    may have nobody on some of them (dates from the generated data's own end)."""
    d = dt.date
    [(last_month,)] = query("SELECT max(month) FROM staging.optima_care_report")
    as_of = (last_month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)

    def card(rid, surname, identified, priority=None):
        insert_staging("optima_recipient", export_id="X", recipient_id=rid, surname=surname, first_name="Жан;",
                       patronymic='"Б"', sex="M", birth_date=d(1940, 1, int(rid[-1]) + 1), oktmo="20701000",
                       identified_channel="epgu", identified_date=identified, status="receiving",
                       priority_category=priority)
    # dead per ЗАГС, the supplement never closed, care reported two months after the death
    card("XR2", "Д'Артаньян\tи \"сын\"", d(2024, 1, 5))
    insert_staging("optima_assessment", export_id="X", assessment_id="XA2", recipient_id="XR2",
                   assessment_date=d(2024, 1, 10), care_level=2)
    insert_staging("optima_supplement", export_id="X", supplement_id="XS3", recipient_id="XR2", care_level=2,
                   minutes_per_week=420, provider_id="PRV001", start_date=d(2024, 1, 15))
    insert_staging("optima_care_report", export_id="X", report_id="XC3", supplement_id="XS3", recipient_id="XR2",
                   month=d(2024, 4, 1), service_code="hygiene", minutes_delivered=600)
    insert_staging("smev_death", message_id="XZ2", record_number="XZ2", death_date=d(2024, 2, 10),
                   surname="Д'Артаньян\tи \"сын\"", first_name="Жан;", patronymic='"Б"', sex="M",
                   birth_date=d(1940, 1, 3))
    # in hospital at the data's end, the supplement ending 10 days after it, its last month unreported
    card("XR3", "Мак-'Грегор", d(2024, 1, 6))
    insert_staging("optima_assessment", export_id="X", assessment_id="XA3", recipient_id="XR3",
                   assessment_date=d(2024, 1, 12), care_level=3)
    insert_staging("optima_supplement", export_id="X", supplement_id="XS4", recipient_id="XR3", care_level=3,
                   minutes_per_week=900, provider_id="PRV001", start_date=d(2024, 2, 1),
                   end_date=as_of + dt.timedelta(days=10))
    insert_staging("health_medical_event", event_id="XH3", mo_code="MO1", event_type="hospitalisation",
                   start_date=as_of - dt.timedelta(days=5), end_date=as_of + dt.timedelta(days=3),
                   surname="Мак-'Грегор", first_name="Жан;", patronymic='"Б"', sex="M", birth_date=d(1940, 1, 4),
                   oktmo="20701000")
    # recognised, no supplement; and a priority category identified 40 days before the end, not assessed
    card("XR4", "Ноль\\ноль", d(2024, 1, 7))
    insert_staging("optima_assessment", export_id="X", assessment_id="XA4", recipient_id="XR4",
                   assessment_date=d(2024, 1, 20), care_level=1)
    card("XR5", "Пусто ''", as_of - dt.timedelta(days=40), priority="disabled; svo_veteran")


def _rows(cur, table):
    cur.execute(f"SELECT * FROM {table}")
    names = [c.name for c in cur.description]
    keep = [i for i, n in enumerate(names) if n != "published_at"]

    def norm(v):
        if isinstance(v, float):
            return round(v, 9) if not math.isnan(v) else "nan"
        return v
    return sorted((tuple(norm(r[i]) for i in keep) for r in cur.fetchall()), key=repr)


def _types(cur, schema, table):
    cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s"
                " AND table_name = %s AND column_name <> 'published_at' ORDER BY ordinal_position", (schema, table))
    return cur.fetchall()


@pytest.fixture(scope="module")
def built(pg_url, tmp_path_factory):
    from tests.conftest import truncate_all

    truncate_all(pg_url)
    out = tmp_path_factory.mktemp("engines")
    generate(out, persons=250, seed=23)
    for src in ("health", "smev", "optima"):
        load.ingest(src, sorted(pipeline.landing_dir(src, str(out)).glob("*")))
    _hostile_rows()
    _hostile_worklist_rows()
    register.build()
    with db.transaction() as conn, conn.cursor() as cur:
        for schema, engine in (("engine_duckdb", "duckdb"), ("engine_postgres", "postgres")):
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
            # (into schema build: the provider mart reads the recipient mart of the same build there)
            sqlmodels.build_all(cur, "build", engine)
            for name in sqlmodels.MARTS:
                cur.execute(f"ALTER TABLE build.{name} SET SCHEMA {schema}")
    yield
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS engine_duckdb CASCADE; DROP SCHEMA IF EXISTS engine_postgres CASCADE")


@pytest.mark.parametrize("name", sqlmodels.MARTS)
def test_duckdb_builds_what_postgres_builds(built, name):
    with db.transaction() as conn, conn.cursor() as cur:
        assert _types(cur, "engine_duckdb", name) == _types(cur, "engine_postgres", name)
        duck, pg = _rows(cur, f"engine_duckdb.{name}"), _rows(cur, f"engine_postgres.{name}")
    assert duck == pg
    if name not in ("mart_data_quality",):  # (no checkpoint has run in this module)
        assert pg, f"{name} is empty: the comparison would prove nothing"


def test_the_hostile_rows_made_it_through(built):
    ratio = query("SELECT delivery_ratio, assigned_minutes, delivered_minutes FROM engine_duckdb."
                  "mart_package_execution_recipient WHERE provider_id = %s", ['П;"1"'])
    # 700 min/week × 20 days / 7 = 2000 assigned; 1001 delivered → 0.5005 → 0.501 (half up)
    assert [(float(r), a, d) for r, a, d in ratio] == [(0.501, 2000, 1001)]
    names = query("SELECT surname, first_name, patronymic FROM engine_duckdb.worklist_reassessment_due "
                  "WHERE surname LIKE 'О''Нил%%'")
    assert names == [('О\'Нил, "Кэп"\nвторая строка', "", None)]
    assert query("SELECT count(*) FROM engine_duckdb.worklist_under_delivery WHERE provider_id = ''") == [(1,)]
    # the screens' worklists: each hostile name where its rows put it, as typed (DuckDB's copy)
    for name, surname in [("worklist_dead_receiving", "Д'Артаньян\tи \"сын\""),
                          ("worklist_hospitalised_now", "Мак-'Грегор"), ("worklist_supplement_expiring", "Мак-'Грегор"),
                          ("worklist_no_care_report", "Мак-'Грегор"),
                          ("worklist_recognised_without_package", "Ноль\\ноль"),
                          ("worklist_assessment_overdue", "Пусто ''"), ("worklist_priority_waiting", "Пусто ''")]:
        assert query(f"SELECT surname, first_name, patronymic FROM engine_duckdb.{name} WHERE surname = %s",
                     (surname,)) == [(surname, "Жан;", '"Б"')], name


def _ship_in_time(query, column_type, tmp_path):
    """martengine._ship of a DuckDB query into a new temporary table; its outcome, or a hang after 60 s."""
    import concurrent.futures

    import duckdb

    from etl.models import martengine

    with db.transaction() as conn, conn.cursor() as cur, duckdb.connect() as con:
        # no `with` around the pool: on a timeout its exit would wait for the stuck thread, a hang
        pool = concurrent.futures.ThreadPoolExecutor(1)
        try:
            done = pool.submit(martengine._ship, con, cur, query, "pg_temp.shipped",
                               f"CREATE TEMP TABLE shipped (x {column_type})", tmp_path / "p.pipe")
            return done.result(timeout=60)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            assert not (tmp_path / "p.pipe").exists()


def test_shipping_fills_the_table(clean_db, tmp_path):
    assert _ship_in_time("SELECT i AS x FROM range(200000) t(i)", "bigint", tmp_path) == 200000


def test_a_failing_duckdb_query_does_not_leave_postgres_waiting(clean_db, tmp_path):
    import duckdb

    with pytest.raises(duckdb.Error, match="boom"):
        _ship_in_time("SELECT CASE WHEN i < 100000 THEN i ELSE error('boom') END AS x FROM range(200000) t(i)",
                      "bigint", tmp_path)


def test_postgres_rejecting_a_row_reports_its_own_error(clean_db, tmp_path):
    import psycopg2

    # the first row is refused (psycopg2 sends the rest before it hears): PostgreSQL's error is raised
    with pytest.raises(psycopg2.errors.InvalidTextRepresentation):
        _ship_in_time("SELECT 'not a number' || i AS x FROM range(2000000) t(i)", "integer", tmp_path)


def test_a_connection_lost_mid_copy_stops_duckdb_too(clean_db, tmp_path):
    """PostgreSQL goes away while DuckDB is still writing into the pipe: the reader closes its end, DuckDB
    stops on it, and the connection's error is raised — nothing waits for ever on a full pipe."""
    import concurrent.futures
    import threading
    import time

    import duckdb
    import psycopg2

    from etl.models import martengine

    conn = db.connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]

        def kill_when_copying():
            for _ in range(200):
                time.sleep(0.05)
                rows = query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s"
                             " AND query LIKE 'COPY pg_temp.shipped%%'", [pid])
                if rows:
                    return

        killer = threading.Thread(target=kill_when_copying)
        killer.start()
        pool = concurrent.futures.ThreadPoolExecutor(1)  # (no `with`: see _ship_in_time)
        with duckdb.connect() as con:
            try:
                done = pool.submit(martengine._ship, con, cur,
                                   "SELECT repeat('x', 200) || i AS x FROM range(50000000) t(i)",
                                   "pg_temp.shipped", "CREATE TEMP TABLE shipped (x text)", tmp_path / "p.pipe")
                with pytest.raises(psycopg2.OperationalError):
                    done.result(timeout=120)
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        killer.join(timeout=120)
        assert not (tmp_path / "p.pipe").exists()
    finally:
        conn.close()


def test_tables_named_in_comments_are_not_inputs():
    from etl.models import martengine

    sql = "-- rolled up from build.x, not from staging.nothing_here\nSELECT a FROM staging.t JOIN register.person p ON true"
    assert martengine._names(sql) == [("staging", "t"), ("register", "person")]
