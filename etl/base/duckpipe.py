"""Every hand-off of rows between PostgreSQL and DuckDB, in one CSV dialect that both sides name.

The dialect (RFC 4180 as PostgreSQL's COPY writes it): ',' between fields, '"' around every non-NULL
value and doubled inside it, records ended by LF, NULL an unquoted empty field, '' a quoted one; commas, line breaks,
backslashes and a literal \\N inside values are plain text. Neither side guesses: DuckDB's dialect
sniffer, left to it, took one value such as СНТ "Ромашка" for an unterminated quote and stopped every
register build after it (issue 22), and a CR in an early value made it take CR for the line end.

PostgreSQL → DuckDB (the register's linkage input, the marts engine's inputs): COPY … TO STDOUT into a
file, read back by read_csv with every option set; the row counts of both sides must agree.

DuckDB → PostgreSQL, as rows are computed, nothing on disk, two ways. copy_streamed (the loader,
etl/landing/tabular.py): PostgreSQL's COPY pulls the query's rows as Arrow batches, each written as CSV by
pyarrow; DuckDB computes no further ahead than COPY takes, so memory stays within the loader's small
DuckDB limit however slow PostgreSQL is, and an error on either side ends the other at once.
copy_into_postgres (the marts engine): DuckDB's own parallel CSV writer into a named pipe, the faster
when DuckDB has the memory to run ahead of PostgreSQL.

The pipe cannot leave either side waiting: our own write end keeps COPY from seeing the end of the data
before DuckDB opens the pipe and is closed when DuckDB is done however it ends (a failed query ends the
COPY); when PostgreSQL fails, the read end is closed so DuckDB stops, and PostgreSQL's error is raised.
Named pipes are POSIX: the Airflow workers and CI run Linux.

Engine errors quote the rows they choke on (DuckDB prints the whole CSV line: SNILS, name, birth date);
a failed hand-off raises HandOffError, which names the table and the line, never a value.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv

_PG = "FORMAT csv, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NULL ''"
_DUCK_WRITE = "FORMAT csv, HEADER false, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NULLSTR '', FORCE_QUOTE *"
MAX_LINE_BYTES = 64 << 20  # a row as PostgreSQL exports it (a person record or a mart input row is far smaller)


class HandOffError(RuntimeError):
    """Rows did not pass between PostgreSQL and DuckDB; the message holds no value of any row."""


def copy_in(target: str, columns: list[str] | str, freeze: bool = False) -> str:
    """COPY … FROM STDIN in the dialect: `target` a table, `columns` its columns in the rows' order."""
    cols = columns if isinstance(columns, str) else ", ".join(columns)
    return f"COPY {target} ({cols}) FROM STDIN WITH ({_PG}{', FREEZE' if freeze else ''})"


def copy_out(query: str) -> str:
    """COPY (query) TO STDOUT in the dialect (every non-NULL value quoted)."""
    return f"COPY ({query}) TO STDOUT WITH ({_PG}, FORCE_QUOTE *)"


def read_csv(files: str, columns: dict[str, str], max_line_bytes: int = MAX_LINE_BYTES) -> str:
    """DuckDB's read_csv() of files in the dialect; `files` a SQL literal or list, `columns` name → type."""
    spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
    return (f"read_csv({files}, columns = {spec}, header = false, delim = ',', quote = '\"', escape = '\"',"
            f" new_line = '\\n', nullstr = '', allow_quoted_nulls = false, auto_detect = false, strict_mode = true,"
            f" max_line_size = {max_line_bytes}, buffer_size = {4 * max_line_bytes})")


def columns_arg(types: dict[str, str]) -> str:
    """read_csv's columns argument: name → DuckDB type."""
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in types.items()) + "}"


def own_csv(path: Path | list[Path], types: dict[str, str], max_line_bytes: int = MAX_LINE_BYTES) -> str:
    """read_csv() of CSV files the project wrote itself (UTF-8, ',', values quoted with '"' doubled, no
    header; an empty cell, quoted or not, is NULL as in the source tables)."""
    files = "[" + ", ".join(_literal(str(p)) for p in (path if isinstance(path, list) else [path])) + "]"
    return (f"read_csv({files}, columns = {columns_arg(types)}, header = false, delim = ',', quote = '\"',"
            f" escape = '\"', new_line = '\\n', nullstr = '', allow_quoted_nulls = true, auto_detect = false,"
            f" strict_mode = true, max_line_size = {max_line_bytes}, buffer_size = {4 * max_line_bytes})")


