"""Human decisions on the register: the review queue, match / no-match decisions on record pairs,
merges and unmerges of persons. Every decision is stored (register.review, register.link_history)
and is a constraint of every later build (etl/register/builder.py), never overridden by one."""
from __future__ import annotations

import json

from etl.base import db
from etl.models import sqlmodels
from etl.register.builder import _draw_ids, refresh_golden, register_id


# ---- decisions, merges, unmerges ----------------------------------------------------------------------
def resolve(cur, rid: str) -> tuple[int, str]:
    """(person_id, status) of a register ID, following merge redirects to the person it lives on in."""
    cur.execute("SELECT person_id, merged_into FROM register.person WHERE register_id = %s", (rid,))
    row = cur.fetchone()
    if not row:
        raise LookupError(f"no person {rid}")
    person, target = row
    seen = {person}
    while target is not None:
        person = target
        cur.execute("SELECT merged_into FROM register.person WHERE person_id = %s", (person,))
        target = cur.fetchone()[0]
        if target in seen:
            raise RuntimeError(f"merge redirect loop at {rid}")
        seen.add(person)
    return person, "merged" if len(seen) > 1 else "active"


def _person_of(cur, entity: str, stg_id: int) -> int:
    person = _linked(cur, entity, stg_id)
    if person is None:
        raise LookupError(f"record {entity}:{stg_id} is not linked")
    return person


def decide(review_id: int, decision: str, actor: str, comment: str | None = None) -> dict:
    """Record a decision on a review pair and carry it out: 'match' merges the two persons,
    'no_match' detaches the right-hand record when the two were joined."""
    if decision not in ("match", "no_match"):
        raise ValueError("decision is match or no_match")
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT entity_l, stg_id_l, entity_r, stg_id_r FROM register.review WHERE review_id = %s"
                    " FOR UPDATE", (review_id,))
        row = cur.fetchone()
        if not row:
            raise LookupError(f"no review item {review_id}")
        cur.execute("UPDATE register.review SET status = 'decided', decision = %s, decided_by = %s,"
                    " decided_at = now(), comment = %s WHERE review_id = %s", (decision, actor, comment, review_id))
        return _carry_out(cur, review_id, *row, decision, actor, comment)


def decide_pair(left: tuple[str, int], right: tuple[str, int], decision: str, actor: str,
                comment: str | None = None) -> dict:
    """A decision on any two records, reviewed or not (e.g. an automatic link found wrong)."""
    if decision not in ("match", "no_match"):
        raise ValueError("decision is match or no_match")
    with db.transaction() as conn, conn.cursor() as cur:
        # a pair is stored one way round: the more trusted source first (int_person_record's rank)
        (el, sl), (er, sr) = sorted([left, right], key=lambda x: (_source_rank(cur, x[0], x[1]), x[1]))
        cur.execute("""INSERT INTO register.review (entity_l, stg_id_l, entity_r, stg_id_r, reason, status, decision,
                decided_by, decided_at, comment) VALUES (%s, %s, %s, %s, 'manual', 'decided', %s, %s, now(), %s)
            ON CONFLICT (entity_l, stg_id_l, entity_r, stg_id_r) DO UPDATE SET status = 'decided',
                decision = excluded.decision, decided_by = excluded.decided_by, decided_at = now(),
                comment = excluded.comment
            RETURNING review_id""", (el, sl, er, sr, decision, actor, comment))
        return _carry_out(cur, cur.fetchone()[0], el, sl, er, sr, decision, actor, comment)


def _linked(cur, entity: str, stg_id: int) -> int | None:
    cur.execute("SELECT person_id FROM register.person_link WHERE entity = %s AND stg_id = %s", (entity, stg_id))
    row = cur.fetchone()
    if row is None:
        _source_rank(cur, entity, stg_id)  # staged at least (a held record: etl/register/retention.py)
    return row[0] if row else None


def _carry_out(cur, review_id, el, sl, er, sr, decision, actor, comment) -> dict:
    a, b = _linked(cur, el, sl), _linked(cur, er, sr)
    out = {"review_id": review_id, "decision": decision}
    if a is None and b is None:
        raise LookupError(f"neither {el}:{sl} nor {er}:{sr} is linked to a register person")
    if a is None or b is None:  # a held record: a match links it, a no-match leaves it held
        if decision == "match":
            (entity, stg_id), person = ((el, sl), b) if a is None else ((er, sr), a)
            cur.execute("INSERT INTO register.person_link (entity, stg_id, person_id, rule, linked_by)"
                        " VALUES (%s, %s, %s, 'manual', %s)", (entity, stg_id, person, actor))
            cur.execute("INSERT INTO register.link_history (action, entity, stg_id, person_id, actor, reason)"
                        " VALUES ('link', %s, %s, %s, %s, %s)", (entity, stg_id, person, actor, comment))
            out["linked"] = register_id(person)
    elif decision == "match" and a != b:
        out["merged"] = _merge(cur, min(a, b), max(a, b), actor, comment, review_id)
    elif decision == "no_match" and a == b:
        out["detached"] = _detach(cur, er, sr, actor, comment)
    refresh_golden(cur)
    return out


