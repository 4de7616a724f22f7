"""The unified register: staged person-bearing records linked into persons with stable register IDs.

A build exports every staged record with the person it already belongs to into DuckDB, links the
new ones with the linkage engine (etl/linkage) against the whole register — existing persons are
fixed clusters, so nothing already linked moves and no register ID changes — and writes back links
with their match weight and explanation, new persons, review items and the link history. Only a
record of the LTC pathway founds a person; a cluster of ОМС, ЗАГС or ФРИ records alone is held
unlinked until it matches one or its retention ends (etl/register/retention.py).

Register IDs are drawn in the order of each new person's first record (source rank, natural id),
so a rebuild from the same inputs gives the same IDs. Manual decisions (register.review) are
constraints of every run: a 'match' joins, a 'no_match' separates, whatever the scores say.
Merges keep the older ID and turn the other into a redirect; an unmerge restores both.
"""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from etl.base import db, duckpipe, scratch
from etl.models import sqlmodels
from etl import linkage
from etl.landing import load
from etl.linkage import MODEL_PATH, RECORDS, Model, load_settings
from etl.register import retention

log = logging.getLogger(__name__)

SYSTEM = "system"


def register_id(person_id: int) -> str:
    return f"RG{person_id:09d}"


def record_key(entity: str, stg_id: int) -> str:
    return f"{entity}:{stg_id}"


# ---- model ------------------------------------------------------------------------------------
def active_model(cur) -> tuple[int, Model]:
    """The active linkage model; the packaged default is registered on first use."""
    cur.execute("SELECT model_id, model FROM register.linkage_model WHERE active")
    row = cur.fetchone()
    if row:
        data = row[1]
        return row[0], Model(prior=data["prior"], levels=data["levels"], meta=data.get("meta", {}))
    model = Model.load(MODEL_PATH)
    return save_model(cur, model, f"packaged {MODEL_PATH.name}"), model


def save_model(cur, model: Model, source: str) -> int:
    cur.execute("UPDATE register.linkage_model SET active = false WHERE active")
    cur.execute("INSERT INTO register.linkage_model (source, settings, model, active) VALUES (%s, %s, %s, true)"
                " RETURNING model_id", (source, json.dumps(load_settings(), ensure_ascii=False), model.to_json()))
    return cur.fetchone()[0]


def train_model(run_id: str = "cli") -> dict:
    """Retrain m/u on the register's own records and make that model active (`ltcreg register train`)."""
    with db.transaction() as conn, conn.cursor() as cur:
        sqlmodels.apply_views(cur)
        con = _export(cur)
        linkage.prepare(con)
        model = linkage.train(con, load_settings())
        model_id = save_model(cur, model, f"trained on the register, run {run_id}")
    return {"model_id": model_id, **model.meta}


# ---- export to DuckDB ---------------------------------------------------------------------------
_INPUT = {"record_id": "VARCHAR", "entity": "VARCHAR", "source_rank": "INTEGER", "natural_id": "VARCHAR",
          "stg_id": "BIGINT", "snils": "VARCHAR", "surname": "VARCHAR", "first_name": "VARCHAR",
          "patronymic": "VARCHAR", "sex": "VARCHAR", "birth_date": "VARCHAR", "address": "VARCHAR",
          "municipality": "VARCHAR", "fixed": "BIGINT"}


def _export(cur):
    """Every staged person record with its current person into a DuckDB relation `linkage_input`."""
    con = linkage.connect()
    with scratch.folder("register") as tmp:
        duckpipe.query_into_duckdb(cur, """
            SELECT r.entity || ':' || r.stg_id, r.entity, r.source_rank, r.natural_id, r.stg_id, r.snils, r.surname,
                   r.first_name, r.patronymic, r.sex, r.birth_date, r.address, r.oktmo, l.person_id
            FROM register.int_person_record r
            LEFT JOIN register.person_link l ON l.entity = r.entity AND l.stg_id = r.stg_id""",
                                   con, "reg_input", _INPUT, Path(tmp))
    con.execute("""CREATE VIEW linkage_input AS
        SELECT record_id, entity AS source, snils, surname, first_name, patronymic, sex, birth_date, address,
               municipality, fixed, fixed IS NULL AS is_new,
               row_number() OVER (ORDER BY source_rank, natural_id, stg_id) AS ord
        FROM reg_input""")
    return con


