"""Tables (health CSV/XLSX) landed set-based. The per-row work — payload and content hash, casts, checks —
runs in DuckDB (vectorised, both cores); PostgreSQL only receives COPY streams into raw, staging and
quarantine, uncommitted (the caller commits and then marks the batch loaded): raw on one connection while
staging and quarantine go on another.

- A well-formed CSV is read by DuckDB itself (UTF-8; cp1251 is transcoded on the way, which also finds a
  later undecodable byte). A file it refuses — a short or long row, a NUL, a blank line, a lone CR, a
  stray quote — is re-read by Python's csv module, which marks malformed rows instead of failing; XLSX rows
  always come that way. Both paths give the same cells: an empty cell is NULL.
- Dates, sex, yes/no, codes and name parts are cast by the connectors' own Python casts, once per
  distinct value (a million birth dates hold a few tens of thousands of distinct values); text and
  SNILS are cleaned by SQL expressions that mirror etl.base.normalize (tests/test_tabular.py checks both
  agree on awkward values).
- raw.record keeps every row as read: the cells as PostgreSQL's text form of a text[] in file order (the
  form `payload::text[]` reads back; content_hash = sha256 of it, as the record-at-a-time path hashes its
  payloads), the header once in audit.load_batch.header. Quarantined rows carry {header: cell} for
  people to read (a malformed row: just its cells).
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import duckdb
import psycopg2.errors
import pyarrow as pa

from connectors.common import CASTS, MAX_ROW_BYTES, FileRejected, Table, own_csv, read_own_csv
from etl.base import duckpipe, normalize, redact, scratch, settings

log = logging.getLogger(__name__)

# Python's str.strip() set, near enough: the whitespace that appears in real extracts.
WS = "(chr(32) || chr(9) || chr(13) || chr(10) || chr(12) || chr(11) || chr(160))"
DUCK_TYPE = {"date": "DATE", "sex": "VARCHAR", "bool": "BOOLEAN"}
_CHUNK = 1 << 20

# PostgreSQL's text form of a text[] element (array_out): quoted when empty, "NULL" in any ASCII case,
# or holding braces, the comma, a quote, a backslash or array whitespace; NULL is bare NULL.
_PG_ELEMENT = r"""CASE WHEN v IS NULL THEN 'NULL'
    WHEN v = '' OR (length(v) = 4 AND translate(v, 'nul', 'NUL') = 'NULL')
         OR regexp_matches(v, '[{},"\\ \t\n\r\v\f]')
    THEN '"' || replace(replace(v, '\', '\\'), '"', '\"') || '"' ELSE v END"""


# The key of a content hash in raw.content_key: its first 15 hex digits as a number (PostgreSQL's raw.hash8,
# migration 0026, says the same; tests/test_tabular.py checks both agree).
HASH8 = "('0x' || left(h, 15))::BIGINT"


def land(writers, table: Table, *, source: str, batch_id: int, file_name: str, today: dt.date) -> dict:
    """Land one table into raw (on `writers.raw`), staging and quarantine (on `writers.stage`); return
    {"read", "staged", "quarantined"}. Nothing is committed here.

    DuckDB works within LTC_DUCKDB_MEMORY and spills the rest; should an operator still run out, the
    table is landed again (nothing of the first attempt kept) on one thread with twice the memory."""
    memory = settings.current().duckdb_memory_mb
    cursors = {id(c): c for c in (writers.raw, writers.stage)}.values()
    for cur in cursors:
        cur.execute("SAVEPOINT land_table")
    try:
        counts = _land(writers, table, source, batch_id, file_name, today, os.cpu_count() or 2, memory)
    except duckdb.OutOfMemoryException as e:
        log.warning("%s: DuckDB ran out of %d MB (%s); landing again on one thread with %d MB", file_name, memory,
                    redact.safe_message(e), 2 * memory)
        for cur in cursors:
            cur.execute("ROLLBACK TO SAVEPOINT land_table")
        counts = _land(writers, table, source, batch_id, file_name, today, 1, 2 * memory)
    for cur in cursors:
        cur.execute("RELEASE SAVEPOINT land_table")
    return counts


def _land(writers, table: Table, source: str, batch_id: int, file_name: str, today: dt.date, threads: int,
          memory_mb: int) -> dict:
    cells = [f"c{i}" for i in range(len(table.header))]
    cur = writers.stage
    t0 = time.perf_counter()
    with scratch.folder("land") as tmp, _duck(Path(tmp), threads, memory_mb) as con:
        tmp = Path(tmp)
        if table.reader:
            table.reader(con, cells)
        elif not (table.direct and _copy_direct(con, table.direct, cells, tmp)):
            _copy_python(con, table, cells, tmp)
        con.execute("SET preserve_insertion_order = false")  # rows carry their order from here on (seq)
        t1 = time.perf_counter()
        con.execute(_hash_statement(cells, own_payload=table.reader is not None))
        t2 = time.perf_counter()
        # PostgreSQL looks up earlier copies of the rows while DuckDB casts; the streams into PostgreSQL
        # follow with DuckDB doing nothing else: any of them beside the cast overran the small memory limit.
        with ThreadPoolExecutor(1) as pool:
            earlier = pool.submit(_earlier_copies, con.cursor(), cur, source)
            try:
                _cast_distinct_values(con, table)
                _route(con, table, batch_id, today, memory_mb)
            finally:
                wait([earlier])  # the PostgreSQL connection is ours again
            con.register("earlier_rows", earlier.result())
        con.execute(_EARLIER_DUPLICATES)
        [(read, quarantined)] = con.execute("SELECT count(*), count(reason) FROM d").fetchall()
        t3 = time.perf_counter()
        _blank_secrets(con, table)
        # raw on its own connection while staging and quarantine go on the other (the batch-status gate
        # keeps both invisible until the batch is loaded): two COPYs at once, each a scan of DuckDB's tables
        # (either failing stops the other: a COPY cancelled ends at once)
        with ThreadPoolExecutor(1) as pool:
            raw = pool.submit(duckpipe.copy_streamed, con.cursor(), writers.raw,
                              _raw_query(table, batch_id, source, file_name), "raw.record",
                              "batch_id, locator, source, entity, file_name, content_hash, payload")
            raw.add_done_callback(lambda f: f.exception() and cur.connection.cancel())
            try:
                landed = _stage(con, cur, table, batch_id, source, quarantined)
            except BaseException as e:
                writers.raw.connection.cancel()
                wait([raw])
                cause = raw.exception()  # the raw COPY failed first, and cancelled this one: its error is the cause
                if isinstance(e, psycopg2.errors.QueryCanceled) and cause is not None:
                    raise cause from None
                raise
            landed["read"] = raw.result()  # what PostgreSQL took, counted by its COPY: not derived from `read`
    log.info("%s: read %.2f s, hash %.2f s, cast %.2f s, raw beside staging and quarantine into PostgreSQL %.2f s",
             file_name, t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3)
    if landed["read"] != read:  # the records as read must all be in raw (an ОМС source streams them anew)
        raise FileRejected("reconciliation_failed", f"{read} records read, {landed['read']} written to raw")
    keys = landed.pop("keys")
    if keys != read:
        raise FileRejected("reconciliation_failed", f"{read} records read, {keys} content keys written")
    return landed


def _stage(con, cur, table: Table, batch_id: int, source: str, quarantined: int) -> dict:
    """The staged rows and the quarantined ones into PostgreSQL on `cur`; their counts as COPY took them."""
    staged_cols = _staged_columns(table)
    landed = {"quarantined": 0}
    landed["staged"] = duckpipe.copy_streamed(
        con.cursor(), cur, f"SELECT {batch_id}, locator, {', '.join(staged_cols)} FROM d WHERE reason IS NULL",
        f"staging.{table.entity}", ["batch_id", "locator", *staged_cols])
    if quarantined:
        lineage = f"{batch_id}, q.locator, {_lit(source)}, {_lit(table.entity)}, q.reason, q.detail"
        rows = (f"(SELECT d.seq, d.locator, d.reason, d.detail, {_withheld(table)} AS withheld FROM d"
                f" WHERE d.reason IS NOT NULL) q")
        if table.reader:  # the records as read stream from the source's files and probe the rows
            query = f"SELECT {lineage}, p.payload FROM record_payloads p JOIN {rows} ON q.seq = p.seq"
        else:
            query = f"SELECT {lineage}, {_quarantine_payload(table)} FROM h l JOIN {rows} ON q.seq = l.seq"
        landed["quarantined"] = duckpipe.copy_streamed(con.cursor(), cur, query, "quarantine.record",
                                                       "batch_id, locator, source, entity, reason_code, detail,"
                                                       " payload")
    # every raw row's key for the duplicate check of later batches, in key order (the index takes them
    # leaf by leaf: half the time of the same keys at random)
    landed["keys"] = duckpipe.copy_streamed(con.cursor(), cur, f"SELECT hash8(content_hash), {batch_id}, locator"
                                            f" FROM h ORDER BY 1", "raw.content_key", "hash8, batch_id, locator")
    return landed


def _duck(tmp: Path, threads: int, memory_mb: int) -> duckdb.DuckDBPyConnection:
    # A database file, not memory: what does not fit the memory limit lives on disk (flat memory however
    # large the file; LTC_DUCKDB_MEMORY trades memory for speed).
    con = duckdb.connect(str(tmp / "work.duckdb"), config={"threads": threads, "memory_limit": f"{memory_mb}MB",
                                 "temp_directory": str(tmp / "spill"), "preserve_insertion_order": True})
    # Hash joins build on their right side, as written: DuckDB guesses a CSV file holds a few rows and would
    # build on a file of payloads (spilling it all); every join here has the smaller side on the right.
    con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    con.execute(f"CREATE MACRO pg_element(v) AS {_PG_ELEMENT}")
    con.execute(f"CREATE MACRO hash8(h) AS {HASH8}")
    return con


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _earlier_copies(duck, cur, source: str) -> pa.Table:
    """(content_hash, first): records of earlier loaded batches of the source whose key is one of this
    file's, with where each content was first loaded, as batch:locator (this file's own rows are not in
    yet, and its batch is not 'loaded'). Only the keys go to PostgreSQL (8 bytes a row); the whole hash
    of a candidate comes back, and the join on it (_EARLIER_DUPLICATES) confirms it."""
    t0 = time.perf_counter()
    cur.execute("SET LOCAL work_mem = '256MB'")
    cur.execute("DROP TABLE IF EXISTS pg_temp.incoming")
    cur.execute("CREATE TEMP TABLE incoming (hash8 bigint) ON COMMIT DROP")
    # a plain scan, not DISTINCT: it runs beside the routing, and an aggregate of every key held its
    # memory all the while (a repeated key only repeats a row PostgreSQL groups anyway)
    duckpipe.copy_streamed(duck, cur, "SELECT hash8(content_hash) FROM h", "incoming", ["hash8"])
    cur.execute("ANALYZE incoming")
    cur.execute("SELECT r.content_hash, min(k.batch_id || ':' || k.locator) FROM incoming i"
                " JOIN raw.content_key k ON k.hash8 = i.hash8"
                " JOIN audit.load_batch lb ON lb.batch_id = k.batch_id AND lb.status = 'loaded' AND lb.source = %s"
                " JOIN raw.record r ON r.batch_id = k.batch_id AND r.locator = k.locator"
                " GROUP BY r.content_hash", (source,))
    rows = cur.fetchall()
    log.debug("earlier look-up %.2f s", time.perf_counter() - t0)
    return pa.table({"content_hash": pa.array([h for h, _ in rows], pa.string()),
                     "first": pa.array([f for _, f in rows], pa.string())})


# A row loaded before is a duplicate of its first earlier copy — unless it has a reason of its own (the
# duplicate check is the last), and ahead of an earlier row of this file (an in-file duplicate).
_EARLIER_DUPLICATES = """
UPDATE d SET reason = 'duplicate_record', detail = 'same content as batch:locator ' || e.first
FROM h, earlier_rows e
WHERE h.seq = d.seq AND e.content_hash = h.content_hash AND (d.reason IS NULL OR d.reason = 'duplicate_record')"""


# ---- getting the cells in ---------------------------------------------------------------------------
# Byte patterns that send a CSV to the Python reader: a NUL (PostgreSQL text cannot hold it), a blank
# line (not a record, but it still counts for row numbers), a lone CR (a line end DuckDB may not see).
_SUSPECT = re.compile(rb"\x00|\n\r?\n|\r(?=[^\n])")


def _copy_direct(con, direct: dict, cells: list[str], tmp: Path) -> bool:
    """Let DuckDB read the file as it is; False (and nothing kept) when it refuses it."""
    path = _utf8_copy(direct, tmp)
    if path is None:
        return False
    columns = duckpipe.columns_arg(dict.fromkeys(cells, "VARCHAR"))
    try:
        con.execute(f"CREATE TABLE cells AS SELECT * FROM read_csv('{path}', columns = {columns},"
                    f" header = true, delim = {_lit(direct['delimiter'])}, quote = '\"', escape = '\"',"
                    " auto_detect = false, strict_mode = true, null_padding = false, encoding = 'utf-8',"
                    f" max_line_size = {MAX_ROW_BYTES})")
    except duckdb.Error as e:
        log.info("%s: DuckDB refused the file (%s), reading it row by row", direct["path"], redact.safe_message(e))
        con.execute("DROP TABLE IF EXISTS cells")
        return False
    # DuckDB 2.0 in strict mode can read no row at all, silently, from a file whose line ends it misjudged:
    # a file with more than its header line then goes the Python way
    if not con.execute("SELECT count(*) FROM (SELECT 1 FROM cells LIMIT 1)").fetchone()[0]:
        with open(path, "rb") as f:
            f.readline()
            if f.read(1024).strip():
                log.info("%s: DuckDB read no rows, reading it row by row", direct["path"])
                con.execute("DROP TABLE cells")
                return False
    # Rows keep file order (insertion order is preserved): row n of the data is line n + 1 of the file.
    # Rows whose every cell is blank are not records (the Python reader skips them too). An OR chain, not
    # one concatenation: DuckDB stops at the first non-blank cell, and this view is scanned several times.
    any_cell = " OR ".join(f"trim({c}, {WS}) <> ''" for c in cells)
    con.execute(f"CREATE VIEW land AS SELECT * FROM (SELECT (rowid + 2)::VARCHAR AS locator, rowid AS seq,"
                f" NULL::INTEGER AS nf, NULL::VARCHAR[] AS extra, * FROM cells) WHERE {any_cell}")
    return True


def _utf8_copy(direct: dict, tmp: Path) -> Path | None:
    """The file as UTF-8 without BOM for DuckDB (cp1251 decoded chunk by chunk: a bad byte anywhere rejects
    the file); None when a byte pattern needs the Python reader."""
    out = tmp / "input.csv"
    tail = b""
    with open(direct["path"], "rb") as f, open(out, "wb") as o:
        f.seek(direct["skip"])
        offset = direct["skip"]
        decoder = codecs.getincrementaldecoder(direct["encoding"])("strict")
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            if _SUSPECT.search(tail + chunk):
                return None
            tail = chunk[-2:]
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as e:
                raise FileRejected("bad_encoding", f"not valid {direct['encoding']}: {e.reason} at byte"
                                                   f" {offset + e.start}") from None
            offset += len(chunk)
            o.write(text.encode("utf-8") if direct["encoding"] != "utf-8" else chunk)
        if tail.endswith(b"\r"):
            return None
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            raise FileRejected("bad_encoding", f"not valid {direct['encoding']}: {e.reason} at the end") from None
    return out


def _copy_python(con, table: Table, cells: list[str], tmp: Path) -> None:
    """Rows as Python's csv module (or openpyxl) reads them, written to a plain UTF-8 CSV DuckDB reads back:
    row number, field count and extra cells (JSON) of a malformed row, then the cells."""
    n = len(cells)
    path = tmp / "rows.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for rowno, row in table.rows():
            row = [c.replace("\x00", "") for c in row]
            if len(row) == n:
                out.writerow((rowno, "", "", *row))
            else:
                padded = (row + [""] * n)[:n]
                out.writerow((rowno, len(row), json.dumps(row[n:], ensure_ascii=False) if len(row) > n else "",
                              *padded))
    types = {"locator": "VARCHAR", "nf": "INTEGER", "extra": "VARCHAR", **dict.fromkeys(cells, "VARCHAR")}
    read_own_csv(con, f"CREATE TABLE land AS SELECT locator, locator::BIGINT AS seq, nf,"
                      f" from_json(extra, '[\"VARCHAR\"]') AS extra, {', '.join(cells)} FROM {own_csv(path, types)}")


def _hash_statement(cells: list[str], own_payload: bool = False) -> str:
    """h: every row of `land` with the record as read (a table row: its cells in text[] form, `payload`)
    and its `content_hash`, in one table — routing reads it alone: a join of land and the hashes on the
    row number ran DuckDB out of its memory at 12 M rows. A source that hashed its records itself (their
    payloads stay in its files until they are sent) has them in `land` already."""
    if own_payload:
        return "CREATE VIEW h AS SELECT * FROM land"
    return f"""
CREATE TABLE h AS
SELECT *, sha256(payload) AS content_hash FROM (SELECT *, {_payload_sql(cells)} AS payload FROM land)"""


def _payload_sql(cells: list[str]) -> str:
    """A row of `land` in PostgreSQL's text[] form (a malformed row: the cells it had); `cells` the cell
    expressions (a column, or NULL for a cell not kept)."""
    # one flat call, not a chain of ||: a file of a thousand columns must not nest a thousand deep
    whole = f"concat_ws(',', {', '.join(f'pg_element({c})' for c in cells)})"
    sliced = (f"array_to_string(list_transform(list_slice(list_concat([{', '.join(cells)}], coalesce(extra, [])),"
              " 1, nf), lambda v: pg_element(v)), ',')")
    return f"'{{' || CASE WHEN nf IS NULL THEN {whole} ELSE {sliced} END || '}}'"


def _secret_columns(table: Table) -> dict[int, str]:
    """Column number → the d column that says where its cell may not be kept (medical secrecy)."""
    return {i: table.spec.secret[f] for i, f in enumerate(table.fields) if f in table.spec.secret}


def _withheld(table: Table) -> str:
    """SQL over d: whether any secret cell of the row is withheld."""
    conditions = sorted(set(_secret_columns(table).values()))
    return " OR ".join(f"coalesce(d.{c}, true)" for c in conditions) if conditions else "false"


# ---- casting by distinct value ------------------------------------------------------------------
def _cast_one(kind: str, value: str, code_maps: dict) -> tuple[str | None, str | None]:
    """(cast value as text, error) for one distinct cell value, by the connectors' own rules."""
    if kind.startswith("code:"):
        mapping, default = code_maps[kind[5:]]
        text = CASTS["text"](value)
        if text is None:
            return None, None
        code = mapping.get(text.lower(), default)
        return (code, None) if code is not None else (None, f"unknown code {text!r}")
    if kind == "name":
        return normalize.clean_name(CASTS["text"](value)), None
    if kind == "sex_from_patronymic":
        return normalize.sex_from_patronymic(normalize.clean_name(CASTS["text"](value))), None
    try:
        out = CASTS[kind](value)
    except (ValueError, TypeError) as e:
        return None, str(e)
    return (None if out is None else str(out)), None


def _cast_kinds(table: Table) -> dict[str, list[str]]:
    spec = table.spec.fields
    kinds: dict[str, list[str]] = {}
    for i, field in enumerate(table.fields):
        if field in spec and spec[field][0] != "text":
            kinds.setdefault(spec[field][0], []).append(f"c{i}")
        elif field in ("surname", "first_name", "patronymic"):
            kinds.setdefault("name", []).append(f"c{i}")
            if field == "patronymic":
                kinds.setdefault("sex_from_patronymic", []).append(f"c{i}")
    return kinds


def _cast_distinct_values(con, table: Table) -> None:
    """castmap(kind, v, out, err): every distinct value of every cast column, cast once."""
    columns: dict[str, list] = {"kind": [], "v": [], "out": [], "err": []}
    for kind, cols in _cast_kinds(table).items():
        values = con.execute(f"SELECT DISTINCT v FROM (SELECT unnest([{', '.join(cols)}]) AS v FROM land)"
                             " WHERE v IS NOT NULL").fetchall()
        for (v,) in values:
            out, err = _cast_one(kind, v, table.spec.code_maps)
            columns["kind"].append(kind)
            columns["v"].append(v)
            columns["out"].append(out)
            columns["err"].append(err)
    con.register("castmap_rows", pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}))
    con.execute("CREATE TABLE castmap AS SELECT * FROM castmap_rows")


