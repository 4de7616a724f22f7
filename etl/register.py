"""The register, first version: deterministic linking of staged person-bearing records.

Rules, in order: (1) a valid SNILS already owned by a person; (2) the exact normalised surname,
first name, patronymic and birth date owned by a person, unless both sides carry different valid
SNILS (then they are two people); otherwise a new person. Links already made are never redone,
so register IDs are stable across re-runs and increments; records are taken in the order of their
natural keys, so a rebuild from the same inputs gives the same IDs. Probabilistic matching,
review and merges replace the `match` step in their own module (issue 4); this is the seam.
"""
from __future__ import annotations

import logging

from etl import db, normalize, sqlmodels

log = logging.getLogger(__name__)

# Creation order: the most trusted source first, so persons are founded on the best identities.
ENTITIES = ["optima_recipient", "smev_application", "health_referral", "health_medical_event", "smev_death"]


def register_id(person_id: int) -> str:
    return f"RG{person_id:09d}"


def name_dob_key(surname, first_name, patronymic, birth_date) -> str | None:
    if not surname or not first_name or birth_date is None:
        return None
    parts = [normalize.name_key(surname), normalize.name_key(first_name), normalize.name_key(patronymic)]
    return "|".join(parts) + "|" + birth_date.isoformat()


def build(batch_size: int = 50_000) -> dict:
    """Link every unlinked staged record; refresh golden attributes. Returns counts."""
    with db.transaction() as conn, conn.cursor() as cur:
        sqlmodels.apply_views(cur)
        cur.execute("LOCK TABLE register.person_link IN SHARE ROW EXCLUSIVE MODE")  # one builder at a time
        cur.execute("SELECT key_type, key_value, person_id FROM register.person_key")
        by_key: dict[tuple[str, str], int] = {(t, v): p for t, v, p in cur.fetchall()}
        cur.execute("SELECT person_id, snils FROM register.person WHERE snils IS NOT NULL")
        person_snils: dict[int, str] = dict(cur.fetchall())

        cur.execute("""
            SELECT r.entity, r.stg_id, r.snils, r.surname, r.first_name, r.patronymic, r.birth_date
            FROM register.int_person_record r
            LEFT JOIN register.person_link l ON l.entity = r.entity AND l.stg_id = r.stg_id
            WHERE l.stg_id IS NULL
            ORDER BY array_position(%s::text[], r.entity), r.natural_id, r.stg_id""", (ENTITIES,))
        pending = cur.fetchall()

        new_keys: list[tuple[str, str, int]] = []
        links: list[tuple[str, int, int, str]] = []
        new_persons: list[int] = []
        counts = {"records": len(pending), "snils": 0, "name_dob": 0, "new": 0}
        for entity, stg_id, snils, surname, first, patr, birth in pending:
            nkey = name_dob_key(surname, first, patr, birth)
            person, rule = None, "new"
            if snils and ("snils", snils) in by_key:
                person, rule = by_key[("snils", snils)], "snils"
            elif nkey and ("name_dob", nkey) in by_key:
                candidate = by_key[("name_dob", nkey)]
                other = person_snils.get(candidate)
                if not (snils and other and other != snils):  # two valid SNILS: two people
                    person, rule = candidate, "name_dob"
            if person is None:
                person = -(len(new_persons) + 1)  # provisional until ids are drawn below
                new_persons.append(person)
            counts[rule] += 1
            links.append((entity, stg_id, person, rule))
            if snils and ("snils", snils) not in by_key and person not in person_snils:
                by_key[("snils", snils)] = person
                person_snils[person] = snils
                new_keys.append(("snils", snils, person))
            if nkey and ("name_dob", nkey) not in by_key:
                by_key[("name_dob", nkey)] = person
                new_keys.append(("name_dob", nkey, person))

        real = dict(zip(new_persons, _draw_ids(cur, len(new_persons))))
        links = [(e, s, real.get(p, p), r) for e, s, p, r in links]
        new_keys = [(t, v, real.get(p, p)) for t, v, p in new_keys]
        db.copy_rows(cur, "register.person", ["person_id", "register_id"],
                     ((p, register_id(p)) for p in sorted(real.values())))
        db.copy_rows(cur, "register.person_key", ["key_type", "key_value", "person_id"], new_keys)
        db.copy_rows(cur, "register.person_link", ["entity", "stg_id", "person_id", "rule"], links)
        refresh_golden(cur)
        cur.execute("SELECT count(*) FROM register.person")
        counts["persons"] = cur.fetchone()[0]
    log.info("register: %s", counts)
    return counts


def _draw_ids(cur, n: int) -> list[int]:
    """Exactly n person ids from the table's sequence, ascending, so no register number is wasted."""
    if n == 0:
        return []
    cur.execute("SELECT nextval(pg_get_serial_sequence('register.person', 'person_id'))"
                " FROM generate_series(1, %s)", (n,))
    return sorted(r[0] for r in cur.fetchall())


def refresh_golden(cur) -> None:
    """Golden attributes by source rank, then recency; death only from ЗАГС."""
    cur.execute("""
        WITH ranked AS (
            SELECT DISTINCT ON (l.person_id) l.person_id, r.surname, r.first_name, r.patronymic, r.sex,
                   r.birth_date
            FROM register.person_link l
            JOIN register.int_person_record r ON r.entity = l.entity AND r.stg_id = l.stg_id
            ORDER BY l.person_id, r.source_rank, r.record_date DESC NULLS LAST, r.stg_id DESC
        ), snils AS (
            SELECT DISTINCT ON (l.person_id) l.person_id, r.snils
            FROM register.person_link l
            JOIN register.int_person_record r ON r.entity = l.entity AND r.stg_id = l.stg_id
            WHERE r.snils IS NOT NULL
            ORDER BY l.person_id, r.source_rank, r.record_date DESC NULLS LAST
        ), place AS (
            SELECT DISTINCT ON (l.person_id) l.person_id, r.oktmo
            FROM register.person_link l
            JOIN register.int_person_record r ON r.entity = l.entity AND r.stg_id = l.stg_id
            WHERE r.oktmo IS NOT NULL
            ORDER BY l.person_id, r.source_rank, r.record_date DESC NULLS LAST
        ), death AS (
            SELECT l.person_id, min(d.death_date) AS death_date
            FROM register.person_link l JOIN staging.smev_death d ON l.entity = 'smev_death' AND d.stg_id = l.stg_id
            GROUP BY l.person_id
        )
        UPDATE register.person p
        SET surname = ranked.surname, first_name = ranked.first_name, patronymic = ranked.patronymic,
            sex = ranked.sex, birth_date = ranked.birth_date, snils = snils.snils, oktmo = place.oktmo,
            death_date = death.death_date, updated_at = now()
        FROM ranked
        LEFT JOIN snils USING (person_id) LEFT JOIN place USING (person_id) LEFT JOIN death USING (person_id)
        WHERE p.person_id = ranked.person_id
          AND (p.surname, p.first_name, p.patronymic, p.sex, p.birth_date, p.snils, p.oktmo, p.death_date)
              IS DISTINCT FROM (ranked.surname, ranked.first_name, ranked.patronymic, ranked.sex, ranked.birth_date,
                                snils.snils, place.oktmo, death.death_date)""")