def line_too_long(e: duckdb.Error) -> bool:
    """Whether DuckDB refused a CSV for a line over its max_line_size."""
    return isinstance(e, duckdb.InvalidInputException) and "maximum line size" in str(e).lower()


def export(cur, query: str, path: Path) -> int:
    """The rows of a PostgreSQL query into a CSV file in the dialect; their number."""
    with open(path, "wb") as f:
        cur.copy_expert(copy_out(query), f, size=1 << 20)
    return cur.rowcount


def load(con, table: str, columns: dict[str, str], path: Path, rows: int | None = None) -> None:
    """A DuckDB table `table` (name → DuckDB type) from a file `export` wrote; `rows` as exported, checked."""
    try:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {read_csv(_literal(str(path)), columns)}")
    except duckdb.Error as e:
        raise HandOffError(f"{table}: DuckDB could not read PostgreSQL's rows ({error_place(e)})") from None
    if rows is not None:
        [(got,)] = con.execute(f"SELECT count(*) FROM {table}").fetchall()
        if got != rows:
            raise HandOffError(f"{table}: PostgreSQL exported {rows} rows, DuckDB read {got}")


def query_into_duckdb(cur, query: str, con, table: str, columns: dict[str, str], folder: Path) -> int:
    """The rows of a PostgreSQL query as the DuckDB table `table`, through a scratch file in `folder`."""
    path = Path(folder) / f"{table.replace('.', '_')}.csv"
    try:
        rows = export(cur, query, path)
        load(con, table, columns, path, rows)
    finally:
        path.unlink(missing_ok=True)
    return rows


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def error_place(e: duckdb.Error) -> str:
    """Where a DuckDB error happened, without what it quotes: its kind and, for CSV errors, the line."""
    line = re.search(r"CSV Error on Line: (\d+)", str(e))
    return type(e).__name__ + (f", line {line.group(1)}" if line else "")


def copy_into_postgres(con, cur, query: str, target: str, columns: list[str] | str, pipe: Path,
                       freeze: bool = False) -> int:
    """Fill `target` (a PostgreSQL table; `columns` in the query's order) with the rows of the DuckDB
    query on `con` (a connection or cursor of its own: the caller may go on using its connection
    meanwhile). Returns the rows PostgreSQL took."""
    write = f"COPY ({query}) TO '{pipe}' ({_DUCK_WRITE})"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    guard = os.open(pipe, os.O_WRONLY)
    os.set_blocking(reader, True)
    try:
        with ThreadPoolExecutor(1) as pool, os.fdopen(reader, "rb") as f:
            written = pool.submit(con.execute, write)
            written.add_done_callback(lambda _: os.close(guard))
            try:
                cur.copy_expert(copy_in(target, columns, freeze), f, size=1 << 20)
            except BaseException:
                f.close()  # DuckDB stops on the closed pipe; PostgreSQL's error is the one to report
                wait([written])
                raise
            written.result()
    finally:
        pipe.unlink()
    return cur.rowcount


_ROWS_PER_BATCH = 1 << 14
_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid", batch_size=_ROWS_PER_BATCH)


class _CsvStream:
    """A file-like object for COPY FROM STDIN: each read() is the next Arrow batch as CSV in the dialect
    (pyarrow quotes every valid value and doubles quotes; NULL is bare)."""

    def __init__(self, reader: pa.RecordBatchReader):
        self.reader = reader

    def read(self, _size: int = -1) -> bytes:
        for batch in self.reader:
            if batch.num_rows:
                sink = pa.BufferOutputStream()
                pa_csv.write_csv(batch, sink, _CSV)
                return sink.getvalue().to_pybytes()
        return b""


def copy_streamed(duck, cur, query: str, target: str, columns: list[str] | str) -> int:
    """Copy the rows of the DuckDB query on `duck` (a cursor of its own when the caller goes on using its
    connection meanwhile) into `target` (columns in the query's order). Returns the rows PostgreSQL took."""
    reader = duck.sql(query).to_arrow_reader(_ROWS_PER_BATCH)
    try:
        cur.copy_expert(copy_in(target, columns), _CsvStream(reader), size=1 << 20)
    finally:
        reader.close()
    return cur.rowcount