def merge(rid_a: str, rid_b: str, actor: str, comment: str | None = None) -> dict:
    """Merge two persons by hand: recorded as a decided review pair, so later runs keep it."""
    with db.transaction() as conn, conn.cursor() as cur:
        a, _ = resolve(cur, rid_a)
        b, _ = resolve(cur, rid_b)
        if a == b:
            raise ValueError(f"{rid_a} and {rid_b} are one person already")
        kept, gone = min(a, b), max(a, b)
        (el, sl), (er, sr) = _first_record(cur, kept), _first_record(cur, gone)
        cur.execute("""INSERT INTO register.review (entity_l, stg_id_l, entity_r, stg_id_r, reason, status, decision,
                decided_by, decided_at, comment) VALUES (%s, %s, %s, %s, 'manual_merge', 'decided', 'match', %s, now(), %s)
            ON CONFLICT (entity_l, stg_id_l, entity_r, stg_id_r) DO UPDATE SET status = 'decided', decision = 'match',
                decided_by = excluded.decided_by, decided_at = now(), comment = excluded.comment
            RETURNING review_id""", (el, sl, er, sr, actor, comment))
        review_id = cur.fetchone()[0]
        out = _merge(cur, kept, gone, actor, comment, review_id)
        refresh_golden(cur)
    return out


def _source_rank(cur, entity: str, stg_id: int) -> int:
    """The rank of a record's source in register.int_person_record (lower: more trusted)."""
    cur.execute("SELECT source_rank FROM register.int_person_record WHERE entity = %s AND stg_id = %s",
                (entity, stg_id))
    row = cur.fetchone()
    if row is None:
        raise LookupError(f"no staged person record {entity}:{stg_id}")
    return row[0]


def _first_record(cur, person: int) -> tuple[str, int]:
    cur.execute("SELECT l.entity, l.stg_id FROM register.person_link l JOIN register.int_person_record r"
                " ON r.entity = l.entity AND r.stg_id = l.stg_id WHERE l.person_id = %s"
                " ORDER BY r.source_rank, l.stg_id LIMIT 1", (person,))
    row = cur.fetchone()
    if not row:
        raise LookupError(f"person {register_id(person)} has no records")
    return row


def _merge(cur, kept: int, gone: int, actor: str, reason: str | None, review_id: int | None) -> dict:
    cur.execute("UPDATE register.person_link SET person_id = %s, linked_by = %s WHERE person_id = %s"
                " RETURNING entity, stg_id", (kept, actor, gone))
    moved = cur.fetchall()
    cur.execute("UPDATE register.person SET status = 'merged', merged_into = %s, updated_at = now()"
                " WHERE person_id = %s", (kept, gone))
    cur.execute("UPDATE register.person SET merged_into = %s WHERE merged_into = %s", (kept, gone))  # no chains
    cur.execute("INSERT INTO register.merge (kept_person_id, merged_person_id, moved_links, review_id, actor, reason)"
                " VALUES (%s, %s, %s, %s, %s, %s)", (kept, gone, json.dumps(moved), review_id, actor, reason))
    db.copy_rows(cur, "register.link_history", ["action", "entity", "stg_id", "person_id", "from_person_id", "actor",
                                                "reason"],
                 [("merge", e, s, kept, gone, actor, reason) for e, s in moved])
    return {"kept": register_id(kept), "merged": register_id(gone), "moved_links": len(moved)}


