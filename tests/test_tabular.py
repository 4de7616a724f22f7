"""Health tables (CSV/XLSX) landed set-based: values, reasons, both read paths, hostile files."""
import datetime as dt

import pytest

from connectors.health import tables as health
from connectors.common import FileRejected
from etl.base import db, normalize
from etl.landing import load, tabular
from tests.conftest import query

HEADER = "КодМО;НомерНаправления;ДатаНаправления;КаналВыявления;СНИЛС;Фамилия;Имя;Отчество;Пол;ДатаРождения;" \
         "ДиагнозМКБ;СогласиеНаРазглашение"
COLUMNS = ["locator", "mo_code", "referral_id", "referral_date", "channel", "snils", "snils_raw", "surname",
           "first_name", "patronymic", "sex", "birth_date", "icd10", "consent", "diagnosis_withheld"]


def write(tmp_path, name, text, encoding="cp1251"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


@pytest.fixture(params=["duckdb", "python"])
def read_path(request, monkeypatch):
    """Run a test on both read paths: DuckDB reading the CSV itself, and Python's csv module."""
    if request.param == "python":
        monkeypatch.setattr(tabular, "_copy_direct", lambda *a: False)
    return request.param


def ingest(path):
    [res] = load.ingest("health", [path])
    return res


def referrals():
    rows = query(f"SELECT {', '.join(COLUMNS)} FROM staging.health_referral ORDER BY locator::int")
    return [dict(zip(COLUMNS, r)) for r in rows]


def quarantined():
    return query("SELECT locator, reason_code, detail FROM quarantine.record ORDER BY locator::int")


def test_referral_cp1251_semicolon(clean_db, tmp_path):
    res = ingest(write(tmp_path, "r.csv", HEADER + "\r\n"
                       "360001;A-1;02.01.2024;выписка из стационара;112-233-445 95;Семёнова;Анна;Ильинична;Ж;"
                       "13.12.1950;I63.9;да\r\n"
                       "360001;A-2;2024-01-03;прием врача;112-233-445 96; ПЕТРОВ ;Иван;Петрович;;01.05.1940;G30.9;"
                       "нет\r\n"))
    assert (res.status, res.read, res.staged, res.quarantined) == ("loaded", 2, 2, 0)
    a, b = referrals()
    assert (a["snils"], a["surname"], a["birth_date"], a["channel"], a["icd10"], a["sex"]) == \
        ("11223344595", "Семёнова", dt.date(1950, 12, 13), "hospital_discharge", "I63.9", "F")
    # invalid checksum: SNILS kept raw, not trusted; sex inferred from the patronymic; name trimmed
    assert (b["snils"], b["snils_raw"], b["sex"], b["surname"]) == (None, "112-233-445 96", "M", "ПЕТРОВ")
    # no consent to disclose medical secrecy: the diagnosis is not stored, and the record says so
    assert b["icd10"] is None and b["diagnosis_withheld"] is True and a["diagnosis_withheld"] is False
    assert (a["locator"], b["locator"]) == ("2", "3")
    # raw keeps the cells as read, in file order; the header once per batch
    raw = query("SELECT payload::text[] FROM raw.record ORDER BY locator")
    assert raw[0][0][5] == "Семёнова" and raw[1][0][5] == " ПЕТРОВ "
    assert query("SELECT header[6] FROM audit.load_batch") == [("Фамилия",)]


def test_referral_utf8_bom_comma_and_column_order(clean_db, tmp_path):
    text = "\ufeffФамилия,Имя,ДатаРождения,КодМО,НомерНаправления,ДатаНаправления\nИванов,Иван,1950-12-13,1,R9,01.02.2024\n"
    ingest(write(tmp_path, "u.csv", text, "utf-8"))
    [r] = referrals()
    assert (r["surname"], r["referral_id"], r["referral_date"], r["channel"]) == \
        ("Иванов", "R9", dt.date(2024, 2, 1), "other")


def test_tab_delimited_with_extra_unknown_columns(clean_db, tmp_path):
    text = "Фамилия\tИмя\tДатаРождения\tКодМО\tНомерНаправления\tДатаНаправления\tКомментарий\n" \
           "Иванов\tИван\t13.12.1950\t1\tR1\t01.02.2024\tпозвонить\n"
    res = ingest(write(tmp_path, "t.csv", text))
    assert res.staged == 1
    assert query("SELECT payload::text[] FROM raw.record")[0][0][-1] == "позвонить"  # kept in raw, not staged


BAD_ROWS = (HEADER + "\r\n"
            "360001;A-1;02.01.2024;иное;;Иванов;Иван;;М;31.02.1950;;да\r\n"
            "360001;A-2;02.01.2024;иное;;;Иван;;М;01.02.1950;;да\r\n"
            "360001;A-3;02.01.2024\r\n"
            "360001;A-4;02.01.2024;иное;;Иванов;Иван;;Х;01.02.1950;;да\r\n"
            "360001;A-5;02.01.2024;иное;;Иванов;Иван;;М;01.02.1950;;может быть\r\n"
            "360001;A-6;02.01.2099;иное;;Иванов;Иван;;М;01.02.1950;;да\r\n"
            "360001;A-7;02.01.2024;иное;;Иванов;Иван;;М;01.02.1850;;да\r\n"
            "360001;;02.01.2024;иное;;Иванов;Иван;;М;01.02.1950;;да\r\n"
            "360001;A-9;02.01.2024;иное;;Иванов;Иван;;М;01.02.1950;;да;лишнее\r\n"
            "\r\n"
            "360001;A-10;02.01.2024;иное;;Сидоров;Иван;;М;01.02.1950;;да\r\n")


def test_bad_rows_go_to_quarantine_with_reason_on_both_paths(clean_db, tmp_path, read_path):
    res = ingest(write(tmp_path, "bad.csv", BAD_ROWS))
    assert [(loc, reason) for loc, reason, _ in quarantined()] == [
        ("2", "bad_date"), ("3", "missing_identity"), ("4", "malformed_row"), ("5", "bad_sex"), ("6", "bad_bool"),
        ("7", "date_in_future"), ("8", "implausible_birth_date"), ("9", "missing_required"),
        ("10", "malformed_row")]
    details = dict((loc, d) for loc, _, d in quarantined())
    assert "31.02.1950" in details["2"] and details["4"] == "3 fields, header has 12"
    assert [r["locator"] for r in referrals()] == ["12"]  # the blank line is not a record
    assert (res.read, res.staged, res.quarantined) == (10, 1, 9)
    # malformed rows keep every cell they had in raw
    assert query("SELECT payload::text[] FROM raw.record WHERE locator = '10'")[0][0][-1] == "лишнее"


def test_python_path_when_copy_refuses_the_file(clean_db, tmp_path):
    # a NUL byte and a line that would end COPY's input ("\.") must neither fail the file nor cut it short
    text = (HEADER + "\r\n360001;A-1;02.01.2024;иное;;Ива\x00нов;Иван;;М;01.02.1950;;да\r\n\\.\r\n"
            "360001;A-2;02.01.2024;иное;;Петров;Пётр;;М;01.02.1950;;да\r\n")
    res = ingest(write(tmp_path, "nul.csv", text))
    assert [r["surname"] for r in referrals()] == ["Иванов", "Петров"]
    assert [reason for _, reason, _ in quarantined()] == ["malformed_row"]  # the "\." line, kept
    assert res.read == 3


def test_same_rows_in_one_file_are_staged_once(clean_db, tmp_path):
    row = "360001;A-1;02.01.2024;иное;;Иванов;Иван;;М;01.02.1950;;да\r\n"
    res = ingest(write(tmp_path, "d.csv", HEADER + "\r\n" + row + row))
    assert (res.staged, res.quarantined) == (1, 1)
    assert quarantined()[0][1:] == ("duplicate_record", f"same content as batch:locator {res.batch_id}:2")


@pytest.mark.parametrize("text,encoding,reason", [
    ("Фамилия;Имя\r\nИванов;Иван\r\n", "cp1251", "missing_columns"),
    ("", "cp1251", "empty_file"),
    ("КодМО НомерНаправления ДатаНаправления\r\n", "cp1251", "bad_delimiter"),
    (HEADER + "\r\n", "utf-16", "bad_encoding"),
])
def test_file_level_rejections(clean_db, tmp_path, text, encoding, reason):
    with pytest.raises(FileRejected) as e:
        health.open_table(write(tmp_path, "x.csv", text, encoding))
    assert e.value.reason == reason
    res = ingest(tmp_path / "x.csv")
    assert (res.status, res.reason) == ("rejected", reason)
    assert query("SELECT count(*) FROM raw.record")[0][0] == 0


def test_encoding_error_after_the_sample_rejects_the_whole_file(clean_db, tmp_path):
    row = "360001;A-{};02.01.2024;иное;;Иванов;Иван;;М;01.02.1950;;да\r\n"
    body = (HEADER + "\r\n").encode("utf-8") + b"".join(row.format(i).encode("utf-8") for i in range(30000))
    res = ingest(write(tmp_path, "mixed.csv", body + row.format("x").encode("cp1251")))
    assert (res.status, res.reason) == ("rejected", "bad_encoding")
    assert query("SELECT count(*) FROM staging.health_referral")[0][0] == 0


def test_referral_xlsx_with_excel_mangled_snils_and_dates(clean_db, tmp_path):
    import openpyxl

    body = "012345678"
    snils = body + normalize.snils_checksum(body)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["КодМО", "НомерНаправления", "ДатаНаправления", "СНИЛС", "Фамилия", "Имя", "Отчество",
               "ДатаРождения", "СогласиеНаРазглашение", "ДиагнозМКБ"])
    ws.append([360001, "X-1", dt.datetime(2024, 5, 6), int(snils), "Орлов", "Олег", "Олегович", dt.date(1944, 4, 4),
               "да", "I63.9"])
    ws.append([360001, "X-2", "07.05.2024", None, "Орлова", "Ольга", None, "bad", "нет", None])
    p = tmp_path / "ref.xlsx"
    wb.save(p)
    res = ingest(p)
    [a] = referrals()
    assert a["snils"] == snils  # the leading zero Excel dropped is restored
    assert (a["mo_code"], a["referral_date"], a["birth_date"], a["locator"]) == \
        ("360001", dt.date(2024, 5, 6), dt.date(1944, 4, 4), "2")
    assert [(loc, reason) for loc, reason, _ in quarantined()] == [("3", "bad_date")]
    assert res.read == 2


