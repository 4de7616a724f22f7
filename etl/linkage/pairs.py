"""Candidate pairs by blocking rules, and their comparison levels and match weights.

Every rule is an equi-join on folded keys, so DuckDB runs it as a hash join; a pair found by several
rules is compared once. In incremental mode only pairs with a new record are formed, and never two
records of the same register person (they are linked already).
"""
from __future__ import annotations

from etl.linkage.model import Model, gamma_sql, weight_sql


def candidates(con, settings: dict, incremental: bool = False) -> int:
    """Create table `cand(l, r)` with l < r; returns its row count."""
    extra = ""
    if incremental:
        extra = " AND (l.is_new OR r.is_new) AND (l.fixed IS NULL OR r.fixed IS NULL OR l.fixed <> r.fixed)"
    parts = []
    for rule in settings["blocking_rules"]:
        if rule.get("asymmetric"):
            parts.append(f"SELECT least(l.rid, r.rid) AS l, greatest(l.rid, r.rid) AS r FROM rec l JOIN rec r"
                         f" ON {rule['sql']} AND l.rid <> r.rid{extra}")
        else:
            parts.append(f"SELECT l.rid AS l, r.rid AS r FROM rec l JOIN rec r ON {rule['sql']} AND l.rid < r.rid{extra}")
    con.execute("CREATE OR REPLACE TEMP TABLE cand AS " + " UNION ".join(parts))
    return con.execute("SELECT count(*) FROM cand").fetchone()[0]


def compare(con, settings: dict, pair_table: str, out: str) -> None:
    """Create table `out(l, r, g_<comparison>...)` with the comparison level of every pair."""
    gammas = ", ".join(f"{gamma_sql(c)} AS g_{c['name']}" for c in settings["comparisons"])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT p.l, p.r, {gammas} FROM {pair_table} p JOIN rec l ON l.rid = p.l JOIN rec r ON r.rid = p.r""")


def score(con, settings: dict, model: Model, incremental: bool = False) -> int:
    """Create table `pairs(l, r, g_..., w)`: candidate pairs with their total match weight."""
    candidates(con, settings, incremental)
    compare(con, settings, "cand", "pairs_g")
    weight = " + ".join([repr(model.prior_weight)] + [weight_sql(c, model) for c in settings["comparisons"]])
    con.execute(f"CREATE OR REPLACE TEMP TABLE pairs AS SELECT *, {weight} AS w FROM pairs_g")
    con.execute("DROP TABLE pairs_g")
    return con.execute("SELECT count(*) FROM pairs").fetchone()[0]
