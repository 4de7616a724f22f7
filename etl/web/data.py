"""What the screens read and write. Worklists and marts are read *as the user's own PostgreSQL role*
(SET LOCAL ROLE in the transaction): the row-level security by municipality that guards them for
`psql` guards them here, unchanged. Register tables no reader role is granted (the person card, the
review pairs) are read by the service and scoped here to the user's municipalities; a request outside
them is refused (Forbidden) and audited by the caller.
"""
from __future__ import annotations

import contextlib
import datetime as dt

import connectors
from etl.base import db
from etl.models import catalog
from etl.web.auth import ROLE, User

ITEM_ACTIONS = {"take": "in_progress", "done": "done", "reopen": "new"}


class Forbidden(Exception):
    """The user may not see this (another municipality's person, a screen of the RKC)."""


class Conflict(Exception):
    """The thing is not in the state the request assumed (a pair decided already)."""


def worklists() -> list[tuple[str, str]]:
    """(name, title) of every worklist, from the model catalogue (sql/worklists/*.yml)."""
    return [(n, catalog.models()[n].title or n) for n in catalog.named("worklists")]


@contextlib.contextmanager
def as_user(user: User):
    """A cursor acting as the user's role for the transaction (row-level security applies)."""
    if not ROLE.match(user.login):
        raise Forbidden(user.login)
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(f'SET LOCAL ROLE "{user.login}"')
        yield cur


def _rows(cur) -> list[dict]:
    names = [c.name for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


# ---- worklists ------------------------------------------------------------------------------------------------
def worklist_summary(user: User) -> list[dict]:
    """Per worklist: its items the user sees, how many new / in progress / done, and per municipality."""
    out = []
    states = _states()
    ready = published()
    for name, title in worklists():
        if name not in ready:  # in the catalogue, not yet published (the first publication after an upgrade)
            out.append({"name": name, "title": title, "total": None})
            continue
        with as_user(user) as cur:
            cur.execute(f"SELECT item_key, municipality FROM worklist.{name}")
            items = cur.fetchall()
        by_status = {"new": 0, "in_progress": 0, "done": 0}
        by_place: dict[str, int] = {}
        for key, place in items:
            by_status[states.get((name, key), {}).get("status", "new")] += 1
            by_place[place] = by_place.get(place, 0) + 1
        out.append({"name": name, "title": title, "total": len(items), **by_status, "by_place": by_place})
    return out


def published() -> set[str]:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'worklist'")
        return {t for (t,) in cur.fetchall()}


def _states(name: str | None = None) -> dict:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT worklist, item_key, owner, status, comment, updated_by, updated_at FROM worklist.item_state"
                    " WHERE %s::text IS NULL OR worklist = %s", (name, name))
        return {(r[0], r[1]): {"owner": r[2], "status": r[3], "comment": r[4], "updated_by": r[5], "updated_at": r[6]}
                for r in cur.fetchall()}


def worklist_items(user: User, name: str, status: str | None = None, mine: bool = False) -> list[dict]:
    if name not in dict(worklists()):
        raise LookupError(name)
    if name not in published():
        return []
    with as_user(user) as cur:
        cur.execute(f"SELECT * FROM worklist.{name} ORDER BY municipality, surname, first_name, item_key")
        rows = _rows(cur)
    states = _states(name)
    out = []
    for r in rows:
        st = states.get((name, r["item_key"]), {"status": "new", "owner": None, "comment": None})
        if status and st["status"] != status:
            continue
        if mine and st.get("owner") != user.login:
            continue
        out.append({**r, **{f"state_{k}": v for k, v in st.items()}})
    return out