def test_xlsx_that_is_not_a_workbook(clean_db, tmp_path):
    with pytest.raises(FileRejected) as e:
        health.open_table(write(tmp_path, "fake.xlsx", b"plain text"))
    assert e.value.reason == "bad_xlsx"


SNILS_CASES = ["112-233-445 95", "11223344595", "112 233 445 95", "2345678901", "2345678901.0", "112-233-445 96",
               "12345", "abc", "", "  ", "001-001-998 00", "0123456789", "123456789012", "112.233.445.95",
               "№ 112-233-445 95", "1.0", "0000000000"]


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_sql_snils_rules_agree_with_normalize(pg_url, engine):
    # The set-based loader re-states normalize.normalize_snils in SQL (run by DuckDB when landing; the same
    # text is valid PostgreSQL): both must agree with Python on awkward input.
    import duckdb

    exprs = normalize.snils_sql("t")
    template = (f"SELECT d, CASE WHEN {normalize.snils_valid_sql('d', 's')} THEN d END FROM ("
                f"  SELECT d, CASE WHEN d ~ '^[0-9]{{11}}$' THEN {normalize.snils_sum_sql('d')} END AS s"
                f"  FROM (SELECT {exprs} AS d FROM (SELECT PARAM::text AS t) x) y) z")
    cases = SNILS_CASES + [normalize.format_snils(f"{n:09d}" + normalize.snils_checksum(f"{n:09d}"))
                           for n in range(1001990, 1002010)]
    if engine == "duckdb":
        con = duckdb.connect()
        run = lambda text: con.execute(template.replace("PARAM", "?"), [text]).fetchone()  # noqa: E731
    else:
        conn = db.connect(pg_url)
        cur = conn.cursor()
        run = lambda text: (cur.execute(template.replace("PARAM", "%s"), (text,)), cur.fetchone())[1]  # noqa: E731
    for raw in cases:
        _digits, snils = run(raw.strip() or None)
        assert snils == normalize.normalize_snils(raw)[0], raw
    if engine == "postgresql":  # the database's own check is the same rule
        db.upgrade(pg_url)
        for raw in cases + ["00100199800", "abcdefghijk", "1122334459"]:
            cur.execute("SELECT ref.snils_is_valid(%s)", (raw,))
            assert cur.fetchone()[0] is normalize.snils_is_valid(raw), raw
        cur.execute("SELECT ref.snils_is_valid(NULL)")
        assert cur.fetchone()[0] is False


