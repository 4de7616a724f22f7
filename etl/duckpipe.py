"""Rows of a DuckDB query copied into PostgreSQL through a named pipe: DuckDB writes CSV while COPY reads
it, both at once, nothing on disk. Used by the loader (etl/tabular.py) and the marts engine.

The pipe cannot leave either side waiting: our own write end keeps COPY from seeing the end of the data
before DuckDB opens the pipe and is closed when DuckDB is done however it ends (a failed query ends the
COPY); when PostgreSQL fails, the read end is closed so DuckDB stops, and PostgreSQL's error is raised.
Named pipes are POSIX: the Airflow workers and CI run Linux.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

# Every value quoted: PostgreSQL's CSV COPY then tells NULL (bare empty) from '' ("").
QUOTED = "FORMAT csv, HEADER false, FORCE_QUOTE *"


def copy_into_postgres(con, cur, query: str, copy_in: str, pipe: Path, options: str = "FORMAT csv, HEADER false") -> int:
    """Run `copy_in` (a COPY … FROM STDIN of CSV) on the PostgreSQL cursor `cur`, fed by the DuckDB query
    on `con` (a connection or cursor of its own: the caller may go on using its connection meanwhile).
    Returns the rows PostgreSQL took."""
    write = f"COPY ({query}) TO '{pipe}' ({options})"
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
