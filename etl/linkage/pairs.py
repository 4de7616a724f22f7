"""Candidate pairs by blocking rules, and their comparison levels and match weights.

Every rule is an equi-join on folded keys, so DuckDB runs it as a hash join; a pair found by several
rules is compared once. A rule on weak keys may be capped (`max_block`): its blocks larger than that
are left out, so its pairs grow with the records, not with their square. In incremental mode only pairs with a new record are formed, and never two
records of the same register person (they are linked already).
"""
from __future__ import annotations

import math

from etl.linkage.model import Model, gamma_sql


def candidates(con, settings: dict, incremental: bool = False) -> int:
    """Create table `cand(l, r)` with l < r; returns its row count."""
    parts, made = [], []
    for i, rule in enumerate(settings["blocking_rules"]):
        if rule.get("training_only"):  # an EM session's block, inside another rule's: no new pairs
            continue
        table = "rec"
        if "max_block" in rule:
            table = f"blk_{i}"
            _small_blocks(con, rule, table)
            made.append(table)
        # a pair that shares two blocks of an exploded key comes twice out of its join: DISTINCT
        distinct = "DISTINCT " if "explode" in rule else ""
        if not incremental:
            parts.append(f"SELECT {distinct}l.rid AS l, r.rid AS r FROM {table} l JOIN {table} r ON {rule['sql']}"
                         f" AND l.rid < r.rid")
            continue
        # an increment joins its new records to all (the rules are symmetric: tests/test_linkage.py), so
        # the join's output is the pairs with a new record, not every block's of the whole register
        new = f"new_{i}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {new} AS SELECT * FROM {table} WHERE is_new")
        made.append(new)
        parts.append(f"SELECT {distinct}least(l.rid, r.rid) AS l, greatest(l.rid, r.rid) AS r FROM {new} l JOIN {table} r"
                     f" ON {rule['sql']} AND l.rid <> r.rid"
                     " AND (l.fixed IS NULL OR r.fixed IS NULL OR l.fixed <> r.fixed)")
    con.execute("CREATE OR REPLACE TEMP TABLE cand AS " + " UNION ".join(parts))
    for table in made:
        con.execute(f"DROP TABLE {table}")
    return con.execute("SELECT count(*) FROM cand").fetchone()[0]


def _small_blocks(con, rule: dict, table: str) -> None:
    """The records a capped rule joins (its SQL reads only its `keys`): those whose block, the records
    sharing its keys, holds at most `max_block` — a weak key's big blocks say little and cost pairs
    quadratic in their size; its small ones still find what the other rules miss. A key named in
    `explode` is one value of a record's list column (address words, its names' prefixes): a record
    stands in as many blocks as it has values (the lists hold distinct values), and two records meet
    in any block they share."""
    explode = rule.get("explode", {})
    keys = ", ".join(rule["keys"])
    plain = [k for k in rule["keys"] if k not in explode]
    present = " AND ".join([f"{k} IS NOT NULL" for k in plain] or ["TRUE"])
    lateral = "".join(f", unnest(rec.{col}) AS x_{key}({key})" for key, col in explode.items())
    columns = ", ".join(["rid", "is_new", "fixed"] + plain + list(explode))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS SELECT {columns} FROM rec{lateral}
        WHERE {present} QUALIFY count(*) OVER (PARTITION BY {keys}) <= {int(rule['max_block'])}""")


def compare(con, settings: dict, pair_table: str, out: str) -> None:
    """Create table `out(l, r, g_<comparison>...)` with the comparison level of every pair."""
    cols = [f"{gamma_sql(c)} AS g_{c['name']}" for c in settings["comparisons"]]
    cols += [f"l.{c['tf_column']} AS v_{c['name']}" for c in settings["comparisons"] if c.get("tf_column")]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT p.l, p.r, {', '.join(cols)} FROM {pair_table} p JOIN rec l ON l.rid = p.l JOIN rec r ON r.rid = p.r""")