def act_on_item(user: User, name: str, item_key: str, action: str, comment: str | None) -> dict:
    """Take an item (it becomes the user's, in progress), mark it done (with a comment) or reopen it —
    only an item the user's role sees in its worklist."""
    if name not in dict(worklists()) or action not in ITEM_ACTIONS or name not in published():
        raise LookupError(f"{name}:{action}")
    with as_user(user) as cur:
        cur.execute(f"SELECT register_id FROM worklist.{name} WHERE item_key = %s", (item_key,))
        row = cur.fetchone()
    if row is None:
        raise Forbidden(item_key)
    status = ITEM_ACTIONS[action]
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO worklist.item_state (worklist, item_key, owner, status, comment, updated_by)
                       VALUES (%s, %s, %s, %s, %s, %s)
                       ON CONFLICT (worklist, item_key) DO UPDATE SET
                           owner = CASE WHEN excluded.status = 'in_progress' THEN excluded.owner
                                        ELSE worklist.item_state.owner END,
                           status = excluded.status, comment = coalesce(excluded.comment, worklist.item_state.comment),
                           updated_by = excluded.updated_by, updated_at = now()""",
                    (name, item_key, user.login if action == "take" else None, status, comment or None, user.login))
    return {"register_id": row[0], "status": status}


# ---- review queue ---------------------------------------------------------------------------------------------
def _record_places(cur, pairs: list[tuple[str, int]]) -> dict:
    cur.execute("""SELECT r.entity, r.stg_id, coalesce(r.oktmo, p.oktmo) FROM register.int_person_record r
                   LEFT JOIN register.person_link l ON l.entity = r.entity AND l.stg_id = r.stg_id
                   LEFT JOIN register.person p ON p.person_id = l.person_id
                   WHERE (r.entity, r.stg_id) IN (SELECT * FROM unnest(%s::text[], %s::bigint[]))""",
                ([e for e, _ in pairs], [s for _, s in pairs]))
    return {(e, s): o for e, s, o in cur.fetchall()}


def review_list(user: User, status: str = "open") -> list[dict]:
    """The pairs the user may decide: every pair for the RKC; for a ТКЦ, those with a record in one of its
    municipalities."""
    from etl.register import decisions

    items = decisions.review_items(status, limit=500)
    with db.transaction() as conn, conn.cursor() as cur:
        places = _record_places(cur, [(i["entity_l"], i["stg_id_l"]) for i in items]
                                + [(i["entity_r"], i["stg_id_r"]) for i in items])
    return [i for i in items if user.rkc or user.sees(places.get((i["entity_l"], i["stg_id_l"])))
            or user.sees(places.get((i["entity_r"], i["stg_id_r"])))]


def review_pair(user: User, review_id: int) -> dict:
    from etl.register import decisions

    item = decisions.review_item(review_id)
    if not (user.rkc or user.sees(item["left"]["oktmo"]) or user.sees(item["right"]["oktmo"])):
        with db.transaction() as conn, conn.cursor() as cur:
            places = _record_places(cur, [(item["left"]["entity"], item["left"]["stg_id"]),
                                          (item["right"]["entity"], item["right"]["stg_id"])])
        if not any(user.sees(o) for o in places.values()):
            raise Forbidden(f"review {review_id}")
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("""SELECT at, action, entity, stg_id, actor, reason FROM register.link_history
                       WHERE (entity, stg_id) IN ((%s, %s), (%s, %s)) ORDER BY at, history_id""",
                    (item["left"]["entity"], item["left"]["stg_id"], item["right"]["entity"], item["right"]["stg_id"]))
        item["history"] = _rows(cur)
    return item


def decide(user: User, review_id: int, decision: str, comment: str | None) -> dict:
    """The same decision as `ltcreg review decide` (kept as a constraint no automatic run overrides), on
    a pair still open: a pair decided already is not decided again from a screen."""
    from etl.register import decisions

    item = review_pair(user, review_id)  # (the scope check)
    if item["status"] != "open":
        raise Conflict(f"пара {review_id} уже решена: {item['decision']} ({item['decided_by']})")
    return decisions.decide(review_id, decision, actor=user.login, comment=comment or None)


# ---- the person card ------------------------------------------------------------------------------------------
def person(user: User, register_id: str) -> dict:
    """Everything the register holds of a person: golden attributes with the record each came from, every
    source record with its lineage, the pathway and the link history."""
    from etl.models import sqlmodels

    with db.transaction() as conn, conn.cursor() as cur:
        sqlmodels.apply_views(cur)
        cur.execute("SELECT person_id, register_id, status, merged_into, snils, surname, first_name, patronymic, sex, "
                    "birth_date, oktmo, death_date, golden_source, created_at, updated_at FROM register.person "
                    "WHERE register_id = %s", (register_id,))
        found = _rows(cur)
        if not found:
            raise LookupError(register_id)
        p = found[0]
        if not user.sees(p["oktmo"]):
            raise Forbidden(register_id)
        if p["merged_into"]:
            cur.execute("SELECT register_id FROM register.person WHERE person_id = %s", (p["merged_into"],))
            p["merged_into_register_id"] = cur.fetchone()[0]
        cur.execute("SELECT name FROM ref.municipality WHERE oktmo = %s", (p["oktmo"],))
        m = cur.fetchone()
        p["municipality"] = m[0] if m else "не указан"
        cur.execute("""SELECT l.entity, l.stg_id, l.rule, l.linked_by, l.linked_at, r.natural_id, r.snils, r.surname,
                              r.first_name, r.patronymic, r.birth_date, r.oktmo, r.record_date, b.batch_id, b.file_name,
                              b.source, b.finished_at
                       FROM register.person_link l
                       JOIN register.int_person_record r ON r.entity = l.entity AND r.stg_id = l.stg_id
                       JOIN audit.load_batch b ON b.batch_id = r.batch_id
                       WHERE l.person_id = %s ORDER BY r.record_date NULLS LAST, l.entity, l.stg_id""",
                    (p["person_id"],))
        p["records"] = _rows(cur)
        entities = {e for s in connectors.SOURCES for e in s.entities}
        for r in p["records"]:  # the lineage: where in its file the record was (a staging table is an entity's own)
            if r["entity"] in entities:
                cur.execute(f"SELECT locator FROM staging.{r['entity']} WHERE stg_id = %s", (r["stg_id"],))
                row = cur.fetchone()
                r["locator"] = row[0] if row else None
        cur.execute("SELECT w.*, c.name_ru AS channel_ru FROM register.int_person_pathway w "
                    "LEFT JOIN ref.identification_channel c ON c.code = w.channel WHERE w.person_id = %s",
                    (p["person_id"],))
        path = _rows(cur)
        p["pathway"] = path[0] if path else None
        cur.execute("SELECT status, exit_reason, valid_from FROM register.int_person_status WHERE person_id = %s "
                    "ORDER BY valid_from", (p["person_id"],))
        p["statuses"] = _rows(cur)
        cur.execute("SELECT h.at, h.action, h.entity, h.stg_id, h.actor, h.reason, f.register_id AS from_register_id "
                    "FROM register.link_history h LEFT JOIN register.person f ON f.person_id = h.from_person_id "
                    "WHERE h.person_id = %s OR h.from_person_id = %s ORDER BY h.at, h.history_id",
                    (p["person_id"], p["person_id"]))
        p["history"] = _rows(cur)
    return p


def merge(user: User, register_id: str, other: str, comment: str | None) -> dict:
    from etl.register import decisions

    if not user.rkc:
        raise Forbidden("merge")
    return decisions.merge(register_id, other, actor=user.login, comment=comment or None)


def unmerge(user: User, register_id: str, comment: str | None) -> dict:
    from etl.register import decisions

    if not user.rkc:
        raise Forbidden("unmerge")
    return decisions.unmerge(register_id, actor=user.login, comment=comment or None)


# ---- dashboards -----------------------------------------------------------------------------------------------
def months(user: User) -> list[dt.date]:
    with as_user(user) as cur:
        cur.execute("SELECT DISTINCT month FROM marts.mart_recipients_by_level ORDER BY month DESC")
        return [m for (m,) in cur.fetchall()]


def dashboard(user: User, month: dt.date, oktmo: str | None) -> dict:
    """The marts of one month (and one municipality, or all the user sees), read as the user's role."""
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    where = "month = %s AND (%s::text IS NULL OR oktmo = %s)"
    with as_user(user) as cur:
        cur.execute(f"SELECT care_level, sum(recipients) FROM marts.mart_recipients_by_level WHERE {where} "
                    "GROUP BY 1 ORDER BY 1", (month, oktmo, oktmo))
        levels = [(f"уровень {lv}" if lv else "без уровня", n) for lv, n in cur.fetchall()]
        cur.execute(f"SELECT sum(identified), sum(assessed), sum(recognised_level_1 + recognised_level_2 + "
                    f"recognised_level_3), sum(contracted), sum(receiving) FROM marts.mart_identification_funnel "
                    f"WHERE {where}", (month, oktmo, oktmo))
        f = cur.fetchone()
        funnel = list(zip(["выявлены", "оценены", "признаны нуждающимися", "договор", "получают пакет"],
                          [x or 0 for x in f]))
        cur.execute(f"SELECT provider_id, sum(delivered_minutes) * 100.0 / nullif(sum(assigned_minutes), 0) "
                    f"FROM marts.mart_package_execution_provider WHERE {where} GROUP BY 1 ORDER BY 1",
                    (month, oktmo, oktmo))
        providers = [(p or "не указан", round(float(v or 0), 1)) for p, v in cur.fetchall()]
        cur.execute("SELECT name_ru, value, unit FROM marts.mart_kpi WHERE period_kind = 'month_ytd' "
                    "AND period_end = %s AND oktmo IS NOT DISTINCT FROM %s ORDER BY code",
                    (end, oktmo if oktmo or not user.rkc else None))
        kpis = cur.fetchall()
        cur.execute("SELECT DISTINCT oktmo, municipality FROM marts.mart_recipients_by_level ORDER BY municipality")
        places = cur.fetchall()
    return {"levels": levels, "funnel": funnel, "providers": providers, "kpis": kpis, "places": places}
