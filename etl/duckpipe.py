"""Rows of a DuckDB query copied into PostgreSQL as they are computed, nothing on disk.

Two ways. copy_streamed (the loader, etl/tabular.py): PostgreSQL's COPY pulls the query's rows as Arrow
batches, each written as CSV by pyarrow; DuckDB computes no further ahead than COPY takes, so memory stays
within the loader's small DuckDB limit however slow PostgreSQL is, and an error on either side ends the
other at once. copy_into_postgres (the marts engine): DuckDB's own parallel CSV writer into a named pipe,
the faster when DuckDB has the memory to run ahead of PostgreSQL.

The pipe cannot leave either side waiting: our own write end keeps COPY from seeing the end of the data
before DuckDB opens the pipe and is closed when DuckDB is done however it ends (a failed query ends the
COPY); when PostgreSQL fails, the read end is closed so DuckDB stops, and PostgreSQL's error is raised.
Named pipes are POSIX: the Airflow workers and CI run Linux.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv


def copy_into_postgres(con, cur, query: str, copy_in: str, pipe: Path) -> int:
    """Run `copy_in` (a COPY … FROM STDIN of CSV) on the PostgreSQL cursor `cur`, fed by the DuckDB query
    on `con` (a connection or cursor of its own: the caller may go on using its connection meanwhile).
    Returns the rows PostgreSQL took."""
    write = f"COPY ({query}) TO '{pipe}' (FORMAT csv, HEADER false)"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    guard = os.open(pipe, os.O_WRONLY)
    os.set_blocking(reader, True)
    try:
        with ThreadPoolExecutor(1) as pool, os.fdopen(reader, "rb") as f:
            written = pool.submit(con.execute, write)
            written.add_done_callback(lambda _: os.close(guard))
            try:
                cur.copy_expert(copy_in, f, size=1 << 20)
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
    """A file-like object for COPY FROM STDIN: each read() is the next Arrow batch as CSV (every value
    quoted, NULL bare, so PostgreSQL tells NULL from '')."""

    def __init__(self, reader: pa.RecordBatchReader):
        self.reader = reader

    def read(self, _size: int = -1) -> bytes:
        for batch in self.reader:
            if batch.num_rows:
                sink = pa.BufferOutputStream()
                pa_csv.write_csv(batch, sink, _CSV)
                return sink.getvalue().to_pybytes()
        return b""


def copy_streamed(duck, cur, query: str, copy_in: str) -> int:
    """Run `copy_in` (a COPY … FROM STDIN WITH (FORMAT csv)) on the PostgreSQL cursor `cur`, fed by the
    DuckDB query on `duck` (a cursor of its own when the caller goes on using its connection meanwhile).
    Returns the rows PostgreSQL took."""
    reader = duck.sql(query).to_arrow_reader(_ROWS_PER_BATCH)
    try:
        cur.copy_expert(copy_in, _CsvStream(reader), size=1 << 20)
    finally:
        reader.close()
    return cur.rowcount