# ---- the statements -----------------------------------------------------------------------------
def _checks(table: Table, today: dt.date) -> list[tuple[str, str, str]]:
    """(condition, reason, detail) in the order the record-at-a-time connectors gave them: fields in spec
    order, then identity."""
    checks = []
    for f, (kind, req) in table.spec.fields.items():
        if kind != "text":
            bad = "unknown_code" if kind.startswith("code:") else f"bad_{kind}"
            checks.append((f"err_{f} IS NOT NULL", bad, f"'{f}: ' || err_{f}"))
        if req:
            checks.append((f"{f} IS NULL", "missing_required", f"'{f} is empty'"))
    checks += [
        ("surname IS NULL OR first_name IS NULL", "missing_identity", "'surname and first name are required'"),
        ("birth_date IS NULL", "missing_identity", "'birth date is required'"),
        (f"birth_date > DATE '{today}' OR birth_date < DATE '1890-01-01'", "implausible_birth_date",
         f"'birth date ' || birth_date::VARCHAR || ' against {today}'"),
    ]
    checks += [(cond.format(today=today), reason, detail) for cond, reason, detail in table.spec.checks]
    return checks


# Rows routed by one statement at most, per MB of DuckDB's memory: its joins of every cast column's
# values held more memory the more rows one statement routed (12.5 M rows overran 256 MB); a larger
# file is routed a slice at a time (seq modulo the number of slices).
ROUTE_ROWS_PER_MB = 8_000