HOSTILE_CELLS = ["", " ", "NULL", "null", "nUlL", "NULLX", "a,b", "{x}", 'say "hi"', "back\\slash", "tab\there",
                 "line\nbreak", "cr\rx", "vt\x0bx", "ff\x0cx", "Семёнова", "\u00a0nbsp", "'quote'", "ＮＵＬＬ", None]


def test_payload_is_postgresqls_text_form_of_the_cells(pg_url):
    # raw.record.payload is built by DuckDB; it must be exactly what PostgreSQL prints for the text[] (so
    # payload::text[] reads the cells back) and its hash what PostgreSQL computes for it.
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE MACRO pg_element(v) AS {tabular._PG_ELEMENT}")
    cells = HOSTILE_CELLS + list(reversed(HOSTILE_CELLS))
    names = [f"c{i}" for i in range(len(cells))]
    con.execute(f"CREATE TABLE land AS SELECT '2' AS locator, 0 AS seq, NULL::INTEGER AS nf, NULL::VARCHAR[] AS extra,"
                f" {', '.join(f'?::VARCHAR AS {n}' for n in names)}", cells)
    con.execute(tabular._hash_statement(names))
    payload, digest = con.execute("SELECT payload, content_hash FROM h").fetchone()
    with db.transaction(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT (%s::text[])::text, %s::text[], encode(sha256(convert_to((%s::text[])::text, 'UTF8')), 'hex')",
                    (cells, payload, cells))
        pg_payload, back, pg_digest = cur.fetchone()
    assert payload == pg_payload and back == cells and digest == pg_digest
    # a malformed row's payload is just the cells it had (extra ones included)
    con.execute("DROP TABLE h; UPDATE land SET nf = 3, extra = ['x{', NULL]")
    con.execute(tabular._hash_statement(names[:2]))
    assert con.execute("SELECT payload FROM h").fetchone()[0] == '{""," ","x{"}'


