"""Reproducible reporting months.

`ltcreg period close YYYY-MM` freezes what the marts published for a month as its revision 1 (the rows
of every month-grained mart, in schema `frozen`). From then on every marts build publishes the frozen
rows for that month, whatever later data says, and compares them with what the data says now: when they
differ, a *pending revision* of the month is recorded (audit.period_revision): per mart the rows added,
removed and changed and the change of each measure, and the batches landed since the month was closed.
Nothing is rewritten silently: closing the month again accepts the pending revision, which becomes the
published one. The monthly report says which revision it shows and whether one is pending.
"""
from __future__ import annotations

import datetime as dt
import json
import logging

from etl.base import db

log = logging.getLogger(__name__)

# Month-grained marts: the SQL of the month each row reports, and the mart's grain. A KPI row belongs to
# the month its period ends in (a year's to December); a year of coverage to its December.
PERIOD_MARTS = {
    "mart_recipients_by_level": ("month", ["month", "oktmo", "care_level"]),
    "mart_identification_funnel": ("month", ["month", "oktmo", "channel"]),
    "mart_package_execution_recipient": ("month", ["month", "person_key", "oktmo", "provider_id"]),
    "mart_package_execution_provider": ("month", ["month", "provider_id", "oktmo"]),
    "mart_rental_points": ("month", ["month", "oktmo", "point_id"]),
    "mart_care_school": ("month", ["month", "oktmo", "trainee_kind"]),
    "mart_kpi": ("date_trunc('month', period_end)::date", ["period_kind", "period_end", "oktmo", "code"]),
    "mart_coverage": ("make_date(year, 12, 1)", ["year", "oktmo"]),
    "mart_plan_fact": ("month", ["month", "oktmo", "indicator"]),
}
_NUMERIC = {"smallint", "integer", "bigint", "numeric", "double precision", "real"}


def parse_month(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(f"{text}-01")
    except ValueError:
        raise ValueError(f"a month is YYYY-MM, got {text!r}") from None


def _columns(cur, schema: str, table: str) -> list[tuple[str, str]]:
    cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s"
                " AND table_name = %s AND column_name NOT IN ('published_at', 'revision') ORDER BY ordinal_position",
                (schema, table))
    return cur.fetchall()


def _shared_columns(cur, schema: str, mart: str) -> list[tuple[str, str]]:
    """The mart's columns in `schema` that its frozen table has too (name, type), in the mart's order."""
    frozen = {c for c, _ in _columns(cur, "frozen", mart)}
    return [(c, k) for c, k in _columns(cur, schema, mart) if c in frozen]


def _frozen_table(cur, mart: str, like_schema: str) -> None:
    """frozen.<mart>: the mart's columns and a revision; columns the mart gained since are added."""
    cur.execute("SELECT to_regclass(%s)", (f"frozen.{mart}",))
    if cur.fetchone()[0] is None:
        cur.execute(f"CREATE TABLE frozen.{mart} AS SELECT NULL::integer AS revision, * FROM {like_schema}.{mart}"
                    " WITH NO DATA")
        cur.execute(f"ALTER TABLE frozen.{mart} DROP COLUMN IF EXISTS published_at")
        return
    have = {c for c, _ in _columns(cur, "frozen", mart)}
    cur.execute("SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns c"
                " JOIN pg_attribute a ON a.attrelid = (quote_ident(table_schema) || '.' || quote_ident(table_name))"
                "::regclass AND a.attname = c.column_name WHERE table_schema = %s AND table_name = %s"
                " AND column_name <> 'published_at'", (like_schema, mart))
    for column, kind in cur.fetchall():
        if column not in have:
            cur.execute(f"ALTER TABLE frozen.{mart} ADD COLUMN {column} {kind}")


def _freeze(cur, mart: str, schema: str, month: dt.date, revision: int) -> int:
    expr, _ = PERIOD_MARTS[mart]
    _frozen_table(cur, mart, schema)
    cols = [c for c, _ in _shared_columns(cur, schema, mart)]
    cur.execute(f"DELETE FROM frozen.{mart} WHERE revision = %s AND {expr} = %s", (revision, month))
    cur.execute(f"INSERT INTO frozen.{mart} (revision, {', '.join(cols)}) SELECT %s, {', '.join(cols)}"
                f" FROM {schema}.{mart} WHERE {expr} = %s", (revision, month))
    return cur.rowcount


