"""Training of the m and u probabilities of every comparison level, from the data itself.

- u (how often a level occurs between two different people): from random pairs of records, which
  are almost all non-matches (as Splink estimates u).
- m (how often it occurs between records of one person): from pairs sharing a valid SNILS, which
  are matches but for rare keying errors; the SNILS comparison's own m is taken from pairs agreeing
  on full name and exact birth date that both carry a valid SNILS.
- prior: the share of matching pairs among pairs of records that both carry a valid SNILS.
Counts are smoothed, so a level never seen gets a small probability instead of zero.
"""
from __future__ import annotations

import datetime as dt

from etl.linkage.model import Model
from etl.linkage.pairs import compare


def _level_counts(con, settings: dict, table: str) -> dict[str, dict[int, int]]:
    out = {}
    for c in settings["comparisons"]:
        rows = con.execute(f"SELECT g_{c['name']}, count(*) FROM {table} WHERE g_{c['name']} >= 0 GROUP BY 1").fetchall()
        out[c["name"]] = dict(rows)
    return out


def _probabilities(settings: dict, counts: dict[str, dict[int, int]], name: str) -> dict[str, float]:
    smoothing = settings["training"]["smoothing"]
    comp = next(c for c in settings["comparisons"] if c["name"] == name)
    total = sum(counts.get(name, {}).values()) + smoothing * len(comp["levels"])
    return {lvl["label"]: (counts.get(name, {}).get(i, 0) + smoothing) / total for i, lvl in enumerate(comp["levels"])}


def train(con, settings: dict, seed: int = 1) -> Model:
    """Train on table `rec` (see features.build)."""
    cfg = settings["training"]
    n = con.execute("SELECT count(*) FROM rec").fetchone()[0]
    if n < 2:
        raise ValueError("training needs at least two records")
    rounds = max(1, min(50, -(-cfg["u_random_pairs"] // n)))
    # Random pairs: the records in `rounds` random orders, each paired with its neighbour in that order.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE u_pairs AS
        WITH o AS (SELECT k, rid, row_number() OVER (PARTITION BY k ORDER BY hash(rid, k, {seed})) AS pos
                   FROM rec, range({rounds}) t(k))
        SELECT a.rid AS l, b.rid AS r FROM o a JOIN o b ON a.k = b.k AND b.pos = a.pos + 1 AND a.pos % 2 = 1""")
    compare(con, settings, "u_pairs", "u_scored")
    u_counts = _level_counts(con, settings, "u_scored")
    con.execute("""CREATE OR REPLACE TEMP TABLE m_pairs AS
        SELECT l.rid AS l, r.rid AS r FROM rec l JOIN rec r ON l.snils = r.snils AND l.rid < r.rid""")
    compare(con, settings, "m_pairs", "m_scored")
    m_counts = _level_counts(con, settings, "m_scored")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE s_pairs AS
        SELECT l.rid AS l, r.rid AS r FROM rec l JOIN rec r ON {cfg['snils_m_block']} AND l.rid < r.rid
        WHERE l.snils IS NOT NULL AND r.snils IS NOT NULL""")
    compare(con, settings, "s_pairs", "s_scored")
    m_counts["snils"] = _level_counts(con, settings, "s_scored")["snils"]

    levels = {}
    for c in settings["comparisons"]:
        m = _probabilities(settings, m_counts, c["name"])
        u = _probabilities(settings, u_counts, c["name"])
        levels[c["name"]] = {label: {"m": m[label], "u": u[label]} for label in m}
    with_snils, snils_pairs = con.execute(
        "SELECT (SELECT count(*) FROM rec WHERE snils IS NOT NULL), (SELECT count(*) FROM m_pairs)").fetchone()
    all_pairs = with_snils * (with_snils - 1) / 2
    prior = snils_pairs / all_pairs if snils_pairs and all_pairs else cfg["default_prior"]
    for t in ("u_pairs", "u_scored", "m_pairs", "m_scored", "s_pairs", "s_scored"):
        con.execute(f"DROP TABLE {t}")
    meta = {"trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "records": n,
            "random_pairs": sum(u_counts["sex"].values()) if u_counts.get("sex") else None,
            "snils_pairs": snils_pairs, "settings_version": settings["version"]}
    return Model(prior=min(max(prior, 1e-9), 0.5), levels=levels, meta=meta)