QUOTES = (HEADER + "\r\n"
          '360001;"A-1";02.01.2024;иное;;"Ива""нов";Иван;;М;01.02.1950;;да\r\n'
          '360001;A-2;02.01.2024;иное;;Пет"ров;Пётр;;М;01.02.1950;;да\r\n'
          '360001;A-3;02.01.2024;"иное;""многострочное""\r\nзначение";;Сидоров;Пётр;;М;01.02.1950;;да\r\n'
          '360001;A-4;02.01.2024;иное;"";Смирнов;Пётр;"";М;01.02.1950;;да\r\n')


def test_quotes_and_multiline_cells_read_alike_on_both_paths(clean_db, tmp_path, read_path):
    res = ingest(write(tmp_path, "q.csv", QUOTES))
    assert (res.read, res.staged) == (4, 4)
    rows = referrals()
    assert [r["surname"] for r in rows] == ['Ива"нов', 'Пет"ров', "Сидоров", "Смирнов"]
    assert [r["locator"] for r in rows] == ["2", "3", "4", "5"]
    assert rows[2]["channel"] == "other"  # an unknown channel text takes the default
    raw = query("SELECT payload::text[] FROM raw.record ORDER BY locator")
    assert raw[2][0][3] == 'иное;"многострочное"\r\nзначение'
    assert raw[3][0][4] is None and raw[3][0][7] is None  # an empty cell is NULL, quoted or not
    hashes = query("SELECT content_hash FROM raw.record ORDER BY locator")
    assert hashes == [(h,) for (h,) in query(
        "SELECT encode(sha256(convert_to(payload, 'UTF8')), 'hex') FROM raw.record ORDER BY locator")]


def test_a_row_over_the_size_limit_rejects_the_file_clearly(clean_db, tmp_path):
    huge = "x" * (tabular.MAX_ROW_BYTES + 10)
    text = HEADER + "\r\n360001;A-1;02.01.2024;иное;;Иванов;Иван;;М;01.02.1950;" + huge + ";да\r\n"
    res = ingest(write(tmp_path, "huge.csv", text, "utf-8"))
    assert (res.status, res.reason) == ("rejected", "row_too_large")
    assert query("SELECT count(*) FROM raw.record")[0][0] == 0


