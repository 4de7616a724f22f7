"""Tests run against a real PostgreSQL: the server in DATABASE_URL, or the embedded one.

A fresh database is created for the session and dropped at the end; DATABASE_URL is pointed at
it so the code under test uses it exactly as in production.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

# Published formats and samples live beside the project (../shared/reference); LTC_REFERENCE overrides.
REFERENCE = Path(os.environ.get("LTC_REFERENCE") or Path(__file__).resolve().parents[1].parent / "shared" / "reference")
REFERENCE_ABSENT = (f"{REFERENCE} is absent: the conformance tests against the published formats and samples"
                    " (SMEV 3, ОМС, ЕГИССО) did not run; lay ../shared beside the clone or set LTC_REFERENCE")


def pytest_collection_modifyitems(config, items):
    """Tests marked `reference` read ../shared/reference, which a bare clone does not have: there they are
    skipped, saying why, and the run's summary says it again (the project's own fixtures still run)."""
    if REFERENCE.is_dir():
        return
    skip = pytest.mark.skip(reason=REFERENCE_ABSENT)
    for item in items:
        if item.get_closest_marker("reference"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if not REFERENCE.is_dir():
        terminalreporter.write_line(f"NOTE: {REFERENCE_ABSENT}", yellow=True, bold=True)


# Everything a run writes: every table of these schemas (reference data in ref is kept).
DATA_SCHEMAS = ["raw", "staging", "quarantine", "register", "audit", "build", "marts", "worklist", "frozen", "web"]


@pytest.fixture(scope="session")
def pg_url():
    from etl.base import db

    admin = os.environ.get("DATABASE_URL") or db.embedded_server_url(db.var_dir() / "pgdata-test")
    with db.scratch_database("ltc_test", admin) as url:
        db.upgrade(url)
        yield url


@pytest.fixture
def clean_db(pg_url):
    """An empty register database (schema and reference data kept)."""
    return truncate_all(pg_url)


def truncate_all(pg_url):
    from etl.base import db

    with db.transaction(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
                    " AND table_schema = ANY(%s) AND table_name <> 'alembic_version'", (DATA_SCHEMAS,))
        tables = [t for (t,) in cur.fetchall()]
        cur.execute("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
        cur.execute("DROP SCHEMA frozen CASCADE; CREATE SCHEMA frozen")  # frozen months' tables, made on close
    return pg_url


@pytest.fixture(scope="session")
def region(tmp_path_factory):
    """A small generated region shared by the tests that only read it."""
    from etl.devtools.generate import generate

    out = tmp_path_factory.mktemp("region")
    counts = generate(out, persons=300, seed=11)
    return out, counts


@pytest.fixture
def loaded(clean_db, region):
    """The shared generated region landed from its files and linked into the register."""
    from etl.orchestration import pipeline

    out, _ = region
    for source in ("health", "smev", "optima"):
        pipeline.ingest(source, out / source, "test")
    pipeline.build_register("test")
    return out


def query(sql: str, params=None):
    from etl.base import db

    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def fixture_batch(name: str = "fixture", source: str = "optima", source_time=None) -> int:
    """A loaded batch for hand-built staging rows (the current layer reads loaded batches only): the
    one named `name`, created on first use. Batches made later are later versions."""
    found = query("SELECT batch_id FROM audit.load_batch WHERE file_name = %s", (name,))
    if found:
        return found[0][0]
    return query("INSERT INTO audit.load_batch (source, file_name, file_sha256, status, source_time) "
                 "VALUES (%s, %s, md5(%s), 'loaded', %s) RETURNING batch_id", (source, name, name, source_time))[0][0]


def insert_staging(table: str, **values):
    """One row straight into staging.<table> (the fixture batch unless batch_id is given, a fresh locator):
    for hand-built fixtures."""
    import uuid

    values = {"locator": uuid.uuid4().hex[:8], **values}
    values.setdefault("batch_id", fixture_batch())
    query(f"INSERT INTO staging.{table} ({', '.join(values)}) VALUES ({', '.join(['%s'] * len(values))})",
          list(values.values()))


# ---- scanning what leaves the process for identities (issue 22, item 4) -------------------------------
LATE_SNILS = "13456791279"   # 134-567-912 79: a valid checksum
LATE_NEEDLES = {"Зябликова", LATE_SNILS, "23.11.1941", "1941-11-23", "Ромашка"}
PEOPLE_SQL = ("SELECT snils, surname, first_name, birth_date FROM register.int_person_record "
              "WHERE snils IS NOT NULL AND surname IS NOT NULL AND birth_date IS NOT NULL")


def late_referral_csv() -> bytes:
    """One referral whose golden row a test makes the database refuse (the engine's error quotes it)."""
    s = LATE_SNILS
    return ("КодМО;НомерНаправления;ДатаНаправления;СНИЛС;Фамилия;Имя;Отчество;Пол;ДатаРождения;Адрес\r\n"
            f"360001;LATE-1;02.03.2024;{s[:3]}-{s[3:6]}-{s[6:9]} {s[9:]};Зябликова;Серафима;Аркадьевна;Ж;"
            "23.11.1941;СНТ \"Ромашка\", уч. 7\r\n").encode("cp1251")


@contextlib.contextmanager
def late_record_refused(run_sql):
    """The register refuses the late referral's golden row for the block (`run_sql` runs a statement on
    the register's database)."""
    run_sql("ALTER TABLE register.person ADD CONSTRAINT ltc_test_refuse CHECK (surname IS DISTINCT FROM "
            "'Зябликова') NOT VALID")
    try:
        yield
    finally:
        run_sql("ALTER TABLE register.person DROP CONSTRAINT ltc_test_refuse")


def identity_leaks(texts: dict[str, str], people: list[tuple]) -> list[tuple[str, str]]:
    """(where, what) for every SNILS (both spellings), full name or birth date (both spellings) of
    `people` (rows of PEOPLE_SQL) and of the late referral found in any of `texts`."""
    needles = set(LATE_NEEDLES)
    for snils, surname, first, born in people:
        needles |= {snils, f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}", f"{surname} {first}",
                    born.isoformat(), born.strftime("%d.%m.%Y")}
    return sorted({(where, n) for where, t in texts.items() for n in needles if n in t})


def publish_checked(run_id: str = "test") -> None:
    """The pipeline's gate and publication after a register build: staging and register checkpoints (the
    marts checkpoint reads their results), marts build, marts checkpoint, publication."""
    from etl.orchestration import pipeline

    for checkpoint in ("staging", "register"):
        pipeline.validate(checkpoint, run_id)
    pipeline.build_marts(run_id)
    pipeline.validate("marts", run_id)
    pipeline.publish_marts(run_id)


def png_colours(png: bytes) -> int:
    """Distinct pixel values in a sample of a screenshot (8-bit RGB or RGBA PNG): a blank page has one.
    Read with zlib alone — no imaging library for one check."""
    import struct
    import zlib

    assert png[:8] == b"\x89PNG\r\n\x1a\n", "a PNG"
    pos, idat, width, channels = 8, b"", None, None
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos:pos + 4]), png[pos + 4:pos + 8]
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, _h, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels + 1  # a filter byte leads each row; filtered bytes still differ where pixels do
    return len({raw[i:i + channels] for row in range(0, len(raw), stride)
                for i in range(row + 1, row + stride, channels * 7)})
