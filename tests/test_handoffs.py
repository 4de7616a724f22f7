"""Rows pass between PostgreSQL and DuckDB unchanged whatever their text holds, and a failed hand-off
says where without quoting a value (issue 22, item 0: one straight quote in a name or an address
stopped every register build for good)."""
import datetime as dt

import duckdb
import pytest

from etl.base import db, duckpipe
from etl import register
from etl.register import builder as register_build
from etl.models import sqlmodels
from etl.base.normalize import snils_checksum
from tests.conftest import fixture_batch, query

# Every kind of text the dialect must carry as it is: quotes (lone, doubled, at either end), the
# delimiter, line breaks, backslashes, PostgreSQL's text-format NULL marker, '' (not NULL), spaces.
HOSTILE = ["lone\rcr", 'Иванов "мл"', 'СНТ "Ромашка", уч. 5', '"', '""', '"начало', 'конец"', "a,b,,c", "строка 1\nстрока 2",
           "cr\r\nlf", "back\\slash\\", "\\N", "\\.", "", " ", "NULL", "null", "O'Нил", "tab\there", "'", ";"]


def _values(cur, sql):
    cur.execute(sql)
    return cur.fetchall()


def test_query_into_duckdb_keeps_every_value(pg_url, tmp_path):
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE t (n int, a text, b text)")
        rows = [(i, v, None if i % 3 == 0 else v[::-1]) for i, v in enumerate(HOSTILE)] + [(len(HOSTILE), None, "")]
        cur.executemany("INSERT INTO t VALUES (%s, %s, %s)", rows)
        con = duckdb.connect()
        n = duckpipe.query_into_duckdb(cur, "SELECT n, a, b FROM t", con, "t",
                                       {"n": "INTEGER", "a": "VARCHAR", "b": "VARCHAR"}, tmp_path)
    assert n == len(rows)
    assert sorted(con.execute("SELECT n, a, b FROM t").fetchall()) == sorted(rows)
    assert not list(tmp_path.iterdir())  # the scratch file is gone


@pytest.mark.parametrize("way", ["streamed", "pipe"])
def test_duckdb_rows_into_postgresql_keep_every_value(pg_url, tmp_path, way):
    con = duckdb.connect()
    rows = [(i, v, None if i % 3 == 0 else v[::-1]) for i, v in enumerate(HOSTILE)] + [(len(HOSTILE), None, "")]
    con.execute("CREATE TABLE t (n INTEGER, a VARCHAR, b VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE t (n int, a text, b text)")
        if way == "streamed":
            took = duckpipe.copy_streamed(con.cursor(), cur, "SELECT n, a, b FROM t", "t", ["n", "a", "b"])
        else:
            took = duckpipe.copy_into_postgres(con.cursor(), cur, "SELECT n, a, b FROM t", "t", "n, a, b",
                                               tmp_path / "p.pipe")
        assert took == len(rows)
        assert sorted(_values(cur, "SELECT n, a, b FROM t")) == sorted(rows)


def test_a_failed_hand_off_names_the_line_not_the_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('"1","Иванова","112-233-445 95"\n"2","Петрова\n', encoding="utf-8")
    con = duckdb.connect()
    with pytest.raises(duckpipe.HandOffError) as e:
        duckpipe.load(con, "t", {"n": "INTEGER", "a": "VARCHAR", "b": "VARCHAR"}, path, rows=2)
    assert "Петрова" not in str(e.value) and "Иванова" not in str(e.value) and "t:" in str(e.value)
    path.write_text('"1","Иванова","x"\n', encoding="utf-8")
    with pytest.raises(duckpipe.HandOffError, match="exported 2 rows, DuckDB read 1"):
        duckpipe.load(duckdb.connect(), "t", {"n": "INTEGER", "a": "VARCHAR", "b": "VARCHAR"}, path, rows=2)