def test_out_of_memory_lands_again_without_keeping_the_first_attempt(clean_db, tmp_path, monkeypatch):
    import duckdb

    real, calls = tabular._land, []

    def first_fails(cur, table, *args):
        calls.append(args[-2:])  # (threads, memory)
        if len(calls) == 1:
            real(cur, table, *args)  # everything landed once…
            raise duckdb.OutOfMemoryException("Out of Memory Error: simulated")  # …then DuckDB gives up
        return real(cur, table, *args)

    monkeypatch.setattr(tabular, "_land", first_fails)
    monkeypatch.setenv("LTC_DUCKDB_MEMORY", "300MB")
    res = ingest(write(tmp_path, "bad.csv", BAD_ROWS))
    assert calls == [(calls[0][0], 300), (1, 600)]
    assert (res.read, res.staged, res.quarantined) == (10, 1, 9)
    assert query("SELECT count(*) FROM raw.record")[0][0] == 10  # not 20: the first attempt was rolled back
    assert query("SELECT count(*) FROM quarantine.record")[0][0] == 9


def test_rows_of_blank_cells_are_not_records_on_either_path(clean_db, tmp_path, read_path):
    row = "360001;A-{};02.01.2024;иное;;Иванов;Иван;;М;01.02.1950;;да\r\n"
    res = ingest(write(tmp_path, "b.csv", HEADER + "\r\n" + row.format(1) + ";;; ;;;;;;\u00a0;;\r\n" + row.format(2)))
    assert (res.read, res.staged) == (2, 2)
    assert [r["locator"] for r in referrals()] == ["2", "4"]


def test_a_thousand_columns(clean_db, tmp_path):
    extra = [f"Колонка{i}" for i in range(1500)]
    text = (HEADER + ";" + ";".join(extra) + "\r\n"
            "360001;A-1;02.01.2024;иное;;Иванов;Иван;;М;01.02.1950;;да;" + ";".join(map(str, range(1500))) + "\r\n")
    res = ingest(write(tmp_path, "wide.csv", text))
    assert (res.read, res.staged) == (1, 1)
    assert query("SELECT array_length(payload::text[], 1), (payload::text[])[1512] FROM raw.record") == [(1512, "1499")]


def test_no_diagnosis_without_consent_in_raw_or_quarantine(clean_db, tmp_path):
    """Medical secrecy: without written consent a diagnosis is kept nowhere — not in staging, not in the
    raw record, not in quarantine; with consent it is kept. Duplicates are still found by the content
    hash of the record as read."""
    head = "КодМО;НомерНаправления;ДатаНаправления;Фамилия;Имя;ДатаРождения;МКБ;Согласие\r\n"
    rows = ("1;A1;01.02.2024;Иванов;Иван;13.12.1950;I63.9;нет\r\n"        # no consent: withheld
            "1;A2;01.02.2024;Петров;Пётр;01.01.1940;G30.1;да\r\n"         # consent: kept
            "1;A3;01.02.2099;Сидоров;Сидор;01.01.1941;F01.0;\r\n"         # quarantined (future), no consent
            "1;A1;01.02.2024;Иванов;Иван;13.12.1950;I63.9;нет\r\n")       # a repeat of the first row
    p = tmp_path / "r.csv"
    p.write_bytes((head + rows).encode("cp1251"))
    [res] = load.ingest("health", [p])
    assert (res.read, res.staged, res.quarantined) == (4, 2, 2)
    raw = dict(query("SELECT locator, payload FROM raw.record"))
    assert "I63.9" not in raw["2"] and "F01.0" not in raw["4"] and "I63.9" not in raw["5"]
    assert "G30.1" in raw["3"] and "Иванов" in raw["2"]
    assert query("SELECT (payload::text[])[7] FROM raw.record WHERE locator = '2'") == [(None,)]  # still a text[]
    quarantine = dict(query("SELECT reason_code, payload FROM quarantine.record"))
    assert set(quarantine) == {"date_in_future", "duplicate_record"}
    assert all(code not in text for text in quarantine.values() for code in ("I63.9", "F01.0"))
    assert query("SELECT referral_id, icd10, diagnosis_withheld FROM staging.health_referral ORDER BY 1") == \
        [("A1", None, True), ("A2", "G30.1", False)]
    hashes = query("SELECT count(DISTINCT content_hash) FROM raw.record WHERE locator IN ('2', '5')")
    assert hashes == [(1,)]