def unmerge(rid: str, actor: str, comment: str | None = None) -> dict:
    """Undo the latest merge of the person that `rid` was: its links go back, its ID is active again,
    and the pair is recorded as 'no_match' so that no later run joins them."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT person_id FROM register.person WHERE register_id = %s", (rid,))
        row = cur.fetchone()
        if not row:
            raise LookupError(f"no person {rid}")
        gone = row[0]
        cur.execute("SELECT merge_id, kept_person_id, moved_links, review_id FROM register.merge"
                    " WHERE merged_person_id = %s AND undone_at IS NULL ORDER BY merged_at DESC LIMIT 1 FOR UPDATE",
                    (gone,))
        row = cur.fetchone()
        if not row:
            raise LookupError(f"{rid} was not merged into anyone")
        merge_id, kept, moved, review_id = row
        cur.execute("SELECT person_id FROM register.person_link WHERE (entity, stg_id) IN"
                    " (SELECT x->>0, (x->>1)::bigint FROM jsonb_array_elements(%s::jsonb) x)", (json.dumps(moved),))
        holders = {r[0] for r in cur.fetchall()}
        cur.execute("UPDATE register.person_link SET person_id = %s, linked_by = %s WHERE (entity, stg_id) IN"
                    " (SELECT x->>0, (x->>1)::bigint FROM jsonb_array_elements(%s::jsonb) x)",
                    (gone, actor, json.dumps(moved)))
        cur.execute("UPDATE register.person SET status = 'active', merged_into = NULL, updated_at = now()"
                    " WHERE person_id = %s", (gone,))
        cur.execute("UPDATE register.merge SET undone_at = now(), undone_by = %s WHERE merge_id = %s", (actor, merge_id))
        if review_id is not None:
            cur.execute("UPDATE register.review SET decision = 'no_match', decided_by = %s, decided_at = now(),"
                        " comment = %s WHERE review_id = %s", (actor, comment or "unmerged", review_id))
        db.copy_rows(cur, "register.link_history", ["action", "entity", "stg_id", "person_id", "from_person_id",
                                                    "actor", "reason"],
                     [("unmerge", e, s, gone, kept, actor, comment) for e, s in moved])
        refresh_golden(cur)
    return {"restored": rid, "from": register_id(kept), "moved_links": len(moved),
            "records_had_moved_on": sorted(register_id(h) for h in holders - {kept})}


def _detach(cur, entity: str, stg_id: int, actor: str, reason: str | None) -> str:
    old = _person_of(cur, entity, stg_id)
    (new,) = _draw_ids(cur, 1)
    cur.execute("INSERT INTO register.person (person_id, register_id) VALUES (%s, %s)", (new, register_id(new)))
    cur.execute("UPDATE register.person_link SET person_id = %s, rule = 'manual', linked_by = %s, match_weight = NULL,"
                " explanation = NULL WHERE entity = %s AND stg_id = %s", (new, actor, entity, stg_id))
    cur.execute("INSERT INTO register.link_history (action, entity, stg_id, person_id, from_person_id, actor, reason)"
                " VALUES ('detach', %s, %s, %s, %s, %s, %s)", (entity, stg_id, new, old, actor, reason))
    return register_id(new)


# ---- review listing ---------------------------------------------------------------------------------
def review_items(status: str = "open", limit: int = 50) -> list[dict]:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("""SELECT v.review_id, v.reason, v.match_weight, v.status, v.decision,
                   pl.register_id, pr.register_id, v.entity_l, v.stg_id_l, v.entity_r, v.stg_id_r
            FROM register.review v
            LEFT JOIN register.person_link ll ON ll.entity = v.entity_l AND ll.stg_id = v.stg_id_l
            LEFT JOIN register.person pl ON pl.person_id = ll.person_id
            LEFT JOIN register.person_link lr ON lr.entity = v.entity_r AND lr.stg_id = v.stg_id_r
            LEFT JOIN register.person pr ON pr.person_id = lr.person_id
            WHERE %s = 'all' OR v.status = %s ORDER BY v.match_weight DESC NULLS LAST, v.review_id LIMIT %s""",
                    (status, status, limit))
        keys = ["review_id", "reason", "match_weight", "status", "decision", "register_id_l", "register_id_r",
                "entity_l", "stg_id_l", "entity_r", "stg_id_r"]
        return [dict(zip(keys, r)) for r in cur.fetchall()]


def review_item(review_id: int) -> dict:
    """One review pair side by side: both records as staged, and the per-field contributions."""
    with db.transaction() as conn, conn.cursor() as cur:
        sqlmodels.apply_views(cur)
        cur.execute("SELECT entity_l, stg_id_l, entity_r, stg_id_r, reason, match_weight, explanation, status,"
                    " decision, decided_by, comment FROM register.review WHERE review_id = %s", (review_id,))
        row = cur.fetchone()
        if not row:
            raise LookupError(f"no review item {review_id}")
        el, sl, er, sr, reason, w, expl, status, decision, by, comment = row
        sides = []
        for e, s in ((el, sl), (er, sr)):
            cur.execute("SELECT r.natural_id, r.snils, r.surname, r.first_name, r.patronymic, r.sex, r.birth_date,"
                        " r.address, r.oktmo, p.register_id FROM register.int_person_record r"
                        " LEFT JOIN register.person_link l ON l.entity = r.entity AND l.stg_id = r.stg_id"
                        " LEFT JOIN register.person p ON p.person_id = l.person_id"
                        " WHERE r.entity = %s AND r.stg_id = %s", (e, s))
            vals = cur.fetchone() or (None,) * 10
            sides.append(dict(zip(["natural_id", "snils", "surname", "first_name", "patronymic", "sex", "birth_date",
                                   "address", "oktmo", "register_id"], vals), entity=e, stg_id=s))
    return {"review_id": review_id, "reason": reason, "match_weight": w, "explanation": expl, "status": status,
            "decision": decision, "decided_by": by, "comment": comment, "left": sides[0], "right": sides[1]}