def _route(con, table: Table, batch_id: int, today: dt.date, memory_mb: int) -> None:
    """d: every row of h routed (_route_statement), a slice of rows at a time."""
    con.execute(_REPEATED)
    [(rows,)] = con.execute("SELECT count(*) FROM h").fetchall()
    slices = max(1, -(-rows // (ROUTE_ROWS_PER_MB * memory_mb)))
    for part in range(slices):
        sql = _route_statement(table, batch_id, today, (part, slices) if slices > 1 else None)
        con.execute(sql if part == 0 else sql.replace("CREATE TABLE d AS", "INSERT INTO d", 1))


# In-file repeats: a row whose content an earlier row of the file had (grouped by an 8-byte hash of the
# content hash first: a fraction of the memory).
_REPEATED = """
CREATE TABLE repeated AS
WITH candidates AS (SELECT hash(content_hash) AS k FROM h GROUP BY k HAVING count(*) > 1)
SELECT content_hash, min(seq) AS first_seq, arg_min(locator, seq) AS first FROM h
WHERE hash(content_hash) IN (SELECT k FROM candidates)
GROUP BY content_hash HAVING count(*) > 1"""


def _route_statement(table: Table, batch_id: int, today: dt.date, part: tuple[int, int] | None = None) -> str:
    """d: every row with its staging values, or the first reason it cannot be staged — a duplicate of an
    earlier row of this file last (those of earlier batches are marked afterwards: _EARLIER_DUPLICATES)."""
    spec = table.spec.fields
    col = {f: f"l.c{i}" for i, f in reversed(list(enumerate(table.fields))) if f}  # first column wins
    joins, a_cols = [], []

    def text(f: str) -> str:
        return f"nullif(trim({col[f]}, {WS}), '')" if f in col else "NULL::VARCHAR"

    def cast_join(alias: str, kind: str, column: str) -> None:
        joins.append(f"LEFT JOIN castmap {alias} ON {alias}.kind = '{kind}' AND {alias}.v = {column}")

    for f, (kind, _req) in spec.items():
        if kind == "text":
            a_cols.append(f"{text(f)} AS {f}")
        elif f in col:
            cast_join(f"m_{f}", kind, col[f])
            a_cols.append(f"m_{f}.out::{DUCK_TYPE.get(kind, 'VARCHAR')} AS {f}, m_{f}.err AS err_{f}")
        else:
            a_cols.append(f"NULL::{DUCK_TYPE.get(kind, 'VARCHAR')} AS {f}, NULL::VARCHAR AS err_{f}")
    for f in ("surname", "first_name", "patronymic"):
        if f in col:
            cast_join(f"m_{f}", "name", col[f])
        a_cols.append(f"m_{f}.out AS {f}" if f in col else f"NULL::VARCHAR AS {f}")
    if "patronymic" in col:
        cast_join("m_patr", "sex_from_patronymic", col["patronymic"])
        a_cols.append("m_patr.out AS sex_by_patronymic")
    else:
        a_cols.append("NULL::VARCHAR AS sex_by_patronymic")
    a_cols.append(f"{text('snils')} AS snils_text")

    checks = _checks(table, today)
    own = table.reader is not None
    if own:  # reasons found while reading (ОМС: no person data, unknown USL_OK) come first
        a_cols.append("l.pre_reason, l.pre_detail")
    reason = "CASE WHEN nf IS NOT NULL THEN 'malformed_row' " + ("WHEN pre_reason IS NOT NULL THEN pre_reason " if own else "") + \
        " ".join(f"WHEN {cond} THEN '{code}'" for cond, code, _ in checks) + \
        " WHEN dup_of IS NOT NULL THEN 'duplicate_record' END"
    detail = (f"CASE WHEN nf IS NOT NULL THEN nf::VARCHAR || ' fields, header has {len(table.header)}' " +
              ("WHEN pre_reason IS NOT NULL THEN pre_detail " if own else "") +
              " ".join(f"WHEN {cond} THEN {msg}" for cond, _, msg in checks) +
              " WHEN dup_of IS NOT NULL THEN 'same content as batch:locator ' || dup_of END")
    staged = ", ".join(f"{expr} AS {name}" for name, expr in _staged_columns(table).items())
    return f"""
CREATE TABLE d AS
WITH a AS (
    SELECT l.locator, l.seq, l.nf,
           CASE WHEN rp.first_seq < l.seq THEN '{batch_id}:' || rp.first END AS dup_of,
           {', '.join(a_cols)}
    FROM h l
    LEFT JOIN repeated rp ON rp.content_hash = l.content_hash
    {' '.join(joins)}
    {f"WHERE l.seq % {part[1]} = {part[0]}" if part else ""}
), b AS (
    SELECT a.*, {normalize.snils_sql('snils_text')} AS snils_digits FROM a
), b2 AS (
    SELECT b.*, CASE WHEN snils_digits ~ '^[0-9]{{11}}$' THEN {normalize.snils_sum_sql('snils_digits')} END AS snils_sum FROM b
), b3 AS (
    SELECT b2.*, CASE WHEN {normalize.snils_valid_sql('snils_digits', 'snils_sum')} THEN snils_digits END AS snils FROM b2
), r AS (
    SELECT b3.*, {reason} AS reason, {detail} AS detail FROM b3
)
SELECT locator, seq, reason, detail,
       {staged}
FROM r"""


def _raw_query(table: Table, batch_id: int, source: str, file_name: str) -> str:
    """The records as read, for raw.record; a cell under medical secrecy is blanked where it may not be
    kept (the hash stays that of the record as read)."""
    lineage = f"{batch_id}, h.locator, {_lit(source)}, {_lit(table.entity)}, {_lit(file_name)}, h.content_hash"
    if table.reader:
        return (f"SELECT {batch_id}, locator, {_lit(source)}, {_lit(table.entity)}, {_lit(file_name)},"
                f" content_hash, payload FROM record_stream")
    return f"SELECT {lineage}, h.payload FROM h"


def _blank_secrets(con, table: Table) -> None:
    """Blank the secret cells in the payloads of the rows where they may not be kept (only those rows are
    rewritten: a join of every row at the copy cost a fifth of the landing's time)."""
    secret = _secret_columns(table)
    if table.reader or not secret:
        return
    masked = _payload_sql(["NULL::VARCHAR" if i in secret else f"h.c{i}" for i in range(len(table.header))])
    con.execute(f"UPDATE h SET payload = {masked} FROM d WHERE d.seq = h.seq AND ({_withheld(table)})")


def _quarantine_payload(table: Table) -> str:
    """What quarantine shows of a table row: {column: cell}; of a malformed row: its cells. A cell under
    medical secrecy is blanked where it may not be kept (q.withheld)."""
    secret = _secret_columns(table)

    def cell(i: int) -> str:
        return f"CASE WHEN q.withheld THEN NULL ELSE l.c{i} END" if i in secret else f"l.c{i}"

    header = ", ".join(f"{_lit(name)}, {cell(i)}" for i, name in enumerate(table.header))
    # a malformed row shows its payload, whose secret cells are blanked already (_blank_secrets)
    return f"CASE WHEN l.nf IS NULL THEN json_object({header})::VARCHAR ELSE l.payload END"


def _staged_columns(table: Table) -> dict[str, str]:
    """Staging column → expression over d."""
    spec, code_maps = table.spec.fields, table.spec.code_maps
    staged = {c: c for c in spec}
    for f, (kind, _req) in spec.items():
        if kind.startswith("code:") and code_maps[kind[5:]][1] is not None:
            staged[f] = f"coalesce({f}, '{code_maps[kind[5:]][1]}')"  # a blank code takes the default
    staged.update({"snils": "snils", "snils_raw": "CASE WHEN snils IS NULL THEN snils_text END",
                   "surname": "surname", "first_name": "first_name", "patronymic": "patronymic",
                   "sex": "coalesce(sex, sex_by_patronymic)"})
    staged.update(table.spec.staged)
    return staged
