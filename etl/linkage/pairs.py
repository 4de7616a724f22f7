"""Candidate pairs by blocking rules, and their comparison levels and match weights.

Every rule is an equi-join on folded keys, so DuckDB runs it as a hash join; a pair found by several
rules is compared once. A rule on weak keys may be capped (`max_block`): its blocks larger than that
are left out, so its pairs grow with the records, not with their square. In incremental mode only pairs with a new record are formed, and never two
records of the same register person (they are linked already).
"""
from __future__ import annotations

from etl.linkage.model import Model, gamma_sql


def candidates(con, settings: dict, incremental: bool = False) -> int:
    """Create table `cand(l, r)` with l < r; returns its row count."""
    extra = ""
    if incremental:
        extra = " AND (l.is_new OR r.is_new) AND (l.fixed IS NULL OR r.fixed IS NULL OR l.fixed <> r.fixed)"
    parts, capped = [], []
    for i, rule in enumerate(settings["blocking_rules"]):
        table = "rec"
        if "max_block" in rule:
            table = f"blk_{i}"
            _small_blocks(con, rule, table)
            capped.append(table)
        parts.append(f"SELECT l.rid AS l, r.rid AS r FROM {table} l JOIN {table} r ON {rule['sql']}"
                     f" AND l.rid < r.rid{extra}")
    con.execute("CREATE OR REPLACE TEMP TABLE cand AS " + " UNION ".join(parts))
    for table in capped:
        con.execute(f"DROP TABLE {table}")
    return con.execute("SELECT count(*) FROM cand").fetchone()[0]


def _small_blocks(con, rule: dict, table: str) -> None:
    """The records a capped rule joins (its SQL reads only its `keys`): those whose block, the records
    sharing its keys, holds at most `max_block` — a weak key's big blocks say little and cost pairs
    quadratic in their size; its small ones still find what the other rules miss."""
    keys = ", ".join(rule["keys"])
    present = " AND ".join(f"{k} IS NOT NULL" for k in rule["keys"])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS SELECT rid, is_new, fixed, {keys} FROM rec
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


def score(con, settings: dict, model: Model, incremental: bool = False) -> int:
    """Create table `pairs(l, r, g_..., a_..., w)`: candidate pairs scored by Splink with our model."""
    from etl.linkage import splink_scoring

    n = candidates(con, settings, incremental)
    term_frequencies(con, settings, model)
    splink_scoring.score(con, settings, model)
    return n
