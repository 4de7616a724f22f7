"""Comparison features of person records, built inside DuckDB.

Input: a DuckDB relation `linkage_input` of text columns (INPUT_COLUMNS, any may be NULL or empty),
`ord` (a total order: record ids `rid` follow it, so results do not depend on scan order) and
optionally `fixed` (the register person a record already belongs to) and `is_new`. Output: table
`rec`, one row per input row, with the folded keys the comparisons and blocking rules read
(`dob_sym` is the birth date with day and month in a fixed order where they could be swapped, so
that a blocking rule on it finds swapped dates from either side).

Names and birth dates repeat a lot, so their distinct values are folded by the Python rules of
etl.base.normalize (one call per distinct value); SNILS and addresses are nearly unique per person, so
they are folded in SQL, by the same rules (an address once per distinct value: the records of one person
often repeat it).
"""
from __future__ import annotations

import pyarrow as pa

from etl.base import normalize

INPUT_COLUMNS = ["record_id", "source", "snils", "surname", "first_name", "patronymic", "sex", "birth_date",
                 "address", "municipality"]

# DuckDB's string distances count bytes, and a Cyrillic letter is two bytes in UTF-8: one typo would
# cost two edits. Keys are therefore compared in a one-byte alphabet, letter for letter.
CYRILLIC = "абвгдежзийклмнопрстуфхцчшщыэюя"
ONE_BYTE = "abcdefghijklmnopqrstuvwxyzABCD"
LATIN = "abcdefghijklmnopqrstuvwxyz"
_TO_ONE_BYTE = str.maketrans(CYRILLIC, ONE_BYTE)
# Keys are cut to a length no real name or address reaches: string distances cost the product of two
# lengths (levenshtein of two 100 000-letter values took 19 s), so one hostile value must not stall a build.
NAME_KEY_MAX, ADDRESS_KEY_MAX = 64, 256
# Words of an address that may block (a street's or an estate's name, not "ул", "д" or a house number)
ADDRESS_WORD_MIN = 4

def address_sql(col: str) -> str:
    # Latin letters stay (addresses as the data has them: "12 giblin street"), in upper case so that
    # they do not meet the Cyrillic letters' one-byte stand-ins
    tokens = (f"string_split(regexp_replace(replace(lower(left({col}, {4 * ADDRESS_KEY_MAX})), 'ё', 'е'),"
              f" '[^a-zа-я0-9\\-]+', ' ', 'g'), ' ')")
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in normalize.ADDRESS_ABBREVIATIONS.items())
    mapped = f"list_transform(list_filter({tokens}, lambda t: t <> ''), lambda t: CASE t {cases} ELSE t END)"
    return (f"nullif(left(translate(array_to_string({mapped}, ' '), '{LATIN}{CYRILLIC}', '{LATIN.upper()}{ONE_BYTE}'),"
            f" {ADDRESS_KEY_MAX}), '')")


def _name_map(con) -> pa.Table:
    values = [r[0] for r in con.execute(
        "SELECT DISTINCT v FROM (SELECT surname AS v FROM linkage_input UNION SELECT first_name FROM linkage_input"
        " UNION SELECT patronymic FROM linkage_input) WHERE v IS NOT NULL").fetchall()]
    keys = [normalize.name_key(v[:4 * NAME_KEY_MAX]).translate(_TO_ONE_BYTE)[:NAME_KEY_MAX] or None for v in values]
    return pa.table({"v": values, "k": keys, "sex_hint": [normalize.sex_from_patronymic(v) for v in values]})


def _dob_map(con) -> pa.Table:
    values = [r[0] for r in con.execute(
        "SELECT DISTINCT birth_date FROM linkage_input WHERE birth_date IS NOT NULL").fetchall()]
    iso, year, imprecise, swap, problem = [], [], [], [], []
    for v in values:
        try:
            b = normalize.parse_birth_date(v)
        except ValueError as e:
            b, err = None, str(e)
        else:
            err = None
        iso.append(b.iso() if b else None)
        year.append(b.year if b else None)
        imprecise.append(bool(b and (b.precision != "day" or b.placeholder)))
        swap.append(f"{b.year:04d}-{b.day:02d}-{b.month:02d}" if b and b.day and b.day <= 12 and b.day != b.month
                    else None)
        problem.append(err)
    return pa.table({"v": values, "iso": iso, "year": pa.array(year, pa.int32()), "imprecise": imprecise,
                     "swap": swap, "problem": problem})