def _diff(cur, mart: str, schema: str, month: dt.date, revision: int) -> dict | None:
    """What the mart in `schema` says of the month against the frozen revision: rows added, removed,
    changed, and each measure's total now minus then; None when they agree."""
    expr, grain = PERIOD_MARTS[mart]
    cols = _shared_columns(cur, schema, mart)
    other = [c for c, _ in cols if c not in grain]
    measures = [c for c, k in cols if k in _NUMERIC and c not in grain]
    # (a grain column may be NULL — a provider not given — and FULL JOIN wants an equality it can hash)
    on = " AND ".join(f"coalesce(n.{g}::text, '\x01') = coalesce(o.{g}::text, '\x01')" for g in grain)
    differs = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in other) or "false"
    sums = ", ".join(f"coalesce(sum(n.{m}), 0) - coalesce(sum(o.{m}), 0)" for m in measures)
    cur.execute(f"""
        WITH n AS (SELECT *, true AS here FROM {schema}.{mart} WHERE {expr} = %(m)s),
             o AS (SELECT *, true AS here FROM frozen.{mart} WHERE revision = %(r)s AND {expr} = %(m)s)
        SELECT count(*) FILTER (WHERE o.here IS NULL), count(*) FILTER (WHERE n.here IS NULL),
               count(*) FILTER (WHERE n.here AND o.here AND ({differs}))
               {', ' + sums if sums else ''}
        FROM n FULL JOIN o ON {on}""", {"m": month, "r": revision})
    added, removed, changed, *deltas = cur.fetchone()
    if not (added or removed or changed):
        return None
    return {"rows_added": added, "rows_removed": removed, "rows_changed": changed,
            "measures": {m: float(d) if d != int(d) else int(d) for m, d in zip(measures, deltas) if d}}


def apply(cur, schema: str = "build") -> dict:
    """In a marts build, for every closed month: record a pending revision when the data now says
    otherwise, and put the accepted revision's rows in place of what was computed. Returns
    {month: pending revision or None}."""
    cur.execute("SELECT month, revision, max_loaded_seq FROM audit.period ORDER BY month")
    closed = cur.fetchall()
    out = {}
    for month, revision, seen_seq in closed:
        changes = {}
        marts = [m for m in PERIOD_MARTS if _exists(cur, schema, m) and _exists(cur, "frozen", m)]
        for mart in marts:
            diff = _diff(cur, mart, schema, month, revision)
            if diff:
                changes[mart] = diff
        cur.execute("DELETE FROM audit.period_revision WHERE month = %s AND status = 'pending'", (month,))
        for mart in marts:
            cur.execute(f"DELETE FROM frozen.{mart} WHERE revision > %s AND {PERIOD_MARTS[mart][0]} = %s",
                        (revision, month))
        if changes:
            cur.execute("SELECT coalesce(array_agg(batch_id ORDER BY batch_id), '{}') FROM audit.load_batch"
                        " WHERE status = 'loaded' AND loaded_seq > %s", (seen_seq,))
            batches = cur.fetchone()[0]
            cur.execute("INSERT INTO audit.period_revision (month, revision, status, changes, batches)"
                        " VALUES (%s, %s, 'pending', %s, %s)", (month, revision + 1, json.dumps(changes), batches))
            for mart in changes:  # the figures the pending revision would publish, kept for its acceptance
                _freeze(cur, mart, schema, month, revision + 1)
            for mart in set(marts) - set(changes):  # unchanged marts carry over to the pending revision
                _copy_revision(cur, mart, month, revision, revision + 1)
        for mart in marts:
            expr = PERIOD_MARTS[mart][0]
            cols = [c for c, _ in _shared_columns(cur, schema, mart)]
            cur.execute(f"DELETE FROM {schema}.{mart} WHERE {expr} = %s", (month,))
            cur.execute(f"INSERT INTO {schema}.{mart} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM frozen.{mart}"
                        f" WHERE revision = %s AND {expr} = %s", (revision, month))
        out[month] = revision + 1 if changes else None
        if changes:
            log.info("closed month %s: revision %d pending (%s)", month, revision + 1, ", ".join(sorted(changes)))
    return out


