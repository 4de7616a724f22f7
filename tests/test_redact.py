"""Messages that leave the process — logs, task logs, failure e-mails, the terminal — carry no record's
identity, whatever the engine quoted (issue 22: DuckDB printed a whole record into the task log)."""
import json
import logging
import traceback

import duckdb
import psycopg2
import pytest

from etl import cli
from etl.base import db, redact
from etl.orchestration import ops

NAME, SNILS, BIRTH = "Ромашкина", "112-233-445 95", "1950-12-13"


def _leaks(text: str) -> list[str]:
    return [x for x in (NAME, SNILS, "11223344595", BIRTH, "13.12.1950") if x in text]


def _postgres_error():
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT '{NAME} {BIRTH} {SNILS}'::date")


def _duckdb_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(f'"1","{NAME}, {SNILS}","{BIRTH}"\n"2","{NAME}\n', encoding="utf-8")
    duckdb.connect().execute(f"SELECT * FROM read_csv('{path}', header = false, quote = '\"', escape = '\"',"
                             " columns = {'a': 'INTEGER', 'b': 'VARCHAR', 'c': 'DATE'}, auto_detect = false)")


def _python_error():
    int(f"{NAME} {SNILS}")


@pytest.mark.parametrize("raise_it", ["postgres", "duckdb", "python", "chained"])
def test_scrubbed_errors_print_no_identity(pg_url, tmp_path, raise_it):
    def chained():
        try:
            _python_error()
        except ValueError as e:
            raise RuntimeError(f"while reading {NAME}") from e

    fn = {"postgres": _postgres_error, "duckdb": lambda: _duckdb_error(tmp_path), "python": _python_error,
          "chained": chained}[raise_it]
    with pytest.raises(Exception) as caught:
        fn()
    assert _leaks("".join(traceback.format_exception(caught.value)))  # the engines do quote them
    redact.scrub(caught.value)
    printed = "".join(traceback.format_exception(caught.value))
    assert not _leaks(printed), printed
    assert not _leaks(redact.safe_message(caught.value))


def test_guarded_step_keeps_the_type_and_drops_the_values(pg_url):
    step = redact.guarded(_postgres_error)
    with pytest.raises(psycopg2.errors.InvalidDatetimeFormat) as caught:
        step()
    assert "invalid input syntax for type date" in str(caught.value) and not _leaks(str(caught.value))


def test_failure_callback_logs_and_records_no_identity(pg_url, caplog):
    class TI:
        dag_id, task_id, try_number = "ltc_register", "build_register", 1

    try:
        _postgres_error()
    except psycopg2.Error as e:
        exc = e
    with caplog.at_level(logging.ERROR, logger="ltc.ops"):
        ops.on_failure({"task_instance": TI(), "exception": exc, "run_id": "t_redact"})
    assert caplog.records and not _leaks(caplog.text)
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT summary FROM audit.pipeline_run WHERE run_id LIKE 't_redact/%'")
        [(summary,)] = cur.fetchall()
    assert summary["error"] == "InvalidDatetimeFormat" and not _leaks(json.dumps(summary, ensure_ascii=False))


def test_cli_says_where_a_bad_csv_fails_without_quoting_it(tmp_path, capsys):
    path = tmp_path / "persons.csv"
    path.write_text("record_id,surname,snils,birth_date\n"
                    f'1,"{NAME}",{SNILS},{BIRTH}\n2,"{NAME},{SNILS},{BIRTH}\n', encoding="utf-8")
    assert cli.main(["dedup", str(path), "-o", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert "not a readable CSV" in err and not _leaks(err), err


def test_cli_unexpected_failure_is_reported_scrubbed(pg_url, capsys, monkeypatch):
    from etl.orchestration import pipeline

    def boom(*_a, **_k):
        _postgres_error()
    monkeypatch.setattr(pipeline, "build_register", boom)
    assert cli.main(["register", "build"]) == 3
    err = capsys.readouterr().err
    assert "ltcreg register: failed: InvalidDatetimeFormat" in err and not _leaks(err), err


def test_safe_text_masks_values_and_keeps_codes_and_counts():
    text = redact.safe_text(f"duplicate_record: same content as batch:locator 12:5 — '{NAME}' {SNILS} on {BIRTH}"
                            "\nDETAIL: Key (snils)=(11223344595)")
    assert text == "duplicate_record: same content as batch:locator 12:5 — … … on …"
    assert redact.safe_text("Input is not proper UTF-8, indicate encoding !\nBytes: 0xD0 0x20") == \
        "Input is not proper UTF-8, indicate encoding !"


def test_gate_messages_are_kept_whole_and_others_cut():
    """The gate names every failed check (codes and counts, never values): cut at 300 characters an
    operator would not see which checks failed; any other message is cut and masked as before."""
    from etl import quality

    long = "; ".join(f"suite_{i}.check_{i}: {i} unexpected" for i in range(40))
    gate = quality.GateFailed(long)
    redact.scrub(gate)
    assert str(gate) == long
    other = RuntimeError(long + " 'Иванов'")
    redact.scrub(other)
    assert len(str(other)) <= 300 and "Иванов" not in str(other)


def test_cli_output_and_data_docs_of_a_whole_run_and_a_failing_one_carry_no_identity(clean_db, region, tmp_path):
    """The terminal of `ltcreg -v run` on a generated region, and of a run that fails in the register build
    on a record whose row the database refuses (its error quotes the row), and the Data Docs the runs
    wrote: scanned for every staged person's SNILS, full name and birth date (the Airflow side — task
    logs, e-mails — is scanned in tests/test_airflow_stack.py)."""
    import os
    import subprocess
    import sys

    from etl import quality
    from tests.conftest import PEOPLE_SQL, identity_leaks, late_record_refused, late_referral_csv, query

    def ltcreg(*args):
        return subprocess.run([sys.executable, "-m", "etl.cli", "-v", *args], capture_output=True, text=True,
                              timeout=900, env=os.environ.copy())

    folder, _ = region
    first = ltcreg("run", "--landing", str(folder))
    assert first.returncode == 0, first.stderr[-3000:]
    (tmp_path / "health").mkdir()
    (tmp_path / "health" / "late.csv").write_bytes(late_referral_csv())
    with late_record_refused(query):
        failing = ltcreg("run", "--landing", str(tmp_path))
    assert failing.returncode == 3 and "CheckViolation" in failing.stderr, failing.stderr[-3000:]
    assert "Traceback" in failing.stderr  # -v: the traceback is there, its values masked

    texts = {"run stdout": first.stdout, "run stderr": first.stderr, "failing stdout": failing.stdout,
             "failing stderr": failing.stderr}
    docs = quality.data_docs_index().parent
    texts.update({str(p): p.read_text(encoding="utf-8", errors="replace") for p in docs.rglob("*")
                  if p.is_file() and p.suffix in (".html", ".json")})
    assert len(texts) > 10  # Data Docs were written
    people = query(PEOPLE_SQL)
    assert len(people) > 300
    leaks = identity_leaks(texts, people)
    assert not leaks, leaks[:20]
