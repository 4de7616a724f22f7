"""Which sources found a register person, and the retention of the others' unmatched records.

The register is of people on the long-term-care pathway. A record from the EIS card, an ЕПГУ
application or a medical referral founds a person; a record from a source that only traces people
(an ОМС case, a ЗАГС death, a ФРИ extract) joins a person it matches and otherwise is *held*: staged,
unlinked, tried again by every build that has new records, and removed by `expire` once it is older
than its source's retention period. Both are data: sql/seeds/person_source.csv (or LTC_CONFIG_DIR),
loaded into ref.person_source by each register build and each retention run.

What `expire` removes: held staged rows, the quarantined rows of the same sources, and the raw records
of both (the content hashes with them, so a re-sent record is taken as new). Never a record a build has
not yet tried (its batch after the last completed build), nor one in an open review pair. Each batch
counts its removed rows (audit.load_batch.n_expired_*), so the landing reconciliation still adds up,
and every run is kept in audit.retention_run.
"""
from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass

from etl.base import db
from etl.models import sqlmodels

log = logging.getLogger(__name__)

SEED = "person_source.csv"
_TRUE = {"true": True, "false": False}


@dataclass(frozen=True)
class PersonSource:
    entity: str
    founds_person: bool
    retention_days: int | None


def load(cur) -> dict[str, PersonSource]:
    """Read the seed into ref.person_source (the caller holds the register lock) and return it."""
    with open(sqlmodels.config_path(SEED), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    sources = {}
    for n, row in enumerate(rows, start=2):
        try:
            founds = _TRUE[row["founds_person"].strip().lower()]
            days = int(row["retention_days"]) if (row["retention_days"] or "").strip() else None
        except (KeyError, ValueError):
            raise ValueError(f"{SEED}, line {n}: founds_person is true or false, retention_days a whole number")
        if not founds and not days:
            raise ValueError(f"{SEED}, line {n}: a source that founds no person needs a retention period")
        sources[row["entity"]] = PersonSource(row["entity"], founds, days)
    cur.execute("DELETE FROM ref.person_source")
    db.copy_rows(cur, "ref.person_source", ["entity", "founds_person", "retention_days", "basis"],
                 [(r["entity"], r["founds_person"], r["retention_days"] or None, r["basis"]) for r in rows])
    return sources


def founding(sources: dict[str, PersonSource]) -> set[str]:
    return {e for e, s in sources.items() if s.founds_person}


def lock(cur) -> None:
    """The register's lock: one build (or retention run) at a time."""
    cur.execute("LOCK TABLE register.person_link IN SHARE ROW EXCLUSIVE MODE")


def expire(run_id: str = "manual", dry_run: bool = False) -> dict:
    """Remove held records older than their source's retention period. Returns rows per entity."""
    with db.transaction() as conn, conn.cursor() as cur:
        lock(cur)
        sources = load(cur)
        cur.execute("SELECT coalesce(max(max_loaded_seq), 0) FROM register.build_run")
        tried = cur.fetchone()[0]
        counts = {}
        for s in sources.values():
            if s.founds_person:
                continue
            staged, quarantined = _expire_entity(cur, s, tried)
            counts[s.entity] = {"staged": staged, "quarantined": quarantined, "retention_days": s.retention_days}
        if dry_run:  # what would go, and nothing gone: only the run itself is recorded
            conn.rollback()
        cur.execute("INSERT INTO audit.retention_run (run_id, dry_run, counts) VALUES (%s, %s, %s)",
                    (run_id, dry_run, json.dumps(counts)))
    log.info("retention%s: %s", " (dry run)" if dry_run else "", counts)
    return counts


def _expire_entity(cur, s: PersonSource, tried: int) -> tuple[int, int]:
    # (the entity is a staging table's name from the seed: checked against the catalogue, not quoted in)
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"staging.{s.entity}",))
    if not cur.fetchone()[0]:
        raise ValueError(f"{SEED}: no staging table for entity {s.entity!r}")
    cur.execute(f"""
        CREATE TEMP TABLE expired ON COMMIT DROP AS
        SELECT x.batch_id, x.locator, x.kind FROM (
            SELECT s.batch_id, s.locator, 'staged' AS kind FROM staging.{s.entity} s
            JOIN audit.load_batch b ON b.batch_id = s.batch_id
            WHERE b.status = 'loaded' AND b.finished_at < now() - make_interval(days => %(days)s)
              AND b.loaded_seq <= %(tried)s
              AND NOT EXISTS (SELECT 1 FROM register.person_link l WHERE l.entity = %(entity)s AND l.stg_id = s.stg_id)
              AND NOT EXISTS (SELECT 1 FROM register.review v WHERE v.status = 'open'
                              AND ((v.entity_l = %(entity)s AND v.stg_id_l = s.stg_id)
                                   OR (v.entity_r = %(entity)s AND v.stg_id_r = s.stg_id)))
            UNION ALL
            SELECT q.batch_id, q.locator, 'quarantined' FROM quarantine.record q
            WHERE q.entity = %(entity)s AND q.quarantined_at < now() - make_interval(days => %(days)s)
              AND q.batch_id IN (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded')
        ) x""", {"entity": s.entity, "days": s.retention_days, "tried": tried})
    cur.execute("DELETE FROM staging.{0} s USING expired e WHERE e.kind = 'staged' AND s.batch_id = e.batch_id"
                " AND s.locator = e.locator".format(s.entity))
    staged = cur.rowcount
    cur.execute("DELETE FROM quarantine.record q USING expired e WHERE e.kind = 'quarantined'"
                " AND q.batch_id = e.batch_id AND q.locator = e.locator")
    quarantined = cur.rowcount
    cur.execute("DELETE FROM raw.content_key k USING raw.record r, expired e WHERE r.batch_id = e.batch_id"
                " AND r.locator = e.locator AND k.hash8 = raw.hash8(r.content_hash) AND k.batch_id = r.batch_id"
                " AND k.locator = r.locator")
    cur.execute("DELETE FROM raw.record r USING expired e WHERE r.batch_id = e.batch_id AND r.locator = e.locator")
    cur.execute("""UPDATE audit.load_batch b
        SET n_expired_staged = n_expired_staged + x.staged, n_expired_quarantined = n_expired_quarantined + x.quarantined
        FROM (SELECT batch_id, count(*) FILTER (WHERE kind = 'staged') AS staged,
                     count(*) FILTER (WHERE kind = 'quarantined') AS quarantined FROM expired GROUP BY batch_id) x
        WHERE b.batch_id = x.batch_id""")
    cur.execute("DROP TABLE expired")
    return staged, quarantined