def _manual(con, cur) -> tuple[list, list]:
    """Decided review pairs as (rid, rid) constraints."""
    cur.execute("SELECT entity_l, stg_id_l, entity_r, stg_id_r, decision FROM register.review WHERE status = 'decided'"
                " ORDER BY decided_at, review_id")
    decided = cur.fetchall()
    if not decided:
        return [], []
    rid = dict(con.execute(f"SELECT record_id, rid FROM {RECORDS}").fetchall())
    matches, non = [], []
    for el, sl, er, sr, decision in decided:
        a, b = rid.get(record_key(el, sl)), rid.get(record_key(er, sr))
        if a is not None and b is not None:
            (matches if decision == "match" else non).append((a, b))
    return matches, non


def _versions_of_one_key(con, no_match: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(rid, rid) pairs that join each new version of a source record to its key's other versions: a
    corrected card or a resubmitted case is the same person's record again, however much the correction
    changed. The anchor is the key's latest linked version, else its first new one. Not joined: two valid
    SNILS that differ (the matcher and the review queue decide), a pair a person separated by hand."""
    separated = {x for pair in no_match for x in pair}
    pairs = con.execute(f"""
        WITH k AS (
            SELECT r.rid, i.entity, i.natural_id, r.snils, r.fixed IS NOT NULL AS linked FROM {RECORDS} r
            JOIN reg_input i USING (record_id) WHERE i.natural_id IS NOT NULL
        ), anchor AS (
            SELECT entity, natural_id, coalesce(max(rid) FILTER (WHERE linked), min(rid)) AS rid
            FROM k GROUP BY entity, natural_id HAVING count(*) > 1 AND bool_or(NOT linked)
        )
        SELECT a.rid, k.rid FROM k JOIN anchor a USING (entity, natural_id) JOIN {RECORDS} ar ON ar.rid = a.rid
        WHERE NOT k.linked AND k.rid <> a.rid AND (k.snils IS NULL OR ar.snils IS NULL OR k.snils = ar.snils)
        ORDER BY 1, 2""").fetchall()
    return [(a, b) for a, b in pairs if a not in separated and b not in separated]


# ---- build ----------------------------------------------------------------------------------------
def build(run_id: str = "manual", rebuild: bool = False) -> dict:
    """Link every unlinked staged record; refresh golden attributes. Returns counts."""
    load.reap()  # rows a landing that died left behind go first (no reader sees them; this removes them)
    with db.transaction() as conn, conn.cursor() as cur:
        sqlmodels.apply_views(cur)
        retention.lock(cur)  # one builder at a time
        sources = retention.load(cur)
        if rebuild:
            _clear(cur, run_id)
        # records the last build tried: a held one (see retention.py) is tried again only with new ones
        cur.execute("SELECT coalesce(max(max_loaded_seq), 0) FROM register.build_run")
        tried = 0 if rebuild else cur.fetchone()[0]
        # what this build can see: batches loaded before its snapshot (later ones: the next build), in
        # the order they were loaded (a batch begun earlier may be loaded later)
        cur.execute("INSERT INTO register.build_run (run_id, max_loaded_seq) SELECT %s, coalesce(max(loaded_seq), 0)"
                    " FROM audit.load_batch WHERE status = 'loaded' RETURNING build_id", (run_id,))
        build_id = cur.fetchone()[0]
        cur.execute("SELECT count(*) FILTER (WHERE r.entity = ANY(%s) OR b.loaded_seq > %s), count(*)"
                    " FROM register.int_person_record r JOIN audit.load_batch b ON b.batch_id = r.batch_id"
                    " LEFT JOIN register.person_link l"
                    " ON l.entity = r.entity AND l.stg_id = r.stg_id WHERE l.stg_id IS NULL",
                    (sorted(retention.founding(sources)), tried))
        pending, unlinked = cur.fetchone()
        counts = {"records": pending, "linked": 0, "new_persons": 0, "review": 0, "held": unlinked}
        if pending:
            counts.update(_link_pending(cur, run_id, retention.founding(sources)))
        refresh_golden(cur)
        cur.execute("SELECT count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'merged')"
                    " FROM register.person")
        counts["persons"], counts["redirects"] = cur.fetchone()
        cur.execute("UPDATE register.build_run SET counts = %s WHERE build_id = %s",
                    (json.dumps({k: v for k, v in counts.items() if not k.startswith("t_")}), build_id))
    db.analyze(["register.person", "register.person_link", "register.review"])
    log.info("register: %s", counts)
    return counts


def _clear(cur, run_id: str) -> None:
    """A rebuild: persons, links and merges go; decisions (register.review) stay and are applied again."""
    cur.execute("INSERT INTO register.link_history (action, actor, reason, run_id) VALUES ('rebuild', %s,"
                " 'full rebuild from staging', %s)", (SYSTEM, run_id))
    cur.execute("UPDATE register.review SET status = 'open' WHERE status = 'obsolete'")
    cur.execute("TRUNCATE register.person_link, register.merge")
    cur.execute("UPDATE register.person SET merged_into = NULL, status = 'active'")
    cur.execute("DELETE FROM register.person")
    cur.execute("SELECT setval(pg_get_serial_sequence('register.person', 'person_id'), 1, false)")


def _link_pending(cur, run_id: str, founds: set[str]) -> dict:
    """Link every unlinked record (held ones too); a cluster with no fixed person and no record of a
    founding source stays unlinked: held (etl/register/retention.py)."""
    settings = load_settings()
    model_id, model = active_model(cur)
    con = _export(cur)
    cur.execute("SELECT count(*) FROM register.person_link")
    incremental = cur.fetchone()[0] > 0
    # features first, so manual decisions can be mapped to record numbers
    linkage.prepare(con)
    manual = _manual(con, cur)
    versions = _versions_of_one_key(con, manual[1])
    result = linkage.link(con, settings, model, incremental=incremental, manual=(manual[0] + versions, manual[1]),
                        features_built=True)
    rows = con.execute(f"SELECT rid, record_id, fixed FROM {RECORDS} ORDER BY rid").fetchall()

    person_of_root: dict[int, int] = {}
    for rid, _, fixed in rows:
        if fixed is not None:
            person_of_root.setdefault(result.labels[rid], fixed)
    new_roots = []
    for rid, record_id, fixed in rows:  # rid order is the founding order
        root = result.labels[rid]
        if root not in person_of_root and record_id.split(":", 1)[0] in founds:
            person_of_root[root] = -1
            new_roots.append(root)
    ids = _draw_ids(cur, len(new_roots))
    person_of_root.update(zip(new_roots, ids))

    # one pass over the decided pairs: the strongest link of each record, and the pairs for review
    best: dict[int, tuple] = {}
    reviews = []
    for l, r, w, outcome, contrib in linkage.explanations(con, result, ("link", "review")):
        if outcome == "link":
            for x in (l, r):
                if x not in best or w > best[x][0]:
                    best[x] = (w, contrib)
        elif result.labels[l] in person_of_root or result.labels[r] in person_of_root:
            # (a pair of two held records is no question for the register: neither side is in it)
            reviews.append((*rows[l][1].split(":"), *rows[r][1].split(":"), outcome.split(":", 1)[1], w,
                            json.dumps(contrib, ensure_ascii=False)))
    manual_rids = {x for pair in manual[0] for x in pair}
    version_rids = {x for pair in versions for x in pair}
    unfounded = set(ids)  # new persons whose first record has not been met yet (rid order)
    links, history = [], []
    for rid, record_id, fixed in rows:
        if fixed is not None or result.labels[rid] not in person_of_root:
            continue  # linked already, or held
        entity, stg_id = record_id.split(":")
        person = person_of_root[result.labels[rid]]
        if person in unfounded and entity in founds:
            unfounded.discard(person)
            rule, w, expl = "new", None, None
        elif rid in manual_rids:
            rule, w, expl = "manual", None, None
        elif rid in version_rids:
            rule, w, expl = "natural_key", None, None
        else:
            w, expl = best.get(rid, (None, None))
            rule = "linkage"
        links.append((entity, stg_id, person, rule, w, model_id if w is not None else None,
                      json.dumps(expl, ensure_ascii=False) if expl else None))
        history.append(("new" if rule == "new" else "link", entity, stg_id, person, w, SYSTEM, rule, run_id))
    db.copy_rows(cur, "register.person", ["person_id", "register_id"], ((p, register_id(p)) for p in ids))
    db.copy_rows(cur, "register.person_link",
                 ["entity", "stg_id", "person_id", "rule", "match_weight", "model_id", "explanation"], links)
    db.copy_rows(cur, "register.link_history",
                 ["action", "entity", "stg_id", "person_id", "match_weight", "actor", "reason", "run_id"], history)
    review = _queue_reviews(cur, reviews)
    # statistics that know the rows just written (ANALYZE counts this transaction's own): the golden-record
    # query joins them with every person record, and on an estimate of none it loops over them (minutes)
    cur.execute("ANALYZE register.person, register.person_link")
    return {"linked": sum(1 for x in links if x[3] != "new"), "new_persons": len(ids), "review": review,
            "held": sum(1 for rid, _, fixed in rows if fixed is None and result.labels[rid] not in person_of_root),
            "model_id": model_id, "incremental": incremental, **{f"t_{k}": v for k, v in result.timings.items()}}


def _queue_reviews(cur, rows: list[tuple]) -> int:
    """rows: (entity_l, stg_id_l, entity_r, stg_id_r, reason, weight, explanation); known pairs are kept."""
    if not rows:
        return 0
    cur.execute("CREATE TEMP TABLE new_review (LIKE register.review INCLUDING DEFAULTS) ON COMMIT DROP")
    db.copy_rows(cur, "new_review", ["entity_l", "stg_id_l", "entity_r", "stg_id_r", "reason", "match_weight",
                                     "explanation"], rows)
    cur.execute("""INSERT INTO register.review (entity_l, stg_id_l, entity_r, stg_id_r, reason, match_weight, explanation)
        SELECT entity_l, stg_id_l, entity_r, stg_id_r, reason, match_weight, explanation FROM new_review
        ON CONFLICT (entity_l, stg_id_l, entity_r, stg_id_r) DO NOTHING""")
    return cur.rowcount


def _draw_ids(cur, n: int) -> list[int]:
    """Exactly n person ids from the table's sequence, ascending, so no register number is wasted."""
    if n == 0:
        return []
    cur.execute("SELECT nextval(pg_get_serial_sequence('register.person', 'person_id'))"
                " FROM generate_series(1, %s)", (n,))
    return sorted(r[0] for r in cur.fetchall())


# ---- golden record ----------------------------------------------------------------------------------
def refresh_golden(cur) -> None:
    """Golden attributes by the source-trust table (ref.source_trust, survivorship as data), then
    recency; death only from ЗАГС. Each attribute's source record is kept in `golden_source`. A SNILS
    already held by an older person is left empty on the newer one (the pair is in review)."""
    cur.execute("""
        WITH rec AS (
            SELECT l.person_id, t.attribute, t.rank, r.entity, r.stg_id, r.record_date, r.surname, r.first_name,
                   r.patronymic, r.sex, r.birth_date, r.snils, r.oktmo
            FROM register.person_link l
            JOIN register.int_person_record r ON r.entity = l.entity AND r.stg_id = l.stg_id
            JOIN ref.source_trust t ON t.entity = r.entity
        ), ranked AS (
            -- within a source: a name written in Cyrillic and complete beats a transliterated or partial one
            SELECT DISTINCT ON (person_id) * FROM rec WHERE attribute = 'identity'
            ORDER BY person_id, rank, (surname ~ '[А-ЯЁа-яё]') DESC NULLS LAST,
                     (patronymic IS NOT NULL AND length(first_name) > 2) DESC, record_date DESC NULLS LAST, stg_id DESC
        ), snils_pick AS (
            SELECT DISTINCT ON (person_id) person_id, snils, entity, stg_id FROM rec
            WHERE attribute = 'snils' AND snils IS NOT NULL
            ORDER BY person_id, rank, record_date DESC NULLS LAST, stg_id DESC
        ), snils AS (
            SELECT person_id, entity, stg_id,
                   CASE WHEN row_number() OVER (PARTITION BY snils ORDER BY person_id) = 1 THEN snils END AS snils
            FROM snils_pick
        ), place AS (
            SELECT DISTINCT ON (person_id) person_id, oktmo, entity, stg_id FROM rec
            WHERE attribute = 'place' AND oktmo IS NOT NULL
            ORDER BY person_id, rank, record_date DESC NULLS LAST, stg_id DESC
        ), death AS (
            SELECT DISTINCT ON (person_id) person_id, record_date AS death_date, entity, stg_id FROM rec
            WHERE attribute = 'death' AND record_date IS NOT NULL
            ORDER BY person_id, rank, record_date, stg_id
        ), golden AS (
            SELECT ranked.person_id, ranked.surname, ranked.first_name, ranked.patronymic, ranked.sex,
                   ranked.birth_date, snils.snils, place.oktmo, death.death_date,
                   jsonb_strip_nulls(jsonb_build_object(
                       'identity', jsonb_build_array(ranked.entity, ranked.stg_id),
                       'snils', CASE WHEN snils.snils IS NOT NULL THEN jsonb_build_array(snils.entity, snils.stg_id) END,
                       'place', CASE WHEN place.oktmo IS NOT NULL THEN jsonb_build_array(place.entity, place.stg_id) END,
                       'death', CASE WHEN death.death_date IS NOT NULL
                                     THEN jsonb_build_array(death.entity, death.stg_id) END)) AS golden_source
            FROM ranked
            LEFT JOIN snils USING (person_id) LEFT JOIN place USING (person_id) LEFT JOIN death USING (person_id)
        )
        UPDATE register.person p
        SET surname = g.surname, first_name = g.first_name, patronymic = g.patronymic, sex = g.sex,
            birth_date = g.birth_date, snils = g.snils, oktmo = g.oktmo, death_date = g.death_date,
            golden_source = g.golden_source, updated_at = now()
        FROM golden g
        WHERE p.person_id = g.person_id
          AND (p.surname, p.first_name, p.patronymic, p.sex, p.birth_date, p.snils, p.oktmo, p.death_date,
               p.golden_source)
              IS DISTINCT FROM (g.surname, g.first_name, g.patronymic, g.sex, g.birth_date, g.snils, g.oktmo,
                                g.death_date, g.golden_source)""")
    # a person whose links all moved away (merged) keeps no golden identity of its own
    cur.execute("""UPDATE register.person p SET snils = NULL, golden_source = NULL, updated_at = now()
        WHERE p.status = 'merged' AND (p.snils IS NOT NULL OR p.golden_source IS NOT NULL)""")


def export_csv(path: Path) -> int:
    """Record → register ID, for analysts (`ltcreg register export`)."""
    with db.transaction() as conn, conn.cursor() as cur, open(path, "w", encoding="utf-8", newline="") as f:
        cur.execute("SELECT l.entity, l.stg_id, p.register_id, l.rule, l.match_weight FROM register.person_link l"
                    " JOIN register.person p USING (person_id) ORDER BY 1, 2")
        w = csv.writer(f)
        w.writerow(["entity", "stg_id", "register_id", "rule", "match_weight"])
        n = 0
        for row in cur:
            w.writerow(row)
            n += 1
    return n