def _person_rows(n: int, batch: int):
    """n referral rows, every 50th of the second half with hostile text in each text column the register
    reads (DuckDB's sniffer got the dialect right when it saw such a row in its sample at the start)."""
    for i in range(n):
        body = f"{100000000 + i * 7919:09d}"
        odd = HOSTILE[(i // 50) % len(HOSTILE)] if i % 50 == 0 and i >= n // 2 else ""
        yield (batch, f"L{i}", "МО" + odd, f"R{i}{odd}", dt.date(2024, 1, 1 + i % 28), body + snils_checksum(body),
               f"Фамилия{i % 997}{odd}", "Имя" + odd, "Отчество" + odd, "F" if i % 2 else "M",
               dt.date(1930 + i % 60, 1 + i % 12, 1 + i % 28), f"ул. Мира, д. {i}{odd}", f"20{i % 9}01000{odd}",
               "other", False, False)


def test_register_build_with_quotes_and_line_breaks_in_every_text_column(clean_db):
    # thousands of records: DuckDB's sniffer read the first 75 fine and failed further on
    n = 6000
    with db.transaction() as conn, conn.cursor() as cur:
        db.copy_rows(cur, "staging.health_referral",
                     ["batch_id", "locator", "mo_code", "referral_id", "referral_date", "snils", "surname",
                      "first_name", "patronymic", "sex", "birth_date", "address", "oktmo", "channel", "consent",
                      "diagnosis_withheld"], _person_rows(n, fixture_batch()))
        # what the linkage reads is what PostgreSQL holds, value for value
        sqlmodels.apply_views(cur)
        con = register_build._export(cur)
        pg = _values(cur, "SELECT entity || ':' || stg_id, natural_id, surname, first_name, patronymic, address,"
                          " oktmo, birth_date::text FROM register.int_person_record")
    duck = con.execute("SELECT record_id, natural_id, surname, first_name, patronymic, address, municipality,"
                       " birth_date FROM reg_input").fetchall()
    assert sorted(duck) == sorted(pg) and len(duck) == n
    counts = register.build()
    assert counts["records"] == n
    assert query("SELECT count(*) FROM register.person_link") == [(n,)]
    assert counts["new_persons"] == n  # distinct SNILS each
    # and the next build, incremental over the same records, goes through too
    assert register.build()["records"] == 0


def _nasty(rng, long: bool = False) -> str:
    """Random text of the characters that break parsers: quoting, separators, line ends, escapes, control
    characters, combining marks, right-to-left and zero-width marks, emoji, both alphabets."""
    pool = ['"', "'", ",", ";", "\n", "\r", "\t", "\\", "\\N", "NULL", "\x01", "\x1f", "\x7f", "\u0301", "\u202e",
            "\u200b", "\ufeff", "😀", "ё", "Ъ", "а", "Я", "z", "Q", " ", "-", ".", "{", "}", "%", "_", "$1", "0"]
    n = rng.randint(100_000, 120_000) if long else rng.randint(0, 30)
    return "".join(rng.choice(pool) for _ in range(n))


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_random_hostile_text_never_stops_the_register_or_the_marts(clean_db, monkeypatch, engine):
    import random

    from etl.orchestration import pipeline

    monkeypatch.setenv("LTC_MARTS_ENGINE", engine)
    rng = random.Random(22)
    batch = fixture_batch()
    rows = []
    for i in range(400):
        text = [_nasty(rng, long=(i % 97 == 5)) for _ in range(6)]
        rows.append((batch, f"F{i}", text[0], f"R{i}", dt.date(2024, 1, 1), None, text[1] or "Ф", text[2] or "И",
                     text[3], "M", dt.date(1940, 1, 1 + i % 28), text[4], text[5], "other", False, False))
    recipients = [(batch, f"O{i}", "E1", f"RID{i}{_nasty(rng)}", _nasty(rng) or "Ф", _nasty(rng) or "И", _nasty(rng),
                   dt.date(1941, 2, 1 + i % 28), _nasty(rng), _nasty(rng), "receiving", _nasty(rng))
                  for i in range(200)]
    with db.transaction() as conn, conn.cursor() as cur:
        db.copy_rows(cur, "staging.health_referral",
                     ["batch_id", "locator", "mo_code", "referral_id", "referral_date", "snils", "surname",
                      "first_name", "patronymic", "sex", "birth_date", "address", "oktmo", "channel", "consent",
                      "diagnosis_withheld"], rows)
        db.copy_rows(cur, "staging.optima_recipient",
                     ["batch_id", "locator", "export_id", "recipient_id", "surname", "first_name", "patronymic",
                      "birth_date", "address", "oktmo", "status", "priority_category"], recipients)
    counts = register.build()
    assert counts["records"] == 600
    assert query("SELECT count(*) FROM register.person_link") == [(600,)]
    marts = pipeline.build_marts("fuzz")
    assert marts  # every mart built on this engine
