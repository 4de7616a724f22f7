"""Landing: every record read goes to raw with its lineage, then to staging or to quarantine.

One transaction per file (load batch): a failure part-way leaves nothing half-loaded. A file whose
bytes were loaded before is skipped; a record whose content was already landed is quarantined as
`duplicate_record`, so each batch keeps read = staged + quarantined.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import connectors
from connectors.common import FileRejected, SourceRecord
from etl.base import db, redact

log = logging.getLogger(__name__)



@dataclass
class FileResult:
    source: str
    path: str
    status: str                      # loaded | skipped | rejected
    batch_id: int | None = None
    read: int = 0
    staged: int = 0
    quarantined: int = 0
    reason: str | None = None
    detail: str | None = None
    by_entity: dict = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def expand(source: str, paths: Iterable[Path]) -> list[tuple[Path, Path | None]]:
    """Files to load, each with the folder it was found in: given files as they are (root None), folders
    searched for the source's file types (a link in them is followed only to a file inside the folder)."""
    out: list[tuple[Path, Path | None]] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend((f, p) for f in sorted(p.rglob("*"))
                       if (f.is_file() or f.is_symlink()) and f.suffix.lower() in connectors.source(source).suffixes)
        else:
            out.append((p, None))
    return out


def _outside(path: Path, root: Path | None) -> bool:
    """A file found in a landing folder that is a link out of it (to /etc/passwd, to another source's files)."""
    return root is not None and not path.resolve().is_relative_to(root.resolve())


_COLUMNS: dict[str, list[str]] = {}


def staging_columns(cur, entity: str) -> list[str]:
    if entity not in _COLUMNS:
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging' AND table_name = %s"
            " AND column_name NOT IN ('stg_id', 'batch_id', 'locator') ORDER BY ordinal_position", (entity,))
        _COLUMNS[entity] = [r[0] for r in cur.fetchall()]
        if not _COLUMNS[entity]:
            raise LookupError(f"no staging table for {entity}")
    return _COLUMNS[entity]


def _clean(text: str) -> str:
    return text.replace("\x00", "\\0")  # PostgreSQL text cannot hold NUL


def ingest(source: str, paths: Iterable[Path], run_id: str | None = None) -> list[FileResult]:
    connectors.source(source)  # an unknown source is refused before any file is touched
    return [ingest_file(source, p, run_id, root) for p, root in expand(source, paths)]


def ingest_file(source: str, path: Path, run_id: str | None = None, root: Path | None = None) -> FileResult:
    """Land one file; `root`: the landing folder it was found in, which it may not lead out of."""
    path = Path(path)
    result = FileResult(source, str(path), "loaded")
    if _outside(path, root):
        return _reject(result, path, "", run_id, FileRejected("outside_landing", "a link that leads out of the"
                                                                                 " landing folder: not read"))
    if not path.is_file():
        return _reject(result, path, "", run_id, FileRejected("file_not_found", str(path)))
    digest = sha256_file(path)
    with db.transaction() as conn, conn.cursor() as cur:
        # One landing of a source at a time, until its batch commits: a file landed meanwhile waits, then
        # sees it — the same file is found loaded (skipped), the same records in another file are found
        # by the duplicate look-up (which sees committed batches only). Airflow lands a source one run at
        # a time anyway; this guards the command line and parallel runs.
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"land:{source}",))
        cur.execute("SELECT batch_id FROM audit.load_batch WHERE source = %s AND file_sha256 = %s AND status = 'loaded'",
                    (source, digest))
        row = cur.fetchone()
        if row:
            result.status, result.batch_id = "skipped", row[0]
            result.detail = f"already loaded as batch {row[0]}"
            return result
        cur.execute(
            "INSERT INTO audit.load_batch (source, file_name, file_sha256, file_size, status, run_id)"
            " VALUES (%s, %s, %s, %s, 'loading', %s) RETURNING batch_id",
            (source, path.name, digest, path.stat().st_size, run_id))
        batch_id = result.batch_id = cur.fetchone()[0]
        try:
            if connectors.source(source).kind == "tables":
                made = _land_table(cur, source, path, batch_id, result)
            else:
                _land_records(cur, source, path, batch_id, result)
                made = getattr(connectors.source(source).module(), "source_time", lambda _: None)(path)
            if result.read != result.staged + result.quarantined:  # a record neither staged nor quarantined
                raise FileRejected("reconciliation_failed", f"read {result.read}, staged {result.staged},"
                                                            f" quarantined {result.quarantined}")
        except FileRejected as e:
            conn.rollback()  # nothing of a rejected file stays, even the chunks already copied
            return _reject(result, path, digest, run_id, e)
        cur.execute("UPDATE audit.load_batch SET status = 'loaded', n_read = %s, n_staged = %s, n_quarantined = %s,"
                    " source_time = %s, finished_at = now() WHERE batch_id = %s",
                    (result.read, result.staged, result.quarantined, made, batch_id))
    db.analyze(["audit.load_batch", *(f"staging.{e}" for e, c in result.by_entity.items() if c.get("staged"))])
    log.info("loaded %s: read %d, staged %d, quarantined %d", path.name, result.read, result.staged,
             result.quarantined)
    return result


def _land_records(cur, source: str, path: Path, batch_id: int, result: FileResult) -> None:
    """Record-at-a-time sources (XML, bundles), landed a chunk at a time."""
    chunk: list[SourceRecord] = []
    for rec in connectors.source(source).module().parse(path):
        chunk.append(rec)
        if len(chunk) >= CHUNK:
            _land(cur, source, path.name, batch_id, chunk, result)
            chunk = []
    _land(cur, source, path.name, batch_id, chunk, result)