def _copy_revision(cur, mart: str, month: dt.date, source: int, target: int) -> None:
    expr = PERIOD_MARTS[mart][0]
    cols = [c for c, _ in _columns(cur, "frozen", mart)]
    cur.execute(f"INSERT INTO frozen.{mart} (revision, {', '.join(cols)}) SELECT %s, {', '.join(cols)}"
                f" FROM frozen.{mart} WHERE revision = %s AND {expr} = %s", (target, source, month))


def _exists(cur, schema: str, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.{table}",))
    return cur.fetchone()[0]


def close(month: dt.date, actor: str, note: str | None = None) -> dict:
    """Close a month: freeze the published figures as revision 1, or accept the pending revision of a
    month closed before. Returns what was done."""
    month = month.replace(day=1)
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('ltc_periods'))")
        cur.execute("SELECT revision, max_loaded_seq FROM audit.period WHERE month = %s FOR UPDATE", (month,))
        row = cur.fetchone()
        if row:
            revision, seen_seq = row
            cur.execute("SELECT revision, batches FROM audit.period_revision WHERE month = %s AND status = 'pending'",
                        (month,))
            pending = cur.fetchone()
            if not pending:
                return {"month": month.isoformat(), "revision": revision, "action": "unchanged"}
            new, batches = pending
            cur.execute("UPDATE audit.period_revision SET status = 'accepted', accepted_at = now(), accepted_by = %s"
                        " WHERE month = %s AND revision = %s", (actor, month, new))
            cur.execute("UPDATE audit.period SET revision = %s, closed_at = now(), closed_by = %s, note = %s,"
                        " max_loaded_seq = (SELECT coalesce(max(loaded_seq), %s) FROM audit.load_batch"
                        " WHERE batch_id = ANY(%s::bigint[]) AND loaded_seq > %s) WHERE month = %s",
                        (new, actor, note, seen_seq, list(batches), seen_seq, month))
            return {"month": month.isoformat(), "revision": new, "action": "revision accepted"}
        marts = [m for m in PERIOD_MARTS if _exists(cur, "marts", m)]
        if "mart_recipients_by_level" not in marts:
            raise LookupError("no published marts: run the pipeline first")
        cur.execute("SELECT count(*) FROM marts.mart_recipients_by_level WHERE month = %s", (month,))
        if not cur.fetchone()[0]:
            raise LookupError(f"no published figures for {month:%Y-%m}: run the pipeline first")
        rows = {m: _freeze(cur, m, "marts", month, 1) for m in marts}
        # the batches the published figures were built from: those landed before the publication
        cur.execute("SELECT min(published_at) FROM marts.mart_recipients_by_level")
        published = cur.fetchone()[0]
        cur.execute("SELECT coalesce(max(loaded_seq), 0) FROM audit.load_batch WHERE status = 'loaded'"
                    " AND finished_at <= %s", (published,))
        seen_seq = cur.fetchone()[0]
        cur.execute("INSERT INTO audit.period (month, revision, closed_by, max_loaded_seq, note) VALUES (%s, 1, %s, %s, %s)",
                    (month, actor, seen_seq, note))
        cur.execute("INSERT INTO audit.period_revision (month, revision, status, accepted_at, accepted_by)"
                    " VALUES (%s, 1, 'accepted', now(), %s)", (month, actor))
        return {"month": month.isoformat(), "revision": 1, "action": "closed", "rows": rows}


def status(month: dt.date | None = None) -> list[dict]:
    """Closed months (or one month) with their revision and any pending one."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("""SELECT p.month, p.revision, p.closed_at, p.closed_by, p.note, r.revision, r.changes, r.batches
            FROM audit.period p LEFT JOIN audit.period_revision r ON r.month = p.month AND r.status = 'pending'
            WHERE %(m)s::date IS NULL OR p.month = %(m)s ORDER BY p.month""", {"m": month})
        keys = ["month", "revision", "closed_at", "closed_by", "note", "pending_revision", "pending_changes",
                "pending_batches"]
        return [dict(zip(keys, r)) for r in cur.fetchall()]