def build(con) -> int:
    """Create table `rec` from relation `linkage_input`; returns its row count."""
    cols = {r[0] for r in con.execute("DESCRIBE linkage_input").fetchall()}
    missing = [c for c in INPUT_COLUMNS + ["ord"] if c not in cols]
    if missing:
        raise ValueError(f"input lacks columns: {', '.join(missing)}")
    names, dobs = _name_map(con), _dob_map(con)
    con.register("name_map", names)
    con.register("dob_map", dobs)
    fixed = "i.fixed" if "fixed" in cols else "NULL::BIGINT"
    is_new = "i.is_new" if "is_new" in cols else "TRUE"
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in normalize.SEX_CODES.items())
    sex = f"CASE lower(trim(i.sex)) {whens} END"
    # an address is folded once however many records carry it (1 M records: 383 000 distinct), and joined
    # back: 6.1 -> 5.2 s for the features of a million records
    con.execute(f"""CREATE OR REPLACE TEMP TABLE addr_map AS
        WITH k AS (SELECT v, {address_sql('v')} AS addr FROM (SELECT DISTINCT address AS v FROM linkage_input
                                                            WHERE address IS NOT NULL))
        SELECT v, addr, nullif(array_to_string(regexp_extract_all(addr, '[0-9]+'), ' '), '') AS addr_num,
               array_to_string(list_sort(string_split(addr, ' ')), ' ') AS addr_sorted,
               list_distinct(list_filter(string_split(addr, ' '),
                   lambda t: length(t) >= {ADDRESS_WORD_MIN} AND NOT regexp_matches(t, '^[0-9]+$'))) AS addr_words
        FROM k""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE rec AS
        WITH s0 AS (
            SELECT i.*, {normalize.snils_sql('trim(i.snils)')} AS snils_digits FROM linkage_input i
        ), s1 AS (
            SELECT s0.*, CASE WHEN {normalize.snils_valid_sql('snils_digits')} THEN snils_digits END AS snils_ok
            FROM s0
        ), s AS (
            SELECT s1.*, nullif(trim(snils), '') IS NOT NULL AND snils_ok IS NULL AS snils_bad FROM s1
        )
        SELECT (row_number() OVER (ORDER BY i.ord))::BIGINT - 1 AS rid,
               i.record_id, i.source,
               i.snils_ok AS snils, CASE WHEN i.snils_bad THEN 'invalid' END AS snils_problem,
               ns.k AS sn, nf.k AS fn, left(nf.k, 1) AS fi, left(ns.k, 1) AS si, left(ns.k, 3) AS sn3,
               left(nf.k, 3) AS fn3, np.k AS pn, left(np.k, 1) AS pi,
               coalesce({sex}, np.sex_hint) AS sex,
               d.iso AS dob, d.year AS dob_year, coalesce(d.imprecise, FALSE) AS dob_imprecise, d.swap AS dob_swap,
               least(d.iso, d.swap) AS dob_sym,
               d.problem AS dob_problem,
               a.addr, a.addr_num, a.addr_sorted, a.addr_words,
               list_distinct(list_filter([left(ns.k, 3), left(nf.k, 3)], lambda t: length(t) = 3)) AS names3,
               nullif(regexp_replace(lower(i.municipality), '[^[:alnum:]]+', '', 'g'), '') AS muni,
               {fixed} AS fixed, {is_new} AS is_new
        FROM s i
        LEFT JOIN name_map ns ON ns.v = i.surname
        LEFT JOIN name_map nf ON nf.v = i.first_name
        LEFT JOIN name_map np ON np.v = i.patronymic
        LEFT JOIN dob_map d ON d.v = i.birth_date
        LEFT JOIN addr_map a ON a.v = i.address
""")
    con.unregister("name_map")
    con.unregister("dob_map")
    con.execute("DROP TABLE addr_map")
    return con.execute("SELECT count(*) FROM rec").fetchone()[0]
