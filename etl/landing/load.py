"""Landing: every record read goes to raw with its lineage, then to staging or to quarantine.

One batch per file, visible whole or not at all (the batch-status gate, `ingest_file`): a failure
part-way leaves nothing half-loaded that any reader sees. A file whose bytes were loaded before is
skipped; a record whose content was already landed is quarantined as `duplicate_record`, so each batch
keeps read = staged + quarantined.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import connectors
from connectors.common import FileRejected, SourceRecord
from etl.base import db, redact, scratch

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
    """Land one file; `root`: the landing folder it was found in, which it may not lead out of.

    The batch-status gate: the batch is recorded `loading` first (committed), its raw, staging and
    quarantine rows are written on their own connections (raw beside staging: two COPYs at once) and
    committed, and only then is the batch marked `loaded` — the one statement that makes them visible,
    since every reader takes rows of loaded batches only. A failure removes what was committed and marks
    the batch `failed` (or `rejected`, with its reason); a landing killed outright leaves `loading`, which
    the next landing of the source, or the next register build, finds and removes (`reap`)."""
    path = Path(path)
    result = FileResult(source, str(path), "loaded")
    if _outside(path, root):
        return _reject(result, path, "", run_id, FileRejected("outside_landing", "a link that leads out of the"
                                                                                 " landing folder: not read"))
    if not path.is_file():
        return _reject(result, path, "", run_id, FileRejected("file_not_found", str(path)))
    digest = sha256_file(path)
    # One landing of a source at a time, held for the whole landing on a session of its own: a file landed
    # meanwhile waits, then sees it — the same file is found loaded (skipped), the same records in another
    # file by the duplicate look-up (which sees loaded batches only). A batch of the source still
    # `loading` while we hold the lock was left by a landing that died.
    with db.session_lock(_lock_name(source)):
        _reap_locked(source)
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("SELECT batch_id FROM audit.load_batch WHERE source = %s AND file_sha256 = %s"
                        " AND status = 'loaded'", (source, digest))
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
            made = _land_batch(source, path, batch_id, result)
        except FileRejected as e:
            return _reject(result, path, digest, run_id, e)
        except BaseException as e:
            _end_failed(source, batch_id, "failed", f"{type(e).__name__}: landing stopped")
            raise
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("UPDATE audit.load_batch SET status = 'loaded', n_read = %s, n_staged = %s,"
                        " n_quarantined = %s, source_time = %s, finished_at = now() WHERE batch_id = %s",
                        (result.read, result.staged, result.quarantined, made, batch_id))
    db.analyze(["audit.load_batch", *(f"staging.{e}" for e, c in result.by_entity.items() if c.get("staged"))])
    log.info("loaded %s: read %d, staged %d, quarantined %d", path.name, result.read, result.staged,
             result.quarantined)
    return result


def _land_batch(source: str, path: Path, batch_id: int, result: FileResult) -> str | None:
    """Write the batch's rows and commit them (still invisible: the batch is `loading`). A table source
    writes raw on one connection and staging with quarantine on another, at the same time; a
    record-at-a-time source all on one. Whatever was committed when a step fails is removed again."""
    writers = Writers(two=connectors.source(source).kind == "tables")
    try:
        if connectors.source(source).kind == "tables":
            made = _land_table(writers, source, path, batch_id, result)
        else:
            _land_records(writers.stage, source, path, batch_id, result)
            made = getattr(connectors.source(source).module(), "source_time", lambda _: None)(path)
        if result.read != result.staged + result.quarantined:  # a record neither staged nor quarantined
            raise FileRejected("reconciliation_failed", f"read {result.read}, staged {result.staged},"
                                                        f" quarantined {result.quarantined}")
        writers.commit()
    except BaseException:
        committed = writers.close()
        if committed:  # one connection committed before the other failed: its rows go
            _discard(source, batch_id)
        raise
    writers.close()
    return made


class Writers:
    """The connections a batch is written on: `raw` and `stage` (staging and quarantine), one connection
    for both unless `two`."""

    def __init__(self, two: bool):
        self.conns = [db.connect() for _ in range(2 if two else 1)]
        self.raw = self.conns[0].cursor()
        self.stage = self.conns[-1].cursor()
        self.committed = False

    def commit(self) -> None:
        for conn in self.conns:
            conn.commit()
            self.committed = True

    def close(self) -> bool:
        """Roll back what is not committed, close; whether anything had been committed."""
        for conn in self.conns:
            try:
                conn.rollback()
                conn.close()
            except Exception:  # a connection the server dropped: nothing of it is committed
                pass
        return self.committed


def _land_records(cur, source: str, path: Path, batch_id: int, result: FileResult) -> None:
    """Record-at-a-time sources (XML, bundles), landed a chunk at a time."""
    chunk: list[SourceRecord] = []
    for rec in connectors.source(source).module().parse(path):
        chunk.append(rec)
        if len(chunk) >= CHUNK:
            _land(cur, source, path.name, batch_id, chunk, result)
            chunk = []
    _land(cur, source, path.name, batch_id, chunk, result)


def _land_table(writers: "Writers", source: str, path: Path, batch_id: int, result: FileResult) -> str | None:
    """A source read as tables (health: CSV/XLSX extracts and ОМС registers) is landed set-based
    (etl/landing/tabular.py). Returns when the source made the file, if it says (an ОМС register's date)."""
    import datetime as dt

    from etl.landing import tabular

    with scratch.folder("extract") as tmp:
        table = connectors.source(source).module().open_file(path, Path(tmp))
        if table is None:
            return None  # an L-file: its persons are read with their case file
        writers.stage.execute("UPDATE audit.load_batch SET header = %s WHERE batch_id = %s", (table.header, batch_id))
        counts = tabular.land(writers, table, source=source, batch_id=batch_id, file_name=path.name,
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
    """The file refused with its reason: its batch (if one was begun, its rows are gone already) or a new
    batch row says so."""
    result.status, result.reason, result.detail = "rejected", e.reason, e.detail
    reason = f"{e.reason}: {e.detail}"
    if result.batch_id is not None:
        _end_failed(result.source, result.batch_id, "rejected", reason)
    else:
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO audit.load_batch (source, file_name, file_sha256, file_size, status, reject_reason,"
                " run_id, finished_at) VALUES (%s, %s, %s, %s, 'rejected', %s, %s, now()) RETURNING batch_id",
                (result.source, path.name, digest, path.stat().st_size if path.is_file() and not path.is_symlink()
                 else None, reason, run_id))
            result.batch_id = cur.fetchone()[0]
    log.warning("rejected %s: %s", path, redact.safe_text(str(e)))
    return result


def _end_failed(source: str, batch_id: int, status: str, reason: str) -> None:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("UPDATE audit.load_batch SET status = %s, reject_reason = %s, n_read = 0, n_staged = 0,"
                    " n_quarantined = 0, finished_at = now() WHERE batch_id = %s", (status, reason, batch_id))


# ---- batches a landing left behind ---------------------------------------------------------------------
def _lock_name(source: str) -> str:
    return f"land:{source}"


def _discard(source: str, batch_id: int) -> int:
    """Remove every row of a batch that is not loaded, from raw, quarantine and the source's staging
    tables; the rows removed."""
    n = 0
    with db.transaction() as conn, conn.cursor() as cur:
        # the keys first, found from the raw records they belong to (keys are committed with or after them)
        cur.execute("DELETE FROM raw.content_key k USING raw.record r WHERE r.batch_id = %s"
                    " AND k.hash8 = raw.hash8(r.content_hash) AND k.batch_id = r.batch_id AND k.locator = r.locator",
                    (batch_id,))
        for table in ("raw.record", "quarantine.record",
                      *(f"staging.{e}" for e in connectors.source(source).entities)):
            cur.execute(f"DELETE FROM {table} WHERE batch_id = %s", (batch_id,))
            n += cur.rowcount
    return n


def _reap_locked(source: str) -> list[int]:
    """With the source's landing lock held: batches of the source still `loading` belong to a landing that
    died (kill -9, a lost machine) — their rows, committed on some connections and not on others, are
    removed and the batch is marked `failed`."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT batch_id FROM audit.load_batch WHERE source = %s AND status = 'loading'"
                    " ORDER BY batch_id", (source,))
        dead = [b for (b,) in cur.fetchall()]
    for batch_id in dead:
        removed = _discard(source, batch_id)
        _end_failed(source, batch_id, "failed", "landing_died: the landing ended before its batch was loaded;"
                                                f" {removed} rows it had written were removed")
        log.warning("batch %d of %s was left loading by a landing that died: %d rows removed", batch_id, source,
                    removed)
    return dead


def reap(sources: Iterable[str] | None = None) -> list[int]:
    """Remove the batches left `loading` by landings that died, for each source no landing holds now (one
    that is landing is left alone: its own next landing reaps it). Returns the batches marked failed."""
    dead: list[int] = []
    for source in sources or [s.name for s in connectors.SOURCES]:
        with db.try_session_lock(_lock_name(source)) as held:
            if held:
                dead += _reap_locked(source)
    return dead


CHUNK = 5_000  # records parsed and copied at a time: memory stays flat whatever the file size


def _land(cur, source: str, file_name: str, batch_id: int, records: list[SourceRecord], result: FileResult) -> None:
    """Land one chunk. What earlier chunks of the same file landed is looked up in the database, not kept
    in memory, so a file of any size loads in flat memory."""
    if not records:
        return
    hashes = [r.content_hash for r in records]
    seen: dict[str, str] = {}
    for i in range(0, len(hashes), 10000):
        # the keys narrow the search (raw.content_key), the record found by its primary key confirms it
        cur.execute("SELECT r.content_hash, min(r.batch_id || ':' || r.locator)"
                    " FROM unnest(%s::text[]) AS u(content_hash)"
                    " JOIN raw.content_key k ON k.hash8 = raw.hash8(u.content_hash)"
                    " JOIN raw.record r ON r.batch_id = k.batch_id AND r.locator = k.locator"
                    " AND r.content_hash = u.content_hash"
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
    cur.execute("INSERT INTO raw.content_key (hash8, batch_id, locator) SELECT raw.hash8(h), %s, l"
                " FROM unnest(%s::text[], %s::text[]) AS u(h, l) ORDER BY 1",
                (batch_id, [r[5] for r in raw_rows], [r[1] for r in raw_rows]))
    quarantined = db.copy_rows(cur, "quarantine.record", ["batch_id", "locator", "source", "entity", "reason_code",
                                                          "detail", "payload"], quarantine_rows)
    for entity, recs in staged.items():
        cols = staging_columns(cur, entity)
        result.staged += db.copy_rows(cur, f"staging.{entity}", ["batch_id", "locator", *cols],
                                      ((batch_id, r.locator, *(r.values.get(c) for c in cols)) for r in recs))
    # what PostgreSQL took, counted by its COPYs (never derived): the batch's figures are checked against them
    result.read += written
    result.quarantined += quarantined