def test_no_diagnosis_from_a_medical_events_extract_anywhere(clean_db, tmp_path):
    """The event extracts carry no consent: their diagnoses are kept nowhere (staging says one was
    withheld), while a re-sent row is still found by the hash of the row as read."""
    head = "КодМО;НомерСлучая;ВидСобытия;ДатаНачала;ДатаОкончания;ДиагнозМКБ;Фамилия;Имя;ДатаРождения\r\n"
    rows = ("1;E1;госпитализация;01.02.2024;10.02.2024;I63.9;Иванов;Иван;13.12.1950\r\n"
            "1;E2;вызов скорой помощи;03.02.2024;;;Петров;Пётр;01.01.1940\r\n"
            "1;E3;госпитализация;05.02.2024;01.02.2024;G30.1;Сидоров;Сидор;01.01.1941\r\n"   # ends before it starts
            "1;E1;госпитализация;01.02.2024;10.02.2024;I63.9;Иванов;Иван;13.12.1950\r\n")  # a repeat
    p = tmp_path / "events.csv"
    p.write_bytes((head + rows).encode("cp1251"))
    [res] = load.ingest("health", [p])
    assert (res.read, res.staged, res.quarantined) == (4, 2, 2)
    assert query("SELECT event_id, icd10, diagnosis_withheld FROM staging.health_medical_event ORDER BY 1") == \
        [("E1", None, True), ("E2", None, False)]
    texts = [t for (t,) in query("SELECT payload FROM raw.record UNION ALL SELECT payload FROM quarantine.record")]
    assert len(texts) == 6 and not any(code in t for t in texts for code in ("I63.9", "G30.1"))
    assert query("SELECT reason_code FROM quarantine.record ORDER BY 1") == [("duplicate_record",),
                                                                            ("inconsistent_dates",)]


def test_the_content_key_is_the_same_in_duckdb_and_postgresql(clean_db):
    """raw.content_key is written by DuckDB (tables) and by PostgreSQL (record sources, retention, the
    migration): both engines' hash8 give one number for a hash, a hash of leading f's included."""
    import hashlib

    import duckdb

    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(200)] + ["f" * 64, "0" * 64, "8" + "0" * 63]
    duck = duckdb.connect()
    duck.execute(f"CREATE MACRO hash8(h) AS {tabular.HASH8}")
    ours = [v for (v,) in duck.execute("SELECT hash8(h) FROM unnest($1::VARCHAR[]) AS u(h)", [hashes]).fetchall()]
    theirs = [v for (v,) in query("SELECT raw.hash8(h) FROM unnest(%s::text[]) WITH ORDINALITY AS u(h, n)"
                                  " ORDER BY n", (hashes,))]
    assert ours == theirs == [int(h[:15], 16) for h in hashes]


def test_a_record_landed_before_is_found_by_its_key_and_its_whole_hash(clean_db, tmp_path):
    """The duplicate check narrows by the key and confirms by the whole hash: a record landed before is
    a duplicate; a key shared with another content (forced here) is not."""
    row = "360001;A-{};02.01.2024;иное;;Иванов;Иван;;М;01.02.1950;;да\r\n"
    first = ingest(write(tmp_path, "a.csv", HEADER + "\r\n" + row.format(1)))
    again = ingest(write(tmp_path, "b.csv", HEADER + "\r\n" + row.format(1) + row.format(2)))
    assert (again.staged, again.quarantined) == (1, 1)  # A-1 again: a duplicate of batch a's row
    assert query("SELECT detail FROM quarantine.record") == [(f"same content as batch:locator {first.batch_id}:2",)]
    # A-2's key given to A-1's record in batch a, and batch b set aside: A-2 landed again finds a key of
    # batch a, whose record is another content — not a duplicate
    query("UPDATE raw.content_key SET hash8 = (SELECT raw.hash8(content_hash) FROM raw.record WHERE batch_id = %s"
          " AND locator = '3') WHERE batch_id = %s", (again.batch_id, first.batch_id))
    query("UPDATE audit.load_batch SET status = 'rejected' WHERE batch_id = %s", (again.batch_id,))
    third = ingest(write(tmp_path, "c.csv", HEADER + "\r\n" + row.format(2) + row.format(3)))
    assert (third.staged, third.quarantined) == (2, 0)