def term_frequencies(con, settings: dict, model: Model) -> None:
    """Tables tf_<comparison>(v, f): the share of records carrying each value of a tf column, shrunk
    towards the model's u of exact agreement by `tf_prior_records` pseudo-records, so that a small
    register (where every name is 'frequent') does not distort the weights."""
    k = settings["training"].get("tf_prior_records", 0)
    for c in settings["comparisons"]:
        if col := c.get("tf_column"):
            u = model.levels[c["name"]]["exact"]["u"]
            con.execute(f"""CREATE OR REPLACE TEMP TABLE tf_{c['name']} AS
                SELECT {col} AS v, (count(*) + {k} * CAST({u!r} AS DOUBLE)) / (sum(count(*)) OVER () + {k}) AS f
                FROM rec WHERE {col} IS NOT NULL GROUP BY 1""")


def score(con, settings: dict, model: Model, incremental: bool = False, reuse: bool = False) -> int:
    """Create table `pairs(l, r, g_..., a_..., w)`: candidate pairs scored with our model. `reuse`: table
    `cand`, when there, holds this input's candidates already (an EM training just made them)."""
    if reuse and not incremental and con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'cand' AND temporary").fetchone()[0]:
        n = con.execute("SELECT count(*) FROM cand").fetchone()[0]
    else:
        n = candidates(con, settings, incremental)
    term_frequencies(con, settings, model)
    weigh(con, settings, model, "cand", "pairs")
    return n


def _level_weight(p: dict) -> float:
    # m and u clamped as Splink clamps them, so a level never seen in training weighs finitely
    return math.log2(max(p["m"], 1e-300) / max(p["u"], 1e-300))


def weigh(con, settings: dict, model: Model, pair_table: str, out: str) -> None:
    """Create table `out(l, r, g_..., a_..., w)` from `pair_table(l, r)`: each comparison's level (our
    numbering, -1 when a side is empty), the term-frequency adjustment of an exact agreement on a tf
    column (bits: log2 of the exact level's u over the value's frequency) and the match weight — the
    prior's log-odds plus every level's log2(m/u) plus the adjustments. This is the arithmetic of a
    Fellegi–Sunter model as Splink's predict() does it (etl/linkage/splink_scoring.py, kept as the
    reference: a test compares the two), in one pass over the pairs without Splink's wide tables."""
    gammas, joins, adjust, terms = [], [], [], [repr(model.prior_weight)]
    for c in settings["comparisons"]:
        name = c["name"]
        gammas.append(f"{gamma_sql(c)} AS g_{name}")
        cases = " ".join(f"WHEN {i} THEN {_level_weight(model.levels[name][lvl['label']])!r}"
                         for i, lvl in enumerate(c["levels"]))
        terms.append(f"CASE g_{name} {cases} ELSE 0.0 END")
        if col := c.get("tf_column"):
            exact = [lvl["label"] for lvl in c["levels"]].index("exact")
            log_u = math.log2(max(model.levels[name]["exact"]["u"], 1e-300))
            joins.append(f"LEFT JOIN tf_{name} t_{name} ON t_{name}.v = l.{col}")
            gammas.append(f"t_{name}.f AS f_{name}")
            adjust.append(f"CASE WHEN g_{name} = {exact} AND f_{name} > 0 THEN {log_u!r} - log2(f_{name}) ELSE 0.0 END"
                          f" AS a_{name}")
            terms.append(f"a_{name}")
    g_cols = ", ".join(f"g_{c['name']}" for c in settings["comparisons"])
    a_cols = "".join(f", a_{c['name']}" for c in settings["comparisons"] if c.get("tf_column"))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {out} AS
        WITH g AS (SELECT p.l, p.r, {', '.join(gammas)} FROM {pair_table} p
                   JOIN rec l ON l.rid = p.l JOIN rec r ON r.rid = p.r {' '.join(joins)}),
        a AS (SELECT *{''.join(', ' + x for x in adjust)} FROM g)
        SELECT l, r, {g_cols}{a_cols}, {' + '.join(terms)} AS w FROM a""")