def _land_table(cur, source: str, path: Path, batch_id: int, result: FileResult) -> str | None:
    """A source read as tables (health: CSV/XLSX extracts and ОМС registers) is landed set-based
    (etl/landing/tabular.py). Returns when the source made the file, if it says (an ОМС register's date)."""
    import datetime as dt
    import tempfile

    from etl.landing import tabular

    with tempfile.TemporaryDirectory(prefix="ltc-extract-") as tmp:
        table = connectors.source(source).module().open_file(path, Path(tmp))
        if table is None:
            return None  # an L-file: its persons are read with their case file
        cur.execute("UPDATE audit.load_batch SET header = %s WHERE batch_id = %s", (table.header, batch_id))
        counts = tabular.land(cur, table, source=source, batch_id=batch_id, file_name=path.name,
                              today=dt.date.today())
    result.read, result.staged, result.quarantined = counts["read"], counts["staged"], counts["quarantined"]
    result.by_entity[table.entity] = counts
    return _iso_date(table.source_time)


def _iso_date(text: str | None) -> str | None:
    """A source's own date if it is one (a malformed one orders nothing: the landing time does)."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(text.strip()).isoformat() if text else None
    except ValueError:
        return None


def _reject(result: FileResult, path: Path, digest: str, run_id: str | None, e: FileRejected) -> FileResult:
    result.status, result.reason, result.detail = "rejected", e.reason, e.detail
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO audit.load_batch (source, file_name, file_sha256, file_size, status, reject_reason, run_id,"
            " finished_at) VALUES (%s, %s, %s, %s, 'rejected', %s, %s, now()) RETURNING batch_id",
            (result.source, path.name, digest, path.stat().st_size if path.is_file() and not path.is_symlink()
             else None,
             f"{e.reason}: {e.detail}", run_id))
        result.batch_id = cur.fetchone()[0]
    log.warning("rejected %s: %s", path, redact.safe_text(str(e)))
    return result


CHUNK = 5_000  # records parsed and copied at a time: memory stays flat whatever the file size


def _land(cur, source: str, file_name: str, batch_id: int, records: list[SourceRecord], result: FileResult) -> None:
    """Land one chunk. What earlier chunks of the same file landed is looked up in the database, not kept
    in memory, so a file of any size loads in flat memory."""
    if not records:
        return
    hashes = [r.content_hash for r in records]
    seen: dict[str, str] = {}
    for i in range(0, len(hashes), 10000):
        cur.execute("SELECT r.content_hash, min(r.batch_id || ':' || r.locator)"
                    " FROM unnest(%s::text[]) AS u(content_hash) JOIN raw.record r USING (content_hash)"
                    " JOIN audit.load_batch b ON b.batch_id = r.batch_id"
                    " WHERE r.source = %s AND (b.status = 'loaded' OR r.batch_id = %s)"
                    " GROUP BY r.content_hash", (hashes[i:i + 10000], source, batch_id))
        seen.update(dict(cur.fetchall()))
    # A source that repeats its own ids still lands every record: repeats get "#2", "#3"…
    cur.execute("SELECT locator FROM raw.record WHERE batch_id = %s AND locator = ANY(%s)",
                (batch_id, list({r.locator for r in records})))
    repeated = [loc for (loc,) in cur.fetchall()]
    locators: set[str] = set()
    if repeated:  # rare: fetch the numbered repeats of just those
        cur.execute("SELECT locator FROM raw.record WHERE batch_id = %s AND split_part(locator, '#', 1) = ANY(%s)",
                    (batch_id, repeated))
        locators = {loc for (loc,) in cur.fetchall()}
    raw_rows, quarantine_rows = [], []
    staged: dict[str, list] = {}
    for rec, digest in zip(records, hashes):
        if rec.locator in locators:
            n = 2
            while f"{rec.locator}#{n}" in locators:
                n += 1
            rec.locator = f"{rec.locator}#{n}"
        locators.add(rec.locator)
        payload = _clean(rec.payload)
        raw_rows.append((batch_id, rec.locator, source, rec.entity, file_name, digest, payload))
        if rec.values is not None and digest in seen:
            rec.reason, rec.detail = "duplicate_record", f"same content as batch:locator {seen[digest]}"
        if rec.reason is None and rec.values is not None:
            staged.setdefault(rec.entity, []).append(rec)
            seen.setdefault(digest, f"{batch_id}:{rec.locator}")
        else:
            quarantine_rows.append((batch_id, rec.locator, source, rec.entity, rec.reason or "unparsed",
                                    rec.detail, payload))
        counts = result.by_entity.setdefault(rec.entity, {"read": 0, "staged": 0, "quarantined": 0})
        counts["read"] += 1
    for rec in (r for rs in staged.values() for r in rs):
        result.by_entity[rec.entity]["staged"] += 1
    for row in quarantine_rows:
        result.by_entity[row[3]]["quarantined"] += 1
    written = db.copy_rows(cur, "raw.record", ["batch_id", "locator", "source", "entity", "file_name", "content_hash",
                                     "payload"], raw_rows)
    quarantined = db.copy_rows(cur, "quarantine.record", ["batch_id", "locator", "source", "entity", "reason_code",
                                                          "detail", "payload"], quarantine_rows)
    for entity, recs in staged.items():
        cols = staging_columns(cur, entity)
        result.staged += db.copy_rows(cur, f"staging.{entity}", ["batch_id", "locator", *cols],
                                      ((batch_id, r.locator, *(r.values.get(c) for c in cols)) for r in recs))
    # what PostgreSQL took, counted by its COPYs (never derived): the batch's figures are checked against them
    result.read += written
    result.quarantined += quarantined
