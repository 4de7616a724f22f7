"""Database access: DATABASE_URL when set, otherwise an embedded PostgreSQL (pgserver).

The embedded server lives under the project-local `var/pgdata` (git-ignored) and is reused
between runs; pgserver starts it on first use and attaches to it afterwards.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import psycopg2
import psycopg2.extensions

from etl.base import settings

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def var_dir() -> Path:
    """Project-local folder for generated state (embedded database, demo output, reports)."""
    path = settings.current().var_dir or PROJECT_ROOT / "var"
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_server_url(data_dir: Path | None = None) -> str:
    import pgserver  # imported lazily: it is only needed without DATABASE_URL

    data_dir = data_dir or var_dir() / "pgdata"
    server = pgserver.get_server(str(data_dir), cleanup_mode=None)
    return server.get_uri()


def database_url() -> str:
    url = settings.current().database_url or ""
    if not url:
        url = embedded_server_url()
        # Remember it for child processes (Airflow task runners, GX) started from here.
        os.environ["DATABASE_URL"] = url
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def sqlalchemy_url(url: str | None = None) -> str:
    url = url or database_url()
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def connect(url: str | None = None) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(url or database_url())
    conn.set_client_encoding("UTF8")
    return conn


@contextlib.contextmanager
def transaction(url: str | None = None) -> Iterator[psycopg2.extensions.connection]:
    """One connection, one transaction: commit on success, roll back on any error."""
    conn = connect(url)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def session_lock(name: str, url: str | None = None) -> Iterator[None]:
    """Hold a database-wide advisory lock for the block, on a connection of its own (so it spans the
    block's own transactions); waits, saying so once, while another process holds it. A process that
    dies releases it with its connection."""
    with _advisory(name, url, wait=True):
        yield


@contextlib.contextmanager
def try_session_lock(name: str, url: str | None = None) -> Iterator[bool]:
    """The lock of `session_lock` if nobody holds it (True, held for the block), else False at once."""
    with _advisory(name, url, wait=False) as held:
        yield held


@contextlib.contextmanager
def _advisory(name: str, url: str | None, wait: bool) -> Iterator[bool]:
    conn = connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (name,))
            held = cur.fetchone()[0]
            if not held and wait:
                log.warning("waiting for %s: another process holds it", name)
                cur.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (name,))
                held = True
        yield held
    finally:
        conn.close()  # closing the session releases the lock


def _copy_field(value) -> str:
    # Every non-null value is quoted, so an empty string or a literal \N never reads as NULL.
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return '"t"' if value else '"f"'
    return '"' + str(value).replace('"', '""') + '"'


def copy_rows(cur, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Bulk insert with COPY in CSV format."""
    buf = io.StringIO()
    n = 0
    for row in rows:
        buf.write(",".join(map(_copy_field, row)))
        buf.write("\n")
        n += 1
    if n == 0:
        return 0
    buf.seek(0)
    cols = ", ".join(columns)
    cur.copy_expert(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buf)
    return n


def analyze(tables: Iterable[str], url: str | None = None) -> None:
    """Fresh planner statistics for tables just written (after their transaction committed). The models
    are views over views: on tables autovacuum has not reached yet, PostgreSQL takes a join of thousands
    of rows for one row and plans nested loops over the register (4 s for 5 000 care reports; 30 ms
    analysed). ANALYZE samples a table, so this costs milliseconds to a few hundred of them."""
    names = sorted(set(tables))
    if not names:
        return
    conn = connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("ANALYZE " + ", ".join(names))
    finally:
        conn.close()


@contextlib.contextmanager
def scratch_database(prefix: str, admin_url: str | None = None) -> Iterator[str]:
    """A new empty database beside the configured one, DATABASE_URL pointed at it, dropped afterwards.

    For tests and benchmarks: the server is DATABASE_URL's (or `admin_url`, or the embedded one).
    """
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    admin = admin_url or settings.current().database_url or embedded_server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(admin)._replace(path="/" + name))
    saved = os.environ.pop("DATABASE_URL", None)  # restored afterwards
    os.environ["DATABASE_URL"] = url
    try:
        yield url
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Create or upgrade the schema with Alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parents[1] / "migrations"))
    cfg.attributes["url"] = sqlalchemy_url(url)
    command.upgrade(cfg, revision)
